"""The delivery job against the sandbox over real HTTP, run by a real RQ worker on a real Redis."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from rq.job import Job

from core.store import keys
from core.store.quota import QuotaLedger
from core.store.submissions import SubmissionStore
from core.vocabulary import SubmissionStatus
from ops.reprocess import Reprocessor
from tests.conftest import DRAIN_JOB, inbox, queued_functions
from workers import context, settle
from workers.batch import BATCH_SIZE
from workers.deliver import Delivery

PERSON = {"name": "Ann Lee", "email": "Ann@Example.com", "phone": "(201) 555-0123"}


def submit(client, **fields) -> str:
    response = client.post("/v1/forms/contact", json={**PERSON, **fields})
    assert response.status_code == 202, response.json
    return response.json["submission_id"]


def submission(redis_conn, submission_id: str):
    return SubmissionStore(redis_conn).get(submission_id)


def failed_job_reason(queue, failed) -> str:
    """Why the failed submission's own job failed, as RQ and rq-dashboard show it (its record names the job)."""
    assert failed.job_id in queue.failed_job_registry.get_job_ids()
    return Job.fetch(failed.job_id, connection=queue.connection).latest_result().exc_string


def test_form_lead_reaches_rotor_with_e164_phone_and_lower_case_email(client, deliver, redis_conn, sandbox) -> None:
    submission_id = submit(client, message="Leaking roof", zip="07030")
    deliver()
    (lead,) = sandbox.leads()
    assert lead["name"] == "Ann Lee"
    assert lead["phone"] == "+12015550123"
    assert lead["email"] == "ann@example.com"
    assert lead["lead_source"] == "website"
    assert lead["property_zip"] == "07030"
    assert lead["tags"] == ["website"]
    assert lead["notes"] == "Leaking roof"
    done = submission(redis_conn, submission_id)
    assert done.status is SubmissionStatus.DELIVERED
    assert done.lead_id == lead["id"] and done.rotor_result == "created"
    assert done.attempts == 1
    assert [e["status"] for e in done.events if "status" in e] == ["queued", "delivered"]


def test_second_submission_of_the_same_phone_updates_the_same_lead(client, deliver, redis_conn, sandbox) -> None:
    first = submit(client)
    deliver()
    second = client.post("/v1/forms/quote", json={"name": "Ann Lee", "phone": "201-555-0123"}).json["submission_id"]
    deliver()
    (lead,) = sandbox.leads()
    assert submission(redis_conn, second).rotor_result == "updated"
    assert submission(redis_conn, second).lead_id == submission(redis_conn, first).lead_id == lead["id"]
    assert sorted(lead["tags"]) == ["quote", "website"]


def test_transient_5xx_is_retried_until_delivered(client, deliver, redis_conn, sandbox, queue) -> None:
    sandbox.faults(fail_next=2, fail_status=503)
    submission_id = submit(client)
    deliver()
    done = submission(redis_conn, submission_id)
    assert done.status is SubmissionStatus.DELIVERED
    assert done.attempts == 3
    attempts = [e["attempt"] for e in done.events if "attempt" in e]
    assert [a["http_status"] for a in attempts] == [503, 503, 201]
    assert attempts[0]["message"] == "Rotor answered 503: Internal server error"
    assert len(sandbox.leads()) == 1
    assert queue.failed_job_registry.count == 0


def test_exhausted_5xx_lands_in_the_failed_registry_with_rotors_message(client, deliver, redis_conn, sandbox, queue):
    sandbox.faults(fail_next=10)
    submission_id = submit(client)
    deliver()  # the test config allows 3 attempts, retried at once
    failed = submission(redis_conn, submission_id)
    assert failed.status is SubmissionStatus.FAILED
    assert failed.attempts == 3
    assert failed.error == "Rotor answered 500: Internal server error"
    # The first attempt ran in the drain job; the retries in a job of the submission's own, which failed.
    assert failed.job_id.startswith(f"{submission_id}-")
    assert "RotorServerError: Rotor answered 500: Internal server error" in failed_job_reason(queue, failed)
    assert sandbox.stats()["requests_total"] == 3


def test_rotor_validation_4xx_fails_at_once_with_field_messages(config, app, deliver, redis_conn, sandbox, queue):
    # Intake never produces a body Rotor refuses, so store one as a buggy mapping would.
    intake = app.extensions["leadgate"]
    submission_id = intake.accept(source="form:contact", raw={}, lead={"name": "Ann", "email": "ann@@example"})
    deliver()
    failed = submission(redis_conn, submission_id)
    assert failed.status is SubmissionStatus.FAILED
    assert failed.attempts == 1
    assert failed.error == "Rotor answered 400: Validation failed: email: Invalid email format"
    # It failed inside the drain job, which carries on with the rest of its batch: no RQ job failed,
    # so the reason reaches the operator through the record and leadgate's failed list.
    assert (failed.events[-1]["status"], failed.events[-1]["note"]) == ("failed", failed.error)
    assert queue.failed_job_registry.count == 0
    (listed,) = Reprocessor(redis_conn, config).failed()
    assert (listed.id, listed.error_class, listed.error) == (submission_id, "rejected", failed.error)


def test_unreachable_rotor_is_retried_then_failed(client, deliver, redis_conn, queue) -> None:
    submission_id = submit(client)
    deliver(rotor_base_url="http://127.0.0.1:1")
    failed = submission(redis_conn, submission_id)
    assert failed.status is SubmissionStatus.FAILED
    assert failed.attempts == 3
    assert failed.error.startswith("cannot reach Rotor: ConnectError")
    assert "RotorConnectFailed: cannot reach Rotor" in failed_job_reason(queue, failed)


def test_deferred_retry_is_scheduled_through_rqs_scheduler(client, deliver, redis_conn, sandbox, queue) -> None:
    sandbox.faults(fail_next=1)
    submission_id = submit(client)
    deliver(retry_base_seconds=600)
    waiting = submission(redis_conn, submission_id)
    assert waiting.status is SubmissionStatus.QUEUED
    # The drain job hands the retry to a job of the submission's own, scheduled for later.
    notes = [event.get("note", "") for event in waiting.events]
    assert notes[-2].startswith("retrying in ") and notes[-1].endswith(f"queued again as {waiting.job_id}")
    assert waiting.job_id.startswith(f"{submission_id}-")
    assert waiting.job_id in queue.scheduled_job_registry.get_job_ids()


def test_more_posts_than_a_batch_are_drained_by_a_second_job(client, deliver, redis_conn, sandbox, queue) -> None:
    ids = [
        submit(client, name=f"P {n}", phone=f"201555{n:04d}", email=f"p{n}@example.com") for n in range(BATCH_SIZE + 1)
    ]
    assert queued_functions(queue) == [DRAIN_JOB]  # one for all of them
    deliver()  # the first drain job queues the second for what it left in the inbox
    assert {submission(redis_conn, sid).status for sid in ids} == {SubmissionStatus.DELIVERED}
    assert inbox(redis_conn) == []
    assert queue.finished_job_registry.count == 2
    assert sandbox.stats()["leads"] == BATCH_SIZE + 1


def test_a_rate_limit_answered_just_after_the_reset_marks_the_day_it_was_counted_in(
    client, redis_conn, sandbox, config
) -> None:
    sandbox.reset(daily_limit=0)  # Rotor answers RATE_LIMIT_EXCEEDED
    submission_id = submit(client)
    redis_conn.delete(keys.INBOX)  # delivered by hand below, with a clock half a second before the reset
    now = [datetime(2026, 11, 23, 23, 59, 59, 500000, tzinfo=UTC).timestamp()]
    ctx = context.DeliveryContext.from_config(config)
    rotor = ctx.rotor("default")
    upsert = rotor.upsert_lead

    def answered_a_second_later(body):
        now[0] += 1.0
        return upsert(body)

    rotor.upsert_lead = answered_a_second_later
    delivery = Delivery(redis_conn, ctx, submission_id)
    delivery.ledger = ledger = QuotaLedger(redis_conn, reset_utc="00:00", clock=lambda: now[0])
    assert str(delivery.run()) == "deferred until 2026-11-24T00:00:00+00:00"
    ctx.close()
    assert redis_conn.hexists(keys.quota("default", "20261123T0000"), "exhausted")
    assert not ledger.status("default", 1000).exhausted  # the day just begun is untouched


def test_an_outage_costs_one_retry_cycle_per_person_not_per_submission(
    client, deliver, redis_conn, sandbox, monkeypatch
) -> None:
    monkeypatch.setattr(settle, "BACKOFF_SLACK_SECONDS", 1)
    ids = [submit(client, message=f"message {n}") for n in range(3)]
    sandbox.faults(fail_rate=1.0)
    deliver()
    # The first run's retries send all three (it merges the person's waiting submissions); the
    # others wait for each retry instead of sending the same body into the same outage.
    assert sandbox.stats()["by_endpoint"]["POST /leads"] == 3
    first, *others = [submission(redis_conn, sid) for sid in ids]
    assert first.status is SubmissionStatus.FAILED and first.attempts == 3
    assert [(s.status, s.attempts) for s in others] == [(SubmissionStatus.QUEUED, 0)] * 2  # no attempt used up
    sandbox.faults()
    time.sleep(1.5)  # the back-off is over: they run when their jobs are due
    deliver()
    assert [submission(redis_conn, sid).status for sid in ids[1:]] == [SubmissionStatus.DELIVERED] * 2
    assert sandbox.stats()["by_endpoint"]["POST /leads"] == 4


def test_a_lead_deleted_in_rotor_found_past_the_dedup_window_is_created_again_whole(
    client, deliver, redis_conn, sandbox
) -> None:
    submit(client, message="Roof leak", city="Hoboken")
    deliver()
    sandbox.reset()  # deleted in Rotor; found only by an update past the window
    client.post("/v1/forms/quote", json={"name": "Ann Lee", "phone": "201-555-0123", "message": "Also gutters"})
    time.sleep(1.2)
    deliver(dedup_window_seconds=1)
    (lead,) = sandbox.leads()
    assert (lead["email"], lead["property_city"]) == ("ann@example.com", "Hoboken")


def test_an_operator_retry_after_a_fold_waits_on_the_survivors_list(client, config, deliver, redis_conn, sandbox):
    failed = submit(client, message="one")
    store = SubmissionStore(redis_conn, retention_seconds=config.retention_seconds)
    redis_conn.delete(keys.INBOX)
    store.set_status(failed, SubmissionStatus.FAILED, note="x", error="x", error_class="rejected")
    folded = store.get(failed).person
    redis_conn.lrem(keys.person_pending(folded), 0, failed)
    # Another phone with another email, then that phone with Ann's email: Ann's person is folded.
    submit(client, name="Ann Lee", phone="2015550199", email="other@example.com", message="two")
    submit(client, name="Ann Lee", phone="2015550199", email="Ann@Example.com", message="three")
    survivor = redis_conn.get(keys.person_folded_into(folded)).decode()
    assert Reprocessor(redis_conn, config).retry([failed]).done == [failed]
    assert redis_conn.lrange(keys.person_pending(folded), 0, -1) == []
    assert failed.encode() in redis_conn.lrange(keys.person_pending(survivor), 0, -1)
    assert 0 < redis_conn.ttl(keys.person_pending(survivor)) <= config.retention_seconds
    deliver()
    assert store.get(failed).status is SubmissionStatus.DELIVERED
    assert sandbox.stats()["by_endpoint"]["POST /leads"] == 1  # one merged upsert for the person


def test_a_lead_deleted_in_rotor_is_created_again_with_everything_it_had(client, deliver, redis_conn, sandbox):
    submit(client, message="Roof leak", city="Hoboken")
    deliver()
    sandbox.reset()  # the lead was deleted in Rotor: an update by its id gets 404
    client.post("/v1/forms/quote", json={"name": "Ann Lee", "phone": "201-555-0123", "message": "Also gutters"})
    deliver()
    (lead,) = sandbox.leads()
    assert (lead["email"], lead["property_city"]) == ("ann@example.com", "Hoboken")
    assert lead["notes"] == "Roof leak\n\nAlso gutters" and sorted(lead["tags"]) == ["quote", "website"]
    again = submit(client, city="Hoboken")  # all of it is in the new lead: nothing to send
    deliver()
    assert submission(redis_conn, again).status is SubmissionStatus.DUPLICATE
    assert sandbox.stats()["by_endpoint"]["POST /leads"] == 2  # the 404, then the new lead
