"""Every Redis key leadgate writes, built in one place.

RQ's own keys (``rq:*``) belong to RQ; everything of ours lives under ``leadgate:``.
"""

from __future__ import annotations

PREFIX = "leadgate"
DELIVERY_QUEUE = "deliveries"


def submission(submission_id: str) -> str:
    """Hash: one submission's record (status, raw payload, Rotor body, lead id, timestamps)."""
    return f"{PREFIX}:submission:{submission_id}"


def submission_events(submission_id: str) -> str:
    """List: the submission's history, status changes and delivery attempts, oldest first."""
    return f"{PREFIX}:submission:{submission_id}:events"
