"""Jotform: a multipart post whose ``rawRequest`` part holds the answers as a JSON string.

intake-formats.md §7.3 [3p]: the parts are ``formID``, ``submissionID``, ``formTitle``, ``pretty``, ``ip``
... and ``rawRequest``, keyed ``q<N>_<uniqueName>``. The unique name is the question's label in camel
case (``q5_yourPhone``), so it is the label here, made readable. Name, address and phone questions send
objects whose parts say what they are, so those become the lead's own fields; dates are written out.
A preview from the form builder carries ``"preview":"true"`` in ``rawRequest``. ``submissionID`` is the
dedupe key. Jotform does not sign its posts. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from core.sources.common import add_answer, exact_id, json_object, readable_label, text_at
from core.sources.form_tool import FormTool, ToolPost, ToolSubmission
from core.sources.forms import flatten_value

RAW_REQUEST = "rawRequest"
QUESTION_KEY = re.compile(r"^q\d+_(?P<unique_name>.+)$")
# rawRequest's other keys (slug, event_id, buildDate, jsExecutionTracker ...) are Jotform's bookkeeping.

NAME_PARTS = {"first_name": ("prefix", "first", "middle"), "last_name": ("last", "suffix")}
ADDRESS_PARTS = {
    "address_street1": "addr_line1",
    "address_street2": "addr_line2",
    "address_city": "city",
    "address_state": "state",
    "address_zip": "postal",
    "address_country": "country",
}


class Jotform(FormTool):
    """Jotform's "Send Post Data" webhook."""

    name = "jotform"
    title = "Jotform"

    def recognises(self, post: ToolPost) -> bool:
        """True for a post with Jotform's ``formID`` and its ``submissionID`` or ``rawRequest``."""
        keys = post.fields.keys()
        return "formID" in keys and ("submissionID" in keys or RAW_REQUEST in keys)

    def unwrap(self, post: ToolPost) -> ToolSubmission:
        """The answers in ``rawRequest``, each under its label or the lead field it is."""
        answers = json_object(post.fields.get(RAW_REQUEST), RAW_REQUEST)
        fields: dict[str, Any] = {}
        for key, value in answers.items():
            match = QUESTION_KEY.match(key)
            if match:
                _add_answer(fields, readable_label(match["unique_name"]), value)
        form_title = text_at(post.fields, "formTitle")
        if form_title:
            fields.setdefault("Form", form_title)
        preview = text_at(answers, "preview")
        return ToolSubmission(
            fields=fields,
            platform_id=exact_id(post.fields.get("submissionID"), "submissionID"),
            test="a Jotform preview submission" if preview and preview.lower() == "true" else None,
        )


TOOL = Jotform()


def _add_answer(fields: dict[str, Any], label: str, value: Any) -> None:
    """One answer into ``fields``: a composite's parts under the lead's field names the first time one
    is seen (a second name or address, say a contact's, stays whole under its label)."""
    if isinstance(value, Mapping):
        parts, value = _composite(value)
        if parts and not fields.keys() & parts.keys():
            fields.update(parts)
            return
    text = flatten_value(value)
    if text and text.strip():
        add_answer(fields, label, text)


def _composite(value: Mapping[str, Any]) -> tuple[dict[str, str], Any]:
    """A composite answer's parts by lead field (name, address, phone), and the answer as one text."""
    if "first" in value or "last" in value:
        parts = {field: _joined(value, keys) for field, keys in NAME_PARTS.items()}
        separator = " "
    elif "addr_line1" in value or "postal" in value:
        parts = {field: _joined(value, (key,)) for field, key in ADDRESS_PARTS.items()}
        separator = ", "
    elif "full" in value or {"area", "phone"} <= value.keys():
        # The older phone field splits the number: "561 5550142" reads like any other.
        parts = {"phone": _joined(value, ("full",)) or _joined(value, ("area", "phone"))}
        separator = ""
    elif {"month", "day", "year"} <= value.keys():
        date = "-".join(_parts(value, ("year", "month", "day")))
        clock = ":".join(_parts(value, ("hour", "min")))  # a date field with its time shown
        return {}, " ".join(text for text in (date, clock, _joined(value, ("ampm",))) if text)
    else:
        return {}, value  # another widget's object: kept whole, as JSON
    parts = {field: text for field, text in parts.items() if text}
    return parts, separator.join(parts.values())


def _joined(value: Mapping[str, Any], keys: tuple[str, ...]) -> str:
    return " ".join(_parts(value, keys))


def _parts(value: Mapping[str, Any], keys: tuple[str, ...]) -> list[str]:
    texts = (flatten_value(value.get(key)) for key in keys)
    return [text.strip() for text in texts if text and text.strip()]
