"""The intake benchmark's yardsticks: parse the JSON body, one Redis RPUSH, answer 202; and the
same with the form's schema run on the body first (``validating=True``).

Served by gunicorn with leadgate's own settings (``service.gunicorn_conf``), so the comparison is
the cost of what ``/v1/forms/<key>`` does beyond the least any durable intake could do, and how
much of that the validation and normalisation alone take (marshmallow, phonenumbers,
email-validator: what answers bad input with a 422 naming the field).
"""

from __future__ import annotations

import os

import redis
from flask import Flask, request

from core.config import Config
from core.sources.forms import WebsiteFormSchema


def create_app(*, validating: bool = False) -> Flask:
    app = Flask(__name__)
    connection = redis.Redis.from_url(os.environ["REDIS_URL"])
    config = Config.from_env()
    schemas = {
        key: WebsiteFormSchema(form=form, phone_region=config.default_phone_region)
        for key, form in config.forms.items()
    }

    @app.post("/v1/forms/<form_key>")
    def accept(form_key: str):
        fields = request.get_json()
        if validating:
            schemas[form_key].load(fields)
        connection.rpush(f"baseline:{form_key}", request.get_data())
        return {"status": "accepted"}, 202

    @app.get("/readyz")
    def ready():
        return {"ready": True}

    return app
