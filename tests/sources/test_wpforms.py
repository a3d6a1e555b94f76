"""WPForms' Webhooks addon at a form URL (intake-formats.md §7.5, the addon's ``Process`` class): the
owner's keys, ``||``-joined lines, date objects, the webhook and entry ids, and the ``t=,v=`` signature,
which in urlencoded mode covers PHP's JSON encoding of the body rather than the bytes sent."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl

import pytest
from marshmallow import ValidationError

from core.config import Config, FormConfig
from core.sources.form_tool import ToolPost
from core.sources.form_tools import detect
from core.sources.wpforms import TOOL
from core.store.submissions import SubmissionStore
from core.vocabulary import SubmissionStatus
from service.app import create_app

SECRET = "wpforms-webhook-secret"
NOW = 1_796_000_000
# The default (urlencoded) body, as WordPress's http_build_query writes the owner's pairs: an address
# and a checkbox with their lines joined by ||, a date as key[value]/key[unix], the {entry_id} smart tag.
FORM_BYTES = (
    b"Your+Name=Ann+Lee&E-mail=Ann.Lee%40Example.com&Phone=%28201%29+555-0123"
    b"&Address=12+Oak+St%7C%7CApt+3%7C%7CSpringfield%2C+IL+62704&Services=Roof+repair%7C%7CGutters"
    b"&Preferred+date%5Bvalue%5D=01%2F15%2F2027&Preferred+date%5Bunix%5D=1799971200"
    b"&Notes=Caf%C3%A9+roof%2C+leaks&utm_source=google&entry_id=57"
)
# What the addon signs for that body: wp_json_encode of the same array (PHP escapes "/" and non-ASCII).
FORM_SIGNED = (
    b'{"Your Name":"Ann Lee","E-mail":"Ann.Lee@Example.com","Phone":"(201) 555-0123",'
    b'"Address":"12 Oak St||Apt 3||Springfield, IL 62704","Services":"Roof repair||Gutters",'
    b'"Preferred date":{"value":"01\\/15\\/2027","unix":1799971200},'
    b'"Notes":"Caf\\u00e9 roof, leaks","utm_source":"google","entry_id":"57"}'
)
# The fields as service.forms.read_fields reads the urlencoded body.
FORM_BODY = dict(parse_qsl(FORM_BYTES.decode()))
# JSON mode: the same pairs, the date an object, sent and signed as these bytes.
JSON_BODY = {
    "name": "Bo Diaz",
    "email": "bo@example.com",
    "phone": "2015550188",
    "checkboxes": "Skylight||Solar panels",
    "callback": {"value": "2027-01-16", "unix": 1800057600},
    "files": ["https://roofs.example/wp-content/uploads/wpforms/roof.jpg"],
}


def wpforms_headers(*, webhook_id: str = "3", signature: str | None = None) -> dict[str, str]:
    """The addon's own headers (``User-Agent`` and ``X-WPForms-Webhook-Id``), signed if given one."""
    headers = {"User-Agent": "wpforms-webhooks/1.4.0", "X-WPForms-Webhook-Id": webhook_id}
    return {**headers, "X-WPForms-Webhook-Signature": signature} if signature else headers


def wpforms_signature(signed: bytes, *, at: int = NOW, secret: str = SECRET) -> str:
    """``t=<unix>,v=<hex HMAC-SHA256(secret, "<t>.<signed>")>``, computed here with hashlib alone."""
    return f"t={at},v={hmac.new(secret.encode(), f'{at}.'.encode() + signed, hashlib.sha256).hexdigest()}"


def app_with(config: Config, **form: Any) -> tuple[Config, Any]:
    cfg = replace(config, forms={**config.forms, "wp": FormConfig(key="wp", tags=("website",), **form)})
    return cfg, create_app(cfg).test_client()


def post_form(client: Any, headers: dict[str, str], body: bytes = FORM_BYTES) -> Any:
    content_type = "application/x-www-form-urlencoded; charset=utf-8"
    return client.post("/v1/forms/wp", data=body, content_type=content_type, headers=headers)


@pytest.mark.parametrize(
    "headers",
    [wpforms_headers(), {"X-WPForms-Webhook-Id": "3"}, {"User-Agent": "wpforms-webhooks/1.4.0"}],
    ids=["both", "webhook id", "user agent"],
)
def test_recognised_by_its_headers(headers: dict[str, str]) -> None:
    assert TOOL.recognises(ToolPost(FORM_BODY, headers))
    assert detect(ToolPost(FORM_BODY, headers)) is TOOL


def test_without_its_headers_the_same_pairs_are_a_plain_form() -> None:
    assert not TOOL.recognises(ToolPost(FORM_BODY, {"User-Agent": "Mozilla/5.0"}))


def test_unwraps_the_owners_keys_with_lines_split_and_dates_as_text() -> None:
    submission = TOOL.unwrap(ToolPost(FORM_BODY, wpforms_headers()))
    assert submission.fields == {
        "Your Name": "Ann Lee",
        "E-mail": "Ann.Lee@Example.com",
        "Phone": "(201) 555-0123",
        "Address": ["12 Oak St", "Apt 3", "Springfield, IL 62704"],
        "Services": ["Roof repair", "Gutters"],
        "Preferred date": "01/15/2027",
        "Notes": "Café roof, leaks",
        "utm_source": "google",
        "entry_id": "57",
    }
    assert (submission.platform_id, submission.test, submission.ignored) == ("3:57", None, None)


def test_json_mode_reads_the_same_way() -> None:
    submission = TOOL.unwrap(ToolPost(JSON_BODY, wpforms_headers()))
    assert submission.fields == {
        "name": "Bo Diaz",
        "email": "bo@example.com",
        "phone": "2015550188",
        "checkboxes": ["Skylight", "Solar panels"],
        "callback": "2027-01-16",
        "files": ["https://roofs.example/wp-content/uploads/wpforms/roof.jpg"],
    }
    # No {entry_id} mapped: the webhook id alone is every entry's, so there is no id to dedupe on.
    assert submission.platform_id is None


def test_an_entry_id_without_the_webhook_header_still_names_the_entry() -> None:
    assert TOOL.unwrap(ToolPost({"Entry ID": 58, "name": "Ann"})).platform_id == "58"


def test_an_unreadable_entry_id_names_the_field() -> None:
    with pytest.raises(ValidationError) as error:
        TOOL.unwrap(ToolPost({**JSON_BODY, "entry_id": {"id": 57}}, wpforms_headers()))
    assert "entry_id" in error.value.normalized_messages()


def test_the_urlencoded_signature_covers_phps_json_of_the_body() -> None:
    post = ToolPost(FORM_BODY, wpforms_headers(signature=wpforms_signature(FORM_SIGNED)), FORM_BYTES)
    assert TOOL.verify(post, secret=SECRET, now=NOW + 60)
    assert not TOOL.verify(post, secret="another", now=NOW + 60)
    tampered = FORM_BYTES.replace(b"Ann+Lee", b"Eve+Lee")
    assert not TOOL.verify(replace(post, body=tampered), secret=SECRET, now=NOW + 60)


def test_an_empty_date_was_signed_with_unix_false() -> None:
    body = b"name=Ann&email=ann%40example.com&date%5Bvalue%5D=&date%5Bunix%5D=0"
    signed = b'{"name":"Ann","email":"ann@example.com","date":{"value":"","unix":false}}'
    post = ToolPost(dict(parse_qsl(body.decode(), keep_blank_values=True)), {}, body)
    post = replace(post, headers=wpforms_headers(signature=wpforms_signature(signed)))
    assert TOOL.verify(post, secret=SECRET, now=NOW)


def test_the_json_signature_covers_the_bytes_sent() -> None:
    body = json.dumps(JSON_BODY).encode()
    post = ToolPost(JSON_BODY, wpforms_headers(signature=wpforms_signature(body)), body)
    assert TOOL.verify(post, secret=SECRET, now=NOW)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "v=abc",  # no timestamp
        f"t={NOW}",  # no digest
        f"t=soon,v={'0' * 64}",
        f"t=\u00b2,v={'0' * 64}",  # a digit to str.isdigit, not to int()
        f"t={NOW},v=not-hex",
        wpforms_signature(FORM_SIGNED, at=NOW - 301),  # replayed after five minutes
        wpforms_signature(FORM_SIGNED, at=NOW + 301),  # from a clock far ahead
        "t=1,t=2,v=00",
    ],
)
def test_a_missing_stale_or_garbled_signature_does_not_verify(header: str | None) -> None:
    headers = wpforms_headers(signature=header) if header is not None else wpforms_headers()
    if header == "":
        headers["X-WPForms-Webhook-Signature"] = ""
    assert not TOOL.verify(ToolPost(FORM_BODY, headers, FORM_BYTES), secret=SECRET, now=NOW)


def test_a_wpforms_post_reaches_rotor_once(config, deliver, sandbox, redis_conn) -> None:
    cfg, client = app_with(config)
    answer = post_form(client, wpforms_headers())
    assert answer.status_code == 200 and answer.json["status"] == "success"
    again = post_form(client, wpforms_headers())
    assert SubmissionStore(redis_conn).get(again.json["submission_id"]).status is SubmissionStatus.DUPLICATE
    deliver(forms=cfg.forms)
    (lead,) = sandbox.leads()
    assert (lead["name"], lead["email"], lead["phone"]) == ("Ann Lee", "ann.lee@example.com", "+12015550123")
    assert lead["property_street1"] == "12 Oak St, Apt 3, Springfield, IL 62704"
    assert lead["notes"].startswith("Café roof, leaks")
    assert {"website", "utm_source:google"} <= set(lead["tags"])
    assert lead["service_type"] == "Roof repair, Gutters"  # the checkbox's || lines, keyed "Services"
    for line in ("Preferred date: 01/15/2027", "entry_id: 57"):
        assert line in lead["notes"]


def test_an_unreadable_post_is_kept_failed_and_answered_200(config, redis_conn) -> None:
    _, client = app_with(config)
    body = {**JSON_BODY, "entry_id": {"id": 57}}
    answer = client.post("/v1/forms/wp", json=body, headers=wpforms_headers())
    assert answer.status_code == 200  # the addon makes one attempt: a 4xx would lose the lead
    failed = SubmissionStore(redis_conn).get(answer.json["submission_id"])
    assert failed.status is SubmissionStatus.FAILED and "entry_id" in (failed.error or "")


@pytest.mark.parametrize(
    ("signature", "status"),
    [
        (lambda: wpforms_signature(FORM_SIGNED, at=int(time.time())), 200),
        (lambda: wpforms_signature(FORM_SIGNED, at=int(time.time()), secret="wrong"), 401),
        (lambda: None, 401),
    ],
    ids=["right", "wrong", "missing"],
)
def test_a_form_with_a_secret_takes_only_signed_posts(config, signature, status) -> None:
    _, client = app_with(config, secret=SECRET)
    answer = post_form(client, wpforms_headers(signature=signature()))
    assert answer.status_code == status
    if status == 401:
        assert "X-WPForms-Webhook-Signature" in answer.json["message"]
