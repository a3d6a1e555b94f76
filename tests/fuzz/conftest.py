"""Shared parts of the fuzz suite: the ``fuzz`` marker, an app with every webhook source configured,
and the property every fuzz test checks (no 5xx, no traceback in the body)."""

from __future__ import annotations

import gc
import logging
import sys
import traceback
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from core.config import Config, SourceConfig
from service.app import create_app
from tests.sources.samples import VERIFY_TOKEN as VERIFY_TOKEN  # Meta's, which the handshake fuzzing sends
from tests.sources.samples import source, webhook_sources

# Never reached: nothing in the fuzz suite runs a worker, so no lead is ever read from a platform.
UNUSED_URL = "http://127.0.0.1:9"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "fuzz: property-based fuzzing of the HTTP endpoints (hypothesis, schemathesis)")


def fuzz_sources() -> dict[str, SourceConfig]:
    """The webhook tests' sources, and a generic one with a base64 signature and list paths."""
    crm64 = source(
        "crm64",
        "generic",
        signature_header="X-Sig-B64",
        signature_encoding="base64",
        signature_prefix="",
        id_path="items.0.id",
        fields={
            "first_name": "items.0.first",
            "last_name": "items.0.last",
            "email": "items.0.email",
            "phone": "items.0.tel",
        },
    )
    return {**webhook_sources(UNUSED_URL), "crm64": crm64}


@pytest.fixture
def fuzz_config(config: Config) -> Config:
    overrides: dict[str, Any] = {
        "sources": fuzz_sources(),
    }
    if "rate_limit_per_form" in config.__dict__:
        # Hundreds of posts to one form per test: let them reach the parsers, not the rate limit.
        overrides["rate_limit_per_form"] = "100000 per minute"
    return Config(**{**config.__dict__, **overrides})


@pytest.fixture
def fuzz_app(fuzz_config: Config):
    app = create_app(fuzz_config)
    yield app
    app.extensions["leadgate"].connection.close()


class ServerErrors(logging.Handler):
    """Collects the tracebacks the app's catch-all handler logs, to show with a failing example."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            self.records.append("".join(traceback.format_exception(*record.exc_info)))
        else:
            self.records.append(record.getMessage())


@pytest.fixture
def server_errors() -> Iterator[ServerErrors]:
    handler = ServerErrors()
    logger = logging.getLogger("service")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


def assert_no_server_error(response, errors: ServerErrors, what: str) -> None:
    """The fuzz property: the answer is not a 5xx (Redis is up throughout, so not even a 503) and its
    body shows no traceback. A failure shows the traceback the app logged for it."""
    body = response.get_data()
    logged = errors.records[-1] if errors.records else "(nothing logged)"
    errors.records.clear()
    assert response.status_code < 500, f"{what} -> {response.status_code} {body[:500]!r}\n{logged}"
    assert b"Traceback" not in body and b'File "' not in body, f"{what} -> traceback in body: {body[:2000]!r}"


def _stack_depth() -> int:
    frame, depth = sys._getframe(1), 0
    while frame is not None:
        frame, depth = frame.f_back, depth + 1
    return depth


@contextmanager
def production_stack(free_frames: int = 1000) -> Iterator[None]:
    """Python's default recursion limit (1000 frames), counted from the caller.

    Hypothesis raises the limit by 2000 frames while a test runs, which hides a RecursionError a
    gunicorn worker (a few dozen frames deep when it calls the app) would hit on a deeply nested body.
    Restored before the example ends, so hypothesis sees its own limit back and does not warn.
    """
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(_stack_depth() + free_frames)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def send(client, method: str, path: str, **kwargs):
    """One request through the test client, with the stack a production worker has."""
    if not str(kwargs.get("content_type", "")).lower().startswith("multipart/"):
        with production_stack():
            return client.open(path, method=method, **kwargs)
    # Werkzeug 3.1's multipart parser leaves the SpooledTemporaryFile of a file part unclosed when the
    # body ends before the closing delimiter (upstream, not leadgate: Request.close() never sees it;
    # harmless in production, where it is an in-memory buffer the garbage collector frees). Collected
    # here, with that one warning ignored, so it cannot fail some later test under filterwarnings=error.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", r"Unclosed file <tempfile\.SpooledTemporaryFile", ResourceWarning)
        with production_stack():
            response = client.open(path, method=method, **kwargs)
        gc.collect(0)
    return response
