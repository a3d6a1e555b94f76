"""Jotform's multipart webhook at a form URL (intake-formats.md §7.3): rawRequest's answers, composite
name/address/phone/date questions, the preview marker, and an unreadable rawRequest kept failed."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from marshmallow import ValidationError

from core.config import Config, FormConfig
from core.sources.form_tool import ToolPost
from core.sources.jotform import TOOL
from core.store.submissions import SubmissionStore
from core.vocabulary import SubmissionStatus
from service.app import create_app

SUBMISSION_ID = "5987654321012345678"  # 19 digits, as Jotform's are
# rawRequest as the form posts it: Jotform's bookkeeping around q<N>_<uniqueName> answers.
ANSWERS: dict[str, Any] = {
    "slug": "submit/241234567890123",
    "jsExecutionTracker": "build-date-1733250000000=>init-started:1733250001000",
    "submitSource": "form",
    "buildDate": "1733250000000",
    "q3_name": {"first": "Dana", "last": "Reyes"},
    "q4_email": "Dana.Reyes@Example.com",
    "q5_yourPhone": {"full": "(561) 555-0142"},
    "q6_address": {
        "addr_line1": "12 Palm Way",
        "addr_line2": "Apt 4",
        "city": "Lake Worth",
        "state": "FL",
        "postal": "33460",
        "country": "United States",
    },
    "q7_whichServices": ["Roof repair", "Gutters"],
    "q8_preferredDate": {"month": "10", "day": "01", "year": "2026"},
    "q9_message": "Shingles blew off in the storm.",
    "q10_iAgree": "Yes, you may contact me",
    "q11_utm_source": "google",
    "q12_utm_campaign": "spring",
    "q13_howMany": 3,
    "q14_leaveEmpty": "",
    "event_id": "1733250001000_241234567890123_a1b2c3d",
    "timeToSubmit": "42",
    "website": "",
}


def jotform_post(answers: dict[str, Any] | None = None, **parts: Any) -> dict[str, Any]:
    """The multipart parts Jotform posts, rawRequest a JSON string of ``answers``."""
    return {
        "formID": "241234567890123",
        "submissionID": SUBMISSION_ID,
        "webhookURL": "https://leads.example/v1/forms/jotform",
        "ip": "203.0.113.7",
        "formTitle": "Roof Quote",
        "pretty": "Name:Dana Reyes, E-mail:Dana.Reyes@Example.com, Your Phone:(561) 555-0142",
        "username": "roofsbydana",
        "type": "WEB",
        "rawRequest": json.dumps(ANSWERS if answers is None else answers),
        **parts,
    }


def unwrap(answers: dict[str, Any] | None = None, **parts: Any) -> dict[str, Any]:
    return TOOL.unwrap(ToolPost(jotform_post(answers, **parts))).fields


def app_with(config: Config, **form: Any) -> tuple[Config, Any]:
    cfg = replace(config, forms={**config.forms, "jotform": FormConfig(key="jotform", tags=("website",), **form)})
    return cfg, create_app(cfg).test_client()


def post(client: Any, parts: dict[str, Any]) -> Any:
    return client.post("/v1/forms/jotform", data=parts, content_type="multipart/form-data")


def test_recognises_its_parts_and_not_a_plain_form() -> None:
    assert TOOL.recognises(ToolPost(jotform_post()))
    assert TOOL.recognises(ToolPost({"formID": "1", "submissionID": "2"}))  # rawRequest lost on the way
    assert not TOOL.recognises(ToolPost({"name": "Dana", "email": "d@example.com", "formID": "contact"}))


def test_unwraps_every_answer_under_its_label_or_lead_field() -> None:
    assert unwrap() == {
        "first_name": "Dana",
        "last_name": "Reyes",
        "Email": "Dana.Reyes@Example.com",
        "phone": "(561) 555-0142",
        "address_street1": "12 Palm Way",
        "address_street2": "Apt 4",
        "address_city": "Lake Worth",
        "address_state": "FL",
        "address_zip": "33460",
        "address_country": "United States",
        "Which services": "Roof repair, Gutters",
        "Preferred date": "2026-10-01",
        "Message": "Shingles blew off in the storm.",
        "I agree": "Yes, you may contact me",
        "Utm source": "google",
        "Utm campaign": "spring",
        "How many": "3",
        "Form": "Roof Quote",
    }


def test_the_submission_id_is_the_platform_id_and_only_a_preview_is_a_test() -> None:
    submission = TOOL.unwrap(ToolPost(jotform_post()))
    assert (submission.platform_id, submission.test, submission.ignored) == (SUBMISSION_ID, None, None)
    preview = TOOL.unwrap(ToolPost(jotform_post({**ANSWERS, "preview": "true"})))
    assert preview.test and "preview" in preview.test


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ({"area": "561", "phone": "5550142"}, {"phone": "561 5550142"}),  # the older phone field
        ({"full": ""}, {}),
        (
            {"prefix": "Dr.", "first": "Dana", "middle": "M", "last": "Reyes", "suffix": "Jr."},
            {"first_name": "Dr. Dana M", "last_name": "Reyes Jr."},
        ),
        (
            {"month": "10", "day": "01", "year": "2026", "hour": "09", "min": "30", "ampm": "AM"},
            {"Contact": "2026-10-01 09:30 AM"},
        ),
        ({"0": "Yes", "1": "No"}, {"Contact": '{"0":"Yes","1":"No"}'}),  # another widget's object, whole
    ],
    ids=["area-phone", "empty-phone", "full-name", "date-time", "widget"],
)
def test_composite_answers(answer: dict[str, str], expected: dict[str, str]) -> None:
    fields = unwrap({"q2_contact": answer, "q3_email": "d@example.com"})
    assert fields == {**expected, "Email": "d@example.com", "Form": "Roof Quote"}


def test_a_second_name_or_address_stays_whole_under_its_label() -> None:
    fields = unwrap(
        {
            "q3_yourName": {"first": "Dana", "last": "Reyes"},
            "q4_spouseName": {"first": "Sam", "last": "Reyes"},
            "q5_home": {"addr_line1": "12 Palm Way", "city": "Lake Worth", "postal": "33460"},
            "q6_rental": {"addr_line1": "9 Bay Rd", "city": "Delray Beach", "postal": "33444"},
        }
    )
    assert (fields["first_name"], fields["Spouse name"]) == ("Dana", "Sam Reyes")
    assert (fields["address_street1"], fields["Rental"]) == ("12 Palm Way", "9 Bay Rd, Delray Beach, 33444")


@pytest.mark.parametrize(
    ("raw_request", "message"),
    [("{not json", "Not JSON"), ('["a list"]', "Expected a JSON object"), (None, "Expected a JSON object")],
    ids=["not-json", "a-list", "missing"],
)
def test_an_unreadable_raw_request_names_it(raw_request: str | None, message: str) -> None:
    parts = jotform_post()
    parts.pop("rawRequest")
    if raw_request is not None:
        parts["rawRequest"] = raw_request
    with pytest.raises(ValidationError) as caught:
        TOOL.unwrap(ToolPost(parts))
    assert message in caught.value.normalized_messages()["rawRequest"][0]


def test_a_jotform_post_reaches_rotor_once(config, deliver, sandbox, redis_conn) -> None:
    cfg, client = app_with(config)
    answer = post(client, jotform_post())
    assert answer.status_code == 200 and answer.json["status"] == "success"
    again = post(client, jotform_post())  # Jotform sending the same submission again
    assert SubmissionStore(redis_conn).get(again.json["submission_id"]).status is SubmissionStatus.DUPLICATE
    deliver(forms=cfg.forms)
    (lead,) = sandbox.leads()
    assert (lead["name"], lead["email"], lead["phone"]) == ("Dana Reyes", "dana.reyes@example.com", "+15615550142")
    address = {key: lead[key] for key in lead if key.startswith("property_")}  # Rotor reads address_* back so
    assert address == {
        "property_street1": "12 Palm Way",
        "property_street2": "Apt 4",
        "property_city": "Lake Worth",
        "property_state": "FL",
        "property_zip": "33460",
        "property_country": "United States",
    }
    assert lead["notes"].startswith("Shingles blew off in the storm.")
    for line in ("Which services: Roof repair, Gutters", "Preferred date: 2026-10-01", "Form: Roof Quote"):
        assert line in lead["notes"]
    assert {"website", "utm_source:google", "utm_campaign:spring"} <= set(lead["tags"])


def test_a_preview_submission_is_kept_discarded(config, deliver, sandbox, redis_conn) -> None:
    cfg, client = app_with(config, builder="jotform")
    answer = post(client, jotform_post({**ANSWERS, "preview": "true"}))
    assert answer.status_code == 200
    assert SubmissionStore(redis_conn).get(answer.json["submission_id"]).status is SubmissionStatus.DISCARDED
    deliver(forms=cfg.forms)
    assert sandbox.leads() == []


def test_an_unreadable_raw_request_is_kept_failed_and_answered_200(config, redis_conn) -> None:
    _, client = app_with(config)
    answer = post(client, jotform_post(rawRequest="q3_name=Dana"))
    assert answer.status_code == 200  # a 4xx would not be resent: the lead would be lost
    failed = SubmissionStore(redis_conn).get(answer.json["submission_id"])
    assert failed.status is SubmissionStatus.FAILED and "rawRequest" in (failed.error or "")
    assert failed.raw["tool"] == "jotform" and failed.raw["fields"]["rawRequest"] == "q3_name=Dana"
