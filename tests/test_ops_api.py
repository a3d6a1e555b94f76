"""GET /v1/submissions/<id>: the ops view of one submission, behind the admin token."""

from __future__ import annotations

from core.config import Config
from service.app import create_app
from tests.conftest import ADMIN_TOKEN

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def test_submission_shows_status_lead_id_attempts_and_history(client, deliver) -> None:
    submission_id = client.post("/v1/forms/contact", json={"name": "Ann", "phone": "2015550123"}).json["submission_id"]
    assert client.get(f"/v1/submissions/{submission_id}", headers=AUTH).json["status"] == "queued"
    deliver()
    body = client.get(f"/v1/submissions/{submission_id}", headers=AUTH).json
    assert body["status"] == "delivered"
    assert body["lead_id"] and body["rotor_result"] == "created"
    assert body["received_at"] <= body["updated_at"]
    assert [a["http_status"] for a in body["attempts"]] == [201]
    assert [h["status"] for h in body["history"]] == ["queued", "delivered"]
    assert body["lead"]["phone"] == "+12015550123"


def test_unknown_submission_is_404(client) -> None:
    assert client.get("/v1/submissions/nope", headers=AUTH).status_code == 404


def test_missing_or_wrong_token_is_401(client) -> None:
    assert client.get("/v1/submissions/x").status_code == 401
    assert client.get("/v1/submissions/x", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/v1/submissions/x", headers={"Authorization": ADMIN_TOKEN}).status_code == 401


def test_ops_api_is_off_without_a_token(config: Config) -> None:
    app = create_app(Config(**{**config.__dict__, "admin_token": None}))
    response = app.test_client().get("/v1/submissions/x", headers=AUTH)
    assert response.status_code == 404
    assert "LEADGATE_ADMIN_TOKEN" in response.json["message"]


def test_a_body_of_white_space_is_not_json_not_an_empty_request(client) -> None:
    response = client.post("/v1/ops/deferred/run-now", data=" ", content_type="application/json", headers=AUTH)
    assert response.status_code == 400
    assert client.post("/v1/ops/deferred/run-now", headers=AUTH).status_code == 200  # no body at all: the defaults
