"""The whole path as it runs in production: gunicorn web and a worker process, over real HTTP."""

from __future__ import annotations

import httpx

from tests.conftest import ADMIN_TOKEN, wait_for


def test_curl_posted_form_lead_appears_in_the_sandbox(processes, sandbox) -> None:
    url = processes.web()
    processes.worker()
    response = httpx.post(
        f"{url}/v1/forms/contact",
        data={"name": "Ann Lee", "email": "Ann.Lee@Example.COM", "phone": "(201) 555-0123", "message": "Roof leak"},
    )
    assert response.status_code == 202
    submission_id = response.json()["submission_id"]
    (lead,) = wait_for(sandbox.leads)
    assert lead["phone"] == "+12015550123"
    assert lead["email"] == "ann.lee@example.com"
    assert lead["tags"] == ["website"]
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    status = wait_for(lambda: httpx.get(f"{url}/v1/submissions/{submission_id}", headers=auth).json()["lead_id"])
    assert status == lead["id"]
