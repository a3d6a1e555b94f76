"""The Flask application factory: web intake, ops API and probes."""

from __future__ import annotations

import time

import redis
from flask import Flask, Response, current_app, g, request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix

from core.config import Config
from core.sources.forms import WebsiteFormSchema
from core.sources.registry import schema_for
from core.store.connection import connect
from service import forms, health, openapi, ops, webhooks
from service.intake import Intake
from service.responses import register_error_handlers


def create_app(config: Config | None = None) -> Flask:
    """Build the app from ``config`` (default: the environment). Connects to Redis lazily."""
    config = config or Config.from_env()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    intake = Intake.from_config(config, connect(config.redis_url))
    # One schema per form and per webhook source, built once: they hold no per-request state.
    intake.form_schemas = {
        key: WebsiteFormSchema(form=form, phone_region=config.default_phone_region)
        for key, form in config.forms.items()
    }
    intake.source_schemas = {
        name: schema_for(source, phone_region=config.default_phone_region) for name, source in config.sources.items()
    }
    app.extensions["leadgate"] = intake
    app.register_blueprint(forms.bp)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(ops.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(openapi.bp)
    register_error_handlers(app)
    if config.trusted_proxies:
        # Behind N proxies the client is the N-th address from the right of X-Forwarded-For. Flask
        # types wsgi_app as a method; assigning the wrapped one is werkzeug's documented way (ignore).
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=config.trusted_proxies, x_proto=config.trusted_proxies)  # type: ignore[method-assign]
    app.before_request(_limit_body)
    app.before_request(_start_clock)
    app.after_request(_time_intake)
    return app


def _limit_body() -> None:
    """Webhooks' larger body limit, and a chunked body read whole or answered 413.

    A chunked body has no Content-Length to be refused by up front, and Werkzeug stops reading it at
    the limit without a word: a form or a webhook's signature check would see a body cut short, and
    the cut one would be stored as the raw submission.
    """
    if request.blueprint == webhooks.bp.name or _form_of_a_tool():
        request.max_content_length = max(webhooks.MAX_BODY_BYTES, current_app.config["MAX_CONTENT_LENGTH"])
    if request.content_length is None and "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        if len(request.get_data()) >= (request.max_content_length or 0):
            raise RequestEntityTooLarge()


def _form_of_a_tool() -> bool:
    """A form a tool posts to (``builder`` pinned): its posts get webhooks' limit, as a 413 is not resent."""
    if request.blueprint != forms.bp.name:
        return False
    form = current_app.extensions["leadgate"].config.forms.get((request.view_args or {}).get("form_key", ""))
    return form is not None and form.builder is not None


def _start_clock() -> None:
    g.started = time.perf_counter()


def _time_intake(response: Response) -> Response:
    """Intake latency into the shared histogram; a failure to record it never fails the request."""
    if request.method == "POST" and request.blueprint in ("forms", "webhooks") and "started" in g:
        intake = current_app.extensions["leadgate"]
        try:
            intake.latency.add(intake.connection, time.perf_counter() - g.started)
        except redis.RedisError:
            pass
    return response
