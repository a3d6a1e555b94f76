"""Who a lead is: identity keys, person ids, and fingerprints for idempotency.

A person is linked by either key: the E.164 phone or the normalised email, within one Rotor
account (two client companies never share people). A submission whose phone belongs to one known
person and email to another proves they are one: the email's person is folded into the phone's
(Rotor's upsert matches the phone first too, destinations.md §1.3). Its waiting submissions join
the phone's person, it adopts the Rotor lead id if the phone's person has none, and the folded id
points at the survivor for any job or identity key still holding it: an id is followed along its
folds to the person it is now before anything is compared or folded. If both already had a Rotor
lead, those are two leads in Rotor and stay so: Rotor has no merge, and the phone's lead receives
later updates.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping
from typing import Any

from redis import Redis
from redis.client import Pipeline

from core.store import keys, scripts
from core.store.connection import text

# A fold chain is short; the bound only guards against a cycle.
MAX_FOLDS = 10
# What the scripts that follow or make folds (lua/current_person.lua, lua/resolve_person.lua) build the
# persons' keys from, and the fields a fold carries to the survivor with its lead id.
PERSONS = {
    "prefix": keys.PERSON_PREFIX,
    "pending": keys.PERSON_PENDING_SUFFIX,
    "folded_into": keys.PERSON_FOLDED_INTO_SUFFIX,
    "held": list(keys.PERSON_HELD_FIELDS),
    "max_folds": MAX_FOLDS,
}
PERSONS_JSON = json.dumps(PERSONS, separators=(",", ":"))


class PersonIndex:
    """Phone and email to person. The keys hold PII, so they live as long as the retention period,
    refreshed by every submission of the person."""

    def __init__(self, connection: Redis, *, ttl_seconds: int) -> None:
        self._resolve = scripts.register(connection, "identity_resolve")
        self.ttl_seconds = ttl_seconds

    def resolve(self, account: str, lead: Mapping[str, Any]) -> str | None:
        """The person id for ``lead``'s phone or email, created if neither is known; None without either."""
        identity_keys = self.identity_keys(account, lead)
        if not identity_keys:
            return None
        return text(self._resolve(keys=identity_keys, args=[secrets.token_hex(8), self.ttl_seconds, PERSONS_JSON]))

    def wait_with(self, person_id: str, submission_id: str, *, pipeline: Pipeline) -> None:
        """On the person's pending list, kept as long as the person is: its delivery merges it with
        the person's other waiting submissions."""
        pipeline.rpush(keys.person_pending(person_id), submission_id)
        pipeline.expire(keys.person_pending(person_id), self.ttl_seconds)

    @staticmethod
    def identity_keys(account: str, lead: Mapping[str, Any]) -> list[str]:
        """The keys of ``lead``'s phone and email, phone first (Rotor matches the phone first too)."""
        return [keys.identity(account, kind, lead[kind]) for kind in ("phone", "email") if lead.get(kind)]


def current_person(connection: Redis, person_id: str) -> str:
    """The person a (possibly folded) person id is now: lua/current_person.lua's walk, from Python."""
    for _ in range(MAX_FOLDS):
        folded_into = connection.get(keys.person_folded_into(person_id))
        if folded_into is None:
            return person_id
        person_id = text(folded_into)
    return person_id


def fingerprint(lead: Mapping[str, Any]) -> str:
    """A stable hash of a normalised lead: the same content submitted twice has the same one."""
    canonical = json.dumps(lead, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def content_id(payload: Any) -> str:
    """The idempotency id of what a sender posted with no id of its own that can be read: its
    content, so a resend of the same body is a duplicate of the first."""
    return f"unreadable:{fingerprint(payload)}"
