"""``/v1/webhooks/<source>``: ad platforms and form builders posting leads.

The view hands off to ``receive_webhook``: authenticate on the raw bytes (signature or shared key,
constant time) before trusting anything, parse the platform's envelope (a malformed one is a 400
naming the problem), then store every lead it carries through the same durable intake as forms and
answer 200 fast. A platform answered 4xx stops resending, so once the body is verified nothing in
it is refused: a lead whose content cannot be delivered as it is (no name, a broken phone), or an
item that cannot even be read (no lead id), is stored as ``failed`` with the reason, and a notice
that is no lead (another event type, a lead the member deleted) as ``discarded``. Only a body that
is not JSON, or not a Meta or TikTok envelope at all, is a 400. Meta and LinkedIn only announce leads; their
submissions are stored ``received`` and the delivery job reads the lead from the platform first
(``workers.reads``).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from marshmallow import ValidationError

from core.config import Config, SourceConfig
from core.errors import BadRequest, Forbidden, NotFound, Unauthorized
from core.sources import google, linkedin, meta, signatures, tiktok, typeform
from core.sources.common import PlatformLeadSchema, Unreadable, read_or_unreadable
from core.sources.generic import GenericSourceSchema, SignatureScheme
from core.sources.registry import load_lead
from core.store.identity import fingerprint
from service.intake import Intake
from service.jsonbody import parse_json

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__)

# Headers worth keeping with the raw submission; signatures and keys are left out on purpose.
KEPT_HEADERS = ("Content-Type", "User-Agent", "X-Forwarded-For")
# Platforms batch leads (Meta up to 1000 changes a body, intake-formats.md §2) and are authenticated,
# so webhooks take far larger bodies than forms (LEADGATE_MAX_BODY_BYTES): a 413 would be resent
# forever and the batch lost.
MAX_BODY_BYTES = 5 * 1024 * 1024
# LinkedIn's URL check sends a UUID. Anything else is refused: the answer is an HMAC with the same
# key as X-LI-Signature, so answering any text would sign notifications for whoever asks.
LINKEDIN_CHALLENGE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


@dataclass(frozen=True)
class Incoming:
    """One lead found in a verified webhook body."""

    platform_id: str
    payload: dict[str, Any]  # this lead's part of the body, kept as its raw submission
    lead: dict[str, Any] | None = None  # the Rotor body, when the webhook carries the answers
    read_ref: str | None = None  # when the lead must be read from the platform first
    problem: str | None = None  # why the answers cannot be delivered as they are
    test: bool = False
    ignored: str | None = None  # why this notice is kept but is no lead to deliver


@bp.get("/v1/webhooks/<name>")
def handshake(name: str) -> Response:
    return answer_handshake(current_app.extensions["leadgate"].config, name)


@bp.post("/v1/webhooks/<name>")
def receive(name: str) -> Response:
    return receive_webhook(current_app.extensions["leadgate"], name)


def answer_handshake(config: Config, name: str) -> Response:
    """Meta's subscription check (echo ``hub.challenge``) and LinkedIn's (``challengeCode``)."""
    source = _source(config, name)
    if source.type == "meta":
        token = config.meta_verify_token
        given = request.args.get("hub.verify_token")
        if request.args.get("hub.mode") != "subscribe" or not token or not signatures.secrets_equal(given, token):
            raise Forbidden("hub.verify_token does not match META_VERIFY_TOKEN.")
        return Response(request.args.get("hub.challenge", ""), mimetype="text/plain")
    if source.type == "linkedin":
        code = request.args.get("challengeCode")
        if not code or not LINKEDIN_CHALLENGE.match(code):
            raise BadRequest("challengeCode must be the UUID LinkedIn sends.")
        assert source.secret is not None
        return jsonify(
            challengeCode=code, challengeResponse=signatures.linkedin_challenge_response(code, secret=source.secret)
        )
    raise NotFound(f"The {name!r} source has no GET handshake.")


def receive_webhook(intake: Intake, name: str) -> Response:
    source = _source(intake.config, name)
    body = request.get_data(cache=False)
    incoming = HANDLERS[source.type](source, body, intake.source_schemas[name])
    label = f"webhook:{name}"
    headers = {h: request.headers[h] for h in KEPT_HEADERS if h in request.headers}
    ids = []
    for item in incoming:
        raw = {"headers": headers, "payload": item.payload}
        if item.ignored:
            ids.append(intake.discard(source=label, raw=raw, reason=item.ignored))
        elif item.test and not source.deliver_test_leads:
            ids.append(intake.discard(source=label, raw=raw, reason=f"{source.type} test lead, not delivered"))
        elif item.problem:
            ids.append(
                intake.reject(
                    source=label, raw=raw, reason=item.problem, account=source.account, platform_id=item.platform_id
                )
            )
        elif item.read_ref:
            ids.append(
                intake.accept_unread(
                    source=label, raw=raw, read_ref=item.read_ref, account=source.account, platform_id=item.platform_id
                )
            )
        else:
            assert item.lead is not None
            ids.append(
                intake.accept(
                    source=label, raw=raw, lead=item.lead, account=source.account, platform_id=item.platform_id
                )
            )
    return jsonify(received=len(ids), submission_ids=ids)


def _source(config: Config, name: str) -> SourceConfig:
    source = config.sources.get(name)
    if source is None or not source.secret:
        raise NotFound(f"There is no webhook source {name!r} (or its secret is not set).")
    return source


def _parsed(parse: Callable[[Any], Any], payload: Any, what: str) -> Any:
    try:
        return parse(payload)
    except ValidationError as exc:
        raise BadRequest(f"Malformed {what} payload.", errors=exc.normalized_messages()) from exc


def _verified(ok: bool, header: str) -> None:
    if not ok:
        raise Unauthorized(f"{header} does not match this body and secret.")


def _kept(payload: Any) -> dict[str, Any]:
    """The payload as a raw submission keeps it: an object as it is, anything else under ``body``."""
    return payload if isinstance(payload, dict) else {"body": payload}


def _unreadable(item: Unreadable, what: str) -> Incoming:
    """A verified item that cannot be read, stored failed under a key made of its content (a resend
    of the same body is a duplicate)."""
    kept = _kept(item.payload)
    problem = f"cannot read this {what}: " + json.dumps(item.problem, sort_keys=True, default=str)
    return Incoming(f"unreadable:{fingerprint(kept)}", kept, problem=problem)


def _ignored(payload: Any, why: str) -> list[Incoming]:
    """A verified notice that is no lead: kept, discarded, so a platform change that turned leads into
    "other notices" shows in ``leadgate`` rather than vanishing."""
    return [Incoming("", _kept(payload), ignored=why)]


def _with_answers(
    schema: PlatformLeadSchema, payload: Any, platform_id: str | Unreadable, what: str, *, test: bool = False
) -> Incoming:
    """One lead that carries its answers, under its platform id (or unreadable without one)."""
    if isinstance(platform_id, Unreadable):
        return _unreadable(platform_id, what)
    lead, problem = load_lead(schema, payload, test=test)
    kept = _kept(payload)
    return Incoming(platform_id, kept, lead=lead, problem=problem, test=test)


def _meta(source: SourceConfig, body: bytes, schema: PlatformLeadSchema) -> list[Incoming]:
    header = request.headers.get("X-Hub-Signature-256")
    _verified(signatures.verify_hex_signature(header, secret=source.secret or "", body=body), "X-Hub-Signature-256")
    refs = _parsed(meta.parse_leadgen_notification, parse_json(body), "Meta leadgen")
    return [
        _unreadable(ref, "Meta leadgen change")
        if isinstance(ref, Unreadable)
        else Incoming(meta.idempotency_key(ref), asdict(ref), read_ref=f"meta:{ref.leadgen_id}")
        for ref in refs
    ]


def _linkedin(source: SourceConfig, body: bytes, schema: PlatformLeadSchema) -> list[Incoming]:
    header = request.headers.get("X-LI-Signature")
    _verified(signatures.verify_linkedin_signature(header, secret=source.secret or "", body=body), "X-LI-Signature")
    payload = parse_json(body)
    ref = read_or_unreadable(linkedin.parse_linkedin_notification, payload)
    if ref is None:
        return _ignored(payload, f"not a lead notification (type {payload.get('type')!r})")
    if isinstance(ref, Unreadable):
        return [_unreadable(ref, "LinkedIn lead notification")]
    if ref.action == linkedin.DELETED:
        # Not read (LinkedIn has removed the data) nor delivered; one already in Rotor is ops' to remove.
        log.warning("LinkedIn says the member deleted lead %s", ref.response_urn)
        return _ignored(asdict(ref), "the member deleted this lead on LinkedIn: not read or delivered")
    return [Incoming(linkedin.idempotency_key(ref), asdict(ref), read_ref=f"linkedin:{ref.response_id}")]


def _google(source: SourceConfig, body: bytes, schema: PlatformLeadSchema) -> list[Incoming]:
    payload = parse_json(body)
    # The shared key first: an unauthenticated body is told only that (401), nothing about its shape.
    given = [v for k, v in payload.items() if k.lower() == "google_key"] if isinstance(payload, dict) else []
    _verified(len(given) == 1 and signatures.secrets_equal(given[0], source.secret or ""), "google_key")
    kept = {k: v for k, v in payload.items() if k.lower() != "google_key"}  # a secret is never stored
    ref = read_or_unreadable(google.parse_google_payload, payload)
    if isinstance(ref, Unreadable):
        return [_unreadable(Unreadable(kept, ref.problem), "Google Ads lead")]
    lead, problem = load_lead(schema, payload, test=ref.is_test)
    return [Incoming(ref.lead_id, kept, lead=lead, problem=problem, test=ref.is_test)]


def _tiktok(source: SourceConfig, body: bytes, schema: PlatformLeadSchema) -> list[Incoming]:
    header = request.headers.get("X-Open-Signature") or request.headers.get("X-Tt-Signature")
    _verified(signatures.verify_tiktok_signature(header, secret=source.secret or "", body=body), "X-Open-Signature")
    payload = parse_json(body)
    entries = _parsed(tiktok.tiktok_leads, payload, "TikTok lead")
    if entries is None:
        return _ignored(payload, f"not a lead callback (object {payload.get('object')!r})")
    return [
        _unreadable(entry, "TikTok lead entry")
        if isinstance(entry, Unreadable)
        else _with_answers(schema, entry, tiktok.idempotency_key(entry), "TikTok lead entry")
        for entry in entries
    ]


def _typeform(source: SourceConfig, body: bytes, schema: PlatformLeadSchema) -> list[Incoming]:
    header = request.headers.get("Typeform-Signature")
    _verified(signatures.verify_base64_signature(header, secret=source.secret or "", body=body), "Typeform-Signature")
    payload = parse_json(body)
    if isinstance(payload, dict) and payload.get("event_type", "form_response") != "form_response":
        return _ignored(payload, f"not a finished response (event_type {payload.get('event_type')!r})")
    return [_with_answers(schema, payload, read_or_unreadable(typeform.idempotency_key, payload), "Typeform response")]


def _generic(source: SourceConfig, body: bytes, schema: PlatformLeadSchema) -> list[Incoming]:
    scheme = SignatureScheme(source.signature_header, source.signature_encoding, source.signature_prefix)
    header = request.headers.get(source.signature_header)
    _verified(scheme.verify(header, secret=source.secret or "", body=body), source.signature_header)
    payload = parse_json(body)
    assert isinstance(schema, GenericSourceSchema)
    return [_with_answers(schema, payload, read_or_unreadable(schema.idempotency_key, payload), f"{source.name} lead")]


HANDLERS: dict[str, Callable[[SourceConfig, bytes, PlatformLeadSchema], list[Incoming]]] = {
    "meta": _meta,
    "linkedin": _linkedin,
    "google": _google,
    "tiktok": _tiktok,
    "typeform": _typeform,
    "generic": _generic,
}
