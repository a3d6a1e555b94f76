"""gunicorn settings for the web process: ``gunicorn -c python:service.gunicorn_conf 'service.app:create_app()'``.

Two sync workers: on this 2-core machine a bare Flask POST does ~3,450 req/s with 2 sync workers
and no better with 4 (perf-notes.md); each request is short CPU work plus one Redis round trip.
"""

import os
import sys
from typing import Any

from core import logs
from core.config import Config
from core.errors import ConfigError

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "sync"
timeout = 30
graceful_timeout = 20
keepalive = 5
accesslog = "-"
# gunicorn 27's control socket lives under $HOME, shared by every gunicorn of the user (and failing
# where HOME is read-only); leadgate does not use it.
control_socket_disable = True


# Request lines as JSON too, so one log pipeline parses web, worker and access lines alike.
access_log_format = '{"ts":"%(t)s","logger":"access","method":"%(m)s","path":"%(U)s","status":%(s)s,"ms":%(M)s}'


def on_starting(server: Any) -> None:
    """Check the config before forking workers, so a bad setting is one line, not a traceback per worker."""
    logs.configure()
    _error_log_as_json(server)
    try:
        Config.from_env()
    except ConfigError as exc:
        print(f"leadgate: {exc}", file=sys.stderr)
        sys.exit(2)


def on_reload(server: Any) -> None:
    _error_log_as_json(server)  # a reload (SIGHUP) sets gunicorn's own handler up again


def _error_log_as_json(server: Any) -> None:
    """gunicorn's own lines (booting, worker exits) as JSON too, through the root handler."""
    server.log.error_log.handlers.clear()
    server.log.error_log.propagate = True
