"""The deferred backlog as operators see it: per-account quota and backlog, and "run it now"."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import redis
from redis import Redis
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.registry import ScheduledJobRegistry

from core.config import Config
from core.store import keys
from core.store.connection import text
from core.store.quota import Budget, QuotaLedger, QuotaStatus

# How often ``run_deferred_now`` looks again at one job while the scheduled registry keeps changing.
RUN_NOW_TRIES = 5


@dataclass(frozen=True)
class AccountReport:
    """One Rotor account's quota today and its deferred backlog."""

    quota: QuotaStatus
    backlog: int
    paused: str | None
    clears_at: datetime | None  # when the backlog is delivered at the full daily budget

    def to_dict(self) -> dict[str, Any]:
        return {
            "account": self.quota.account,
            "used": self.quota.used,
            "limit": self.quota.limit,
            "remaining": self.quota.remaining,
            "exhausted": self.quota.exhausted,
            "resets_at": self.quota.window.resets_at.isoformat(),
            "backlog": self.backlog,
            "paused": self.paused,
            "backlog_clears_at": self.clears_at.isoformat() if self.clears_at else None,
        }


def backlog_clears_at(status: QuotaStatus, budget: Budget, backlog: int, now: datetime) -> datetime | None:
    """When ``backlog`` deferred leads will all have been sent, spending the delivery budget. Pure."""
    if backlog == 0:
        return None
    left_today = 0 if status.exhausted else max(0, budget.for_deliveries - status.used)
    if backlog <= left_today:
        return now
    days = math.ceil((backlog - left_today) / budget.for_deliveries)
    return status.window.resets_at + timedelta(days=days - 1)


def account_reports(connection: Redis, config: Config, now: datetime) -> list[AccountReport]:
    """Every configured account's report, in the config's order."""
    ledger = QuotaLedger(connection, reset_utc=config.quota_reset_utc)
    reports = []
    for name in config.account_names():
        account = config.account(name)
        budget = Budget.for_account(config, name)
        status = ledger.status(name, account.daily_limit)
        backlog = int(connection.scard(keys.account_deferred(name)))
        paused = connection.get(keys.account_paused(name))
        reports.append(
            AccountReport(
                status, backlog, text(paused) if paused else None, backlog_clears_at(status, budget, backlog, now)
            )
        )
    return reports


def run_deferred_now(connection: Redis, config: Config, *, reset_quota: bool = False) -> int:
    """Queue every deferred delivery now; return how many this queued.

    For when the quota was raised, or a paused account's key was fixed: every account's
    ``exhausted`` mark is cleared but its count for the day is kept, so what was spent today is not
    spent again. ``reset_quota`` also forgets the count: only for when Rotor's day is known to have
    turned before ours. Should Rotor still refuse, the first RATE_LIMIT_EXCEEDED defers everything
    again, at the cost of that one request.
    """
    ledger = QuotaLedger(connection, reset_utc=config.quota_reset_utc)
    for name in config.account_names():
        if reset_quota:
            ledger.restart_window(name)
        else:
            ledger.clear_exhausted(name)
    backlog = Queue(keys.BACKLOG_QUEUE, connection=connection)
    registry = backlog.scheduled_job_registry
    return sum(_queue_now(connection, backlog, registry, job_id) for job_id in registry.get_job_ids())


def _queue_now(connection: Redis, backlog: Queue, registry: ScheduledJobRegistry, job_id: str) -> bool:
    """Move one scheduled job onto the backlog queue, unless RQ's scheduler moved it first.

    The registry is watched, so the job is queued only if this removes it from the registry. RQ's
    scheduler does not watch it, so a job it listed as due just before may still be queued twice;
    the second run finds its submission settled and spends nothing. A job whose hash is gone
    (deleted by hand, expired) is skipped; the scheduler drops its id when its time comes.
    """
    for _ in range(RUN_NOW_TRIES):
        with connection.pipeline() as pipe:
            try:
                pipe.watch(registry.key)
                if pipe.zscore(registry.key, job_id) is None:
                    return False  # the scheduler got there first
                try:
                    job = Job.fetch(job_id, connection=connection)
                except NoSuchJobError:
                    return False
                pipe.multi()
                pipe.zrem(registry.key, job_id)
                backlog.enqueue_job(job, pipeline=pipe)
                pipe.execute()
                return True
            except redis.WatchError:
                continue  # the registry changed (a job scheduled or moved): look again
    return False  # still contended: left to the scheduler, which queues it when it is due
