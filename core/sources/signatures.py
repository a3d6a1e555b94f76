"""Request authentication for the platforms that push leads: HMAC signatures and shared secrets.

Every check compares in constant time (``hmac.compare_digest``) so response timing says nothing about
how much of a forged signature was right, and every check answers False rather than raising on a
missing, mangled or oddly encoded header: the caller has exactly one outcome to handle (401). All of
them need the raw body bytes as received; re-serialised JSON does not verify (intake-formats.md §1).
An empty secret never verifies anything, so an unset setting cannot turn into "HMAC with key ''".
Pure: no I/O.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

# LinkedIn signs the body with this literal in front of it (learn.microsoft.com, webhook-validation).
LINKEDIN_SIGNED_PREFIX = b"hmacsha256="


def hmac_sha256(secret: str, message: bytes) -> bytes:
    """The raw HMAC-SHA256 digest of ``message`` keyed with ``secret`` (UTF-8)."""
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def verify_hex_signature(header: str | None, *, secret: str, body: bytes, prefix: str = "sha256=") -> bool:
    """Meta's ``X-Hub-Signature-256: sha256=<hex HMAC(app secret, body)>``, or any ``<prefix><hex>``."""
    digest = _strip_prefix(header, prefix)
    if digest is None or not secret:
        return False
    try:
        received = bytes.fromhex(digest)
    except ValueError:
        return False
    return hmac.compare_digest(received, hmac_sha256(secret, body))


def verify_base64_signature(header: str | None, *, secret: str, body: bytes, prefix: str = "sha256=") -> bool:
    """Typeform's ``Typeform-Signature: sha256=<base64 HMAC(secret, body)>`` (base64, not hex)."""
    digest = _strip_prefix(header, prefix)
    if digest is None or not secret:
        return False
    try:
        received = base64.b64decode(digest, validate=True)
    except ValueError:  # binascii.Error, and non-ASCII text, are both ValueErrors
        return False
    return hmac.compare_digest(received, hmac_sha256(secret, body))


def verify_linkedin_signature(header: str | None, *, secret: str, body: bytes) -> bool:
    """LinkedIn's ``X-LI-Signature``: hex HMAC(clientSecret, ``"hmacsha256=" + body``).

    The literal is part of the signed string, not of the header (LinkedIn's webhook-validation page;
    confirmed by the API-Evangelist catalogue quoting it). Some third-party receivers expect the header
    to repeat the literal, so a header that does is accepted too; it proves the same thing.
    """
    digest = _strip_prefix(header, "")
    if digest is not None and digest.lower().startswith(LINKEDIN_SIGNED_PREFIX.decode()):
        digest = digest[len(LINKEDIN_SIGNED_PREFIX) :]
    return verify_hex_signature(digest, secret=secret, body=LINKEDIN_SIGNED_PREFIX + body, prefix="")


def linkedin_challenge_response(challenge_code: str, *, secret: str) -> str:
    """LinkedIn's ``challengeResponse`` to ``GET ?challengeCode=``: hex HMAC(clientSecret, challengeCode).

    The endpoint answers ``{"challengeCode": ..., "challengeResponse": ...}`` with 200 within 3 s;
    LinkedIn repeats the check every 2 hours and blocks the URL after 3 failures in a row.
    """
    return hmac_sha256(secret, challenge_code.encode()).hex()


def verify_tiktok_signature(header: str | None, *, secret: str, body: bytes) -> bool:
    """TikTok's ``X-Open-Signature``: hex HMAC(app secret, the body with non-ASCII ``\\uXXXX``-escaped).

    Third-party evidence only (intake-formats.md §4, a public adapter citing TikTok's docs): TikTok
    signs an ASCII-escaped rendering of the JSON, so hashing the raw bytes fails on the first accented
    name. Until TikTok's own page confirms it, the raw body is accepted as well; either needs the secret.
    """
    return any(
        verify_hex_signature(header, secret=secret, body=signed, prefix="")
        for signed in dict.fromkeys((ascii_escaped(body), body))
    )


def ascii_escaped(body: bytes) -> bytes:
    """``body`` with non-ASCII characters as JSON ``\\uXXXX`` escapes (surrogate pairs past U+FFFF)."""
    try:
        text = body.decode()
    except UnicodeDecodeError:
        return body
    return "".join(char if char.isascii() else _json_escape(char) for char in text).encode()


def secrets_equal(received: str | None, expected: str) -> bool:
    """A plain shared secret (Google's ``google_key``) compared in constant time; False if either is empty."""
    if not isinstance(received, str) or not received or not expected:
        return False
    return hmac.compare_digest(received.encode(), expected.encode())


def verify_basic_auth(header: str | None, credentials: str) -> bool:
    """True when ``header`` is ``Basic <base64 of credentials>`` (``user:password``), compared in constant time."""
    scheme, _, encoded = (header or "").strip().partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        received = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, ValueError):  # not base64, or not UTF-8 inside
        return False
    return secrets_equal(received, credentials)


def recent(stamp: str | None, *, now: float, max_age_seconds: float, per_second: int = 1) -> bool:
    """True when ``stamp`` (whole units since the epoch, ``per_second`` of them a second) is within
    ``max_age_seconds`` of ``now``: a captured signed request cannot be replayed later. Anything
    that is not a plain number of sane length is False, never an error."""
    if not isinstance(stamp, str) or not stamp.isascii() or not stamp.isdigit() or len(stamp) > 16:
        return False
    return abs(now - int(stamp) / per_second) <= max_age_seconds


def _strip_prefix(header: str | None, prefix: str) -> str | None:
    # The label is matched case-insensitively: it only names the scheme, the digest proves the sender.
    if not isinstance(header, str):
        return None
    value = header.strip()
    if value[: len(prefix)].lower() != prefix.lower():
        return None
    return value[len(prefix) :].strip() or None


def _json_escape(char: str) -> str:
    code = ord(char)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
