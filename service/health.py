"""Liveness and readiness probes.

Readiness fails only when Redis is unreachable: that is when intake cannot store a lead. A paused
Rotor account is reported in the body but keeps the web process ready, because taking intake out
of rotation would turn a CRM problem into lost leads; alert on ``delivery`` instead.
"""

from __future__ import annotations

import redis
from flask import Blueprint, Response, current_app, jsonify

from core.store import keys

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """The process answers; nothing else is checked."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    intake = current_app.extensions["leadgate"]
    names = intake.config.account_names()
    try:
        reasons = intake.connection.mget([keys.account_paused(name) for name in names])
    except redis.RedisError as exc:
        return jsonify(status="unavailable", redis=str(exc)), 503
    paused = {name: reason.decode() for name, reason in zip(names, reasons, strict=True) if reason}
    delivery = {name: f"paused: {paused[name]}" if name in paused else "running" for name in names}
    return jsonify(status="ok", redis="ok", delivery=delivery), 200
