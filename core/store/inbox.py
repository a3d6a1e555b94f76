"""The inbox's side of a drain job: a batch taken in one script, and what it did not start given back.

Intake appends fresh submissions to ``keys.INBOX`` (``core.store.intake``); a drain job
(``workers.batch``) takes them a batch at a time. The take (``lua/inbox_take.lua``) is one script,
so no other client sees a half-taken batch: the ids leave the inbox, get the job as their
``job_id``, enter the waiting index and are listed under ``keys.batch(job id)`` for the job's
failure callback. What the job gives back (``lua/inbox_give_back.lua``) returns to the head of the
inbox as if never taken.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from redis import Redis
from redis.typing import EncodableT

from core.store import keys, scripts
from core.store.intake import DRAIN_CLAIM_SECONDS
from core.store.submissions import DeliveryState
from core.vocabulary import WAITING

# What a taken id's record must be in to be delivered: anything else moved on while in the inbox.
_WAITING_JSON = json.dumps(sorted(WAITING))


@dataclass(frozen=True)
class Batch:
    """The ids taken, in inbox order, with their delivery states; and whether the caller must queue
    another drain job for what is left (it claimed ``keys.DRAIN_PENDING``)."""

    states: dict[str, DeliveryState | None]
    drain_wanted: bool


class Inbox:
    """Intake's list of fresh submissions, as drain jobs take from it."""

    def __init__(self, connection: Redis) -> None:
        self._take = scripts.register(connection, "inbox_take")
        self._give_back = scripts.register(connection, "inbox_give_back")

    def take(self, job_id: str, *, size: int, batch_ttl_seconds: int) -> Batch:
        """Up to ``size`` ids off the inbox for drain job ``job_id``, listed under ``keys.batch(job_id)``
        for ``batch_ttl_seconds``."""
        script_keys = [keys.INBOX, keys.DRAIN_PENDING, keys.WAITING_INDEX, keys.batch(job_id)]
        args: list[EncodableT] = [
            job_id,
            size,
            time.time(),
            batch_ttl_seconds,
            keys.SUBMISSION_PREFIX,
            DRAIN_CLAIM_SECONDS,
            _WAITING_JSON,
            *DeliveryState.FIELDS,  # status first: the script checks it
        ]
        taken, rows, more = self._take(keys=script_keys, args=args)
        states = {raw.decode(): DeliveryState.from_row(row) for raw, row in zip(taken, rows, strict=True)}
        return Batch(states, bool(more))

    def give_back(self, job_id: str, ids: list[str]) -> None:
        """``ids`` back to the head of the inbox, in order, if still on ``job_id``'s batch list."""
        script_keys = [keys.INBOX, keys.WAITING_INDEX, keys.batch(job_id)]
        self._give_back(keys=script_keys, args=[keys.SUBMISSION_PREFIX, *ids])
