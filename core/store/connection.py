"""The Redis client both processes use: short timeouts so an outage is an answer, not a hang."""

from __future__ import annotations

from redis import Redis

SOCKET_TIMEOUT_SECONDS = 2.0


def connect(redis_url: str) -> Redis:
    """A client for ``redis_url``; it connects lazily, on first use."""
    return Redis.from_url(
        redis_url,
        socket_timeout=SOCKET_TIMEOUT_SECONDS,
        socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
        health_check_interval=30,
    )


def text(raw: bytes | str) -> str:
    """A reply as text: this client answers bytes (no ``decode_responses``), redis-py types it ``bytes | str``."""
    return raw.decode() if isinstance(raw, bytes) else raw
