"""Durable intake: a submission and its delivery job reach Redis together, or the caller hears 503.

This is the line no lead crosses without being stored: every source (website forms, ad-platform
webhooks) ends here before anything answers 2xx. The record and the RQ job are written in one
MULTI/EXEC transaction, a single round trip, so there is never a job without its record or a
stored submission that no worker will pick up.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import redis
from rq import Queue

from service import keys
from service.config import Config
from service.errors import StoreUnavailable
from service.jobs import enqueue_delivery
from service.submissions import SubmissionStatus, SubmissionStore, new_submission_id

log = logging.getLogger(__name__)


@dataclass
class Intake:
    """The web process's handles on Redis; lives in ``app.extensions['leadgate']``."""

    config: Config
    connection: redis.Redis
    queue: Queue
    submissions: SubmissionStore
    form_schemas: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: Config, connection: redis.Redis) -> Intake:
        return cls(
            config=config,
            connection=connection,
            queue=Queue(keys.DELIVERY_QUEUE, connection=connection),
            submissions=SubmissionStore(connection),
        )

    def accept(self, *, source: str, raw: dict[str, Any], lead: dict[str, Any], account: str = "default") -> str:
        """Store the submission and enqueue its delivery; return its id."""
        return self._store(source=source, raw=raw, lead=lead, account=account, status=SubmissionStatus.QUEUED)

    def discard(self, *, source: str, raw: dict[str, Any], reason: str) -> str:
        """Keep a submission that will not be delivered (a bot caught by the honeypot), for the record."""
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
    ) -> str:
        submission_id = new_submission_id()
        try:
            with self.connection.pipeline(transaction=True) as pipe:
                pipe.multi()  # explicit, as RQ's enqueue expects of a caller's pipeline
                self.submissions.create(
                    submission_id, source=source, raw=raw, lead=lead, account=account, status=status, note=note,
                    pipeline=pipe,
                )  # fmt: skip
                if status is SubmissionStatus.QUEUED:
                    enqueue_delivery(self.queue, submission_id, pipeline=pipe)
                pipe.execute()
        except redis.RedisError as exc:
            log.error("intake: cannot store a %s submission: %s", source, exc)
            raise StoreUnavailable("Cannot store the submission right now; please try again shortly.") from exc
        return submission_id
