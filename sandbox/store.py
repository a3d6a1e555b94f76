"""Rotor's lead model and daily quota as plain in-memory objects.

Kept free of Flask and I/O so the parts of Rotor's behaviour that clients depend on (upsert
order id -> phone -> email, tag merging, newest-first listing, the per-key daily quota) can be
unit-tested directly and reused by the HTTP layer under a single lock. Not thread-safe by itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

Clock = Callable[[], datetime]

# Rotor's write names differ from its read names for the address and the source.
WRITE_TO_READ = {
    "address_street1": "property_street1",
    "address_street2": "property_street2",
    "address_city": "property_city",
    "address_state": "property_state",
    "address_zip": "property_zip",
    "address_country": "property_country",
    "source": "lead_source",
}
_PLAIN_FIELDS = (
    "name",
    "email",
    "phone",
    "service_type",
    "notes",
    "stage",
    "priority",
    "projected_value",
    "follow_up_date",
)


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class LeadNotFound(KeyError):
    """An upsert named an `id` that Rotor does not know."""


def _merge_tags(existing: Sequence[str], new: Sequence[str]) -> list[str]:
    # Rotor merges tags on update; order of first appearance keeps read-backs stable.
    return list(dict.fromkeys([*existing, *new]))


class LeadStore:
    """Leads keyed by id, in creation order (dicts keep insertion order)."""

    def __init__(self, now: Clock = utc_now) -> None:
        self._now = now
        self._leads: dict[str, dict[str, Any]] = {}

    def __len__(self) -> int:
        return len(self._leads)

    def clear(self) -> None:
        self._leads.clear()

    def get(self, lead_id: str) -> dict[str, Any] | None:
        lead = self._leads.get(_canonical_id(lead_id))
        return _copy(lead) if lead is not None else None

    def upsert(self, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Apply a validated POST /leads body; returns (lead, created)."""
        lead = self._find(body)
        created = lead is None
        if lead is None:
            lead = self._new_lead()
            self._leads[lead["id"]] = lead
        for field in _PLAIN_FIELDS:
            if field in body:
                lead[field] = body[field]
        for write_name, read_name in WRITE_TO_READ.items():
            if write_name in body:
                lead[read_name] = body[write_name]
        if "tags" in body:
            lead["tags"] = _merge_tags(lead["tags"], body["tags"])
        return _copy(lead), created

    def list(
        self,
        page: int = 1,
        limit: int = 50,
        search: str | None = None,
        stage: str | None = None,
        tags: Sequence[str] = (),
        archived: bool = False,
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """One page of matching leads, newest first, plus Rotor's pagination block."""
        needle = search.casefold() if search else None
        wanted_tags = set(tags)
        matches = [
            lead
            for lead in reversed(self._leads.values())
            if lead["archived"] == archived
            and (stage is None or lead["stage"] == stage)
            and (not wanted_tags or wanted_tags.intersection(lead["tags"]))
            and (needle is None or any(needle in (lead[f] or "").casefold() for f in ("name", "email", "phone")))
        ]
        start = (page - 1) * limit
        items = [_copy(lead) for lead in matches[start : start + limit]]
        pagination = {"has_more": start + limit < len(matches), "limit": limit, "page": page, "total": len(matches)}
        return items, pagination

    def _find(self, body: dict[str, Any]) -> dict[str, Any] | None:
        if "id" in body:
            lead = self._leads.get(_canonical_id(body["id"]))
            if lead is None:
                raise LeadNotFound(body["id"])
            return lead
        # Empty strings are skipped: matching on them would fold unrelated leads together.
        for key in ("phone", "email"):
            value = body.get(key)
            if value:
                for lead in self._leads.values():
                    if lead[key] == value:
                        return lead
        return None

    def _new_lead(self) -> dict[str, Any]:
        lead: dict[str, Any] = dict.fromkeys(_PLAIN_FIELDS)
        lead.update(dict.fromkeys(WRITE_TO_READ.values()))
        lead.update(
            id=str(uuid.uuid4()),
            tags=[],
            archived=False,
            archived_at=None,
            assigned_to=None,
            location=None,
            value_score=None,
            created_at=iso_utc(self._now()),
        )
        return lead


def _canonical_id(lead_id: str) -> str:
    try:
        return str(uuid.UUID(lead_id))
    except ValueError:
        return lead_id


def _copy(lead: dict[str, Any]) -> dict[str, Any]:
    return {**lead, "tags": list(lead["tags"])}


class RequestLedger:
    """Per-API-key request counts for the current UTC day, against a daily limit.

    Rotor documents a daily limit per key but not when it resets; UTC midnight is the
    assumption. `next_day()` lets tests and operators turn the day without waiting, after
    which the ledger stays on its own (later) day until the clock catches up.
    """

    def __init__(self, daily_limit: int = 1000, now: Clock = utc_now) -> None:
        self.daily_limit = daily_limit
        self._now = now
        self._day = self._today()
        self._counts: dict[str, int] = {}

    @property
    def day(self) -> date:
        self._roll()
        return self._day

    def charge(self, api_key: str) -> bool:
        """Count one request; False when the key has already used its daily limit."""
        self._roll()
        used = self._counts.get(api_key, 0)
        if used >= self.daily_limit:
            return False
        self._counts[api_key] = used + 1
        return True

    def requests_today(self) -> dict[str, int]:
        self._roll()
        return dict(self._counts)

    def next_day(self) -> None:
        self._roll()
        self._day += timedelta(days=1)
        self._counts.clear()

    def reset(self) -> None:
        self._day = self._today()
        self._counts.clear()

    def _today(self) -> date:
        return self._now().astimezone(UTC).date()

    def _roll(self) -> None:
        today = self._today()
        if today > self._day:
            self._day = today
            self._counts.clear()
