"""The sandbox over a real socket: Rotor's gate, upsert answers, errors, quota, faults, stats."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from werkzeug.serving import BaseWSGIServer

from sandbox import API_VERSION, SANDBOX_API_KEY
from sandbox.server import start_in_thread

HEADERS = {"x-api-key": SANDBOX_API_KEY, "rotor-api-version": API_VERSION}
INTERNAL_ERROR = {"status": "error", "message": "Internal server error"}


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[BaseWSGIServer, str]]:
    srv, base_url = start_in_thread(api_keys=(SANDBOX_API_KEY, "second_key"))
    yield srv, base_url
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def client(server: tuple[BaseWSGIServer, str]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server[1], timeout=5) as http:
        http.post("/_sandbox/reset").raise_for_status()
        yield http


def post_lead(client: httpx.Client, body: Any, **kw: Any) -> httpx.Response:
    return client.post("/leads", json=body, headers=HEADERS, **kw)


def stats(client: httpx.Client) -> dict[str, Any]:
    return client.get("/_sandbox/stats").json()


@pytest.mark.parametrize(
    ("headers", "status", "body"),
    [
        (
            {},
            401,
            {
                "status": "error",
                "message": "Authentication required. Provide x-api-key header.",
                "error_code": "AUTHENTICATION_REQUIRED",
            },
        ),
        (
            {"x-api-key": "nope", "rotor-api-version": API_VERSION},
            401,
            {"status": "error", "message": "Invalid API key", "error_code": "INVALID_API_KEY"},
        ),
        (
            {"x-api-key": SANDBOX_API_KEY},
            400,
            {
                "status": "error",
                "message": "Missing or unsupported rotor-api-version header; expected 1.1.0",
                "error_code": "INVALID_API_VERSION",
            },
        ),
        ({"x-api-key": SANDBOX_API_KEY, "rotor-api-version": "1.0.0"}, 400, None),
    ],
)
@pytest.mark.parametrize(("method", "path"), [("POST", "/leads"), ("GET", "/leads"), ("GET", "/auth/test")])
def test_gate_rejects_before_charging(
    client: httpx.Client, method: str, path: str, headers: dict[str, str], status: int, body: Any
) -> None:
    response = client.request(method, path, headers=headers, json={"name": "x"} if method == "POST" else None)
    assert response.status_code == status
    if body is not None:
        assert response.json() == body
    counts = stats(client)
    assert counts["requests_today"] == {} and counts["requests_total"] == 1 and counts["leads"] == 0


def test_create_then_update_by_phone(client: httpx.Client) -> None:
    created = post_lead(
        client, {"name": "Ann", "phone": "+15550001", "address_city": "Austin", "source": "website", "tags": ["roof"]}
    )
    assert created.status_code == 201
    lead = created.json()
    assert lead["message"] == "Lead created successfully"
    assert lead["address_city"] == lead["property_city"] == "Austin"
    assert lead["lead_source"] == "website"

    updated = post_lead(client, {"phone": "+15550001", "email": "ann@example.com", "tags": ["solar"]})
    assert updated.status_code == 200
    assert updated.json()["message"] == "Lead updated successfully"
    assert updated.json()["id"] == lead["id"]

    fetched = client.get(f"/leads/{lead['id']}", headers=HEADERS)
    assert fetched.status_code == 200
    data = fetched.json()
    assert data["status"] == "success"
    assert data["data"]["tags"] == ["roof", "solar"]
    assert data["data"]["email"] == "ann@example.com"
    assert "address_city" not in data["data"] and "message" not in data["data"]


def test_update_by_id_and_unknown_id(client: httpx.Client) -> None:
    lead = post_lead(client, {"name": "Ann"}).json()
    assert post_lead(client, {"id": lead["id"], "stage": "won"}).status_code == 200
    missing = post_lead(client, {"id": str(uuid.uuid4()), "name": "ghost"})
    assert (missing.status_code, missing.json()) == (404, {"status": "error", "message": "Not found"})
    unknown = client.get(f"/leads/{uuid.uuid4()}", headers=HEADERS)
    assert (unknown.status_code, unknown.json()) == (404, {"status": "error", "message": "Not found"})
    assert stats(client)["leads"] == 1


def test_validation_error_body(client: httpx.Client) -> None:
    response = post_lead(client, {"email": "not-an-email"})
    assert response.status_code == 400
    assert response.json() == {
        "status": "error",
        "message": "Validation failed",
        "errors": [{"field": "email", "message": "Invalid email format"}],
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"property_city": "Austin"}, "property_city"),  # read name sent on write: the bug to catch
        ({"lead_source": "web"}, "lead_source"),
        ({"name": 5}, "name"),
        ({"phone": None}, "phone"),
        ({"tags": "roof"}, "tags"),
        ({"tags": ["ok", 1]}, "tags"),
        ({"priority": "urgent"}, "priority"),
        ({"projected_value": "100"}, "projected_value"),
        ({"projected_value": True}, "projected_value"),
        ({"id": "42"}, "id"),
        ({"email": "a b@example.com"}, "email"),
        ({"email": "a@@example.com"}, "email"),
        ({"notes": "x" * 2001}, "notes"),
        ({"service_type": "x" * 101}, "service_type"),
        (["not", "an", "object"], "body"),
    ],
)
def test_strict_validation(client: httpx.Client, body: Any, field: str) -> None:
    response = post_lead(client, body)
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert stats(client)["leads"] == 0


def test_accepts_every_documented_field(client: httpx.Client) -> None:
    body = {f"address_{part}": part for part in ("street1", "street2", "city", "state", "zip", "country")}
    body.update(
        name="Ann",
        email="ann@example.com",
        phone="+15550001",
        source="web",
        service_type="roof",
        notes="n" * 2000,
        stage="new",
        tags=["a"],
        priority="high",
        projected_value=1250.5,
        follow_up_date="2025-04-01",
    )
    response = post_lead(client, body)
    assert response.status_code == 201, response.text
    assert response.json()["projected_value"] == 1250.5


def test_malformed_json_and_wrong_content_type(client: httpx.Client) -> None:
    bad = client.post("/leads", content=b"{nope", headers={**HEADERS, "content-type": "application/json"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "body"
    form = client.post("/leads", data={"name": "Ann"}, headers=HEADERS)
    assert form.status_code == 400 and form.json()["errors"][0]["field"] == "body"


def test_list_filters_and_query_validation(client: httpx.Client) -> None:
    for n in range(3):
        post_lead(client, {"name": f"Lead {n}", "tags": ["even" if n % 2 == 0 else "odd"]})
    page = client.get("/leads", params={"limit": 2}, headers=HEADERS).json()
    assert page["status"] == "success"
    assert [lead["name"] for lead in page["data"]] == ["Lead 2", "Lead 1"]
    assert page["pagination"] == {"has_more": True, "limit": 2, "page": 1, "total": 3}
    tagged = client.get("/leads", params={"tags": "odd,none", "search": "LEAD"}, headers=HEADERS).json()
    assert [lead["name"] for lead in tagged["data"]] == ["Lead 1"]
    bad = client.get("/leads", params={"limit": 1001, "archived": "maybe"}, headers=HEADERS)
    assert bad.status_code == 400
    assert [e["field"] for e in bad.json()["errors"]] == ["limit", "archived"]


def test_auth_test_body(client: httpx.Client) -> None:
    body = client.get("/auth/test", headers=HEADERS).json()
    assert body["authenticated"] is True and body["auth_method"] == "api_key"
    assert body["scopes"] == ["leads:read", "leads:write"]
    assert {"company_id", "user_id", "timestamp"} <= body.keys()


def test_quota_counts_every_call(client: httpx.Client) -> None:
    client.post("/_sandbox/reset", json={"daily_limit": 3}).raise_for_status()
    assert client.get("/auth/test", headers=HEADERS).status_code == 200
    assert client.get("/leads", headers=HEADERS).status_code == 200
    assert post_lead(client, {"name": "Ann"}).status_code == 201
    limited = post_lead(client, {"name": "Bob"})
    assert limited.status_code == 429
    assert limited.json() == {
        "status": "error",
        "message": "Daily API key request limit of 3 exceeded",
        "error_code": "RATE_LIMIT_EXCEEDED",
    }
    other_key = client.get("/auth/test", headers={**HEADERS, "x-api-key": "second_key"})
    assert other_key.status_code == 200  # the quota is per key
    counts = stats(client)
    assert counts["rate_limited"] == 1 and counts["leads"] == 1
    assert counts["requests_today"] == {SANDBOX_API_KEY: 3, "second_key": 1}


def test_next_day_resets_the_quota(client: httpx.Client) -> None:
    client.post("/_sandbox/reset", json={"daily_limit": 1}).raise_for_status()
    assert post_lead(client, {"name": "Ann"}).status_code == 201
    assert post_lead(client, {"name": "Bob"}).status_code == 429
    before = stats(client)["day"]
    turned = client.post("/_sandbox/next-day").json()
    assert turned["requests_today"] == {} and turned["day"] > before
    assert post_lead(client, {"name": "Bob"}).status_code == 201


def test_reset_restores_the_configured_limit(client: httpx.Client) -> None:
    assert client.post("/_sandbox/reset", json={"daily_limit": 2}).json()["daily_limit"] == 2
    assert client.post("/_sandbox/reset").json()["daily_limit"] == 1000
    bad = client.post("/_sandbox/reset", json={"daily_limit": -1, "leads": 0})
    assert bad.status_code == 400


def test_quota_resets_when_the_utc_date_changes() -> None:
    moment = [datetime(2025, 3, 1, 23, 59, tzinfo=UTC)]
    srv, base_url = start_in_thread(daily_limit=1, now=lambda: moment[0])
    try:
        with httpx.Client(base_url=base_url, headers=HEADERS) as http:
            assert http.get("/auth/test").status_code == 200
            assert http.get("/auth/test").status_code == 429
            moment[0] += timedelta(minutes=1)
            assert http.get("/auth/test").status_code == 200
            assert http.get("/_sandbox/stats").json()["day"] == "2025-03-02"
    finally:
        srv.shutdown()
        srv.server_close()


def test_fail_next_answers_without_applying_but_charges(client: httpx.Client) -> None:
    client.put("/_sandbox/faults", json={"fail_next": 2, "fail_status": 503}).raise_for_status()
    for _ in range(2):
        failed = post_lead(client, {"phone": "+15550001"})
        assert (failed.status_code, failed.json()) == (503, INTERNAL_ERROR)
    assert post_lead(client, {"phone": "+15550001"}).status_code == 201
    assert client.get("/_sandbox/faults").json()["fail_next"] == 0
    counts = stats(client)
    assert counts["leads"] == 1 and counts["requests_today"] == {SANDBOX_API_KEY: 3}


def test_fail_rate_with_seed(client: httpx.Client) -> None:
    client.put("/_sandbox/faults", json={"fail_rate": 1.0, "seed": 7}).raise_for_status()
    assert post_lead(client, {"name": "Ann"}).status_code == 500
    assert client.get("/leads", headers=HEADERS).status_code == 200  # only POST /leads is faulted


def test_timeout_after_apply(client: httpx.Client) -> None:
    client.put("/_sandbox/faults", json={"timeout_after_apply_next": 1, "hang_ms": 800}).raise_for_status()
    with pytest.raises(httpx.ReadTimeout):
        post_lead(client, {"phone": "+15550001", "name": "Ann"}, timeout=0.2)
    # Rotor applied it although the client saw a timeout; the retry is an update, not a duplicate.
    listed = client.get("/leads", headers=HEADERS).json()
    assert [lead["name"] for lead in listed["data"]] == ["Ann"]
    retry = post_lead(client, {"phone": "+15550001", "name": "Ann"}, timeout=0.5)
    assert retry.status_code == 200
    # Let the stalled request finish so it is not recorded into the next test's stats.
    deadline = time.monotonic() + 5
    while stats(client)["by_endpoint"].get("POST /leads", 0) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stats(client)["by_endpoint"]["POST /leads"] == 2


def test_latency_delays_answers(client: httpx.Client) -> None:
    client.put("/_sandbox/faults", json={"latency_ms": 150}).raise_for_status()
    started = time.monotonic()
    assert client.get("/auth/test", headers=HEADERS).status_code == 200
    assert time.monotonic() - started >= 0.15
    assert client.get("/_sandbox/faults").json()["latency_ms"] == 150


def test_fault_settings_are_validated(client: httpx.Client) -> None:
    bad = client.put("/_sandbox/faults", json={"fail_next": -1, "fail_status": 200, "fail_rate": 2, "x": 1})
    assert bad.status_code == 400
    assert [e["field"] for e in bad.json()["errors"]] == ["fail_next", "fail_status", "fail_rate", "x"]


def test_concurrent_upserts_of_one_phone_make_one_lead(client: httpx.Client) -> None:
    statuses: list[int] = []

    def send() -> None:
        statuses.append(post_lead(client, {"phone": "+15550001", "tags": ["t"]}).status_code)

    threads = [threading.Thread(target=send) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] * 15 + [201]
    assert stats(client)["leads"] == 1


def test_unexpected_exception_is_a_rotor_500(
    client: httpx.Client, server: tuple[BaseWSGIServer, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(body: dict[str, Any]) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(server[0].app.extensions["sandbox"].store, "upsert", explode)
    response = post_lead(client, {"name": "Ann"})
    assert (response.status_code, response.json()) == (500, INTERNAL_ERROR)
    # The lock was released: the next request is served.
    assert client.get("/leads", headers=HEADERS).status_code == 200


def test_stats_count_rejected_requests_but_not_controls(client: httpx.Client) -> None:
    post_lead(client, {"name": "Ann"})
    client.get("/leads", headers={})
    client.get(f"/leads/{uuid.uuid4()}", headers=HEADERS)
    client.get("/_sandbox/faults")
    counts = stats(client)
    assert counts["requests_total"] == 3
    assert counts["by_endpoint"] == {"POST /leads": 1, "GET /leads": 1, "GET /leads/<lead_id>": 1}
    assert counts["by_status"] == {"201": 1, "401": 1, "404": 1}
    assert counts["requests_today"] == {SANDBOX_API_KEY: 2}
    assert counts["daily_limit"] == 1000 and counts["leads"] == 1


def test_unknown_route_is_json_not_found(client: httpx.Client) -> None:
    response = client.get("/customers", headers=HEADERS)
    assert (response.status_code, response.json()) == (404, {"status": "error", "message": "Not found"})
    assert client.delete("/leads", headers=HEADERS).headers["allow"]
