"""Submissions: every lead as it arrived, what it became, and everything that happened to it.

A submission is written once at intake (``core.store.intake``: record, first history entry and
inbox entry in one script), and then only its status, lead id and history change. Records are
Redis hashes; history is an append-only list next to it. Writes take ``pipeline=None`` so a
delivery settles a person's submissions in one round trip.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from redis import Redis
from redis.client import Pipeline
from redis.typing import EncodableT, FieldT

from core.store import keys
from core.vocabulary import FINAL, WAITING, SubmissionStatus


def new_submission_id() -> str:
    """A time-ordered id (ms timestamp + randomness) that RQ accepts as a job id."""
    return f"{time.time_ns() // 1_000_000:012x}{secrets.token_hex(6)}"


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass
class Submission:
    """One submission as stored."""

    id: str
    source: str
    status: SubmissionStatus
    received_at: str
    updated_at: str
    raw: dict[str, Any]
    lead: dict[str, Any] | None = None
    account: str = "default"
    lead_id: str | None = None
    rotor_result: str | None = None  # "created" or "updated"
    error: str | None = None
    attempts: int = 0  # Rotor calls made
    failures: int = 0  # transient failures so far, what the retry policy counts
    deferrals: int = 0
    deferred_until: str | None = None
    job_id: str | None = None  # the RQ job that will deliver it next
    person: str | None = None  # who it is (core.store.identity); its pending submissions merge into one upsert
    merged_into: str | None = None  # the submission whose upsert delivered this one too
    duplicate_of: str | None = None  # the submission that already carried everything this one says
    read_ref: str | None = None  # "meta:<leadgen_id>": the lead is read from the platform at delivery
    read: dict[str, Any] | None = None  # what that read returned
    error_class: str | None = None  # unavailable, rejected, auth, not_found, read_refused, invalid_lead
    replay: bool = False  # an operator's replay: delivered even if Rotor already has it all
    events: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        return data


@dataclass(frozen=True)
class DeliveryState:
    """The part of a submission a delivery job reads."""

    status: SubmissionStatus
    account: str
    lead: dict[str, Any] | None
    failures: int
    deferrals: int
    person: str | None
    source: str
    received_at: str
    read_ref: str | None
    replay: bool

    FIELDS = (
        "status",
        "account",
        "lead",
        "failures",
        "deferrals",
        "person",
        "source",
        "received_at",
        "read_ref",
        "replay",
    )

    @classmethod
    def from_row(cls, row: list[bytes | None]) -> DeliveryState | None:
        status, account, lead, failures, deferrals, person, source, received_at, read_ref, replay = row
        if status is None:
            return None
        return cls(
            status=SubmissionStatus(status.decode()),
            account=account.decode() if account else "default",
            lead=json.loads(lead) if lead else None,
            failures=int(failures or 0),
            deferrals=int(deferrals or 0),
            person=person.decode() if person else None,
            source=source.decode() if source else "",
            received_at=received_at.decode() if received_at else "",
            read_ref=read_ref.decode() if read_ref else None,
            replay=bool(replay),
        )


def new_record(
    submission_id: str,
    *,
    source: str,
    raw: dict[str, Any],
    lead: dict[str, Any] | None,
    status: SubmissionStatus,
    account: str,
    at: str,
    read_ref: str | None = None,
    error: str | None = None,
    error_class: str | None = None,
) -> dict[str, str]:
    """A new submission's record fields, as intake's script stores them (``core.store.intake``).

    It has no ``job_id`` yet: a fresh submission waits in the inbox until a drain job takes it.
    """
    record = {
        "id": submission_id,
        "source": source,
        "status": status.value,
        "account": account,
        "received_at": at,
        "updated_at": at,
        "raw": json.dumps(raw, separators=(",", ":")),
    }
    if lead is not None:
        record["lead"] = json.dumps(lead, separators=(",", ":"))
    for name, value in (("read_ref", read_ref), ("error", error), ("error_class", error_class)):
        if value is not None:
            record[name] = value
    return record


def event_json(event: dict[str, Any]) -> str:
    """One history entry as stored: JSON without the keys that have no value."""
    return json.dumps({k: v for k, v in event.items() if v is not None}, separators=(",", ":"))


class SubmissionStore:
    """Reads and writes submission records.

    ``retention_seconds``: how long a settled or failed record (raw payload, PII) is kept.
    """

    def __init__(self, connection: Redis, *, retention_seconds: int = 30 * 24 * 3600) -> None:
        self.connection = connection
        self.retention_seconds = retention_seconds

    def set_status(
        self,
        submission_id: str,
        status: SubmissionStatus,
        *,
        note: str | None = None,
        pipeline: Pipeline | None = None,
        **fields: str | int,
    ) -> None:
        """Move to ``status``, updating ``fields`` (lead_id, rotor_result, error) with it."""
        connection = pipeline if pipeline is not None else self.connection
        at = utc_now()
        mapping: dict[FieldT, EncodableT] = {"status": status.value, "updated_at": at}
        mapping.update(fields.items())
        connection.hset(keys.submission(submission_id), mapping=mapping)
        self._log(connection, submission_id, {"at": at, "status": status.value, "note": note})
        self._index(connection, submission_id, status)

    def reopen(self, submission_id: str, note: str, *, pipeline: Pipeline | None = None, **fields: str | int) -> None:
        """Back to ``queued`` with a fresh retry budget: an operator's retry or replay."""
        self.set_status(
            submission_id,
            SubmissionStatus.QUEUED,
            note=note,
            failures=0,
            error="",
            error_class="",
            pipeline=pipeline,
            **fields,
        )

    def _index(self, connection: Redis | Pipeline, submission_id: str, status: SubmissionStatus) -> None:
        """Keep the failed and waiting indexes and the retention TTLs in step with ``status``."""
        for index, statuses in ((keys.FAILED_INDEX, (SubmissionStatus.FAILED,)), (keys.WAITING_INDEX, WAITING)):
            if status in statuses:
                connection.zadd(index, {submission_id: time.time()})
            else:
                connection.zrem(index, submission_id)
        for key in (keys.submission(submission_id), keys.submission_events(submission_id)):
            if status in FINAL:
                connection.expire(key, self.retention_seconds)
            else:
                connection.persist(key)

    def record_attempt(
        self, submission_id: str, attempt: dict[str, Any], *, transient: bool = False, pipeline: Pipeline | None = None
    ) -> None:
        """Append one Rotor call's outcome (http status, error code, message) to the history."""
        connection = pipeline if pipeline is not None else self.connection
        connection.hincrby(keys.submission(submission_id), "attempts", 1)
        if transient:
            connection.hincrby(keys.submission(submission_id), "failures", 1)
        self._log(connection, submission_id, {"at": utc_now(), "attempt": attempt})

    def get(self, submission_id: str) -> Submission | None:
        with self.connection.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.submission(submission_id))
            pipe.lrange(keys.submission_events(submission_id), 0, -1)
            record, events = pipe.execute()
        if not record:
            return None
        data = {k.decode(): v.decode() for k, v in record.items()}
        return Submission(
            id=data["id"],
            source=data["source"],
            status=SubmissionStatus(data["status"]),
            account=data.get("account", "default"),
            received_at=data["received_at"],
            updated_at=data["updated_at"],
            raw=json.loads(data["raw"]),
            lead=json.loads(data["lead"]) if "lead" in data else None,
            lead_id=data.get("lead_id") or None,
            rotor_result=data.get("rotor_result") or None,
            error=data.get("error") or None,
            attempts=int(data.get("attempts", 0)),
            failures=int(data.get("failures", 0)),
            deferrals=int(data.get("deferrals", 0)),
            deferred_until=data.get("deferred_until") or None,
            job_id=data.get("job_id") or None,
            person=data.get("person") or None,
            merged_into=data.get("merged_into") or None,
            duplicate_of=data.get("duplicate_of") or None,
            read_ref=data.get("read_ref") or None,
            read=json.loads(data["read"]) if data.get("read") else None,
            error_class=data.get("error_class") or None,
            replay=bool(data.get("replay")),
            events=[json.loads(e) for e in events],
        )

    def delivery_state(self, submission_id: str) -> DeliveryState | None:
        """What a delivery reads, in one round trip; None when the record is gone."""
        return self.delivery_states([submission_id])[0]

    def delivery_states(self, submission_ids: list[str]) -> list[DeliveryState | None]:
        """``delivery_state`` for several submissions (a person's pending ones), in one round trip."""
        with self.connection.pipeline(transaction=False) as pipe:
            for submission_id in submission_ids:
                pipe.hmget(keys.submission(submission_id), list(DeliveryState.FIELDS))
            rows = pipe.execute()
        return [DeliveryState.from_row(row) for row in rows]

    def replace_lead(
        self, submission_id: str, lead: dict[str, Any], *, person: str | None = None, pipeline: Pipeline | None = None
    ) -> None:
        connection = pipeline if pipeline is not None else self.connection
        fields: dict[FieldT, EncodableT] = {"lead": json.dumps(lead, separators=(",", ":"))}
        if person:
            fields["person"] = person
        connection.hset(keys.submission(submission_id), mapping=fields)

    def save_read(self, submission_id: str, read: dict[str, Any], *, pipeline: Pipeline | None = None) -> None:
        """Keep what the platform's lead read returned: it is the raw lead for replays."""
        connection = pipeline if pipeline is not None else self.connection
        connection.hset(keys.submission(submission_id), "read", json.dumps(read, separators=(",", ":")))

    @classmethod
    def note(cls, connection: Redis | Pipeline, submission_id: str, text: str) -> None:
        """Add a remark to the history without changing the status."""
        cls._log(connection, submission_id, {"at": utc_now(), "note": text})

    @staticmethod
    def _log(connection: Redis | Pipeline, submission_id: str, event: dict[str, Any]) -> None:
        connection.rpush(keys.submission_events(submission_id), event_json(event))
