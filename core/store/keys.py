"""Every Redis key leadgate writes, built in one place.

RQ's own keys (``rq:*``) belong to RQ; everything of ours lives under ``leadgate:``.
"""

from __future__ import annotations

PREFIX = "leadgate"
DELIVERY_QUEUE = "deliveries"
# Deferred deliveries come back here; workers take fresh leads first (speed-to-lead).
BACKLOG_QUEUE = "backlog"
# List: ids of fresh submissions (queued, or announced and not yet read) that no job has taken
# yet. Intake appends in the same script that stores the record; a drain job (workers.batch)
# takes them in batches, so a lead costs intake no RQ job of its own.
INBOX = f"{PREFIX}:inbox"
# String with a TTL: a drain job is queued and has not started; whoever sets it enqueues one.
DRAIN_PENDING = f"{PREFIX}:drain-pending"
# Sorted set: ids of failed submissions, scored by when they failed; what `leadgate failed list` reads.
FAILED_INDEX = f"{PREFIX}:failed"
# Sorted set: ids of submissions waiting for delivery in a job (not in the inbox), scored by when
# they last changed or were last checked; the workers' sweep (workers.recovery) walks it to find
# any whose job is gone.
WAITING_INDEX = f"{PREFIX}:waiting"
# String with a TTL: held by the worker sweeping the waiting index this maintenance interval.
SWEEP_LOCK = f"{PREFIX}:sweep-lock"


# A submission's record is SUBMISSION_PREFIX + its id; a script that finds ids (the inbox's take,
# intake's idempotency claim) builds their keys from it, passed as an argument.
SUBMISSION_PREFIX = f"{PREFIX}:submission:"
# A person's keys are PERSON_PREFIX + the person id (+ a suffix). A person id is found by following
# folds, so the scripts that follow or make folds build these keys from the pieces, passed as an
# argument (``core.store.identity.PERSONS``); the functions below build them the same way.
PERSON_PREFIX = f"{PREFIX}:person:"
PERSON_PENDING_SUFFIX = ":pending"
PERSON_FOLDED_INTO_SUFFIX = ":folded_into"


def submission(submission_id: str) -> str:
    """Hash: one submission's record (status, raw payload, Rotor body, lead id, timestamps)."""
    return SUBMISSION_PREFIX + submission_id


def submission_events(submission_id: str) -> str:
    """List: the submission's history, status changes and delivery attempts, oldest first."""
    return f"{submission(submission_id)}:events"


def batch(job_id: str) -> str:
    """List: the submissions a drain job took from the inbox, for its failure callback; deleted when
    the run ends or the callback has run (TTL: the retention period)."""
    return f"{PREFIX}:batch:{job_id}"


def rate_limit(scope: str, per: str, value: str) -> str:
    """String with a TTL of one window: submissions counted against one limit (``per``: its rate)."""
    return f"{PREFIX}:limits:{scope}:{per}:{value}"


def quota(account: str, window: str) -> str:
    """Hash: requests spent on ``account`` in the quota window starting ``window``; ``exhausted`` once Rotor says so."""
    return f"{PREFIX}:quota:{account}:{window}"


def account_paused(account: str) -> str:
    """String: why delivery for ``account`` is paused (Rotor refused its key); absent when running."""
    return f"{PREFIX}:account:{account}:paused"


def account_probe(account: str) -> str:
    """String with a TTL: held by the one job allowed to try a paused account's key again."""
    return f"{PREFIX}:account:{account}:probe"


def account_deferred(account: str) -> str:
    """Set: ids of ``account``'s submissions waiting for the quota to reset or the pause to lift."""
    return f"{PREFIX}:account:{account}:deferred"


def identity(account: str, kind: str, value: str) -> str:
    """String: the person id a normalised phone or email belongs to, within one Rotor account."""
    return f"{PREFIX}:identity:{account}:{kind}:{value}"


def idempotency(source: str, key: str) -> str:
    """String with a TTL: the first submission that carried this platform id or content fingerprint."""
    return f"{PREFIX}:idempotency:{source}:{key}"


def person(person_id: str) -> str:
    """Hash: the person's Rotor ``lead_id``, what Rotor holds from us (``delivered``, ``delivered_by``,
    ``delivered_at``; ``notes``, kept past the dedup window), and ``lost``: what a lead Rotor no longer
    has held from us, to send again (``core.store.people``)."""
    return PERSON_PREFIX + person_id


# The person hash's fields (``person``). What its Rotor lead holds from us goes with the lead id when
# a fold gives that lead to the survivor (``lua/resolve_person.lua``, passed these names).
PERSON_HELD_FIELDS = ("notes", "delivered", "delivered_at", "delivered_by")
PERSON_FIELDS = ("lead_id", *PERSON_HELD_FIELDS, "lost")


def person_pending(person_id: str) -> str:
    """List: ids of the person's submissions not yet settled, merged into one upsert when delivered."""
    return person(person_id) + PERSON_PENDING_SUFFIX


def person_folded_into(person_id: str) -> str:
    """String: the person this one turned out to be (one submission linked their phone and email)."""
    return person(person_id) + PERSON_FOLDED_INTO_SUFFIX


def person_backoff(person_id: str) -> str:
    """String with a TTL: the submission whose retry after a transient Rotor failure is due for this
    person; until it expires the person's other runs wait instead of calling Rotor (workers.deliver)."""
    return f"{person(person_id)}:backoff"


def person_lock(person_id: str) -> str:
    """String with a TTL: held by the one worker delivering this person right now."""
    return f"{person(person_id)}:lock"


METRICS_COUNTERS = f"{PREFIX}:metrics:counters"
"""Hash: every counter of every process, field ``name|label=value,...``; read by ``/metrics``."""


def metrics_histogram(name: str) -> str:
    """Hash: one histogram's bucket counts (field = upper bound), ``sum`` and ``count``."""
    return f"{PREFIX}:metrics:histogram:{name}"
