"""Unbounce's webhook at a form URL (intake-formats.md §7.6): data.json's arrays unwrapped, urlencoded or
JSON, the page kept as attribution, and a data.json that is not JSON kept failed."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from marshmallow import ValidationError

from core.config import Config, FormConfig
from core.sources.form_tool import ToolPost
from core.sources.unbounce import TOOL
from core.store.submissions import SubmissionStore
from core.vocabulary import SubmissionStatus
from service.app import create_app

PAGE_URL = "https://unbouncepages.com/roof-repair-fl/"
# data.json as the doc describes it: the designer's field ids and Unbounce's own keys, every value an array.
DATA: dict[str, Any] = {
    "full_name": ["Dana Reyes"],
    "email_address": ["Dana.Reyes@Example.com"],
    "phone_number": ["(561) 555-0142"],
    "zipCode": ["33460"],
    "what_service_do_you_need?": ["Roof repair"],
    "which_rooms": ["Kitchen", "Bath"],
    "anything_else": [""],
    "utm_source": ["google"],
    "utm_medium": ["cpc"],
    "gclid": ["Cj0KCQiA-abc"],
    "ip_address": ["203.0.113.7"],
    "page_uuid": ["8d1f3c2e-5b6a-4c7d-9e8f-0a1b2c3d4e5f"],
    "variant": ["b"],
    "time_submitted": ["10:57 PM UTC"],
    "date_submitted": ["2026-12-03"],
    "page_url": [PAGE_URL],
    "page_name": ["Roof repair FL"],
}


def unbounce_post(data: Any = None, **parts: Any) -> dict[str, Any]:
    """The default urlencoded post: page fields, data.json as a JSON string, and data.xml."""
    return {
        "page_id": "8d1f3c2e-5b6a-4c7d-9e8f-0a1b2c3d4e5f",
        "page_url": PAGE_URL,
        "page_name": "Roof repair FL",
        "variant": "b",
        "data.json": json.dumps(DATA if data is None else data),
        "data.xml": '<?xml version="1.0" encoding="UTF-8"?><form_data><full_name>Dana Reyes</full_name></form_data>',
        **parts,
    }


def app_with(config: Config, **form: Any) -> tuple[Config, Any]:
    cfg = replace(config, forms={**config.forms, "lp": FormConfig(key="lp", tags=("landing-page",), **form)})
    return cfg, create_app(cfg).test_client()


def test_recognises_its_data_json_and_not_a_plain_form() -> None:
    assert TOOL.recognises(ToolPost(unbounce_post()))
    assert TOOL.recognises(ToolPost({"data.json": DATA}))  # JSON mode
    assert not TOOL.recognises(ToolPost({"name": "Dana", "email": "d@example.com", "page_url": PAGE_URL}))


def test_unwraps_each_array_and_keeps_the_page() -> None:
    submission = TOOL.unwrap(ToolPost(unbounce_post()))
    assert submission.fields == {
        "Full name": "Dana Reyes",
        "Email address": "Dana.Reyes@Example.com",
        "Phone number": "(561) 555-0142",
        "Zip code": "33460",
        "What service do you need?": "Roof repair",
        "Which rooms": ["Kitchen", "Bath"],
        "Utm source": "google",
        "Utm medium": "cpc",
        "Gclid": "Cj0KCQiA-abc",
        "page_url": PAGE_URL,
        "Page name": "Roof repair FL",
        "Variant": "b",
    }
    assert (submission.platform_id, submission.test, submission.ignored) == (None, None, None)


def test_json_mode_takes_data_json_as_an_object_and_the_page_from_it() -> None:
    fields = TOOL.unwrap(ToolPost({"data.json": {"email": ["d@example.com"], "page_url": [PAGE_URL]}})).fields
    assert fields == {"Email": "d@example.com", "page_url": PAGE_URL}


@pytest.mark.parametrize(
    ("data_json", "message"),
    [("full_name=Dana", "Not JSON"), ('[["Dana"]]', "Expected a JSON object"), (None, "Expected a JSON object")],
    ids=["not-json", "a-list", "missing"],
)
def test_an_unreadable_data_json_names_it(data_json: str | None, message: str) -> None:
    parts = unbounce_post()
    parts.pop("data.json")
    if data_json is not None:
        parts["data.json"] = data_json
    with pytest.raises(ValidationError) as caught:
        TOOL.unwrap(ToolPost(parts))
    assert message in caught.value.normalized_messages()["data.json"][0]


def test_an_unbounce_post_reaches_rotor(config, deliver, sandbox) -> None:
    cfg, client = app_with(config)
    answer = client.post("/v1/forms/lp", data=unbounce_post())  # urlencoded, Unbounce's default
    assert answer.status_code == 200 and answer.json["status"] == "success"
    deliver(forms=cfg.forms)
    (lead,) = sandbox.leads()
    assert (lead["name"], lead["email"], lead["phone"]) == ("Dana Reyes", "dana.reyes@example.com", "+15615550142")
    assert lead["property_zip"] == "33460"
    assert {"landing-page", "utm_source:google", "utm_medium:cpc"} <= set(lead["tags"])
    for line in (
        "What service do you need?: Roof repair",
        "Which rooms: Kitchen, Bath",
        "Variant: b",
        f"page_url: {PAGE_URL}",
        "gclid: Cj0KCQiA-abc",
    ):
        assert line in lead["notes"]
    assert "203.0.113.7" not in lead["notes"]


def test_a_json_mode_post_reaches_rotor(config, deliver, sandbox) -> None:
    cfg, client = app_with(config, builder="unbounce")
    body = {"page_id": "8d1f3c2e", "page_url": PAGE_URL, "data.json": {"name": ["Bo Diaz"], "phone": ["2015550123"]}}
    answer = client.post("/v1/forms/lp", json=body)
    assert answer.status_code == 200
    deliver(forms=cfg.forms)
    (lead,) = sandbox.leads()
    assert (lead["name"], lead["phone"]) == ("Bo Diaz", "+12015550123")


def test_a_data_json_that_is_not_json_is_kept_failed_and_answered_200(config, redis_conn) -> None:
    _, client = app_with(config)
    answer = client.post("/v1/forms/lp", data=unbounce_post(**{"data.json": "<form_data/>"}))
    assert answer.status_code == 200  # a 4xx would not be resent: the lead would be lost
    failed = SubmissionStore(redis_conn).get(answer.json["submission_id"])
    assert failed.status is SubmissionStatus.FAILED and "data.json" in (failed.error or "")
    assert failed.raw["tool"] == "unbounce"
