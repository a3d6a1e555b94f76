"""The ops API's request and response shapes: validated on the way in, and the source of its OpenAPI document."""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate, validates_schema

ERROR_CLASSES = ("unavailable", "rejected", "auth", "not_found", "quota", "read_refused", "invalid_lead", "crashed")


class FailedQuerySchema(Schema):
    """Which failed submissions: every filter is optional."""

    class Meta:
        unknown = RAISE

    source = fields.String(metadata={"description": "form:<key>, webhook:<name>, or form / webhook"})
    account = fields.String()
    error_class = fields.String(validate=validate.OneOf(ERROR_CLASSES))
    older_than = fields.Integer(validate=validate.Range(min=0), metadata={"description": "seconds since it failed"})
    newer_than = fields.Integer(validate=validate.Range(min=0))
    limit = fields.Integer(validate=validate.Range(min=1, max=10_000))


class BulkRequestSchema(Schema):
    """Either ``ids``, or ``all`` with optional ``filters``."""

    class Meta:
        unknown = RAISE

    ids = fields.List(fields.String(validate=validate.Length(min=1, max=64)), validate=validate.Length(max=10_000))
    all = fields.Boolean(load_default=False)
    filters = fields.Nested(FailedQuerySchema, load_default=dict)

    @validates_schema
    def _ids_or_all(self, data: dict[str, Any], **kwargs: Any) -> None:
        if bool(data.get("ids")) == bool(data.get("all")):
            raise ValidationError("Give either ids or all=true.", "_schema")


class RunNowRequestSchema(Schema):
    """``POST /v1/ops/deferred/run-now``: no body, or options."""

    class Meta:
        unknown = RAISE

    # JSON true or false only: marshmallow would also take 0, "yes", "off" (the OpenAPI says boolean).
    reset_quota = fields.Boolean(load_default=False, truthy={True}, falsy={False}, metadata={
        "description": "also forget today's request count (only when Rotor's day turned before ours)"})  # fmt: skip


class DiscardRequestSchema(Schema):
    class Meta:
        unknown = RAISE

    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class FailedItemSchema(Schema):
    id = fields.String()
    source = fields.String()
    account = fields.String()
    error_class = fields.String(allow_none=True)
    error = fields.String(allow_none=True)
    attempts = fields.Integer()
    failed_at = fields.Float(metadata={"description": "Unix time"})


class ReportSchema(Schema):
    done = fields.Integer()
    ids = fields.List(fields.String())
    skipped = fields.Dict(keys=fields.String(), values=fields.String(), metadata={"description": "id: why"})


class SubmissionSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    id = fields.String()
    source = fields.String()
    status = fields.String(validate=validate.OneOf(
        ["received", "queued", "delivered", "duplicate", "deferred", "failed", "discarded"]))  # fmt: skip
    account = fields.String()
    lead_id = fields.String(allow_none=True)
    rotor_result = fields.String(allow_none=True)
    error = fields.String(allow_none=True)
    error_class = fields.String(allow_none=True)
    received_at = fields.String()
    updated_at = fields.String()
    merged_into = fields.String(allow_none=True)
    duplicate_of = fields.String(allow_none=True)
    lead = fields.Dict(allow_none=True)
    raw = fields.Dict()
    attempts = fields.List(fields.Dict())
    history = fields.List(fields.Dict())


class QuotaSchema(Schema):
    account = fields.String()
    used = fields.Integer()
    limit = fields.Integer()
    remaining = fields.Integer()
    exhausted = fields.Boolean()
    resets_at = fields.String()
    backlog = fields.Integer()
    paused = fields.String(allow_none=True)
    backlog_clears_at = fields.String(allow_none=True)


class ErrorSchema(Schema):
    message = fields.String()
    # {field: [message]}; a list item or nested object has its own {index: [message]} inside.
    errors = fields.Dict(keys=fields.String(), values=fields.Raw())
