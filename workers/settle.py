"""The writes that end a delivery run: what each outcome (``workers.outcome``) means in Redis.

``Settler.settle`` writes one outcome, its record changes in one transaction. Taking the
members off the person's pending list lets go of the person's lock in that same transaction
(``People.settle``), so a run settles with the ``People`` it locked with. ``failed_call`` records
a failed call (or platform read) before its outcome is decided.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from redis import Redis
from rq import Queue

from core import metrics
from core.errors import DeliveryError, RotorConnectFailed
from core.store import keys
from core.store.circuit import AccountCircuit
from core.store.jobs import drain_timeout_seconds, enqueue_delivery
from core.store.people import People
from core.store.quota import QuotaLedger, Reservation
from core.store.submissions import SubmissionStore
from core.vocabulary import SubmissionStatus
from workers import context
from workers.outcome import (
    Busy,
    Deferred,
    Delivered,
    Duplicate,
    Failed,
    Outcome,
    Retry,
    RetryWithoutId,
    Run,
    Skipped,
)
from workers.retry import TRANSIENT

# The person's back-off outlasts its retry's due time by this much, so the retry (which its own
# marker does not stop) has run, and settled the others or backed off again, before they look.
BACKOFF_SLACK_SECONDS = 5


class Settler:
    """Writes delivery runs' outcomes through the Redis-backed stores a run reads with."""

    def __init__(self, connection: Redis, ctx: context.DeliveryContext) -> None:
        self.connection = connection
        self.ctx = ctx
        self.store = SubmissionStore(connection, retention_seconds=ctx.config.retention_seconds)
        self.people = People(connection, self.store, run_timeout_seconds=drain_timeout_seconds(ctx.config))
        self.ledger = QuotaLedger(connection, reset_utc=ctx.config.quota_reset_utc)
        self.circuit = AccountCircuit(connection, probe_seconds=ctx.config.auth_probe_seconds)

    def settle(self, run: Run, outcome: Outcome) -> None:
        """Write what ``outcome`` means for the run's submission and the members it merged."""
        match outcome:
            case Delivered():
                self._delivered(run, outcome)
            case Duplicate():
                self._duplicates(run, outcome)
            case Deferred():
                self._deferred(run, outcome)
            case Retry():
                self._retry(run, outcome)
            case RetryWithoutId():
                self._retry_without_id(run, outcome)
            case Failed():
                self._failed(run, outcome)
            case Busy() | Skipped():
                pass  # nothing changed: the run ran again later, or had nothing left to write

    def failed_call(self, run: Run, error: DeliveryError, reservation: Reservation | None) -> None:
        """The call (or the platform's read) failed: give back a request that never reached Rotor,
        and add the attempt to the history (a transient failure counts towards the retries)."""
        state = run.state
        if isinstance(error, RotorConnectFailed) and reservation is not None:
            self.ledger.refund(state.account, reservation.window)
        attempt: dict[str, Any] = {"http_status": error.http_status, "error_code": error.error_code}
        attempt = {k: v for k, v in attempt.items() if v is not None} | {"message": error.message}
        with self.connection.pipeline() as pipe:
            self.store.record_attempt(run.submission_id, attempt, transient=isinstance(error, TRANSIENT), pipeline=pipe)
            outcome = error.error_code or (str(error.http_status) if error.http_status else type(error).__name__)
            metrics.count(pipe, "leadgate_deliveries_total", account=state.account, outcome=outcome)
            pipe.execute()

    def _delivered(self, run: Run, outcome: Delivered) -> None:
        state = run.state
        if outcome.probed:
            self.circuit.resume(state.account)
        result = "created" if outcome.created else "updated"
        ids = [member.submission_id for member in run.members]
        status = 201 if outcome.created else 200
        with self.connection.pipeline() as pipe:
            self.store.record_attempt(run.submission_id, {"http_status": status}, pipeline=pipe)
            metrics.count(pipe, "leadgate_deliveries_total", account=state.account, outcome=str(status))
            for submission_id in ids:
                merged = {"merged_into": run.submission_id} if submission_id != run.submission_id else {}
                note = f"lead {result} in Rotor" + (f" by {run.submission_id}'s upsert" if merged else "")
                self.store.set_status(
                    submission_id,
                    SubmissionStatus.DELIVERED,
                    note=note,
                    lead_id=outcome.lead_id,
                    rotor_result=result,
                    error="",
                    deferred_until="",
                    replay="",
                    pipeline=pipe,
                    **merged,
                )
            if state.person is not None:
                self.people.remember_delivery(
                    run.person, outcome.lead_id, outcome.body, run.submission_id, pipeline=pipe
                )
            self.people.settle(state.person, ids, pipeline=pipe)
            pipe.srem(keys.account_deferred(state.account), *ids)
            pipe.execute()
        waited = datetime.now(UTC) - datetime.fromisoformat(state.received_at)
        self.ctx.delivery_latency.add(self.connection, waited.total_seconds())

    def _duplicates(self, run: Run, outcome: Duplicate) -> None:
        ids = [member.submission_id for member in run.members]
        with self.connection.pipeline() as pipe:
            for submission_id in ids:
                self.store.set_status(
                    submission_id,
                    SubmissionStatus.DUPLICATE,
                    note=f"Rotor already has all of it from {outcome.of}",
                    duplicate_of=outcome.of or "",
                    lead_id=outcome.lead_id or "",
                    deferred_until="",
                    pipeline=pipe,
                )
            self.people.settle(run.person.id, ids, pipeline=pipe)
            pipe.srem(keys.account_deferred(run.state.account), *ids)
            pipe.execute()

    def _deferred(self, run: Run, outcome: Deferred) -> None:
        """Schedule a new run on the backlog queue at ``until``; fresh leads are served first."""
        account = run.state.account
        if outcome.exhausts is not None:
            self.ledger.mark_exhausted(account, outcome.exhausts)
        if outcome.pauses_account is not None:
            self.circuit.pause(account, outcome.pauses_account)
        deferrals = run.state.deferrals + 1
        job_id = f"{run.submission_id}-{deferrals}"
        backlog = Queue(keys.BACKLOG_QUEUE, connection=self.connection)
        with self.connection.pipeline() as pipe:
            pipe.multi()
            enqueue_delivery(
                backlog, run.submission_id, self.ctx.config, job_id=job_id, at=outcome.until, pipeline=pipe
            )
            self.store.set_status(
                run.submission_id,
                SubmissionStatus.DEFERRED,
                note=f"{outcome.reason}; runs at {outcome.at}",
                deferred_until=outcome.at,
                deferrals=deferrals,
                job_id=job_id,
                pipeline=pipe,
            )
            pipe.sadd(keys.account_deferred(account), run.submission_id)
            pipe.execute()

    def _retry(self, run: Run, outcome: Retry) -> None:
        with self.connection.pipeline() as pipe:
            self.store.set_status(
                run.submission_id, SubmissionStatus.QUEUED, note=str(outcome), error=outcome.error, pipeline=pipe
            )
            if run.members and run.state.person is not None:  # Rotor failed (not a platform's read)
                seconds = outcome.delay + BACKOFF_SLACK_SECONDS
                self.people.back_off(run.state.person, run.submission_id, seconds, pipeline=pipe)
            pipe.execute()

    def _retry_without_id(self, run: Run, outcome: RetryWithoutId) -> None:
        with self.connection.pipeline() as pipe:
            if run.person.id:
                # What the lead held from us goes with the next upsert, which creates it anew.
                self.people.forget_lead(run.person, pipeline=pipe)
            for member in run.members:
                if "id" in (member.state.lead or {}):
                    lead = {k: v for k, v in (member.state.lead or {}).items() if k != "id"}
                    self.store.replace_lead(member.submission_id, lead, pipeline=pipe)
            self.store.set_status(run.submission_id, SubmissionStatus.QUEUED, note=str(outcome), pipeline=pipe)
            pipe.execute()

    def _failed(self, run: Run, outcome: Failed) -> None:
        """Out of the person's waiting submissions, into the failed index for ops."""
        with self.connection.pipeline() as pipe:
            self.store.set_status(
                run.submission_id,
                SubmissionStatus.FAILED,
                note=outcome.reason,
                error=outcome.reason,
                error_class=outcome.error_class,
                pipeline=pipe,
            )
            self.people.settle(run.state.person, [run.submission_id], pipeline=pipe)
            pipe.srem(keys.account_deferred(run.state.account), run.submission_id)
            pipe.execute()
