"""The lead as Rotor's upsert ``POST /leads`` takes it, and the fields every source normalises through.

Rotor matches an existing lead on the exact phone string first, then the exact email string
(destinations.md §1.3), so both are normalised here the same way for every source: phone to E.164,
email validated and lower-cased. Sources subclass ``LeadSchema`` and map their own field names
onto these in one ``pre_load``. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import email_validator
import phonenumbers
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

ADDRESS_FIELDS = tuple(f"address_{part}" for part in ("street1", "street2", "city", "state", "zip", "country"))
# What a person says about themselves: every source's answers map onto these (core.sources.common).
PERSON_FIELDS = ("name", "email", "phone", *ADDRESS_FIELDS, "service_type", "notes")
# Documented body fields of POST /leads; nothing else is ever sent.
ROTOR_BODY_FIELDS = ("id", *PERSON_FIELDS, "source", "stage", "tags", "priority", "projected_value", "follow_up_date")
# Rotor's limits as one public integration states them (destinations.md §1.3); longer text is cut, not refused.
NOTES_LIMIT = 2000
SERVICE_TYPE_LIMIT = 100
CONTACT_REQUIRED = "A lead needs a phone number or an email address."


class Text(fields.String):
    """A string field that folds white space and treats a blank value as absent (or missing, if required)."""

    # A blank value loads as None (absent), which marshmallow's String, typed to return str, never does.
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str | None:  # type: ignore[override]
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)  # JSON callers send zip codes and phones as numbers
        text = " ".join(super()._deserialize(value, attr, data, **kwargs).split())
        if not text and self.required:
            raise self.make_error("required")
        return text or None

    def _validate(self, value: Any) -> None:
        if value is not None:  # a blank optional field has nothing to validate
            super()._validate(value)


class PhoneNumber(Text):
    """A phone number in any common format, loaded as E.164 (``+15615550142``)."""

    default_error_messages = {"invalid_phone": "Not a valid phone number."}

    # None for a blank value, as Text's (the ignore below is the same override).
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str | None:  # type: ignore[override]
        text = super()._deserialize(value, attr, data, **kwargs)
        if text is None:
            return None
        region = getattr(self.root, "phone_region", "US")
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException as exc:
            raise self.make_error("invalid_phone") from exc
        if not phonenumbers.is_valid_number(number):
            raise self.make_error("invalid_phone")
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class EmailAddress(Text):
    """An email address checked for syntax (no DNS lookup), loaded lower-cased."""

    # None for a blank value, as Text's (the ignore below is the same override).
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str | None:  # type: ignore[override]
        text = super()._deserialize(value, attr, data, **kwargs)
        if text is None:
            return None
        try:
            checked = email_validator.validate_email(text, check_deliverability=False)
        except email_validator.EmailNotValidError as exc:
            raise ValidationError(f"Not a valid email address: {exc}") from exc
        return checked.normalized.lower()


class LeadSchema(Schema):
    """The person-entered fields of a lead, validated and normalised."""

    name = Text(required=True, validate=validate.Length(max=200), error_messages={"required": "A name is required."})
    email = EmailAddress(load_default=None)
    phone = PhoneNumber(load_default=None)
    address_street1 = Text(load_default=None, validate=validate.Length(max=200))
    address_street2 = Text(load_default=None, validate=validate.Length(max=200))
    address_city = Text(load_default=None, validate=validate.Length(max=100))
    address_state = Text(load_default=None, validate=validate.Length(max=100))
    address_zip = Text(load_default=None, validate=validate.Length(max=20))
    address_country = Text(load_default=None, validate=validate.Length(max=100))
    service_type = Text(load_default=None)
    notes = Text(load_default=None)

    def __init__(self, *, phone_region: str = "US", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.phone_region = phone_region

    @validates_schema(skip_on_field_errors=False)
    def _needs_contact(self, data: Mapping[str, Any], **kwargs: Any) -> None:
        # A key missing from ``data`` failed its own validation and already carries an error;
        # only phone and email both genuinely absent (None) get this one.
        if data.get("phone", False) is None and data.get("email", False) is None:
            raise ValidationError({"phone": [CONTACT_REQUIRED], "email": [CONTACT_REQUIRED]})


def rotor_body(
    person: Mapping[str, Any],
    *,
    source: str,
    tags: Iterable[str] = (),
    notes: Iterable[str] = (),
    defaults: Mapping[str, str | None] | None = None,
) -> dict[str, Any]:
    """Assemble the exact ``POST /leads`` body: known fields only, empty values left out.

    ``defaults`` fill fields the person left empty (a form's configured ``service_type``, ``stage``,
    ``priority``); ``notes`` are extra paragraphs appended after the person's own message.
    """
    body: dict[str, Any] = {k: v for k, v in (defaults or {}).items() if v}
    body.update({k: v for k, v in person.items() if k in ROTOR_BODY_FIELDS and v not in (None, "")})
    body["source"] = source
    paragraphs = [p for p in (person.get("notes"), *notes) if p]
    if paragraphs:
        body["notes"] = truncate("\n\n".join(paragraphs), NOTES_LIMIT)
    if body.get("service_type"):
        body["service_type"] = truncate(body["service_type"], SERVICE_TYPE_LIMIT)
    unique_tags = list(dict.fromkeys(t for t in tags if t))
    if unique_tags:
        body["tags"] = unique_tags
    return body


def truncate(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, the cut marked with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
