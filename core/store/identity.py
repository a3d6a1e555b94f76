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

from core.store import keys

# resolve(identity keys present, phone first; a new person id; the TTL; the key prefix of persons)
# returns the person id. Key names are built from the prefix for the folds only. Intake's script
# (core.store.intake) calls it too.
# Every id an identity key holds is first followed along its folds to the person it is now: a key
# set before its person was folded still names the old id, and comparing or folding that stale id
# would re-point it (and split the person it was folded into from the one it is now proved to be).
# current(the key prefix of persons, a person id) follows the id's folds to the person it is now;
# core.store.people's settle scripts use it too.
CURRENT_FUNCTION = """
local function current(prefix, person)
  for _ = 1, 10 do  -- a fold chain is short; the bound only guards against a cycle
    local folded = redis.call('GET', prefix .. person .. ':folded_into')
    if not folded then break end
    person = folded
  end
  return person
end
"""
RESOLVE_FUNCTION = (
    CURRENT_FUNCTION
    + """
local function resolve(identity_keys, new_person, ttl, prefix)
  local person = nil
  local known = {}
  for i, key in ipairs(identity_keys) do
    known[i] = redis.call('GET', key)
    if known[i] then known[i] = current(prefix, known[i]) end
    if known[i] and not person then person = known[i] end
  end
  person = person or new_person
  for i, key in ipairs(identity_keys) do
    -- Follow again: an earlier fold in this loop may have folded this one's person already.
    local other = known[i] and current(prefix, known[i])
    if other and other ~= person then
      local from, into = prefix .. other, prefix .. person
      -- One by one: unpack() of a long list would fail the script halfway (scripts do not roll back).
      while redis.call('LMOVE', from .. ':pending', into .. ':pending', 'LEFT', 'RIGHT') do end
      local lead_id = redis.call('HGET', from, 'lead_id')
      -- '' is a delivery whose answer named no lead (core.rotor.UpsertResult): nothing to adopt.
      if lead_id and lead_id ~= '' and redis.call('HSETNX', into, 'lead_id', lead_id) == 1 then
        -- What that lead holds from us comes with it (core.store.people's record fields), so the next
        -- update keeps its notes and dedup knows what it has.
        for _, field in ipairs({'notes', 'delivered', 'delivered_at', 'delivered_by'}) do
          local value = redis.call('HGET', from, field)
          if value then redis.call('HSETNX', into, field, value) end
        end
        redis.call('EXPIRE', into, ttl)  -- the survivor may have had no record yet: none lives forever
      end
      -- What a lead Rotor lost held from us (it has no lead id then) is sent with the survivor's next upsert.
      local lost = redis.call('HGET', from, 'lost')
      if lost and not redis.call('HGET', into, 'lead_id') and redis.call('HSETNX', into, 'lost', lost) == 1 then
        redis.call('EXPIRE', into, ttl)
      end
      redis.call('SET', from .. ':folded_into', person, 'EX', ttl)
    end
    redis.call('SET', key, person, 'EX', ttl)
  end
  return person
end
"""
)
RESOLVE_SCRIPT = RESOLVE_FUNCTION + "return resolve(KEYS, ARGV[1], ARGV[2], ARGV[3])"


class PersonIndex:
    """Phone and email to person. The keys hold PII, so they live as long as the retention period,
    refreshed by every submission of the person."""

    def __init__(self, connection: Redis, *, ttl_seconds: int) -> None:
        self._resolve = connection.register_script(RESOLVE_SCRIPT)
        self.ttl_seconds = ttl_seconds

    def resolve(self, account: str, lead: Mapping[str, Any]) -> str | None:
        """The person id for ``lead``'s phone or email, created if neither is known; None without either."""
        identity_keys = self.identity_keys(account, lead)
        if not identity_keys:
            return None
        return _text(self._resolve(keys=identity_keys, args=[secrets.token_hex(8), self.ttl_seconds, keys.person("")]))

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
    """The person a (possibly folded) person id is now: ``CURRENT_FUNCTION``'s walk, from Python."""
    for _ in range(10):  # a fold chain is short; the bound only guards against a cycle
        folded_into = connection.get(keys.person_folded_into(person_id))
        if folded_into is None:
            return person_id
        person_id = folded_into.decode()
    return person_id


def _text(value: bytes | str | int) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def fingerprint(lead: Mapping[str, Any]) -> str:
    """A stable hash of a normalised lead: the same content submitted twice has the same one."""
    canonical = json.dumps(lead, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]
