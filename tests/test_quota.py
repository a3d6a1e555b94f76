"""Quota-aware delivery against the sandbox with a small daily limit, real workers, real Redis."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from rq import Queue
from rq.job import Job
from rq.registry import ScheduledJobRegistry

from core.config import Config
from core.store import keys
from core.store.circuit import AccountCircuit
from core.store.jobs import enqueue_delivery
from core.store.quota import Budget, QuotaLedger, RequestKind
from core.store.submissions import SubmissionStore
from core.vocabulary import SubmissionStatus
from leadgate import main
from ops.backlog import run_deferred_now
from tests.conftest import ADMIN_TOKEN

SMALL = {"rotor_daily_limit": 20, "ops_reserve_percent": 0}


def submit_people(client, count: int, start: int = 0) -> list[str]:
    ids = []
    for n in range(start, start + count):
        response = client.post("/v1/forms/contact", json={"name": f"Person {n}", "phone": f"201555{n:04d}"})
        assert response.status_code == 202
        ids.append(response.json["submission_id"])
    return ids


def statuses(redis_conn, ids: list[str]) -> dict[str, int]:
    store = SubmissionStore(redis_conn)
    counts: dict[str, int] = {}
    for submission_id in ids:
        status = store.get(submission_id).status.value
        counts[status] = counts.get(status, 0) + 1
    return counts


def test_thirty_people_with_a_limit_of_twenty(client, deliver, redis_conn, sandbox, config) -> None:
    sandbox.reset(daily_limit=20)
    ids = submit_people(client, 30)
    deliver(**SMALL)
    stats = sandbox.stats()
    assert stats["requests_total"] == 20 and stats["rate_limited"] == 0
    assert statuses(redis_conn, ids) == {"delivered": 20, "deferred": 10}
    deferred = [s for s in map(SubmissionStore(redis_conn).get, ids) if s.status is SubmissionStatus.DEFERRED]
    resets_at = QuotaLedger(redis_conn).window().resets_at.isoformat(timespec="seconds")
    assert {s.deferred_until for s in deferred} == {resets_at}
    assert all(s.attempts == 0 and s.failures == 0 for s in deferred)  # no retry attempt used up
    assert Queue(keys.BACKLOG_QUEUE, connection=redis_conn).scheduled_job_registry.count == 10

    sandbox.http.post("/_sandbox/next-day").raise_for_status()  # Rotor's day turned before ours
    assert run_deferred_now(redis_conn, Config(**{**config.__dict__, **SMALL}), reset_quota=True) == 10
    deliver(**SMALL)
    assert statuses(redis_conn, ids) == {"delivered": 30}
    assert sandbox.stats()["leads"] == 30
    assert sandbox.stats()["rate_limited"] == 0


def test_one_rate_limit_answer_stops_the_account_for_the_day(client, deliver, redis_conn, sandbox) -> None:
    sandbox.reset(daily_limit=5)  # Rotor's day is shorter than our ledger thinks
    ids = submit_people(client, 10)
    deliver(**SMALL)
    stats = sandbox.stats()
    assert stats["rate_limited"] == 1
    assert stats["requests_total"] == 6
    assert statuses(redis_conn, ids) == {"delivered": 5, "deferred": 5}
    assert QuotaLedger(redis_conn).status("default", 20).exhausted
    limited = [s for s in map(SubmissionStore(redis_conn).get, ids) if s.attempts][-1]
    assert limited.status is SubmissionStatus.DEFERRED and limited.failures == 0


def test_worker_processes_racing_for_the_last_requests_never_overspend(client, redis_conn, sandbox, processes):
    ids = submit_people(client, 40)
    processes.env.update(ROTOR_DAILY_LIMIT="10", ROTOR_OPS_RESERVE_PERCENT="0")
    workers = [processes.worker("--burst") for _ in range(4)]
    for worker in workers:
        assert worker.wait(timeout=120) == 0
    assert sandbox.stats()["requests_total"] == 10
    assert statuses(redis_conn, ids) == {"delivered": 10, "deferred": 30}


def test_refused_key_pauses_the_account_and_a_probe_resumes_it(client, deliver, redis_conn, sandbox, app) -> None:
    ids = submit_people(client, 3)
    deliver(rotor_api_key="rotor_wrong_key", auth_probe_seconds=1)
    assert statuses(redis_conn, ids) == {"deferred": 3}
    assert sandbox.stats()["requests_total"] == 1  # one refusal, then the others wait without calling
    circuit = AccountCircuit(redis_conn)
    assert circuit.paused_reason("default") == "Rotor answered 401: Invalid API key"
    assert client.get("/readyz").json["delivery"] == {"default": "paused: Rotor answered 401: Invalid API key"}
    assert client.get("/readyz").status_code == 200  # intake keeps accepting leads

    time.sleep(1.1)  # the next probe is due
    run_deferred_now(redis_conn, app.extensions["leadgate"].config)
    deliver(auth_probe_seconds=1)  # the key was fixed
    assert statuses(redis_conn, ids) == {"delivered": 3}
    assert circuit.paused_reason("default") is None
    assert client.get("/readyz").json["delivery"] == {"default": "running"}


def test_update_of_a_lead_rotor_no_longer_has_is_upserted_without_the_id(app, deliver, redis_conn, sandbox) -> None:
    intake = app.extensions["leadgate"]
    lead = {"id": "6f1c1f5e-8a4e-4c59-9d0e-2b8f3f1f9a11", "name": "Ann", "phone": "+12015550123", "source": "website"}
    submission_id = intake.accept(source="form:contact", raw={}, lead=lead)
    deliver()
    done = SubmissionStore(redis_conn).get(submission_id)
    assert done.status is SubmissionStatus.DELIVERED and done.rotor_result == "created"
    assert [a["attempt"].get("http_status") for a in done.events if "attempt" in a] == [404, 201]
    assert "id" not in done.lead


def test_fresh_leads_go_before_the_backlog(client, deliver, redis_conn, sandbox, config) -> None:
    sandbox.reset(daily_limit=100)
    old = submit_people(client, 3)
    deliver(rotor_daily_limit=1, ops_reserve_percent=0)  # one delivered, two deferred
    run_deferred_now(redis_conn, config)  # both due now, in the backlog queue
    fresh = submit_people(client, 2, start=100)
    deliver()
    store = SubmissionStore(redis_conn)
    delivered_at = {sid: store.get(sid).updated_at for sid in old[1:] + fresh}
    assert max(delivered_at[sid] for sid in fresh) <= min(delivered_at[sid] for sid in old[1:])


def test_quota_and_run_now_commands(client, deliver, redis_url, redis_conn, sandbox) -> None:
    sandbox.reset(daily_limit=20)
    submit_people(client, 25)
    deliver(**SMALL)
    env = {"REDIS_URL": redis_url, "ROTOR_DAILY_LIMIT": "20", "ROTOR_OPS_RESERVE_PERCENT": "0"}
    result = CliRunner().invoke(main, ["quota", "--json"], env=env)
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.output)
    assert row["account"] == "default" and row["used"] == 20 and row["remaining"] == 0
    assert row["backlog"] == 5 and row["backlog_clears_at"] == row["resets_at"] and row["paused"] is None
    table = CliRunner().invoke(main, ["quota"], env=env).output.splitlines()
    assert table[0].split()[:4] == ["account", "used", "limit", "remaining"]
    assert table[1].split()[:4] == ["default", "20", "20", "0"]
    moved = CliRunner().invoke(main, ["deferred", "run-now", "--json"], env=env)
    assert json.loads(moved.output) == {"queued": 5}


@pytest.mark.parametrize("limit", [1, 3])
def test_ops_share_is_never_spent_on_deliveries(client, deliver, redis_conn, sandbox, limit: int) -> None:
    ids = submit_people(client, 5)
    deliver(rotor_daily_limit=limit + 1, ops_reserve_percent=50)
    assert sandbox.stats()["requests_total"] == (limit + 1) - -(-(limit + 1) * 50 // 100)
    assert statuses(redis_conn, ids)["delivered"] == sandbox.stats()["requests_total"]


def test_run_now_clears_the_exhausted_mark_but_keeps_the_days_count(client, redis_conn, config) -> None:
    ledger, budget = QuotaLedger(redis_conn), Budget(1000)
    for _ in range(900):
        assert ledger.reserve("default", budget, RequestKind.FRESH).granted
    ledger.mark_exhausted("default")  # Rotor said so: then it raised the quota
    run_deferred_now(redis_conn, config)
    status = ledger.status("default", 1000)
    assert (status.used, status.exhausted) == (900, False)
    granted = 0
    while ledger.reserve("default", budget, RequestKind.FRESH).granted:
        granted += 1
    assert 900 + granted == budget.for_deliveries  # the day's budget is not spent twice
    # Only when Rotor's day turned before ours, and asked for: the count starts again.
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    assert client.post("/v1/ops/deferred/run-now", json={"reset_quota": True}, headers=auth).json == {"queued": 0}
    assert ledger.status("default", 1000).used == 0
    assert client.post("/v1/ops/deferred/run-now", json={"reset": 1}, headers=auth).status_code == 422


def test_run_now_cli_resets_the_count_only_with_reset_quota(redis_url, redis_conn) -> None:
    ledger = QuotaLedger(redis_conn)
    for _ in range(5):
        ledger.reserve("default", Budget(20), RequestKind.FRESH)
    env = {"REDIS_URL": redis_url}
    assert CliRunner().invoke(main, ["deferred", "run-now"], env=env).exit_code == 0
    assert ledger.status("default", 20).used == 5
    assert CliRunner().invoke(main, ["deferred", "run-now", "--reset-quota"], env=env).exit_code == 0
    assert ledger.status("default", 20).used == 0


def test_run_now_queues_only_what_it_takes_from_the_scheduler(redis_conn, config, monkeypatch) -> None:
    backlog = Queue(keys.BACKLOG_QUEUE, connection=redis_conn)
    registry = backlog.scheduled_job_registry
    later = datetime.now(UTC) + timedelta(hours=1)
    moved, gone, waiting = (enqueue_delivery(backlog, sid, config, job_id=f"{sid}-1", at=later) for sid in "abc")
    listed = registry.get_job_ids()
    # Between run-now's listing and its move, RQ's scheduler queues one (what enqueue_scheduled_jobs
    # does), and another job's hash is deleted by hand.
    backlog.enqueue_job(Job.fetch(moved.id, connection=redis_conn))
    registry.remove(moved.id)
    redis_conn.delete(gone.key)
    monkeypatch.setattr(ScheduledJobRegistry, "get_job_ids", lambda self, *args, **kwargs: listed)
    assert run_deferred_now(redis_conn, config) == 1
    assert backlog.job_ids == [moved.id, waiting.id]  # each once
    assert redis_conn.zrange(registry.key, 0, -1) == [gone.id.encode()]  # left for the scheduler to drop
