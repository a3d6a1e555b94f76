"""Tally's FORM_RESPONSE webhook at a form URL (intake-formats.md §7.8): answers by label and type,
choices through their options, hidden UTM fields, the response id, and the base64 Tally-Signature."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import replace
from typing import Any

import pytest
from marshmallow import ValidationError

from core.config import Config, FormConfig
from core.sources.form_tool import ToolPost
from core.sources.form_tools import detect
from core.sources.tally import TOOL
from core.store.submissions import SubmissionStore
from core.vocabulary import SubmissionStatus
from service.app import create_app

SECRET = "tally-signing-secret"
SERVICES = [{"id": "9f1c", "text": "Roof repair"}, {"id": "27ab", "text": "Gutter cleaning"}]
EXTRAS = [{"id": "c-1", "text": "Skylight"}, {"id": "c-2", "text": "Chimney"}, {"id": "c-3", "text": "Solar panels"}]
# The answers §7.8 lists, one of each type a lead form uses, in the order the form asks them.
ANSWERS: list[dict[str, Any]] = [
    {"key": "question_3EKz4n", "label": "First name", "type": "INPUT_TEXT", "value": "Ann"},
    {"key": "question_nro6ZW", "label": "Last name", "type": "INPUT_TEXT", "value": "Lee"},
    {
        "key": "question_w4Q4Xb",
        "label": "Where can we reach you?",
        "type": "INPUT_EMAIL",
        "value": "Ann.Lee@Example.com",
    },
    {"key": "question_3jkZzY", "label": "Mobile number", "type": "INPUT_PHONE_NUMBER", "value": "+12015550123"},
    {
        "key": "question_mVjz2B",
        "label": "Which service?",
        "type": "MULTIPLE_CHOICE",
        "value": ["9f1c"],
        "options": SERVICES,
    },
    {
        "key": "question_wMNzQ6",
        "label": "Anything else?",
        "type": "CHECKBOXES",
        "value": ["c-1", "c-3"],
        "options": EXTRAS,
    },
    # Tally's per-option echo of the same checkboxes [3p].
    {"key": "question_wMNzQ6_c-1", "label": "Anything else? (Skylight)", "type": "CHECKBOXES", "value": True},
    {"key": "question_wMNzQ6_c-2", "label": "Anything else? (Chimney)", "type": "CHECKBOXES", "value": False},
    {
        "key": "question_n9dQ8x",
        "label": "State",
        "type": "DROPDOWN",
        "value": ["il"],
        "options": [{"id": "il", "text": "IL"}],
    },
    {"key": "question_meaZ5P", "label": "Roof size (sq ft)", "type": "INPUT_NUMBER", "value": 1800},
    {"key": "question_waJ1lv", "label": "Tell us about the job", "type": "TEXTAREA", "value": "The roof leaks."},
    {
        "key": "question_3xaBrZ",
        "label": "Photos",
        "type": "FILE_UPLOAD",
        "value": [{"id": "f1", "name": "roof.jpg", "url": "https://storage.tally.so/private/roof.jpg", "size": 9}],
    },
    {"key": "question_n0r1Kp", "label": "Left blank", "type": "INPUT_TEXT", "value": None},
    {"key": "question_hid_1", "label": "utm_source", "type": "HIDDEN_FIELDS", "value": "google"},
    {"key": "question_hid_2", "label": "utm_campaign", "type": "HIDDEN_FIELDS", "value": "spring"},
    {"key": "question_hid_3", "label": "gclid", "type": "HIDDEN_FIELDS", "value": "Cj0KCQiA"},
    {"key": "question_calc_1", "label": "score", "type": "CALCULATED_FIELDS", "value": 7},
]


def tally_event(answers: list[dict[str, Any]] | None = None, **changes: Any) -> dict[str, Any]:
    """A FORM_RESPONSE body as §7.8 describes it (values made up)."""
    return {
        "eventId": "a4cb511e-d513-4fa5-baee-b815d718dfd1",
        "eventType": "FORM_RESPONSE",
        "createdAt": "2026-12-03T18:20:06.000Z",
        "data": {
            "responseId": "2wgx4n",
            "submissionId": "2wgx4n",
            "respondentId": "dwQKYm",
            "formId": "VwbNEw",
            "formName": "Roof quote",
            "createdAt": "2026-12-03T18:20:05.000Z",
            "fields": ANSWERS if answers is None else answers,
        },
        **changes,
    }


def tally_signature(body: bytes, secret: str = SECRET) -> str:
    """``Tally-Signature`` as Tally computes it, here with hashlib alone."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def app_with(config: Config, **form: Any) -> tuple[Config, Any]:
    cfg = replace(config, forms={**config.forms, "tally": FormConfig(key="tally", tags=("website",), **form)})
    return cfg, create_app(cfg).test_client()


def test_recognises_its_envelope() -> None:
    assert TOOL.recognises(ToolPost(tally_event()))
    assert detect(ToolPost(tally_event())) is TOOL
    # Without eventId/eventType (a relay that forwards data alone), data.fields and responseId still say Tally.
    assert TOOL.recognises(ToolPost({"data": tally_event()["data"]}))
    assert not TOOL.recognises(ToolPost({"name": "Ann", "email": "ann@example.com", "data": "x"}))


def test_unwraps_every_answer_under_its_label_or_lead_field() -> None:
    submission = TOOL.unwrap(ToolPost(tally_event()))
    assert submission.fields == {
        "First name": "Ann",
        "Last name": "Lee",
        "email": "Ann.Lee@Example.com",
        "phone": "+12015550123",
        "Which service?": ["Roof repair"],
        "Anything else?": ["Skylight", "Solar panels"],
        "State": ["IL"],
        "Roof size (sq ft)": 1800,
        "Tell us about the job": "The roof leaks.",
        "Photos": ["https://storage.tally.so/private/roof.jpg"],
        "utm_source": "google",
        "utm_campaign": "spring",
        "gclid": "Cj0KCQiA",
        "score": 7,
        "Tally form": "Roof quote",
    }
    assert (submission.platform_id, submission.test, submission.ignored) == ("2wgx4n", None, None)


@pytest.mark.parametrize("label", ["What's your name?", "Your full name, please", "Name"])
def test_a_text_answer_that_asks_for_the_name_is_the_name(label: str) -> None:
    answers = [{"key": "q1", "label": label, "type": "INPUT_TEXT", "value": "Ann Lee"}]
    fields = TOOL.unwrap(ToolPost(tally_event(answers))).fields
    assert fields.get("name", fields.get("Name")) == "Ann Lee"


def test_a_second_email_question_keeps_its_label() -> None:
    answers = [
        {"key": "q1", "label": "Your email", "type": "INPUT_EMAIL", "value": "ann@example.com"},
        {"key": "q2", "label": "Your manager's email", "type": "INPUT_EMAIL", "value": "bo@example.com"},
        {"key": "q3", "label": "Note", "type": "TEXTAREA", "value": "one"},
        {"key": "q4", "label": "Note", "type": "TEXTAREA", "value": "two"},
    ]
    fields = TOOL.unwrap(ToolPost(tally_event(answers))).fields
    assert fields == {
        "email": "ann@example.com",
        "Your manager's email": "bo@example.com",
        "Note": ["one", "two"],
        "Tally form": "Roof quote",
    }


def test_the_response_id_is_the_dedupe_key_whatever_the_event() -> None:
    # A manual retry resends the event; a second webhook on the form sends a new event for the same response.
    other_event = tally_event(eventId="0d6f4bd1-9c4a-4d0b-a3c8-5bd0f8b4a001")
    assert TOOL.unwrap(ToolPost(other_event)).platform_id == TOOL.unwrap(ToolPost(tally_event())).platform_id


def test_another_event_type_is_no_lead() -> None:
    assert TOOL.unwrap(ToolPost(tally_event(eventType="FORM_DELETED"))).ignored


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"eventId": "e1", "eventType": "FORM_RESPONSE", "data": "not an object"}, "data"),
        (tally_event(answers="not a list"), "data.fields"),  # type: ignore[arg-type]
        (tally_event(answers=["not an object"]), "data.fields.0"),  # type: ignore[list-item]
    ],
)
def test_an_unreadable_envelope_names_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as error:
        TOOL.unwrap(ToolPost(body))
    assert field in error.value.normalized_messages()


def test_the_signature_is_base64_hmac_of_the_body() -> None:
    body = json.dumps(tally_event()).encode()
    post = ToolPost(tally_event(), {"tally-signature": tally_signature(body)}, body)
    assert TOOL.verify(post, secret=SECRET, now=0)
    assert not TOOL.verify(post, secret="another", now=0)
    assert not TOOL.verify(replace(post, body=body + b" "), secret=SECRET, now=0)
    for header in ({}, {"Tally-Signature": "%%% not base64"}, {"Tally-Signature": ""}):
        assert not TOOL.verify(replace(post, headers=header), secret=SECRET, now=0)


def test_a_tally_response_reaches_rotor_once(config, deliver, sandbox, redis_conn) -> None:
    cfg, client = app_with(config)
    answer = client.post("/v1/forms/tally", json=tally_event())
    assert answer.status_code == 200 and answer.json["status"] == "success"
    again = client.post("/v1/forms/tally", json=tally_event(eventId="retried-by-another-webhook"))
    assert SubmissionStore(redis_conn).get(again.json["submission_id"]).status is SubmissionStatus.DUPLICATE
    deliver(forms=cfg.forms)
    (lead,) = sandbox.leads()
    assert (lead["name"], lead["email"], lead["phone"]) == ("Ann Lee", "ann.lee@example.com", "+12015550123")
    assert lead["property_state"] == "IL"  # Rotor reads the address back as property_*
    assert {"website", "utm_source:google", "utm_campaign:spring"} <= set(lead["tags"])
    for line in (
        "Which service?: Roof repair",
        "Anything else?: Skylight, Solar panels",
        "Tell us about the job: The roof leaks.",
        "Photos: https://storage.tally.so/private/roof.jpg",
        "gclid: Cj0KCQiA",
        "Tally form: Roof quote",
    ):
        assert line in lead["notes"]
    assert "(Skylight)" not in lead["notes"]


def test_another_event_is_kept_discarded(config, redis_conn) -> None:
    _, client = app_with(config)
    answer = client.post("/v1/forms/tally", json=tally_event(eventType="FORM_DELETED"))
    assert answer.status_code == 200
    assert SubmissionStore(redis_conn).get(answer.json["submission_id"]).status is SubmissionStatus.DISCARDED


def test_an_unreadable_post_is_kept_failed_and_answered_200(config, redis_conn) -> None:
    _, client = app_with(config, builder="tally")
    answer = client.post("/v1/forms/tally", json=tally_event(answers="not a list"))
    assert answer.status_code == 200  # Tally would retry a 5xx, and drop the lead after a 4xx
    failed = SubmissionStore(redis_conn).get(answer.json["submission_id"])
    assert failed.status is SubmissionStatus.FAILED and "data.fields" in (failed.error or "")


@pytest.mark.parametrize(
    ("signature", "status"),
    [(tally_signature, 200), (lambda body: tally_signature(body, "wrong"), 401), (None, 401)],
    ids=["right", "wrong", "missing"],
)
def test_a_form_with_a_secret_takes_only_signed_posts(config, signature, status) -> None:
    _, client = app_with(config, builder="tally", secret=SECRET)
    body = json.dumps(tally_event()).encode()
    headers = {"Tally-Signature": signature(body)} if signature else {}
    answer = client.post("/v1/forms/tally", data=body, content_type="application/json", headers=headers)
    assert answer.status_code == status
    if status == 401:
        assert "Tally-Signature" in answer.json["message"]
