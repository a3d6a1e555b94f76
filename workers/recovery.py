"""A worker that died mid-delivery (SIGKILL, OOM, a lost node) must not lose its submission.

RQ notices such a job when its heartbeat expires and a worker's maintenance cleans the started
registry (see ``workers.worker`` for the intervals that make that take under a minute); it then
calls the job's failure callback with ``AbandonedJobError`` and moves the job to the failed
registry. This callback puts a fresh delivery job for the submission on the same queue. Running
it again is safe: the job finds a delivered submission settled and spends nothing, and a Rotor
upsert that did land before the crash is matched by phone or email, not duplicated.
"""

from __future__ import annotations

import secrets
from types import TracebackType

from redis import Redis
from rq import Queue
from rq.exceptions import AbandonedJobError
from rq.job import Job

from service import keys
from service.config import Config
from service.jobs import enqueue_delivery
from service.submissions import SubmissionStore


def requeue_abandoned(
    job: Job, connection: Redis, exc_type: type[BaseException], exc_value: BaseException, tb: TracebackType | None
) -> None:
    if not (isinstance(exc_type, type) and issubclass(exc_type, AbandonedJobError)):
        return  # an ordinary failure: the job recorded it itself
    submission_id = job.args[0]
    # The same timeout and retention as the dead job; the callback may run in any worker process.
    config = Config(job_timeout_seconds=job.timeout or Config.job_timeout_seconds,
                    retention_seconds=job.failure_ttl or Config.retention_seconds)  # fmt: skip
    job_id = f"{submission_id}-{secrets.token_hex(3)}"
    with connection.pipeline() as pipe:
        pipe.multi()
        enqueue_delivery(Queue(job.origin, connection=connection), submission_id, config, job_id=job_id, pipeline=pipe)
        pipe.hset(keys.submission(submission_id), "job_id", job_id)
        SubmissionStore.note(pipe, submission_id, f"worker died while running {job.id}; queued again as {job_id}")
        pipe.execute()
