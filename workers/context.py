"""What a delivery job needs besides Redis: config, the Rotor client, the retry policy.

Built once per worker process and reused by every job it runs, so the HTTP connection pool to
Rotor stays warm. ``leadgate worker`` installs it at start, after the config has been checked;
a job run by another RQ worker (``rq worker`` pointed at the same queue) builds it from the
environment on first use.
"""

from __future__ import annotations

from dataclasses import dataclass

from service.config import Config
from service.errors import ConfigError
from workers.retry import RetryPolicy
from workers.rotor import RotorClient

_installed: DeliveryContext | None = None


@dataclass
class DeliveryContext:
    config: Config
    rotor: RotorClient
    retry_policy: RetryPolicy

    @classmethod
    def from_config(cls, config: Config) -> DeliveryContext:
        if not config.rotor_api_key:
            raise ConfigError("ROTOR_API_KEY: required by the worker (the run command sets the sandbox's key)")
        return cls(
            config=config,
            rotor=RotorClient(config.rotor_base_url, config.rotor_api_key),
            retry_policy=RetryPolicy(
                max_attempts=config.retry_max_attempts,
                base_seconds=config.retry_base_seconds,
                max_seconds=config.retry_max_seconds,
            ),
        )

    def close(self) -> None:
        self.rotor.close()


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
