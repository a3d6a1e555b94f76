"""The ops API and ``/metrics``: the CLI's operations over HTTP, behind ``Authorization: Bearer $LEADGATE_ADMIN_TOKEN``.

Off (404) unless the token is set; compared in constant time. Every view validates its input with
a schema from ``service.ops_schemas`` and hands off to ``ops.reprocess``, like the CLI does.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from marshmallow import Schema, ValidationError
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from core.errors import Conflict, DeliveryError, InvalidInput, NotFound, StoreUnavailable, Unauthorized
from core.jsonbody import parse_json
from core.metrics import RedisCollector
from ops.backlog import account_reports, run_deferred_now
from ops.lookup import lookup_lead
from ops.reprocess import FailedFilter, Report, Reprocessor, Skipped, SkipReason
from service.intake import Intake
from service.ops_schemas import BulkRequestSchema, DiscardRequestSchema, FailedQuerySchema, RunNowRequestSchema

bp = Blueprint("ops", __name__)


@bp.before_request
def require_admin_token() -> None:
    token = current_app.extensions["leadgate"].config.admin_token
    if token is None:
        raise NotFound("The ops API is disabled: set LEADGATE_ADMIN_TOKEN to enable it.")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise Unauthorized("A valid 'Authorization: Bearer <LEADGATE_ADMIN_TOKEN>' header is required.")


def _intake() -> Intake:
    return current_app.extensions["leadgate"]


def _reprocessor() -> Reprocessor:
    intake = _intake()
    return Reprocessor(intake.connection, intake.config)


def _load(schema: Schema, data: Any) -> dict[str, Any]:
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise InvalidInput("The request is not valid.", errors=exc.normalized_messages()) from exc


def _json_body() -> Any:
    """The request's JSON body, {} when there is none."""
    raw = request.get_data(cache=False)
    return parse_json(raw) if raw else {}


def _no_submission(submission_id: str) -> NotFound:
    return NotFound(f"There is no submission {submission_id!r}.")


@bp.get("/metrics")
def prometheus_metrics() -> Response:
    """Prometheus text, behind the admin token like the rest of the ops surface."""
    registry = CollectorRegistry(auto_describe=False)
    _intake().latency.flush(_intake().connection)  # this process's latest intake timings too
    registry.register(RedisCollector(_intake().connection, _intake().config))
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


@bp.get("/v1/submissions/<submission_id>")
def get_submission(submission_id: str) -> Response:
    submission = _intake().submissions.get(submission_id)
    if submission is None:
        raise _no_submission(submission_id)
    data = submission.to_dict()
    events = data.pop("events")
    data["attempts"] = [e["attempt"] | {"at": e["at"]} for e in events if "attempt" in e]
    data["history"] = [e for e in events if "status" in e]
    return jsonify(data)


@bp.get("/v1/ops/failed")
def list_failed() -> Response:
    query = _load(FailedQuerySchema(), request.args.to_dict())
    items = _reprocessor().failed(FailedFilter.from_options(query), limit=query.get("limit"))
    return jsonify([item.to_dict() for item in items])


@bp.post("/v1/ops/failed/retry")
def retry_failed() -> Response:
    return _bulk(lambda reprocessor, ids: reprocessor.retry(ids))


@bp.post("/v1/ops/replay")
def replay() -> Response:
    return _bulk(lambda reprocessor, ids: reprocessor.replay(ids))


def _bulk(operation: Callable[[Reprocessor, list[str]], Report]) -> Response:
    body = _load(BulkRequestSchema(), _json_body())
    reprocessor = _reprocessor()
    ids = body.get("ids") or [item.id for item in reprocessor.failed(FailedFilter.from_options(body["filters"]))]
    return jsonify(operation(reprocessor, ids).to_dict())


@bp.post("/v1/ops/submissions/<submission_id>/discard")
def discard(submission_id: str) -> Response:
    body = _load(DiscardRequestSchema(), _json_body())
    outcome = _reprocessor().discard(submission_id, body["reason"])
    if isinstance(outcome, Skipped):
        if outcome.kind is SkipReason.NO_SUCH_SUBMISSION:
            raise _no_submission(submission_id)
        raise Conflict(f"Cannot discard {submission_id}: {outcome.detail}.")
    return jsonify(discarded=submission_id)


@bp.post("/v1/ops/deferred/run-now")
def deferred_run_now() -> Response:
    body = _load(RunNowRequestSchema(), _json_body())
    return jsonify(queued=run_deferred_now(_intake().connection, _intake().config, reset_quota=body["reset_quota"]))


@bp.get("/v1/ops/quota")
def quota() -> Response:
    reports = account_reports(_intake().connection, _intake().config, datetime.now(UTC))
    return jsonify([report.to_dict() for report in reports])


@bp.get("/v1/ops/leads/<lead_id>")
def lookup(lead_id: str) -> Response:
    account = request.args.get("account", "default")
    if account not in _intake().config.account_names():
        raise NotFound(f"There is no account {account!r}.")
    try:
        return jsonify(lookup_lead(_intake().connection, _intake().config, lead_id, account=account))
    except DeliveryError as exc:
        if exc.http_status == 404:
            raise NotFound(f"Rotor has no lead {lead_id!r}.") from exc
        raise StoreUnavailable(f"Rotor could not be asked: {exc.message}") from exc
