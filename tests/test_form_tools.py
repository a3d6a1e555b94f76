"""What every form tool's post shares at a form URL, found by review: odd input is never a 500, a
signature covers what is read, a signed tool is not refused for its shared addresses or its size,
and a replay reads a post the way intake did."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import replace

import pytest
from marshmallow import ValidationError

from core.config import Config, FormConfig
from core.sources.common import json_object
from core.store.submissions import SubmissionStore
from core.vocabulary import SubmissionStatus
from service.app import create_app
from tests.conftest import ADMIN_TOKEN

WPFORMS = {"User-Agent": "wpforms-webhooks/1.4.0", "X-WPForms-Webhook-Id": "3"}
URLENCODED = "application/x-www-form-urlencoded"
TALLY = {
    "eventId": "e1",
    "eventType": "FORM_RESPONSE",
    "data": {
        "responseId": "r1",
        "fields": [
            {"key": "q1", "label": "Name", "type": "INPUT_TEXT", "value": "Ann Lee"},
            {"key": "q2", "label": "Email", "type": "INPUT_EMAIL", "value": "ann@example.com"},
        ],
    },
}


def client_for(config: Config, **form: object):
    forms = {**config.forms, "site": FormConfig(key="site", tags=("website",), **form)}  # type: ignore[arg-type]
    return create_app(replace(config, forms=forms)).test_client()


def wpforms_signature(signed: bytes, secret: str, at: int) -> str:
    return f"t={at},v={hmac.new(secret.encode(), f'{at}.'.encode() + signed, hashlib.sha256).hexdigest()}"


def test_absurdly_nested_bracket_keys_are_no_500(config) -> None:
    body = b"name=Ann+Lee&email=ann%40example.com&a" + b"%5Bx%5D" * 1200 + b"=1"
    answer = client_for(config, builder="wpforms").post(
        "/v1/forms/site", data=body, content_type=URLENCODED, headers=WPFORMS
    )
    assert answer.status_code == 200
    signed = client_for(config, builder="wpforms", secret="s")
    headers = {**WPFORMS, "X-WPForms-Webhook-Signature": f"t={int(time.time())},v=00"}
    assert signed.post("/v1/forms/site", data=body, content_type=URLENCODED, headers=headers).status_code == 401


@pytest.mark.parametrize("stamp", ["9" * 400, "9" * 5000, "²"], ids=["400 digits", "5000 digits", "superscript"])
def test_an_absurd_signature_timestamp_is_401_not_500(config, stamp: str) -> None:
    client = client_for(config, builder="webflow", secret="s")
    headers = {"x-webflow-timestamp": stamp, "x-webflow-signature": "00"}
    assert client.post("/v1/forms/site", json={"triggerType": "form_submission"}, headers=headers).status_code == 401
    client = client_for(config, builder="wpforms", secret="s")
    headers = {**WPFORMS, "X-WPForms-Webhook-Signature": f"t={stamp},v=00"}
    assert client.post("/v1/forms/site", data=b"name=Ann", content_type=URLENCODED, headers=headers).status_code == 401


def test_json_inside_a_field_is_read_as_safely_as_a_body() -> None:
    assert json_object('{"name": ["Ann \\ud800"]}', "data.json") == {"name": ["Ann \ufffd"]}
    assert json_object('{"name": ["Ann \ud800"]}', "data.json") == {"name": ["Ann \ufffd"]}
    for bad in ("[" * 3000, '{"name": NaN}'):
        with pytest.raises(ValidationError) as caught:
            json_object(bad, "data.json")
        assert "Not JSON" in caught.value.messages["data.json"][0]  # type: ignore[index]


def test_a_field_repeated_outside_the_signature_is_not_read(config, redis_conn) -> None:
    # WPForms signs PHP's reading of the body, where a repeated key is its last value.
    signed_body = b"name=Ann+Lee&email=ann%40example.com"
    at = int(time.time())
    signature = wpforms_signature(b'{"name":"Ann Lee","email":"ann@example.com"}', "s", at)
    headers = {**WPFORMS, "X-WPForms-Webhook-Signature": signature}
    client = client_for(config, builder="wpforms", secret="s")
    answer = client.post(
        "/v1/forms/site", data=b"name=Free+crypto&" + signed_body, content_type=URLENCODED, headers=headers
    )
    assert answer.status_code == 200
    lead = SubmissionStore(redis_conn).get(answer.json["submission_id"]).lead
    assert lead is not None and lead["name"] == "Ann Lee" and "Free crypto" not in json.dumps(lead)


def test_a_signed_tool_is_not_limited_by_its_shared_address(config) -> None:
    body = json.dumps(TALLY).encode()
    signature = base64.b64encode(hmac.new(b"s", body, hashlib.sha256).digest()).decode()
    limited = replace(config, rate_limit_per_ip="1 per minute")
    client = client_for(limited, builder="tally", secret="s")
    headers = {"Tally-Signature": signature, "Content-Type": "application/json"}
    assert [client.post("/v1/forms/site", data=body, headers=headers).status_code for _ in range(3)] == [200] * 3
    unsigned = client_for(limited)
    assert unsigned.post("/v1/forms/site", json={**TALLY, "eventId": "e2"}).status_code == 200
    assert unsigned.post("/v1/forms/site", json={**TALLY, "eventId": "e3"}).status_code == 429


def test_a_tools_form_takes_bodies_as_large_as_a_webhooks(config) -> None:
    long = {**TALLY, "data": {**TALLY["data"], "fields": [*TALLY["data"]["fields"]]}}
    long["data"]["fields"].append({"key": "q3", "label": "Details", "type": "TEXTAREA", "value": "x" * 10_000})
    assert len(json.dumps(long)) > config.max_body_bytes
    assert client_for(config, builder="tally").post("/v1/forms/site", json=long).status_code == 200
    assert client_for(config).post("/v1/forms/site", json=long).status_code == 413


def test_a_replay_does_not_deliver_what_intake_kept_as_no_lead(config, redis_conn) -> None:
    spam = {"id": "90", "form_id": "3", "1.3": "Ann", "1.6": "Lee", "2": "ann@example.com", "status": "spam"}
    client = client_for(config)
    submission_id = client.post("/v1/forms/site", json=spam).json["submission_id"]
    assert SubmissionStore(redis_conn).get(submission_id).status is SubmissionStatus.DISCARDED
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    report = client.post("/v1/ops/replay", json={"ids": [submission_id]}, headers=auth).json
    assert report["done"] == 0 and "not a lead" in report["skipped"][submission_id]
