"""Durable intake: a submission and its delivery job reach Redis together, or the caller hears 503.

This is the line no lead crosses without being stored: every source (website forms, ad-platform
webhooks) ends here before anything answers 2xx. The record and the RQ job are written in one
MULTI/EXEC transaction, so there is never a job without its record or a stored submission that no
worker will pick up. Before it, one script claims the idempotency key and resolves the person
(``PersonIndex.claim``): two round trips in all.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import redis
from rq import Queue

from service import keys, logs, metrics
from service.captcha import CaptchaChecker
from service.config import Config
from service.errors import StoreUnavailable
from service.identity import PersonIndex, fingerprint
from service.jobs import enqueue_delivery
from service.submissions import SubmissionStatus, SubmissionStore, new_submission_id

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
    people: PersonIndex
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
            people=PersonIndex(connection, ttl_seconds=config.retention_seconds),
        )

    def accept(
        self,
        *,
        source: str,
        raw: dict[str, Any],
        lead: dict[str, Any],
        account: str = "default",
        platform_id: str | None = None,
    ) -> str:
        """Store the submission and enqueue its delivery; return its id.

        A redelivery (same ``platform_id`` from the same source, or for sources without one the
        same normalised content within the dedup window) is stored as ``duplicate`` of the first
        and gets no job.
        """
        if platform_id is not None:
            idempotency = (keys.idempotency(source, platform_id), PLATFORM_ID_TTL_SECONDS)
        else:
            idempotency = (keys.idempotency(source, fingerprint(lead)), self.config.dedup_window_seconds)
        return self._store(
            source=source, raw=raw, lead=lead, account=account, status=SubmissionStatus.QUEUED, idempotency=idempotency
        )

    def accept_unread(self, *, source: str, raw: dict[str, Any], read_ref: str, account: str, platform_id: str) -> str:
        """Store a lead the platform only announced (Meta, LinkedIn); the delivery job reads it first."""
        idempotency = (keys.idempotency(source, platform_id), PLATFORM_ID_TTL_SECONDS)
        return self._store(
            source=source, raw=raw, lead=None, account=account, status=SubmissionStatus.RECEIVED,
            idempotency=idempotency, read_ref=read_ref,
        )  # fmt: skip

    def reject(self, *, source: str, raw: dict[str, Any], reason: str, account: str, platform_id: str) -> str:
        """Store a platform's lead that cannot be delivered as it is (``failed``, replayable once fixed)."""
        idempotency = (keys.idempotency(source, platform_id), PLATFORM_ID_TTL_SECONDS)
        return self._store(
            source=source, raw=raw, lead=None, account=account, status=SubmissionStatus.FAILED, note=reason,
            idempotency=idempotency,
        )  # fmt: skip

    def discard(self, *, source: str, raw: dict[str, Any], reason: str) -> str:
        """Keep a submission that will not be delivered (a honeypot bot, a platform's test lead), for the record."""
        return self._store(source=source, raw=raw, lead=None, status=SubmissionStatus.DISCARDED, note=reason)

    def _store(
        self,
        *,
        source: str,
        raw: dict[str, Any],
        lead: dict[str, Any] | None,
        status: SubmissionStatus,
        account: str = "default",
        note: str | None = None,
        idempotency: tuple[str, int] | None = None,
        read_ref: str | None = None,
    ) -> str:
        submission_id = new_submission_id()
        record = {"source": source, "raw": raw, "lead": lead, "account": account}
        queued = status in (SubmissionStatus.QUEUED, SubmissionStatus.RECEIVED)
        try:
            first = person = None
            if idempotency is not None:  # then the record and its job in one MULTI/EXEC: two round trips
                first, person = self.people.claim(idempotency, submission_id, account, lead if queued else None)
            with self.connection.pipeline(transaction=True) as pipe:
                pipe.multi()  # before any command: RQ's enqueue calls multi() on a pipeline not yet in one
                if first is not None:
                    self.submissions.create(
                        submission_id, **record, status=SubmissionStatus.DUPLICATE, duplicate_of=first,
                        note=f"redelivery of {first}", pipeline=pipe,
                    )  # fmt: skip
                    metrics.count(pipe, "leadgate_submissions_total", source=source, status="duplicate")
                    pipe.execute()
                    return submission_id
                failed = status is SubmissionStatus.FAILED
                self.submissions.create(
                    submission_id, **record, status=status, person=person, note=note, read_ref=read_ref,
                    error=note if failed else None, error_class="invalid_lead" if failed else None, pipeline=pipe,
                )  # fmt: skip
                metrics.count(pipe, "leadgate_submissions_total", source=source, status=status.value)
                if queued:
                    if person is not None:
                        pipe.rpush(keys.person_pending(person), submission_id)
                    enqueue_delivery(self.queue, submission_id, self.config, pipeline=pipe)
                pipe.execute()
            with logs.bound(submission_id=submission_id, source=source):
                log.info("stored as %s", status.value)
            return submission_id
        except redis.RedisError as exc:
            log.error("intake: cannot store a %s submission: %s", source, exc)
            raise StoreUnavailable("Cannot store the submission right now; please try again shortly.") from exc
