"""Gravity Forms: the Webhooks Add-On's "All Fields" body, the Entry Object, as JSON or as form fields.

The entry is keyed by field ids (``"2"``, ``"1.3"``), not labels, and what an id means is per form
(intake-formats.md §7.4 [doc]). What can be told without the form's definition: a multi-input field
whose sub-ids are a Name's (``N.3`` first, ``N.6`` last, with ``N.2`` prefix, ``N.4`` middle, ``N.8``
suffix) or an Address's (``N.1`` street, ``N.2`` line 2, ``N.3`` city, ``N.4`` state, ``N.5`` zip,
``N.6`` country); an email and a phone number by their values' shape. Every other field stays in the
notes as ``Field N``. ``source_url`` is the page, its query the UTMs and click ids (§8). The entry
``id`` is the dedupe key. A "Select Fields" feed with agreed keys is a plain form and needs no tool;
a form's ``fields`` mapping names anything else by id. Gravity Forms does not sign its posts. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from core.sources.common import add_answer, exact_id
from core.sources.form_tool import FormTool, ToolPost, ToolSubmission
from core.sources.forms import flatten_value, query_attribution

FIELD_ID = re.compile(r"^(?P<field>\d+)(?:\.(?P<input>\d+))?$")
# The Entry Object's own properties (docs.gravityforms.com/entry-object); the rest are field ids or
# add-ons' meta. ``source_url`` and ``id`` are read below; the others say nothing about the person.
ENTRY_PROPERTIES = frozenset(
    {
        "id",
        "form_id",
        "post_id",
        "date_created",
        "date_updated",
        "is_starred",
        "is_read",
        "ip",
        "source_url",
        "user_agent",
        "currency",
        "payment_status",
        "payment_date",
        "payment_amount",
        "payment_method",
        "transaction_id",
        "is_fulfilled",
        "created_by",
        "transaction_type",
        "status",
        "source_id",
    }
)
NAME_INPUTS = frozenset({"2", "3", "4", "6", "8"})
NAME_PARTS = {"first_name": ("3", "4"), "last_name": ("6", "8")}  # prefix (.2) goes to the notes
ADDRESS_INPUTS = frozenset({"1", "2", "3", "4", "5", "6"})
ADDRESS_PARTS = {
    "address_street1": "1",
    "address_street2": "2",
    "address_city": "3",
    "address_state": "4",
    "address_zip": "5",
    "address_country": "6",
}
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE = re.compile(r"^\+?[\d\s().\-/]+$")


class GravityForms(FormTool):
    """Gravity Forms' Webhooks Add-On, body "All Fields" (the entry), format JSON or FORM."""

    name = "gravity_forms"
    title = "Gravity Forms"

    def recognises(self, post: ToolPost) -> bool:
        """True for an Entry Object: ``id``, ``form_id`` and keys that are field ids."""
        keys = post.fields.keys()
        return "id" in keys and "form_id" in keys and any(FIELD_ID.match(key) for key in keys)

    def unwrap(self, post: ToolPost) -> ToolSubmission:
        """The entry's fields by what they look like, the page and its UTMs; the entry id."""
        entry = post.fields
        fields: dict[str, Any] = {}
        for field_id, inputs in _fields_by_id(entry).items():
            _add_field(fields, field_id, inputs)
        for key, value in entry.items():
            if not FIELD_ID.match(key) and key not in ENTRY_PROPERTIES and flatten_value(value):
                add_answer(fields, key, value)  # a Select Fields key, or an add-on's meta
        page = flatten_value(entry.get("source_url"))
        if page:
            fields.update({"page_url": page, **query_attribution(page)})
        status = flatten_value(entry.get("status"))
        return ToolSubmission(
            fields,
            platform_id=exact_id(entry.get("id"), "id"),
            ignored="Gravity Forms marked the entry as spam" if status == "spam" else None,
        )


TOOL = GravityForms()


def _fields_by_id(entry: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """Each field's inputs in entry order: ``{"1": {"3": "Ann", "6": "Lee"}, "2": {"": "ann@x.com"}}``."""
    fields: dict[str, dict[str, str]] = {}
    for key, value in entry.items():
        match = FIELD_ID.match(key)
        if match:
            fields.setdefault(match["field"], {})[match["input"] or ""] = (flatten_value(value) or "").strip()
    return fields


def _add_field(fields: dict[str, Any], field_id: str, inputs: Mapping[str, str]) -> None:
    """One field into ``fields``: a name's or an address's parts, an email, a phone, or ``Field N``."""
    parts = _named_parts(inputs)
    if parts is not None and not fields.keys() & parts.keys():
        fields.update({lead_field: text for lead_field, text in parts.items() if text})
        if inputs.get("2") and "first_name" in parts:
            fields[f"Field {field_id} (prefix)"] = inputs["2"]
        return
    values = [text for text in inputs.values() if text]
    if not values:
        return
    lead_field = _lead_field(values[0]) if len(values) == 1 else None
    if lead_field and lead_field not in fields:
        fields[lead_field] = values[0]
    else:
        fields[f"Field {field_id}"] = values[0] if len(values) == 1 else values


def _named_parts(inputs: Mapping[str, str]) -> dict[str, str] | None:
    """A Name's or an Address's parts by lead field, when the field's sub-ids are theirs; else None."""
    subs = inputs.keys()
    if {"3", "6"} <= subs <= NAME_INPUTS:
        return {lead_field: " ".join(inputs[s] for s in ids if inputs.get(s)) for lead_field, ids in NAME_PARTS.items()}
    # Checkboxes use sub-ids .1, .2 ... too, with some left empty: an address has a zip or a house
    # number, and a choice rarely has a digit.
    if {"1", "3", "4", "5"} <= subs <= ADDRESS_INPUTS and (_has_digit(inputs["5"]) or _has_digit(inputs["1"])):
        return {lead_field: inputs.get(sub, "") for lead_field, sub in ADDRESS_PARTS.items()}
    return None


def _has_digit(text: str) -> bool:
    return any(c.isdigit() for c in text)


def _lead_field(value: str) -> str | None:
    """``email`` or ``phone`` when ``value`` has that shape (10 to 15 digits, or ``+`` and 8 or more)."""
    if EMAIL.match(value):
        return "email"
    digits = sum(c.isdigit() for c in value)
    if PHONE.match(value) and (10 <= digits <= 15 or (value.startswith("+") and 8 <= digits <= 15)):
        return "phone"
    return None
