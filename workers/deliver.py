"""A delivery run: a person's waiting submissions, merged into one upsert within the account's budget.

``Delivery`` runs inside a drain job for fresh submissions (``workers.batch``) and inside
``deliver_submission``, the job a submission gets of its own to run again later (a retry, a
deferral, an operator's retry). Both take only ids and read everything else from Redis, so a job
requeued by ``rq requeue`` or rq-dashboard behaves exactly like a first run, and a run repeated
(RQ is at-least-once) finds its submission settled and spends nothing.

Under the person's lock (``core.store.people``) the run gathers every waiting submission of that
person, merges them (``core.merge``) and either finds Rotor already has all of it (``duplicate``,
no request) or sends one upsert, carrying the Rotor lead id once known. Before the call it needs
the account running (not paused) and one request reserved from the quota; without either the
submission is deferred to the backlog queue through RQ's scheduler, using up no retry attempt.
How the run ends is decided from what it read (``workers.outcome``; after a failed call, with
``workers.retry``'s verdict) and written by ``workers.settle``. A retry after a transient failure
marks the person as backing off: until that retry is due, the person's other runs wait for it
rather than send the same merged body into the same outage.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime, timedelta

import redis
import rq
from redis import Redis
from rq import get_current_job

from core import logs
from core.errors import DeliveryError
from core.sources.incoming import load_lead
from core.sources.registry import SOURCES
from core.store import keys
from core.store.connection import text
from core.store.identity import PersonIndex
from core.store.people import Member
from core.store.quota import RequestKind, Reservation
from core.store.submissions import DeliveryState
from core.vocabulary import SETTLED, UNREAD, ErrorClass, SubmissionStatus
from workers import context
from workers.outcome import (
    Busy,
    Deferred,
    Delivered,
    Failed,
    Outcome,
    Run,
    RunsAgain,
    Skipped,
    Upsert,
    after_failure,
    plan,
)
from workers.retry import TRANSIENT
from workers.settle import Settler

log = logging.getLogger(__name__)
# RQ's own cap on returned retries; the retry policy always stops well before it.
RQ_RETRY_CAP = 1_000_000
# When another worker holds the person for longer than we wait, come back shortly.
LOCK_BUSY_RETRY_SECONDS = 2


class SubmissionMissing(Exception):
    """The job's submission record is gone (purged by retention or deleted by hand)."""


def deliver_submission(submission_id: str) -> str | rq.Retry:
    """Deliver the submission (and its person's other waiting ones); return the Rotor lead id or what is next."""
    job = get_current_job()
    assert job is not None, "deliver_submission runs inside an RQ worker"
    with logs.bound(submission_id=submission_id, job_id=job.id):
        outcome = Delivery(job.connection, context.current(), submission_id, job_id=job.id).run()
        log.info("delivery run ended: %s", outcome)
        return job_result(outcome)


def job_result(outcome: Outcome) -> str | rq.Retry:
    """What a job of its own makes of the run's outcome for RQ.

    A run that must happen again returns RQ's ``Retry`` (RQ schedules it, no retry of RQ's spent);
    a failed call fails the job, so RQ and rq-dashboard show why; anything else is the job's
    result, the Rotor lead id for a delivery.
    """
    if isinstance(outcome, Failed) and outcome.error is not None:
        raise outcome.error
    if isinstance(outcome, RunsAgain):
        return rq.Retry(max=RQ_RETRY_CAP, interval=outcome.delay)
    return str(outcome)


class Delivery:
    """One delivery run for one submission (in a drain job or a job of its own)."""

    def __init__(
        self,
        connection: Redis,
        ctx: context.DeliveryContext,
        submission_id: str,
        state: DeliveryState | None = None,
        *,
        job_id: str | None = None,
    ) -> None:
        """``state``: the submission's, if the caller has just read it (a drain job reads its batch's at once).
        ``job_id``: the job of its own this runs in, if any (only that job may reopen a failed submission)."""
        self.connection = connection
        self.job_id = job_id
        self._first_state = state
        self.ctx = ctx
        self.submission_id = submission_id
        self.settler = Settler(connection, ctx)
        # Read through the stores the run settles with: the settle lets go of the person's lock.
        self.store, self.people = self.settler.store, self.settler.people
        self.ledger, self.circuit = self.settler.ledger, self.settler.circuit
        self.person_index = PersonIndex(connection, ttl_seconds=ctx.config.retention_seconds)

    def run(self) -> Outcome:
        """Deliver, write how it ended, and return that."""
        state = self._first_state or self._state()
        with logs.bound(source=state.source):
            return self._run(state)

    def _run(self, state: DeliveryState) -> Outcome:
        if state.status is SubmissionStatus.FAILED:
            # A failed submission's job runs again when an operator requeued it (`rq requeue`,
            # rq-dashboard): it gets a fresh retry budget, as `leadgate failed retry` gives one.
            not_reopened = self._reopen()
            if not_reopened:
                return Skipped(f"left failed: {not_reopened}")
            state = self._state()
        if state.lead is None and state.read_ref and state.status in UNREAD:
            read = self._read(state)
            if read is not None:
                return self._settle(Run(self.submission_id, state), read)
            state = self._state()
        if state.lead is None and state.status not in SETTLED:
            raise SubmissionMissing(f"submission {self.submission_id} has no lead to deliver")
        if state.status in SETTLED or state.person is None:
            run = Run(self.submission_id, state, [Member(self.submission_id, state)])
            return self._settle(run, self._deliver(run, self.circuit.paused_reason(state.account)))
        return self._run_locked(state)

    def _run_locked(self, state: DeliveryState) -> Outcome:
        """The run of a submission with a person: under the person's lock, with the others it waits with."""
        assert state.person is not None
        paused_key = keys.account_paused(state.account)
        with self.people.locked(
            state.person, self.submission_id, window_seconds=self.window, also_read=[paused_key]
        ) as gathered:
            if gathered is None:
                return Busy(LOCK_BUSY_RETRY_SECONDS, "another worker holds the person")
            # Read again under the lock: another worker may have delivered it meanwhile.
            state = self._stored(gathered.state)
            backoff = gathered.person.backoff
            if backoff is not None and backoff.owner != self.submission_id and state.status not in SETTLED:
                # Another submission's retry is due after a transient failure: that run sends this
                # one too (it merges the person's waiting submissions). Come back once it has run;
                # like a busy lock, this spends no retry attempt and no request.
                log.info("person backing off for %s's retry", backoff.owner)
                return Busy(math.ceil(backoff.seconds_left), f"person backing off for {backoff.owner}'s retry")
            members = self.people.members(self.submission_id, state, gathered.pending)
            run = Run(self.submission_id, state, members, gathered.person)
            paused = gathered.also_read[paused_key]
            return self._settle(run, self._deliver(run, text(paused) if paused else None))

    def _settle(self, run: Run, outcome: Outcome) -> Outcome:
        self.settler.settle(run, outcome)
        return outcome

    @property
    def window(self) -> int:
        return self.ctx.config.dedup_window_seconds

    def _state(self) -> DeliveryState:
        return self._stored(self.store.delivery_state(self.submission_id))

    def _stored(self, state: DeliveryState | None) -> DeliveryState:
        if state is None:
            raise SubmissionMissing(f"submission {self.submission_id} is not stored (purged, or deleted by hand)")
        return state

    def _reopen(self) -> str | None:
        """Back to ``queued`` with a fresh retry budget; None when done, else why not.

        Only while it is still ``failed`` and only by the job its record names: a leftover job (one
        an operator's retry or replay has since replaced) must not reopen it by itself, or each such
        job would make one more delivery.
        """
        key = keys.submission(self.submission_id)
        with self.connection.pipeline() as pipe:
            try:
                pipe.watch(key)
                status, job_id, person = pipe.hmget(key, ["status", "job_id", "person"])
                if status is None or text(status) != SubmissionStatus.FAILED:
                    return f"it is {text(status) if status else 'gone'} now"
                if self.job_id is None or job_id is None or text(job_id) != self.job_id:
                    return f"{self.job_id or 'this run'} is not its current job; use `leadgate failed retry`"
                pipe.multi()
                self.store.reopen(self.submission_id, f"retried by an operator (requeued {self.job_id})", pipeline=pipe)
                if person:  # the person it is now: a fold since moved the person's waiting submissions there
                    self.person_index.wait_with(self.people.current_id(text(person)), self.submission_id, pipeline=pipe)
                pipe.execute()
            except redis.WatchError:
                return "it changed while being reopened (another retry?)"
        return None

    def _read(self, state: DeliveryState) -> Outcome | None:
        """Read an announced lead from its platform and store it; None when it is ready to deliver."""
        source = self.ctx.config.sources.get(state.source.partition(":")[2])
        if source is None:
            return Failed(f"source {state.source!r} is no longer configured", ErrorClass.INVALID_LEAD)
        assert state.read_ref is not None
        try:
            data = self.ctx.reader.read(source, state.read_ref)
        except DeliveryError as error:
            return self._after_failure(state, error, None, sent_id=False)
        self.store.save_read(self.submission_id, data)
        test = SOURCES[source.type].is_test_lead(data)
        if test and not source.deliver_test_leads:
            self.store.set_status(
                self.submission_id, SubmissionStatus.DISCARDED, note=f"{source.type} test lead, not delivered"
            )
            return Skipped("test lead, not delivered")
        lead, problem = load_lead(self.ctx.schema(source), data, test=test)
        if lead is None:
            return Failed(problem or "unreadable lead", ErrorClass.INVALID_LEAD)
        person = self.person_index.resolve(state.account, lead)
        with self.connection.pipeline() as pipe:
            self.store.replace_lead(self.submission_id, lead, person=person, pipeline=pipe)
            if person is not None:
                self.person_index.wait_with(person, self.submission_id, pipeline=pipe)
            self.store.set_status(
                self.submission_id, SubmissionStatus.QUEUED, note=f"lead read from {source.type}", pipeline=pipe
            )
            pipe.execute()
        return None

    def _deliver(self, run: Run, paused: str | None) -> Outcome:
        """``plan``'s upsert, sent within the account's budget. ``paused``: why the account is paused,
        if it is (``AccountCircuit.paused_reason``)."""
        upsert = plan(run)
        if not isinstance(upsert, Upsert):
            return upsert
        account = run.state.account
        if paused and not self.circuit.claim_probe(account):
            wait = self.circuit.seconds_to_next_probe(account)
            return Deferred(datetime.now(UTC) + timedelta(seconds=wait), f"account paused: {paused}")
        kind = RequestKind.BACKLOG if run.state.deferrals else RequestKind.FRESH
        reservation = self.ledger.reserve(account, self.ctx.budget(account), kind)
        if not reservation.granted:
            return Deferred(reservation.window.resets_at, "today's Rotor request budget is spent")
        try:
            result = self.ctx.rotor(account).upsert_lead(upsert.body)
        except DeliveryError as error:
            return self._after_failure(run.state, error, reservation, sent_id=upsert.sends_id)
        return Delivered(result.lead_id, result.created, upsert.body, probed=bool(paused))

    def _after_failure(
        self, state: DeliveryState, error: DeliveryError, reservation: Reservation | None, *, sent_id: bool
    ) -> Outcome:
        """Record the failed call (or platform read) and decide what follows."""
        self.settler.failed_call(Run(self.submission_id, state), error, reservation)
        failures = state.failures + isinstance(error, TRANSIENT)
        verdict = self.ctx.retry_policy.decide(error, failures=failures, sent_id=sent_id)
        return after_failure(
            error,
            verdict,
            window=reservation.window if reservation else self.ledger.window(),
            now=datetime.now(UTC),
            probe_seconds=self.circuit.probe_seconds,
        )
