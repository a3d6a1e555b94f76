"""A worker killed mid-delivery: a live worker's maintenance finds the job and it is delivered once."""

from __future__ import annotations

import signal
import time

from service.app import create_app
from service.config import Config
from service.submissions import SubmissionStatus, SubmissionStore
from tests.conftest import wait_for
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
    wait_for(lambda: queue.started_job_registry.get_job_ids())
    killed_at = time.monotonic()
    time.sleep(0.3)  # the POST is on its way
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    sandbox.faults()
    assert SubmissionStore(redis_conn).get(submission_id).status is SubmissionStatus.QUEUED

    # Once the dead job's heartbeat has expired, the next worker's maintenance picks it up.
    time.sleep(max(0.0, JOB_TIMEOUT + HEARTBEAT_GRACE_SECONDS + 1 - (time.monotonic() - killed_at)))
    deliver(job_timeout_seconds=JOB_TIMEOUT)
    done = SubmissionStore(redis_conn).get(submission_id)
    assert done.status is SubmissionStatus.DELIVERED
    assert any("worker died while running" in e.get("note", "") for e in done.events)
    assert len(sandbox.leads()) == 1  # the killed call had landed; the retry updated the same lead


def test_sigterm_lets_a_worker_finish_its_current_delivery(client, processes, queue, redis_conn, sandbox) -> None:
    sandbox.faults(latency_ms=1500)
    submission_id = client.post("/v1/forms/contact", json={"name": "Ann", "phone": "2015550123"}).json["submission_id"]
    worker = processes.worker()
    wait_for(lambda: queue.started_job_registry.get_job_ids())
    worker.send_signal(signal.SIGTERM)  # a deploy or a scale-down: RQ's warm shutdown
    assert worker.wait(timeout=30) == 0
    assert SubmissionStore(redis_conn).get(submission_id).status is SubmissionStatus.DELIVERED
    assert queue.started_job_registry.count == 0
