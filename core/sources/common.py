"""What the ad-platform and form-builder sources share: one base schema, answer sorting, exact ids.

Once a platform's own envelope is unwrapped, every source hands over the same three things: person
fields under Rotor's names, the other answers labelled for a human reading the CRM, and attribution.
So each platform module writes only that unwrapping (its one ``pre_load``, returning ``lead_data(...)``)
and ``PlatformLeadSchema`` assembles the Rotor body the same way for all of them. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from marshmallow import EXCLUDE, ValidationError, fields, post_load

from core.jsonbody import loads
from core.lead import PERSON_FIELDS, LeadSchema, rotor_body
from core.sources.forms import flatten_value, paragraph

# One answer as a platform hands it over: (role, label, value). The role is a person field below, a
# name part, a work fallback, or None for a question that only belongs in the notes under its label.
Answer = tuple[str | None, str, str]

# How ad platforms key their prefilled questions (Meta's field_data, TikTok's changes), by role;
# each platform adds its own spellings. Anything else is a custom question.
PREFILLED_QUESTION_ROLES = {
    "full_name": "name",
    "first_name": "first_name",
    "last_name": "last_name",
    "email": "email",
    "work_email": "work_email",
    "phone_number": "phone",
    "work_phone_number": "work_phone",
    "street_address": "address_street1",
    "city": "address_city",
    "state": "address_state",
    "province": "address_state",
    "zip_code": "address_zip",
    "country": "address_country",
}
NAME_PARTS = ("first_name", "last_name")
# B2B forms ask for a work address or number; it still reaches the person when no personal one was given.
WORK_FALLBACKS = {"work_email": "email", "work_phone": "phone"}

T = TypeVar("T")

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_IDENTIFIER_SEPARATORS = re.compile(r"[_\-\s]+")


@dataclass(frozen=True)
class Unreadable:
    """One item of a verified body that cannot be read (no id, a wrong type), with why (marshmallow's
    messages). Kept as a failed submission rather than failing the body: a platform answered 4xx
    stops resending, and the body's other leads would be lost with it."""

    payload: Any
    problem: dict[str, Any]


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """The header called ``name``, in whatever case it was sent; None if absent."""
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), None)


def read_or_unreadable(read: Callable[[Any], T], payload: Any) -> T | Unreadable:
    """``read(payload)``, or the ``Unreadable`` its ValidationError describes."""
    try:
        return read(payload)
    except ValidationError as exc:
        return Unreadable(payload, exc.normalized_messages())


class ExactId(fields.Field):
    """A platform id as its exact decimal string, whether sent as a JSON string or a JSON number.

    Ids past 2**53 (Google's int64s, TikTok's 19 digits) survive only as Python ints, which the stdlib
    ``json`` module produces; a float has already lost digits, so it is refused rather than guessed at.
    """

    default_error_messages = {"invalid": "Not an exact id: expected a string or a whole JSON number."}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if isinstance(value, str) and value.strip():
            return value.strip()
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        raise self.make_error("invalid")


class PlatformLeadSchema(LeadSchema):
    """A platform's lead loaded straight into the Rotor upsert body; subclasses add the one ``pre_load``."""

    class Meta:
        # The pre_load hands over only the names below; platforms grow their payloads without notice.
        unknown = EXCLUDE

    answers = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)
    attribution = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)
    # Per-lead tags (``platform:ig``); not named ``tags``, which rotor_body would copy from the person.
    platform_tags = fields.List(fields.String(), load_default=list)

    default_source: ClassVar[str] = ""
    base_tags: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *, source: str | None = None, tags: Iterable[str] = (), phone_region: str = "US") -> None:
        super().__init__(phone_region=phone_region)
        self.source = source or self.default_source
        self.tags = (*self.base_tags, *tags)

    @post_load
    def _to_rotor_body(self, person: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        notes = (paragraph("Answers", person["answers"]), paragraph("Attribution", person["attribution"]))
        return rotor_body(
            person,
            source=self.source,
            tags=[*self.tags, *person["platform_tags"]],
            notes=[n for n in notes if n],
        )


def lead_data(
    answers: Iterable[Answer], attribution: Mapping[str, str | None], tags: Iterable[str] = ()
) -> dict[str, Any]:
    """What a platform's ``pre_load`` returns: its answers and attribution under the base schema's names."""
    person, others = split_answers(answers)
    return {
        **person,
        "answers": others,
        "attribution": {key: value for key, value in attribution.items() if value},
        "platform_tags": list(tags),
    }


def split_answers(answers: Iterable[Answer]) -> tuple[dict[str, str], dict[str, str]]:
    """Sort answers into (person fields by Rotor name, other answers by label); no answer is dropped."""
    person: dict[str, str] = {}
    spare: dict[str, tuple[str, str]] = {}  # name parts and work fallbacks, by role
    others: dict[str, str] = {}
    for role, label, value in answers:
        if not value:
            continue
        if role in PERSON_FIELDS and role not in person:
            person[role] = value
        elif role in (*NAME_PARTS, *WORK_FALLBACKS) and role not in spare:
            spare[role] = (label, value)
        else:
            _add_answer(others, label, value)
    unused = [spare.pop(part) for part in NAME_PARTS if part in spare]
    if unused and "name" not in person:
        person["name"] = " ".join(value for _, value in unused)
        unused = []
    for role, (label, value) in spare.items():
        if WORK_FALLBACKS[role] in person:
            unused.append((label, value))
        else:
            person[WORK_FALLBACKS[role]] = value
    for label, value in unused:
        _add_answer(others, label, value)
    return person, others


def add_answer(fields: dict[str, Any], label: str, value: Any) -> None:
    """Put ``value`` under ``label``; a label given twice (two questions worded alike) keeps both."""
    if label not in fields:
        fields[label] = value
        return
    earlier = fields[label]
    fields[label] = [
        *(earlier if isinstance(earlier, list) else [earlier]),
        *(value if isinstance(value, list) else [value]),
    ]


def _add_answer(others: dict[str, str], label: str, value: str) -> None:
    # Two questions with one label (or one asked twice) keep both answers.
    others[label] = f"{others[label]}; {value}" if label in others else value


def question_answers(items: Any, label: str) -> list[tuple[str, str | None]]:
    """``[{question, answer}]`` as (question, answer) pairs; anything else kept under ``label``."""
    pairs: list[tuple[str, str | None]] = []
    odd: list[Any] = []
    for item in items if isinstance(items, list) else [items]:
        question = text_at(item, "question") if isinstance(item, Mapping) else None
        if question:
            pairs.append((question, text_at(item, "answer")))
        elif item not in (None, "", [], {}):
            odd.append(item)
    return [*pairs, (label, flatten_value(odd))] if odd else pairs


def labelled_fields(pairs: Iterable[tuple[str, str | None]]) -> dict[str, str]:
    """``pairs`` as ordered fields, empty values left out; a key given twice keeps both values."""
    fields: dict[str, str] = {}
    for key, value in pairs:
        if value:
            # A question asked twice, or one worded like another field, loses neither answer.
            fields[key] = f"{fields[key]}; {value}" if key in fields else value
    return fields


def json_object(value: Any, field: str) -> Mapping[str, Any]:
    """A JSON object sent as one (or as a JSON string inside a form field), else a ValidationError naming ``field``."""
    if isinstance(value, str):
        try:
            value = loads(value)
        except ValueError as exc:
            raise ValidationError({field: [f"Not JSON: {exc}"]}) from exc
    return require_object(value, field)


def readable_label(key: str) -> str:
    """``'what_service_do_you_need?'`` → ``'What service do you need?'``; text with spaces is kept."""
    text = " ".join(key.split())
    if " " in text:
        return text
    words = _IDENTIFIER_SEPARATORS.sub(" ", _CAMEL_BOUNDARY.sub(" ", text)).strip().lower()
    return words[:1].upper() + words[1:]


def exact_id(value: Any, field: str) -> str | None:
    """``value`` as an exact id string (see ``ExactId``), None when absent; the error names ``field``."""
    if value is None or value == "":
        return None
    try:
        return ExactId().deserialize(value)
    except ValidationError as exc:
        raise ValidationError({field: exc.messages}) from exc


def first_exact_id(payload: Mapping[str, Any], names: Sequence[str], where: str = "") -> str | None:
    """The exact id under the first of ``names`` that is set (an error names it), None if none is."""
    name = next((name for name in names if payload.get(name) not in (None, "")), names[0])
    return exact_id(payload.get(name), f"{where}{name}")


def marketplace_attribution(marketplace: str) -> list[tuple[str, str]]:
    """A marketplace lead has no UTMs of its own: its source and medium (intake-formats.md §8)."""
    return [("utm_source", marketplace), ("utm_medium", "marketplace")]


def resolve_path(payload: Any, path: str) -> Any:
    """The value at dotted ``path`` (``'data.customer.phone'``, ``'items.0.id'``), or None if missing."""
    value = payload
    for step in path.split("."):
        if isinstance(value, Mapping):
            value = value.get(step)
        elif isinstance(value, list) and step.isdigit() and int(step) < len(value):
            value = value[int(step)]
        else:
            return None
    return value


def text_at(payload: Any, path: str) -> str | None:
    """The value at ``path`` as one line of text (lists joined), or None."""
    return flatten_value(resolve_path(payload, path))


def require_object(value: Any, field: str = "_schema") -> Mapping[str, Any]:
    """``value`` if it is a JSON object, else a ValidationError naming ``field``."""
    if not isinstance(value, Mapping):
        raise ValidationError({field: [f"Expected a JSON object, got {_json_type(value)}."]})
    return value


def require_list(value: Any, field: str) -> list[Any]:
    """``value`` if it is a JSON array, else a ValidationError naming ``field``."""
    if not isinstance(value, list):
        raise ValidationError({field: [f"Expected a list, got {_json_type(value)}."]})
    return value


def _json_type(value: Any) -> str:
    if value is None:
        return "nothing"  # a missing key and a JSON null read the same here
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "an object"
