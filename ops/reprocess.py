"""What the person on call does: list failures, retry them, replay them with today's mapping, discard.

Used by both the CLI and the ops API, so the two always behave the same. Retrying reopens a failed
submission with a fresh retry budget and gives it a delivery job of its own
(``core.store.jobs.enqueue_redelivery``) in one transaction, so a second retry (a double click, two
``--all`` runs) finds it ``queued`` and adds no second job. ``rq requeue`` or rq-dashboard
requeueing the failed job of RQ's reopens it the same way in the worker (``workers.deliver``).
Replaying re-normalises the raw payload with today's mapping (the fix for a mapping bug) and
delivers it onto the person's known Rotor lead, past the dedup window.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import redis
from marshmallow import ValidationError
from redis import Redis
from redis.client import Pipeline
from rq import Queue

from core.config import Config
from core.sources.forms import WebsiteFormSchema
from core.sources.registry import load_lead, schema_for
from core.store import keys
from core.store.identity import PersonIndex, current_person
from core.store.jobs import enqueue_redelivery
from core.store.submissions import Submission, SubmissionStore
from core.vocabulary import FINAL, WAITING, SubmissionStatus

# How often a retry or replay reads the record again when it changed under it (a worker's write).
WATCH_TRIES = 5
CHANGED_MEANWHILE = "it changed while this ran (a worker is on it): try again"


@dataclass(frozen=True)
class FailedFilter:
    source: str | None = None  # "form:contact", "webhook:meta", or a prefix such as "webhook"
    account: str | None = None
    error_class: str | None = None
    older_than: int | None = None  # seconds since it failed
    newer_than: int | None = None

    def accepts(self, submission: Submission, failed_at: float, now: float) -> bool:
        age = now - failed_at
        return (
            (self.source is None or submission.source == self.source or submission.source.startswith(f"{self.source}:"))
            and (self.account is None or submission.account == self.account)
            and (self.error_class is None or submission.error_class == self.error_class)
            and (self.older_than is None or age >= self.older_than)
            and (self.newer_than is None or age <= self.newer_than)
        )


@dataclass(frozen=True)
class FailedItem:
    id: str
    source: str
    account: str
    error_class: str | None
    error: str | None
    attempts: int
    failed_at: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Report:
    """What a bulk operation did: ids done, and why the others were skipped."""

    done: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"done": len(self.done), "skipped": self.skipped, "ids": self.done}


Progress = Callable[[int], None]


class Reprocessor:
    def __init__(self, connection: Redis, config: Config) -> None:
        self.connection = connection
        self.config = config
        self.store = SubmissionStore(connection, retention_seconds=config.retention_seconds)
        self.queue = Queue(keys.DELIVERY_QUEUE, connection=connection)
        self.people = PersonIndex(connection, ttl_seconds=config.retention_seconds)

    def failed(self, filters: FailedFilter = FailedFilter(), *, limit: int | None = None) -> list[FailedItem]:
        """Failed submissions, oldest failure first."""
        now, items = time.time(), []
        for raw_id, failed_at in self.connection.zrange(keys.FAILED_INDEX, 0, -1, withscores=True):
            submission = self.store.get(raw_id.decode())
            if submission is None or submission.status is not SubmissionStatus.FAILED:
                self.connection.zrem(keys.FAILED_INDEX, raw_id)  # expired by retention, or moved on
                continue
            if filters.accepts(submission, failed_at, now):
                items.append(
                    FailedItem(
                        submission.id,
                        submission.source,
                        submission.account,
                        submission.error_class,
                        submission.error,
                        submission.attempts,
                        failed_at,
                    )
                )
                if limit is not None and len(items) >= limit:
                    break
        return items

    def retry(self, ids: Iterable[str], *, progress: Progress | None = None) -> Report:
        return _each(ids, self._retry_one, progress)

    def _retry_one(self, submission_id: str) -> str | None:
        return self._watching(submission_id, self._reopen_failed)

    def _reopen_failed(self, pipe: Pipeline, submission: Submission) -> str | None:
        """Back to ``queued`` with a new job; ``pipe`` watches the record, so this is all or nothing."""
        if submission.status is not SubmissionStatus.FAILED:
            return f"not failed (it is {submission.status.value})"
        if submission.lead is None and submission.read_ref is None:
            return "its payload never made a deliverable lead: fix the mapping and use replay"
        pipe.multi()
        job_id = enqueue_redelivery(self.queue, submission.id, self.config, pipeline=pipe)
        self.store.reopen(submission.id, f"retried by an operator; queued as {job_id}", pipeline=pipe)
        if submission.person is not None:  # the person it is now: a fold moved the person's list
            self.people.wait_with(current_person(self.connection, submission.person), submission.id, pipeline=pipe)
        pipe.execute()
        return None

    def _watching(self, submission_id: str, operation: Callable[[Pipeline, Submission], str | None]) -> str | None:
        """Run ``operation`` on the record under WATCH: a worker's write in between makes it look again."""
        for _ in range(WATCH_TRIES):
            with self.connection.pipeline() as pipe:
                try:
                    pipe.watch(keys.submission(submission_id))
                    submission = self.store.get(submission_id)
                    if submission is None:
                        return "no such submission"
                    return operation(pipe, submission)
                except redis.WatchError:
                    continue
        return CHANGED_MEANWHILE

    def replay(self, ids: Iterable[str], *, progress: Progress | None = None) -> Report:
        return _each(ids, self._replay_one, progress)

    def _replay_one(self, submission_id: str) -> str | None:
        return self._watching(submission_id, self._replace_and_requeue)

    def _replace_and_requeue(self, pipe: Pipeline, submission: Submission) -> str | None:
        # A waiting submission may be in a worker's hands right now: replacing its lead under that
        # run would be overwritten by the run's outcome, and the replay silently lost.
        if submission.status in WAITING:
            return (
                f"not settled (it is {submission.status.value}): it will be delivered as it is; "
                "replay it once it is delivered or failed"
            )
        try:
            lead = self.normalise(submission)
        except ValueError as exc:
            return str(exc)
        person = self.people.resolve(submission.account, lead) if lead is not None else None
        pipe.multi()
        if lead is not None:
            self.store.replace_lead(submission.id, lead, person=person, pipeline=pipe)
            if person is not None:
                self.people.wait_with(person, submission.id, pipeline=pipe)
        else:  # an announced lead never read: read it again
            pipe.hdel(keys.submission(submission.id), "lead")
        note = "replayed by an operator with today's mapping"
        status = SubmissionStatus.QUEUED if lead is not None else SubmissionStatus.RECEIVED
        self.store.set_status(
            submission.id, status, note=note, failures=0, error="", error_class="", replay=1, pipeline=pipe
        )
        enqueue_redelivery(self.queue, submission.id, self.config, pipeline=pipe)
        pipe.execute()
        return None

    def normalise(self, submission: Submission) -> dict[str, Any] | None:
        """The Rotor body today's mapping makes of the raw payload (None: re-read it from the platform)."""
        kind, _, name = submission.source.partition(":")
        if kind == "form":
            form = self.config.forms.get(name)
            if form is None:
                raise ValueError(f"form {name!r} is no longer configured")
            try:
                return WebsiteFormSchema(form=form, phone_region=self.config.default_phone_region).load(
                    submission.raw["fields"]
                )
            except ValidationError as exc:
                raise ValueError(f"still not a deliverable lead: {exc.normalized_messages()}") from exc
        source = self.config.sources.get(name)
        if kind != "webhook" or source is None:
            raise ValueError(f"source {submission.source!r} is not configured")
        if submission.read_ref and submission.read is None:
            return None
        payload = submission.read if submission.read_ref else submission.raw.get("payload")
        lead, problem = load_lead(schema_for(source, self.config), payload, test=False)
        if lead is None:
            raise ValueError(f"still not a deliverable lead: {problem}")
        return lead

    def discard(self, submission_id: str, reason: str) -> str | None:
        """Stop a submission for good (spam that got through, a lead delivered by hand); None when done."""
        submission = self.store.get(submission_id)
        if submission is None:
            return "no such submission"
        if submission.status in FINAL and submission.status is not SubmissionStatus.FAILED:
            return f"already {submission.status.value}"
        with self.connection.pipeline() as pipe:
            self.store.set_status(
                submission_id, SubmissionStatus.DISCARDED, note=f"discarded by an operator: {reason}", pipeline=pipe
            )
            if submission.person:
                pipe.lrem(keys.person_pending(submission.person), 0, submission_id)
            pipe.srem(keys.account_deferred(submission.account), submission_id)
            pipe.execute()
        return None


def _each(ids: Iterable[str], operation: Callable[[str], str | None], progress: Progress | None) -> Report:
    """Apply ``operation`` (None when done, else why not) to every id, reporting progress one by one."""
    report = Report()
    for submission_id in dict.fromkeys(ids):  # once each: the same id twice is one operation, not two
        reason = operation(submission_id)
        if reason is None:
            report.done.append(submission_id)
        else:
            report.skipped[submission_id] = reason
        if progress:
            progress(1)
    return report
