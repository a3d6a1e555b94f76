"""Elementor Pro's form "Webhook" action at a form URL (intake-formats.md §7.7): the bracketed Advanced
Data keys read back, fields by type, title or id, the landing URL's UTMs; Advanced Data off left to the
website mapping. Also the cross-check over this helper's tools: each claims its own shape only."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from core.config import Config, FormConfig
from core.sources import elementor, jotform, unbounce
from core.sources.elementor import TOOL
from core.sources.form_tool import FormTool, ToolPost
from core.sources.form_tools import detect
from core.sources.forms import query_attribution
from core.store.submissions import SubmissionStore
from core.vocabulary import SubmissionStatus
from service.app import create_app
from tests.sources.test_jotform import jotform_post
from tests.sources.test_unbounce import unbounce_post

LANDING = "https://roofs.example/quote/?utm_source=facebook&utm_medium=paid_social&utm_campaign=spring&fbclid=IwAR2xYz"


def field(field_id: str, kind: str, title: str, value: str, required: str = "0") -> dict[str, str]:
    """One field's flat keys, as Elementor urlencodes them."""
    parts = {"id": field_id, "type": kind, "title": title, "value": value, "raw_value": value, "required": required}
    return {f"fields[{field_id}][{part}]": text for part, text in parts.items()}


def meta(name: str, title: str, value: str) -> dict[str, str]:
    return {f"meta[{name}][title]": title, f"meta[{name}][value]": value}


def elementor_post(*fields: dict[str, str]) -> dict[str, str]:
    """A post with Advanced Data on: the form, its fields (the sample's unless given), and the meta."""
    return {
        "form[id]": "3f9a2c1",
        "form[name]": "Quote form",
        **{key: value for one in (fields or SAMPLE_FIELDS) for key, value in one.items()},
        **meta("date", "Date", "December 3, 2026"),
        **meta("time", "Time", "8:15 pm"),
        **meta("page_url", "Page URL", LANDING),
        **meta("user_agent", "User Agent", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)"),
        **meta("remote_ip", "Remote IP", "203.0.113.7"),
        **meta("credit", "Powered by", "Elementor"),
    }


SAMPLE_FIELDS = (
    field("name", "text", "Your full name, please", "Dana Reyes", "1"),  # known by its id
    field("field_8f2a1c0", "email", "Where can we reach you?", "Dana.Reyes@Example.com", "1"),  # by type
    field("field_0c4e9b2", "tel", "Best number", "(561) 555-0142"),
    field("field_5d7e3a1", "text", "City", "Lake Worth"),  # by title
    field("field_2b8c4f6", "select", "What do you need?", "Roof repair"),
    field("field_9a1b2c3", "checkbox", "Which rooms", "Kitchen, Bath"),
    field("message", "textarea", "Message", "Shingles blew off."),
    field("field_c0ffee1", "acceptance", "I agree to be contacted", "on"),
    field("utm_source", "hidden", "", "google"),  # a hidden UTM field, no label
    field("field_e1e2e3e", "recaptcha_v3", "", "03AGdBq24x"),
    field("field_f00ba12", "text", "Company", ""),
)


def app_with(config: Config, **form: Any) -> tuple[Config, Any]:
    cfg = replace(config, forms={**config.forms, "quote-el": FormConfig(key="quote-el", tags=("website",), **form)})
    return cfg, create_app(cfg).test_client()


# Each tool's own sample, and shapes that are no tool's: a plain form, and Elementor with Advanced Data off.
SAMPLES: dict[str, dict[str, Any]] = {
    "jotform": jotform_post(),
    "unbounce": unbounce_post(),
    "elementor": elementor_post(),
}
PLAIN = {
    "plain form": {"name": "Dana Reyes", "email": "d@example.com", "page_url": LANDING},
    "elementor, advanced data off": {"Your full name, please": "Dana Reyes", "Email": "d@example.com"},
    "php-style brackets": {"contact[name]": "Dana", "contact[email]": "d@example.com", "form[id]": "x"},
}
MY_TOOLS: tuple[FormTool, ...] = (jotform.TOOL, unbounce.TOOL, elementor.TOOL)


@pytest.mark.parametrize("tool", MY_TOOLS, ids=lambda tool: tool.name)
@pytest.mark.parametrize("sample", [*SAMPLES, *PLAIN])
def test_each_tool_claims_its_own_shape_only(tool: FormTool, sample: str) -> None:
    fields = SAMPLES.get(sample) or PLAIN[sample]
    assert tool.recognises(ToolPost(fields)) is (sample == tool.name)


@pytest.mark.parametrize("sample", [*SAMPLES, *PLAIN])
def test_the_registry_finds_the_tool_whose_shape_it_is(sample: str) -> None:
    tool = detect(ToolPost(SAMPLES.get(sample) or PLAIN[sample]))
    assert (tool.name if tool else None) == (sample if sample in SAMPLES else None)


def test_unwraps_by_type_then_title_then_id_with_the_landing_pages_attribution() -> None:
    submission = TOOL.unwrap(ToolPost(elementor_post()))
    assert submission.fields == {
        "name": "Dana Reyes",
        "email": "Dana.Reyes@Example.com",
        "phone": "(561) 555-0142",
        "City": "Lake Worth",
        "What do you need?": "Roof repair",
        "Which rooms": "Kitchen, Bath",
        "Message": "Shingles blew off.",
        "I agree to be contacted": "on",
        "utm_source": "google",
        "page_url": LANDING,
        # From the landing URL's query; its utm_source gives way to the hidden field's.
        "utm_medium": "paid_social",
        "utm_campaign": "spring",
        "fbclid": "IwAR2xYz",
        "Form": "Quote form",
    }
    assert (submission.platform_id, submission.test, submission.ignored) == (None, None, None)


def test_a_second_email_field_and_an_unlabelled_one_keep_their_answers() -> None:
    fields = TOOL.unwrap(
        ToolPost(
            elementor_post(
                field("field_a", "email", "Your email", "a@example.com"),
                field("field_b", "email", "Partner's email", "b@example.com"),
                field("field_c", "text", "", "Ladder needed"),
            )
        )
    ).fields
    assert (fields["email"], fields["Partner's email"], fields["Field c"]) == (
        "a@example.com",
        "b@example.com",
        "Ladder needed",
    )


def test_with_advanced_data_off_the_pairs_pass_through_when_pinned() -> None:
    pairs = PLAIN["elementor, advanced data off"]
    assert TOOL.unwrap(ToolPost(pairs)).fields == pairs


def test_query_attribution_keeps_utms_and_click_ids_as_sent() -> None:
    url = "https://x.example/?utm_term=roof+repair&fbclid=IwAR2xYz&gclid=&page=2&ref=nav"
    assert query_attribution(url) == {"utm_term": "roof repair", "fbclid": "IwAR2xYz"}


def test_an_elementor_post_reaches_rotor(config, deliver, sandbox) -> None:
    cfg, client = app_with(config)
    answer = client.post("/v1/forms/quote-el", data=elementor_post())  # urlencoded, no Origin: a server's post
    assert answer.status_code == 200 and answer.json["status"] == "success"
    deliver(forms=cfg.forms)
    (lead,) = sandbox.leads()
    assert (lead["name"], lead["email"], lead["phone"]) == ("Dana Reyes", "dana.reyes@example.com", "+15615550142")
    assert lead["property_city"] == "Lake Worth"
    assert lead["notes"].startswith("Shingles blew off.")
    assert {"website", "utm_source:google", "utm_medium:paid_social", "utm_campaign:spring"} <= set(lead["tags"])
    for line in (
        "What do you need?: Roof repair",
        "I agree to be contacted: on",
        "fbclid: IwAR2xYz",
        "Form: Quote form",
    ):
        assert line in lead["notes"]
    assert "203.0.113.7" not in lead["notes"] and "03AGdBq24x" not in lead["notes"]


def test_advanced_data_off_reaches_rotor_as_a_website_form(config, deliver, sandbox) -> None:
    cfg, client = app_with(config, builder="elementor")
    answer = client.post("/v1/forms/quote-el", data={"Name": "Bo Diaz", "Phone": "201-555-0123", "Roof age": "20"})
    assert answer.status_code == 200
    deliver(forms=cfg.forms)
    (lead,) = sandbox.leads()
    assert (lead["name"], lead["phone"]) == ("Bo Diaz", "+12015550123")
    assert "Roof age: 20" in lead["notes"]


def test_a_post_that_cannot_make_a_lead_is_kept_failed_and_answered_200(config, redis_conn) -> None:
    # Nothing names the person: the name field's id and title are both the designer's own.
    fields = (
        field("field_1", "text", "Nome completo", "Ana Souza"),
        field("field_2", "email", "E-mail", "a@example.com"),
    )
    _, client = app_with(config)
    answer = client.post("/v1/forms/quote-el", data=elementor_post(*fields))
    assert answer.status_code == 200  # Elementor does not resend: a 4xx would lose the lead
    failed = SubmissionStore(redis_conn).get(answer.json["submission_id"])
    assert failed.status is SubmissionStatus.FAILED and "A name is required." in (failed.error or "")
    assert failed.raw["tool"] == "elementor"
