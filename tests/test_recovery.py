"""A worker killed mid-delivery: a live worker's maintenance finds the job and it is delivered once."""

from __future__ import annotations

import signal
import time

import pytest
import redis
from rq import Queue
from rq.job import Job, JobStatus

from core.config import Config
from core.store import keys
from core.store.intake import DRAIN_CLAIM_SECONDS
from core.store.jobs import DRAIN_TIMEOUT_FACTOR
from core.store.submissions import SubmissionStore
from core.vocabulary import SubmissionStatus
from ops.reprocess import Reprocessor
from service.app import create_app
from tests.conftest import DRAIN_JOB, inbox, wait_for
from workers import context, recovery
from workers.batch import Drain
from workers.worker import HEARTBEAT_GRACE_SECONDS

JOB_TIMEOUT = 5


def test_a_worker_killed_mid_delivery_loses_nothing_and_duplicates_nothing(
    config, processes, deliver, queue, redis_conn, sandbox
) -> None:
    client = create_app(Config(**{**config.__dict__, "job_timeout_seconds": JOB_TIMEOUT})).test_client()
    sandbox.faults(latency_ms=4000)  # Rotor applies the upsert, then is slow to answer
    submission_id = client.post("/v1/forms/contact", json={"name": "Ann", "phone": "2015550123"}).json["submission_id"]
    processes.env["LEADGATE_JOB_TIMEOUT_SECONDS"] = str(JOB_TIMEOUT)
    worker = processes.worker()
    drain_id = wait_for(lambda: started_job_of(redis_conn, queue, submission_id))
    assert Job.fetch(drain_id, connection=redis_conn).func_name == DRAIN_JOB
    killed_at = time.monotonic()
    time.sleep(0.3)  # the POST is on its way
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    sandbox.faults()
    assert SubmissionStore(redis_conn).get(submission_id).status is SubmissionStatus.QUEUED

    # Once the dead job's heartbeat has expired, the next worker's maintenance picks it up.
    run_timeout = JOB_TIMEOUT * DRAIN_TIMEOUT_FACTOR  # a drain job's timeout
    time.sleep(max(0.0, run_timeout + HEARTBEAT_GRACE_SECONDS + 1 - (time.monotonic() - killed_at)))
    deliver(job_timeout_seconds=JOB_TIMEOUT)
    done = SubmissionStore(redis_conn).get(submission_id)
    assert done.status is SubmissionStatus.DELIVERED
    assert any(f"worker died while running {drain_id}" in e.get("note", "") for e in done.events)
    assert len(sandbox.leads()) == 1  # the killed call had landed; the retry updated the same lead


def job_of(redis_conn, submission_id: str) -> str | None:
    """The job meant to carry the submission on, as its record says."""
    return SubmissionStore(redis_conn).get(submission_id).job_id


def started_job_of(redis_conn, queue, submission_id: str) -> str | None:
    """The job a worker is running for ``submission_id`` (a drain job that took it from the inbox)."""
    job_id = job_of(redis_conn, submission_id)
    return job_id if job_id and job_id in queue.started_job_registry.get_job_ids() else None


def test_sigterm_lets_a_worker_finish_its_current_delivery(client, processes, queue, redis_conn, sandbox) -> None:
    sandbox.faults(latency_ms=1500)
    submission_id = client.post("/v1/forms/contact", json={"name": "Ann", "phone": "2015550123"}).json["submission_id"]
    worker = processes.worker()
    wait_for(lambda: queue.started_job_registry.get_job_ids())
    worker.send_signal(signal.SIGTERM)  # a deploy or a scale-down: RQ's warm shutdown
    assert worker.wait(timeout=30) == 0
    assert SubmissionStore(redis_conn).get(submission_id).status is SubmissionStatus.DELIVERED
    assert queue.started_job_registry.count == 0


def test_a_worker_queues_a_drain_job_for_an_inbox_that_has_none(client, deliver, queue, redis_conn, sandbox) -> None:
    submission_id = client.post("/v1/forms/contact", json={"name": "Ann", "phone": "2015550123"}).json["submission_id"]
    # Stored, but its drain job never reached the queue (Redis went away between intake's two round
    # trips) and the marker that one is waiting has expired since.
    Job.fetch(queue.job_ids[0], connection=redis_conn).delete()
    redis_conn.delete(keys.DRAIN_PENDING)
    assert inbox(redis_conn) == [submission_id] and queue.count == 0
    deliver()  # the worker's maintenance queues one before it looks at the queue
    assert SubmissionStore(redis_conn).get(submission_id).status is SubmissionStatus.DELIVERED
    assert len(sandbox.leads()) == 1


def test_a_drain_claim_whose_job_never_reached_the_queue_holds_only_seconds(app, client, queue, redis_conn) -> None:
    client.post("/v1/forms/contact", json={"name": "Ann", "phone": "2015550123"})
    assert queue.count == 1 and redis_conn.ttl(keys.DRAIN_PENDING) > DRAIN_CLAIM_SECONDS  # its job waits
    redis_conn.delete(keys.DRAIN_PENDING)  # a worker took it
    intake = app.extensions["leadgate"]
    # The enqueue, and only it, fails; from_url, as core.store.connection builds its client: no retries.
    intake.queue = Queue(queue.name, connection=redis.Redis.from_url("redis://127.0.0.1:1/0"))
    response = client.post("/v1/forms/contact", json={"name": "Bo", "phone": "2015550124"})
    assert response.status_code == 202 and queue.count == 1
    # The next post or a worker's maintenance queues one once the claim lapses, seconds from now.
    assert 0 < redis_conn.ttl(keys.DRAIN_PENDING) <= DRAIN_CLAIM_SECONDS


def short_job_client(config: Config):
    """Intake whose delivery jobs RQ interrupts after a second (the timeout is set on the job)."""
    return create_app(Config(**{**config.__dict__, "job_timeout_seconds": 1})).test_client()


def test_a_run_cut_off_by_the_job_timeout_is_run_again_and_delivered_once(config, deliver, redis_conn, sandbox) -> None:
    # Rotor applies the upsert and then stalls past RQ's job timeout: the run is interrupted
    # without recording anything, so the failure callback must carry the submission on.
    sandbox.faults(timeout_after_apply_next=1, hang_ms=4000)
    response = short_job_client(config).post("/v1/forms/contact", json={"name": "Ann", "phone": "2015550123"})
    submission_id = response.json["submission_id"]
    deliver(job_timeout_seconds=1, rotor_timeout_seconds=10)
    done = SubmissionStore(redis_conn).get(submission_id)
    assert done.status is SubmissionStatus.DELIVERED
    assert done.failures == 1
    assert any("interrupted: JobTimeoutException" in e.get("note", "") for e in done.events)
    assert len(sandbox.leads()) == 1  # the interrupted upsert had landed; the second one updated it


def test_runs_that_keep_getting_interrupted_end_failed_and_can_be_retried(config, deliver, redis_conn, sandbox) -> None:
    sandbox.faults(latency_ms=3000)  # every call outlasts the job timeout
    response = short_job_client(config).post("/v1/forms/contact", json={"name": "Ann", "phone": "2015550123"})
    submission_id = response.json["submission_id"]
    deliver(job_timeout_seconds=1, rotor_timeout_seconds=10)
    failed = SubmissionStore(redis_conn).get(submission_id)
    assert (failed.status, failed.error_class, failed.failures) == (SubmissionStatus.FAILED, "crashed", 3)
    assert [item.id for item in Reprocessor(redis_conn, config).failed()] == [submission_id]

    sandbox.faults()
    Reprocessor(redis_conn, config).retry([submission_id])
    deliver()
    assert SubmissionStore(redis_conn).get(submission_id).status is SubmissionStatus.DELIVERED


@pytest.fixture
def worker_context(config):
    context.install(context.DeliveryContext.from_config(config))
    yield
    context.install(None)


def test_the_sweep_queues_again_a_waiting_submission_whose_job_is_gone_ended_or_off_its_queue(
    client, deliver, queue, redis_conn, sandbox, worker_context
) -> None:
    people = (
        ("Ann", "2015550123"),
        ("Bob", "2015550124"),
        ("Cy", "2015550125"),
        ("Di", "2015550126"),
        ("Ed", "2015550127"),
    )
    ids = [
        client.post("/v1/forms/contact", json={"name": name, "phone": phone}).json["submission_id"]
        for name, phone in people
    ]
    batched, gone, ended, popped, live = ids
    # A drain job takes them all, as a worker would, and gives four of them jobs of their own (as
    # it does a retry); then it dies and RQ fails it without calling back: ``batched`` is left on it.
    drain = Job.fetch(queue.job_ids[0], connection=redis_conn)
    Drain(redis_conn, context.current(), drain).take()
    assert inbox(redis_conn) == [] and {job_of(redis_conn, submission_id) for submission_id in ids} == {drain.id}
    for submission_id in (gone, ended, popped, live):
        assert recovery.requeue(redis_conn, submission_id, drain.id, queue.name, "runs again in a job of its own")
    queue.remove(drain.id)
    drain.set_status(JobStatus.FAILED)
    own = {submission_id: job_of(redis_conn, submission_id) for submission_id in ids}
    redis_conn.delete(Job.key_for(own[gone]))  # deleted by hand, evicted
    Job.fetch(own[ended], connection=redis_conn).set_status(JobStatus.FAILED)  # failed by RQ with no callback
    for submission_id in (gone, ended, popped):  # popped: BLPOPed by a worker killed before starting it
        queue.remove(own[submission_id])

    assert recovery.sweep_stranded(redis_conn) == []  # nothing is looked at before it has waited a while
    # A worker takes ``live``'s job off its queue just as the sweep lists the queue: started, not stranded.
    list_queue = Queue.get_job_ids

    def taken_while_listed(self, *args, **kwargs):
        job_ids = list_queue(self, *args, **kwargs)
        if own[live] in job_ids:
            Job.fetch(own[live], connection=redis_conn).set_status(JobStatus.STARTED)
            job_ids.remove(own[live])
        return job_ids

    Queue.get_job_ids = taken_while_listed
    try:
        first_sweep = recovery.sweep_stranded(redis_conn, now=time.time() + recovery.STRANDED_AFTER_SECONDS + 1)
    finally:
        Queue.get_job_ids = list_queue
    Job.fetch(own[live], connection=redis_conn).set_status(JobStatus.QUEUED)  # back on its queue, as it was
    assert live not in first_sweep
    assert sorted(first_sweep) == sorted([batched, gone, ended, popped])
    later = time.time() + recovery.STRANDED_AFTER_SECONDS + 1
    assert recovery.sweep_stranded(redis_conn, now=later) == []  # the live job moved to the back

    deliver()
    why = {batched: "has failed", gone: "is gone", ended: "has failed", popped: "is queued but on no queue"}
    for submission_id in ids:
        record = SubmissionStore(redis_conn).get(submission_id)
        assert record.status is SubmissionStatus.DELIVERED
        swept = [e["note"] for e in record.events if e.get("note", "").startswith("found waiting")]
        if submission_id == live:
            assert swept == []
        else:
            (note,) = swept
            assert note.startswith(f"found waiting, but its job {own[submission_id]} {why[submission_id]}; queued")
    assert len(sandbox.leads()) == 5
    assert redis_conn.zcard(keys.WAITING_INDEX) == 0
