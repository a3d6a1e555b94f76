"""Reading a lead the platform only announced (Meta's Graph API, LinkedIn's lead responses).

The platform's ``Source`` describes the GET (``read_request``) and says what its answer means
(``read_answer``); this module makes the request. A transport failure is ``LeadReadUnavailable``
(retried like an unreachable Rotor); the platform's answers become ``LeadReadUnavailable`` or
``LeadReadRefused`` (a bad or expired token, a missing permission, no such lead: a configuration
problem for an operator, not retried) in its own module.
"""

from __future__ import annotations

from typing import Any

import httpx

from core.errors import LeadReadRefused, LeadReadUnavailable
from core.rotor import json_object
from core.sources.lead_read import LeadAnswer
from core.sources.registry import SOURCES
from core.sources.source import SourceConfig, split_read_ref

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=3.0)


class LeadReader:
    """One connection pool for every platform's lead reads, kept by the worker process."""

    def __init__(self, *, transport: httpx.BaseTransport | None = None) -> None:
        self._http = httpx.Client(timeout=DEFAULT_TIMEOUT, transport=transport)

    def read(self, source: SourceConfig, read_ref: str) -> dict[str, Any]:
        """The platform's lead object for ``read_ref`` (``meta:<leadgen_id>``, ``linkedin:<response id>``)."""
        kind, lead_id = split_read_ref(read_ref)
        platform = SOURCES.get(kind)
        # A source whose type changed since the lead was announced has no reader for it.
        request = platform.read_request(source, lead_id) if platform and kind == source.type else None
        if platform is None or request is None:
            raise LeadReadRefused(f"no reader for {read_ref!r}")
        try:
            response = self._http.get(request.url, params=dict(request.params), headers=dict(request.headers))
        except httpx.TransportError as exc:
            raise LeadReadUnavailable(f"cannot reach {request.what}: {type(exc).__name__}") from exc
        return platform.read_answer(LeadAnswer(response.status_code, response.reason_phrase, json_object(response)))

    def close(self) -> None:
        self._http.close()
