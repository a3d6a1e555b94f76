"""The Flask application factory: web intake, ops API and probes."""

from __future__ import annotations

from flask import Flask

from service import forms, health, openapi, ops, webhooks
from service.config import Config
from service.connection import connect
from service.intake import Intake
from service.responses import register_error_handlers
from service.sources.forms import WebsiteFormSchema


def create_app(config: Config | None = None) -> Flask:
    """Build the app from ``config`` (default: the environment). Connects to Redis lazily."""
    config = config or Config.from_env()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    intake = Intake.from_config(config, connect(config.redis_url))
    # One schema per form, built once: they hold no per-request state.
    intake.form_schemas = {
        key: WebsiteFormSchema(form=form, phone_region=config.default_phone_region) for key, form in config.forms.items()
    }
    app.extensions["leadgate"] = intake
    app.register_blueprint(forms.bp)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(ops.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(openapi.bp)
    register_error_handlers(app)
    return app
