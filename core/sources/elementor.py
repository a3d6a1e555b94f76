"""Elementor Pro forms: the "Webhook" action's urlencoded post with Advanced Data on.

intake-formats.md §7.7 [3p captured; doc for the action list]: ``form[id]``, ``form[name]``, per field
``fields[<id>][id|type|title|value|raw_value|required]`` and ``meta[date|time|page_url|user_agent|
remote_ip|credit][title|value]``, all as flat bracketed keys. Field ids are ``name``, ``email``,
``message`` or a random ``field_xxxxxxx``, so an email or tel field is known by its type; any other by
its title (the label), or by its id when only that names a lead field (``name``, ``utm_source``).
``meta[page_url]`` is the landing URL with its query, so it yields the UTMs too. The other meta (time,
browser, IP) stays in the stored raw post. With Advanced Data off, Elementor posts plain
``Label=value`` pairs: a website form, which no recogniser here claims. No id, no signature. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.sources.common import add_answer, readable_label, text_at
from core.sources.form_tool import FormTool, ToolPost, ToolSubmission
from core.sources.forms import ATTRIBUTION_ALIASES, FIELD_BY_ALIAS, flatten_value, fold_key, query_attribution

BRACKET_KEY = re.compile(r"^(?P<group>form|fields|meta)\[(?P<id>[^\[\]]+)\](?:\[(?P<part>[^\[\]]+)\])?$")
KEY_BY_TYPE = {"email": "email", "tel": "phone"}
# Field types that carry no answer: layout, and the spam checks Elementor settles before posting.
NO_ANSWER_TYPES = ("html", "step", "recaptcha", "recaptcha_v3", "honeypot")
# What the form mapping knows by name: a title or id folding to one of these names a lead field.
KNOWN_KEYS = {*FIELD_BY_ALIAS, *ATTRIBUTION_ALIASES}


@dataclass
class AdvancedData:
    """The bracketed keys read back into their groups, fields in the order they were posted."""

    form: dict[str, Any] = field(default_factory=dict)
    fields: dict[str, dict[str, Any]] = field(default_factory=dict)
    meta: dict[str, dict[str, Any]] = field(default_factory=dict)


class Elementor(FormTool):
    """Elementor Pro's form "Webhook" action, with Advanced Data on."""

    name = "elementor"
    title = "Elementor Pro"

    def recognises(self, post: ToolPost) -> bool:
        """True for a post with Elementor's ``form[...]`` and ``fields[<id>][...]`` keys."""
        data = advanced_data(post.fields)
        return bool(data.form) and any(data.fields.values())

    def unwrap(self, post: ToolPost) -> ToolSubmission:
        """Each field's value under its type, label or id; the form's name; the landing page's attribution."""
        data = advanced_data(post.fields)
        if not any(data.fields.values()):
            return ToolSubmission(fields=dict(post.fields))  # Advanced Data off: already label=value pairs
        fields: dict[str, Any] = {}
        for field_id, parts in data.fields.items():
            kind = (text_at(parts, "type") or "").lower()
            value = _answer(parts)
            if value and kind not in NO_ANSWER_TYPES:
                add_answer(fields, _key(field_id, kind, text_at(parts, "title"), fields), value)
        page_url = text_at(data.meta, "page_url.value")
        if page_url:
            fields.setdefault("page_url", page_url)
            folded = {fold_key(key) for key in fields}
            # Hidden UTM fields win: they may hold the first visit's values, kept in a cookie.
            fields.update({key: v for key, v in query_attribution(page_url).items() if fold_key(key) not in folded})
        form_name = text_at(data.form, "name")
        if form_name:
            fields.setdefault("Form", form_name)
        return ToolSubmission(fields=fields)


TOOL = Elementor()


def advanced_data(posted: Mapping[str, Any]) -> AdvancedData:
    """``form[id]``, ``fields[email][value]``, ``meta[page_url][value]`` ... read back into groups."""
    data = AdvancedData()
    for key, value in posted.items():
        match = BRACKET_KEY.match(key)
        if not match:
            continue
        if match["group"] == "form":
            if match["part"] is None:
                data.form[match["id"]] = value
        elif match["part"] is not None:
            group = data.fields if match["group"] == "fields" else data.meta
            group.setdefault(match["id"], {})[match["part"]] = value
    return data


def _answer(parts: Mapping[str, Any]) -> str | None:
    # ``value`` is what the visitor saw (an option's label); ``raw_value`` the stored one, if that is all.
    for part in ("value", "raw_value"):
        text = flatten_value(parts.get(part))
        if text and text.strip():
            return text.strip()
    return None


def _key(field_id: str, kind: str, title: str | None, taken: Mapping[str, Any]) -> str:
    """The key the form mapping reads the field under: its type's lead field, else a known title or id."""
    by_type = KEY_BY_TYPE.get(kind)
    if by_type and by_type not in taken:
        return by_type
    for name in (title, field_id):
        if name and (fold_key(name) in KNOWN_KEYS or fold_key(name).startswith("utm_")):
            return name
    return title.strip() if title and title.strip() else readable_label(field_id)
