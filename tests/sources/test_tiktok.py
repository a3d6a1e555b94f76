"""TikTok lead callbacks: entries → Rotor bodies, exact 19-digit ids, non-lead notices. Pure, no servers."""

from __future__ import annotations

import json

import pytest
from marshmallow import ValidationError

from core.lead import ROTOR_BODY_FIELDS
from core.sources.common import Unreadable
from core.sources.tiktok import TikTokLeadSchema, idempotency_key, tiktok_leads
from tests.sources.samples import BIG_ID_TEXT, TIKTOK_ANSWERS, json_body, tiktok_callback, tiktok_entry


def received(payload: dict) -> dict:
    return json.loads(json_body(payload))


def test_each_entry_is_a_lead() -> None:
    payload = received(tiktok_callback(tiktok_entry(id=1), tiktok_entry(id=2)))
    assert [idempotency_key(entry) for entry in tiktok_leads(payload)] == ["1", "2"]


def test_19_digit_lead_ids_stay_exact() -> None:
    (entry,) = tiktok_leads(received(tiktok_callback()))
    assert idempotency_key(entry) == BIG_ID_TEXT


@pytest.mark.parametrize("object_type", [2, 3, None])
def test_other_notices_on_the_same_url_yield_no_leads(object_type: int | None) -> None:
    assert tiktok_leads({"object": object_type, "entry": [{"ad_id": 1}]}) is None


def test_answers_map_onto_the_rotor_body() -> None:
    (entry,) = tiktok_leads(received(tiktok_callback()))
    body = TikTokLeadSchema().load(entry)
    assert {key: body[key] for key in ("name", "email", "phone", "address_city", "source", "tags")} == {
        "name": "Ann Lee",
        "email": "ann.lee@example.com",
        "phone": "+12015550123",
        "address_city": "Springfield",
        "source": "tiktok",
        "tags": ["tiktok"],
    }
    assert set(body) <= set(ROTOR_BODY_FIELDS)


@pytest.mark.parametrize(
    ("key", "field"),
    [
        ("full_name", "name"),
        ("state", "address_state"),
        ("zip_code", "address_zip"),
        ("country", "address_country"),
    ],
)
def test_other_standard_keys(key: str, field: str) -> None:
    body = TikTokLeadSchema().load(tiktok_entry({"email": "a@example.com", "first_name": "Ann", key: "Value 1"}))
    assert body[field] == "Value 1"


def test_first_and_last_name_are_joined() -> None:
    body = TikTokLeadSchema().load(tiktok_entry({"first_name": "Ann", "last_name": "Lee", "email": "a@example.com"}))
    assert body["name"] == "Ann Lee"


def test_custom_questions_and_attribution_go_to_the_notes() -> None:
    (entry,) = tiktok_leads(received(tiktok_callback()))
    assert TikTokLeadSchema().load(entry)["notes"] == (
        "Answers:\nWhat is your budget?: $5k-$10k\n\n"
        f"Attribution:\nlead_id: {BIG_ID_TEXT}\ncreate_time: 1727352000\nform_id: 7300000000000000001\n"
        "advertiser_id: 7300000000000000002\ncampaign_id: 7300000000000000003\n"
        "adgroup_id: 7300000000000000004\n"
        "ad_id: 7300000000000000005\nlead_source: INSTANT_FORM"
    )


def test_a_non_ascii_answer_survives() -> None:
    body = TikTokLeadSchema().load(received(tiktok_entry({**TIKTOK_ANSWERS, "name": "Zoë Ørsted"})))
    assert body["name"] == "Zoë Ørsted"


def test_source_and_tags_can_be_configured() -> None:
    body = TikTokLeadSchema(source="tiktok-roofing", tags=["roofing"]).load(tiktok_entry())
    assert (body["source"], body["tags"]) == ("tiktok-roofing", ["tiktok", "roofing"])


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ([], "_schema"),
        ({"object": 1}, "entry"),
        ({"object": 1, "entry": {"id": 1}}, "entry"),
    ],
)
def test_malformed_callbacks_name_the_problem(payload: object, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        tiktok_leads(payload)
    assert list(caught.value.messages) == [field]


@pytest.mark.parametrize(
    ("entry", "field"),
    [("lead", "entry.1"), ({"changes": []}, "entry.1.id"), ({"id": 1.5e18, "changes": []}, "entry.1.id")],
)
def test_an_entry_without_its_id_is_unreadable_and_the_others_are_still_leads(entry: object, field: str) -> None:
    good, bad = tiktok_leads({"object": 1, "entry": [tiktok_entry(id=1), entry]})
    assert idempotency_key(good) == "1"
    assert bad == Unreadable(entry, {field: bad.problem[field]}) and bad.problem[field]


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({"id": 1}, "changes"),
        ({"id": 1, "changes": [{"value": "x"}]}, "changes.0.field"),
        ({"id": 1, "changes": ["x"]}, "changes.0"),
        ({"changes": []}, "id"),
    ],
)
def test_malformed_entries_name_the_problem(entry: dict, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        TikTokLeadSchema().load(entry)
    assert field in caught.value.messages
