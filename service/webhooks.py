"""``/v1/webhooks/<source>``: ad platforms and form builders posting leads.

One view serves every platform through its ``Source`` (``core.sources.registry``): authenticate on
the raw bytes (signature or shared key, constant time) before trusting anything, parse the
platform's envelope (a malformed one is a 400 naming the problem), then store every lead it carries
through the same durable intake as forms and answer 200 fast. A platform answered 4xx stops
resending, so once the body is verified nothing in it is refused: a lead whose content cannot be
delivered as it is (no name, a broken phone), or an item that cannot even be read (no lead id), is
stored as ``failed`` with the reason, and a notice that is no lead (another event type, a lead the
member deleted) as ``discarded``. Only a body that is not JSON, or not the platform's envelope at
all, is a 400. Meta and LinkedIn only announce leads; their submissions are stored ``received`` and
the delivery job reads the lead from the platform first (``workers.reads``).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from core.config import Config
from core.errors import NotFound
from core.jsonbody import parse_json
from core.sources.incoming import Incoming
from core.sources.registry import SOURCES
from core.sources.source import SourceConfig, WebhookRequest
from core.store.identity import content_id
from service.intake import Intake

bp = Blueprint("webhooks", __name__)

# Headers worth keeping with the raw submission; signatures and keys are left out on purpose.
KEPT_HEADERS = ("Content-Type", "User-Agent", "X-Forwarded-For")
# Platforms batch leads (Meta up to 1000 changes a body, intake-formats.md §2) and are authenticated,
# so webhooks take far larger bodies than forms (LEADGATE_MAX_BODY_BYTES): a 413 would be resent
# forever and the batch lost.
MAX_BODY_BYTES = 5 * 1024 * 1024


@bp.get("/v1/webhooks/<name>")
def handshake(name: str) -> Response:
    """The platform's check of the URL (Meta's ``hub.challenge``, LinkedIn's ``challengeCode``)."""
    source = _configured(current_app.extensions["leadgate"].config, name)
    answer = SOURCES[source.type].handshake(source, _webhook_request(b""))
    return Response(answer, mimetype="text/plain") if isinstance(answer, str) else jsonify(answer)


@bp.post("/v1/webhooks/<name>")
def receive(name: str) -> Response:
    """Authenticate, parse, store each item; answer with the submission ids."""
    intake: Intake = current_app.extensions["leadgate"]
    source = _configured(intake.config, name)
    platform = SOURCES[source.type]
    webhook = _webhook_request(request.get_data(cache=False))
    platform.authenticate(source, webhook)
    items = platform.parse(source, webhook, intake.source_schemas[name])
    headers = {h: request.headers[h] for h in KEPT_HEADERS if h in request.headers}
    ids = [_store(intake, source, item, {"headers": headers, "payload": item.payload}) for item in items]
    return jsonify(received=len(ids), submission_ids=ids)


def _configured(config: Config, name: str) -> SourceConfig:
    source = config.sources.get(name)
    if source is None or not source.secret:
        raise NotFound(f"There is no webhook source {name!r} (or its secret is not set).")
    return source


def _webhook_request(body: bytes) -> WebhookRequest:
    return WebhookRequest(body, dict(request.headers.items()), request.args.to_dict(), read_json=parse_json)


def _store(intake: Intake, source: SourceConfig, item: Incoming, raw: dict[str, Any]) -> str:
    """Store one item as what it is; its submission id."""
    label = f"webhook:{source.name}"
    if item.ignored:
        return intake.discard(source=label, raw=raw, reason=item.ignored)
    if item.test and not source.deliver_test_leads:
        return intake.discard(source=label, raw=raw, reason=f"{source.type} test lead, not delivered")
    # An item with no id of its own is keyed by its content: a resend of the same body is a duplicate.
    platform_id = content_id(item.payload) if item.platform_id is None else item.platform_id
    if item.problem:
        return intake.reject(
            source=label, raw=raw, reason=item.problem, account=source.account, platform_id=platform_id
        )
    if item.read_ref:
        return intake.accept_unread(
            source=label, raw=raw, read_ref=item.read_ref, account=source.account, platform_id=platform_id
        )
    assert item.lead is not None
    return intake.accept(source=label, raw=raw, lead=item.lead, account=source.account, platform_id=platform_id)
