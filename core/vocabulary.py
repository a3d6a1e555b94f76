"""The words leadgate's records, answers and commands share, defined once.

A submission's status is the public interface's (``GET /v1/submissions/<id>``); the named sets say
which statuses a piece of code treats alike, so no module keeps a copy of its own. An error class
is what ``leadgate failed list --error-class`` filters on.
"""

from __future__ import annotations

from enum import StrEnum


class SubmissionStatus(StrEnum):
    """Where a submission stands; the values are the public interface's."""

    RECEIVED = "received"  # stored, not yet handed to delivery
    QUEUED = "queued"  # waiting for a worker, or for a retry after a transient failure
    DELIVERED = "delivered"  # Rotor answered 2xx; lead_id is set unless neither answer nor request named one
    DUPLICATE = "duplicate"  # the same lead as an earlier submission; nothing sent
    DEFERRED = "deferred"  # waiting for the Rotor quota to reset
    FAILED = "failed"  # will not be retried on its own; replayable by ops
    DISCARDED = "discarded"  # dropped on purpose (honeypot, ops decision)


# Records in these states expire after the retention period; waiting ones are kept until settled.
FINAL = frozenset(
    {SubmissionStatus.DELIVERED, SubmissionStatus.DUPLICATE, SubmissionStatus.DISCARDED, SubmissionStatus.FAILED}
)
# The inbox or a job of RQ's is meant to carry each of these on (keys.INBOX, keys.WAITING_INDEX).
WAITING = frozenset({SubmissionStatus.RECEIVED, SubmissionStatus.QUEUED, SubmissionStatus.DEFERRED})
# Nothing more is sent for these: a delivery run that finds one spends nothing.
SETTLED = frozenset({SubmissionStatus.DELIVERED, SubmissionStatus.DUPLICATE, SubmissionStatus.DISCARDED})
# An announced lead (Meta, LinkedIn) is read from its platform while in these.
UNREAD = frozenset({SubmissionStatus.RECEIVED, SubmissionStatus.QUEUED})
# A person's upsert carries these along with the submission it runs for; a failed one waits for an operator.
JOINABLE = frozenset({SubmissionStatus.QUEUED, SubmissionStatus.DEFERRED})


class ErrorClass(StrEnum):
    """Why a submission failed, as ``leadgate failed list --error-class`` and the ops API filter it."""

    UNAVAILABLE = "unavailable"  # Rotor or a platform's read could not be reached, past the retries
    REJECTED = "rejected"  # Rotor refused the lead's content (4xx with field errors)
    AUTH = "auth"  # Rotor refused the account's key
    NOT_FOUND = "not_found"  # Rotor has no lead by the id sent
    QUOTA = "quota"  # Rotor's daily request budget refused it
    READ_REFUSED = "read_refused"  # the platform refused the lead read (token, permission, no such lead)
    INVALID_LEAD = "invalid_lead"  # what arrived cannot make a deliverable lead
    CRASHED = "crashed"  # delivery runs kept ending in an exception, past the retries
