"""What a failed delivery attempt means: try again later, or stop and wait for an operator. Pure.

Transient failures (Rotor unreachable, timing out, answering 5xx) are retried with exponential
backoff and jitter; with the defaults (15 attempts, 30 s doubling to a 3 h cap) the last try is
made 17 to 23 hours after the first, past a typical Rotor outage. Everything else (a validation
4xx, an auth failure, a missing lead) would fail the same way again, so it fails at once.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from service.errors import DeliveryError, RotorServerError, RotorUnreachable

TRANSIENT = (RotorUnreachable, RotorServerError)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 15
    base_seconds: int = 30
    max_seconds: int = 3 * 3600

    def backoff(self, attempt: int, *, rand: Callable[[], float] = random.random) -> int:
        """Seconds to wait after failed attempt number ``attempt`` (1-based).

        "Equal jitter": half the exponential delay is fixed, half random, so retries of many
        leads after one outage spread out without any single lead waiting much less.
        """
        delay = min(self.max_seconds, self.base_seconds * 2 ** (attempt - 1))
        return int(delay / 2 + rand() * delay / 2)

    def retry_delay(self, error: DeliveryError, attempt: int) -> int | None:
        """Seconds until the next try, or None when the submission should fail now."""
        if not isinstance(error, TRANSIENT) or attempt >= self.max_attempts:
            return None
        return self.backoff(attempt)
