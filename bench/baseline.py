"""The intake benchmark's yardstick: parse the JSON body, one Redis RPUSH, answer 202.

Served by gunicorn with leadgate's own settings (``service.gunicorn_conf``), so the comparison is
the cost of what ``/v1/forms/<key>`` does beyond the least any durable intake could do.
"""

from __future__ import annotations

import os

import redis
from flask import Flask, request


def create_app() -> Flask:
    app = Flask(__name__)
    connection = redis.Redis.from_url(os.environ["REDIS_URL"])

    @app.post("/v1/forms/<form_key>")
    def accept(form_key: str):
        connection.rpush(f"baseline:{form_key}", request.get_data())
        request.get_json()
        return {"status": "accepted"}, 202

    @app.get("/readyz")
    def ready():
        return {"ready": True}

    return app
