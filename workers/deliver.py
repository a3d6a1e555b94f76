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
After a failed call, ``workers.retry`` decides and this module carries it out. A retry after a
transient failure marks the person as backing off: until that retry is due, the person's other
runs wait for it rather than send the same merged body into the same outage.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from redis import Redis
from rq import Queue, Retry, get_current_job

from core import logs, metrics
from core.errors import DeliveryError, RotorConnectFailed
from core.merge import is_covered, merge, upsert_body
from core.rotor import UpsertResult
from core.sources.registry import TEST_LEAD_CHECKS, load_lead
from core.store import keys
from core.store.circuit import AccountCircuit
from core.store.identity import PersonIndex
from core.store.jobs import drain_timeout_seconds, enqueue_delivery
from core.store.people import Member, People, Person
from core.store.quota import QuotaLedger, RequestKind, Reservation
from core.store.submissions import DeliveryState, SubmissionStore
from core.vocabulary import SETTLED, UNREAD, SubmissionStatus
from workers import context
from workers.retry import TRANSIENT, Action

log = logging.getLogger(__name__)
# RQ's own cap on returned retries; the retry policy always stops well before it.
RQ_RETRY_CAP = 1_000_000
# When another worker holds the person for longer than we wait, come back shortly.
LOCK_BUSY_RETRY_SECONDS = 2
# The person's back-off outlasts its retry's due time by this much, so the retry (which its own
# marker does not stop) has run, and settled the others or backed off again, before they look.
BACKOFF_SLACK_SECONDS = 5


class SubmissionMissing(Exception):
    """The job's submission record is gone (purged by retention or deleted by hand)."""


def deliver_submission(submission_id: str) -> str | Retry:
    """Deliver the submission (and its person's other waiting ones); return the Rotor lead id or what is next."""
    job = get_current_job()
    assert job is not None, "deliver_submission runs inside an RQ worker"
    with logs.bound(submission_id=submission_id, job_id=job.id):
        outcome = Delivery(job.connection, context.current(), submission_id, job_id=job.id).run()
        log.info("delivery run ended: %s", outcome)
        return outcome


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
        self.store = SubmissionStore(connection, retention_seconds=ctx.config.retention_seconds)
        self.people = People(connection, self.store, run_timeout_seconds=drain_timeout_seconds(ctx.config))
        self.person_index = PersonIndex(connection, ttl_seconds=ctx.config.retention_seconds)
        self.ledger = QuotaLedger(connection, reset_utc=ctx.config.quota_reset_utc)
        self.circuit = AccountCircuit(connection, probe_seconds=ctx.config.auth_probe_seconds)

    def run(self) -> str | Retry:
        state = self._first_state or self._state()
        with logs.bound(source=state.source):
            return self._run(state)

    def _run(self, state: DeliveryState) -> str | Retry:
        if state.status is SubmissionStatus.FAILED:
            # A failed submission's job runs again when an operator requeued it (`rq requeue`,
            # rq-dashboard): it gets a fresh retry budget, as `leadgate failed retry` gives one.
            not_reopened = self._reopen()
            if not_reopened:
                return f"left failed: {not_reopened}"
            state = self._state()
        if state.lead is None and state.read_ref and state.status in UNREAD:
            outcome = self._read(state)
            if outcome is not None:
                return outcome
            state = self._state()
        if state.lead is None and state.status not in SETTLED:
            raise SubmissionMissing(f"submission {self.submission_id} has no lead to deliver")
        if state.status in SETTLED or state.person is None:
            paused = self.circuit.paused_reason(state.account)
            return self._deliver(state, [Member(self.submission_id, state)], Person(""), paused)
        paused_key = keys.account_paused(state.account)
        with self.people.locked(
            state.person, self.submission_id, window_seconds=self.window, also_read=[paused_key]
        ) as gathered:
            if gathered is None:
                return Retry(max=RQ_RETRY_CAP, interval=LOCK_BUSY_RETRY_SECONDS)
            # Read again under the lock: another worker may have delivered it meanwhile.
            state = self._stored(gathered.state)
            backoff = gathered.person.backoff
            if backoff is not None and backoff.owner != self.submission_id and state.status not in SETTLED:
                # Another submission's retry is due after a transient failure: that run sends this
                # one too (it merges the person's waiting submissions). Come back once it has run;
                # like a busy lock, this spends no retry attempt and no request.
                log.info("person backing off for %s's retry", backoff.owner)
                return Retry(max=RQ_RETRY_CAP, interval=math.ceil(backoff.seconds_left))
            members = self.people.members(self.submission_id, state, gathered.pending)
            paused = gathered.also_read[paused_key]
            return self._deliver(state, members, gathered.person, paused.decode() if paused else None)

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
                if status != SubmissionStatus.FAILED.value.encode():
                    return f"it is {status.decode() if status else 'gone'} now"
                if self.job_id is None or job_id is None or job_id.decode() != self.job_id:
                    return f"{self.job_id or 'this run'} is not its current job; use `leadgate failed retry`"
                pipe.multi()
                self.store.reopen(self.submission_id, f"retried by an operator (requeued {self.job_id})", pipeline=pipe)
                if person:  # the person it is now: a fold since moved the person's waiting submissions there
                    self.person_index.wait_with(
                        self.people.current_id(person.decode()), self.submission_id, pipeline=pipe
                    )
                pipe.execute()
            except redis.WatchError:
                return "it changed while being reopened (another retry?)"
        return None

    def _read(self, state: DeliveryState) -> str | Retry | None:
        """Read an announced lead from its platform and store it; None when it is ready to deliver."""
        source = self.ctx.config.sources.get(state.source.partition(":")[2])
        if source is None:
            return self._fail(state, f"source {state.source!r} is no longer configured")
        assert state.read_ref is not None
        try:
            data = self.ctx.reader.read(source, state.read_ref)
        except DeliveryError as error:
            return self._after_failure(state, [], error, None, sent_id=False)
        self.store.save_read(self.submission_id, data)
        test = TEST_LEAD_CHECKS.get(source.type, lambda _: False)(data)
        if test and not source.deliver_test_leads:
            self.store.set_status(
                self.submission_id, SubmissionStatus.DISCARDED, note=f"{source.type} test lead, not delivered"
            )
            return "test lead, not delivered"
        lead, problem = load_lead(self.ctx.schema(source), data, test=test)
        if lead is None:
            return self._fail(state, problem or "unreadable lead")
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

    def _fail(self, state: DeliveryState, reason: str) -> str:
        """A failure that no retry would fix and that is not an exception (bad content): record it."""
        self.store.set_status(
            self.submission_id, SubmissionStatus.FAILED, note=reason, error=reason, error_class="invalid_lead"
        )
        return f"failed: {reason}"

    def _deliver(self, state: DeliveryState, members: list[Member], person: Person, paused: str | None) -> str | Retry:
        """``paused``: why the account is paused, if it is (``AccountCircuit.paused_reason``)."""
        if state.status in SETTLED:
            return f"already {state.status.value}"
        body = merge([member.piece for member in members])
        replay = any(member.state.replay for member in members)
        # Compared with the notes Rotor holds from us: it replaces them on every update that has any.
        if person.delivered and not replay and is_covered(body, {**person.delivered, "notes": person.notes}):
            return self._settle_as_duplicates(members, person)
        body = upsert_body(body, person.notes, person.lost)
        if person.lead_id and "id" not in body:
            body = {"id": person.lead_id, **body}
        account = state.account
        if paused and not self.circuit.claim_probe(account):
            wait = self.circuit.seconds_to_next_probe(account)
            return self._defer(state, datetime.now(UTC) + timedelta(seconds=wait), f"account paused: {paused}")
        kind = RequestKind.BACKLOG if state.deferrals else RequestKind.FRESH
        reservation = self.ledger.reserve(account, self.ctx.budget(account), kind)
        if not reservation.granted:
            return self._defer(state, reservation.window.resets_at, "today's Rotor request budget is spent")
        try:
            result = self.ctx.rotor(account).upsert_lead(body)
        except DeliveryError as error:
            return self._after_failure(state, members, error, reservation, sent_id="id" in body, person=person)
        if paused:
            self.circuit.resume(account)
        self._settle_as_delivered(state, members, person, body, result)
        return result.lead_id

    def _settle_as_delivered(
        self, state: DeliveryState, members: list[Member], person: Person, body: dict, result: UpsertResult
    ) -> None:
        outcome = "created" if result.created else "updated"
        ids = [member.submission_id for member in members]
        status = 201 if result.created else 200
        with self.connection.pipeline() as pipe:
            self.store.record_attempt(self.submission_id, {"http_status": status}, pipeline=pipe)
            metrics.count(pipe, "leadgate_deliveries_total", account=state.account, outcome=str(status))
            for submission_id in ids:
                merged = {"merged_into": self.submission_id} if submission_id != self.submission_id else {}
                note = f"lead {outcome} in Rotor" + (f" by {self.submission_id}'s upsert" if merged else "")
                self.store.set_status(
                    submission_id,
                    SubmissionStatus.DELIVERED,
                    note=note,
                    lead_id=result.lead_id,
                    rotor_result=outcome,
                    error="",
                    deferred_until="",
                    replay="",
                    pipeline=pipe,
                    **merged,
                )
            if state.person is not None:
                self.people.remember_delivery(person, result.lead_id, body, self.submission_id, pipeline=pipe)
            self.people.settle(state.person, ids, pipeline=pipe)
            pipe.srem(keys.account_deferred(state.account), *ids)
            pipe.execute()
        waited = datetime.now(UTC) - datetime.fromisoformat(state.received_at)
        self.ctx.delivery_latency.add(self.connection, waited.total_seconds())

    def _settle_as_duplicates(self, members: list[Member], person: Person) -> str:
        ids = [member.submission_id for member in members]
        with self.connection.pipeline() as pipe:
            for submission_id in ids:
                self.store.set_status(
                    submission_id,
                    SubmissionStatus.DUPLICATE,
                    note=f"Rotor already has all of it from {person.delivered_by}",
                    duplicate_of=person.delivered_by or "",
                    lead_id=person.lead_id or "",
                    deferred_until="",
                    pipeline=pipe,
                )
            self.people.settle(person.id, ids, pipeline=pipe)
            pipe.srem(keys.account_deferred(members[0].state.account), *ids)
            pipe.execute()
        return f"duplicate of {person.delivered_by}"

    def _after_failure(
        self,
        state: DeliveryState,
        members: list[Member],
        error: DeliveryError,
        reservation: Reservation | None,
        *,
        sent_id: bool,
        person: Person | None = None,
    ) -> str | Retry:
        """``person``: the record the failed upsert was built from, if it was (not a platform read)."""
        if isinstance(error, RotorConnectFailed) and reservation is not None:
            self.ledger.refund(state.account, reservation.window)
        transient = isinstance(error, TRANSIENT)
        decision = self.ctx.retry_policy.decide(error, failures=state.failures + transient, sent_id=sent_id)
        attempt: dict[str, Any] = {"http_status": error.http_status, "error_code": error.error_code}
        attempt = {k: v for k, v in attempt.items() if v is not None} | {"message": error.message}
        with self.connection.pipeline() as pipe:
            self.store.record_attempt(self.submission_id, attempt, transient=transient, pipeline=pipe)
            outcome = error.error_code or (str(error.http_status) if error.http_status else type(error).__name__)
            metrics.count(pipe, "leadgate_deliveries_total", account=state.account, outcome=outcome)
            pipe.execute()
        if decision.action is Action.WAIT_FOR_QUOTA:
            # The window the request was counted in: a refusal that arrives just after the reset
            # must not mark the new day exhausted (nor defer everything to the day after).
            window = self.ledger.mark_exhausted(state.account, reservation.window if reservation else None)
            return self._defer(state, window.resets_at, f"Rotor says the quota is spent: {error.message}")
        if decision.action is Action.PAUSE_ACCOUNT:
            self.circuit.pause(state.account, error.message)
            until = datetime.now(UTC) + timedelta(seconds=self.circuit.probe_seconds)
            return self._defer(state, until, f"account paused: {error.message}")
        if decision.action is Action.RETRY_WITHOUT_ID:
            with self.connection.pipeline() as pipe:
                if person is not None and person.id:
                    # What the lead held from us goes with the next upsert, which creates it anew.
                    self.people.forget_lead(person, pipeline=pipe)
                for member in members:
                    if "id" in (member.state.lead or {}):
                        lead = {k: v for k, v in (member.state.lead or {}).items() if k != "id"}
                        self.store.replace_lead(member.submission_id, lead, pipeline=pipe)
                note = "Rotor no longer has the lead id; upserting without it"
                self.store.set_status(self.submission_id, SubmissionStatus.QUEUED, note=note, pipeline=pipe)
                pipe.execute()
            return Retry(max=RQ_RETRY_CAP, interval=0)
        if decision.action is Action.RETRY:
            note = f"retrying in {decision.delay}s: {error.message}"
            with self.connection.pipeline() as pipe:
                self.store.set_status(
                    self.submission_id, SubmissionStatus.QUEUED, note=note, error=error.message, pipeline=pipe
                )
                if members and state.person is not None:  # Rotor failed (not a platform's read)
                    seconds = decision.delay + BACKOFF_SLACK_SECONDS
                    self.people.back_off(state.person, self.submission_id, seconds, pipeline=pipe)
                pipe.execute()
            return Retry(max=RQ_RETRY_CAP, interval=decision.delay)
        self.record_failure(state, error.message, error.error_class)
        raise error

    def record_failure(self, state: DeliveryState, reason: str, error_class: str) -> None:
        """``failed`` for good: out of the person's waiting submissions, into the failed index for ops."""
        with self.connection.pipeline() as pipe:
            self.store.set_status(
                self.submission_id,
                SubmissionStatus.FAILED,
                note=reason,
                error=reason,
                error_class=error_class,
                pipeline=pipe,
            )
            self.people.settle(state.person, [self.submission_id], pipeline=pipe)
            pipe.srem(keys.account_deferred(state.account), self.submission_id)
            pipe.execute()

    def _defer(self, state: DeliveryState, until: datetime, reason: str) -> str:
        """Schedule a new run on the backlog queue at ``until``; fresh leads are served first."""
        deferrals = state.deferrals + 1
        job_id = f"{self.submission_id}-{deferrals}"
        backlog = Queue(keys.BACKLOG_QUEUE, connection=self.connection)
        at = until.isoformat(timespec="seconds")
        with self.connection.pipeline() as pipe:
            pipe.multi()
            enqueue_delivery(backlog, self.submission_id, self.ctx.config, job_id=job_id, at=until, pipeline=pipe)
            self.store.set_status(
                self.submission_id,
                SubmissionStatus.DEFERRED,
                note=f"{reason}; runs at {at}",
                deferred_until=at,
                deferrals=deferrals,
                job_id=job_id,
                pipeline=pipe,
            )
            pipe.sadd(keys.account_deferred(state.account), self.submission_id)
            pipe.execute()
        return f"deferred until {at}"
