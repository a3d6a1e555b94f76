"""The Rotor request budget: 1000 requests per API key per day, every request counted.

A request is reserved in Redis before every Rotor call, atomically (``lua/quota_reserve.lua``), so two
workers can never both take the last one. Rotor documents no reset time and no rate-limit
headers (destinations.md §1.2): we count in windows that start at ``ROTOR_QUOTA_RESET_UTC``
(00:00 by default, the most common convention for "per day" API quotas), and one
``RATE_LIMIT_EXCEEDED`` answer marks the window exhausted whatever our own count says.

Not every request may go to deliveries: a share is kept for operators' look-ups, and deferred
(backlog) deliveries leave a share for fresh leads still to come today, a share that shrinks as
the day goes so nothing is left unspent at its end.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from redis import Redis

from core.config import Config
from core.store import keys, scripts

WINDOW_TTL_SECONDS = 3 * 24 * 3600  # kept a little past its day, for `leadgate quota` and debugging


class RequestKind(StrEnum):
    FRESH = "fresh"  # a lead's first delivery attempt(s)
    BACKLOG = "backlog"  # a delivery that was deferred before
    OPS = "ops"  # an operator's look-up (`leadgate lookup`)


@dataclass(frozen=True)
class Budget:
    """How one account's daily limit is shared out. Pure."""

    daily_limit: int
    ops_reserve_percent: int = 2
    fresh_reserve_percent: int = 20

    @classmethod
    def for_account(cls, config: Config, account: str) -> Budget:
        """The named account's limit, shared out by the configured percentages."""
        return cls(config.account(account).daily_limit, config.ops_reserve_percent, config.fresh_reserve_percent)

    @property
    def ops_reserve(self) -> int:
        return math.ceil(self.daily_limit * self.ops_reserve_percent / 100)

    @property
    def for_deliveries(self) -> int:
        return self.daily_limit - self.ops_reserve

    def ceiling(self, kind: RequestKind, day_fraction: float) -> int:
        """How many of the window's requests may be spent when this kind of request asks."""
        if kind is RequestKind.OPS:
            return self.daily_limit
        if kind is RequestKind.FRESH:
            return self.for_deliveries
        kept_for_fresh = math.floor(self.for_deliveries * self.fresh_reserve_percent / 100 * (1 - day_fraction))
        return self.for_deliveries - kept_for_fresh


@dataclass(frozen=True)
class Window:
    """One quota day: it started at ``starts_at`` and resets at ``resets_at`` (UTC)."""

    starts_at: datetime
    resets_at: datetime

    @property
    def label(self) -> str:
        return self.starts_at.strftime("%Y%m%dT%H%M")

    def fraction_elapsed(self, now: datetime) -> float:
        return min(1.0, max(0.0, (now - self.starts_at) / (self.resets_at - self.starts_at)))


def window_at(now: datetime, reset_utc: str) -> Window:
    """The quota window containing ``now`` for a daily reset at ``reset_utc`` (``HH:MM``). Pure."""
    hour, minute = (int(part) for part in reset_utc.split(":"))
    start = now.astimezone(UTC).replace(hour=hour, minute=minute, second=0, microsecond=0)
    if start > now:
        start -= timedelta(days=1)
    return Window(start, start + timedelta(days=1))


@dataclass(frozen=True)
class Reservation:
    granted: bool
    used: int
    window: Window


@dataclass(frozen=True)
class QuotaStatus:
    account: str
    used: int
    limit: int
    exhausted: bool
    window: Window

    @property
    def remaining(self) -> int:
        return 0 if self.exhausted else max(0, self.limit - self.used)


class QuotaLedger:
    """Per-account request counts in Redis, one hash per quota window."""

    def __init__(self, connection: Redis, *, reset_utc: str = "00:00", clock: Callable[[], float] = time.time) -> None:
        self.connection = connection
        self.reset_utc = reset_utc
        self.clock = clock
        self._reserve = scripts.register(connection, "quota_reserve")

    def window(self) -> Window:
        return window_at(datetime.fromtimestamp(self.clock(), UTC), self.reset_utc)

    def reserve(self, account: str, budget: Budget, kind: RequestKind) -> Reservation:
        """Take one request from ``account``'s window if ``kind`` may still spend one."""
        window = self.window()
        ceiling = budget.ceiling(kind, window.fraction_elapsed(datetime.fromtimestamp(self.clock(), UTC)))
        granted, used = self._reserve(keys=[keys.quota(account, window.label)], args=[ceiling, WINDOW_TTL_SECONDS])
        return Reservation(bool(granted), int(used), window)

    def refund(self, account: str, window: Window) -> None:
        """Give back a reserved request that never reached Rotor (the connection was refused)."""
        self.connection.hincrby(keys.quota(account, window.label), "used", -1)

    def mark_exhausted(self, account: str, window: Window | None = None) -> Window:
        """Rotor said RATE_LIMIT_EXCEEDED: no more calls on this account until ``window`` resets.

        ``window``: the one the refused request was reserved in (default: now's). An answer that
        arrives just after the reset belongs to the day that ended, not to the one just begun.
        """
        window = window or self.window()
        key = keys.quota(account, window.label)
        with self.connection.pipeline() as pipe:
            pipe.hset(key, "exhausted", datetime.fromtimestamp(self.clock(), UTC).isoformat())
            pipe.expire(key, WINDOW_TTL_SECONDS)
            pipe.execute()
        return window

    def clear_exhausted(self, account: str) -> None:
        """Forget Rotor's RATE_LIMIT_EXCEEDED for this window (the quota was raised); the count stays,
        so the requests already spent today are not spent twice."""
        self.connection.hdel(keys.quota(account, self.window().label), "exhausted")

    def restart_window(self, account: str) -> None:
        """Forget this window's count and mark: only when Rotor's day is known to have turned before
        ours (its count is back to zero); otherwise the day's budget would be spent twice."""
        self.connection.delete(keys.quota(account, self.window().label))

    def status(self, account: str, limit: int) -> QuotaStatus:
        window = self.window()
        used, exhausted = self.connection.hmget(keys.quota(account, window.label), ["used", "exhausted"])
        return QuotaStatus(account, int(used or 0), limit, exhausted is not None, window)
