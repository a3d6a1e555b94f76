"""Flask application factory for the Rotor-compatible sandbox.

A factory rather than a module-level app so each test, benchmark or dev process gets its own
isolated state (leads, quota, faults) and can choose its keys, limit and clock.
"""

from __future__ import annotations

from collections.abc import Sequence

from flask import Flask
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed

from sandbox import SANDBOX_API_KEY, api, control
from sandbox.responses import rotor_error
from sandbox.state import SandboxState
from sandbox.store import Clock, utc_now


def create_sandbox_app(
    *,
    api_keys: Sequence[str] = (SANDBOX_API_KEY,),
    daily_limit: int = 1000,
    now: Clock | None = None,
) -> Flask:
    """A fresh sandbox; its state is `app.extensions["sandbox"]` (a SandboxState)."""
    # A bare string is a Sequence[str] too, and would silently become one key per character.
    if isinstance(api_keys, str) or not api_keys:
        raise ValueError("api_keys must be a non-empty sequence of key strings")
    if daily_limit < 0:
        raise ValueError("daily_limit must be >= 0")
    app = Flask(__name__)
    app.extensions["sandbox"] = SandboxState(api_keys, daily_limit, now or utc_now)
    app.register_blueprint(api.bp)
    app.register_blueprint(control.bp)
    app.register_error_handler(InternalServerError, _internal_error)
    app.register_error_handler(HTTPException, _http_error)
    return app


def _internal_error(_exc: InternalServerError) -> ResponseReturnValue:
    # Flask has already logged the traceback; the client gets Rotor's documented body only.
    return rotor_error(500, "Internal server error")


def _http_error(exc: HTTPException) -> ResponseReturnValue:
    # Unknown paths and methods answer in Rotor's JSON envelope rather than Werkzeug's HTML.
    if exc.code == 404:
        return rotor_error(404, "Not found")
    response, status = rotor_error(exc.code or 500, exc.name)
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response, status
