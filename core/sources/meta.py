"""Meta (Facebook / Instagram) Lead Ads: the webhook notification, the Graph lead, test leads.

Meta's webhook only says that leads exist (ids, no answers), so this source is two pure halves around
one Graph API read the worker makes: ``parse_leadgen_notification`` turns a verified POST body into
``MetaLeadRef``s (an ``Unreadable`` for a change that names no lead), and ``MetaLeadSchema`` turns the answer of
``GET /{leadgen_id}?fields=GRAPH_LEAD_FIELDS`` into the Rotor body. Test leads from Meta's testing
tool carry placeholder answers that fail validation, so check ``is_meta_test_lead`` before loading.
``MetaSource`` puts them together, configured by the META_* variables. intake-formats.md §2. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import quote

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, pre_load

from core.errors import Forbidden, LeadReadRefused, LeadReadUnavailable
from core.sources.common import (
    PREFILLED_QUESTION_ROLES,
    Answer,
    ExactId,
    PlatformLeadSchema,
    Unreadable,
    exact_id,
    lead_data,
    readable_label,
    require_list,
    require_object,
)
from core.sources.forms import flatten_value, fold_key
from core.sources.incoming import Incoming, parsed, unreadable
from core.sources.lead_read import LeadAnswer, LeadRequest
from core.sources.signatures import secrets_equal, verify_hex_signature
from core.sources.source import Handshake, Setting, Source, SourceConfig, WebhookRequest, require_signature

SIGNATURE_HEADER = "X-Hub-Signature-256"
VERIFY_TOKEN = Setting("verify_token", "secret", env="META_VERIFY_TOKEN")
ACCESS_TOKEN = Setting("access_token", "secret", env="META_ACCESS_TOKEN")  # the Page token the Graph read uses
GRAPH_URL = Setting("graph_url", "url", env="META_GRAPH_URL", default="https://graph.facebook.com/v21.0")
# Graph error codes that mean "later": app, user and page rate limits, the lead-ads bucket, temporary errors.
GRAPH_TRANSIENT_CODES = {1, 2, 4, 17, 32, 341, 613, 80001, 80005}
INVALID_TOKEN_CODE = 190

# The default answer has only id, created_time and field_data; attribution must be asked for.
GRAPH_LEAD_FIELDS = (
    "id,created_time,field_data,form_id,ad_id,ad_name,adset_id,adset_name,campaign_id,campaign_name,is_organic,platform"
)
# field_data keys of Meta's prefilled questions (intake-formats.md §2.4), by role; anything else is a
# custom question (key = a slug of its text) or a prefilled one with no Rotor field (job_title ...).
STANDARD_KEYS = {**PREFILLED_QUESTION_ROLES, "post_code": "address_zip"}
# Meta's CSV export tags values with their type (p:+15615550142, z:201305). Graph answers are not known
# to, but a lead pasted from an export would, and the tag breaks phone and zip validation.
TYPE_PREFIXES = {"phone": "p:", "work_phone": "p:", "address_zip": "z:"}
ATTRIBUTION_IDS = ("form_id", "campaign_id", "adset_id", "ad_id")
ATTRIBUTION_NAMES = ("campaign_name", "adset_name", "ad_name")
# The testing tool's placeholders ("<test lead: dummy data for full_name>") and its email addresses.
TEST_PLACEHOLDER = "<test lead"
TEST_EMAILS = frozenset({"test@meta.com", "test@fb.com"})
_ANY_TYPE_PREFIX = re.compile(r"^[a-z]:")


@dataclass(frozen=True)
class MetaLeadRef:
    """One lead announced by a leadgen notification: what the Graph read and the dedupe need."""

    leadgen_id: str
    page_id: str | None = None
    form_id: str | None = None
    ad_id: str | None = None
    adgroup_id: str | None = None
    created_time: int | None = None  # Unix seconds


class _LeadgenValueSchema(Schema):
    error_messages = {"type": "A leadgen change's value must be a JSON object."}

    class Meta:
        unknown = EXCLUDE

    leadgen_id = ExactId(required=True, error_messages={"required": "A leadgen change needs its leadgen_id."})
    page_id = ExactId(load_default=None)
    form_id = ExactId(load_default=None)
    ad_id = ExactId(load_default=None)
    adgroup_id = ExactId(load_default=None)
    created_time = fields.Integer(load_default=None)

    @post_load
    def _to_ref(self, data: dict[str, Any], **kwargs: Any) -> MetaLeadRef:
        return MetaLeadRef(**data)


class _ChangeSchema(Schema):
    error_messages = {"type": "Each change must be a JSON object."}

    class Meta:
        unknown = EXCLUDE

    field = fields.String(load_default=None)
    value = fields.Raw(load_default=None)

    @post_load
    def _leadgen_ref(self, data: dict[str, Any], **kwargs: Any) -> MetaLeadRef | Unreadable | None:
        if data["field"] != "leadgen":
            return None  # a Page subscription can carry other fields (feed, mention ...); they are not leads
        try:
            return _LeadgenValueSchema().load(data["value"])
        except ValidationError as exc:
            if isinstance(exc.valid_data, dict) and "leadgen_id" in exc.valid_data:
                return MetaLeadRef(**exc.valid_data)  # only optional attribution was off: the lead is read all the same
            return Unreadable(data["value"], {"value": exc.normalized_messages()})


class _EntrySchema(Schema):
    error_messages = {"type": "Each entry must be a JSON object."}

    class Meta:
        unknown = EXCLUDE

    changes = fields.List(fields.Nested(_ChangeSchema), load_default=list)


class _NotificationSchema(Schema):
    error_messages = {"type": "A Meta notification must be a JSON object."}

    class Meta:
        unknown = EXCLUDE

    entry = fields.List(
        fields.Nested(_EntrySchema),
        required=True,
        error_messages={
            "required": "A Meta notification needs its entry list.",
            "invalid": "entry must be a list.",
        },
    )

    @post_load
    def _refs(self, data: dict[str, Any], **kwargs: Any) -> list[MetaLeadRef | Unreadable]:
        # One POST can batch several entries, each with several changes.
        return [ref for entry in data["entry"] for ref in entry["changes"] if ref is not None]


def parse_leadgen_notification(payload: Any) -> list[MetaLeadRef | Unreadable]:
    """The leads announced by a verified webhook body, in order, an ``Unreadable`` for a change that
    names none; raises ValidationError if the body is not a notification (no list of entries)."""
    return _NotificationSchema().load(payload)


def idempotency_key(ref: MetaLeadRef) -> str:
    """Meta resends for up to 36 hours with no delivery id of its own; the leadgen_id identifies the lead."""
    return ref.leadgen_id


class MetaLeadSchema(PlatformLeadSchema):
    """A Graph API lead object, loaded into the Rotor upsert body."""

    default_source = "meta"
    base_tags = ("meta",)

    @pre_load
    def _map_graph_lead(self, data: Any, **kwargs: Any) -> dict[str, Any]:
        lead = require_object(data)
        items = require_list(lead.get("field_data"), "field_data")
        answers = [_field_answer(item, f"field_data.{i}") for i, item in enumerate(items)]
        platform = flatten_value(lead.get("platform"))
        attribution = {
            "lead_id": exact_id(lead.get("id"), "id"),
            "created_time": flatten_value(lead.get("created_time")),
            **{key: _attribution_id(lead.get(key), key) for key in ATTRIBUTION_IDS},
            **{key: flatten_value(lead.get(key)) for key in ATTRIBUTION_NAMES},
            "platform": platform,
            "is_organic": flatten_value(lead.get("is_organic")),
        }
        return lead_data(answers, attribution, tags=[f"platform:{platform}"] if platform else [])


def is_meta_test_lead(graph_lead: Any) -> bool:
    """True for a lead made by Meta's testing tool: there is no flag, only placeholders and test emails."""
    items = graph_lead.get("field_data") if isinstance(graph_lead, Mapping) else None
    for item in items if isinstance(items, list) else ():
        values = item.get("values") if isinstance(item, Mapping) else None
        for value in values if isinstance(values, list) else ():
            text = _ANY_TYPE_PREFIX.sub("", str(value).strip().lower(), count=1)
            if text.startswith(TEST_PLACEHOLDER) or text in TEST_EMAILS:
                return True
    return False


def _field_answer(item: Any, where: str) -> Answer:
    if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
        raise ValidationError({where: ["Each field_data item needs a name and a list of values."]})
    role = STANDARD_KEYS.get(fold_key(item["name"]))
    value = flatten_value(item.get("values")) or ""
    if role in TYPE_PREFIXES:
        value = value.removeprefix(TYPE_PREFIXES[role])
    return role, readable_label(item["name"]), value


def _attribution_id(value: Any, field: str) -> str | None:
    # Organic and Ad Preview leads (and test leads) report ad ids as missing or "0".
    text = exact_id(value, field)
    return None if text == "0" else text


class MetaSource(Source):
    """Signed notifications announcing leads by id; each lead is read from the Graph API."""

    type = "meta"
    schema_class = MetaLeadSchema
    settings = (VERIFY_TOKEN, ACCESS_TOKEN, GRAPH_URL)
    default_secret_env = "META_APP_SECRET"

    def authenticate(self, source: SourceConfig, request: WebhookRequest) -> None:
        require_signature(source, request, SIGNATURE_HEADER, verify_hex_signature)

    def parse(self, source: SourceConfig, request: WebhookRequest, schema: PlatformLeadSchema) -> list[Incoming]:
        refs = parsed(parse_leadgen_notification, request.payload, "Meta leadgen")
        return [
            unreadable(ref, "Meta leadgen change")
            if isinstance(ref, Unreadable)
            else self.announced(idempotency_key(ref), asdict(ref), ref.leadgen_id)
            for ref in refs
        ]

    def handshake(self, source: SourceConfig, request: WebhookRequest) -> Handshake:
        """Echo ``hub.challenge`` to a subscription check that brings the verify token."""
        token = source.settings[VERIFY_TOKEN.name]
        given = request.args.get("hub.verify_token")
        if request.args.get("hub.mode") != "subscribe" or not token or not secrets_equal(given, token):
            raise Forbidden(f"hub.verify_token does not match {VERIFY_TOKEN.env}.")
        return request.args.get("hub.challenge", "")

    def is_test_lead(self, lead: Any) -> bool:
        return is_meta_test_lead(lead)

    def read_request(self, source: SourceConfig, lead_id: str) -> LeadRequest:
        token = source.settings[ACCESS_TOKEN.name]
        if not token:
            raise LeadReadRefused(f"{ACCESS_TOKEN.env} is not set, so Meta leads cannot be read")
        return LeadRequest(
            f"{source.settings[GRAPH_URL.name]}/{quote(lead_id, safe='')}",
            "Meta Graph",
            params={"fields": GRAPH_LEAD_FIELDS, "access_token": token},
        )

    def read_answer(self, answer: LeadAnswer) -> dict[str, Any]:
        payload = answer.payload
        if answer.status == 200 and isinstance(payload.get("field_data"), list):
            return payload
        detail = payload["error"] if isinstance(payload.get("error"), dict) else {}
        message = f"Meta Graph answered {answer.status}: {detail.get('message') or answer.reason}"
        code = detail.get("code")
        if answer.status >= 500 or code in GRAPH_TRANSIENT_CODES or detail.get("is_transient"):
            raise LeadReadUnavailable(message, http_status=answer.status, error_code=str(code))
        if code == INVALID_TOKEN_CODE:
            message += f" ({ACCESS_TOKEN.env} is invalid or expired)"
        raise LeadReadRefused(message, http_status=answer.status, error_code=str(code) if code else None)


SOURCE = MetaSource()
