"""A waiting submission always has a live job: what carries it on when a delivery run ends badly.

A fresh submission's carrier is the inbox until a drain job takes it (``workers.batch``), and
``workers.worker``'s maintenance keeps a drain job queued while the inbox holds any. From then on
it is a job's: RQ calls ``recover_failed_run`` for every delivery or drain job that raised, and
each submission the run left unsettled is carried on as below. Most such runs have already
recorded why (a Rotor rejection marks the submission ``failed`` first). Two kinds have not, and
would leave the submission waiting with no job to move it on:

* a worker that died mid-delivery (SIGKILL, OOM, a lost node). RQ notices when the job's heartbeat
  expires and a worker's maintenance cleans the started registry (``workers.worker`` keeps that
  under a minute), then calls this with ``AbandonedJobError``: the submission is queued again now.
* a run interrupted by something other than Rotor's answer: RQ's job timeout, Redis restarting
  mid-run, a bug. That counts as one transient failure: queued again after the retry policy's
  backoff, and ``failed`` (error class ``crashed``, replayable) once the attempts are used up.

``sweep_stranded`` is the backstop for what no callback sees: a job popped off its queue by a
worker killed before it could start it (RQ's multi-queue dequeue is a plain BLPOP), a job RQ
failed without calling back, a job deleted by hand. The workers' maintenance walks the waiting
index and queues again any submission whose job has ended, vanished or fallen off its queue.

Running a delivery again is safe: a settled submission spends nothing, and an upsert that landed
before the crash is matched by phone or email, not duplicated.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import cast

import redis
from redis import Redis
from rq import Queue
from rq.exceptions import AbandonedJobError
from rq.job import Job

from core.store import keys
from core.store.connection import text
from core.store.jobs import DRAIN_JOB, enqueue_redelivery
from core.store.submissions import SubmissionStore
from core.vocabulary import WAITING, ErrorClass
from workers import context
from workers.outcome import Failed, Run
from workers.settle import Settler

# A waiting submission is looked at once it has not changed (or been looked at) for this long:
# longer than a job can run, so a job that is merely slow is never taken for a stranded one.
STRANDED_AFTER_SECONDS = 60
SWEEP_BATCH = 500
REQUEUE_TRIES = 3
ENDED_JOB = {b"finished", b"failed", b"stopped", b"canceled"}
CARRIER_FIELDS = ["status", "job_id"]  # what ``current_job`` reads of a record


def recover_failed_run(
    job: Job, connection: Redis, exc_type: type[BaseException], exc_value: BaseException, tb: TracebackType | None
) -> None:
    """RQ's failure callback for delivery and drain jobs: carry on each submission the run left."""
    if job.func_name == DRAIN_JOB:
        submission_ids = [text(raw) for raw in connection.lrange(keys.batch(job.id), 0, -1)]
    else:
        submission_ids = [job.args[0]]
    for submission_id in submission_ids:
        recover_interrupted(connection, submission_id, job, exc_type, exc_value)
    connection.delete(keys.batch(job.id))


def recover_interrupted(
    connection: Redis, submission_id: str, job: Job, exc_type: type[BaseException], exc_value: BaseException
) -> None:
    """Carry on ``submission_id`` after ``job``'s run of it ended in an exception, unless it was settled or
    recorded its outcome meanwhile (failed, deferred) or a newer job has it."""
    if current_job(connection, submission_id) != job.id:
        return
    if isinstance(exc_type, type) and issubclass(exc_type, AbandonedJobError):
        requeue(connection, submission_id, job.id, job.origin, f"worker died while running {job.id}")
        return
    reason = f"delivery run interrupted: {exc_type.__name__}: {exc_value}".rstrip(": ")
    ctx = context.current()
    failures = connection.hincrby(keys.submission(submission_id), "failures", 1)
    policy = ctx.retry_policy
    if failures >= policy.max_attempts:
        settler = Settler(connection, ctx)
        state = settler.store.delivery_state(submission_id)
        assert state is not None, "read above"
        settler.settle(Run(submission_id, state), Failed(reason, ErrorClass.CRASHED))
        return
    delay = policy.backoff(failures)
    requeue(connection, submission_id, job.id, job.origin, f"{reason}; retrying in {delay}s", delay=delay)


def current_job(connection: Redis, submission_id: str) -> str | None:
    """The id of the job meant to carry the submission on ("" in the inbox); None unless it is waiting."""
    return _carrier(connection.hmget(keys.submission(submission_id), CARRIER_FIELDS))


def _carrier(row: list[bytes | str | None]) -> str | None:
    """``current_job`` from a record's ``CARRIER_FIELDS``."""
    status, job_id = row
    if status is None or text(status) not in WAITING:
        return None
    return text(job_id) if job_id else ""


def requeue(
    connection: Redis, submission_id: str, dead_job_id: str, queue_name: str, reason: str, *, delay: int = 0
) -> bool:
    """Carry the submission on in a new job, unless it moved on meanwhile (no longer ``dead_job_id``'s).

    A write to the record while this looks (a note, a merge's lead edit) makes it look again.
    """
    at = datetime.now(UTC) + timedelta(seconds=delay) if delay else None
    for _ in range(REQUEUE_TRIES):
        with connection.pipeline() as pipe:
            try:
                pipe.watch(keys.submission(submission_id))
                if current_job(pipe, submission_id) != dead_job_id:
                    return False
                pipe.multi()
                queue = Queue(queue_name, connection=connection)
                job_id = enqueue_redelivery(queue, submission_id, context.current().config, at=at, pipeline=pipe)
                pipe.zadd(keys.WAITING_INDEX, {submission_id: time.time()}, xx=True)
                SubmissionStore.note(pipe, submission_id, f"{reason}; queued again as {job_id}")
                pipe.execute()
                return True
            except redis.WatchError:
                continue
    return False  # the sweep looks again within a minute


def _still_queued(connection: Redis, job_ids: list[str], jobs: list[list]) -> list[list]:
    """``jobs`` with the status of the queued ones read again: one a worker took off its queue
    between the first read and the queue's listing is started now, not stranded."""
    queued = [i for i, (status, _) in enumerate(jobs) if status == b"queued"]
    if not queued:
        return jobs
    with connection.pipeline(transaction=False) as pipe:
        for i in queued:
            pipe.hget(Job.key_for(job_ids[i]), "status")
        jobs = list(jobs)
        for i, status in zip(queued, pipe.execute(), strict=True):
            jobs[i] = [status, jobs[i][1]]
    return jobs


def sweep_stranded(connection: Redis, *, now: float | None = None) -> list[str]:
    """Queue again the waiting submissions whose job has ended or is gone; return their ids.

    Looks at the ``SWEEP_BATCH`` longest-unchanged ones; those with a live job move to the back of
    the index, so successive sweeps go round a backlog of any size, and those no longer waiting
    (settled, or their record gone) leave it.
    """
    now = time.time() if now is None else now
    oldest = now - STRANDED_AFTER_SECONDS
    stale = connection.zrangebyscore(keys.WAITING_INDEX, "-inf", oldest, start=0, num=SWEEP_BATCH)
    ids = [text(raw) for raw in cast(list[bytes], stale)]  # members only: no scores asked for
    if not ids:
        return []
    with connection.pipeline(transaction=False) as pipe:
        for submission_id in ids:
            pipe.hmget(keys.submission(submission_id), CARRIER_FIELDS)
        carriers = zip(ids, map(_carrier, pipe.execute()), strict=True)
        waiting = {sid: job_id for sid, job_id in carriers if job_id is not None}
        if len(waiting) < len(ids):
            connection.zrem(keys.WAITING_INDEX, *(sid for sid in ids if sid not in waiting))
        ids, job_ids = list(waiting), list(waiting.values())
        for job_id in job_ids:
            pipe.hmget(Job.key_for(job_id), ["status", "origin"])
        jobs = pipe.execute()
    # A queued job no worker will ever see: popped by a worker killed before it could start it.
    origins = {origin.decode() for status, origin in jobs if status == b"queued" and origin}
    in_queues = {name: set(Queue(name, connection=connection).get_job_ids()) for name in origins}
    jobs = _still_queued(connection, job_ids, jobs)
    live, requeued = {}, []
    for submission_id, job_id, (status, origin) in zip(ids, job_ids, jobs, strict=True):
        if not job_id:
            what = "is missing"
        elif status is None:
            what = "is gone"
        elif status in ENDED_JOB:
            what = f"has {status.decode()}"
        elif status == b"queued" and job_id not in in_queues.get(origin.decode() if origin else "", ()):
            what = "is queued but on no queue"
        else:
            live[submission_id] = now
            continue
        queue_name = origin.decode() if origin else keys.DELIVERY_QUEUE
        if requeue(connection, submission_id, job_id, queue_name, f"found waiting, but its job {job_id} {what}"):
            requeued.append(submission_id)
        else:  # it moved on meanwhile: looked at again after the others
            live[submission_id] = now
    if live:
        connection.zadd(keys.WAITING_INDEX, live, xx=True)
    return requeued
