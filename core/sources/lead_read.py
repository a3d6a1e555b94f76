"""Reading a lead a platform only announced (Meta, LinkedIn): the request a ``Source`` describes
and the answer it is handed back. ``workers.reads`` makes the request, so no source sees httpx.
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class LeadRequest:
    """The GET that reads one announced lead; ``workers.reads`` makes it."""

    url: str
    what: str  # the platform in messages: "cannot reach Meta Graph"
    params: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class LeadAnswer:
    """The platform's answer to a ``LeadRequest``, as the worker received it."""

    status: int
    reason: str
    payload: dict[str, Any]  # the JSON object it carried; {} for anything else
