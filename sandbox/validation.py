"""Strict checks for POST /leads bodies and GET /leads query strings.

Rotor documents only the field list and types; it may silently drop fields it does not know.
The sandbox rejects them instead, so a client bug such as sending `property_city` (Rotor's read
name) instead of `address_city` shows up as a 400 in development and tests, not as data quietly
lost in production. Errors use Rotor's documented shape: a list of {"field", "message"}.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Mapping
from typing import Any

Errors = list[dict[str, str]]

STRING_FIELDS = frozenset(
    {
        "name",
        "email",
        "phone",
        "address_street1",
        "address_street2",
        "address_city",
        "address_state",
        "address_zip",
        "address_country",
        "source",
        "service_type",
        "notes",
        "stage",
        "follow_up_date",
    }
)
ALLOWED_FIELDS = STRING_FIELDS | {"id", "tags", "priority", "projected_value"}
PRIORITIES = ("low", "medium", "high")
# Lengths Rotor is reported to cap at (third-party integration, not Rotor's docs).
MAX_LENGTHS = {"notes": 2000, "service_type": 100}
MAX_PAGE_SIZE = 1000

# Deliberately loose: one @, a dot in the domain, no whitespace. Rotor's exact rule is unknown.
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def error(field: str, message: str) -> dict[str, str]:
    return {"field": field, "message": message}


def validate_lead_body(body: Any) -> Errors:
    """Every problem with a POST /leads body; an empty list means it can be applied."""
    if not isinstance(body, dict):
        return [error("body", "Body must be a JSON object.")]
    errors: Errors = []
    for field, value in body.items():
        message = _field_problem(field, value)
        if message:
            errors.append(error(field, message))
    return errors


def _field_problem(field: str, value: Any) -> str | None:
    if field not in ALLOWED_FIELDS:
        return "Unknown field."
    if field in STRING_FIELDS:
        if not isinstance(value, str):
            return "Must be a string."
        if field == "email" and not _EMAIL.fullmatch(value):
            return "Invalid email format"
        limit = MAX_LENGTHS.get(field)
        if limit is not None and len(value) > limit:
            return f"Must be at most {limit} characters."
        return None
    if field == "id":
        return None if isinstance(value, str) and _is_uuid(value) else "Must be a valid UUID."
    if field == "tags":
        ok = isinstance(value, list) and all(isinstance(tag, str) for tag in value)
        return None if ok else "Must be an array of strings."
    if field == "priority":
        return None if value in PRIORITIES else "Must be one of: low, medium, high."
    # projected_value; bool is an int subclass in Python but not a number in JSON.
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    return None if is_number and math.isfinite(value) else "Must be a number."


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def parse_list_query(args: Mapping[str, str]) -> tuple[dict[str, Any], Errors]:
    """GET /leads query string -> LeadStore.list keyword arguments, or errors."""
    errors: Errors = []
    page = _int_arg(args, "page", 1, 1, None, errors)
    limit = _int_arg(args, "limit", 50, 1, MAX_PAGE_SIZE, errors)
    archived_raw = args.get("archived", "false").lower()
    if archived_raw not in ("true", "false"):
        errors.append(error("archived", "Must be true or false."))
    tags = [tag.strip() for tag in args.get("tags", "").split(",") if tag.strip()]
    query = {
        "page": page,
        "limit": limit,
        "search": args.get("search") or None,
        "stage": args.get("stage") or None,
        "tags": tags,
        "archived": archived_raw == "true",
    }
    return query, errors


def _int_arg(args: Mapping[str, str], name: str, default: int, low: int, high: int | None, errors: Errors) -> int:
    raw = args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        errors.append(error(name, f"Must be an integer {bound}."))
        return default
    return value
