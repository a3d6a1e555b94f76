"""The deferred backlog as operators see it: per-account quota and backlog, and "run it now"."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from redis import Redis
from rq import Queue
from rq.job import Job

from service import keys
from service.config import Config
from workers.quota import Budget, QuotaLedger, QuotaStatus


@dataclass(frozen=True)
class AccountReport:
    quota: QuotaStatus
    backlog: int
    paused: str | None
    clears_at: datetime | None  # when the backlog is delivered at the full daily budget

    def to_dict(self) -> dict:
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
    ledger = QuotaLedger(connection, reset_utc=config.quota_reset_utc)
    reports = []
    for name in config.account_names():
        account = config.account(name)
        budget = Budget.for_account(config, name)
        status = ledger.status(name, account.daily_limit)
        backlog = int(connection.scard(keys.account_deferred(name)))
        paused = connection.get(keys.account_paused(name))
        reports.append(
            AccountReport(status, backlog, paused.decode() if paused else None,
                          backlog_clears_at(status, budget, backlog, now))
        )  # fmt: skip
    return reports


def run_deferred_now(connection: Redis, config: Config) -> int:
    """Start a new quota window for every account and queue every deferred delivery now.

    For when Rotor's day turned before ours, or the quota was raised. Should Rotor still refuse,
    the first RATE_LIMIT_EXCEEDED defers everything again, at the cost of that one request.
    """
    ledger = QuotaLedger(connection, reset_utc=config.quota_reset_utc)
    for name in config.account_names():
        ledger.restart_window(name)
    backlog = Queue(keys.BACKLOG_QUEUE, connection=connection)
    registry = backlog.scheduled_job_registry
    moved = 0
    for job_id in registry.get_job_ids():
        job = Job.fetch(job_id, connection=connection)
        with connection.pipeline() as pipe:
            pipe.multi()
            registry.remove(job, pipeline=pipe)
            backlog.enqueue_job(job, pipeline=pipe)
            pipe.execute()
        moved += 1
    return moved
