"""How a delivery is put on RQ: the one place that knows the job's function, timeouts and TTLs."""

from __future__ import annotations

import secrets
from datetime import datetime

from redis.client import Pipeline
from rq import Queue
from rq.job import Callback, Job

from service import keys
from service.config import Config

DELIVERY_JOB = "workers.deliver.deliver_submission"
# RQ calls it for every failed run; it carries on the ones that ended without recording an outcome.
ON_FAILURE = "workers.recovery.recover_failed_run"
# Finished jobs need not stay in RQ: the submission record keeps the outcome.
DELIVERY_RESULT_TTL = 3600


def enqueue_delivery(
    queue: Queue,
    submission_id: str,
    config: Config,
    *,
    job_id: str | None = None,
    at: datetime | None = None,
    pipeline: Pipeline | None = None,
) -> Job:
    """Queue ``deliver_submission(submission_id)`` now, or schedule it for ``at``.

    The first job of a submission has the submission's id; later ones (after a deferral) get
    ``<id>-<n>``, since a job cannot schedule a new run of itself under its own id. RQ keeps a
    failed job for the retention period, like the submission record.
    """
    options = {
        "args": (submission_id,),
        "job_id": job_id or submission_id,
        "timeout": config.job_timeout_seconds,
        "result_ttl": DELIVERY_RESULT_TTL,
        "failure_ttl": config.retention_seconds,
        "on_failure": Callback(ON_FAILURE),
        "description": f"deliver submission {submission_id}",
        "pipeline": pipeline,
    }
    if at is not None:
        return queue.enqueue_at(at, DELIVERY_JOB, **options)
    return queue.enqueue_call(DELIVERY_JOB, **options)


def enqueue_redelivery(
    queue: Queue, submission_id: str, config: Config, *, pipeline: Pipeline, at: datetime | None = None
) -> str:
    """A fresh delivery job for a submission whose job is spent (failed, dead, replaced), made its
    ``job_id`` in the same transaction; ``pipeline`` must be in MULTI. Returns the new job's id.

    Ids are ``<submission id>-<random>``: RQ keeps the spent job under the submission's own id.
    """
    job_id = f"{submission_id}-{secrets.token_hex(3)}"
    enqueue_delivery(queue, submission_id, config, job_id=job_id, at=at, pipeline=pipeline)
    pipeline.hset(keys.submission(submission_id), "job_id", job_id)
    return job_id
