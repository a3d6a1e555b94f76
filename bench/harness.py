"""Start the real parts for a benchmark: redis-server, the sandbox, gunicorn web, workers.

Every process listens on a free loopback port and is stopped when the ``Stack`` exits.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import redis

from leadgate.local import find_redis_server
from sandbox import SANDBOX_API_KEY

ROOT = Path(__file__).resolve().parent.parent
FORMS = '[forms.contact]\ntags = ["website"]\n[forms.quote]\ntags = ["website", "quote"]\n'


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by process ``pid`` and its live children (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for process in (pid, *_children(pid)):
        with open(f"/proc/{process}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as children:
        return [int(child) for child in children.read().split()]


def wait_until(check: Callable[[], object], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (httpx.HTTPError, redis.RedisError):
            pass
        time.sleep(0.05)
    raise TimeoutError("a benchmark process did not come up")


class Stack:
    def __init__(self, *, sandbox_limit: int = 1000, env: dict[str, str] | None = None) -> None:
        self.workdir = tempfile.TemporaryDirectory(prefix="leadgate-bench-")
        config = Path(self.workdir.name) / "leadgate.toml"
        config.write_text(FORMS)
        self.redis_url = f"redis://127.0.0.1:{free_port()}/0"
        self.sandbox_url = f"http://127.0.0.1:{free_port()}"
        self.web_url = f"http://127.0.0.1:{free_port()}"
        self.sandbox_limit = sandbox_limit
        self.env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "REDIS_URL": self.redis_url,
            "ROTOR_BASE_URL": self.sandbox_url,
            "ROTOR_API_KEY": SANDBOX_API_KEY,
            "LEADGATE_CONFIG": str(config),
            "PORT": self.web_url.rsplit(":", 1)[1],
            # The load comes from one address; the per-address limit would stop it after 20.
            "LEADGATE_RATE_LIMIT_PER_IP": "1000000 per minute",
            "LEADGATE_RATE_LIMIT_PER_FORM": "1000000 per minute",
            **(env or {}),
        }
        self.processes: list[subprocess.Popen] = []
        self.web_pids: dict[str, int] = {}  # gunicorn's master by URL; its workers are its children
        self.redis = redis.Redis.from_url(self.redis_url)

    def start(self, *command: str) -> subprocess.Popen:
        process = subprocess.Popen(
            command, env=self.env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.processes.append(process)
        return process

    def __enter__(self) -> Stack:
        port = self.redis_url.rsplit(":", 1)[1].split("/")[0]
        # As deploy/ runs it, but without persistence (as perf-notes.md measured the ceilings).
        self.start(
            find_redis_server() or "redis-server",
            "--port",
            port,
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            self.workdir.name,
            "--hash-max-ziplist-value",
            "1024",
        )
        wait_until(self.redis.ping)
        self.start(
            sys.executable,
            "-m",
            "service",
            "sandbox",
            "--port",
            self.sandbox_url.rsplit(":", 1)[1],
            "--daily-limit",
            str(self.sandbox_limit),
        )
        wait_until(lambda: httpx.get(f"{self.sandbox_url}/_sandbox/stats").status_code == 200)
        return self

    def web(self, app: str = "service.app:create_app()", *, port: int | None = None) -> str:
        """gunicorn with leadgate's settings serving ``app``; its URL once it answers /readyz."""
        url = f"http://127.0.0.1:{port}" if port else self.web_url
        self.env["PORT"] = url.rsplit(":", 1)[1]
        self.web_pids[url] = self.start(sys.executable, "-m", "gunicorn", "-c", "python:service.gunicorn_conf", app).pid
        wait_until(lambda: httpx.get(f"{url}/readyz").status_code == 200)
        return url

    @property
    def redis_pid(self) -> int:
        return self.processes[0].pid

    def workers(self, count: int, *options: str) -> list[subprocess.Popen]:
        return [self.start(sys.executable, "-m", "leadgate", "worker", *options) for _ in range(count)]

    def sandbox_stats(self) -> dict:
        return httpx.get(f"{self.sandbox_url}/_sandbox/stats").json()

    def __exit__(self, *exc: object) -> None:
        for process in reversed(self.processes):
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        self.redis.close()
        self.workdir.cleanup()
