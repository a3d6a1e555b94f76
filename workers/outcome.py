"""How a delivery run ends, decided from what the run read. Pure: no I/O, no clock.

A run (``workers.deliver``) reads in steps, and after each the rules here say whether it ends:
``plan`` once the person's waiting submissions are read (nothing to send, Rotor has all of it
already, or the one upsert to send); ``after_failure`` once the call (or a platform's lead read)
has failed and ``workers.retry`` has given its verdict. Each ending is one of the types below;
``workers.settle`` writes what it means, and the job functions turn it into what RQ expects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from core.errors import DeliveryError
from core.merge import is_covered, merge, upsert_body
from core.store.people import Member, Person
from core.store.quota import Window
from core.store.submissions import DeliveryState
from core.vocabulary import SETTLED, ErrorClass
from workers.retry import Action, Decision


@dataclass(frozen=True)
class Run:
    """What a run settles: its own submission and, when it merged them, the person's waiting
    submissions (its own first) and record. A platform's lead read has neither."""

    submission_id: str
    state: DeliveryState
    members: Sequence[Member] = ()
    person: Person = field(default_factory=lambda: Person(""))


@dataclass(frozen=True)
class Upsert:
    """Not an ending: the one upsert the run sends for all its members, when nothing ends it first."""

    body: dict[str, Any]

    @property
    def sends_id(self) -> bool:
        """It updates the lead by its Rotor id (which Rotor may no longer have)."""
        return "id" in self.body


@dataclass(frozen=True)
class Delivered:
    """Rotor took the upsert: every member is ``delivered``. The job's result is the lead id."""

    lead_id: str
    created: bool
    body: dict[str, Any]  # what was sent: Rotor holds it from us now
    probed: bool = False  # the call was a paused account's probe, and it got through

    def __str__(self) -> str:
        return self.lead_id


@dataclass(frozen=True)
class Duplicate:
    """Rotor already has all of it, from ``of``'s delivery: every member is ``duplicate``, nothing sent."""

    of: str | None
    lead_id: str | None

    def __str__(self) -> str:
        return f"duplicate of {self.of}"


@dataclass(frozen=True)
class Deferred:
    """Runs again at ``until`` from the backlog queue, using up no retry attempt: the quota is spent
    or the account is paused."""

    until: datetime
    reason: str
    exhausts: Window | None = None  # Rotor refused for its quota: the window to mark spent
    pauses_account: str | None = None  # Rotor refused the account's key: pause it, for this reason

    @property
    def at(self) -> str:
        return self.until.isoformat(timespec="seconds")

    def __str__(self) -> str:
        return f"deferred until {self.at}"


@dataclass(frozen=True)
class Retry:
    """A transient failure: runs again in ``delay`` seconds (the person's other runs wait for it).
    Not RQ's ``Retry``, which the job function makes of it."""

    delay: int
    error: str  # the failure's message, the record's last error meanwhile

    def __str__(self) -> str:
        return f"retrying in {self.delay}s: {self.error}"


@dataclass(frozen=True)
class RetryWithoutId:
    """Rotor no longer has the lead id that was sent: runs again at once, creating the lead anew."""

    delay: int = 0

    def __str__(self) -> str:
        return "Rotor no longer has the lead id; upserting without it"


@dataclass(frozen=True)
class Failed:
    """``failed`` for good, for an operator to retry or replay."""

    reason: str
    error_class: ErrorClass
    error: DeliveryError | None = None  # the call's, raised again by a job of its own so RQ shows why

    def __str__(self) -> str:
        return f"failed: {self.reason}"


@dataclass(frozen=True)
class Busy:
    """Another run has the person (its lock, or its retry's back-off): runs again in ``delay``
    seconds, spending no retry attempt and no request."""

    delay: int
    why: str

    def __str__(self) -> str:
        return self.why


@dataclass(frozen=True)
class Skipped:
    """Nothing sent and nothing left to write: settled already, left failed, a test lead discarded."""

    why: str

    def __str__(self) -> str:
        return self.why


Outcome = Delivered | Duplicate | Deferred | Retry | RetryWithoutId | Failed | Busy | Skipped
# The endings after which the submission's run happens again, ``delay`` seconds later.
RunsAgain = Busy | Retry | RetryWithoutId


def plan(run: Run) -> Skipped | Duplicate | Upsert:
    """Before the call: nothing to do, a duplicate of what Rotor has, or the upsert to send."""
    state, person = run.state, run.person
    if state.status in SETTLED:
        return Skipped(f"already {state.status.value}")
    body = merge([member.piece for member in run.members])
    replay = any(member.state.replay for member in run.members)
    # Compared with the notes Rotor holds from us: it replaces them on every update that has any.
    if person.delivered and not replay and is_covered(body, {**person.delivered, "notes": person.notes}):
        return Duplicate(person.delivered_by, person.lead_id)
    body = upsert_body(body, person.notes, person.lost)
    if person.lead_id and "id" not in body:
        body = {"id": person.lead_id, **body}
    return Upsert(body)


def after_failure(
    error: DeliveryError, verdict: Decision, *, window: Window, now: datetime, probe_seconds: int
) -> Deferred | Retry | RetryWithoutId | Failed:
    """What the retry policy's ``verdict`` on ``error`` comes to.

    ``window``: the quota window the request was counted in; ``probe_seconds``: how long a paused
    account waits for its next probe.
    """
    if verdict.action is Action.WAIT_FOR_QUOTA:
        # The window the request was counted in: a refusal that arrives just after the reset
        # must not mark the new day exhausted (nor defer everything to the day after).
        return Deferred(window.resets_at, f"Rotor says the quota is spent: {error.message}", exhausts=window)
    if verdict.action is Action.PAUSE_ACCOUNT:
        until = now + timedelta(seconds=probe_seconds)
        return Deferred(until, f"account paused: {error.message}", pauses_account=error.message)
    if verdict.action is Action.RETRY_WITHOUT_ID:
        return RetryWithoutId()
    if verdict.action is Action.RETRY:
        return Retry(verdict.delay, error.message)
    return Failed(error.message, error.error_class, error)
