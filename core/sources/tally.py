"""Tally: a ``FORM_RESPONSE`` webhook, each answer with its question's label, type and options.

Body ``{eventId, eventType: "FORM_RESPONSE", createdAt, data: {responseId, submissionId, respondentId,
formId, formName, createdAt, fields: [{key, label, type, value, options?}]}}``: an answer is kept under
its label, except that an ``INPUT_EMAIL`` or ``INPUT_PHONE_NUMBER`` answer is the lead's email or phone,
and a text answer whose label asks for a name is the name (Typeform's title rules). Choice answers
hold option ids, resolved through ``options[{id, text}]``; ``HIDDEN_FIELDS`` carry the UTMs under their
own names. Signed only when the webhook has a signing secret: ``Tally-Signature`` = base64
HMAC-SHA256(secret, body), no timestamp. intake-formats.md §7.8 [doc]. Tally documents no test
response. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.sources.common import add_answer, exact_id, require_list, require_object, text_at
from core.sources.form_tool import FormTool, ToolPost, ToolSubmission
from core.sources.forms import FIELD_BY_ALIAS, ROLE_BY_TITLE, flatten_value, fold_key
from core.sources.signatures import verify_base64_signature

RESPONSE_EVENT = "FORM_RESPONSE"
ROLE_BY_TYPE = {"INPUT_EMAIL": "email", "INPUT_PHONE_NUMBER": "phone"}
CHOICE_TYPES = frozenset({"MULTIPLE_CHOICE", "DROPDOWN", "CHECKBOXES", "MULTI_SELECT", "RANKING"})


class Tally(FormTool):
    """Tally's form webhook (one response per post)."""

    name = "tally"
    title = "Tally"
    signature_header = "Tally-Signature"

    def recognises(self, post: ToolPost) -> bool:
        """True for Tally's envelope: ``eventId``/``eventType`` around ``data``, or ``data.fields`` with a
        ``responseId``."""
        fields = post.fields
        if isinstance(fields.get("eventType"), str) and "eventId" in fields and "data" in fields:
            return True
        data = fields.get("data")
        return isinstance(data, Mapping) and "responseId" in data and isinstance(data.get("fields"), list)

    def unwrap(self, post: ToolPost) -> ToolSubmission:
        """The answers under their labels (or the lead field their type names), with the response id."""
        event = post.fields.get("eventType", RESPONSE_EVENT)
        if event != RESPONSE_EVENT:
            return ToolSubmission({}, ignored=f"not a form response (eventType {event!r})")
        data = require_object(post.fields.get("data"), "data")
        answers = require_list(data.get("fields"), "data.fields")
        items = [require_object(item, f"data.fields.{i}") for i, item in enumerate(answers)]
        fields: dict[str, Any] = {}
        for item in items:
            if _is_option_echo(item, items):
                continue
            value = _value(item)
            if value in (None, "", []):
                continue
            key = _key(item, fields)
            add_answer(fields, key, value)
        form_name = text_at(data, "formName")
        if form_name:
            fields.setdefault("Tally form", form_name)
        # The response id, not the event id: every retry (Tally's five, or a manual one) resends the event,
        # but a response sent again through another webhook comes as a new event with the same responseId.
        platform_id = exact_id(data.get("responseId") or data.get("submissionId"), "data.responseId")
        return ToolSubmission(fields, platform_id=platform_id or exact_id(post.fields.get("eventId"), "eventId"))

    def verify(self, post: ToolPost, *, secret: str, now: float) -> bool:
        """``Tally-Signature``: base64 HMAC-SHA256(signing secret, body), with no prefix."""
        return verify_base64_signature(post.header(self.signature_header), secret=secret, body=post.body, prefix="")


TOOL = Tally()


def _key(item: Mapping[str, Any], fields: Mapping[str, Any]) -> str:
    """The field's key: the lead field its type or label names (the first time), else its label."""
    label = (text_at(item, "label") or "").strip() or text_at(item, "key") or "Answer"
    kind = text_at(item, "type") or ""
    role = ROLE_BY_TYPE.get(kind)
    if role is None and kind in ("INPUT_TEXT", "") and fold_key(label) not in FIELD_BY_ALIAS:
        # "What's your name?" is no alias, but says what the answer is.
        role = next((name for name, pattern in ROLE_BY_TITLE if pattern.search(label.lower())), None)
    return role if role and role not in fields else label


def _value(item: Mapping[str, Any]) -> Any:
    """The answer as text or a list of texts: option ids as their texts, uploads as their URLs."""
    value = item.get("value")
    options = item.get("options")
    if text_at(item, "type") in CHOICE_TYPES and isinstance(options, list):
        texts = {text_at(option, "id"): text_at(option, "text") for option in options if isinstance(option, Mapping)}
        if isinstance(value, list):
            return [texts.get(flatten_value(choice)) or choice for choice in value]
        return texts.get(flatten_value(value)) or value
    if isinstance(value, list):
        return [v.get("url") or v.get("name") if isinstance(v, Mapping) else v for v in value]
    return value


def _is_option_echo(item: Mapping[str, Any], items: list[Mapping[str, Any]]) -> bool:
    """True for the ``true``/``false`` entry Tally adds per option of a checkbox question (label
    ``"Question (Option)"``), which repeats what the question's own entry already says [3p]."""
    if not isinstance(item.get("value"), bool) or text_at(item, "type") not in CHOICE_TYPES:
        return False
    key, label = text_at(item, "key") or "", text_at(item, "label") or ""
    return any(
        isinstance(group.get("options"), list)
        and (key.startswith(f"{text_at(group, 'key')}_") or label.startswith(f"{text_at(group, 'label')} ("))
        for group in items
        if group is not item
    )
