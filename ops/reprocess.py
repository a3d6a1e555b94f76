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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from enum import Enum, auto
from typing import Any, cast

import redis
from marshmallow import ValidationError
from redis import Redis
from redis.client import Pipeline
from rq import Queue

from core.config import Config
from core.sources.form_tool import ToolPost
from core.sources.form_tools import TOOLS, form_submission
from core.sources.forms import WebsiteFormSchema
from core.sources.incoming import load_lead
from core.sources.registry import schema_for
from core.store import keys
from core.store.connection import text
from core.store.identity import PersonIndex, current_person
from core.store.jobs import enqueue_redelivery
from core.store.submissions import Submission, SubmissionStore
from core.vocabulary import FINAL, WAITING, ErrorClass, SubmissionStatus

# How often a retry or replay reads the record again when it changed under it (a worker's write).
WATCH_TRIES = 5


class SkipReason(Enum):
    """Why an operation left a submission as it was."""

    NO_SUCH_SUBMISSION = auto()  # never was, or expired after the retention period
    NOT_FAILED = auto()  # a retry of one that has not failed
    NEVER_A_LEAD = auto()  # a retry of one whose payload never made a deliverable lead
    STILL_WAITING = auto()  # a replay of one a worker may be delivering right now
    NOT_CONFIGURED = auto()  # a replay of one whose form or source is no longer configured
    NOT_DELIVERABLE = auto()  # a replay that today's mapping still makes no deliverable lead of
    ALREADY_SETTLED = auto()  # a discard of one delivered, a duplicate, or discarded before
    CHANGED_MEANWHILE = auto()  # a worker kept writing it while this ran


@dataclass(frozen=True)
class Done:
    """The operation did to the submission what it was asked to."""

    submission_id: str


@dataclass(frozen=True)
class Skipped:
    """The operation left the submission as it was: ``kind`` for code to act on, ``detail`` for the operator."""

    submission_id: str
    kind: SkipReason
    detail: str


Outcome = Done | Skipped


class NotReplayable(ValueError):
    """Today's mapping makes no deliverable lead of a submission's payload; ``kind`` says why."""

    def __init__(self, kind: SkipReason, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


@dataclass(frozen=True)
class FailedFilter:
    """Which failed submissions an operation is about; a field left None does not filter."""

    source: str | None = None  # "form:contact", "webhook:meta", or a prefix such as "webhook"
    account: str | None = None
    error_class: ErrorClass | None = None
    older_than: int | None = None  # seconds since it failed
    newer_than: int | None = None

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> FailedFilter:
        """The filter a command's options or the API's query name; other keys (``limit``) are not filters."""
        error_class = options.get("error_class")
        return cls(
            source=options.get("source"),
            account=options.get("account"),
            error_class=ErrorClass(error_class) if error_class is not None else None,
            older_than=options.get("older_than"),
            newer_than=options.get("newer_than"),
        )

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


@dataclass(frozen=True)
class Report:
    """What a bulk operation did to each id, in the order it went through them."""

    outcomes: tuple[Outcome, ...]

    @property
    def done(self) -> list[str]:
        return [outcome.submission_id for outcome in self.outcomes if isinstance(outcome, Done)]

    @property
    def skipped(self) -> dict[str, str]:
        """Why each skipped id was skipped, as the operator reads it."""
        return {outcome.submission_id: outcome.detail for outcome in self.outcomes if isinstance(outcome, Skipped)}

    def to_dict(self) -> dict[str, Any]:
        return {"done": len(self.done), "skipped": self.skipped, "ids": self.done}


Progress = Callable[[int], None]


class Reprocessor:
    """The operator's actions on submissions, over one Redis connection."""

    def __init__(self, connection: Redis, config: Config) -> None:
        self.connection = connection
        self.config = config
        self.store = SubmissionStore(connection, retention_seconds=config.retention_seconds)
        self.queue = Queue(keys.DELIVERY_QUEUE, connection=connection)
        self.people = PersonIndex(connection, ttl_seconds=config.retention_seconds)

    def failed(self, filters: FailedFilter = FailedFilter(), *, limit: int | None = None) -> list[FailedItem]:
        """Failed submissions, oldest failure first."""
        now, items = time.time(), []
        for submission_id, failed_at in self._failed_index():
            submission = self.store.get(submission_id)
            if submission is None or submission.status is not SubmissionStatus.FAILED:
                self.connection.zrem(keys.FAILED_INDEX, submission_id)  # expired by retention, or moved on
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

    def _failed_index(self) -> list[tuple[str, float]]:
        """Every (submission id, when it failed) the failed index holds, oldest failure first."""
        entries = self.connection.zrange(keys.FAILED_INDEX, 0, -1, withscores=True)
        return [(text(member), score) for member, score in cast(list[tuple[bytes | str, float]], entries)]

    def retry(self, ids: Iterable[str], *, progress: Progress | None = None) -> Report:
        """Reopen each failed submission with a fresh retry budget and a delivery job of its own."""
        return _each(ids, self._retry_one, progress)

    def _retry_one(self, submission_id: str) -> Outcome:
        return self._watching(submission_id, self._reopen_failed)

    def _reopen_failed(self, pipe: Pipeline, submission: Submission) -> Outcome:
        """Back to ``queued`` with a new job; ``pipe`` watches the record, so this is all or nothing."""
        if submission.status is not SubmissionStatus.FAILED:
            return Skipped(submission.id, SkipReason.NOT_FAILED, f"not failed (it is {submission.status.value})")
        if submission.lead is None and submission.read_ref is None:
            return Skipped(
                submission.id,
                SkipReason.NEVER_A_LEAD,
                "its payload never made a deliverable lead: fix the mapping and use replay",
            )
        pipe.multi()
        job_id = enqueue_redelivery(self.queue, submission.id, self.config, pipeline=pipe)
        self.store.reopen(submission.id, f"retried by an operator; queued as {job_id}", pipeline=pipe)
        if submission.person is not None:  # the person it is now: a fold moved the person's list
            self.people.wait_with(current_person(self.connection, submission.person), submission.id, pipeline=pipe)
        pipe.execute()
        return Done(submission.id)

    def _watching(self, submission_id: str, operation: Callable[[Pipeline, Submission], Outcome]) -> Outcome:
        """Run ``operation`` on the record under WATCH: a worker's write in between makes it look again."""
        for _ in range(WATCH_TRIES):
            with self.connection.pipeline() as pipe:
                try:
                    pipe.watch(keys.submission(submission_id))
                    submission = self.store.get(submission_id)
                    if submission is None:
                        return _no_such_submission(submission_id)
                    return operation(pipe, submission)
                except redis.WatchError:
                    continue
        return Skipped(
            submission_id,
            SkipReason.CHANGED_MEANWHILE,
            "it changed while this ran (a worker is on it): try again",
        )

    def replay(self, ids: Iterable[str], *, progress: Progress | None = None) -> Report:
        """Re-normalise each submission with today's mapping and deliver it again."""
        return _each(ids, self._replay_one, progress)

    def _replay_one(self, submission_id: str) -> Outcome:
        return self._watching(submission_id, self._replace_and_requeue)

    def _replace_and_requeue(self, pipe: Pipeline, submission: Submission) -> Outcome:
        # A waiting submission may be in a worker's hands right now: replacing its lead under that
        # run would be overwritten by the run's outcome, and the replay silently lost.
        if submission.status in WAITING:
            return Skipped(
                submission.id,
                SkipReason.STILL_WAITING,
                f"not settled (it is {submission.status.value}): it will be delivered as it is; "
                "replay it once it is delivered or failed",
            )
        try:
            lead = self.normalise(submission)
        except NotReplayable as exc:
            return Skipped(submission.id, exc.kind, str(exc))
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
        return Done(submission.id)

    def normalise(self, submission: Submission) -> dict[str, Any] | None:
        """The Rotor body today's mapping makes of the raw payload (None: re-read it from the platform).

        Raises NotReplayable when it makes none.
        """
        kind, _, name = submission.source.partition(":")
        if kind == "form":
            form = self.config.forms.get(name)
            if form is None:
                raise NotReplayable(SkipReason.NOT_CONFIGURED, f"form {name!r} is no longer configured")
            post = ToolPost(submission.raw["fields"], {"Content-Type": submission.raw.get("content_type", "")})
            try:
                # Today's mapping: the form's own field map and its tool's, as intake applies them.
                tool = TOOLS.get(submission.raw.get("tool") or form.builder or "")
                posted = form_submission(post, tool, form.fields)
                if posted.test or posted.ignored:
                    raise NotReplayable(SkipReason.NOT_DELIVERABLE, f"not a lead: {posted.test or posted.ignored}")
                return WebsiteFormSchema(form=form, phone_region=self.config.default_phone_region).load(posted.fields)
            except ValidationError as exc:
                raise NotReplayable(
                    SkipReason.NOT_DELIVERABLE, f"still not a deliverable lead: {exc.normalized_messages()}"
                ) from exc
        source = self.config.sources.get(name)
        if kind != "webhook" or source is None:
            raise NotReplayable(SkipReason.NOT_CONFIGURED, f"source {submission.source!r} is not configured")
        if submission.read_ref and submission.read is None:
            return None
        payload = submission.read if submission.read_ref else submission.raw.get("payload")
        schema = schema_for(source, phone_region=self.config.default_phone_region)
        lead, problem = load_lead(schema, payload, test=False)
        if lead is None:
            raise NotReplayable(SkipReason.NOT_DELIVERABLE, f"still not a deliverable lead: {problem}")
        return lead

    def discard(self, submission_id: str, reason: str) -> Outcome:
        """Stop a submission for good (spam that got through, a lead delivered by hand)."""
        submission = self.store.get(submission_id)
        if submission is None:
            return _no_such_submission(submission_id)
        if submission.status in FINAL and submission.status is not SubmissionStatus.FAILED:
            return Skipped(submission_id, SkipReason.ALREADY_SETTLED, f"already {submission.status.value}")
        with self.connection.pipeline() as pipe:
            self.store.set_status(
                submission_id, SubmissionStatus.DISCARDED, note=f"discarded by an operator: {reason}", pipeline=pipe
            )
            if submission.person:
                pipe.lrem(keys.person_pending(submission.person), 0, submission_id)
            pipe.srem(keys.account_deferred(submission.account), submission_id)
            pipe.execute()
        return Done(submission_id)


def _no_such_submission(submission_id: str) -> Skipped:
    return Skipped(submission_id, SkipReason.NO_SUCH_SUBMISSION, "no such submission")


def _each(ids: Iterable[str], operation: Callable[[str], Outcome], progress: Progress | None) -> Report:
    """Apply ``operation`` to every id, reporting progress one by one."""
    outcomes = []
    for submission_id in dict.fromkeys(ids):  # once each: the same id twice is one operation, not two
        outcomes.append(operation(submission_id))
        if progress:
            progress(1)
    return Report(tuple(outcomes))
