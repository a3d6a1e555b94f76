"""Reading a lead the platform only announced: Meta's Graph API and LinkedIn's lead responses.

The one place where those platforms' HTTP answers become ``LeadReadUnavailable`` (network, 5xx,
rate limits: retried like an unreachable Rotor) or ``LeadReadRefused`` (a bad or expired token,
a missing permission, no such lead: a configuration problem for an operator, not retried).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from core.config import Config, SourceConfig
from core.errors import LeadReadRefused, LeadReadUnavailable
from core.rotor import json_object
from core.sources.linkedin import LEAD_RESPONSE_FIELDS
from core.sources.meta import GRAPH_LEAD_FIELDS

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=3.0)
LINKEDIN_VERSION = "202411"
# Graph error codes that mean "later": app, user and page rate limits, the lead-ads bucket, temporary errors.
GRAPH_TRANSIENT_CODES = {1, 2, 4, 17, 32, 341, 613, 80001, 80005}


class LeadReader:
    """Platform clients for lead reads, one connection pool each, kept by the worker process."""

    def __init__(self, config: Config, *, transport: httpx.BaseTransport | None = None) -> None:
        self.config = config
        self._http = httpx.Client(timeout=DEFAULT_TIMEOUT, transport=transport)

    def read(self, source: SourceConfig, read_ref: str) -> dict[str, Any]:
        """The platform's lead object for ``read_ref`` (``meta:<leadgen_id>``, ``linkedin:<response id>``)."""
        kind, _, lead_id = read_ref.partition(":")
        if kind == "meta":
            return self._meta(lead_id)
        if kind == "linkedin":
            return self._linkedin(source, lead_id)
        raise LeadReadRefused(f"no reader for {read_ref!r}")

    def _meta(self, leadgen_id: str) -> dict[str, Any]:
        token = self.config.meta_access_token
        if not token:
            raise LeadReadRefused("META_ACCESS_TOKEN is not set, so Meta leads cannot be read")
        url = f"{self.config.meta_graph_url}/{quote(leadgen_id, safe='')}"
        response = self._get(url, params={"fields": GRAPH_LEAD_FIELDS, "access_token": token}, what="Meta Graph")
        payload = json_object(response)
        if response.status_code == 200 and isinstance(payload.get("field_data"), list):
            return payload
        detail = payload["error"] if isinstance(payload.get("error"), dict) else {}
        message = f"Meta Graph answered {response.status_code}: {detail.get('message') or response.reason_phrase}"
        code = detail.get("code")
        if response.status_code >= 500 or code in GRAPH_TRANSIENT_CODES or detail.get("is_transient"):
            raise LeadReadUnavailable(message, http_status=response.status_code, error_code=str(code))
        if code == 190:
            message += " (META_ACCESS_TOKEN is invalid or expired)"
        raise LeadReadRefused(message, http_status=response.status_code, error_code=str(code) if code else None)

    def _linkedin(self, source: SourceConfig, response_id: str) -> dict[str, Any]:
        if not source.access_token:
            raise LeadReadRefused(
                f"sources.{source.name}.access_token_env is not set, so LinkedIn leads cannot be read"
            )
        url = f"{source.api_url.rstrip('/')}/leadFormResponses/{quote(response_id, safe='')}"
        headers = {
            "Authorization": f"Bearer {source.access_token}",
            "LinkedIn-Version": LINKEDIN_VERSION,
            "X-Restli-Protocol-Version": "2.0.0",
        }
        response = self._get(url, params={"fields": LEAD_RESPONSE_FIELDS}, headers=headers, what="LinkedIn")
        payload = json_object(response)
        if response.status_code == 200:
            return payload
        message = f"LinkedIn answered {response.status_code}: {payload.get('message') or response.reason_phrase}"
        if response.status_code >= 500 or response.status_code == 429:
            raise LeadReadUnavailable(message, http_status=response.status_code)
        raise LeadReadRefused(message, http_status=response.status_code)

    def _get(
        self, url: str, *, params: dict[str, str], what: str, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        try:
            return self._http.get(url, params=params, headers=headers)
        except httpx.TransportError as exc:
            raise LeadReadUnavailable(f"cannot reach {what}: {type(exc).__name__}") from exc

    def close(self) -> None:
        self._http.close()
