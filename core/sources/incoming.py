"""What a verified webhook body holds, item by item, and how a platform's lead becomes a Rotor body.

Once a body is verified nothing in it is refused (a platform answered 4xx stops resending, and the
body's other leads would be lost with it): every item becomes an ``Incoming`` that intake stores,
delivered, read first, failed with the reason, or discarded as no lead. Pure: no I/O.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from marshmallow import ValidationError

from core.errors import BadRequest
from core.sources.common import PlatformLeadSchema, Unreadable

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Incoming:
    """One item of a verified webhook body."""

    # The platform's id for the lead; None when no id could be read (the web layer keys it by content).
    platform_id: str | None
    payload: dict[str, Any]  # this item's part of the body, kept as its raw submission
    lead: dict[str, Any] | None = None  # the Rotor body, when the webhook carries the answers
    read_ref: str | None = None  # when the lead must be read from the platform first
    problem: str | None = None  # why the answers cannot be delivered as they are
    test: bool = False
    ignored: str | None = None  # why this notice is kept but is no lead to deliver


def parsed(parse: Callable[[Any], T], payload: Any, what: str) -> T:
    """``parse(payload)``, its ValidationError a 400 (the body is not the platform's envelope at all)."""
    try:
        return parse(payload)
    except ValidationError as exc:
        raise BadRequest(f"Malformed {what} payload.", errors=exc.normalized_messages()) from exc


def kept(payload: Any) -> dict[str, Any]:
    """The payload as a raw submission keeps it: an object as it is, anything else under ``body``."""
    return payload if isinstance(payload, dict) else {"body": payload}


def unreadable(item: Unreadable, what: str) -> Incoming:
    """A verified item that cannot be read, stored failed under a key made of its content (a resend
    of the same body is a duplicate)."""
    problem = f"cannot read this {what}: " + json.dumps(item.problem, sort_keys=True, default=str)
    return Incoming(None, kept(item.payload), problem=problem)


def ignored(payload: Any, why: str) -> list[Incoming]:
    """A verified notice that is no lead: kept, discarded, so a platform change that turned leads into
    "other notices" shows in ``leadgate`` rather than vanishing."""
    return [Incoming(None, kept(payload), ignored=why)]


def with_answers(
    schema: PlatformLeadSchema, payload: Any, platform_id: str | Unreadable, what: str, *, test: bool = False
) -> Incoming:
    """One lead that carries its answers, under its platform id (or unreadable without one)."""
    if isinstance(platform_id, Unreadable):
        return unreadable(platform_id, what)
    lead, problem = load_lead(schema, payload, test=test)
    return Incoming(platform_id, kept(payload), lead=lead, problem=problem, test=test)


def load_lead(schema: PlatformLeadSchema, payload: Any, *, test: bool) -> tuple[dict[str, Any] | None, str | None]:
    """(Rotor body, None), or (None, why not) when the answers cannot make a deliverable lead."""
    try:
        lead = schema.load(payload)
    except ValidationError as exc:
        return None, "cannot make a lead of it: " + json.dumps(exc.normalized_messages(), sort_keys=True)
    except (TypeError, ValueError, AttributeError) as exc:
        # A shape the mapping did not foresee: the lead is stored failed (replayable once the mapping
        # knows it), not lost to a 500.
        log.exception("cannot map a %s lead", schema.source)
        return None, f"cannot make a lead of it: unexpected shape ({type(exc).__name__}: {exc})"
    if test:
        lead["tags"] = [*lead.get("tags", []), "test-lead"]
    return lead, None
