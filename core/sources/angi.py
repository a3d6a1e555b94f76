"""Angi / HomeAdvisor: the Angi Lead Integration API posting each new lead to a form URL.

One flat JSON object per lead (intake-formats.md §6.2 [doc, partial; fields 3p]): ``leadOid`` (the
lead's id), ``srOid`` (its service request), ``leadSource`` ("Angi"/"HomeAdvisor"), ``name`` and
sometimes ``firstName``/``lastName``, ``address``, ``city``, ``stateProvince``, ``postalCode``,
``primaryPhone``, ``email``, ``taskName`` (the service), ``comments``, ``interview[{question,
answer}]`` and ``fee``. Other integrations map ``leadId``, ``phone``, ``description``, ``location`` and
``timestamp``, so those are read too, and any field not named here is kept in the notes. Angi signs
nothing: its only auth is an ``x-api-key`` header the partner chooses, compared with the form's secret.
Test leads go to a separate testing endpoint Angi is given; the body has no test marker. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.sources.common import (
    first_exact_id,
    labelled_fields,
    marketplace_attribution,
    question_answers,
    readable_label,
    text_at,
)
from core.sources.form_tool import FormTool, ToolPost, ToolSubmission
from core.sources.forms import flatten_value
from core.sources.signatures import secrets_equal

ID_KEYS = ("leadOid", "leadId")
# Angi's own names: ``leadOid`` or ``srOid`` and one more of these make a post Angi's.
ANGI_FIELDS = ("leadOid", "srOid", "primaryPhone", "taskName", "leadSource", "stateProvince", "postalCode", "interview")
# Each address part under Angi's name first, then the names other integrations use (§6.2).
PLACE = (
    ("address_street1", ("address", "address1", "street")),
    ("address_city", ("city",)),
    ("address_state", ("stateProvince", "state")),
    ("address_zip", ("postalCode", "zip", "zipCode")),
)
# What the mapping below reads; every other top-level field goes to the notes under its own name.
READ = frozenset(
    {
        *ID_KEYS,
        *(key for _, keys in PLACE for key in keys),
        *("srOid", "leadSource", "name", "firstName", "lastName", "email", "primaryPhone", "phone"),
        *("taskName", "comments", "description", "interview", "fee", "timestamp", "location"),
    }
)


class Angi(FormTool):
    """Angi and HomeAdvisor leads, one flat JSON object each."""

    name = "angi"
    title = "Angi / HomeAdvisor"
    signature_header = "x-api-key"  # a shared key, not a signature: Angi's only auth (§6.2)

    def recognises(self, post: ToolPost) -> bool:
        fields = post.fields
        has_id = any(fields.get(key) not in (None, "") for key in ("leadOid", "srOid"))
        return has_id and sum(key in fields for key in ANGI_FIELDS) >= 2

    def unwrap(self, post: ToolPost) -> ToolSubmission:
        lead = post.fields
        lead_id = first_exact_id(lead, ID_KEYS)
        return ToolSubmission(fields=_lead_fields(lead, lead_id), platform_id=lead_id)

    def verify(self, post: ToolPost, *, secret: str, now: float) -> bool:
        return secrets_equal(post.header(self.signature_header), secret)


TOOL = Angi()


def _lead_fields(lead: Mapping[str, Any], lead_id: str | None) -> dict[str, str]:
    """The lead's fields, by lead field name where Angi says what they are, else by label."""
    source = text_at(lead, "leadSource")
    return labelled_fields(
        [
            ("name", text_at(lead, "name")),
            ("first_name", text_at(lead, "firstName")),
            ("last_name", text_at(lead, "lastName")),
            ("email", text_at(lead, "email")),
            ("phone", text_at(lead, "primaryPhone") or text_at(lead, "phone")),
            *_place(lead),
            ("service_type", text_at(lead, "taskName")),
            ("notes", _message(lead)),
            *question_answers(lead.get("interview"), "Interview"),
            ("Other phone", _other_phone(lead)),
            *((readable_label(key), flatten_value(value)) for key, value in lead.items() if key not in READ),
            ("Lead fee", text_at(lead, "fee")),
            ("Submitted at", text_at(lead, "timestamp")),
            ("Lead source", source),
            ("Angi lead ID", lead_id),
            ("Angi service request ID", text_at(lead, "srOid")),
            *marketplace_attribution(
                "homeadvisor" if "homeadvisor" in (source or "").lower().replace(" ", "") else "angi"
            ),
        ]
    )


def _place(lead: Mapping[str, Any]) -> list[tuple[str, str | None]]:
    # ``location`` is an object of parts in some integrations, a line of text in others.
    location = lead.get("location")
    sources = (lead, location) if isinstance(location, Mapping) else (lead,)
    pairs = [
        (field, next(filter(None, (text_at(where, key) for where in sources for key in keys)), None))
        for field, keys in PLACE
    ]
    return pairs if isinstance(location, Mapping) else [*pairs, ("Location", flatten_value(location))]


def _message(lead: Mapping[str, Any]) -> str | None:
    # Both are the customer's own words about the job; neither is dropped for the other.
    said = (text_at(lead, key) for key in ("comments", "description"))
    return flatten_value(list(dict.fromkeys(filter(None, said))))


def _other_phone(lead: Mapping[str, Any]) -> str | None:
    # ``phone`` beside ``primaryPhone``: a second number, kept where a person will see it.
    primary, other = text_at(lead, "primaryPhone"), text_at(lead, "phone")
    return other if primary and other != primary else None
