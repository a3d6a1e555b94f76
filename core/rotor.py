"""Rotor's open API, as delivery uses it: upsert a lead, read one back.

This is the one place where HTTP answers and transport failures become ``core.errors``
delivery errors. Rotor's quota answer is recognised by its ``error_code`` (RATE_LIMIT_EXCEEDED),
not by the status number, which Rotor does not document (destinations.md §1.2).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from core.errors import (
    DeliveryError,
    RotorAuthFailed,
    RotorConnectFailed,
    RotorNotFound,
    RotorQuotaExceeded,
    RotorRejected,
    RotorServerError,
    RotorUnreachable,
)

log = logging.getLogger(__name__)

API_VERSION = "1.1.0"
# Connect fails fast (a down host is retried later anyway); the read allows for a slow upsert.
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=3.0)
USER_AGENT = "leadgate/0.1"


@dataclass(frozen=True)
class UpsertResult:
    # '' when neither the answer nor the request named the lead (see ``upsert_lead``): a str still,
    # so a delivery stores it like any id and the next upsert, sent without one, is matched by phone.
    lead_id: str
    created: bool


class RotorClient:
    """One API key's client; keeps one connection pool for the life of the worker process."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/") + "/",
            headers={"x-api-key": api_key, "rotor-api-version": API_VERSION, "user-agent": USER_AGENT},
            timeout=timeout,
            transport=transport,
        )

    def upsert_lead(self, body: dict[str, Any]) -> UpsertResult:
        """``POST /leads``: 201 created a lead, 200 updated the one matched by id, phone or email.

        Any 2xx is delivered, whatever its body: Rotor applied (and charged) the upsert, so raising
        would have it sent, applied and charged again. The lead id is the answer's flat ``id``
        (destinations.md §1.3), else a ``data.id`` (the shape of ``GET /leads/{id}``), else the
        ``id`` sent if the answer is not 201 (an upsert by id that did not create updated that
        lead), else ''.
        """
        with _translate_transport_errors():
            response = self._http.post("leads", json=body)
        payload = json_object(response)
        if not response.is_success:
            raise _error_for(response, payload)
        created = response.status_code == 201
        lead_id = _lead_id(payload) or _lead_id(payload.get("data")) or (None if created else _lead_id(body))
        if not lead_id:
            log.warning("Rotor answered %s to an upsert without a lead id", response.status_code)
        return UpsertResult(lead_id=lead_id or "", created=created)

    def get_lead(self, lead_id: str) -> dict[str, Any]:
        """``GET /leads/{id}``: the lead as Rotor has it now."""
        with _translate_transport_errors():
            response = self._http.get(f"leads/{quote(lead_id, safe='')}")
        payload = json_object(response)
        if response.status_code == 200 and isinstance(payload.get("data"), dict):
            return payload["data"]
        raise _error_for(response, payload)

    def close(self) -> None:
        self._http.close()


@contextmanager
def _translate_transport_errors() -> Iterator[None]:
    try:
        yield
    except httpx.TimeoutException as exc:
        # A read timeout may hide an upsert Rotor applied; the retry is an upsert, so it stays one lead.
        raise RotorUnreachable(f"Rotor did not answer in time ({type(exc).__name__})") from exc
    except httpx.ConnectError as exc:
        raise RotorConnectFailed(f"cannot reach Rotor: ConnectError: {exc}") from exc
    except httpx.TransportError as exc:
        raise RotorUnreachable(f"cannot reach Rotor: {type(exc).__name__}: {exc}") from exc


def _lead_id(payload: object) -> str | None:
    lead_id = payload.get("id") if isinstance(payload, dict) else None
    return lead_id if isinstance(lead_id, str) and lead_id else None


def json_object(response: httpx.Response) -> dict[str, Any]:
    """The JSON object a response carries; {} for anything else (an HTML error page, a list)."""
    try:
        payload = response.json()
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def _error_for(response: httpx.Response, payload: dict[str, Any]) -> DeliveryError:
    """The delivery error an unsuccessful answer means."""
    status = response.status_code
    code = payload.get("error_code") if isinstance(payload.get("error_code"), str) else None
    field_errors = [e for e in payload.get("errors") or () if isinstance(e, dict)]
    message = str(payload.get("message") or response.reason_phrase or "no message")
    if field_errors:
        details = "; ".join(f"{e.get('field')}: {e.get('message')}" for e in field_errors)
        message = f"{message}: {details}"
    if code == "RATE_LIMIT_EXCEEDED":
        cls: type[DeliveryError] = RotorQuotaExceeded
    elif status in (401, 403):
        cls = RotorAuthFailed
    elif status == 404:
        cls = RotorNotFound
    elif status >= 500 or status in (408, 429):
        cls = RotorServerError
    elif 400 <= status < 500:
        cls = RotorRejected
    else:
        cls = RotorServerError  # a 3xx (not followed): Rotor misbehaved, try again later
    return cls(f"Rotor answered {status}: {message}", http_status=status, error_code=code, field_errors=field_errors)
