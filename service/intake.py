"""Durable intake: a submission reaches Redis, on its way to delivery, or the caller hears 503.

This is the line no lead crosses without being stored: every source (website forms, ad-platform
webhooks) ends here before anything answers 2xx. One script (``core.store.intake``) counts
the rate limits, claims the idempotency key, resolves the person, and stores the record with its
place on the inbox, in one step and one round trip. A worker's drain job takes it from there;
when none is waiting, the script says so and intake queues one (a second round trip, once per
batch of posts rather than once per post).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import redis
from rq import Queue

from core import logs, metrics
from core.config import Config
from core.errors import RateLimited, StoreUnavailable
from core.store import keys
from core.store.identity import PersonIndex, fingerprint
from core.store.intake import IntakeScript, Limit, Refused
from core.store.jobs import queue_drain
from core.store.submissions import SubmissionStore, new_record, new_submission_id, utc_now
from core.vocabulary import ErrorClass, SubmissionStatus
from service.captcha import CaptchaChecker
from service.limits import FormLimits

log = logging.getLogger(__name__)

# Platforms redeliver for up to 72 h (TikTok; Meta 36 h); a week covers them all.
PLATFORM_ID_TTL_SECONDS = 7 * 24 * 3600
INTAKE_SECONDS = "leadgate_intake_seconds"


@dataclass
class Intake:
    """The web process's handles on Redis; lives in ``app.extensions['leadgate']``."""

    config: Config
    connection: redis.Redis
    queue: Queue
    submissions: SubmissionStore
    script: IntakeScript
    form_limits: FormLimits
    captcha: CaptchaChecker = field(default_factory=CaptchaChecker)
    form_schemas: dict[str, Any] = field(default_factory=dict)
    source_schemas: dict[str, Any] = field(default_factory=dict)
    latency: metrics.ObservationBuffer = field(default_factory=lambda: metrics.ObservationBuffer(INTAKE_SECONDS))

    @classmethod
    def from_config(cls, config: Config, connection: redis.Redis) -> Intake:
        return cls(
            config=config,
            connection=connection,
            queue=Queue(keys.DELIVERY_QUEUE, connection=connection),
            submissions=SubmissionStore(connection, retention_seconds=config.retention_seconds),
            script=IntakeScript(
                connection, retention_seconds=config.retention_seconds, person_ttl_seconds=config.retention_seconds
            ),
            form_limits=FormLimits(config),
        )

    def accept(
        self,
        *,
        source: str,
        raw: dict[str, Any],
        lead: dict[str, Any],
        account: str = "default",
        platform_id: str | None = None,
        limits: Sequence[Limit] = (),
    ) -> str:
        """Store the submission on its way to delivery; return its id.

        A redelivery (same ``platform_id`` from the same source, or for sources without one the
        same normalised content within the dedup window) is stored as ``duplicate`` of the first
        and goes no further. A post over one of ``limits`` is refused (``RateLimited``), unstored.
        """
        idempotency: tuple[str, int] | None = None
        if platform_id is not None:
            idempotency = (keys.idempotency(source, platform_id), PLATFORM_ID_TTL_SECONDS)
        elif self.config.dedup_window_seconds:  # 0 turns the content check off (Redis has no 0-second key)
            idempotency = (keys.idempotency(source, fingerprint(lead)), self.config.dedup_window_seconds)
        return self._store(
            SubmissionStatus.QUEUED, source, raw, lead=lead, account=account, idempotency=idempotency, limits=limits
        )

    def accept_unread(self, *, source: str, raw: dict[str, Any], read_ref: str, account: str, platform_id: str) -> str:
        """Store a lead the platform only announced (Meta, LinkedIn); the delivery job reads it first."""
        idempotency = (keys.idempotency(source, platform_id), PLATFORM_ID_TTL_SECONDS)
        return self._store(
            SubmissionStatus.RECEIVED, source, raw, account=account, idempotency=idempotency, read_ref=read_ref
        )

    def reject(
        self,
        *,
        source: str,
        raw: dict[str, Any],
        reason: str,
        account: str,
        platform_id: str,
        limits: Sequence[Limit] = (),
    ) -> str:
        """Store a lead that cannot be delivered as it is (``failed``, replayable once fixed)."""
        idempotency = (keys.idempotency(source, platform_id), PLATFORM_ID_TTL_SECONDS)
        return self._store(
            SubmissionStatus.FAILED, source, raw, account=account, note=reason, idempotency=idempotency, limits=limits
        )

    def discard(self, *, source: str, raw: dict[str, Any], reason: str, limits: Sequence[Limit] = ()) -> str:
        """Keep a submission that will not be delivered (a honeypot bot, a platform's test lead), for the record."""
        return self._store(SubmissionStatus.DISCARDED, source, raw, note=reason, limits=limits)

    def count(self, limits: Sequence[Limit]) -> None:
        """Count a post against ``limits`` now, before work a flood must not reach; ``RateLimited`` if over."""
        try:
            refused = self.script.count(limits)
        except redis.RedisError as exc:
            log.error("intake: cannot count rate limits: %s", exc)
            raise StoreUnavailable("Cannot take submissions right now; please try again shortly.") from exc
        if refused is not None:
            raise _rate_limited(refused)

    def _store(
        self,
        status: SubmissionStatus,
        source: str,
        raw: dict[str, Any],
        *,
        lead: dict[str, Any] | None = None,
        account: str = "default",
        note: str | None = None,
        idempotency: tuple[str, int] | None = None,
        read_ref: str | None = None,
        limits: Sequence[Limit] = (),
    ) -> str:
        submission_id = new_submission_id()
        failed = status is SubmissionStatus.FAILED
        record = new_record(
            submission_id,
            source=source,
            raw=raw,
            lead=lead,
            status=status,
            account=account,
            at=utc_now(),
            read_ref=read_ref,
            error=note if failed else None,
            error_class=ErrorClass.INVALID_LEAD if failed else None,
        )
        identity_keys = PersonIndex.identity_keys(account, lead) if lead and status is SubmissionStatus.QUEUED else []
        try:
            outcome = self.script.store(
                record, note=note, idempotency=idempotency, identity_keys=identity_keys, limits=limits
            )
        except redis.RedisError as exc:
            log.error("intake: cannot store a %s submission: %s", source, exc)
            raise StoreUnavailable("Cannot store the submission right now; please try again shortly.") from exc
        if isinstance(outcome, Refused):
            raise _rate_limited(outcome)
        if outcome.drain_wanted:
            queue_drain(self.queue, self.config)
        with logs.bound(submission_id=submission_id, source=source):
            log.info("stored as %s", outcome.status.value)
        return submission_id


def _rate_limited(refused: Refused) -> RateLimited:
    return RateLimited(
        f"Too many submissions: the limit is {refused.limit}. Please try again later.", retry_after=refused.retry_after
    )
