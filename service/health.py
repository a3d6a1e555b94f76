"""Liveness and readiness probes."""

from __future__ import annotations

import redis
from flask import Blueprint, Response, current_app, jsonify

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """The process answers; nothing else is checked."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Ready when Redis answers, since no submission can be accepted without it."""
    try:
        current_app.extensions["leadgate"].connection.ping()
    except redis.RedisError as exc:
        return jsonify(status="unavailable", redis=str(exc)), 503
    return jsonify(status="ok", redis="ok"), 200
