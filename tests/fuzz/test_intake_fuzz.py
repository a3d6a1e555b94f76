"""Issue 7: bad input never yields a 500. Hypothesis throws arbitrary input at every intake endpoint
(forms, webhooks signed and unsigned, the GET handshakes, submissions and the ops API) through the
Flask test client against the session's real Redis, and checks one property: the status is below
500 and the body carries no traceback.

Webhook bodies are mostly mutations of each platform's valid sample (a subtree replaced by arbitrary
JSON, a key dropped), signed with the test secret so the envelope parsers and lead schemas are
reached, not only the signature check; the rest are arbitrary JSON or bytes, signed or not. Every
submission an endpoint reports as stored is read back through ``GET /v1/submissions/<id>``, which
must not fail either. Two inputs random generation rarely reaches get properties of their own:
hand-written multipart bodies, and JSON nested hundreds of levels deep (with Python's default
recursion limit restored around each request: see ``conftest.production_stack``).

``--hypothesis-show-statistics`` shows the spread of statuses each property reached.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import io
import json
import os
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, quote_from_bytes, urlencode

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.conftest import ADMIN_TOKEN
from tests.fuzz.conftest import VERIFY_TOKEN, ServerErrors, assert_no_server_error, send
from tests.sources import samples
from tests.sources.samples import SECRET

pytestmark = pytest.mark.fuzz

# LEADGATE_FUZZ_SCALE=10 for a deeper local run; the default keeps the module well under a minute.
SCALE = float(os.environ.get("LEADGATE_FUZZ_SCALE", "1"))


def examples(count: int) -> settings:
    return settings(
        max_examples=max(1, round(count * SCALE)),
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )


FUZZ = examples(120)
SMALL = examples(60)
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

# --- strategies -----------------------------------------------------------------------------------

# Text a header can carry through a real server (latin-1, no CR/LF or other control characters).
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=40)
FIELD_NAMES = [
    "name",
    "Full Name",
    "first_name",
    "fname",
    "last_name",
    "surname",
    "email",
    "E-Mail",
    "_replyto",
    "phone",
    "tel",
    "Phone.Number",
    "mobile",
    "address",
    "address2",
    "city",
    "state",
    "zip",
    "country",
    "message",
    "comments",
    "service",
    "service_type",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "gclid",
    "fbclid",
    "page_url",
    "referrer",
    "_gotcha",
    "_next",
    "submit",
    "csrf_token",
    "g-recaptcha-response",
    "priority",
    "stage",
    "source",
    "tags",
    "lead_id",
    "",
    " ",
    "__proto__",
]
field_name = st.sampled_from(FIELD_NAMES) | st.text(max_size=20)
# Values shaped like what the fields expect, so validation gets past the first check sometimes.
plausible_text = st.sampled_from(
    [
        "Ann Lee",
        "ann@example.com",
        "ANN@EXAMPLE.COM",
        "+12015550123",
        "2015550123",
        "(201) 555-0123",
        "+44 20 7946 0958",
        "not-an-email",
        "@",
        "a@b",
        "+1",
        "0",
        "-1",
        "1e309",
        "NaN",
        "null",
        "true",
        "high",
        "ultra",
        "https://x.example/?a=1",
        "\u0000",
        "\ud7ff",
        "\U0001f600" * 50,
        "x" * 3000,
        " \t\n ",
        "<script>alert(1)</script>",
        "Ann\r\nBcc: x@y.z",
    ]
)
scalar = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats()  # NaN and the infinities too: the stdlib encodes and decodes them
    | st.text()
    | plausible_text
)
json_values = st.recursive(
    scalar,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(field_name, children, max_size=6),
    max_leaves=20,
)
form_text = st.text(max_size=50) | plausible_text
# A person who filled the form in properly, so the accepting path (202, 303, the thank-you page) is
# fuzzed as well as the refusals; arbitrary extra fields ride along.
good_lead = st.fixed_dictionaries(
    {"name": st.sampled_from(["Ann Lee", "José Núñez", "李小龍", "  Ann   Lee  "]) | st.text(min_size=1, max_size=30)},
    optional={
        "email": st.sampled_from(["ann@example.com", "Ann.Lee@Example.COM", "bücher@example.de"]),
        "phone": st.sampled_from(["+12015550123", "2015550123", "(201) 555-0123", "+44 20 7946 0958"]),
    },
).filter(lambda lead: "email" in lead or "phone" in lead)
# Form fields: (name, value) pairs; a repeated name is a checkbox group.
form_pairs = st.lists(st.tuples(field_name, form_text), max_size=12) | st.tuples(
    good_lead, st.lists(st.tuples(field_name, form_text), max_size=6)
).map(lambda drawn: [*drawn[0].items(), *drawn[1]])
ACCEPTS = [
    None,
    "application/json",
    "text/html",
    "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "*/*",
    "text/html;q=0.1, application/json;q=0.9",
    "image/png",
    "text/*",
    ";;;",
    "text/html;q=nan",
    "application/json;q=-1",
]
accept = st.sampled_from(ACCEPTS) | header_text
ORIGINS = [None, None, None, "https://roofs.example", "https://roofs.example", "https://evil.example", "null", ""]
origin = st.sampled_from(ORIGINS) | st.sampled_from(ORIGINS) | header_text
CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "application/json; charset=latin-1",
    "application/json; charset=bogus",
    "application/vnd.api+json",
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=utf-16",
    "multipart/form-data",
    "multipart/form-data; boundary=",
    "multipart/form-data; boundary=xyz",
    "text/plain",
    "text/html",
    "application/xml",
    "",
    "*/*",
    ";",
    "application/json;;;",
    'multipart/form-data; boundary="unterminated',
]
content_type = st.sampled_from(CONTENT_TYPES) | header_text


def encode_json(value: Any, ensure_ascii: bool) -> bytes:
    return json.dumps(value, ensure_ascii=ensure_ascii).encode("utf-8", "surrogatepass")


@st.composite
def json_bytes(draw, values: st.SearchStrategy = json_values) -> bytes:
    return encode_json(draw(values), draw(st.booleans()))


@st.composite
def mutated(draw, sample: Any) -> Any:
    """``sample`` with a few random edits: a subtree replaced by arbitrary JSON, a key dropped or added."""
    payload = copy.deepcopy(sample)
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        parent, key = None, None
        node = payload
        # Walk down a random path, then edit where the walk stopped.
        while isinstance(node, dict | list) and node and draw(st.integers(0, 3)) > 0:
            parent = node
            key = draw(st.sampled_from(sorted(node, key=str) if isinstance(node, dict) else range(len(node))))
            node = node[key]
        action = draw(st.sampled_from(["replace", "delete", "add", "duplicate"]))
        if parent is None:
            if action == "replace":
                payload = draw(json_values)
            continue
        if action == "replace":
            parent[key] = draw(json_values | scalar)
        elif action == "delete":
            del parent[key]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(field_name)] = draw(json_values)
        elif action == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))
    return payload


def check(response, errors: ServerErrors, what: str, client=None) -> None:
    """The property; with ``client``, every submission the answer names must also read back without a 5xx."""
    event(f"status {response.status_code}")  # shown by --hypothesis-show-statistics
    assert_no_server_error(response, errors, what)
    if client is None or not 200 <= response.status_code < 300 or not response.is_json:
        return
    body = response.get_json(silent=True)
    ids = body.get("submission_ids") or [body.get("submission_id")] if isinstance(body, dict) else []
    for submission_id in filter(None, ids):
        stored = send(client, "GET", f"/v1/submissions/{submission_id}", headers=ADMIN)
        assert_no_server_error(stored, errors, f"GET /v1/submissions/{submission_id} stored from {what}")


# --- website forms --------------------------------------------------------------------------------


@st.composite
def form_request(draw) -> dict[str, Any]:
    """Keyword arguments for ``client.open``: any encoding, any content type, any headers."""
    headers: dict[str, str] = {}
    for name, value in (("Accept", draw(accept)), ("Origin", draw(origin))):
        if value is not None:
            headers[name] = value
    if draw(st.booleans()):
        headers["Referer"] = draw(st.sampled_from(["https://roofs.example/quote", "javascript:alert(1)"]) | header_text)
    kind = draw(st.sampled_from(["json", "urlencoded", "multipart", "raw-multipart", "raw"]))
    if kind == "json":
        fields = st.dictionaries(field_name, json_values, max_size=10)
        lead = st.tuples(good_lead, fields).map(lambda drawn: {**drawn[1], **drawn[0]})
        value = draw(lead | fields | json_values)
        ctype = draw(st.sampled_from(["application/json", "application/json; charset=utf-8", "application/ld+json"]))
        return {"data": encode_json(value, draw(st.booleans())), "content_type": ctype, "headers": headers}
    if kind == "urlencoded":
        body = urlencode(draw(form_pairs)).encode()
        if draw(st.booleans()):  # broken percent-escapes and raw non-UTF-8 bytes
            body += draw(st.sampled_from([b"&%ZZ=%", b"&name=%FF%FE", b"&=&&=", b"&email=\xff\xfe", b";a=b"]))
        return {"data": body, "content_type": "application/x-www-form-urlencoded", "headers": headers}
    if kind == "multipart":
        data: list[tuple[str, Any]] = list(draw(form_pairs))
        for _ in range(draw(st.integers(0, 2))):  # a file input, as a browser sends one
            filename = draw(st.sampled_from(["cv.pdf", "", "../../etc/passwd", "é.txt"]))
            data.append((draw(field_name), (io.BytesIO(draw(st.binary(max_size=200))), filename)))
        from werkzeug.datastructures import MultiDict

        return {"data": MultiDict(data), "content_type": "multipart/form-data", "headers": headers}
    if kind == "raw-multipart":
        body, ctype = draw(raw_multipart())
        return {"data": body, "content_type": ctype, "headers": headers}
    return {
        "data": draw(st.binary(max_size=300) | json_bytes()),
        "content_type": draw(content_type),
        "headers": headers,
    }


DISPOSITIONS = [
    'form-data; name="name"',
    'form-data; name="email"',
    'form-data; name="_gotcha"',
    'form-data; name="phone"',
    "form-data",
    "form-data",
    'form-data; filename="a.txt"',
    'form-data; name=""',
    'form-data; name="cv"; filename="cv.pdf"',
    'attachment; name="message"',
    "form-data; name*=UTF-8''%C3%A9",
    'form-data; name="a"; name="b"',
    ";;",
]


@st.composite
def raw_multipart(draw) -> tuple[bytes, str]:
    """A multipart body written by hand, as a client that is not a browser may send it: parts without a
    name, odd dispositions, missing or wrong boundaries, no closing delimiter."""
    boundary = draw(st.sampled_from(["b", "----WebKitFormBoundary7MA4YWxkTrZu0gW", "x" * 70, "a b"]))
    parts = []
    for _ in range(draw(st.integers(0, 4))):
        disposition = draw(st.sampled_from(DISPOSITIONS) | header_text.map(lambda text: f"form-data; {text}"))
        head = f"Content-Disposition: {disposition}\r\n"
        if draw(st.booleans()):
            head += f"Content-Type: {draw(content_type)}\r\n"
        value = draw(st.binary(max_size=60) | plausible_text.map(lambda text: text.encode("utf-8", "surrogatepass")))
        parts.append(f"--{boundary}\r\n{head}\r\n".encode("latin-1") + value + b"\r\n")
    body = b"".join(parts) + (f"--{boundary}--\r\n".encode() if draw(st.integers(0, 3)) > 0 else b"")
    declared = draw(st.sampled_from([boundary] * 4 + [f'"{boundary}"', "other", ""]))
    return body, f"multipart/form-data; boundary={declared}"


@SMALL
@given(form_key=st.sampled_from(["contact", "quote"]), multipart=raw_multipart(), accept_html=st.booleans())
def test_handwritten_multipart_never_answers_5xx(fuzz_app, server_errors, form_key, multipart, accept_html) -> None:
    body, ctype = multipart
    headers = {"Accept": "text/html"} if accept_html else {}
    client = fuzz_app.test_client()
    response = send(client, "POST", f"/v1/forms/{form_key}", data=body, content_type=ctype, headers=headers)
    check(response, server_errors, f"POST /v1/forms/{form_key} Content-Type: {ctype} body {body!r}", client)


FORM_KEYS = (
    st.sampled_from(["contact", "contact", "quote", "quote"])
    | st.sampled_from(["contact", "quote"])
    | st.text(min_size=1, max_size=30)
)


@FUZZ
@given(form_key=FORM_KEYS, request=form_request(), method=st.sampled_from(["POST", "POST", "POST", "OPTIONS"]))
def test_form_intake_never_answers_5xx(fuzz_app, server_errors, form_key, request, method) -> None:
    client = fuzz_app.test_client()
    path = f"/v1/forms/{quote(form_key, safe='')}"
    response = send(client, method, path, **request)
    check(response, server_errors, f"{method} {path} {request!r}", client)


@SMALL
@given(size=st.integers(min_value=4000, max_value=20_000), kind=st.sampled_from(["json", "urlencoded", "multipart"]))
def test_form_body_near_or_over_the_limit_never_answers_5xx(fuzz_app, server_errors, size, kind) -> None:
    client = fuzz_app.test_client()
    if kind == "json":
        kwargs: dict[str, Any] = {"json": {"name": "Ann Lee", "message": "x" * size}}
    elif kind == "urlencoded":
        kwargs = {"data": {"name": "Ann Lee", "message": "x" * size}}
    else:
        kwargs = {
            "data": {"name": "Ann Lee", "cv": (io.BytesIO(b"x" * size), "cv.pdf")},
            "content_type": "multipart/form-data",
        }
    response = send(client, "POST", "/v1/forms/contact", **kwargs)
    check(response, server_errors, f"{kind} body of ~{size} bytes")


# --- webhooks -------------------------------------------------------------------------------------


def _hex(body: bytes) -> str:
    return hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


def _b64(body: bytes) -> str:
    return base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()


# name -> (its valid sample, how to sign a body correctly with the test secret)
SIGNERS: dict[str, tuple[Callable[[], Any], Callable[[bytes], dict[str, str]]]] = {
    "meta": (samples.meta_notification, lambda b: {"X-Hub-Signature-256": "sha256=" + _hex(b)}),
    "google": (samples.google_lead, lambda b: {}),  # its key is in the body
    "tiktok": (samples.tiktok_callback, lambda b: {"X-Open-Signature": _hex(b)}),  # the raw body is accepted too
    "linkedin": (samples.linkedin_notification, lambda b: {"X-LI-Signature": _hex(b"hmacsha256=" + b)}),
    "typeform": (samples.typeform_event, lambda b: {"Typeform-Signature": "sha256=" + _b64(b)}),
    "crm": (
        lambda: {"data": {"id": 42, "customer": {"name": "Ann Lee", "phone": "2015550123"}}},
        lambda b: {"X-Signature": "sha256=" + _hex(b)},
    ),
    "crm64": (
        lambda: {"items": [{"id": "x-1", "first": "Ann", "last": "Lee", "email": "ann@example.com"}]},
        lambda b: {"X-Sig-B64": _b64(b)},
    ),
}
SIGNATURE_HEADERS = [
    "X-Hub-Signature-256",
    "X-Open-Signature",
    "X-Tt-Signature",
    "X-LI-Signature",
    "Typeform-Signature",
    "X-Signature",
    "X-Sig-B64",
]
forged_signature = (
    st.sampled_from(
        ["", "sha256=", "sha256=zz", "sha256=" + "0" * 64, "0" * 64, "hmacsha256=00", "sha256=====", "sha256=é"]
    )
    | header_text
)


def _google_keyed(payload: Any, draw) -> Any:
    """Google authenticates by ``google_key`` in the body: put the right one in, mostly."""
    if isinstance(payload, dict) and draw(st.integers(0, 4)) > 0:
        payload["google_key"] = SECRET
    return payload


@st.composite
def webhook_post(draw, name: str) -> dict[str, Any]:
    sample, sign = SIGNERS[name]
    kind = draw(st.sampled_from(["mutated", "mutated", "mutated", "json", "bytes"]))
    if kind == "mutated":
        payload = mutated(sample())
        body = encode_json(
            _google_keyed(draw(payload), draw) if name == "google" else draw(payload), draw(st.booleans())
        )
    elif kind == "json":
        value = draw(json_values | st.dictionaries(field_name, json_values))
        body = encode_json(_google_keyed(value, draw) if name == "google" else value, draw(st.booleans()))
    else:
        body = draw(st.binary(max_size=300))
    signed = draw(st.integers(0, 4)) > 0
    headers = sign(body) if signed else {draw(st.sampled_from(SIGNATURE_HEADERS)): draw(forged_signature)}
    if draw(st.booleans()):
        headers["User-Agent"] = draw(header_text)
    return {
        "data": body,
        "headers": headers,
        "content_type": draw(st.sampled_from(["application/json"]) | content_type),
    }


@pytest.mark.parametrize("name", list(SIGNERS))
@examples(70)
@given(data=st.data())
def test_webhook_post_never_answers_5xx(fuzz_app, server_errors, name, data) -> None:
    request = data.draw(webhook_post(name), label="request")
    client = fuzz_app.test_client()
    response = send(client, "POST", f"/v1/webhooks/{name}", **request)
    check(response, server_errors, f"POST /v1/webhooks/{name} {request!r}", client)


@SMALL
@given(
    name=st.text(min_size=1, max_size=20), body=st.binary(max_size=100), method=st.sampled_from(["GET", "POST", "PUT"])
)
def test_unknown_webhook_source_never_answers_5xx(fuzz_app, server_errors, name, body, method) -> None:
    path = f"/v1/webhooks/{quote(name, safe='')}"
    response = send(fuzz_app.test_client(), method, path, data=body)
    check(response, server_errors, f"{method} {path} {body!r}")


HANDSHAKE_KEYS = ["hub.mode", "hub.verify_token", "hub.challenge", "challengeCode", "hub_mode", "", "a"]
query_values = st.sampled_from(["subscribe", VERIFY_TOKEN, "1158201444", "", "unsubscribe"]) | st.text(max_size=40)


@st.composite
def query_string(draw, keys: list[str]) -> bytes | str:
    if draw(st.integers(0, 5)) == 0:  # raw bytes, percent-encoded: broken UTF-8, stray separators
        return quote_from_bytes(draw(st.binary(max_size=60)), safe="=&;%+")
    pairs = draw(st.lists(st.tuples(st.sampled_from(keys) | st.text(max_size=10), query_values), max_size=6))
    return urlencode(pairs)


@SMALL
@given(name=st.sampled_from(list(SIGNERS)), query=query_string(HANDSHAKE_KEYS))
def test_webhook_handshake_never_answers_5xx(fuzz_app, server_errors, name, query) -> None:
    response = send(fuzz_app.test_client(), "GET", f"/v1/webhooks/{name}", query_string=query)
    check(response, server_errors, f"GET /v1/webhooks/{name}?{query}")


# --- deeply nested JSON ---------------------------------------------------------------------------

NESTED = "__nested__"


def _at(path: list[Any]) -> Callable[[Any], Any]:
    """Put the NESTED marker at ``path`` inside a payload (a place its parser reads and flattens)."""

    def place(payload: Any) -> Any:
        node = payload
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = NESTED
        return payload

    return place


# Where each endpoint reads a value it turns into text: a form field, a Google answer, a TikTok
# change, Typeform's hidden fields, a generic source's mapped path. Meta and LinkedIn only read ids.
DEEP_TARGETS: dict[str, tuple[str, Callable[[], Any], Callable[[Any], Any], Callable[[bytes], dict[str, str]]]] = {
    "form": (
        "/v1/forms/contact",
        lambda: {"name": "Ann Lee", "email": "ann@example.com"},
        _at(["message"]),
        lambda b: {},
    ),
    "form-object": (
        "/v1/forms/contact",
        lambda: {"name": "Ann Lee", "email": "ann@example.com", "extra": {}},
        _at(["extra", "x"]),
        lambda b: {},
    ),
    "meta": (
        "/v1/webhooks/meta",
        SIGNERS["meta"][0],
        _at(["entry", 0, "changes", 0, "value", "extra"]),
        SIGNERS["meta"][1],
    ),
    "google": (
        "/v1/webhooks/google",
        SIGNERS["google"][0],
        _at(["user_column_data", 1, "string_value"]),
        SIGNERS["google"][1],
    ),
    "tiktok": (
        "/v1/webhooks/tiktok",
        SIGNERS["tiktok"][0],
        _at(["entry", 0, "changes", 0, "value"]),
        SIGNERS["tiktok"][1],
    ),
    "linkedin": ("/v1/webhooks/linkedin", SIGNERS["linkedin"][0], _at(["owner", "x"]), SIGNERS["linkedin"][1]),
    "typeform": (
        "/v1/webhooks/typeform",
        SIGNERS["typeform"][0],
        _at(["form_response", "hidden", "partner"]),
        SIGNERS["typeform"][1],
    ),
    "crm": ("/v1/webhooks/crm", SIGNERS["crm"][0], _at(["data", "customer", "name"]), SIGNERS["crm"][1]),
    "ops-retry": ("/v1/ops/failed/retry", lambda: {"ids": ["x"]}, _at(["ids", 0]), lambda b: ADMIN),
    "ops-discard": ("/v1/ops/submissions/x/discard", lambda: {"reason": "r"}, _at(["reason"]), lambda b: ADMIN),
}


def nested_json(depth: int, shape: str) -> bytes:
    if shape == "array":
        return b"[" * depth + b"1" + b"]" * depth
    if shape == "object":
        return b'{"a":' * depth + b"1" + b"}" * depth
    return b'[{"a":' * (depth // 2) + b"1" + b"}]" * (depth // 2)


@pytest.mark.parametrize("target", list(DEEP_TARGETS))
@examples(25)
@given(
    depth=st.integers(min_value=1, max_value=1900),
    shape=st.sampled_from(["array", "object", "mixed"]),
    whole_body=st.booleans(),
)
def test_deeply_nested_json_never_answers_5xx(fuzz_app, server_errors, target, depth, shape, whole_body) -> None:
    """A JSON body nested a thousand levels deep is a few KB: it must be refused (or stored) with a 4xx
    or 2xx, not crash the parser or whatever walks the value later (RecursionError)."""
    path, sample, place, sign = DEEP_TARGETS[target]
    nested = nested_json(depth, shape)
    body = nested if whole_body else encode_json(place(sample()), True).replace(json.dumps(NESTED).encode(), nested)
    client = fuzz_app.test_client()
    response = send(client, "POST", path, data=body, headers=sign(body), content_type="application/json")
    check(response, server_errors, f"POST {path} with {shape} nesting {depth} deep ({len(body)} bytes)", client)


# --- submissions and the ops API ------------------------------------------------------------------


def seed_submissions(client) -> list[str]:
    """A few real submissions in every state the intake makes: queued, received, failed, discarded."""
    ids = []
    posts = [
        ("/v1/forms/contact", {"json": {"name": "Ann Lee", "email": "ann@example.com"}}),
        ("/v1/forms/contact", {"json": {"name": "Bot", "_gotcha": "spam"}}),
    ]
    for name in ("meta", "google", "crm"):
        payload = SIGNERS[name][0]()
        if name == "google":
            payload["user_column_data"] = payload["user_column_data"][1:2]  # no name: stored failed
        body = encode_json(payload, True)
        posts.append(
            (
                f"/v1/webhooks/{name}",
                {"data": body, "headers": SIGNERS[name][1](body), "content_type": "application/json"},
            )
        )
    for path, kwargs in posts:
        response = client.post(path, **kwargs)
        assert response.status_code < 300, response.get_data()
        ids.extend(response.json.get("submission_ids") or [response.json["submission_id"]])
    return ids


OPS_QUERY_KEYS = ["source", "account", "error_class", "older_than", "newer_than", "limit"]
ops_query_values = st.sampled_from(
    [
        "form",
        "webhook",
        "form:contact",
        "webhook:google",
        "default",
        "rejected",
        "invalid_lead",
        "0",
        "-1",
        "10001",
        "1e3",
        "99999999999999999999999",
        "",
        "nan",
    ]
) | st.text(max_size=20)
filters = st.dictionaries(st.sampled_from(OPS_QUERY_KEYS) | field_name, json_values | ops_query_values, max_size=4)
bulk_body = st.fixed_dictionaries(
    {},
    optional={
        "ids": st.lists(st.text(max_size=70), max_size=5) | json_values,
        "all": json_values | st.booleans(),
        "filters": filters | json_values,
        "extra": json_values,
    },
)
discard_body = st.fixed_dictionaries({}, optional={"reason": st.text(max_size=600) | json_values, "x": json_values})
auth_header = st.sampled_from([f"Bearer {ADMIN_TOKEN}"] * 12 + [f"bearer   {ADMIN_TOKEN} ", "Bearer", "Basic x", ""])


@st.composite
def ops_request(draw, ids: list[str]) -> tuple[str, str, dict[str, Any]]:
    submission_id = draw(st.sampled_from(ids) | st.text(min_size=1, max_size=40))
    quoted = quote(submission_id, safe="")
    operation = draw(
        st.sampled_from(["submission", "failed", "retry", "replay", "discard", "run-now", "quota", "lookup"])
    )
    authorization = draw(auth_header) if draw(st.integers(0, 7)) > 0 else draw(header_text)
    kwargs: dict[str, Any] = {"headers": {"Authorization": authorization}}
    if operation == "submission":
        return "GET", f"/v1/submissions/{quoted}", kwargs
    if operation == "failed":
        return "GET", "/v1/ops/failed", {**kwargs, "query_string": draw(query_string(OPS_QUERY_KEYS))}
    if operation == "quota":
        return "GET", "/v1/ops/quota", kwargs
    if operation == "lookup":
        return "GET", f"/v1/ops/leads/{quoted}", {**kwargs, "query_string": draw(query_string(["account"]))}
    body_strategy = {"retry": bulk_body, "replay": bulk_body, "discard": discard_body, "run-now": json_values}[
        operation
    ]
    if draw(st.integers(0, 4)) > 0:
        body = encode_json(draw(body_strategy | json_values), draw(st.booleans()))
    else:
        body = draw(st.binary(max_size=100))
    kwargs.update(data=body, content_type=draw(st.sampled_from(["application/json"]) | content_type))
    path = {
        "retry": "/v1/ops/failed/retry",
        "replay": "/v1/ops/replay",
        "run-now": "/v1/ops/deferred/run-now",
        "discard": f"/v1/ops/submissions/{quoted}/discard",
    }[operation]
    return "POST", path, kwargs


@examples(150)
@given(data=st.data())
def test_ops_api_never_answers_5xx(fuzz_app, server_errors, data) -> None:
    client = fuzz_app.test_client()
    if "fuzz_seeded_ids" not in fuzz_app.extensions:  # once per test: hypothesis reuses the fixture's app
        fuzz_app.extensions["fuzz_seeded_ids"] = seed_submissions(client)
    ids = fuzz_app.extensions["fuzz_seeded_ids"]
    method, path, kwargs = data.draw(ops_request(ids), label="request")
    response = send(client, method, path, **kwargs)
    check(response, server_errors, f"{method} {path} {kwargs!r}")


def test_strategies_reach_the_parsers(fuzz_app) -> None:
    """Guard against a fuzz that only ever hits the signature check: a signed sample is accepted."""
    client = fuzz_app.test_client()
    for name, (sample, sign) in SIGNERS.items():
        body = encode_json(sample(), True)
        response = client.post(f"/v1/webhooks/{name}", data=body, headers=sign(body), content_type="application/json")
        assert response.status_code == 200, (name, response.get_data())
