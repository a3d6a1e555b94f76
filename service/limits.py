"""Rate limits on the public form endpoints: per client address and per form, counted in Redis.

A form endpoint is open to the internet; these limits stop one client (or a botnet on one form)
from filling Redis or the Rotor budget. Webhooks are not limited: they are authenticated, and a
platform's burst is real leads. If Redis cannot be asked, the limit is skipped rather than the
lead refused: intake itself then answers 503 if Redis is really down.
"""

from __future__ import annotations

from flask import Flask, request
from flask_limiter import Limiter
from werkzeug.middleware.proxy_fix import ProxyFix

from service import keys
from service.config import Config


def init_limits(app: Flask, config: Config) -> Limiter:
    if config.trusted_proxies:
        # Behind N proxies the client is the N-th address from the right of X-Forwarded-For.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=config.trusted_proxies, x_proto=config.trusted_proxies)  # type: ignore[method-assign]
    return Limiter(
        key_func=lambda: request.remote_addr or "unknown",
        app=app,
        storage_uri=config.redis_url,
        storage_options={"socket_timeout": 2, "socket_connect_timeout": 2},
        strategy="fixed-window",  # one INCR per limit: the cheapest check on the hot path
        key_prefix=f"{keys.PREFIX}:limits",
        # X-RateLimit-* headers cost a Redis read per limit on every request (a sixth of intake's
        # time, docs/benchmarks.md); a refused request still gets Retry-After (service.responses).
        headers_enabled=False,
        swallow_errors=True,
    )


def limit_form_intake(app: Flask, limiter: Limiter, config: Config, endpoint: str = "forms.submit_form") -> None:
    """Put the per-address and per-form limits on the form intake view of this app."""
    per_ip = limiter.limit(config.rate_limit_per_ip, scope="form-ip")
    per_form = limiter.limit(
        config.rate_limit_per_form, key_func=lambda: (request.view_args or {}).get("form_key", ""), scope="form"
    )
    app.view_functions[endpoint] = per_ip(per_form(app.view_functions[endpoint]))
