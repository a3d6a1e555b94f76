"""The Rotor Open API routes the sandbox serves: POST/GET /leads, GET /leads/<id>, /auth/test.

Paths sit at the root: the sandbox's base URL stands for https://api.getrotor.com/open-api.
Each route first runs Rotor's gate (key present, key known, version header, daily quota, in
that order), because delivery code decides retry-or-park from exactly those answers.
"""

from __future__ import annotations

import time
import uuid

from flask import Blueprint, Response, current_app, g, jsonify, request
from flask.typing import ResponseReturnValue

from sandbox import API_VERSION
from sandbox.faults import Fault
from sandbox.responses import load_json, rotor_error, validation_failed
from sandbox.state import SandboxState
from sandbox.store import WRITE_TO_READ, LeadNotFound, iso_utc
from sandbox.validation import error, parse_list_query, validate_lead_body

bp = Blueprint("rotor", __name__)

# Rotor's POST /leads answer echoes the address under its write names as well.
_ADDRESS_ECHO = {w: r for w, r in WRITE_TO_READ.items() if w.startswith("address_")}
_COMPANY_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "leadgate-sandbox/company"))


def _state() -> SandboxState:
    return current_app.extensions["sandbox"]


def _admit(state: SandboxState) -> ResponseReturnValue | None:
    """None when the request may proceed; otherwise Rotor's refusal. Caller holds the lock."""
    api_key = request.headers.get("x-api-key")
    if not api_key:
        return rotor_error(401, "Authentication required. Provide x-api-key header.", "AUTHENTICATION_REQUIRED")
    if api_key not in state.api_keys:
        return rotor_error(401, "Invalid API key", "INVALID_API_KEY")
    if request.headers.get("rotor-api-version") != API_VERSION:
        return rotor_error(
            400, f"Missing or unsupported rotor-api-version header; expected {API_VERSION}", "INVALID_API_VERSION"
        )
    # Rotor documents the quota on every endpoint, so reads and /auth/test are charged too.
    if not state.ledger.charge(api_key):
        state.traffic.rate_limited += 1
        return rotor_error(
            429, f"Daily API key request limit of {state.ledger.daily_limit} exceeded", "RATE_LIMIT_EXCEEDED"
        )
    return None


@bp.after_request
def _record_and_delay(response: Response) -> Response:
    state = _state()
    with state.lock:
        rule = request.url_rule.rule if request.url_rule else request.path
        state.traffic.record(f"{request.method} {rule}", response.status_code)
        latency = state.faults.latency_ms / 1000
    # Outside the lock, so one slow answer does not hold up concurrent requests.
    if latency and not g.get("delay_spent"):
        time.sleep(latency)
    return response


@bp.post("/leads")
def upsert_lead() -> ResponseReturnValue:
    state = _state()
    with state.lock:
        refusal = _admit(state)
        if refusal is not None:
            return refusal
        # Faults strike after the quota charge: a failed request still reached Rotor.
        fault = state.faults.draw()
        if fault is Fault.FAIL:
            return rotor_error(state.faults.fail_status, "Internal server error")
        if not request.is_json:
            return validation_failed([error("body", "Content-Type must be application/json.")])
        body, errors = load_json(request.get_data())
        errors = errors or validate_lead_body(body)
        if errors:
            return validation_failed(errors)
        try:
            lead, created = state.store.upsert(body)
        except LeadNotFound:
            return rotor_error(404, "Not found")
        hang = state.faults.hang_seconds if fault is Fault.HANG else 0.0
    if fault is Fault.HANG:
        # Applied but not yet answered: a client with a shorter read timeout gives up here.
        g.delay_spent = True
        time.sleep(hang)
    echo = {write: lead[read] for write, read in _ADDRESS_ECHO.items()}
    message = "Lead created successfully" if created else "Lead updated successfully"
    return jsonify({**lead, **echo, "message": message}), 201 if created else 200


@bp.get("/leads")
def list_leads() -> ResponseReturnValue:
    state = _state()
    with state.lock:
        refusal = _admit(state)
        if refusal is not None:
            return refusal
        query, errors = parse_list_query(request.args)
        if errors:
            return validation_failed(errors)
        items, pagination = state.store.list(**query)
    return jsonify({"data": items, "pagination": pagination, "status": "success"})


@bp.get("/leads/<lead_id>")
def get_lead(lead_id: str) -> ResponseReturnValue:
    state = _state()
    with state.lock:
        refusal = _admit(state)
        if refusal is not None:
            return refusal
        lead = state.store.get(lead_id)
    if lead is None:
        return rotor_error(404, "Not found")
    return jsonify({"data": lead, "status": "success"})


@bp.get("/auth/test")
def auth_test() -> ResponseReturnValue:
    state = _state()
    with state.lock:
        refusal = _admit(state)
        if refusal is not None:
            return refusal
        timestamp = iso_utc(state.now())
    api_key = request.headers["x-api-key"]
    return jsonify(
        {
            "authenticated": True,
            "auth_method": "api_key",
            "company_id": _COMPANY_ID,
            # Stable per key, so a client can tell which configured key it is using.
            "user_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"leadgate-sandbox/user/{api_key}")),
            "scopes": ["leads:read", "leads:write"],
            "timestamp": timestamp,
        }
    )
