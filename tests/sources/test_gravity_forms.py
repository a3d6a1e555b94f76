"""Gravity Forms' "All Fields" webhook at a form URL (intake-formats.md §7.4): the Entry Object keyed by
field ids, as JSON and as form fields; names and addresses by their sub-ids, email and phone by shape,
UTMs from source_url. Also the cross-check that each of Tally, Gravity Forms and WPForms claims only
its own posts."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from marshmallow import ValidationError

from core.config import Config, FormConfig
from core.sources import gravity_forms, tally, wpforms
from core.sources.form_tool import ToolPost
from core.sources.form_tools import detect
from core.sources.gravity_forms import TOOL
from core.store.submissions import SubmissionStore
from core.vocabulary import SubmissionStatus
from service.app import create_app
from tests.sources.test_tally import tally_event
from tests.sources.test_wpforms import FORM_BODY, wpforms_headers

PAGE = "https://roofs.example/quote/?utm_source=google&utm_medium=cpc&utm_campaign=spring&gclid=Cj0KCQiA&ref=nav"
# An entry as the Entry Object doc describes it (values made up): the entry's own properties, then one
# key per field id. Field 1 is a Name (prefix .2, first .3, middle .4, last .6, suffix .8), 2 an Email,
# 3 a Phone, 4 an Address (.1 to .6), 5 a Paragraph, 6 Checkboxes (.1, .2, .3), 7 a Date.
ENTRY: dict[str, Any] = {
    "id": "318",
    "form_id": "4",
    "post_id": None,
    "date_created": "2026-12-03 18:20:05",
    "date_updated": "2026-12-03 18:20:05",
    "is_starred": 0,
    "is_read": 0,
    "ip": "203.0.113.9",
    "source_url": PAGE,
    "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5)",
    "currency": "USD",
    "payment_status": None,
    "payment_date": None,
    "payment_amount": None,
    "transaction_id": None,
    "created_by": None,
    "status": "active",
    "1.2": "",
    "1.3": "Ann",
    "1.4": "Marie",
    "1.6": "Lee",
    "1.8": "",
    "2": "Ann.Lee@Example.com",
    "3": "(201) 555-0123",
    "4.1": "12 Oak St",
    "4.2": "Apt 3",
    "4.3": "Springfield",
    "4.4": "Illinois",
    "4.5": "62704",
    "4.6": "United States",
    "5": "The roof leaks near the chimney.",
    "6.1": "Skylight",
    "6.2": "",
    "6.3": "Solar panels",
    "7": "2027-01-15",
}


def as_form_fields(entry: dict[str, Any]) -> dict[str, str]:
    """The same entry as the feed's FORM format posts it: every value text, a null left out."""
    return {key: str(value) for key, value in entry.items() if value is not None}


def app_with(config: Config, **form: Any) -> tuple[Config, Any]:
    cfg = replace(config, forms={**config.forms, "gravity": FormConfig(key="gravity", tags=("website",), **form)})
    return cfg, create_app(cfg).test_client()


MINE = {
    "tally": ToolPost(tally_event()),
    "gravity_forms": ToolPost(ENTRY),
    "gravity_forms (form format)": ToolPost(as_form_fields(ENTRY)),
    "wpforms": ToolPost(FORM_BODY, wpforms_headers()),
}


@pytest.mark.parametrize("sample", MINE, ids=list(MINE))
@pytest.mark.parametrize("tool", [tally.TOOL, gravity_forms.TOOL, wpforms.TOOL], ids=lambda tool: tool.name)
def test_each_tool_recognises_only_its_own_posts(sample: str, tool: Any) -> None:
    post = MINE[sample]
    assert tool.recognises(post) is sample.startswith(tool.name)
    assert detect(post).name == sample.split(" ")[0]  # no tool tried earlier claims it either


@pytest.mark.parametrize(
    "fields",
    [
        {"name": "Ann", "email": "ann@example.com", "1": "x"},  # a plain form with a numbered field
        {"id": "7", "form_id": "contact", "name": "Ann"},  # no field ids
    ],
)
def test_a_plain_form_is_no_entry(fields: dict[str, Any]) -> None:
    assert not TOOL.recognises(ToolPost(fields))


@pytest.mark.parametrize("entry", [ENTRY, as_form_fields(ENTRY)], ids=["json", "form"])
def test_unwraps_names_addresses_email_phone_and_the_page(entry: dict[str, Any]) -> None:
    submission = TOOL.unwrap(ToolPost(entry))
    assert submission.fields == {
        "first_name": "Ann Marie",
        "last_name": "Lee",
        "email": "Ann.Lee@Example.com",
        "phone": "(201) 555-0123",
        "address_street1": "12 Oak St",
        "address_street2": "Apt 3",
        "address_city": "Springfield",
        "address_state": "Illinois",
        "address_zip": "62704",
        "address_country": "United States",
        "Field 5": "The roof leaks near the chimney.",
        "Field 6": ["Skylight", "Solar panels"],
        "Field 7": "2027-01-15",
        "page_url": PAGE,
        "utm_source": "google",
        "utm_medium": "cpc",
        "utm_campaign": "spring",
        "gclid": "Cj0KCQiA",
    }
    assert (submission.platform_id, submission.test, submission.ignored) == ("318", None, None)


def test_ids_are_per_form_so_order_and_numbers_do_not_matter() -> None:
    entry = {
        "id": 9,
        "form_id": 12,
        "14": "+44 20 7946 0958",
        "15.6": "Okafor",
        "15.3": "Chidi",
        "15.2": "Dr.",
        "16": "chidi@example.org",
        "17.3": "Bo",  # a second name (a referral's) stays whole, in the notes
        "17.6": "Diaz",
        "18": "62704",  # a zip code alone is no phone
        "19": "1500000",  # nor a budget
    }
    fields = TOOL.unwrap(ToolPost(entry)).fields
    assert fields == {
        "phone": "+44 20 7946 0958",
        "first_name": "Chidi",
        "last_name": "Okafor",
        "Field 15 (prefix)": "Dr.",
        "email": "chidi@example.org",
        "Field 17": ["Bo", "Diaz"],
        "Field 18": "62704",
        "Field 19": "1500000",
    }
    assert TOOL.unwrap(ToolPost(entry)).platform_id == "9"


def test_checkboxes_with_many_choices_are_no_address() -> None:
    choices = {f"8.{n}": text for n, text in enumerate(["Roof", "", "Gutters", "Siding", "Windows"], start=1)}
    fields = TOOL.unwrap(ToolPost({"id": "1", "form_id": "2", **choices})).fields
    assert fields == {"Field 8": ["Roof", "Gutters", "Siding", "Windows"]}


def test_select_fields_keys_pass_through() -> None:
    # A pinned form whose feed sends agreed keys next to the entry's id.
    entry = {"id": "5", "form_id": "2", "3": "x", "full_name": "Ann Lee", "Phone": "2015550123"}
    fields = TOOL.unwrap(ToolPost(entry)).fields
    assert (fields["full_name"], fields["Phone"]) == ("Ann Lee", "2015550123")


def test_a_spam_entry_is_no_lead() -> None:
    assert TOOL.unwrap(ToolPost({**ENTRY, "status": "spam"})).ignored


@pytest.mark.parametrize("entry_id", [{"oops": 1}, 3.5, True])
def test_an_unreadable_entry_id_names_the_field(entry_id: Any) -> None:
    with pytest.raises(ValidationError) as error:
        TOOL.unwrap(ToolPost({**ENTRY, "id": entry_id}))
    assert "id" in error.value.normalized_messages()


@pytest.mark.parametrize("fmt", ["json", "form"])
def test_a_gravity_entry_reaches_rotor_once(config, deliver, sandbox, redis_conn, fmt: str) -> None:
    cfg, client = app_with(config)
    if fmt == "json":
        post = lambda: client.post("/v1/forms/gravity", data=json.dumps(ENTRY), content_type="application/json")  # noqa: E731
    else:
        post = lambda: client.post("/v1/forms/gravity", data=as_form_fields(ENTRY))  # noqa: E731
    answer = post()
    assert answer.status_code == 200 and answer.json["status"] == "success"
    again = post()  # the feed sent again (a resend from the entry's page)
    assert SubmissionStore(redis_conn).get(again.json["submission_id"]).status is SubmissionStatus.DUPLICATE
    deliver(forms=cfg.forms)
    (lead,) = sandbox.leads()
    assert (lead["name"], lead["email"], lead["phone"]) == ("Ann Marie Lee", "ann.lee@example.com", "+12015550123")
    address = {key: lead.get(f"property_{key}") for key in ("street1", "street2", "city", "state", "zip", "country")}
    assert address == {
        "street1": "12 Oak St",
        "street2": "Apt 3",
        "city": "Springfield",
        "state": "Illinois",
        "zip": "62704",
        "country": "United States",
    }
    assert {"website", "utm_source:google", "utm_medium:cpc", "utm_campaign:spring"} <= set(lead["tags"])
    for line in ("Field 5: The roof leaks near the chimney.", "Field 6: Skylight, Solar panels", "gclid: Cj0KCQiA"):
        assert line in lead["notes"]
    assert f"page_url: {PAGE}" in lead["notes"]


def test_a_spam_entry_is_kept_discarded(config, redis_conn) -> None:
    _, client = app_with(config)
    answer = client.post("/v1/forms/gravity", json={**ENTRY, "status": "spam"})
    assert answer.status_code == 200
    assert SubmissionStore(redis_conn).get(answer.json["submission_id"]).status is SubmissionStatus.DISCARDED


def test_an_unreadable_entry_is_kept_failed_and_answered_200(config, redis_conn) -> None:
    _, client = app_with(config)
    answer = client.post("/v1/forms/gravity", json={**ENTRY, "id": {"oops": 1}})
    assert answer.status_code == 200
    failed = SubmissionStore(redis_conn).get(answer.json["submission_id"])
    assert failed.status is SubmissionStatus.FAILED and "id" in (failed.error or "")


def test_an_entry_without_a_known_name_is_kept_failed_then_mapped_by_id(config, redis_conn) -> None:
    # A single-line name: nothing in the entry says it is one (the email is known by its shape).
    entry = {"id": "77", "form_id": "4", "1": "Ann Lee", "2": "ann@example.com", "source_url": "https://roofs.example/"}
    _, client = app_with(config)
    answer = client.post("/v1/forms/gravity", json=entry)
    assert answer.status_code == 200
    assert SubmissionStore(redis_conn).get(answer.json["submission_id"]).status is SubmissionStatus.FAILED
    # The form's own field map names them by id; it is read before the tool's guesses.
    _, mapped = app_with(config, fields={"name": "1"})
    answer = mapped.post("/v1/forms/gravity", json={**entry, "id": "78"})
    assert SubmissionStore(redis_conn).get(answer.json["submission_id"]).status is not SubmissionStatus.FAILED


def test_checkboxes_with_their_fifth_choice_unchecked_are_no_address() -> None:
    entry = {
        "id": "90",
        "form_id": "3",
        "1.3": "Ann",
        "1.6": "Lee",
        "2": "ann@example.com",
        "5.1": "Roof repair",
        "5.2": "",
        "5.3": "Gutters",
        "5.4": "",
        "5.5": "",
        "5.6": "",
    }
    fields = TOOL.unwrap(ToolPost(entry)).fields
    assert not any(key.startswith("address_") for key in fields)
    assert fields["Field 5"] == ["Roof repair", "Gutters"]
