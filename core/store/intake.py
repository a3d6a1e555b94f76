"""Intake's one round trip: the script that counts, claims, resolves and stores a submission.

Everything a submission needs before intake may answer 2xx happens in one Lua script: one round
trip, and no other client sees it half done. (Redis does not roll back a script that fails
halfway; nothing here can fail on data, and a claim whose record was never written counts for
nothing, so a sender's retry after a 503 is stored afresh.) In order:

1. the rate limits it counts against (form posts; ``IntakeScript.count`` counts them alone, ahead
   of a captcha check): a refused post stores nothing;
2. its idempotency key (a platform's lead id, or a form's content fingerprint): a redelivery is
   stored as ``duplicate`` of the first and goes no further;
3. its person, from the phone and email (``core.store.identity.RESOLVE_FUNCTION``), and its place
   on the person's pending list;
4. the record, its first history entry, the intake counter, and the failed index or retention
   TTL its status calls for (the same rules as ``SubmissionStore._index``);
5. for a submission to deliver, its id on the inbox, and ``keys.DRAIN_PENDING`` set if no drain
   job is waiting: then the caller enqueues one.
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
from core.store import keys
from core.store.identity import RESOLVE_FUNCTION
from core.store.submissions import event_json
from core.vocabulary import FINAL, SubmissionStatus

# Whoever sets ``keys.DRAIN_PENDING`` enqueues a drain job. It holds for DRAIN_CLAIM_SECONDS until
# the job is on the queue (a process that dies in between, or a failed enqueue, blocks the next
# one only that long), then for DRAIN_PENDING_SECONDS, the longest a job waits before another may
# be enqueued beside it (``core.store.jobs.enqueue_drain``).
DRAIN_CLAIM_SECONDS = 5
DRAIN_PENDING_SECONDS = 30
# over_limit(limits: {key, amount, seconds, text} each) counts a post against each rate limit, fixed
# window; returns the refusal ({'limited', text, seconds left}) of the first it is over, else nil.
LIMITS_FUNCTION = """
local function over_limit(limits)
  for _, limit in ipairs(limits) do
    local hits = redis.call('INCR', limit[1])
    if hits == 1 then redis.call('EXPIRE', limit[1], limit[3]) end
    if hits > limit[2] then return {'limited', limit[4], redis.call('TTL', limit[1])} end
  end
end
"""
# ARGV[1]: the limits as JSON.
COUNT_SCRIPT = LIMITS_FUNCTION + "return over_limit(cjson.decode(ARGV[1])) or {'counted'}"
# KEYS: the record, its history, the inbox, DRAIN_PENDING, the counters, the failed index.
# ARGV[1]: this submission's header, ARGV[2]: the settings (both JSON, built by ``IntakeScript``);
# ARGV[3..]: the record's fields and values.
STORE_SCRIPT = (
    RESOLVE_FUNCTION
    + LIMITS_FUNCTION
    + """
local h, s = cjson.decode(ARGV[1]), cjson.decode(ARGV[2])
local refused = over_limit(h.limits)
if refused then return refused end
local status, event, record = h.status, h.event, {unpack(ARGV, 3)}
local function set(field, value) record[#record + 1] = field; record[#record + 1] = value end
if h.idempotency then
  local first = redis.call('GET', h.idempotency[1])
  -- A claim counts once its record exists: a script that failed after claiming stored nothing.
  if first and redis.call('EXISTS', s.submission_prefix .. first) == 1 then
    status, event = 'duplicate', h.duplicate_event:gsub('FIRST', first)
    set('status', status); set('duplicate_of', first)
  else
    redis.call('SET', h.idempotency[1], h.id, 'EX', h.idempotency[2])
  end
end
local drain = 0
if h.deliver and status ~= 'duplicate' then
  if #h.identity > 0 then
    local person = resolve(h.identity, h.new_person, s.person_ttl, s.person_prefix)
    set('person', person)
    local pending = s.person_prefix .. person .. ':pending'
    redis.call('RPUSH', pending, h.id)
    redis.call('EXPIRE', pending, s.person_ttl)
  end
  redis.call('RPUSH', KEYS[3], h.id)
  if redis.call('SET', KEYS[4], '1', 'NX', 'EX', s.drain_ttl) then drain = 1 end
end
redis.call('HSET', KEYS[1], unpack(record))
redis.call('RPUSH', KEYS[2], event)
redis.call('HINCRBY', KEYS[5], h.counters[status], 1)
if s.final[status] then
  redis.call('EXPIRE', KEYS[1], s.retention)
  redis.call('EXPIRE', KEYS[2], s.retention)
end
if status == 'failed' then redis.call('ZADD', KEYS[6], h.now, h.id) end
return {status, drain}
"""
)


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
        self._script = connection.register_script(STORE_SCRIPT)
        self._count = connection.register_script(COUNT_SCRIPT)
        settings = {
            "person_ttl": person_ttl_seconds,
            "person_prefix": keys.person(""),
            "drain_ttl": DRAIN_CLAIM_SECONDS,
            "submission_prefix": keys.submission(""),
            "final": {state.value: True for state in FINAL},
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
            "duplicate_event": event_json({"at": at, "status": "duplicate", "note": "redelivery of FIRST"}),
            "limits": _limits_json(limits),
            "deliver": status in (SubmissionStatus.QUEUED, SubmissionStatus.RECEIVED),
            "identity": list(identity_keys),
            "new_person": secrets.token_hex(8),
            "counters": {
                name: metrics.counter_field("leadgate_submissions_total", source=record["source"], status=name)
                for name in (status.value, SubmissionStatus.DUPLICATE.value)
            },
            "now": time.time(),
        }
        if idempotency is not None:  # absent, not null: cjson's null is truthy in Lua
            header["idempotency"] = list(idempotency)
        fields = [item for pair in record.items() for item in pair]
        script_keys = [
            keys.submission(submission_id),
            keys.submission_events(submission_id),
            keys.INBOX,
            keys.DRAIN_PENDING,
            keys.METRICS_COUNTERS,
            keys.FAILED_INDEX,
        ]
        args = [json.dumps(header, separators=(",", ":")), self._settings, *fields]
        answer = self._script(keys=script_keys, args=args)
        if answer[0] == b"limited":
            return _refused(answer)
        return Stored(SubmissionStatus(answer[0].decode()), bool(answer[1]))

    def count(self, limits: Sequence[Limit]) -> Refused | None:
        """Count a post against ``limits`` ahead of its store (which is then given none)."""
        answer = self._count(args=[json.dumps(_limits_json(limits), separators=(",", ":"))])
        return _refused(answer) if answer[0] == b"limited" else None


def _limits_json(limits: Sequence[Limit]) -> list[list[Any]]:
    return [[limit.key, limit.amount, limit.seconds, limit.text] for limit in limits]


def _refused(answer: list[Any]) -> Refused:
    return Refused(limit=answer[1].decode(), retry_after=max(1, int(answer[2])))
