"""/v1/webhooks/<source>: every platform's signed sample, refusals, replays, malformed bodies; Meta's and
LinkedIn's lead reads against a local stand-in over real HTTP; Meta and Google end to end; a platform
that is one module (a Source registered by the test) served and read by the same generic code."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from flask import Flask, jsonify, request
from marshmallow import ValidationError, pre_load
from werkzeug.serving import make_server

from core.config import Config
from core.errors import LeadReadRefused
from core.sources import registry
from core.sources.common import PlatformLeadSchema, Unreadable, lead_data, read_or_unreadable, text_at
from core.sources.incoming import Incoming, unreadable
from core.sources.lead_read import LeadAnswer, LeadRequest
from core.sources.signatures import secrets_equal
from core.sources.source import Setting, Source, SourceConfig, WebhookRequest, require_proof
from core.store.submissions import SubmissionStore
from core.vocabulary import SubmissionStatus
from ops.reprocess import Reprocessor
from service.app import create_app
from tests.conftest import DRAIN_JOB, inbox, queued_functions, wait_for
from tests.sources import samples
from tests.sources.samples import SECRET, VERIFY_TOKEN, json_body


class PlatformStub:
    """Meta's Graph API and LinkedIn's lead responses, served locally: leads by id, or an error."""

    def __init__(self) -> None:
        self.leads: dict[str, Any] = {}
        self.error: tuple[int, dict] | None = None
        self.authorizations: list[str | None] = []
        app = Flask("platform-stub")
        app.add_url_rule("/v21.0/<lead_id>", view_func=self._answer)
        app.add_url_rule("/rest/leadFormResponses/<lead_id>", view_func=self._answer)
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _answer(self, lead_id: str):
        self.authorizations.append(request.headers.get("Authorization"))
        if self.error:
            return jsonify(self.error[1]), self.error[0]
        if lead_id not in self.leads:
            return jsonify(error={"message": "Unsupported get request", "code": 100}), 400
        return jsonify(self.leads[lead_id])


@pytest.fixture(scope="session")
def platforms() -> Iterator[PlatformStub]:
    stub = PlatformStub()
    yield stub
    stub.server.shutdown()
    stub.server.server_close()


@pytest.fixture
def hooks_config(config: Config, platforms: PlatformStub) -> Config:
    platforms.leads.clear()
    platforms.error = None
    platforms.authorizations.clear()
    return Config(**{**config.__dict__, "sources": samples.webhook_sources(platforms.url)})


@pytest.fixture
def hooks(hooks_config: Config):
    app = create_app(hooks_config)
    yield app.test_client()
    app.extensions["leadgate"].connection.close()


def _hex(header: str, prefix: str = "") -> Callable[[bytes], dict[str, str]]:
    return lambda body: {header: prefix + samples.hmac.new(SECRET.encode(), body, samples.hashlib.sha256).hexdigest()}


# name -> (a valid payload, how to sign a body, the key path the platform uses for its id)
SOURCES: dict[str, tuple[Callable[[], Any], Callable[[bytes], dict[str, str]]]] = {
    "meta": (samples.meta_notification, lambda b: {"X-Hub-Signature-256": samples.meta_signature(b)}),
    "google": (samples.google_lead, lambda b: {}),
    "tiktok": (samples.tiktok_callback, lambda b: {"X-Open-Signature": samples.tiktok_signature(json.loads(b))}),
    "linkedin": (samples.linkedin_notification, lambda b: {"X-LI-Signature": samples.linkedin_signature(b)}),
    "typeform": (samples.typeform_event, lambda b: {"Typeform-Signature": samples.typeform_signature(b)}),
    "crm": (
        lambda: {"data": {"id": 42, "customer": {"name": "Ann Lee", "phone": "2015550123"}}},
        _hex("X-Signature", "sha256="),
    ),
}
# The field each source cannot do without, removed for the "missing field" case.
REQUIRED = {
    "meta": lambda p: p["entry"][0]["changes"][0]["value"].pop("leadgen_id"),
    "google": lambda p: p.pop("lead_id"),
    "tiktok": lambda p: p["entry"][0].pop("id"),
    "linkedin": lambda p: p.pop("leadGenFormResponse"),
    "typeform": lambda p: p["form_response"].pop("token"),
    "crm": lambda p: p["data"].pop("id"),
}


# How the failure names the missing id.
ID_FIELD = {
    "meta": "leadgen_id",
    "google": "lead_id",
    "tiktok": "entry.0.id",
    "linkedin": "leadGenFormResponse",
    "typeform": "form_response.token",
    "crm": "data.id",
}


def send(client, name: str, payload: Any = None, *, body: bytes | None = None, headers: dict | None = None):
    body = json_body(SOURCES[name][0]() if payload is None else payload) if body is None else body
    signed = SOURCES[name][1](body) if headers is None else headers
    return client.post(f"/v1/webhooks/{name}", data=body, headers={**signed, "Content-Type": "application/json"})


@pytest.mark.parametrize("name", SOURCES)
def test_signed_sample_is_stored_and_answered_200(hooks, redis_conn, name: str) -> None:
    response = send(hooks, name)
    assert response.status_code == 200, response.json
    (submission_id,) = response.json["submission_ids"]
    record = SubmissionStore(redis_conn).get(submission_id)
    assert record.source == f"webhook:{name}"
    if name in ("meta", "linkedin"):
        assert record.status is SubmissionStatus.RECEIVED and record.read_ref.startswith(f"{name}:")
    else:
        assert record.status is SubmissionStatus.QUEUED, record.error
        assert record.lead["name"] == "Ann Lee" and record.lead["phone"] == "+12015550123"


@pytest.mark.parametrize("name", [n for n in SOURCES if n != "google"])
def test_bad_signature_is_401_and_nothing_is_stored(hooks, redis_conn, name: str) -> None:
    body = json_body(SOURCES[name][0]())
    forged = {key: "sha256=" + "0" * 64 for key in SOURCES[name][1](body)}
    assert send(hooks, name, body=body, headers=forged).status_code == 401
    assert send(hooks, name, body=body, headers={}).status_code == 401
    assert not list(redis_conn.scan_iter("leadgate:submission:*"))


@pytest.mark.parametrize("name", [n for n in SOURCES if n != "google"])
def test_tampered_body_is_401(hooks, name: str) -> None:
    body = json_body(SOURCES[name][0]())
    signed = SOURCES[name][1](body)
    tampered = body[:-1] + b', "extra": 1}'  # still valid JSON, no longer the signed bytes
    assert send(hooks, name, body=tampered, headers=signed).status_code == 401


def test_wrong_google_key_is_401(hooks, redis_conn) -> None:
    response = send(hooks, "google", samples.google_lead(google_key="guess"))
    assert response.status_code == 401 and "google_key" in response.json["message"]
    assert not list(redis_conn.scan_iter("leadgate:submission:*"))


@pytest.mark.parametrize("name", SOURCES)
def test_replay_is_a_duplicate_with_no_second_job(hooks, redis_conn, queue, name: str) -> None:
    first = send(hooks, name).json["submission_ids"][0]
    again = send(hooks, name).json["submission_ids"][0]
    record = SubmissionStore(redis_conn).get(again)
    assert record.status is SubmissionStatus.DUPLICATE and record.duplicate_of == first
    assert inbox(redis_conn) == [first]  # the replay goes no further
    assert queued_functions(queue) == [DRAIN_JOB]


@pytest.mark.parametrize("name", SOURCES)
def test_a_lead_without_its_id_is_stored_failed_naming_the_field_not_refused(hooks, redis_conn, name: str) -> None:
    # A 4xx would make the platform give up on the body: the lead would be lost.
    payload = SOURCES[name][0]()
    REQUIRED[name](payload)
    response = send(hooks, name, payload)
    assert response.status_code == 200, response.json
    (submission_id,) = response.json["submission_ids"]
    record = SubmissionStore(redis_conn).get(submission_id)
    assert record.status is SubmissionStatus.FAILED and record.error.startswith("cannot read this")
    assert ID_FIELD[name] in record.error
    again = send(hooks, name, payload).json["submission_ids"][0]
    assert SubmissionStore(redis_conn).get(again).duplicate_of == submission_id  # a resend is no second failure


@pytest.mark.parametrize("name", SOURCES)
def test_malformed_body_is_400_not_500(hooks, name: str) -> None:
    body = b'{"entry": [not json'
    headers = SOURCES[name][1](body) if name != "tiktok" else {"X-Open-Signature": _hex("x")(body)["x"]}
    response = send(hooks, name, body=body, headers=headers)
    assert response.status_code == 400
    assert response.json["message"] == "The body is not valid JSON."


def test_unconfigured_source_is_404(config: Config) -> None:
    client = create_app(config).test_client()  # META_APP_SECRET, GOOGLE_LEAD_FORM_KEY unset
    assert client.post("/v1/webhooks/meta", data=b"{}").status_code == 404
    assert client.post("/v1/webhooks/google", data=b"{}").status_code == 404


def test_meta_handshake(hooks) -> None:
    ok = hooks.get(
        "/v1/webhooks/meta",
        query_string={"hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": VERIFY_TOKEN},
    )
    assert ok.status_code == 200 and ok.get_data(as_text=True) == "1158201444"
    wrong = hooks.get(
        "/v1/webhooks/meta", query_string={"hub.mode": "subscribe", "hub.challenge": "1", "hub.verify_token": "nope"}
    )
    assert wrong.status_code == 403


def test_linkedin_challenge(hooks) -> None:
    response = hooks.get(
        "/v1/webhooks/linkedin", query_string={"challengeCode": "890e4665-4dfe-4ab1-b689-ed553bceeed3"}
    )
    expected = samples.hmac.new(SECRET.encode(), b"890e4665-4dfe-4ab1-b689-ed553bceeed3", samples.hashlib.sha256)
    assert response.json == {
        "challengeCode": "890e4665-4dfe-4ab1-b689-ed553bceeed3",
        "challengeResponse": expected.hexdigest(),
    }


@pytest.mark.parametrize("code", ["hmacsha256=" + json.dumps(samples.linkedin_notification()), "anything", ""])
def test_linkedin_challenge_answers_only_a_uuid_so_it_signs_no_notification(hooks, code: str) -> None:
    # X-LI-Signature is the same HMAC over "hmacsha256=" + body: answering any text would forge it.
    response = hooks.get("/v1/webhooks/linkedin", query_string={"challengeCode": code})
    assert response.status_code == 400 and "challengeResponse" not in (response.json or {})


def test_one_unreadable_change_costs_none_of_the_others_in_the_batch(hooks, redis_conn) -> None:
    payload = samples.meta_notification(["111", "222", "333"])
    del payload["entry"][0]["changes"][1]["value"]["leadgen_id"]
    response = send(hooks, "meta", payload)
    assert response.status_code == 200 and response.json["received"] == 3
    store = SubmissionStore(redis_conn)
    statuses = [store.get(sid).status for sid in response.json["submission_ids"]]
    assert statuses == [SubmissionStatus.RECEIVED, SubmissionStatus.FAILED, SubmissionStatus.RECEIVED]


def test_a_big_platform_batch_is_taken_whatever_the_form_body_limit(hooks, hooks_config) -> None:
    payload = samples.meta_notification([str(n) for n in range(100)])
    assert len(json_body(payload)) > hooks_config.max_body_bytes
    assert send(hooks, "meta", payload).json["received"] == 100


def test_linkedin_deletion_is_kept_but_never_read_or_delivered(hooks, redis_conn, queue) -> None:
    created = send(hooks, "linkedin", samples.linkedin_notification()).json["submission_ids"][0]
    deleted = send(hooks, "linkedin", samples.linkedin_notification(action="DELETED")).json["submission_ids"][0]
    record = SubmissionStore(redis_conn).get(deleted)
    assert record.status is SubmissionStatus.DISCARDED and record.read_ref is None
    assert "deleted" in record.events[-1]["note"]
    assert inbox(redis_conn) == [created]


@pytest.mark.parametrize(
    ("name", "payload"),
    [
        ("tiktok", samples.tiktok_callback(object_type=2)),
        ("linkedin", {"type": "ORGANIZATION_SOCIAL_ACTION_NOTIFICATIONS", "notifications": []}),
        ("typeform", {**samples.typeform_event(), "event_type": "form_response_partial"}),
    ],
)
def test_a_notice_that_is_no_lead_is_kept_as_discarded(hooks, redis_conn, name: str, payload: dict) -> None:
    response = send(hooks, name, payload)
    assert response.status_code == 200
    (submission_id,) = response.json["submission_ids"]
    assert SubmissionStore(redis_conn).get(submission_id).status is SubmissionStatus.DISCARDED
    assert inbox(redis_conn) == []


def test_an_unforeseen_shape_in_signed_answers_is_stored_failed_not_a_500(hooks, redis_conn) -> None:
    payload = samples.typeform_event()
    payload["form_response"]["definition"]["fields"] = 5
    payload["form_response"]["answers"].append({"type": "choices", "choices": {"labels": 5}, "field": {"id": "x"}})
    response = send(hooks, "typeform", payload)
    assert response.status_code == 200
    record = SubmissionStore(redis_conn).get(response.json["submission_ids"][0])
    # Without the questions' wording the name question is not known: failed, naming it, and replayable.
    assert record.status is SubmissionStatus.FAILED and "A name is required" in record.error


def test_google_checks_its_key_before_the_body(hooks) -> None:
    response = send(hooks, "google", {"google_key": "wrong"})
    assert response.status_code == 401 and "google_key" in response.json["message"]


def test_meta_batch_carries_several_leads(hooks) -> None:
    response = send(hooks, "meta", samples.meta_notification(["1", 2, "3"]))
    assert response.json["received"] == 3


def test_google_test_lead_is_kept_but_not_delivered(hooks, redis_conn, queue) -> None:
    response = send(hooks, "google", samples.google_lead(is_test=True, lead_id="TeSter-123-1"))
    submission_id = response.json["submission_ids"][0]
    record = SubmissionStore(redis_conn).get(submission_id)
    assert record.status is SubmissionStatus.DISCARDED and "test lead" in record.events[-1]["note"]
    assert "google_key" not in record.raw["payload"]  # the shared secret is never stored
    assert queue.count == 0


def test_undeliverable_platform_lead_is_stored_failed_not_refused(hooks, redis_conn, queue) -> None:
    payload = samples.google_lead(columns=[("EMAIL", "ann@example.com", "Email")])  # no name
    response = send(hooks, "google", payload)
    assert response.status_code == 200
    record = SubmissionStore(redis_conn).get(response.json["submission_ids"][0])
    assert record.status is SubmissionStatus.FAILED and "A name is required." in record.error
    assert queue.count == 0


def test_meta_lead_is_read_from_graph_and_delivered(hooks, deliver, redis_conn, sandbox, platforms) -> None:
    platforms.leads["444444444444"] = samples.meta_graph_lead()
    submission_id = send(hooks, "meta").json["submission_ids"][0]
    deliver(**meta_overrides(hooks))
    record = SubmissionStore(redis_conn).get(submission_id)
    assert record.status is SubmissionStatus.DELIVERED, record.error
    (lead,) = sandbox.leads()
    assert (lead["name"], lead["email"], lead["phone"]) == ("Ann Lee", "ann.lee@example.com", "+12015550123")
    assert "meta" in lead["tags"] and "paid" in lead["tags"] and lead["lead_source"] == "meta"
    assert "Spring roofs" in lead["notes"]
    assert record.read["field_data"]  # the Graph answer is kept as the raw lead


def meta_overrides(hooks) -> dict:
    config = hooks.application.extensions["leadgate"].config
    return {k: v for k, v in config.__dict__.items() if k.startswith(("meta", "sources"))}


def test_meta_test_lead_is_recognised_and_not_delivered(hooks, deliver, redis_conn, sandbox, platforms) -> None:
    platforms.leads["444444444444"] = samples.meta_test_graph_lead()
    submission_id = send(hooks, "meta").json["submission_ids"][0]
    deliver(**meta_overrides(hooks))
    assert SubmissionStore(redis_conn).get(submission_id).status is SubmissionStatus.DISCARDED
    assert sandbox.stats()["requests_total"] == 0


def test_meta_token_error_fails_at_once_naming_the_setting(hooks, hooks_config, deliver, redis_conn, platforms):
    platforms.error = (
        400,
        {"error": {"message": "Error validating access token", "type": "OAuthException", "code": 190}},
    )
    submission_id = send(hooks, "meta").json["submission_ids"][0]
    deliver(**meta_overrides(hooks))
    record = SubmissionStore(redis_conn).get(submission_id)
    assert record.status is SubmissionStatus.FAILED and record.attempts == 1
    assert "META_ACCESS_TOKEN is invalid or expired" in record.error
    # What the operator's failed list shows: the setting to fix.
    (item,) = Reprocessor(redis_conn, hooks_config).failed()
    assert item.id == submission_id and "META_ACCESS_TOKEN is invalid or expired" in item.error


def test_graph_outage_is_retried(hooks, deliver, redis_conn, platforms) -> None:
    platforms.error = (503, {"error": {"message": "Service temporarily unavailable", "code": 2}})
    submission_id = send(hooks, "meta").json["submission_ids"][0]
    deliver(**meta_overrides(hooks))
    record = SubmissionStore(redis_conn).get(submission_id)
    assert record.status is SubmissionStatus.FAILED and record.failures == 3  # the test config allows 3


def test_linkedin_lead_is_read_and_delivered(hooks, deliver, redis_conn, sandbox, platforms) -> None:
    platforms.leads[samples.LINKEDIN_RESPONSE_ID] = samples.linkedin_lead_response(form=samples.linkedin_form())
    submission_id = send(hooks, "linkedin").json["submission_ids"][0]
    deliver(**meta_overrides(hooks))
    record = SubmissionStore(redis_conn).get(submission_id)
    assert record.status is SubmissionStatus.DELIVERED, record.error
    (lead,) = sandbox.leads()
    assert lead["name"] == "Ann Lee" and "linkedin" in lead["tags"]


def test_meta_and_google_leads_end_to_end_through_web_and_worker(processes, sandbox, platforms, redis_conn) -> None:
    platforms.leads.clear()
    platforms.error = None
    platforms.leads["900000000000000001"] = samples.meta_graph_lead(
        {"full_name": "Meta Person", "email": "meta@example.com", "phone_number": "+12015550177"}
    )
    processes.env.update(
        META_APP_SECRET=SECRET,
        META_VERIFY_TOKEN=VERIFY_TOKEN,
        META_ACCESS_TOKEN="page-token",
        META_GRAPH_URL=f"{platforms.url}/v21.0",
        GOOGLE_LEAD_FORM_KEY=SECRET,
    )
    url = processes.web()
    processes.worker()
    meta_body = json_body(samples.meta_notification([900000000000000001]))
    meta = httpx.post(
        f"{url}/v1/webhooks/meta",
        content=meta_body,
        headers={"X-Hub-Signature-256": samples.meta_signature(meta_body), "Content-Type": "application/json"},
    )
    google = httpx.post(f"{url}/v1/webhooks/google", json=samples.google_lead())
    assert (meta.status_code, google.status_code) == (200, 200)
    leads = wait_for(lambda: (found := sandbox.leads()) and len(found) == 2 and found)
    by_name = {lead["name"]: lead for lead in leads}
    assert by_name["Meta Person"]["phone"] == "+12015550177" and by_name["Meta Person"]["lead_source"] == "meta"
    assert by_name["Ann Lee"]["email"] == "ann.lee@example.com" and by_name["Ann Lee"]["lead_source"] == "google-ads"
    assert "google-ads" in by_name["Ann Lee"]["tags"]


@pytest.mark.parametrize("name", [n for n in SOURCES if n != "google"])
def test_an_unsigned_body_is_401_before_it_is_read_as_json(hooks, name: str) -> None:
    assert send(hooks, name, body=b"{not json", headers={}).status_code == 401


class ChatLeadSchema(PlatformLeadSchema):
    default_source = "chatbot"
    base_tags = ("chatbot",)

    @pre_load
    def _map(self, data: Any, **kwargs: Any) -> dict[str, Any]:
        answers = [
            ("name", "Name", text_at(data, "contact.name") or ""),
            ("phone", "Phone", text_at(data, "contact.tel") or ""),
        ]
        return lead_data(answers, {"lead_id": text_at(data, "id")})


def _lead_id(payload: Any) -> str:
    lead_id = text_at(payload, "lead.id")
    if not lead_id:
        raise ValidationError({"lead.id": ["A notification names its lead."]})
    return lead_id


class ChatBot(Source):
    """A platform as the next ones will be (PollyBot, Kommo): a token in the URL, a lead id in the
    body, the lead read by id with a bearer token."""

    type = "chatbot"
    schema_class = ChatLeadSchema
    settings = (Setting("access_token", "secret", key="access_token_env"), Setting("api_url", "text", key="api_url"))

    def authenticate(self, source: SourceConfig, request: WebhookRequest) -> None:
        require_proof(secrets_equal(request.args.get("token"), source.secret or ""), "token")

    def parse(self, source: SourceConfig, request: WebhookRequest, schema: PlatformLeadSchema) -> list[Incoming]:
        lead_id = read_or_unreadable(_lead_id, request.payload)
        if isinstance(lead_id, Unreadable):
            return [unreadable(lead_id, "chatbot notification")]
        return [self.announced(lead_id, request.payload, lead_id)]

    def read_request(self, source: SourceConfig, lead_id: str) -> LeadRequest:
        headers = {"Authorization": f"Bearer {source.settings['access_token']}"}
        return LeadRequest(f"{source.settings['api_url']}/{lead_id}", "ChatBot", headers=headers)

    def read_answer(self, answer: LeadAnswer) -> dict[str, Any]:
        if answer.status != 200:
            raise LeadReadRefused(f"ChatBot answered {answer.status}", http_status=answer.status)
        return answer.payload


@pytest.fixture
def chatbot(config: Config, platforms: PlatformStub, monkeypatch: pytest.MonkeyPatch) -> Config:
    monkeypatch.setitem(registry.SOURCES, "chatbot", ChatBot())
    platforms.leads.clear()
    platforms.error = None
    platforms.authorizations.clear()
    settings = {"access_token": "bot-token", "api_url": f"{platforms.url}/rest/leadFormResponses"}
    bot = SourceConfig(name="bot", type="chatbot", secret="url-token", secret_env="X", settings=settings)
    return Config(**{**config.__dict__, "sources": {"bot": bot}})


@pytest.fixture
def chatbot_client(chatbot: Config):
    app = create_app(chatbot)
    yield app.test_client()
    app.extensions["leadgate"].connection.close()


def test_a_platform_that_is_one_module_is_served_read_and_delivered(
    chatbot, chatbot_client, deliver, redis_conn, sandbox, platforms
) -> None:
    client = chatbot_client
    notification = {"event": "lead.created", "lead": {"id": "L7"}}
    assert client.post("/v1/webhooks/bot?token=guess", json=notification).status_code == 401
    assert client.get("/v1/webhooks/bot?token=url-token").status_code == 404  # no GET handshake
    response = client.post("/v1/webhooks/bot?token=url-token", json=notification)
    assert response.status_code == 200
    (submission_id,) = response.json["submission_ids"]
    assert SubmissionStore(redis_conn).get(submission_id).read_ref == "chatbot:L7"
    unread = client.post("/v1/webhooks/bot?token=url-token", json={"event": "lead.created"})
    failed = SubmissionStore(redis_conn).get(unread.json["submission_ids"][0])
    assert failed.status is SubmissionStatus.FAILED and "lead.id" in failed.error

    platforms.leads["L7"] = {"id": "L7", "contact": {"name": "Bot Person", "tel": "+12015550188"}}
    deliver(sources=chatbot.sources)
    record = SubmissionStore(redis_conn).get(submission_id)
    assert record.status is SubmissionStatus.DELIVERED, record.error
    assert platforms.authorizations == ["Bearer bot-token"]
    (lead,) = sandbox.leads()
    assert (lead["name"], lead["lead_source"]) == ("Bot Person", "chatbot") and "chatbot" in lead["tags"]
