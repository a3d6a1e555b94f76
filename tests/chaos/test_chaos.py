"""Chaos: 300 leads through the real processes while things break; every one must arrive, once.

Rotor fails 20% of upserts, adds latency, and a few times applies an upsert but answers too late
(the client times out). Mid-run one delivery worker is SIGKILLed (a supervisor starts another, as
a process manager would), one gunicorn worker is SIGKILLed mid-request, and Redis (AOF on) is
restarted. Senders retry on a connection error or a 5xx, as platforms and browsers' scripts do.
Run alone with ``scripts/test -m chaos -s`` to see the table.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import redis

from leadgate.local import find_redis_server
from tests.conftest import free_port, wait_for

pytestmark = pytest.mark.chaos
PEOPLE = 300


class RestartableRedis:
    def __init__(self, workdir: str) -> None:
        self.port, self.workdir = free_port(), workdir
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.start()

    def start(self) -> None:
        args = [
            find_redis_server() or "redis-server",
            "--port",
            str(self.port),
            "--dir",
            self.workdir,
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "",
        ]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL)
        with redis.Redis.from_url(self.url) as client:
            wait_for(client.ping)

    def restart(self) -> None:
        self.process.terminate()  # a clean shutdown: AOF flushed, as in a rolling restart
        self.process.wait(timeout=30)
        self.start()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def diagnose(url: str) -> dict:
    """Where the submissions stand, for a run that did not finish."""
    from rq import Queue

    client = redis.Redis.from_url(url)
    statuses: dict[str, int] = {}
    waiting: list[dict] = []  # a few unsettled ones, with how they got there
    for key in client.scan_iter("leadgate:submission:*", count=1000):
        if key.count(b":") == 2:
            status = (client.hget(key, "status") or b"?").decode()
            statuses[status] = statuses.get(status, 0) + 1
            if status not in ("delivered", "duplicate") and len(waiting) < 3:
                job_id = (client.hget(key, "job_id") or b"").decode()
                events = [e.decode() for e in client.lrange(key + b":events", -4, -1)]
                job_status = (client.hget(f"rq:job:{job_id}", "status") or b"gone").decode()
                waiting.append({"status": status, "job": f"{job_id} {job_status}", "events": events})
    report: dict = {"statuses": statuses, "waiting": waiting}
    for name in ("deliveries", "backlog"):
        queue = Queue(name, connection=client)
        report[name] = {
            "queued": queue.count,
            "started": queue.started_job_registry.get_job_ids(),
            "scheduled": queue.scheduled_job_registry.count,
            "failed": queue.failed_job_registry.count,
        }
    client.close()
    return report


def gunicorn_children(master_pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(master_pid)], capture_output=True, text=True).stdout
    return [int(pid) for pid in out.split()]


def test_three_hundred_leads_survive_crashes_restarts_and_a_flaky_rotor(processes, sandbox, tmp_path) -> None:
    store = RestartableRedis(str(tmp_path))
    sandbox.reset(daily_limit=100_000)
    sandbox.faults(fail_rate=0.2, seed=11, latency_ms=30, timeout_after_apply_next=5, hang_ms=2500)
    processes.env.update(
        REDIS_URL=store.url,
        ROTOR_TIMEOUT_SECONDS="1",
        LEADGATE_JOB_TIMEOUT_SECONDS="10",
        LEADGATE_RETRY_BASE_SECONDS="1",
        LEADGATE_RETRY_MAX_SECONDS="4",
    )
    url = processes.web()
    web_master = processes.running[-1]
    workers = [processes.worker(), processes.worker()]
    events: dict[str, int] = {"worker restarts": 0, "sender retries": 0}
    stop = threading.Event()

    def supervise() -> None:  # what systemd, Kubernetes or a Procfile runner does
        while not stop.is_set():
            for i, worker in enumerate(workers):
                if worker.poll() is not None:
                    workers[i] = processes.worker()
                    events["worker restarts"] += 1
            time.sleep(0.5)

    threading.Thread(target=supervise, daemon=True).start()
    sent = 0

    def send(n: int) -> int:
        nonlocal sent
        body = {"name": f"Person {n}", "phone": f"201555{n:04d}", "email": f"p{n}@example.com"}
        for _ in range(200):
            try:
                response = httpx.post(f"{url}/v1/forms/contact", json=body, timeout=5)
                if response.status_code == 202:
                    sent += 1
                    return n
            except httpx.HTTPError:
                pass
            events["sender retries"] += 1
            time.sleep(0.1)
        raise AssertionError(f"person {n} was never accepted")

    def chaos() -> None:
        wait_for(lambda: sent >= PEOPLE // 4, timeout=60)
        os.kill(workers[0].pid, signal.SIGKILL)
        wait_for(lambda: sent >= PEOPLE // 2, timeout=60)
        os.kill(gunicorn_children(web_master.pid)[0], signal.SIGKILL)
        wait_for(lambda: sent >= PEOPLE * 2 // 3, timeout=60)
        store.restart()

    try:
        chaos_thread = threading.Thread(target=chaos)
        chaos_thread.start()
        started = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            accepted = list(pool.map(send, range(PEOPLE)))
        chaos_thread.join(timeout=60)
        try:
            wait_for(lambda: sandbox.stats()["leads"] >= PEOPLE, timeout=240)
        except AssertionError:  # the message is what CI shows of a failure: say where things stand
            raise AssertionError(f"not all leads arrived: {diagnose(store.url)} {sandbox.stats()} {events}") from None
        time.sleep(2)  # anything still in flight would show up as a duplicate now
        elapsed = time.monotonic() - started
        leads = sandbox.leads()
    finally:
        stop.set()
        processes.stop()
        store.stop()

    phones = [lead["phone"] for lead in leads]
    lost = sum(f"+1201555{n:04d}" not in phones for n in range(PEOPLE))
    duplicated = len(phones) - len(set(phones))
    stats = sandbox.stats()
    rows = [
        ("people sent / accepted", f"{PEOPLE} / {len(accepted)}"),
        ("sender retries (503, dropped connection)", events["sender retries"]),
        ("delivery workers SIGKILLed / restarted", f"1 / {events['worker restarts']}"),
        ("gunicorn workers SIGKILLed", 1),
        ("Redis restarts", 1),
        ("Rotor answers: by status", stats["by_status"]),
        ("leads in Rotor", len(leads)),
        ("lost", lost),
        ("duplicated", duplicated),
        ("wall time", f"{elapsed:.0f} s"),
    ]
    print("\n" + "\n".join(f"{name:<42} {value}" for name, value in rows))
    assert (len(leads), lost, duplicated) == (PEOPLE, 0, 0)
