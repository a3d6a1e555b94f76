"""The ops API: read a submission's fate. Off unless ``LEADGATE_ADMIN_TOKEN`` is set."""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, current_app, jsonify, request

from service.errors import NotFound, Unauthorized
from service.intake import Intake

bp = Blueprint("ops", __name__)


@bp.before_request
def require_admin_token() -> None:
    token = current_app.extensions["leadgate"].config.admin_token
    if token is None:
        raise NotFound("The ops API is disabled: set LEADGATE_ADMIN_TOKEN to enable it.")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise Unauthorized("A valid 'Authorization: Bearer <LEADGATE_ADMIN_TOKEN>' header is required.")


@bp.get("/v1/submissions/<submission_id>")
def get_submission(submission_id: str) -> Response:
    intake: Intake = current_app.extensions["leadgate"]
    submission = intake.submissions.get(submission_id)
    if submission is None:
        raise NotFound(f"There is no submission {submission_id!r}.")
    data = submission.to_dict()
    events = data.pop("events")
    data["attempts"] = [e["attempt"] | {"at": e["at"]} for e in events if "attempt" in e]
    data["history"] = [e for e in events if "status" in e]
    return jsonify(data)
