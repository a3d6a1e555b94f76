"""Injectable failures for POST /leads, set through PUT /_sandbox/faults.

Delivery code has to survive Rotor's 5xx answers, slow answers, and the nastiest case for
exactly-once delivery: Rotor applies the upsert but the client times out before the answer
arrives. These settings let tests and benchmarks provoke each case on demand, reproducibly
when a seed is given. Plain data plus a decision method; the caller holds the lock.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, fields
from enum import Enum
from typing import Any


class Fault(Enum):
    FAIL = "fail"  # answer fail_status without applying
    HANG = "hang"  # apply, then stall the answer


@dataclass
class FaultSettings:
    fail_next: int = 0
    fail_status: int = 500
    fail_rate: float = 0.0
    latency_ms: int = 0
    timeout_after_apply_next: int = 0
    # How long a HANG stalls; 0 means latency_ms. Separate so the one stalled request can be
    # slow while the client's retry is answered at normal speed.
    hang_ms: int = 0
    seed: int | None = None

    def __post_init__(self) -> None:
        # Not a dataclass field, so it stays out of to_json() and comparisons.
        self._rng = random.Random(self.seed)

    @classmethod
    def from_json(cls, data: Any) -> tuple[FaultSettings | None, list[dict[str, str]]]:
        """Whole new settings from a PUT body (omitted keys take defaults), or errors."""
        if not isinstance(data, dict):
            return None, [{"field": "body", "message": "Body must be a JSON object."}]
        errors = [
            {"field": key, "message": message}
            for key, value in data.items()
            if (message := _problem(key, value)) is not None
        ]
        return (None, errors) if errors else (cls(**data), [])

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def draw(self) -> Fault | None:
        """Decide the fate of one authenticated POST /leads, consuming counters."""
        if self.fail_next > 0:
            self.fail_next -= 1
            return Fault.FAIL
        if self.fail_rate > 0 and self._rng.random() < self.fail_rate:
            return Fault.FAIL
        if self.timeout_after_apply_next > 0:
            self.timeout_after_apply_next -= 1
            return Fault.HANG
        return None

    @property
    def hang_seconds(self) -> float:
        return (self.hang_ms or self.latency_ms) / 1000


_PUBLIC = {f.name for f in fields(FaultSettings)}
_COUNTS = ("fail_next", "latency_ms", "timeout_after_apply_next", "hang_ms")


def _problem(key: str, value: Any) -> str | None:
    if key not in _PUBLIC:
        return "Unknown field."
    is_int = isinstance(value, int) and not isinstance(value, bool)
    if key in _COUNTS:
        return None if is_int and value >= 0 else "Must be a non-negative integer."
    if key == "fail_status":
        return None if is_int and 500 <= value <= 599 else "Must be an integer 500-599."
    if key == "fail_rate":
        in_range = isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1
        return None if in_range else "Must be a number between 0 and 1."
    return None if value is None or is_int else "Must be an integer or null."  # seed
