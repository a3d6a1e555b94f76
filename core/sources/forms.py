"""Website forms: the field names real sites use, mapped onto the Rotor lead.

Site owners name their inputs freely (``Full Name``, ``e-mail``, ``_replyto``, ``tel``), so keys are
compared after folding case and separators, through one alias table. What is left over is kept:
click ids, UTM parameters, page and referrer are attribution; anything else is summarised in the
notes. Both stay in the stored raw submission as well. Pure: no I/O.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from marshmallow import EXCLUDE, fields, post_load, pre_load

from core.lead import LeadSchema, rotor_body, truncate

ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("name", "full_name", "fullname", "your_name", "contact_name"),
    "first_name": ("first_name", "firstname", "fname", "given_name"),
    "last_name": ("last_name", "lastname", "lname", "surname", "family_name"),
    "email": ("email", "e_mail", "email_address", "_replyto", "replyto", "your_email"),
    "phone": ("phone", "tel", "telephone", "mobile", "phone_number", "phonenumber", "cell", "mobile_phone"),
    "address_street1": ("address", "street", "street_address", "address1", "address_line_1", "address_line1"),
    "address_street2": ("address2", "address_line_2", "address_line2"),
    "address_city": ("city", "town"),
    "address_state": ("state", "province", "region"),
    "address_zip": ("zip", "zipcode", "zip_code", "postal_code", "postcode", "post_code"),
    "address_country": ("country",),
    "notes": ("message", "comments", "comment", "notes", "details", "description"),
    "service_type": ("service", "service_type", "services"),
}
# Questions that ask for the name, by their wording (Typeform's and Tally's labels, where nothing
# else says which answer is the name).
ROLE_BY_TITLE = (
    ("first_name", re.compile(r"\b(first|given) name\b|\bforename\b")),
    ("last_name", re.compile(r"\b(last|family) name\b|\bsurname\b")),
    ("name", re.compile(r"\bfull name\b|^\W*(what is |what's )?(your )?name\W*$")),
)
# Attribution keys that become tags (few distinct values) rather than only notes (one value per click).
TAGGED_ATTRIBUTION = ("utm_source", "utm_medium", "utm_campaign")
ATTRIBUTION_ALIASES = {
    "page_url": "page_url",
    "page": "page_url",
    "url": "page_url",
    "landing_page": "page_url",
    "referrer": "referrer",
    "referer": "referrer",
    "gclid": "gclid",
    "fbclid": "fbclid",
    "msclkid": "msclkid",
    "wbraid": "wbraid",
    "gbraid": "gbraid",
}
# Fields that form tools add for themselves; they say nothing about the person.
IGNORED = (
    "g_recaptcha_response",
    "cf_turnstile_response",
    "h_captcha_response",
    "_next",
    "_subject",
    "csrf_token",
    "csrfmiddlewaretoken",
    "_token",
    "submit",
)
EXTRA_VALUE_LIMIT = 200
# Landing-URL query parameters kept as attribution besides the UTMs: the click ids (gclid, fbclid ...).
CLICK_IDS = tuple(
    key for key, kept_as in ATTRIBUTION_ALIASES.items() if key == kept_as and key not in ("page_url", "referrer")
)


# A lead field's own name is an alias too: form tools name the fields they know (core.sources.form_tools).
FIELD_BY_ALIAS = {alias: field for field, aliases in ALIASES.items() for alias in (field, *aliases)}
_SEPARATORS = re.compile(r"[\s\-.]+")


@functools.lru_cache(maxsize=4096)  # a site posts the same few field names every time
def fold_key(key: str) -> str:
    """``'E-Mail Address'`` → ``'e_mail_address'``: the form in which keys are compared."""
    return _SEPARATORS.sub("_", key.strip().lower())


def flatten_value(value: Any) -> str | None:
    """One text value per field: lists (checkboxes) joined, numbers written out, objects as JSON."""
    if value is None:
        return None
    if isinstance(value, list):
        parts = [flatten_value(v) for v in value]
        return ", ".join(p for p in parts if p) or None
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def query_attribution(url: str) -> dict[str, str]:
    """The UTM parameters and click ids in a page URL's query, as sent (fbclid's case matters)."""
    try:
        query = urlsplit(url).query
    except ValueError:  # a malformed address ("http://[::1") is still the page, with no query to read
        return {}
    return {
        key: value
        for key, value in parse_qsl(query)
        if value and (fold_key(key).startswith("utm_") or fold_key(key) in CLICK_IDS)
    }


def split_fields(raw: Mapping[str, Any], *, honeypot_field: str) -> tuple[dict, dict[str, str], dict[str, str]]:
    """Sort posted fields into (lead fields by Rotor name, attribution, other fields)."""
    lead: dict[str, Any] = {}
    attribution: dict[str, str] = {}
    extra: dict[str, str] = {}
    honeypot = fold_key(honeypot_field)
    for key, value in raw.items():
        folded = fold_key(key)
        if folded in IGNORED or folded == honeypot:
            continue
        text = flatten_value(value)
        field = FIELD_BY_ALIAS.get(folded)
        if field is not None and (field not in lead or lead[field] in (None, "")):
            lead[field] = value if not isinstance(value, list) else text
            continue
        if not text or (field is not None and text == flatten_value(lead[field])):
            continue
        if field is not None:
            # A second answer for a field already given ('email' and '_replyto'): the first is the
            # lead's, this one stays in the notes under its own name.
            extra[key.strip()] = text
            continue
        if folded.startswith("utm_") or folded in ATTRIBUTION_ALIASES:
            attribution[ATTRIBUTION_ALIASES.get(folded, folded)] = text
        else:
            extra[key.strip()] = text
    first, last = lead.pop("first_name", None), lead.pop("last_name", None)
    if not lead.get("name") and (first or last):
        lead["name"] = " ".join(str(p).strip() for p in (first, last) if p)
    return lead, attribution, extra


class FormRules(Protocol):
    """What the mapping reads of a form's configuration (``core.config.FormConfig``)."""

    @property
    def honeypot_field(self) -> str: ...
    @property
    def tags(self) -> tuple[str, ...]: ...
    @property
    def source(self) -> str: ...
    @property
    def service_type(self) -> str | None: ...
    @property
    def stage(self) -> str | None: ...
    @property
    def priority(self) -> str | None: ...


def is_bot(raw: Mapping[str, Any], form: FormRules) -> bool:
    """True when the honeypot field, invisible to people, was filled in."""
    wanted = fold_key(form.honeypot_field)
    return any(fold_key(k) == wanted and flatten_value(v) for k, v in raw.items())


class WebsiteFormSchema(LeadSchema):
    """A website form post, loaded straight into the Rotor upsert body."""

    class Meta:
        unknown = EXCLUDE  # leftovers are moved into notes by the pre_load, never sent as body fields

    # Built by the pre_load from flattened text, so their keys and values need no field of their own.
    attribution = fields.Dict(load_default=dict)
    extra = fields.Dict(load_default=dict)

    def __init__(self, *, form: FormRules, phone_region: str = "US") -> None:
        super().__init__(phone_region=phone_region)
        self.form = form

    @pre_load
    def _map_aliases(self, data: Any, **kwargs: Any) -> dict[str, Any]:
        lead, attribution, extra = split_fields(data, honeypot_field=self.form.honeypot_field)
        return {**lead, "attribution": attribution, "extra": extra}

    @post_load
    def _to_rotor_body(self, person: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        attribution, extra = person["attribution"], person["extra"]
        tags = [*self.form.tags, *(f"{key}:{attribution[key]}" for key in TAGGED_ATTRIBUTION if key in attribution)]
        notes = [
            paragraph("Other fields", extra),
            paragraph("Attribution", attribution),
        ]
        return rotor_body(
            person,
            source=self.form.source,
            tags=tags,
            notes=[n for n in notes if n],
            defaults={"service_type": self.form.service_type, "stage": self.form.stage, "priority": self.form.priority},
        )


def paragraph(title: str, values: Mapping[str, str]) -> str | None:
    """A titled block of ``key: value`` lines for the notes; None when there is nothing to say."""
    if not values:
        return None
    lines = (f"{key}: {truncate(value, EXTRA_VALUE_LIMIT)}" for key, value in values.items())
    return f"{title}:\n" + "\n".join(lines)
