"""How the Rotor client reads an upsert's answer (core.rotor): a pure unit test over httpx.MockTransport."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from core.errors import RotorRejected, RotorServerError
from core.rotor import RotorClient, UpsertResult

LEAD = {"name": "Ann Lee", "phone": "+12015550123"}


def answering(status: int, payload: Any = None, *, sent: list[dict] | None = None) -> RotorClient:
    def handle(request: httpx.Request) -> httpx.Response:
        if sent is not None:
            sent.append(json.loads(request.content))
        return httpx.Response(status, json=payload) if payload is not None else httpx.Response(status)

    return RotorClient("https://rotor.test/open-api", "key", transport=httpx.MockTransport(handle))


@pytest.mark.parametrize(
    ("status", "payload", "expected"),
    [
        (201, {"id": "lead-1", "message": "Lead created successfully"}, UpsertResult("lead-1", created=True)),
        (200, {"id": "lead-1"}, UpsertResult("lead-1", created=False)),
        # Wrapped like GET /leads/{id}, not as documented (destinations.md §1.3): still that lead.
        (201, {"status": "success", "data": {"id": "lead-2"}}, UpsertResult("lead-2", created=True)),
        (200, {"id": 7, "data": {"id": "lead-3"}}, UpsertResult("lead-3", created=False)),
    ],
)
def test_a_2xx_upsert_is_delivered_with_the_lead_id_it_names(status: int, payload: Any, expected) -> None:
    assert answering(status, payload).upsert_lead(LEAD) == expected


@pytest.mark.parametrize("payload", [None, {}, {"message": "ok"}, ["lead-1"], {"id": "", "data": "lead-1"}])
@pytest.mark.parametrize("status", [200, 201, 204])
def test_a_2xx_upsert_naming_no_lead_is_delivered_not_retried(status: int, payload: Any) -> None:
    """Rotor applied and charged it: raising (a server error, retried) would send it again."""
    sent: list[dict] = []
    result = answering(status, payload, sent=sent).upsert_lead(LEAD)
    assert result == UpsertResult("", created=status == 201)
    assert len(sent) == 1


def test_an_update_by_id_answered_without_one_keeps_the_id_sent() -> None:
    client = answering(200, {"message": "Lead updated successfully"})
    assert client.upsert_lead({"id": "lead-9", **LEAD}) == UpsertResult("lead-9", created=False)
    # A 201 created some other lead than the one asked for: the id sent is not it.
    client = answering(201, {"message": "Lead created successfully"})
    assert client.upsert_lead({"id": "lead-9", **LEAD}) == UpsertResult("", created=True)


def test_failures_still_raise() -> None:
    with pytest.raises(RotorServerError):
        answering(500, {"status": "error", "message": "Internal server error"}).upsert_lead(LEAD)
    with pytest.raises(RotorServerError):
        answering(302).upsert_lead(LEAD)
    with pytest.raises(RotorRejected):
        answering(422, {"message": "Validation failed", "errors": [{"field": "email"}]}).upsert_lead(LEAD)
