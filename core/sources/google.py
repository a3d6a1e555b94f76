"""Google Ads lead form webhooks: the POST body carries the answers, so one schema makes the Rotor body.

Google signs nothing; it puts the advertiser's ``google_key`` in the body. ``GoogleSource`` checks it
with ``signatures.secrets_equal`` before loading anything, and never keeps it with the lead. The
schema is Google's ``WebhookLead`` proto as JSON: its ids are int64 numbers (kept as exact strings),
Google says to ignore fields it adds later, and one doc sample spells ``Google_key``, so top-level keys
are read case-insensitively. intake-formats.md §3. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from marshmallow import EXCLUDE, Schema, fields, post_load, pre_load

from core.sources.common import (
    Answer,
    ExactId,
    PlatformLeadSchema,
    Unreadable,
    exact_id,
    lead_data,
    read_or_unreadable,
    readable_label,
    require_object,
)
from core.sources.forms import flatten_value
from core.sources.incoming import Incoming, load_lead, unreadable
from core.sources.signatures import secrets_equal
from core.sources.source import Source, SourceConfig, WebhookRequest, require_proof

KEY_FIELD = "google_key"  # the advertiser's shared key, sent in the body

# column_id → role. Google's API enum says GIVEN_NAME / FAMILY_NAME; captured payloads say FIRST_NAME /
# LAST_NAME. Other ids (COMPANY_NAME, JOB_TITLE, qualifying and custom questions) go to the notes.
COLUMNS = {
    "FULL_NAME": "name",
    "FIRST_NAME": "first_name",
    "GIVEN_NAME": "first_name",
    "LAST_NAME": "last_name",
    "FAMILY_NAME": "last_name",
    "EMAIL": "email",
    "WORK_EMAIL": "work_email",
    "PHONE_NUMBER": "phone",
    "WORK_PHONE": "work_phone",
    "STREET_ADDRESS": "address_street1",
    "CITY": "address_city",
    "REGION": "address_state",
    "POSTAL_CODE": "address_zip",
    "COUNTRY": "address_country",
}
ID_FIELDS = ("form_id", "campaign_id", "adgroup_id", "creative_id", "asset_group_id")


@dataclass(frozen=True)
class GoogleLeadRef:
    """What the view needs before loading a delivery: the dedupe key, the shared secret, the test flag."""

    lead_id: str
    google_key: str | None
    is_test: bool


class _EnvelopeSchema(Schema):
    error_messages = {"type": "A Google lead must be a JSON object."}

    class Meta:
        unknown = EXCLUDE

    lead_id = ExactId(required=True, error_messages={"required": "A Google lead needs its lead_id."})
    user_column_data = fields.List(
        fields.Raw(),
        required=True,
        error_messages={
            "required": "A Google lead needs user_column_data, its list of answers.",
            "invalid": "user_column_data must be a list.",
        },
    )
    google_key = fields.String(load_default=None)
    is_test = fields.Boolean(load_default=False)

    @pre_load
    def _fold_keys(self, data: Any, **kwargs: Any) -> Any:
        return _lower_keys(data)

    @post_load
    def _to_ref(self, data: dict[str, Any], **kwargs: Any) -> GoogleLeadRef:
        return GoogleLeadRef(lead_id=data["lead_id"], google_key=data["google_key"], is_test=data["is_test"])


def parse_google_payload(payload: Any) -> GoogleLeadRef:
    """The delivery's lead_id, google_key and test flag; ValidationError without a lead_id or answers."""
    return _EnvelopeSchema().load(payload)


def is_google_test_lead(payload: Any) -> bool:
    """True for the form editor's "Send test data" deliveries (``is_test: true``)."""
    return isinstance(payload, Mapping) and _lower_keys(payload).get("is_test") is True


def idempotency_key(payload: Any) -> str:
    """Google's lead_id, unique across all forms; Google itself says to dedupe on it."""
    return parse_google_payload(payload).lead_id


class GoogleLeadSchema(PlatformLeadSchema):
    """A Google Ads lead form delivery, loaded into the Rotor upsert body."""

    default_source = "google-ads"
    base_tags = ("google-ads",)

    @pre_load
    def _map_columns(self, data: Any, **kwargs: Any) -> dict[str, Any]:
        ref = parse_google_payload(data)
        body = _lower_keys(data)
        answers = [_column_answer(column, i) for i, column in enumerate(body["user_column_data"])]
        attribution = {
            "lead_id": ref.lead_id,
            "lead_submit_time": flatten_value(body.get("lead_submit_time")),
            "gclid": flatten_value(body.get("gcl_id")),  # the website forms' name for the same click id
            **{key: exact_id(body.get(key), key) for key in ID_FIELDS},
            "lead_stage": flatten_value(body.get("lead_stage")),
        }
        return lead_data(answers, attribution)


class GoogleSource(Source):
    """A lead form delivery carrying its answers, authenticated by the shared key in its body."""

    type = "google"
    schema_class = GoogleLeadSchema
    default_secret_env = "GOOGLE_LEAD_FORM_KEY"

    def authenticate(self, source: SourceConfig, request: WebhookRequest) -> None:
        # The key first: an unauthenticated body is told only that (401), nothing about its shape.
        payload = request.payload
        given = [v for k, v in payload.items() if k.lower() == KEY_FIELD] if isinstance(payload, dict) else []
        require_proof(len(given) == 1 and secrets_equal(given[0], source.secret or ""), KEY_FIELD)

    def parse(self, source: SourceConfig, request: WebhookRequest, schema: PlatformLeadSchema) -> list[Incoming]:
        payload = request.payload
        kept = {k: v for k, v in payload.items() if k.lower() != KEY_FIELD}  # a secret is never stored
        ref = read_or_unreadable(parse_google_payload, payload)
        if isinstance(ref, Unreadable):
            return [unreadable(Unreadable(kept, ref.problem), "Google Ads lead")]
        lead, problem = load_lead(schema, payload, test=ref.is_test)
        return [Incoming(ref.lead_id, kept, lead=lead, problem=problem, test=ref.is_test)]


SOURCE = GoogleSource()


def _column_answer(column: Any, index: int) -> Answer:
    column = require_object(column, f"user_column_data.{index}")
    column_id = (flatten_value(column.get("column_id")) or "").strip().upper()
    # column_name is Google's label for the question and "might not always be populated".
    label = flatten_value(column.get("column_name")) or readable_label(column_id) or f"Question {index + 1}"
    return COLUMNS.get(column_id), label, flatten_value(column.get("string_value")) or ""


def _lower_keys(data: Any) -> Any:
    if not isinstance(data, Mapping):
        return data
    return {key.lower() if isinstance(key, str) else key: value for key, value in data.items()}
