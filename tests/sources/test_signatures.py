"""Signature and shared-secret checks: good, bad, tampered, missing and malformed. Pure, no servers."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from core.sources.signatures import (
    ascii_escaped,
    hmac_sha256,
    linkedin_challenge_response,
    secrets_equal,
    verify_base64_signature,
    verify_hex_signature,
    verify_linkedin_signature,
    verify_tiktok_signature,
)
from tests.sources.samples import (
    SECRET,
    json_body,
    linkedin_notification,
    linkedin_signature,
    meta_notification,
    meta_signature,
    tiktok_callback,
    tiktok_entry,
    tiktok_signature,
    typeform_event,
    typeform_signature,
)

META_BODY = json_body(meta_notification())
TYPEFORM_BODY = json_body(typeform_event())
LINKEDIN_BODY = json_body(linkedin_notification())


def test_hmac_sha256_known_vector() -> None:
    digest = hmac_sha256("key", b"The quick brown fox jumps over the lazy dog")
    assert digest.hex() == "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"


# --- Meta: X-Hub-Signature-256: sha256=<hex> -------------------------------------------------------


def test_meta_signature_verifies() -> None:
    assert verify_hex_signature(meta_signature(META_BODY), secret=SECRET, body=META_BODY)


def test_meta_signature_upper_case_hex_and_label_verify() -> None:
    header = meta_signature(META_BODY).upper()
    assert verify_hex_signature(header, secret=SECRET, body=META_BODY)


def test_meta_signature_with_another_secret_fails() -> None:
    assert not verify_hex_signature(meta_signature(META_BODY, "other-secret"), secret=SECRET, body=META_BODY)


def test_meta_signature_of_a_tampered_body_fails() -> None:
    tampered = META_BODY.replace(b"444444444444", b"444444444445")
    assert not verify_hex_signature(meta_signature(META_BODY), secret=SECRET, body=tampered)


def test_meta_signature_of_re_serialised_json_fails() -> None:
    # The reason the wiring must keep the raw bytes: same JSON, other spacing, other signature.
    reformatted = json.dumps(json.loads(META_BODY), indent=2).encode()
    assert not verify_hex_signature(meta_signature(META_BODY), secret=SECRET, body=reformatted)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha256=",
        "   ",
        "sha1=" + hmac.new(SECRET.encode(), META_BODY, hashlib.sha1).hexdigest(),
        hmac.new(SECRET.encode(), META_BODY, hashlib.sha256).hexdigest(),  # digest without its label
        "sha256=not-hex-at-all",
        "sha256=abc",  # odd length
        "sha256=" + "ab" * 31,  # one byte short
        "sha256=é" + "ab" * 31,
        12345,
    ],
)
def test_malformed_or_missing_meta_header_fails_without_raising(header: object) -> None:
    assert verify_hex_signature(header, secret=SECRET, body=META_BODY) is False  # type: ignore[arg-type]


def test_an_empty_secret_never_verifies() -> None:
    assert not verify_hex_signature(meta_signature(META_BODY, ""), secret="", body=META_BODY)


# --- Typeform: Typeform-Signature: sha256=<base64> -------------------------------------------------


def test_typeform_signature_verifies() -> None:
    assert verify_base64_signature(typeform_signature(TYPEFORM_BODY), secret=SECRET, body=TYPEFORM_BODY)


def test_typeform_signature_of_a_tampered_body_fails() -> None:
    tampered = TYPEFORM_BODY.replace(b"Ann", b"Bob")
    assert not verify_base64_signature(typeform_signature(TYPEFORM_BODY), secret=SECRET, body=tampered)


def test_typeform_signature_with_another_secret_fails() -> None:
    header = typeform_signature(TYPEFORM_BODY, "other-secret")
    assert not verify_base64_signature(header, secret=SECRET, body=TYPEFORM_BODY)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha256=",
        "sha256=%%%not base64%%%",
        "sha256=ÿÿÿÿ",
        "sha256=YWJj",
        meta_signature(TYPEFORM_BODY),
    ],
)
def test_malformed_or_missing_typeform_header_fails_without_raising(header: str | None) -> None:
    # The last case is the hex (Meta-style) encoding of the right digest: Typeform's is base64.
    assert verify_base64_signature(header, secret=SECRET, body=TYPEFORM_BODY) is False


# --- LinkedIn: X-LI-Signature = hex HMAC(clientSecret, "hmacsha256=" + body) -----------------------


def test_linkedin_signature_verifies() -> None:
    assert verify_linkedin_signature(linkedin_signature(LINKEDIN_BODY), secret=SECRET, body=LINKEDIN_BODY)


def test_linkedin_header_repeating_the_literal_also_verifies() -> None:
    header = "hmacsha256=" + linkedin_signature(LINKEDIN_BODY)
    assert verify_linkedin_signature(header, secret=SECRET, body=LINKEDIN_BODY)


def test_linkedin_signature_over_the_bare_body_fails() -> None:
    # The literal is part of what LinkedIn signs; an HMAC of the body alone is not its signature.
    bare = hmac.new(SECRET.encode(), LINKEDIN_BODY, hashlib.sha256).hexdigest()
    assert not verify_linkedin_signature(bare, secret=SECRET, body=LINKEDIN_BODY)


def test_linkedin_signature_of_a_tampered_body_fails() -> None:
    tampered = LINKEDIN_BODY.replace(b"CREATED", b"DELETED")
    assert not verify_linkedin_signature(linkedin_signature(LINKEDIN_BODY), secret=SECRET, body=tampered)


@pytest.mark.parametrize("header", [None, "", "hmacsha256=", "zz" * 32, "sha256=" + "ab" * 32])
def test_malformed_or_missing_linkedin_header_fails_without_raising(header: str | None) -> None:
    assert verify_linkedin_signature(header, secret=SECRET, body=LINKEDIN_BODY) is False


def test_linkedin_challenge_response_is_hex_hmac_of_the_code() -> None:
    code = "890e4665-4dfe-4ab1-b689-ed553bceeed0"
    expected = hmac.new(SECRET.encode(), code.encode(), hashlib.sha256).hexdigest()
    assert linkedin_challenge_response(code, secret=SECRET) == expected


# --- TikTok: X-Open-Signature over the ASCII-escaped body ------------------------------------------

TIKTOK_PAYLOAD = tiktok_callback(tiktok_entry({"name": "Zoë Ørsted 👷", "email": "zoe@example.com"}))
TIKTOK_BODY = json_body(TIKTOK_PAYLOAD)


def test_tiktok_signature_over_the_escaped_body_verifies_a_non_ascii_lead() -> None:
    assert b"\xc3\xab" in TIKTOK_BODY  # the raw body really is UTF-8, not already escaped
    assert verify_tiktok_signature(tiktok_signature(TIKTOK_PAYLOAD), secret=SECRET, body=TIKTOK_BODY)


def test_tiktok_signature_over_the_raw_body_is_accepted_too() -> None:
    raw_signature = hmac.new(SECRET.encode(), TIKTOK_BODY, hashlib.sha256).hexdigest()
    assert verify_tiktok_signature(raw_signature, secret=SECRET, body=TIKTOK_BODY)


def test_tiktok_signature_of_a_tampered_body_fails() -> None:
    tampered = TIKTOK_BODY.replace(b"zoe@", b"eve@")
    assert not verify_tiktok_signature(tiktok_signature(TIKTOK_PAYLOAD), secret=SECRET, body=tampered)


@pytest.mark.parametrize("header", [None, "", "sha256=" + "ab" * 32, "not hex"])
def test_malformed_or_missing_tiktok_header_fails_without_raising(header: str | None) -> None:
    assert verify_tiktok_signature(header, secret=SECRET, body=TIKTOK_BODY) is False


def test_ascii_escaped_matches_json_escaping() -> None:
    payload = {"name": "Zoë 👷", "city": "Zürich"}
    assert ascii_escaped(json_body(payload)) == json.dumps(payload).encode()


def test_ascii_escaped_leaves_undecodable_bytes_alone() -> None:
    assert ascii_escaped(b"\xff\xfe") == b"\xff\xfe"


# --- Plain shared secrets (Google's google_key) ----------------------------------------------------


@pytest.mark.parametrize(
    ("received", "expected", "equal"),
    [
        (SECRET, SECRET, True),
        ("clé-secrète", "clé-secrète", True),
        (SECRET + "x", SECRET, False),
        ("", SECRET, False),
        (None, SECRET, False),
        (SECRET, "", False),
        ("", "", False),
        (123, "123", False),
    ],
)
def test_secrets_equal(received: object, expected: str, equal: bool) -> None:
    assert secrets_equal(received, expected) is equal  # type: ignore[arg-type]
