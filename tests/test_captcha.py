"""Forms with Turnstile or reCAPTCHA: checked against a local siteverify stand-in over real HTTP."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from flask import Flask, jsonify, request
from werkzeug.serving import make_server

from core.config import Config, FormConfig
from core.errors import ConfigError
from core.store.submissions import SubmissionStore
from core.vocabulary import SubmissionStatus
from service.app import create_app

PERSON = {"name": "Ann", "phone": "2015550123"}


@pytest.fixture(scope="module")
def siteverify() -> Iterator[dict]:
    """A siteverify endpoint: the token "good" passes, "down" answers 503, anything else fails."""
    seen: dict = {}
    app = Flask("siteverify")

    @app.post("/siteverify")
    def verify():
        seen.update(request.form)
        if request.form.get("response") == "down":
            return jsonify(error="unavailable"), 503
        ok = request.form.get("response") == "good" and request.form.get("secret") == "turnstile-secret"
        return jsonify(success=ok)

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield {"url": f"http://127.0.0.1:{server.server_port}/siteverify", "seen": seen}
    server.shutdown()
    server.server_close()


def captcha_client(config: Config, siteverify: dict, **settings: str) -> Iterator:
    form = FormConfig(
        key="contact", captcha="turnstile", captcha_secret="turnstile-secret", captcha_verify_url=siteverify["url"]
    )
    app = create_app(Config(**{**config.__dict__, "forms": {"contact": form}, **settings}))
    yield app.test_client()
    app.extensions["leadgate"].connection.close()


@pytest.fixture
def client(config: Config, siteverify: dict):
    yield from captcha_client(config, siteverify)


@pytest.fixture
def limited_client(config: Config, siteverify: dict):
    yield from captcha_client(config, siteverify, rate_limit_per_ip="2 per minute")


def test_solved_captcha_is_accepted(client, redis_conn, siteverify) -> None:
    response = client.post("/v1/forms/contact", data={**PERSON, "cf-turnstile-response": "good"})
    assert response.status_code == 202
    record = SubmissionStore(redis_conn).get(response.json["submission_id"])
    assert record.status is SubmissionStatus.QUEUED and record.raw["captcha"] == "verified"
    assert siteverify["seen"]["remoteip"] == "127.0.0.1"
    assert "cf-turnstile-response" not in (record.lead.get("notes") or "")


@pytest.mark.parametrize("token", [None, "", "forged"])
def test_missing_or_refused_captcha_is_422(client, queue, token) -> None:
    data = {**PERSON, **({"cf-turnstile-response": token} if token is not None else {})}
    response = client.post("/v1/forms/contact", data=data)
    assert response.status_code == 422
    assert response.json["errors"] == {"captcha": ["The captcha was not solved."]}
    assert queue.count == 0


def test_an_unreachable_provider_costs_no_lead(client, redis_conn) -> None:
    response = client.post("/v1/forms/contact", data={**PERSON, "cf-turnstile-response": "down"})
    assert response.status_code == 202
    record = SubmissionStore(redis_conn).get(response.json["submission_id"])
    assert record.raw["captcha"].startswith("unverified")


def test_captcha_needs_its_secret_at_start(tmp_path) -> None:
    path = tmp_path / "forms.toml"
    path.write_text('[forms.contact]\ncaptcha = "turnstile"\ncaptcha_secret_env = "TURNSTILE_SECRET"\n')
    with pytest.raises(ConfigError, match="TURNSTILE_SECRET: required by forms.contact.captcha"):
        Config.from_env({"LEADGATE_CONFIG": str(path)})
    config = Config.from_env({"LEADGATE_CONFIG": str(path), "TURNSTILE_SECRET": "x-secret-x"})
    assert config.forms["contact"].captcha_secret == "x-secret-x" and "x-secret-x" not in repr(config.forms["contact"])


def test_a_flood_of_made_up_tokens_is_rate_limited_before_the_provider_is_asked(limited_client, siteverify) -> None:
    siteverify["seen"].clear()
    answers = [
        limited_client.post("/v1/forms/contact", data={**PERSON, "cf-turnstile-response": f"made-up-{n}"})
        for n in range(3)
    ]
    assert [a.status_code for a in answers] == [422, 422, 429]
    assert answers[2].headers["Retry-After"] and "2 per 1 minute" in answers[2].json["message"]
    assert siteverify["seen"]["response"] == "made-up-1"  # the third never reached the provider


def test_a_solved_captcha_post_counts_once_against_the_limit(limited_client, redis_conn) -> None:
    solved = {**PERSON, "cf-turnstile-response": "good"}
    assert limited_client.post("/v1/forms/contact", data=solved).status_code == 202
    assert limited_client.post("/v1/forms/contact", data={**solved, "name": "Bo"}).status_code == 202
    assert limited_client.post("/v1/forms/contact", data={**solved, "name": "Cy"}).status_code == 429
