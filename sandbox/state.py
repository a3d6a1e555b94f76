"""Everything one sandbox app instance remembers, behind one lock.

The server is threaded (concurrent deliveries are part of what it must stand in for), and an
upsert is a read-then-write: two POSTs with the same phone must not both miss and both create.
So every route does all of its work on this state while holding `lock`; only deliberate
latency is spent outside it.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sandbox.faults import FaultSettings
from sandbox.store import Clock, LeadStore, RequestLedger


@dataclass
class Traffic:
    """What reached the Rotor routes, rejected requests included, for /_sandbox/stats."""

    requests_total: int = 0
    rate_limited: int = 0
    by_endpoint: Counter[str] = field(default_factory=Counter)
    by_status: Counter[str] = field(default_factory=Counter)

    def record(self, endpoint: str, status: int) -> None:
        self.requests_total += 1
        self.by_endpoint[endpoint] += 1
        self.by_status[str(status)] += 1


class SandboxState:
    def __init__(self, api_keys: Sequence[str], daily_limit: int, now: Clock) -> None:
        self.api_keys = frozenset(api_keys)
        self.now = now
        self.configured_daily_limit = daily_limit
        self.lock = threading.Lock()
        self.store = LeadStore(now=now)
        self.ledger = RequestLedger(daily_limit=daily_limit, now=now)
        self.faults = FaultSettings()
        self.traffic = Traffic()

    def reset(self, daily_limit: int | None = None) -> None:
        """Back to a fresh start; without a limit, the one the app was created with."""
        self.store.clear()
        self.ledger.reset()
        self.ledger.daily_limit = self.configured_daily_limit if daily_limit is None else daily_limit
        self.faults = FaultSettings()
        self.traffic = Traffic()

    def stats(self) -> dict[str, Any]:
        return {
            "day": self.ledger.day.isoformat(),
            "daily_limit": self.ledger.daily_limit,
            "requests_today": self.ledger.requests_today(),
            "requests_total": self.traffic.requests_total,
            "by_endpoint": dict(self.traffic.by_endpoint),
            "by_status": dict(self.traffic.by_status),
            "rate_limited": self.traffic.rate_limited,
            "leads": len(self.store),
        }
