"""Unbounce: a landing page's form post, its answers in ``data.json`` with every value an array.

intake-formats.md §7.6 [doc via API-Evangelist]: urlencoded by default, with ``page_id``, ``page_url``,
``page_name``, ``variant``, ``data.json`` (a JSON string) and ``data.xml`` (the same answers as XML,
not read). Posted as JSON, ``data.json`` may arrive already as an object. Its keys are the form's field
ids as the page's designer named them (``email``, ``full_name``, ``what_service_do_you_need?``), made
readable here, plus Unbounce's own: the page and variant are kept, the rest (``ip_address``,
``page_uuid``, ``time_submitted`` ...) stays in the stored raw post. Unbounce sends no submission id
(a resend is caught by the content dedupe window), no test marker and no signature. Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

from core.sources.common import add_answer, json_object, readable_label
from core.sources.form_tool import FormTool, ToolPost, ToolSubmission
from core.sources.forms import flatten_value

DATA = "data.json"
# Where the lead came from, by the key the form mapping reads it under: the page URL is attribution.
PAGE_KEYS = {"page_url": "page_url", "page_name": "Page name", "variant": "Variant"}
BOOKKEEPING = ("ip_address", "page_uuid", "page_id", "time_submitted", "date_submitted")


class Unbounce(FormTool):
    """Unbounce's page, popup and sticky bar webhook."""

    name = "unbounce"
    title = "Unbounce"

    def recognises(self, post: ToolPost) -> bool:
        """True for a post with Unbounce's ``data.json``."""
        return DATA in post.fields

    def unwrap(self, post: ToolPost) -> ToolSubmission:
        """The answers in ``data.json``, each array unwrapped, then the page they were given on."""
        data = json_object(post.fields.get(DATA), DATA)
        fields: dict[str, Any] = {}
        for key, values in data.items():
            value = _unwrapped(values)
            if key not in PAGE_KEYS and key not in BOOKKEEPING and flatten_value(value):
                add_answer(fields, readable_label(key), value)
        for key, label in PAGE_KEYS.items():
            # The envelope's copy first: in JSON mode the owner may have removed data.json's.
            page = flatten_value(post.fields.get(key)) or flatten_value(_unwrapped(data.get(key)))
            if page:
                fields.setdefault(label, page)
        return ToolSubmission(fields=fields)


TOOL = Unbounce()


def _unwrapped(values: Any) -> Any:
    """``["x"]`` → ``"x"``; several values (checkboxes) stay a list, which the mapping joins."""
    if isinstance(values, list) and len(values) == 1:
        return values[0]
    return values
