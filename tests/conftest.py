"""Real parts for every test: a redis-server started for the session on a free port, the bundled
Rotor sandbox over real HTTP, and a clean Redis database and sandbox state for each test."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from rq import Queue
from rq.job import Job

from core.config import Config, FormConfig
from core.store import keys
from leadgate.local import find_redis_server
from sandbox import SANDBOX_API_KEY
from sandbox.server import start_in_thread
from service.app import create_app
from workers import context
from workers.worker import run_worker

ADMIN_TOKEN = "test-admin-token"
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = find_redis_server()
    assert binary, "no redis-server: run the tests through scripts/test, which installs one"
    port = free_port()
    workdir: Path = tmp_path_factory.mktemp("redis")
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir), "--save", ""]
    process = subprocess.Popen([*args, "--appendonly", "no"], stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    client.close()
    yield url
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="session")
def sandbox_url() -> Iterator[str]:
    server, url = start_in_thread()
    yield url
    server.shutdown()
    server.server_close()


class Sandbox:
    """The sandbox's control endpoints, for arranging faults and reading back what Rotor holds."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=10)

    def reset(self, **settings: Any) -> None:
        self.http.post("/_sandbox/reset", json=settings).raise_for_status()

    def faults(self, **settings: Any) -> None:
        self.http.put("/_sandbox/faults", json=settings).raise_for_status()

    def stats(self) -> dict[str, Any]:
        return self.http.get("/_sandbox/stats").json()

    def leads(self, **params: Any) -> list[dict[str, Any]]:
        """Every lead in the sandbox (this read is charged to the quota, like any Rotor read)."""
        headers = {"x-api-key": SANDBOX_API_KEY, "rotor-api-version": "1.1.0"}
        response = self.http.get("/leads", params={"limit": 1000, **params}, headers=headers)
        response.raise_for_status()
        return response.json()["data"]


@pytest.fixture
def sandbox(sandbox_url: str) -> Iterator[Sandbox]:
    control = Sandbox(sandbox_url)
    control.reset()
    yield control
    control.http.close()


@pytest.fixture
def redis_conn(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


FORMS = {
    "contact": FormConfig(key="contact", tags=("website",), redirect_url="https://example.com/thanks"),
    "quote": FormConfig(
        key="quote",
        tags=("website", "quote"),
        allowed_origins=("https://roofs.example",),
        service_type="estimate",
        priority="high",
    ),
}


@pytest.fixture
def config(redis_url: str, sandbox_url: str, redis_conn: redis.Redis, sandbox: Sandbox) -> Config:
    """A config pointing at this test's clean Redis and sandbox, with immediate retries."""
    return Config(
        redis_url=redis_url,
        rotor_base_url=sandbox_url,
        rotor_api_key=SANDBOX_API_KEY,
        admin_token=ADMIN_TOKEN,
        retry_max_attempts=3,
        retry_base_seconds=0,
        max_body_bytes=4096,
        rate_limit_per_ip="100000 per minute",  # tests post thousands from one address; test_limits sets its own
        rate_limit_per_form="100000 per minute",
        forms=FORMS,
    )


@pytest.fixture
def app(config: Config):
    app = create_app(config)
    yield app
    app.extensions["leadgate"].connection.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def deliver(config: Config):
    """Run a real RQ worker (burst mode) over the delivery queue until it is empty."""

    def run(**overrides: Any) -> bool:
        return run_worker(Config(**{**config.__dict__, **overrides}), burst=True)

    yield run
    context.install(None)


@pytest.fixture
def queue(redis_conn: redis.Redis) -> Queue:
    return Queue(keys.DELIVERY_QUEUE, connection=redis_conn)


# What intake queues for fresh submissions: one job that delivers the inbox a batch at a time.
DRAIN_JOB = "workers.batch.deliver_inbox"


def inbox(redis_conn: redis.Redis) -> list[str]:
    """The submissions waiting for a drain job, oldest first."""
    return [raw.decode() for raw in redis_conn.lrange(keys.INBOX, 0, -1)]


def queued_functions(queue: Queue) -> list[str]:
    """What each job on ``queue`` will run, in queue order."""
    return [Job.fetch(job_id, connection=queue.connection).func_name for job_id in queue.job_ids]


def wait_for(condition, timeout: float = 15.0):
    """Poll ``condition`` until it returns something truthy (HTTP and Redis errors count as not yet)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = condition()
            if result:
                return result
        except (httpx.HTTPError, redis.RedisError):
            pass
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


class Processes:
    """The service's real processes (gunicorn web, ``leadgate worker``) for one test."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.running: list[subprocess.Popen] = []

    def start(self, *command: str) -> subprocess.Popen:
        process = subprocess.Popen(
            list(command), env=self.env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.running.append(process)
        return process

    def web(self) -> str:
        port = free_port()
        self.env["PORT"] = str(port)
        self.start(sys.executable, "-m", "gunicorn", "-c", "python:service.gunicorn_conf", "service.app:create_app()")
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: httpx.get(f"{url}/readyz").status_code == 200)
        return url

    def worker(self, *options: str) -> subprocess.Popen:
        return self.start(sys.executable, "-m", "leadgate", "worker", *options)

    def stop(self) -> None:
        for process in self.running:
            if process.poll() is None:
                process.terminate()
            process.wait(timeout=30)


@pytest.fixture
def processes(redis_url: str, sandbox: Sandbox, redis_conn, tmp_path) -> Iterator[Processes]:
    config_file = tmp_path / "leadgate.toml"
    config_file.write_text('[forms.contact]\ntags = ["website"]\n[forms.quote]\ntags = ["website", "quote"]\n')
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "REDIS_URL": redis_url,
        "ROTOR_BASE_URL": sandbox.url,
        "ROTOR_API_KEY": SANDBOX_API_KEY,
        "LEADGATE_CONFIG": str(config_file),
        "LEADGATE_ADMIN_TOKEN": ADMIN_TOKEN,
        "LEADGATE_RATE_LIMIT_PER_IP": "100000 per minute",  # every test client is 127.0.0.1
        "LEADGATE_RATE_LIMIT_PER_FORM": "100000 per minute",
    }
    running = Processes(env)
    yield running
    running.stop()
