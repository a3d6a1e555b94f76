"""Intake's one round trip: the script that counts, claims, resolves and stores a submission.

Everything a submission needs before intake may answer 2xx happens in one Lua script: one round
trip, and no other client sees it half done. (Redis does not roll back a script that fails
halfway; nothing here can fail on data, and a claim whose record was never written counts for
nothing, so a sender's retry after a 503 is stored afresh.) In order:

1. the rate limits it counts against (form posts; ``IntakeScript.count`` counts them alone, ahead
   of a captcha check): a refused post stores nothing;
2. its idempotency key (a platform's lead id, or a form's content fingerprint): a redelivery is
   stored as ``duplicate`` of the first and goes no further;
3. its person, from the phone and email (``lua/resolve_person.lua``), and its place on the
   person's pending list;
4. the record, its first history entry, the intake counter, and the failed index or retention
   TTL its status calls for (the same rules as ``SubmissionStore._index``);
5. for a submission to deliver, its id on the inbox, and ``keys.DRAIN_PENDING`` set if no drain
   job is waiting: then the caller enqueues one.

The script is ``lua/intake_store.lua``; ``lua/intake_count.lua`` counts a post alone.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from redis import Redis

from core import metrics
from core.store import keys, scripts
from core.store.identity import PERSONS
from core.store.submissions import event_json
from core.vocabulary import FINAL, SubmissionStatus

# Whoever sets ``keys.DRAIN_PENDING`` enqueues a drain job. It holds for DRAIN_CLAIM_SECONDS until
# the job is on the queue (a process that dies in between, or a failed enqueue, blocks the next
# one only that long), then for DRAIN_PENDING_SECONDS, the longest a job waits before another may
# be enqueued beside it (``core.store.jobs.enqueue_drain``).
DRAIN_CLAIM_SECONDS = 5
DRAIN_PENDING_SECONDS = 30


@dataclass(frozen=True)
class Limit:
    """One rate limit a submission counts against: ``amount`` per ``seconds`` under ``key``."""

    key: str
    amount: int
    seconds: int
    text: str  # how the limit reads to the refused caller: "20 per 1 minute"


@dataclass(frozen=True)
class Stored:
    """What the script did: the status stored, and whether the caller must enqueue a drain job."""

    status: SubmissionStatus
    drain_wanted: bool


@dataclass(frozen=True)
class Refused:
    """A rate limit refused the submission; nothing was stored."""

    limit: str
    retry_after: int


class IntakeScript:
    def __init__(self, connection: Redis, *, retention_seconds: int, person_ttl_seconds: int) -> None:
        self._script = scripts.register(connection, "intake_store")
        self._count = scripts.register(connection, "intake_count")
        settings = {
            "person_ttl": person_ttl_seconds,
            "persons": PERSONS,
            "drain_ttl": DRAIN_CLAIM_SECONDS,
            "submission_prefix": keys.SUBMISSION_PREFIX,
            "final": {state.value: True for state in FINAL},
            "duplicate": SubmissionStatus.DUPLICATE.value,
            "failed": SubmissionStatus.FAILED.value,
            "retention": retention_seconds,
        }
        self._settings = json.dumps(settings, separators=(",", ":"))  # the same for every submission

    def store(
        self,
        record: dict[str, str],
        *,
        note: str | None,
        idempotency: tuple[str, int] | None = None,
        identity_keys: Sequence[str] = (),
        limits: Sequence[Limit] = (),
    ) -> Stored | Refused:
        """Store ``record`` (built by ``submissions.new_record``) as the module docstring says."""
        submission_id, status, at = record["id"], SubmissionStatus(record["status"]), record["received_at"]
        header: dict[str, Any] = {
            "id": submission_id,
            "status": status.value,
            "event": event_json({"at": at, "status": status.value, "note": note}),
            "duplicate_event": event_json(
                {"at": at, "status": SubmissionStatus.DUPLICATE.value, "note": "redelivery of FIRST"}
            ),
            "limits": _limits_json(limits),
            "deliver": status in (SubmissionStatus.QUEUED, SubmissionStatus.RECEIVED),
            "identity": len(identity_keys),
            "new_person": secrets.token_hex(8),
            "counters": {
                name: metrics.counter_field("leadgate_submissions_total", source=record["source"], status=name)
                for name in (status.value, SubmissionStatus.DUPLICATE.value)
            },
            "now": time.time(),
        }
        script_keys = [
            keys.submission(submission_id),
            keys.submission_events(submission_id),
            keys.INBOX,
            keys.DRAIN_PENDING,
            keys.METRICS_COUNTERS,
            keys.FAILED_INDEX,
            *identity_keys,
            *(limit.key for limit in limits),
        ]
        if idempotency is not None:
            idempotency_key, idempotency_ttl = idempotency
            script_keys.append(idempotency_key)
            header["idempotency"] = idempotency_ttl  # absent, not null: cjson's null is truthy in Lua
        fields = [item for pair in record.items() for item in pair]
        args = [json.dumps(header, separators=(",", ":")), self._settings, *fields]
        answer = self._script(keys=script_keys, args=args)
        if answer[0] == b"limited":
            return _refused(answer)
        return Stored(SubmissionStatus(answer[0].decode()), bool(answer[1]))

    def count(self, limits: Sequence[Limit]) -> Refused | None:
        """Count a post against ``limits`` ahead of its store (which is then given none)."""
        limit_keys = [limit.key for limit in limits]
        answer = self._count(keys=limit_keys, args=[json.dumps(_limits_json(limits), separators=(",", ":"))])
        return _refused(answer) if answer[0] == b"limited" else None


def _limits_json(limits: Sequence[Limit]) -> list[list[Any]]:
    """The limits as the scripts read them, beside their counters' keys (in KEYS, in the same order)."""
    return [[limit.amount, limit.seconds, limit.text] for limit in limits]


def _refused(answer: list[Any]) -> Refused:
    return Refused(limit=answer[1].decode(), retry_after=max(1, int(answer[2])))
