"""TikTok Lead Generation (Instant Forms): the callback carries the answers, several leads per body.

The evidence is third-party (intake-formats.md §4): TikTok's lead-webhook reference was not readable,
so the shape is the one public adapters parse and quote from TikTok's Business API docs. ``object: 1``
marks a lead callback; the same URL also receives ad-review and other notices, which yield no leads.
Each ``entry`` is one lead; its ids are 19-digit JSON numbers, kept as exact strings. TikTok's test
leads are made through its API and carry no marker in the callback, so there is no test check here.
The callback is signed (``X-Open-Signature``, see ``signatures.verify_tiktok_signature``). Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, pre_load

from core.sources.common import (
    PREFILLED_QUESTION_ROLES,
    Answer,
    PlatformLeadSchema,
    Unreadable,
    exact_id,
    lead_data,
    readable_label,
    require_list,
    require_object,
)
from core.sources.forms import flatten_value, fold_key
from core.sources.incoming import Incoming, ignored, parsed, unreadable, with_answers
from core.sources.signatures import verify_tiktok_signature
from core.sources.source import Source, SourceConfig, WebhookRequest, require_proof

SIGNATURE_HEADER = "X-Open-Signature"
ALT_SIGNATURE_HEADER = "X-Tt-Signature"  # accepted too: the same signature under another name
LEAD_OBJECT = "1"
# Keys of TikTok's prefilled questions (third-party adapters); anything else is a custom question,
# keyed by its text.
STANDARD_KEYS = {
    **PREFILLED_QUESTION_ROLES,
    "name": "name",
    "phone": "phone",
    "address": "address_street1",
    "postal_code": "address_zip",
}
ID_FIELDS = ("advertiser_id", "campaign_id", "adgroup_id", "ad_id")


def tiktok_leads(payload: Any) -> list[dict[str, Any] | Unreadable] | None:
    """The lead entries of a verified callback body, an ``Unreadable`` for an entry without its id;
    None for another kind of notice. ValidationError if it is no callback (an object with a list of entries)."""
    body = require_object(payload)
    if str(body.get("object")) != LEAD_OBJECT:
        return None
    entries = require_list(body.get("entry"), "entry")
    return [_entry(entry, f"entry.{i}") for i, entry in enumerate(entries)]


def _entry(entry: Any, where: str) -> dict[str, Any] | Unreadable:
    try:
        idempotency_key(require_object(entry, where), where=f"{where}.id")
    except ValidationError as exc:
        return Unreadable(entry, exc.normalized_messages())
    return dict(entry)


def idempotency_key(entry: Any, *, where: str = "id") -> str:
    """The lead id of one entry, as an exact string: TikTok retries for up to 72 hours."""
    lead_id = exact_id(require_object(entry).get("id"), where)
    if lead_id is None:
        raise ValidationError({where: ["A TikTok lead entry needs its id."]})
    return lead_id


class TikTokLeadSchema(PlatformLeadSchema):
    """One lead entry of a TikTok callback, loaded into the Rotor upsert body."""

    default_source = "tiktok"
    base_tags = ("tiktok",)

    @pre_load
    def _map_entry(self, data: Any, **kwargs: Any) -> dict[str, Any]:
        entry = require_object(data)
        changes = require_list(entry.get("changes"), "changes")
        answers = [_change_answer(change, f"changes.{i}") for i, change in enumerate(changes)]
        attribution = {
            "lead_id": idempotency_key(entry),
            "create_time": flatten_value(entry.get("create_time")),
            "form_id": exact_id(entry.get("page_id"), "page_id"),  # TikTok calls the instant form a page
            **{key: exact_id(entry.get(key), key) for key in ID_FIELDS},
            "lead_source": flatten_value(entry.get("lead_source")),
        }
        return lead_data(answers, attribution)


def _change_answer(change: Any, where: str) -> Answer:
    change = require_object(change, where)
    field = change.get("field")
    if not isinstance(field, str) or not field.strip():
        raise ValidationError({f"{where}.field": ["Each change needs the question it answers."]})
    return STANDARD_KEYS.get(fold_key(field)), readable_label(field), flatten_value(change.get("value")) or ""


class TikTokSource(Source):
    """Signed callbacks, each carrying several leads with their answers."""

    type = "tiktok"
    schema_class = TikTokLeadSchema

    def authenticate(self, source: SourceConfig, request: WebhookRequest) -> None:
        header = request.header(SIGNATURE_HEADER) or request.header(ALT_SIGNATURE_HEADER)
        verified = verify_tiktok_signature(header, secret=source.secret or "", body=request.body)
        require_proof(verified, SIGNATURE_HEADER)

    def parse(self, source: SourceConfig, request: WebhookRequest, schema: PlatformLeadSchema) -> list[Incoming]:
        payload = request.payload
        entries = parsed(tiktok_leads, payload, "TikTok lead")
        if entries is None:
            return ignored(payload, f"not a lead callback (object {payload.get('object')!r})")
        return [
            unreadable(entry, "TikTok lead entry")
            if isinstance(entry, Unreadable)
            else with_answers(schema, entry, idempotency_key(entry), "TikTok lead entry")
            for entry in entries
        ]


SOURCE = TikTokSource()
