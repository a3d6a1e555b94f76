"""What a delivery job needs besides Redis: config, Rotor clients, budgets, the retry policy.

Built once per worker process and reused by every job it runs, so each account's connection pool
to Rotor stays warm. ``leadgate worker`` installs it at start, after the config has been checked;
a job run by another RQ worker (``rq worker`` pointed at the same queues) builds it from the
environment on first use.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx

from core import metrics
from core.config import Config
from core.errors import ConfigError
from core.rotor import RotorClient
from core.sources.common import PlatformLeadSchema
from core.sources.registry import schema_for
from core.sources.source import SourceConfig
from core.store.quota import Budget
from workers.reads import LeadReader
from workers.retry import RetryPolicy

_installed: DeliveryContext | None = None


@dataclass
class DeliveryContext:
    config: Config
    retry_policy: RetryPolicy
    _clients: dict[str, RotorClient] = field(default_factory=dict)
    _reader: LeadReader | None = None
    _schemas: dict[str, PlatformLeadSchema] = field(default_factory=dict)
    # Intake-to-Rotor time, written to the shared histogram at most once a second (a round trip
    # per delivery otherwise); what is buffered is written on close.
    delivery_latency: metrics.ObservationBuffer = field(
        default_factory=lambda: metrics.ObservationBuffer("leadgate_delivery_seconds")
    )

    @classmethod
    def from_config(cls, config: Config) -> DeliveryContext:
        for name in config.account_names():
            account = config.account(name)
            if not account.api_key:
                raise ConfigError(
                    f"{account.api_key_env}: required by the worker for account {name!r}"
                    " (the run command sets the sandbox's key)"
                )
        policy = RetryPolicy(config.retry_max_attempts, config.retry_base_seconds, config.retry_max_seconds)
        return cls(config=config, retry_policy=policy)

    def rotor(self, account: str) -> RotorClient:
        """The account's client, created on first use and kept for the life of the process."""
        if account not in self._clients:
            api_key = self.config.account(account).api_key
            assert api_key, "checked in from_config"
            timeout = httpx.Timeout(self.config.rotor_timeout_seconds, connect=3.0)
            self._clients[account] = RotorClient(self.config.rotor_base_url, api_key, timeout=timeout)
        return self._clients[account]

    @property
    def reader(self) -> LeadReader:
        """The platform lead reader (Meta Graph, LinkedIn), created on first use."""
        if self._reader is None:
            self._reader = LeadReader()
        return self._reader

    def schema(self, source: SourceConfig) -> PlatformLeadSchema:
        """The source's lead schema, built on first use: lead reads load every announced lead through it."""
        if source.name not in self._schemas:
            self._schemas[source.name] = schema_for(source, phone_region=self.config.default_phone_region)
        return self._schemas[source.name]

    def budget(self, account: str) -> Budget:
        return Budget.for_account(self.config, account)

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()
        if self._reader is not None:
            self._reader.close()
            self._reader = None


def install(context: DeliveryContext | None) -> None:
    """Make ``context`` the one jobs in this process use (None removes it)."""
    global _installed
    _installed = context


def current() -> DeliveryContext:
    """The installed context, or one built from the environment on first use."""
    if _installed is None:
        install(DeliveryContext.from_config(Config.from_env()))
    assert _installed is not None
    return _installed
