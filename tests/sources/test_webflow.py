"""Webflow's form_submission webhook at a form URL (intake-formats.md §7.2), and what every form tool
shares: signatures checked on the raw body, and a post that cannot make a lead kept failed, answered
2xx, then fixed with the form's own field map and replayed."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import pytest

from core.config import Config, FormConfig
from core.sources.form_tool import ToolPost
from core.sources.signatures import hmac_sha256
from core.sources.webflow import TOOL
from core.store.submissions import SubmissionStore
from core.vocabulary import SubmissionStatus
from service.app import create_app
from tests.conftest import ADMIN_TOKEN

SECRET = "webflow-client-secret"
# The v2 body as the doc describes it: field names as the designer wrote them, the phone a JSON number.
V2 = {
    "triggerType": "form_submission",
    "payload": {
        "name": "Roof estimate",
        "siteId": "65427cf400e02b306eaa049c",
        "data": {
            "First Name": "Ann",
            "Last Name": "Lee",
            "Email": "Ann@Example.com",
            "Phone Number": 2015550123,
            "What needs fixing?": "Leaking skylight",
            "utm_campaign": "spring",
        },
        "schema": [{"fieldName": "First Name", "fieldType": "FormTextInput", "fieldElementId": "6542"}],
        "submittedAt": "2026-12-03T18:20:05.000Z",
        "id": "6321ca84df3949bfc6752327",
        "formId": "65429eadebe8a9f3a30f62d0",
    },
}
# The legacy v1 body: {name, site, data, d, _id}.
V1 = {
    "name": "Contact",
    "site": "62749158efef318abc8d5a0f",
    "d": "2022-09-14T12:35:16.117Z",
    "_id": "6321ca84df3949bfc6752327",
    "data": {"Name": "Bo Diaz", "Email": "bo@example.com"},
}


def app_with(config: Config, **form: object) -> tuple[Config, object]:
    cfg = replace(config, forms={**config.forms, "site": FormConfig(key="site", tags=("website",), **form)})
    return cfg, create_app(cfg).test_client()


def signed(body: bytes, *, secret: str = SECRET, at: float | None = None) -> dict[str, str]:
    stamp = str(int((time.time() if at is None else at) * 1000))
    signature = hmac_sha256(secret, stamp.encode() + b":" + body).hex()
    return {"x-webflow-timestamp": stamp, "x-webflow-signature": signature, "Content-Type": "application/json"}


def test_recognises_both_shapes_and_not_a_plain_form() -> None:
    assert TOOL.recognises(ToolPost(V2)) and TOOL.recognises(ToolPost(V1))
    assert not TOOL.recognises(ToolPost({"name": "Ann", "email": "ann@example.com", "data": "x"}))


def test_unwraps_the_field_names_and_the_submission_id() -> None:
    submission = TOOL.unwrap(ToolPost(V2))
    assert submission.platform_id == "6321ca84df3949bfc6752327"
    assert submission.fields["Phone Number"] == 2015550123
    assert submission.fields["Webflow form"] == "Roof estimate"
    assert TOOL.unwrap(ToolPost(V1)).fields["Name"] == "Bo Diaz"


def test_a_webflow_post_reaches_rotor_once(config, deliver, sandbox, redis_conn) -> None:
    cfg, client = app_with(config)
    answer = client.post("/v1/forms/site", json=V2)
    assert answer.status_code == 200 and answer.json["status"] == "success"
    again = client.post("/v1/forms/site", json=V2)  # Webflow resending the same submission
    store = SubmissionStore(redis_conn)
    assert store.get(again.json["submission_id"]).status is SubmissionStatus.DUPLICATE
    deliver(forms=cfg.forms)
    (lead,) = sandbox.leads()
    assert (lead["name"], lead["email"], lead["phone"]) == ("Ann Lee", "ann@example.com", "+12015550123")
    assert "utm_campaign:spring" in lead["tags"]
    assert "What needs fixing?: Leaking skylight" in lead["notes"]
    assert "Webflow form: Roof estimate" in lead["notes"]


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        (lambda body: signed(body), 200),
        (lambda body: signed(body, secret="wrong"), 401),
        (lambda body: signed(body, at=time.time() - 600), 401),  # replayed ten minutes later
        (lambda body: {"Content-Type": "application/json"}, 401),
    ],
    ids=["right", "wrong", "stale", "missing"],
)
def test_a_form_with_a_secret_takes_only_signed_posts(config, headers, status) -> None:
    _, client = app_with(config, builder="webflow", secret=SECRET)
    body = json.dumps(V2).encode()
    answer = client.post("/v1/forms/site", data=body, headers=headers(body))
    assert answer.status_code == status
    if status == 401:
        assert answer.json["message"] == "x-webflow-signature does not match this body and secret."


def test_a_post_that_cannot_make_a_lead_is_kept_then_fixed_by_the_forms_field_map(
    config, deliver, sandbox, redis_conn
) -> None:
    # The designer named the contact fields in Portuguese: nothing says which is the name or phone.
    data = {"Nome completo": "Ana Souza", "Telefone": "(201) 555-0188", "Mensagem": "Telhado"}
    body = {**V2, "payload": {**V2["payload"], "data": data, "id": "7000"}}
    _, client = app_with(config)
    answer = client.post("/v1/forms/site", json=body)
    assert answer.status_code == 200  # a 4xx would make Webflow drop the lead for good
    submission_id = answer.json["submission_id"]
    failed = SubmissionStore(redis_conn).get(submission_id)
    assert failed.status is SubmissionStatus.FAILED and "A name is required." in (failed.error or "")
    assert failed.raw["tool"] == "webflow" and failed.raw["fields"] == body

    fixed_map = {"name": "Nome completo", "phone": "Telefone", "notes": "payload.data.Mensagem"}
    cfg, fixed = app_with(config, fields=fixed_map)
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    replayed = fixed.post("/v1/ops/replay", json={"ids": [submission_id]}, headers=auth)
    assert replayed.status_code == 200 and replayed.json["done"] == 1, replayed.json
    deliver(forms=cfg.forms)
    (lead,) = sandbox.leads()
    assert (lead["name"], lead["phone"]) == ("Ana Souza", "+12015550188")
    assert lead["notes"].startswith("Telhado")
