"""The delivery job: one submission's lead, upserted into Rotor.

``deliver_submission`` is what RQ runs; it takes only an id and reads everything else from Redis,
so a job requeued by ``rq requeue`` or rq-dashboard behaves exactly like a first run. A transient
failure is answered with a returned ``rq.Retry`` (the worker reschedules it through RQ's
scheduler); a permanent one is raised, which puts the job in RQ's failed registry with Rotor's
message, after the submission itself has been marked ``failed`` with the same reason.
"""

from __future__ import annotations

from typing import Any

from rq import Retry, get_current_job

from service.errors import DeliveryError
from service.submissions import SubmissionStatus, SubmissionStore
from workers import context

# RQ's own cap on returned retries; the retry policy always stops well before it.
RQ_RETRY_CAP = 1_000_000


class SubmissionMissing(Exception):
    """The job's submission record is gone (purged by retention or deleted by hand)."""


def deliver_submission(submission_id: str) -> str | Retry:
    """Upsert the submission's lead into Rotor; return the Rotor lead id."""
    job = get_current_job()
    assert job is not None, "deliver_submission runs inside an RQ worker"
    store = SubmissionStore(job.connection)
    ctx = context.current()
    body, attempts = store.delivery_state(submission_id)
    if body is None:
        raise SubmissionMissing(f"submission {submission_id} has no stored lead")
    attempt = attempts + 1
    try:
        result = ctx.rotor.upsert_lead(body)
    except DeliveryError as error:
        return _handle_failure(store, submission_id, error, attempt, ctx.retry_policy.retry_delay(error, attempt))
    outcome = "created" if result.created else "updated"
    with job.connection.pipeline() as pipe:
        store.record_attempt(submission_id, {"n": attempt, "http_status": 201 if result.created else 200}, pipeline=pipe)
        store.set_status(
            submission_id,
            SubmissionStatus.DELIVERED,
            note=f"lead {outcome} in Rotor",
            lead_id=result.lead_id,
            rotor_result=outcome,
            error="",
            pipeline=pipe,
        )
        pipe.execute()
    return result.lead_id


def _handle_failure(
    store: SubmissionStore, submission_id: str, error: DeliveryError, attempt: int, delay: int | None
) -> Retry:
    record: dict[str, Any] = {"n": attempt, "http_status": error.http_status, "error_code": error.error_code}
    record = {k: v for k, v in record.items() if v is not None} | {"message": error.message}
    with store.connection.pipeline() as pipe:
        store.record_attempt(submission_id, record, pipeline=pipe)
        if delay is None:
            store.set_status(submission_id, SubmissionStatus.FAILED, note=error.message, error=error.message, pipeline=pipe)
        else:
            note = f"attempt {attempt} failed, retrying in {delay}s: {error.message}"
            store.set_status(submission_id, SubmissionStatus.QUEUED, note=note, error=error.message, pipeline=pipe)
        pipe.execute()
    if delay is None:
        raise error
    return Retry(max=RQ_RETRY_CAP, interval=delay)
