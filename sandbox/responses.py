"""Rotor's error envelopes and JSON body parsing shared by the API and control routes.

Clients are expected to branch on these exact shapes (`error_code`, `errors[]`), so they are
built in one place rather than spelled out per route.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Response, jsonify

from sandbox.validation import Errors, error


def rotor_error(status: int, message: str, error_code: str | None = None) -> tuple[Response, int]:
    body: dict[str, Any] = {"status": "error", "message": message}
    # Rotor's "Not found" and "Internal server error" bodies carry no error_code.
    if error_code is not None:
        body["error_code"] = error_code
    return jsonify(body), status


def validation_failed(errors: Errors) -> tuple[Response, int]:
    return jsonify({"status": "error", "message": "Validation failed", "errors": errors}), 400


def load_json(raw: bytes) -> tuple[Any, Errors]:
    """Decoded body, or a "body" validation error when it is not JSON at all."""
    try:
        return json.loads(raw), []
    except ValueError:  # includes UnicodeDecodeError
        return None, [error("body", "Malformed JSON.")]
