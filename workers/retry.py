"""What a failed Rotor call means for the submission. Pure: no I/O, no clock.

* Unreachable, timed out, 5xx: try again with exponential backoff and jitter; with the defaults
  (16 attempts, 30 s doubling to a 3 h cap) the last try comes 11 to 22 hours after the first,
  past a typical outage. Then ``failed``.
* RATE_LIMIT_EXCEEDED: wait for the quota window to reset; no retry attempt is used up.
* 401/403: the account's key is refused; pause the account (all its jobs wait) and probe later.
* 404 for an update by ``id``: Rotor no longer has that lead; upsert again without the id.
* Any other 4xx (validation): it would fail the same way again, so ``failed`` at once, with
  Rotor's field messages.
* A platform's lead read: unavailable is retried like an unreachable Rotor; refused (a token
  or permission problem) fails at once, for an operator to fix and replay.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from core.errors import (
    DeliveryError,
    LeadReadUnavailable,
    RotorAuthFailed,
    RotorNotFound,
    RotorQuotaExceeded,
    RotorServerError,
    RotorUnreachable,
)

# Failures that say nothing about the lead: the same call may well work later.
TRANSIENT = (RotorUnreachable, RotorServerError, LeadReadUnavailable)


class Action(StrEnum):
    RETRY = "retry"
    WAIT_FOR_QUOTA = "wait_for_quota"
    PAUSE_ACCOUNT = "pause_account"
    RETRY_WITHOUT_ID = "retry_without_id"
    FAIL = "fail"


@dataclass(frozen=True)
class Decision:
    action: Action
    delay: int = 0  # seconds, for RETRY


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 16
    base_seconds: int = 30
    max_seconds: int = 3 * 3600

    def backoff(self, failures: int, *, rand: Callable[[], float] = random.random) -> int:
        """Seconds to wait after the ``failures``-th transient failure (1-based).

        "Equal jitter": half the exponential delay is fixed, half random, so the retries of many
        leads after one outage spread out without any single lead waiting much less.
        """
        delay = min(self.max_seconds, self.base_seconds * 2 ** (failures - 1))
        return int(delay / 2 + rand() * delay / 2)

    def decide(self, error: DeliveryError, *, failures: int, sent_id: bool) -> Decision:
        """The next step after ``error``; ``failures`` counts transient failures including this one."""
        if isinstance(error, RotorQuotaExceeded):
            return Decision(Action.WAIT_FOR_QUOTA)
        if isinstance(error, RotorAuthFailed):
            return Decision(Action.PAUSE_ACCOUNT)
        if isinstance(error, RotorNotFound) and sent_id:
            return Decision(Action.RETRY_WITHOUT_ID)
        if isinstance(error, TRANSIENT) and failures < self.max_attempts:
            return Decision(Action.RETRY, self.backoff(failures))
        return Decision(Action.FAIL)
