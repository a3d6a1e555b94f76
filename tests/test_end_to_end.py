"""The whole path as it runs in production: gunicorn web and a worker process, over real HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sandbox import SANDBOX_API_KEY
from tests.conftest import ADMIN_TOKEN, free_port

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def stack(redis_url: str, sandbox, redis_conn, tmp_path) -> Iterator[str]:
    config_file = tmp_path / "leadgate.toml"
    config_file.write_text('[forms.contact]\ntags = ["website"]\n')
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PORT": str(port),
        "REDIS_URL": redis_url,
        "ROTOR_BASE_URL": sandbox.url,
        "ROTOR_API_KEY": SANDBOX_API_KEY,
        "LEADGATE_CONFIG": str(config_file),
        "LEADGATE_ADMIN_TOKEN": ADMIN_TOKEN,
    }
    web = [sys.executable, "-m", "gunicorn", "-c", "python:service.gunicorn_conf", "service.app:create_app()"]
    processes = [
        subprocess.Popen(web, env=env, cwd=ROOT, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL),
        subprocess.Popen([sys.executable, "-m", "service", "worker"], env=env, cwd=ROOT, stderr=subprocess.DEVNULL),
    ]
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: httpx.get(f"{url}/readyz").status_code == 200)
        yield url
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)


def wait_for(condition, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = condition()
            if result:
                return result
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def test_curl_posted_form_lead_appears_in_the_sandbox(stack: str, sandbox) -> None:
    response = httpx.post(
        f"{stack}/v1/forms/contact",
        data={"name": "Ann Lee", "email": "Ann.Lee@Example.COM", "phone": "(201) 555-0123", "message": "Roof leak"},
    )
    assert response.status_code == 202
    submission_id = response.json()["submission_id"]
    (lead,) = wait_for(sandbox.leads)
    assert lead["phone"] == "+12015550123"
    assert lead["email"] == "ann.lee@example.com"
    assert lead["tags"] == ["website"]
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    status = wait_for(lambda: httpx.get(f"{stack}/v1/submissions/{submission_id}", headers=auth).json()["lead_id"])
    assert status == lead["id"]
