"""Unit tests for the sandbox's pure lead store and quota ledger (no HTTP)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from sandbox.store import LeadNotFound, LeadStore, RequestLedger


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.moment = start

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> None:
        self.moment += timedelta(**delta)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2025, 3, 1, 23, 0, tzinfo=UTC))


@pytest.fixture
def store(clock: FakeClock) -> LeadStore:
    return LeadStore(now=clock)


def test_create_returns_new_lead_with_read_names(store: LeadStore) -> None:
    lead, created = store.upsert(
        {
            "name": "Ann",
            "phone": "+15550001",
            "address_city": "Austin",
            "source": "web",
            "tags": ["roof", "roof", "urgent"],
        }
    )
    assert created
    assert uuid.UUID(lead["id"]).version == 4
    assert lead["property_city"] == "Austin" and "address_city" not in lead
    assert lead["lead_source"] == "web" and "source" not in lead
    assert lead["tags"] == ["roof", "urgent"]
    assert lead["created_at"] == "2025-03-01T23:00:00.000Z"
    assert lead["archived"] is False
    assert store.get(lead["id"]) == lead


def test_phone_match_updates_and_merges_tags(store: LeadStore) -> None:
    first, _ = store.upsert({"phone": "+15550001", "name": "Ann", "tags": ["a", "b"]})
    second, created = store.upsert({"phone": "+15550001", "notes": "call back", "tags": ["c", "a"]})
    assert not created
    assert second["id"] == first["id"]
    assert second["name"] == "Ann"  # not given, kept
    assert second["notes"] == "call back"
    assert second["tags"] == ["a", "b", "c"]
    assert len(store) == 1


def test_phone_is_matched_before_email(store: LeadStore) -> None:
    by_phone, _ = store.upsert({"phone": "+15550001", "email": "one@example.com"})
    by_email, _ = store.upsert({"phone": "+15550002", "email": "two@example.com"})
    # Phone points at the first lead, email at the second: phone wins.
    lead, created = store.upsert({"phone": "+15550001", "email": "two@example.com"})
    assert not created
    assert lead["id"] == by_phone["id"]
    assert lead["email"] == "two@example.com"
    assert store.get(by_email["id"])["email"] == "two@example.com"


def test_email_matches_when_phone_does_not(store: LeadStore) -> None:
    existing, _ = store.upsert({"email": "ann@example.com"})
    lead, created = store.upsert({"phone": "+15559999", "email": "ann@example.com"})
    assert not created and lead["id"] == existing["id"] and lead["phone"] == "+15559999"


def test_matching_is_exact_string(store: LeadStore) -> None:
    store.upsert({"phone": "+1 555 0001", "email": "Ann@example.com"})
    _, created = store.upsert({"phone": "+15550001", "email": "ann@example.com"})
    assert created
    assert len(store) == 2


def test_id_wins_over_phone_and_unknown_id_is_not_found(store: LeadStore) -> None:
    target, _ = store.upsert({"name": "target"})
    store.upsert({"phone": "+15550001", "name": "other"})
    lead, created = store.upsert({"id": target["id"].upper(), "phone": "+15550001"})
    assert not created and lead["id"] == target["id"] and lead["phone"] == "+15550001"
    with pytest.raises(LeadNotFound):
        store.upsert({"id": str(uuid.uuid4()), "name": "ghost"})
    assert len(store) == 2


def test_no_phone_or_email_always_creates(store: LeadStore) -> None:
    store.upsert({"name": "Ann"})
    store.upsert({"name": "Ann", "phone": ""})
    assert len(store) == 2


def test_returned_leads_are_copies(store: LeadStore) -> None:
    lead, _ = store.upsert({"tags": ["a"]})
    lead["tags"].append("mutated")
    assert store.get(lead["id"])["tags"] == ["a"]


def test_list_newest_first_with_pagination(store: LeadStore, clock: FakeClock) -> None:
    ids = []
    for n in range(5):
        ids.append(store.upsert({"name": f"lead {n}"})[0]["id"])
        clock.advance(seconds=1)
    items, pagination = store.list(page=1, limit=2)
    assert [lead["id"] for lead in items] == ids[4:2:-1]
    assert pagination == {"has_more": True, "limit": 2, "page": 1, "total": 5}
    items, pagination = store.list(page=3, limit=2)
    assert [lead["id"] for lead in items] == [ids[0]]
    assert pagination["has_more"] is False
    assert store.list(page=4, limit=2)[0] == []


def test_list_search_stage_tags_archived(store: LeadStore) -> None:
    store.upsert({"name": "Ann Lee", "email": "ann@example.com", "stage": "new", "tags": ["roof"]})
    store.upsert({"name": "Bob", "phone": "+15550123", "stage": "won", "tags": ["solar", "vip"]})
    store.upsert({"name": "Cy", "email": "cy@ANN.org", "tags": ["gutter"]})

    def names(**query: object) -> list[str]:
        return sorted(lead["name"] for lead in store.list(**query)[0])

    assert names(search="ann") == ["Ann Lee", "Cy"]
    assert names(search="0123") == ["Bob"]
    assert names(stage="won") == ["Bob"]
    assert names(tags=["vip", "gutter"]) == ["Bob", "Cy"]
    assert names(tags=["roof"], search="bob") == []
    assert names(archived=True) == []


def test_ledger_enforces_daily_limit_per_key(clock: FakeClock) -> None:
    ledger = RequestLedger(daily_limit=2, now=clock)
    assert ledger.charge("k1") and ledger.charge("k1")
    assert not ledger.charge("k1")
    assert ledger.charge("k2")
    assert ledger.requests_today() == {"k1": 2, "k2": 1}


def test_ledger_turns_at_utc_midnight(clock: FakeClock) -> None:
    ledger = RequestLedger(daily_limit=1, now=clock)
    assert ledger.charge("k")
    assert not ledger.charge("k")
    clock.advance(minutes=59)
    assert not ledger.charge("k")
    clock.advance(minutes=1)
    assert ledger.day.isoformat() == "2025-03-02"
    assert ledger.charge("k")


def test_ledger_next_day_runs_ahead_of_the_clock(clock: FakeClock) -> None:
    ledger = RequestLedger(daily_limit=1, now=clock)
    ledger.charge("k")
    ledger.next_day()
    assert ledger.day.isoformat() == "2025-03-02"
    assert ledger.charge("k")
    # The clock reaching the day already turned to must not reset it a second time.
    clock.advance(hours=2)
    assert not ledger.charge("k")
    ledger.reset()
    assert ledger.day.isoformat() == "2025-03-02" and ledger.requests_today() == {}
