"""The ops API's request and response shapes: validated on the way in, and the source of its OpenAPI document."""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate, validates_schema

from core.vocabulary import ErrorClass, SubmissionStatus

# In the enums' order, which the OpenAPI document and ``leadgate failed --help`` show.
ERROR_CLASSES = tuple(error_class.value for error_class in ErrorClass)
STATUSES = tuple(status.value for status in SubmissionStatus)


class WholeNumber(fields.Integer):
    """A whole number, from a query string ("60") or JSON (60); 1.5 is refused, not cut to 1."""

    def _validated(self, value: Any) -> int:
        if isinstance(value, float) and not value.is_integer():
            raise self.make_error("invalid")
        return super()._validated(value)


class FailedQuerySchema(Schema):
    """Which failed submissions: every filter is optional."""

    class Meta:
        unknown = RAISE

    source = fields.String(metadata={"description": "form:<key>, webhook:<name>, or form / webhook"})
    account = fields.String()
    error_class = fields.String(validate=validate.OneOf(ERROR_CLASSES))
    older_than = WholeNumber(validate=validate.Range(min=0), metadata={"description": "seconds since it failed"})
    newer_than = WholeNumber(validate=validate.Range(min=0))
    limit = WholeNumber(validate=validate.Range(min=1, max=10_000))


class JsonBoolean(fields.Boolean):
    """JSON's true or false only; marshmallow's Boolean also takes 0, 1, "yes", "off" (and the
    OpenAPI document says boolean)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class BulkRequestSchema(Schema):
    """Either ``ids``, or ``all`` with optional ``filters``."""

    class Meta:
        unknown = RAISE

    ids = fields.List(fields.String(validate=validate.Length(min=1, max=64)), validate=validate.Length(max=10_000))
    all = JsonBoolean(load_default=False)
    filters = fields.Nested(FailedQuerySchema, load_default=dict)

    @validates_schema
    def _ids_or_all(self, data: dict[str, Any], **kwargs: Any) -> None:
        if bool(data.get("ids")) == bool(data.get("all")):
            raise ValidationError("Give either ids or all=true.", "_schema")


class RunNowRequestSchema(Schema):
    """``POST /v1/ops/deferred/run-now``: no body, or options."""

    class Meta:
        unknown = RAISE

    reset_quota = JsonBoolean(
        load_default=False,
        metadata={"description": "also forget today's request count (only when Rotor's day turned before ours)"},
    )


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
    status = fields.String(validate=validate.OneOf(STATUSES))
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
