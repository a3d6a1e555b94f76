"""Run the sandbox as a real threaded HTTP server, in the foreground or in a background thread.

Werkzeug's server is enough here: the sandbox serves one developer or one test run, and a real
socket (rather than Flask's test client) is what exercises the delivery client's timeouts,
connection handling and concurrency.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

from sandbox import SANDBOX_API_KEY
from sandbox.app import create_sandbox_app

log = logging.getLogger(__name__)


def serve(
    host: str,
    port: int,
    *,
    api_keys: Sequence[str] = (SANDBOX_API_KEY,),
    daily_limit: int = 1000,
    ready: threading.Event | None = None,
) -> None:
    """Serve until interrupted; `ready` is set once the socket is bound."""
    app = create_sandbox_app(api_keys=api_keys, daily_limit=daily_limit)
    server = make_server(host, port, app, threaded=True)
    keys = ", ".join(api_keys)
    log.info(
        "sandbox: Rotor-compatible CRM on http://%s:%d (api key %s, daily limit %d)",
        host,
        server.server_port,
        keys,
        daily_limit,
    )
    if ready is not None:
        ready.set()
    try:
        server.serve_forever()
    finally:
        server.server_close()


def start_in_thread(host: str = "127.0.0.1", port: int = 0, **app_options: Any) -> tuple[BaseWSGIServer, str]:
    """Bind (port 0 picks a free port), serve from a daemon thread, return (server, base URL).

    `app_options` go to create_sandbox_app. Stop with `server.shutdown()` then
    `server.server_close()`; the app is `server.app`.
    """
    server = make_server(host, port, create_sandbox_app(**app_options), threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="rotor-sandbox", daemon=True)
    thread.start()
    return server, f"http://{host}:{server.server_port}"
