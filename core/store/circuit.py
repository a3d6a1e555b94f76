"""Paused accounts: when Rotor refuses an account's key (401/403), stop calling with it.

Every job of a paused account waits instead of failing (the key is fixed by a person, and the
leads must survive that), and one job at a time, at most every ``probe_seconds``, is let through
as a probe; its success resumes the account.
"""

from __future__ import annotations

from redis import Redis

from core.store import keys
from core.store.connection import text


class AccountCircuit:
    def __init__(self, connection: Redis, *, probe_seconds: int = 300) -> None:
        self.connection = connection
        self.probe_seconds = probe_seconds

    def paused_reason(self, account: str) -> str | None:
        reason = self.connection.get(keys.account_paused(account))
        return text(reason) if reason is not None else None

    def pause(self, account: str, reason: str) -> None:
        # The failing call counts as this period's probe: the next one is due in probe_seconds.
        with self.connection.pipeline() as pipe:
            pipe.set(keys.account_paused(account), reason)
            pipe.set(keys.account_probe(account), "1", ex=self.probe_seconds)
            pipe.execute()

    def resume(self, account: str) -> None:
        self.connection.delete(keys.account_paused(account), keys.account_probe(account))

    def claim_probe(self, account: str) -> bool:
        """True for the one caller allowed to try the paused account now."""
        return bool(self.connection.set(keys.account_probe(account), "1", nx=True, ex=self.probe_seconds))

    def seconds_to_next_probe(self, account: str) -> int:
        return max(1, int(self.connection.ttl(keys.account_probe(account))))
