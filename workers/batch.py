"""The drain job: fresh submissions from the inbox, delivered a batch per RQ job.

RQ's bookkeeping costs a few milliseconds per job, more than the delivery itself does beside the
Rotor call (perf-notes.md), so fresh submissions are not given a job each: intake appends them
to ``keys.INBOX`` and ``deliver_inbox`` takes up to ``BATCH_SIZE`` at a time. Each is delivered
by the same code as a job of its own (``workers.deliver.Delivery``: the person's lock, the quota)
and with as much time: a delivery starts only within the drain job's first job timeout, and the
drain job's timeout is twice that. What would have been a job's next run (a retry, a busy
person) becomes a job of its own.

No submission is left behind by a batch:

* The take (``TAKE_SCRIPT``) is one script, so no other client sees a half-taken batch: the ids
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
from rq import Queue, Retry, get_current_job
from rq.job import Job
from rq.timeouts import JobTimeoutException

from core import logs
from core.errors import DeliveryError
from core.store import keys
from core.store.intake import DRAIN_CLAIM_SECONDS
from core.store.jobs import mark_drain_pending, queue_drain
from core.store.submissions import DeliveryState
from workers import context, recovery
from workers.deliver import Delivery, SubmissionMissing

log = logging.getLogger(__name__)

BATCH_SIZE = 50
# KEYS: the inbox, DRAIN_PENDING, the waiting index, the batch list. ARGV: the job id, the batch
# size, now, the batch list's TTL, the submission key prefix, DRAIN_PENDING's claim TTL, then the fields
# of DeliveryState (status first). Returns the ids taken, their DeliveryState rows, then 1 if the
# caller must queue another drain job for what is left. An id whose record is gone (deleted by
# hand) or already settled (merged into a delivery of its person meanwhile) is dropped.
TAKE_SCRIPT = """
redis.call('DEL', KEYS[2])
local ids = redis.call('LPOP', KEYS[1], ARGV[2]) or {}
local taken, rows = {}, {}
local waiting = {queued = true, received = true, deferred = true}
for _, id in ipairs(ids) do
  local row = redis.call('HMGET', ARGV[5] .. id, unpack(ARGV, 7))
  if row[1] and waiting[row[1]] then
    redis.call('HSET', ARGV[5] .. id, 'job_id', ARGV[1])
    redis.call('ZADD', KEYS[3], ARGV[3], id)
    taken[#taken + 1] = id
    rows[#rows + 1] = row
  end
end
if #taken > 0 then
  redis.call('RPUSH', KEYS[4], unpack(taken))
  redis.call('EXPIRE', KEYS[4], ARGV[4])
end
local more = 0
if redis.call('LLEN', KEYS[1]) > 0 and redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[6]) then more = 1 end
return {taken, rows, more}
"""
# Back to the head of the inbox, in order, as if never taken (and off the batch list, so the
# failure callback leaves them alone). Only ids still on this batch's list: giving back twice,
# or after the callback handed them on, changes nothing. KEYS: the inbox, the waiting index, the
# batch list.
GIVE_BACK_SCRIPT = """
for i = #ARGV, 2, -1 do
  if redis.call('LREM', KEYS[3], 0, ARGV[i]) > 0 then
    redis.call('LPUSH', KEYS[1], ARGV[i])
    redis.call('HDEL', ARGV[1] .. ARGV[i], 'job_id')
    redis.call('ZREM', KEYS[2], ARGV[i])
  end
end
"""


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
        self._take = connection.register_script(TAKE_SCRIPT)
        self._give_back = connection.register_script(GIVE_BACK_SCRIPT)

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
        script_keys = [keys.INBOX, keys.DRAIN_PENDING, keys.WAITING_INDEX, keys.batch(self.job.id)]
        # The list outlives any wait for the failure callback (a dead worker's job is noticed only
        # once a live worker's maintenance runs); a run that ends, or its callback, deletes it.
        args = [
            self.job.id,
            BATCH_SIZE,
            time.time(),
            self.ctx.config.retention_seconds,
            keys.submission(""),
            DRAIN_CLAIM_SECONDS,
            *DeliveryState.FIELDS,
        ]
        taken, rows, more = self._take(keys=script_keys, args=args)
        if more:
            queue_drain(self.queue, self.ctx.config)  # the next worker starts on the rest now
        return {raw.decode(): DeliveryState.from_row(row) for raw, row in zip(taken, rows, strict=True)}

    def give_back(self, ids: list[str]) -> None:
        if not ids:
            return
        script_keys = [keys.INBOX, keys.WAITING_INDEX, keys.batch(self.job.id)]
        self._give_back(keys=script_keys, args=[keys.submission(""), *ids])
        if mark_drain_pending(self.connection):
            queue_drain(self.queue, self.ctx.config)

    def deliver(self, submission_id: str, state: DeliveryState | None) -> str:
        """One submission, as its own job would; what happened, in a word or two."""
        try:
            outcome = Delivery(self.connection, self.ctx, submission_id, state).run()
        except JobTimeoutException:
            raise  # the batch is out of time: run() gives back the rest, the callback carries this one on
        except DeliveryError:
            return "failed"  # recorded as failed before it was raised
        except SubmissionMissing as exc:
            log.warning("%s", exc)
            return "missing"
        except Exception as exc:  # a bug or Redis going away: this one run counts as interrupted
            log.exception("delivery run interrupted")
            recovery.recover_interrupted(self.connection, submission_id, self.job, type(exc), exc)
            return "interrupted"
        if isinstance(outcome, Retry):
            # What RQ would have done with this job's Retry: run it again after the interval.
            delay = int(outcome.intervals[0]) if outcome.intervals else 0
            recovery.requeue(
                self.connection,
                submission_id,
                self.job.id,
                self.queue.name,
                "runs again in a job of its own",
                delay=delay,
            )
            return "to run again"
        log.info("delivery run ended: %s", outcome)
        return "ran"
