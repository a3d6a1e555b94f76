"""Structured logs: one JSON object a line, carrying the submission id and source it concerns.

Web and worker bind ``submission_id`` and ``source`` for the work at hand (``bound``), so one
lead can be followed from intake to Rotor with a single filter. Personal data stays out by
default: email addresses and phone numbers in any message are replaced by a short keyed hash
(the same person gives the same hash, so lines can still be correlated). ``LEADGATE_LOG_PII=1``
turns that off for local debugging.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

_context: ContextVar[dict[str, str] | None] = ContextVar("leadgate_log_context", default=None)
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Digits with the usual phone separators; counted as a phone from 9 digits on, so dates and times stay.
PHONE = re.compile(r"(?<![\w])\+?\d[\d\s().-]{5,}\d(?![\w])")
PHONE_MIN_DIGITS = 9
# A per-process key: hashes correlate lines of one process without being reversible by a dictionary.
_HASH_KEY = secrets.token_bytes(16)


@contextmanager
def bound(**fields: str) -> Iterator[None]:
    """Attach ``fields`` (submission_id, source) to every log line written inside the block."""
    token = _context.set({**(_context.get() or {}), **fields})
    try:
        yield
    finally:
        _context.reset(token)


def redact(text: str) -> str:
    """``text`` with every email address and phone number replaced by a short keyed hash."""

    def hashed(kind: str, match: re.Match[str]) -> str:
        if kind == "phone" and sum(c.isdigit() for c in match[0]) < PHONE_MIN_DIGITS:
            return match[0]
        return f"<{kind}:{hashlib.blake2s(match[0].encode(), key=_HASH_KEY, digest_size=4).hexdigest()}>"

    text = EMAIL.sub(lambda m: hashed("email", m), text)
    return PHONE.sub(lambda m: hashed("phone", m), text)


class JsonFormatter(logging.Formatter):
    def __init__(self, *, redact_pii: bool = True) -> None:
        super().__init__()
        self.redact_pii = redact_pii

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + self.formatException(record.exc_info)
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(message) if self.redact_pii else message,
            **(_context.get() or {}),
        }
        return json.dumps(entry, ensure_ascii=False)


def configure(level: str = "INFO") -> None:
    """JSON lines on stderr for every logger (RQ's and gunicorn's error log included)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter(redact_pii=os.environ.get("LEADGATE_LOG_PII") != "1"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # A line per Rotor call from httpx as well as the delivery's own outcome line: keep only its warnings.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # The JSON lines carry none of these, and looking them up is a tenth of a log call's cost
    # (the logging HOWTO's "Optimization": every intake request writes one line). The process id
    # stays: gunicorn's own lines print it.
    logging._srcfile = None
    logging.logThreads = False
    logging.logMultiprocessing = False
