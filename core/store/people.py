"""A person's submissions at delivery time: one worker at a time, all pending ones in one upsert.

Two workers posting the same person at once would spend two requests and could race Rotor into
two leads, so each delivery holds the person's lock while it gathers the pending submissions,
merges them and calls Rotor. The person's record remembers the Rotor lead id (later upserts send
it, so Rotor updates exactly that lead) and what Rotor holds from us, so a re-submission that adds
nothing within the dedup window costs nothing. Rotor replaces notes on update, so the notes it
holds from us are kept for as long as the record (past the window): an update sends them again
before its new ones (``core.merge.upsert_body``).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from redis import Redis
from redis.client import Pipeline
from redis.typing import EncodableT

from core.merge import Piece, accumulate
from core.store import keys, scripts
from core.store.identity import MAX_FOLDS, PERSONS_JSON, current_person
from core.store.submissions import DeliveryState, SubmissionStore
from core.vocabulary import JOINABLE

# Past the longest a delivery run can last (a drain job's timeout, after which RQ interrupts it)
# by this much, so a holder that died blocks the person no longer than it could have run.
LOCK_MARGIN_SECONDS = 5


@dataclass(frozen=True)
class Backoff:
    """A retry after a transient Rotor failure is due for the person: its other runs wait for it."""

    owner: str  # the submission whose run retries
    seconds_left: float


@dataclass
class Person:
    id: str
    lead_id: str | None = None
    delivered: dict[str, Any] = field(default_factory=dict)  # what Rotor holds from us, within the window
    held: dict[str, Any] = field(default_factory=dict)  # the same, however long ago it was sent
    delivered_by: str | None = None
    notes: str = ""  # the notes Rotor holds from us (it replaces them on update), past the window too
    lost: dict[str, Any] = field(default_factory=dict)  # what a lead Rotor no longer has held from us
    backoff: Backoff | None = None


@dataclass(frozen=True)
class Gathered:
    """What a delivery reads under the person's lock: its own state (None if purged), the
    person's pending list, and the person's record."""

    state: DeliveryState | None
    pending: list[str]
    person: Person
    also_read: dict[str, bytes | None]  # the value of each key the caller asked for besides


def _person(person_id: str, row: list[bytes | None], backoff: tuple[bytes | None, int], window_seconds: int) -> Person:
    """The person's record; what was delivered counts only within the dedup window.

    Past the window a repeat is news again (a new buying signal) and is sent as an update.
    """
    record = dict(zip(keys.PERSON_FIELDS, row, strict=True))
    lead_id, delivered, delivered_by = record["lead_id"], record["delivered"], record["delivered_by"]
    delivered_at, notes, lost = record["delivered_at"], record["notes"], record["lost"]
    recent = delivered_at is not None and time.time() - float(delivered_at) < window_seconds
    owner, backoff_ms = backoff
    held = json.loads(delivered) if delivered else {}
    return Person(
        person_id,
        lead_id=lead_id.decode() if lead_id else None,
        delivered=held if recent else {},
        held=held,
        delivered_by=delivered_by.decode() if delivered_by and recent else None,
        notes=notes.decode() if notes else "",
        lost=json.loads(lost) if lost else {},
        backoff=Backoff(owner.decode(), max(backoff_ms, 0) / 1000) if owner else None,
    )


@dataclass(frozen=True)
class Member:
    """One of the person's unsettled submissions."""

    submission_id: str
    state: DeliveryState

    @property
    def piece(self) -> Piece:
        return Piece(self.state.lead or {}, self.state.source, self.state.received_at)


class People:
    def __init__(self, connection: Redis, store: SubmissionStore, *, run_timeout_seconds: int) -> None:
        self.connection = connection
        self.store = store
        self.lock_ttl_ms = (run_timeout_seconds + LOCK_MARGIN_SECONDS) * 1000
        self._release = scripts.register(connection, "lock_release")
        self._remember = scripts.register(connection, "people_remember")
        self._settle = scripts.register(connection, "people_settle")
        self._held: dict[str, str] = {}  # person id: this delivery's lock token, while it holds the lock

    def current_id(self, person_id: str) -> str:
        """Follow folds: the person a (possibly folded) person id is now."""
        return current_person(self.connection, person_id)

    @contextmanager
    def locked(
        self,
        person_id: str,
        submission_id: str,
        *,
        window_seconds: int,
        also_read: Sequence[str] = (),
        wait_seconds: float = 5.0,
    ) -> Iterator[Gathered | None]:
        """Hold the person's lock (``person_id``'s, or the person's it was folded into) for the
        block, with what the delivery needs read under it; None if another worker kept it too long.

        The reads travel with the lock's SET NX, in one round trip: Redis runs them after it, so
        when the SET took the lock no other delivery changes what they saw before it is let go
        (intake may still add to the pending list, which the merge reads again).
        """
        token = secrets.token_hex(8)
        deadline = time.monotonic() + wait_seconds
        folds = 0
        while True:
            with self.connection.pipeline(transaction=False) as pipe:
                pipe.set(keys.person_lock(person_id), token, nx=True, px=self.lock_ttl_ms)
                pipe.get(keys.person_folded_into(person_id))
                pipe.hmget(keys.submission(submission_id), list(DeliveryState.FIELDS))
                pipe.lrange(keys.person_pending(person_id), 0, -1)
                pipe.hmget(keys.person(person_id), keys.PERSON_FIELDS)
                pipe.get(keys.person_backoff(person_id))
                pipe.pttl(keys.person_backoff(person_id))  # Redis's clock: the workers' may differ
                for key in also_read:  # e.g. the account's pause flag: one round trip fewer
                    pipe.get(key)
                held, folded_into, row, pending, person, owner, backoff_ms, *extra = pipe.execute()
            if folded_into is not None and folds < MAX_FOLDS:  # proved someone else: lock that one
                if held:
                    self._release(keys=[keys.person_lock(person_id)], args=[token])
                person_id, folds = self.current_id(folded_into.decode()), folds + 1
                continue
            if held:
                self._held[person_id] = token
                break
            if time.monotonic() > deadline:
                yield None
                return
            time.sleep(0.02)
        try:
            state = DeliveryState.from_row(row)
            yield Gathered(
                state=replace(state, person=person_id) if state else None,
                pending=[raw.decode() for raw in pending],
                person=_person(person_id, person, (owner, backoff_ms), window_seconds),
                also_read=dict(zip(also_read, extra, strict=True)),
            )
        except BaseException:
            # A settle that queued the release may never have reached Redis: let go here too
            # (the release deletes only this token, so twice is harmless).
            self._held.pop(person_id, None)
            self._release(keys=[keys.person_lock(person_id)], args=[token])
            raise
        if self._held.pop(person_id, None) == token:  # not let go of by ``settle`` already
            self._release(keys=[keys.person_lock(person_id)], args=[token])

    def members(self, own_id: str, own: DeliveryState, pending: list[str]) -> list[Member]:
        """The person's submissions waiting for delivery (``pending``, its list), own first."""
        others = [sid for sid in dict.fromkeys(pending) if sid != own_id]
        members = [Member(own_id, own)]
        for submission_id, state in zip(others, self.store.delivery_states(others), strict=True):
            if state is not None and state.status in JOINABLE and state.lead is not None:
                members.append(Member(submission_id, state))
        return members

    def forget_lead(self, person: Person, *, pipeline: Pipeline | None = None) -> None:
        """Rotor no longer has the person's lead (a 404 on its id): forget it and what it held, which
        becomes ``lost``, sent again with the next upsert so the lead created in its place is complete.

        Forgetting ``delivered`` also ends the dedup window: none of it is in Rotor now.
        """
        connection = pipeline if pipeline is not None else self.connection
        # All it held, past the dedup window too: that is when a deleted lead is usually found.
        held = {**person.held, **({"notes": person.notes} if person.notes else {})}
        lost = accumulate(person.lost, held)
        key = keys.person(person.id)
        connection.hdel(key, *(name for name in keys.PERSON_FIELDS if name != "lost"))
        if lost:
            connection.hset(key, "lost", json.dumps(lost, separators=(",", ":")))

    def back_off(self, person_id: str, owner: str, seconds: float, *, pipeline: Pipeline | None = None) -> None:
        """Until ``seconds`` from now only ``owner``'s run calls Rotor for the person (its retry after
        a transient failure): the others would send the same merged body into the same outage."""
        connection = pipeline if pipeline is not None else self.connection
        connection.set(keys.person_backoff(person_id), owner, px=max(1, int(seconds * 1000)))

    def remember_delivery(
        self, person: Person, lead_id: str, body: dict[str, Any], by: str, *, pipeline: Pipeline | None = None
    ) -> None:
        """Store the lead id, and what Rotor now holds from us (``body`` is what was sent); on the
        person it is now, should it have been folded into another while this delivery ran."""
        connection = pipeline if pipeline is not None else self.connection
        holds = accumulate(person.delivered, body)
        fields: dict[str, EncodableT] = {
            "delivered_by": by,
            "delivered_at": time.time(),
            "delivered": json.dumps(holds, separators=(",", ":")),
        }
        if "notes" in body:  # what Rotor's notes are now; without notes Rotor kept the ones it had
            fields["notes"] = body["notes"]
        if person.backoff is not None:  # Rotor answered: the person's other runs need not wait
            connection.delete(keys.person_backoff(person.id))
        drop_lost = 1 if person.lost else 0
        args: list[EncodableT] = [PERSONS_JSON, person.id, lead_id, self.store.retention_seconds, drop_lost]
        args += [item for pair in fields.items() for item in pair]
        self._remember(keys=[keys.person(person.id)], args=args, client=connection)

    def settle(self, person_id: str | None, member_ids: list[str], *, pipeline: Pipeline) -> None:
        """Take delivered or duplicate submissions off the person's pending list (and the survivor's,
        if a fold moved it meanwhile); if this delivery holds the person's lock, let go of it in the
        same transaction."""
        if person_id is None:
            return
        self._settle(
            keys=[keys.person_pending(person_id)], args=[PERSONS_JSON, person_id, *member_ids], client=pipeline
        )
        token = self._held.pop(person_id, None)
        if token is not None:
            self._release(keys=[keys.person_lock(person_id)], args=[token], client=pipeline)
