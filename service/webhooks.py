"""``/v1/webhooks/<source>``: ad platforms and form builders posting leads.

The view hands off to ``receive_webhook``: authenticate on the raw bytes (signature or shared key,
constant time) before trusting anything, parse the platform's envelope (a malformed one is a 400
naming the problem), then store every lead it carries through the same durable intake as forms and
answer 200 fast. A lead whose content cannot be delivered as it is (no name, a broken phone) is
still stored, as ``failed`` with the reason, so nothing an authenticated platform sent is lost.
Meta and LinkedIn only announce leads; their submissions are stored ``received`` and the delivery
job reads the lead from the platform first (``workers.reads``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from marshmallow import ValidationError

from service.config import Config, SourceConfig
from service.errors import BadRequest, Forbidden, NotFound, Unauthorized
from service.intake import Intake
from service.jsonbody import parse_json
from service.sources import google, linkedin, meta, signatures, tiktok, typeform
from service.sources.common import PlatformLeadSchema
from service.sources.generic import GenericSourceSchema, SignatureScheme
from service.sources.registry import load_lead

bp = Blueprint("webhooks", __name__)

# Headers worth keeping with the raw submission; signatures and keys are left out on purpose.
KEPT_HEADERS = ("Content-Type", "User-Agent", "X-Forwarded-For")


@dataclass(frozen=True)
class Incoming:
    """One lead found in a verified webhook body."""

    platform_id: str
    payload: dict[str, Any]  # this lead's part of the body, kept as its raw submission
    lead: dict[str, Any] | None = None  # the Rotor body, when the webhook carries the answers
    read_ref: str | None = None  # when the lead must be read from the platform first
    problem: str | None = None  # why the answers cannot be delivered as they are
    test: bool = False


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
        if not code:
            raise BadRequest("challengeCode is missing.")
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
        if item.test and not source.deliver_test_leads:
            ids.append(intake.discard(source=label, raw=raw, reason=f"{source.type} test lead, not delivered"))
        elif item.problem:
            ids.append(intake.reject(source=label, raw=raw, reason=item.problem, account=source.account,
                                     platform_id=item.platform_id))  # fmt: skip
        elif item.read_ref:
            ids.append(intake.accept_unread(source=label, raw=raw, read_ref=item.read_ref, account=source.account,
                                            platform_id=item.platform_id))  # fmt: skip
        else:
            assert item.lead is not None
            ids.append(intake.accept(source=label, raw=raw, lead=item.lead, account=source.account,
                                     platform_id=item.platform_id))  # fmt: skip
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


def _meta(source: SourceConfig, body: bytes, schema: PlatformLeadSchema) -> list[Incoming]:
    header = request.headers.get("X-Hub-Signature-256")
    _verified(signatures.verify_hex_signature(header, secret=source.secret or "", body=body), "X-Hub-Signature-256")
    refs = _parsed(meta.parse_leadgen_notification, parse_json(body), "Meta leadgen")
    return [Incoming(meta.idempotency_key(ref), asdict(ref), read_ref=f"meta:{ref.leadgen_id}") for ref in refs]


def _linkedin(source: SourceConfig, body: bytes, schema: PlatformLeadSchema) -> list[Incoming]:
    header = request.headers.get("X-LI-Signature")
    _verified(signatures.verify_linkedin_signature(header, secret=source.secret or "", body=body), "X-LI-Signature")
    refs = _parsed(linkedin.parse_linkedin_notification, parse_json(body), "LinkedIn lead notification")
    return [
        Incoming(linkedin.idempotency_key(ref), asdict(ref), read_ref=f"linkedin:{ref.response_id}") for ref in refs
    ]


def _google(source: SourceConfig, body: bytes, schema: PlatformLeadSchema) -> list[Incoming]:
    payload = parse_json(body)
    ref = _parsed(google.parse_google_payload, payload, "Google Ads lead form")
    _verified(signatures.secrets_equal(ref.google_key, source.secret or ""), "google_key")
    kept = {k: v for k, v in payload.items() if k.lower() != "google_key"}  # a secret is never stored
    lead, problem = load_lead(schema, payload, test=ref.is_test)
    return [Incoming(ref.lead_id, kept, lead=lead, problem=problem, test=ref.is_test)]


def _tiktok(source: SourceConfig, body: bytes, schema: PlatformLeadSchema) -> list[Incoming]:
    header = request.headers.get("X-Open-Signature") or request.headers.get("X-Tt-Signature")
    _verified(signatures.verify_tiktok_signature(header, secret=source.secret or "", body=body), "X-Open-Signature")
    entries = _parsed(tiktok.tiktok_leads, parse_json(body), "TikTok lead")
    items = []
    for entry in entries:
        lead, problem = load_lead(schema, entry, test=False)
        items.append(Incoming(tiktok.idempotency_key(entry), entry, lead=lead, problem=problem))
    return items


def _typeform(source: SourceConfig, body: bytes, schema: PlatformLeadSchema) -> list[Incoming]:
    header = request.headers.get("Typeform-Signature")
    _verified(signatures.verify_base64_signature(header, secret=source.secret or "", body=body), "Typeform-Signature")
    payload = parse_json(body)
    if isinstance(payload, dict) and payload.get("event_type", "form_response") != "form_response":
        return []  # partial responses are not leads yet
    platform_id = _parsed(typeform.idempotency_key, payload, "Typeform")
    lead, problem = load_lead(schema, payload, test=False)
    return [Incoming(platform_id, payload, lead=lead, problem=problem)]


def _generic(source: SourceConfig, body: bytes, schema: PlatformLeadSchema) -> list[Incoming]:
    scheme = SignatureScheme(source.signature_header, source.signature_encoding, source.signature_prefix)
    header = request.headers.get(source.signature_header)
    _verified(scheme.verify(header, secret=source.secret or "", body=body), source.signature_header)
    payload = parse_json(body)
    assert isinstance(schema, GenericSourceSchema)
    platform_id = _parsed(schema.idempotency_key, payload, source.name)
    lead, problem = load_lead(schema, payload, test=False)
    return [
        Incoming(platform_id, payload if isinstance(payload, dict) else {"body": payload}, lead=lead, problem=problem)
    ]


HANDLERS: dict[str, Callable[[SourceConfig, bytes, PlatformLeadSchema], list[Incoming]]] = {
    "meta": _meta, "linkedin": _linkedin, "google": _google, "tiktok": _tiktok, "typeform": _typeform,
    "generic": _generic,
}  # fmt: skip
