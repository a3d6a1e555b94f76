"""Typeform: a ``form_response`` webhook, its answers matched to questions by type, ref and title.

An answer says what kind of value it holds (``email``, ``phone_number``, ``text`` ...) and which field
it answers; the question's wording is in ``definition.fields``. Email and phone questions are known by
type. Everything else is a short text, so a person field is recognised by the field's ``ref`` (readable
when set through Typeform's Create API: ``name``, ``city``, ``message``, through the website forms'
alias table) or, for the name, by the question's title. Hidden fields carry the UTMs.
intake-formats.md §7.1. Typeform documents no test-response marker. Webhooks are signed
(``Typeform-Signature: sha256=<base64 HMAC>``). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import ValidationError, pre_load

from core.sources.common import (
    Answer,
    PlatformLeadSchema,
    lead_data,
    read_or_unreadable,
    readable_label,
    require_list,
    require_object,
    resolve_path,
    text_at,
)
from core.sources.forms import (
    ATTRIBUTION_ALIASES,
    FIELD_BY_ALIAS,
    ROLE_BY_TITLE,
    TAGGED_ATTRIBUTION,
    flatten_value,
    fold_key,
)
from core.sources.incoming import Incoming, ignored, with_answers
from core.sources.signatures import verify_base64_signature
from core.sources.source import Source, SourceConfig, WebhookRequest, require_signature

SIGNATURE_HEADER = "Typeform-Signature"
RESPONSE_EVENT = "form_response"  # a finished response; partial ones are other event types

ROLE_BY_TYPE = {"email": "email", "phone_number": "phone"}


def idempotency_key(payload: Any) -> str:
    """The response token: one per submission, the same on every retry of its delivery."""
    token = text_at(payload, "form_response.token")
    if not token:
        raise ValidationError({"form_response.token": ["A Typeform response needs its token."]})
    return token


class TypeformLeadSchema(PlatformLeadSchema):
    """A Typeform ``form_response`` webhook body, loaded into the Rotor upsert body."""

    default_source = "typeform"
    base_tags = ("typeform",)

    @pre_load
    def _map_response(self, data: Any, **kwargs: Any) -> dict[str, Any]:
        response = require_object(require_object(data).get("form_response"), "form_response")
        items = require_list(response.get("answers"), "form_response.answers")
        definitions = resolve_path(response, "definition.fields")
        questions = {
            text_at(field, "id"): field
            for field in (definitions if isinstance(definitions, list) else ())
            if isinstance(field, Mapping)
        }
        answers = [_answer(item, questions, f"form_response.answers.{i}") for i, item in enumerate(items)]
        hidden, attribution = _split_hidden(resolve_path(response, "hidden"))
        attribution = {
            "response_id": text_at(response, "token"),
            "form_id": text_at(response, "form_id"),
            "form_title": text_at(response, "definition.title"),
            "submitted_at": text_at(response, "submitted_at"),
            **attribution,
        }
        tags = [f"{key}:{attribution[key]}" for key in TAGGED_ATTRIBUTION if attribution.get(key)]
        return lead_data([*answers, *hidden], attribution, tags)


class TypeformSource(Source):
    """Signed ``form_response`` webhooks, one response with its answers each."""

    type = "typeform"
    schema_class = TypeformLeadSchema

    def authenticate(self, source: SourceConfig, request: WebhookRequest) -> None:
        require_signature(source, request, SIGNATURE_HEADER, verify_base64_signature)

    def parse(self, source: SourceConfig, request: WebhookRequest, schema: PlatformLeadSchema) -> list[Incoming]:
        payload = request.payload
        if isinstance(payload, dict) and payload.get("event_type", RESPONSE_EVENT) != RESPONSE_EVENT:
            return ignored(payload, f"not a finished response (event_type {payload.get('event_type')!r})")
        return [with_answers(schema, payload, read_or_unreadable(idempotency_key, payload), "Typeform response")]


SOURCE = TypeformSource()


def _answer(item: Any, questions: Mapping[str | None, Mapping[str, Any]], where: str) -> Answer:
    item = require_object(item, where)
    kind = text_at(item, "type") or ""
    question = questions.get(text_at(item, "field.id"), {})
    ref = text_at(item, "field.ref") or text_at(question, "ref") or ""
    title = text_at(question, "title") or ""
    return _role(kind, ref, title), title or readable_label(ref) or "Answer", _value(item, kind) or ""


def _role(kind: str, ref: str, title: str) -> str | None:
    if kind in ROLE_BY_TYPE:
        return ROLE_BY_TYPE[kind]
    if fold_key(ref) in FIELD_BY_ALIAS:
        return FIELD_BY_ALIAS[fold_key(ref)]
    wording = title.lower()
    return next((role for role, pattern in ROLE_BY_TITLE if pattern.search(wording)), None)


def _value(item: Mapping[str, Any], kind: str) -> str | None:
    # The value sits under the key its type names; choices carry a label or an "other" text.
    value = item.get(kind)
    if kind == "choice" and isinstance(value, Mapping):
        value = value.get("label") or value.get("other")
    elif kind == "choices" and isinstance(value, Mapping):
        labels = value.get("labels")
        value = [*(labels if isinstance(labels, list) else ()), value.get("other")]
    return flatten_value(value)


def _split_hidden(hidden: Any) -> tuple[list[Answer], dict[str, str | None]]:
    # UTMs and click ids are attribution, as on the website forms; other hidden fields are answers.
    answers: list[Answer] = []
    attribution: dict[str, str | None] = {}
    for key, value in hidden.items() if isinstance(hidden, Mapping) else ():
        folded = fold_key(key)
        if folded.startswith("utm_") or folded in ATTRIBUTION_ALIASES:
            attribution[ATTRIBUTION_ALIASES.get(folded, folded)] = flatten_value(value)
        else:
            answers.append((None, readable_label(key), flatten_value(value) or ""))
    return answers, attribution
