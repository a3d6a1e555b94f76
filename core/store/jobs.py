"""How deliveries are put on RQ: the one place that knows the jobs' functions, timeouts and TTLs.

Fresh submissions wait in the inbox (``keys.INBOX``) and are delivered in batches by drain jobs
(``workers.batch.deliver_inbox``); one submission gets a job of its own when it must run again
later (a retry, a deferral to the quota's reset, an operator's replay).
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime
from typing import TypedDict

import redis
from redis import Redis
from redis.client import Pipeline
from rq import Queue
from rq.job import Callback, Job

from core.config import Config
from core.store import keys
from core.store.intake import DRAIN_CLAIM_SECONDS, DRAIN_PENDING_SECONDS

log = logging.getLogger(__name__)

DELIVERY_JOB = "workers.deliver.deliver_submission"
DRAIN_JOB = "workers.batch.deliver_inbox"
# RQ calls it for every failed run; it carries on the ones that ended without recording an outcome.
ON_FAILURE = "workers.recovery.recover_failed_run"
# Finished jobs need not stay in RQ: the submission record keeps the outcome.
DELIVERY_RESULT_TTL = 3600
# A drain job starts its batch's deliveries only within its first job timeout (workers.batch),
# so each delivery it starts has a whole job timeout left, as a job of its own would.
DRAIN_TIMEOUT_FACTOR = 2


def drain_timeout_seconds(config: Config) -> int:
    """RQ's timeout for a drain job; the longest any delivery run can last."""
    return config.job_timeout_seconds * DRAIN_TIMEOUT_FACTOR


class _DeliveryJobOptions(TypedDict):
    """What RQ is given for a delivery job, now or scheduled."""

    args: tuple[str]
    job_id: str
    job_timeout: int
    result_ttl: int
    failure_ttl: int
    on_failure: Callback
    description: str
    pipeline: Pipeline | None


def enqueue_delivery(
    queue: Queue,
    submission_id: str,
    config: Config,
    *,
    job_id: str,
    at: datetime | None = None,
    pipeline: Pipeline | None = None,
) -> Job:
    """Queue ``deliver_submission(submission_id)`` as ``job_id`` now, or schedule it for ``at``.

    Ids start with the submission's id (``<id>-<n>`` after a deferral, ``<id>-<random>`` for a
    redelivery). RQ keeps a failed job for the retention period, like the submission record.
    """
    options: _DeliveryJobOptions = {
        "args": (submission_id,),
        "job_id": job_id,
        "job_timeout": config.job_timeout_seconds,
        "result_ttl": DELIVERY_RESULT_TTL,
        "failure_ttl": config.retention_seconds,
        "on_failure": Callback(ON_FAILURE),
        "description": f"deliver submission {submission_id}",
        "pipeline": pipeline,
    }
    # ``enqueue`` and ``enqueue_at`` read the same options (``job_timeout``; ``enqueue_at`` drops a
    # ``timeout`` silently, leaving RQ's 180 s default past the person lock's TTL).
    if at is not None:
        return queue.enqueue_at(at, DELIVERY_JOB, **options)
    return queue.enqueue(DELIVERY_JOB, **options)


def enqueue_redelivery(
    queue: Queue, submission_id: str, config: Config, *, pipeline: Pipeline, at: datetime | None = None
) -> str:
    """A fresh delivery job for a submission whose job is spent (failed, dead, replaced), made its
    ``job_id`` in the same transaction; ``pipeline`` must be in MULTI. Returns the new job's id.

    Ids are ``<submission id>-<random>``: RQ may still keep the spent one (failed, or finished).
    """
    job_id = f"{submission_id}-{secrets.token_hex(3)}"
    enqueue_delivery(queue, submission_id, config, job_id=job_id, at=at, pipeline=pipeline)
    pipeline.hset(keys.submission(submission_id), "job_id", job_id)
    return job_id


def enqueue_drain(queue: Queue, config: Config) -> Job:
    """Queue a drain job: it delivers the next batch from the inbox. Whoever claimed
    ``keys.DRAIN_PENDING`` calls this, so one drain job at a time waits on the queue; with the job
    on it, the claim is extended to DRAIN_PENDING_SECONDS (unless a drain job took it meanwhile)."""
    with queue.connection.pipeline() as pipe:
        job = queue.enqueue_call(
            DRAIN_JOB,
            timeout=drain_timeout_seconds(config),
            result_ttl=DELIVERY_RESULT_TTL,
            failure_ttl=config.retention_seconds,
            on_failure=Callback(ON_FAILURE),
            description="deliver from the inbox",
            pipeline=pipe,
        )
        pipe.set(keys.DRAIN_PENDING, 1, xx=True, ex=DRAIN_PENDING_SECONDS)
        pipe.execute()
    return job


def mark_drain_pending(connection: Redis) -> bool:
    """Claim ``keys.DRAIN_PENDING`` unless a drain job is waiting already; True if the caller must queue one."""
    return bool(connection.set(keys.DRAIN_PENDING, 1, nx=True, ex=DRAIN_CLAIM_SECONDS))


def ensure_drain(connection: Redis, queue: Queue, config: Config) -> bool:
    """Queue a drain job if the inbox holds submissions and none is waiting; True if one was queued."""
    if connection.llen(keys.INBOX) and mark_drain_pending(connection):
        enqueue_drain(queue, config)
        return True
    return False


def queue_drain(queue: Queue, config: Config) -> None:
    """``enqueue_drain`` for a caller that has just put submissions in the inbox (or back in it) and
    claimed ``keys.DRAIN_PENDING``. A Redis error is logged, not raised: they are stored all the
    same, and once the claim lapses the next post, or a worker's maintenance (``ensure_drain``),
    queues the job."""
    try:
        enqueue_drain(queue, config)
    except redis.RedisError as exc:
        log.warning("no drain job queued (a worker's maintenance will queue one): %s", exc)
