"""The drain job: fresh submissions from the inbox, delivered a batch per RQ job.

RQ's bookkeeping costs a few milliseconds per job, more than the delivery itself does beside the
Rotor call (perf-notes.md), so fresh submissions are not given a job each: intake appends them
to ``keys.INBOX`` and ``deliver_inbox`` takes up to ``BATCH_SIZE`` at a time. Each is delivered
by the same code as a job of its own (``workers.deliver.Delivery``: the person's lock, the quota)
and with as much time: a delivery starts only within the drain job's first job timeout, and the
drain job's timeout is twice that. What would have been a job's next run (a retry, a busy
person) becomes a job of its own.

No submission is left behind by a batch:

* The take (``core.store.inbox``) is one script, so no other client sees a half-taken batch: the ids
  leave the inbox, get this job as their ``job_id``, enter the waiting index and are listed under
  ``keys.batch(job id)``.
* A run cut short (RQ's timeout, Redis gone) gives back to the inbox what it had not started; the
  one it was running, or all it had left if the worker died, go to ``workers.recovery`` through
  RQ's failure callback or, failing that, the waiting index's sweep.
* A batch still running at the end of its start window gives back the rest the same way.
"""

from __future__ import annotations

import contextlib
import logging
import time

import redis
from redis import Redis
from rq import Queue, get_current_job
from rq.job import Job
from rq.timeouts import JobTimeoutException

from core import logs
from core.store import keys
from core.store.inbox import Inbox
from core.store.jobs import mark_drain_pending, queue_drain
from core.store.submissions import DeliveryState
from workers import context, recovery
from workers.deliver import Delivery, SubmissionMissing
from workers.outcome import Failed, RunsAgain

log = logging.getLogger(__name__)

BATCH_SIZE = 50


def deliver_inbox() -> str:
    """Deliver the next batch from the inbox; return how each submission ended, counted."""
    job = get_current_job()
    assert job is not None, "deliver_inbox runs inside an RQ worker"
    with logs.bound(job_id=job.id):
        outcomes = Drain(job.connection, context.current(), job).run()
    summary = ", ".join(f"{n} {what}" for what, n in sorted(outcomes.items())) or "inbox empty"
    log.info("drain run ended: %s", summary)
    return summary


class Drain:
    """One run of a drain job."""

    def __init__(self, connection: Redis, ctx: context.DeliveryContext, job: Job) -> None:
        self.connection = connection
        self.ctx = ctx
        self.job = job
        self.queue = Queue(job.origin, connection=connection)
        self.inbox = Inbox(connection)

    def run(self) -> dict[str, int]:
        batch = self.take()
        ids = list(batch)
        # Started only within the first job timeout: each delivery keeps a whole one (the drain
        # job's timeout is twice that, core.store.jobs.drain_timeout_seconds), as a job of its own did.
        start_by = time.monotonic() + self.ctx.config.job_timeout_seconds
        outcomes: dict[str, int] = {}
        unstarted = 0  # ids[unstarted:] have not been started
        try:
            for index, submission_id in enumerate(ids):
                if index and time.monotonic() > start_by:
                    self.give_back(ids[index:])
                    outcomes["given back"] = len(ids) - index
                    break
                unstarted = index + 1
                with logs.bound(submission_id=submission_id):
                    what = self.deliver(submission_id, batch[submission_id])
                outcomes[what] = outcomes.get(what, 0) + 1
        except BaseException:
            # Cut short (RQ's timeout, Redis gone): the one running is the failure callback's to
            # carry on; the ones not started go back, charged nothing. Best effort: what this
            # cannot give back, the callback requeues.
            with contextlib.suppress(redis.RedisError):
                self.give_back(ids[unstarted:])
            raise
        self.connection.delete(keys.batch(self.job.id))  # every one settled, recorded or handed on
        return outcomes

    def take(self) -> dict[str, DeliveryState | None]:
        """The next batch's ids, in inbox order, with their delivery states."""
        # The batch list outlives any wait for the failure callback (a dead worker's job is noticed
        # only once a live worker's maintenance runs); a run that ends, or its callback, deletes it.
        batch = self.inbox.take(self.job.id, size=BATCH_SIZE, batch_ttl_seconds=self.ctx.config.retention_seconds)
        if batch.drain_wanted:
            queue_drain(self.queue, self.ctx.config)  # the next worker starts on the rest now
        return batch.states

    def give_back(self, ids: list[str]) -> None:
        if not ids:
            return
        self.inbox.give_back(self.job.id, ids)
        if mark_drain_pending(self.connection):
            queue_drain(self.queue, self.ctx.config)

    def deliver(self, submission_id: str, state: DeliveryState | None) -> str:
        """One submission, as its own job would; what happened, in a word or two."""
        try:
            outcome = Delivery(self.connection, self.ctx, submission_id, state).run()
        except JobTimeoutException:
            raise  # the batch is out of time: run() gives back the rest, the callback carries this one on
        except SubmissionMissing as exc:
            log.warning("%s", exc)
            return "missing"
        except Exception as exc:  # a bug or Redis going away: this one run counts as interrupted
            log.exception("delivery run interrupted")
            recovery.recover_interrupted(self.connection, submission_id, self.job, type(exc), exc)
            return "interrupted"
        log.info("delivery run ended: %s", outcome)
        if isinstance(outcome, Failed):
            return "failed"
        if isinstance(outcome, RunsAgain):
            # What RQ does with a job of its own that must run again: a new run after the delay.
            recovery.requeue(
                self.connection,
                submission_id,
                self.job.id,
                self.queue.name,
                "runs again in a job of its own",
                delay=outcome.delay,
            )
            return "to run again"
        return "ran"
