"""How a delivery is put on RQ: the one place that knows the job's function, timeouts and TTLs."""

from __future__ import annotations

from datetime import datetime

from redis.client import Pipeline
from rq import Queue
from rq.job import Job

DELIVERY_JOB = "workers.deliver.deliver_submission"
# One Rotor call with its timeouts takes at most ~13 s; anything past a minute is stuck.
DELIVERY_JOB_TIMEOUT = 60
# Finished jobs need not stay in RQ: the submission record keeps the outcome.
DELIVERY_RESULT_TTL = 3600


def enqueue_delivery(
    queue: Queue,
    submission_id: str,
    *,
    job_id: str | None = None,
    at: datetime | None = None,
    failure_ttl: int | None = None,
    pipeline: Pipeline | None = None,
) -> Job:
    """Queue ``deliver_submission(submission_id)`` now, or schedule it for ``at``.

    The first job of a submission has the submission's id; later ones (after a deferral) get
    ``<id>-<n>``, since a job cannot schedule a new run of itself under its own id. ``failure_ttl``
    follows the retention setting, since a failed job keeps the submission id and RQ's traceback.
    """
    options = {
        "args": (submission_id,),
        "job_id": job_id or submission_id,
        "timeout": DELIVERY_JOB_TIMEOUT,
        "result_ttl": DELIVERY_RESULT_TTL,
        "failure_ttl": failure_ttl,
        "description": f"deliver submission {submission_id}",
        "pipeline": pipeline,
    }
    if at is not None:
        return queue.enqueue_at(at, DELIVERY_JOB, **options)
    return queue.enqueue_call(DELIVERY_JOB, **options)
