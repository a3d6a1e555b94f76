"""The OpenAPI document of the ops API, generated from ``service.ops_schemas`` by apispec."""

from __future__ import annotations

import copy
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Response, jsonify

from service import ops_schemas

bp = Blueprint("openapi", __name__)


def _json(schema: Any, description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERRORS = {
    code: _json(ops_schemas.ErrorSchema, text)
    for code, text in (
        ("400", "The body is not valid JSON, or nests too deep"),
        ("401", "Missing or wrong bearer token"),
        ("404", "Not found, or the ops API is off"),
        ("413", "The body is too large"),
        ("422", "Invalid input; errors name the fields"),
        ("503", "Redis or Rotor cannot be reached"),
    )
}
# Exactly one of ``ids`` (non-empty) or ``all: true``, as BulkRequestSchema's validator enforces.
ONE_OF_IDS_OR_ALL = {
    "oneOf": [
        {"required": ["ids"], "properties": {"ids": {"minItems": 1}, "all": {"enum": [False]}}},
        {"required": ["all"], "properties": {"all": {"enum": [True]}, "ids": {"maxItems": 0}}},
    ]
}
BULK = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"allOf": [ops_schemas.BulkRequestSchema, ONE_OF_IDS_OR_ALL]}}},
    },
    "responses": {"200": _json(ops_schemas.ReportSchema), **ERRORS},
}
PATHS: dict[str, dict[str, Any]] = {
    "/v1/submissions/{submission_id}": {
        "get": {
            "summary": "One submission: status, lead id, attempts, history",
            "responses": {"200": _json(ops_schemas.SubmissionSchema), **ERRORS},
        }
    },
    "/v1/ops/failed": {
        "get": {
            "summary": "Failed submissions, oldest failure first",
            "parameters": [{"in": "query", "schema": ops_schemas.FailedQuerySchema}],
            "responses": {"200": _json({"type": "array", "items": ops_schemas.FailedItemSchema}), **ERRORS},
        }
    },
    "/v1/ops/failed/retry": {"post": {"summary": "Re-run delivery of failed submissions", **BULK}},
    "/v1/ops/replay": {"post": {"summary": "Re-normalise with today's mapping and deliver again", **BULK}},
    "/v1/ops/submissions/{submission_id}/discard": {
        "post": {
            "summary": "Stop a submission for good",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": ops_schemas.DiscardRequestSchema}},
            },
            "responses": {
                "200": _json({"type": "object", "properties": {"discarded": {"type": "string"}}}),
                "409": _json(ops_schemas.ErrorSchema, "Already settled"),
                **ERRORS,
            },
        }
    },
    "/v1/ops/deferred/run-now": {
        "post": {
            "summary": "Queue every deferred delivery now",
            "requestBody": {
                "required": False,
                "content": {"application/json": {"schema": ops_schemas.RunNowRequestSchema}},
            },
            "responses": {"200": _json({"type": "object", "properties": {"queued": {"type": "integer"}}}), **ERRORS},
        }
    },
    "/v1/ops/quota": {
        "get": {
            "summary": "Per account: requests used and left, reset, backlog",
            "responses": {"200": _json({"type": "array", "items": ops_schemas.QuotaSchema}), **ERRORS},
        }
    },
    "/v1/ops/leads/{lead_id}": {
        "get": {
            "summary": "Read a lead from Rotor (costs one request from the ops share)",
            "parameters": [{"in": "query", "name": "account", "schema": {"type": "string"}}],
            "responses": {"200": _json({"type": "object"}), **ERRORS},
        }
    },
}


def build_spec() -> dict[str, Any]:
    spec = APISpec(title="leadgate ops API", version="1", openapi_version="3.0.3", plugins=[MarshmallowPlugin()])
    spec.components.security_scheme("admin", {"type": "http", "scheme": "bearer"})
    for name in (
        "FailedQuery",
        "BulkRequest",
        "DiscardRequest",
        "RunNowRequest",
        "FailedItem",
        "Report",
        "Submission",
        "Quota",
        "Error",
    ):
        spec.components.schema(name, schema=getattr(ops_schemas, f"{name}Schema"))
    for path, operations in copy.deepcopy(PATHS).items():  # apispec edits what it is given
        for operation in operations.values():
            operation["security"] = [{"admin": []}]
            for name in ("submission_id", "lead_id"):
                if "{" + name + "}" in path:
                    operation.setdefault("parameters", []).append(
                        {"in": "path", "name": name, "required": True, "schema": {"type": "string"}}
                    )
        spec.path(path=path, operations=operations)
    return spec.to_dict()


@bp.get("/v1/openapi.json")
def openapi() -> Response:
    return jsonify(build_spec())
