"""POST /v1/forms/<key>: every encoding, every answer, stored durably in a real Redis before 2xx."""

from __future__ import annotations

import io
import json
from dataclasses import replace

import pytest
from rq import Queue
from rq.job import Job

from core.config import Config
from core.store.submissions import SubmissionStore
from core.vocabulary import SubmissionStatus
from service.app import create_app
from tests.conftest import DRAIN_JOB, inbox, queued_functions

PERSON = {"name": "Ann Lee", "email": "Ann@Example.com", "phone": "(201) 555-0123"}
HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def stored(redis_conn, submission_id: str):
    return SubmissionStore(redis_conn).get(submission_id)


def test_json_post_is_stored_and_queued_before_202(client, redis_conn, queue: Queue) -> None:
    response = client.post("/v1/forms/contact", json={**PERSON, "utm_source": "google"})
    assert response.status_code == 202
    submission_id = response.json["submission_id"]
    submission = stored(redis_conn, submission_id)
    assert submission.status is SubmissionStatus.QUEUED
    assert submission.source == "form:contact"
    assert submission.lead == {
        "name": "Ann Lee",
        "email": "ann@example.com",
        "phone": "+12015550123",
        "source": "website",
        "tags": ["website", "utm_source:google"],
        "notes": "Attribution:\nutm_source: google",
    }
    assert submission.raw["fields"] == {**PERSON, "utm_source": "google"}
    assert submission.raw["content_type"] == "application/json"
    # On the inbox before the 202, and a drain job queued to take it; the job is not the submission's own.
    assert inbox(redis_conn) == [submission_id]
    assert queued_functions(queue) == [DRAIN_JOB]
    assert Job.fetch(queue.job_ids[0], connection=redis_conn).args == ()
    assert submission.job_id is None  # until a drain job takes it


def test_urlencoded_post_from_script_gets_json(client, redis_conn) -> None:
    response = client.post("/v1/forms/contact", data={"Full Name": "Ann Lee", "tel": "201 555 0123"})
    assert response.status_code == 202
    assert stored(redis_conn, response.json["submission_id"]).lead["phone"] == "+12015550123"


def test_multipart_post_with_repeated_fields(client, redis_conn) -> None:
    data = {"name": "Ann Lee", "email": "ann@example.com", "interests": ["solar", "roofing"]}
    response = client.post("/v1/forms/contact", data=data, content_type="multipart/form-data")
    assert response.status_code == 202
    submission = stored(redis_conn, response.json["submission_id"])
    assert submission.raw["fields"]["interests"] == ["solar", "roofing"]
    assert "interests: solar, roofing" in submission.lead["notes"]


def test_plain_html_post_is_redirected_to_the_thank_you_page(client, queue) -> None:
    response = client.post("/v1/forms/contact", data=PERSON, headers=HTML)
    assert response.status_code == 303
    assert response.headers["Location"] == "https://example.com/thanks"
    assert queue.count == 1


def test_plain_html_post_without_redirect_url_gets_a_page(client) -> None:
    response = client.post("/v1/forms/quote", data=PERSON, headers=HTML)
    assert response.status_code == 202
    assert response.mimetype == "text/html" and b"Thank you" in response.data


def test_invalid_json_submission_from_a_page_is_422_naming_fields(client, queue) -> None:
    # A fetch() call: the browser sends the page's Origin, and the page shows what the 422 names.
    response = client.post(
        "/v1/forms/contact", json={"name": "", "phone": "12"}, headers={"Origin": "https://example.com"}
    )
    assert response.status_code == 422
    assert response.json["errors"] == {"name": ["A name is required."], "phone": ["Not a valid phone number."]}
    assert queue.count == 0


def test_invalid_submission_from_a_server_is_kept_failed_and_answered_2xx(client, redis_conn, queue) -> None:
    # No Origin and no preference for HTML: a server relaying the form, which nobody watches for a 422.
    body = {"name": "", "phone": "12", "message": "Roof leak"}
    response = client.post("/v1/forms/contact", json=body)
    assert response.status_code == 202
    assert response.json["status"] == "failed"
    assert response.json["errors"] == {"name": ["A name is required."], "phone": ["Not a valid phone number."]}
    submission = stored(redis_conn, response.json["submission_id"])
    assert submission.status is SubmissionStatus.FAILED
    assert submission.raw["fields"] == body
    assert "A name is required." in (submission.error or "")
    assert queue.count == 0
    again = client.post("/v1/forms/contact", json=body)
    assert stored(redis_conn, again.json["submission_id"]).status is SubmissionStatus.DUPLICATE


def test_invalid_html_post_gets_a_readable_page(client, queue) -> None:
    headers = {**HTML, "Referer": "https://example.com/contact"}
    response = client.post("/v1/forms/contact", data={"name": "Ann", "email": "ann@"}, headers=headers)
    assert response.status_code == 422
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "Please check the form" in page and "<strong>email</strong>" in page
    assert 'href="https://example.com/contact"' in page
    assert "{" not in page.split("<body>")[1]  # no JSON dump
    assert queue.count == 0


@pytest.mark.parametrize("referer", ["http://[x/", "javascript:alert(1)"])
def test_a_malformed_or_foreign_referer_gets_a_page_without_a_link_back(client, redis_conn, referer) -> None:
    headers = {**HTML, "Referer": referer}
    accepted = client.post("/v1/forms/quote", data=PERSON, headers=headers)
    assert accepted.status_code == 202 and b"Thank you" in accepted.data
    refused = client.post("/v1/forms/quote", data={"name": "Ann"}, headers=headers)
    assert refused.status_code == 422 and "href" not in refused.get_data(as_text=True).split("<body>")[1]


def test_unknown_form_is_404(client) -> None:
    response = client.post("/v1/forms/nope", json=PERSON)
    assert response.status_code == 404
    assert response.json["message"] == "There is no form named 'nope'."
    assert client.post("/v1/forms/nope", data=PERSON, headers=HTML).mimetype == "text/html"


def test_oversized_body_is_413(client, queue) -> None:
    response = client.post("/v1/forms/contact", json={**PERSON, "message": "x" * 5000})
    assert response.status_code == 413
    assert queue.count == 0


def chunked(client, body: bytes, content_type: str):
    """A post as gunicorn hands over a chunked one: no Content-Length, the server ends the stream."""
    return client.post(
        "/v1/forms/contact",
        input_stream=io.BytesIO(body),
        content_type=content_type,
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        pytest.param(
            b"name=Ann&message=" + b"x" * 5000 + b"&phone=2015550123",
            "application/x-www-form-urlencoded",
            id="urlencoded",
        ),
        pytest.param(json.dumps({**PERSON, "message": "x" * 5000}).encode(), "application/json", id="json"),
    ],
)
def test_a_chunked_body_over_the_limit_is_413_not_cut_short(client, redis_conn, body, content_type) -> None:
    response = chunked(client, body, content_type)
    assert response.status_code == 413
    assert redis_conn.dbsize() == 0


def test_a_chunked_body_within_the_limit_is_read_whole(client, redis_conn) -> None:
    body = b"name=Ann&email=a%40b.com&message=hi&phone=2015550123"
    response = chunked(client, body, "application/x-www-form-urlencoded")
    assert response.status_code == 202
    assert stored(redis_conn, response.json["submission_id"]).raw["fields"] == {
        "name": "Ann",
        "email": "a@b.com",
        "message": "hi",
        "phone": "2015550123",
    }


def test_a_lead_with_an_emoji_escaped_as_a_surrogate_pair_is_taken(client, redis_conn) -> None:
    response = client.post(
        "/v1/forms/contact",
        data='{"name": "Ann \\ud83d\\ude00", "phone": "2015550123"}',
        content_type="application/json",
    )
    assert response.status_code == 202
    assert stored(redis_conn, response.json["submission_id"]).lead["name"] == "Ann \U0001f600"


def test_a_lone_surrogate_cut_from_an_emoji_becomes_a_replacement_character(client, redis_conn) -> None:
    body = '{"name": "Ann \\ud83d", "phone": "2015550123", "x\\udc00": "y"}'
    response = client.post("/v1/forms/contact", data=body, content_type="application/json")
    assert response.status_code == 202
    submission = stored(redis_conn, response.json["submission_id"])
    assert submission.lead["name"] == "Ann \ufffd" and submission.raw["fields"]["x\ufffd"] == "y"


def test_json_that_is_not_utf8_is_400(client) -> None:
    body = '{"name": "Ann \\ud83d", "phone": "2015550123"}'.encode("utf-16")
    response = client.post("/v1/forms/contact", data=body, content_type="application/json")
    assert response.status_code == 400 and response.json["message"] == "The body is not valid JSON."


def test_a_lead_is_not_deduplicated_by_content_when_the_window_is_zero(config: Config, redis_conn) -> None:
    app = create_app(replace(config, dedup_window_seconds=0))
    client = app.test_client()
    first, second = (client.post("/v1/forms/contact", json=PERSON) for _ in range(2))
    assert first.status_code == second.status_code == 202
    assert {stored(redis_conn, r.json["submission_id"]).status for r in (first, second)} == {SubmissionStatus.QUEUED}
    app.extensions["leadgate"].connection.close()


@pytest.mark.parametrize(
    ("kwargs", "status", "message"),
    [
        ({"data": "{not json", "content_type": "application/json"}, 400, "The body is not valid JSON."),
        (
            {"data": '{"name": NaN, "phone": "2015550123"}', "content_type": "application/json"},
            400,
            "The body is not valid JSON.",
        ),
        ({"json": ["a", "list"]}, 400, "The JSON body must be an object of form fields."),
        ({"data": "name=Ann", "content_type": "text/plain"}, 415, None),
        ({}, 415, None),
    ],
)
def test_unreadable_bodies_are_4xx(client, kwargs, status, message) -> None:
    response = client.post("/v1/forms/contact", **kwargs)
    assert response.status_code == status
    if message:
        assert response.json["message"] == message


def test_wrong_method_is_405_not_500(client) -> None:
    response = client.get("/v1/forms/contact")
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]


def test_honeypot_is_answered_like_success_but_never_delivered(client, redis_conn, queue) -> None:
    response = client.post("/v1/forms/contact", json={**PERSON, "_gotcha": "https://spam.example"})
    assert response.status_code == 202
    submission = stored(redis_conn, response.json["submission_id"])
    assert submission.status is SubmissionStatus.DISCARDED
    assert submission.events[-1]["note"] == "honeypot field filled in"
    assert queue.count == 0


def test_redis_down_is_503_so_the_sender_retries(config: Config) -> None:
    down = Config(**{**config.__dict__, "redis_url": "redis://127.0.0.1:1/0"})
    app = create_app(down)
    response = app.test_client().post("/v1/forms/contact", json=PERSON)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert "try again" in response.json["message"]


def test_cors_only_for_the_forms_own_origins(client) -> None:
    origin = {"Origin": "https://roofs.example"}
    allowed = client.post("/v1/forms/quote", json=PERSON, headers=origin)
    assert allowed.status_code == 202
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://roofs.example"
    preflight = client.options("/v1/forms/quote", headers={**origin, "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 204
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    refused = client.post("/v1/forms/quote", json=PERSON, headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403
    assert "Access-Control-Allow-Origin" not in refused.headers


def test_health_and_readiness(client, config: Config) -> None:
    assert client.get("/healthz").json == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
    down = create_app(Config(**{**config.__dict__, "redis_url": "redis://127.0.0.1:1/0"}))
    assert down.test_client().get("/readyz").status_code == 503


def test_raw_submission_keeps_headers(client, redis_conn) -> None:
    headers = {"User-Agent": "Mozilla/5.0", "Referer": "https://example.com/contact"}
    response = client.post("/v1/forms/contact", json=PERSON, headers=headers)
    raw = stored(redis_conn, response.json["submission_id"]).raw
    assert raw["headers"]["User-Agent"] == "Mozilla/5.0"
    assert json.loads(json.dumps(raw))["headers"]["Referer"] == "https://example.com/contact"
