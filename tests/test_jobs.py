"""How deliveries are put on RQ (core.store.jobs): a job scheduled for later runs under the same
timeout as one queued now, which the person lock's TTL is built from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from rq import Queue
from rq.job import Job

from core.config import Config
from core.store.jobs import enqueue_delivery


@pytest.mark.parametrize("later", [False, True], ids=["now", "scheduled"])
def test_a_delivery_job_runs_under_the_configured_timeout(config: Config, queue: Queue, later: bool) -> None:
    at = datetime.now(UTC) + timedelta(minutes=5) if later else None
    enqueue_delivery(queue, "s1", config, job_id="s1-1", at=at)
    job = Job.fetch("s1-1", connection=queue.connection)
    assert job.timeout == config.job_timeout_seconds
    assert list(job.args) == ["s1"]
