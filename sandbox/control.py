"""Operator and test controls under /_sandbox/: reset, turn the day, stats, fault injection.

Not part of Rotor. They need no API key and are never charged against the quota, so a test
or benchmark can inspect and steer the sandbox without disturbing what it measures.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from sandbox.faults import FaultSettings
from sandbox.responses import load_json, validation_failed
from sandbox.state import SandboxState
from sandbox.validation import Errors, error

bp = Blueprint("sandbox_control", __name__, url_prefix="/_sandbox")


def _state() -> SandboxState:
    return current_app.extensions["sandbox"]


def _reset_options(raw: bytes) -> tuple[dict, Errors]:
    # Content-Type is not required here, so a bare `curl -X POST` or `-d '{...}'` works.
    if not raw.strip():
        return {}, []
    data, errors = load_json(raw)
    if errors:
        return {}, errors
    if not isinstance(data, dict):
        return {}, [error("body", "Body must be a JSON object.")]
    errors = [error(key, "Unknown field.") for key in data if key != "daily_limit"]
    limit = data.get("daily_limit")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
        errors.append(error("daily_limit", "Must be a non-negative integer."))
    return data, errors


@bp.post("/reset")
def reset() -> ResponseReturnValue:
    """Clear leads, counters and faults; optional body {"daily_limit": N}."""
    options, errors = _reset_options(request.get_data())
    if errors:
        return validation_failed(errors)
    state = _state()
    with state.lock:
        state.reset(daily_limit=options.get("daily_limit"))
        return jsonify(state.stats())


@bp.post("/next-day")
def next_day() -> ResponseReturnValue:
    state = _state()
    with state.lock:
        state.ledger.next_day()
        return jsonify(state.stats())


@bp.get("/stats")
def stats() -> ResponseReturnValue:
    state = _state()
    with state.lock:
        return jsonify(state.stats())


@bp.get("/faults")
def get_faults() -> ResponseReturnValue:
    state = _state()
    with state.lock:
        return jsonify(state.faults.to_json())


@bp.put("/faults")
def put_faults() -> ResponseReturnValue:
    """Replace all fault settings; keys left out go back to their defaults (no faults)."""
    data, errors = load_json(request.get_data())
    settings, errors = (None, errors) if errors else FaultSettings.from_json(data)
    if settings is None:
        return validation_failed(errors)
    state = _state()
    with state.lock:
        state.faults = settings
    return jsonify(settings.to_json())
