"""/metrics: Prometheus text from counters every process shares in Redis, behind the admin token."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from core.metrics import ObservationBuffer
from core.store import keys
from tests.conftest import ADMIN_TOKEN

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def samples(client) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", headers=AUTH)
    assert response.status_code == 200 and response.mimetype == "text/plain"
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
    }


def test_metrics_count_intake_and_delivery_across_processes(client, deliver, sandbox) -> None:
    client.post("/v1/forms/contact", json={"name": "Ann", "phone": "2015550123"})
    client.post("/v1/forms/contact", json={"name": "Ann", "phone": "2015550123"})  # a duplicate
    client.post("/v1/forms/contact", json={"name": "Bob", "phone": "2015550124", "_gotcha": "x"})
    assert samples(client)[("leadgate_inbox", ())] == 1  # Ann's, waiting for a drain job
    sandbox.faults(fail_next=1)
    deliver()  # another "process": the worker writes the same counters
    found = samples(client)
    assert found[("leadgate_submissions_total", (("source", "form:contact"), ("status", "queued")))] == 1
    assert found[("leadgate_submissions_total", (("source", "form:contact"), ("status", "duplicate")))] == 1
    assert found[("leadgate_submissions_total", (("source", "form:contact"), ("status", "discarded")))] == 1
    assert found[("leadgate_deliveries_total", (("account", "default"), ("outcome", "500")))] == 1
    assert found[("leadgate_deliveries_total", (("account", "default"), ("outcome", "201")))] == 1
    assert found[("leadgate_intake_seconds_count", ())] == 3
    assert found[("leadgate_delivery_seconds_count", ())] == 1
    assert found[("leadgate_rotor_quota_used", (("account", "default"),))] == 2
    assert found[("leadgate_queue_depth", (("queue", "deliveries"), ("state", "queued")))] == 0
    assert found[("leadgate_inbox", ())] == 0
    assert found[("leadgate_failed", ())] == 0
    assert found[("leadgate_account_paused", (("account", "default"),))] == 0


def test_metrics_need_the_admin_token(client) -> None:
    assert client.get("/metrics").status_code == 401


def test_intake_timings_are_buffered_per_process_and_written_once_due(redis_conn) -> None:
    buffered = ObservationBuffer("leadgate_intake_seconds", flush_seconds=3600)
    buffered.add(redis_conn, 0.004)
    buffered.add(redis_conn, 0.2)
    assert redis_conn.hgetall(keys.metrics_histogram("leadgate_intake_seconds")) == {}  # not due yet
    buffered.flush(redis_conn)
    due = ObservationBuffer("leadgate_intake_seconds", flush_seconds=0)
    due.add(redis_conn, 0.004)  # due at once: written by the add itself
    histogram = redis_conn.hgetall(keys.metrics_histogram("leadgate_intake_seconds"))
    stored = {k.decode(): v.decode() for k, v in histogram.items()}
    assert (stored["0.005"], stored["0.25"], stored["count"]) == ("2", "1", "3")
