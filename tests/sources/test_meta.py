"""Meta Lead Ads: the leadgen notification, the Graph lead → Rotor body, test leads. Pure, no servers."""

from __future__ import annotations

import dataclasses
import json

import pytest
from marshmallow import ValidationError

from core.lead import ROTOR_BODY_FIELDS
from core.sources.common import Unreadable
from core.sources.meta import (
    GRAPH_LEAD_FIELDS,
    MetaLeadRef,
    MetaLeadSchema,
    idempotency_key,
    is_meta_test_lead,
    parse_leadgen_notification,
)
from tests.sources.samples import (
    ANN_LEE_BODY,
    BIG_ID,
    BIG_ID_TEXT,
    META_ANSWERS,
    meta_graph_lead,
    meta_notification,
    meta_test_graph_lead,
)


def load(lead: dict, **options: object) -> dict:
    return MetaLeadSchema(**options).load(lead)  # type: ignore[arg-type]


# --- the notification -------------------------------------------------------------------------------


def test_notification_yields_one_ref_per_leadgen_change() -> None:
    refs = parse_leadgen_notification(meta_notification(["111", "222"]))
    assert [ref.leadgen_id for ref in refs] == ["111", "222"]
    assert refs[0] == MetaLeadRef(
        leadgen_id="111",
        page_id="555555555555",
        form_id="666666666666",
        ad_id="888888888888",
        adgroup_id="777777777777",
        created_time=1727352000,
    )


def test_every_entry_of_a_batch_is_read() -> None:
    payload = meta_notification(["111"])
    payload["entry"] += meta_notification(["222", "333"])["entry"]
    assert [ref.leadgen_id for ref in parse_leadgen_notification(payload)] == ["111", "222", "333"]


def test_changes_of_other_fields_are_ignored() -> None:
    payload = meta_notification(["111"])
    payload["entry"][0]["changes"].insert(0, {"field": "feed", "value": {"item": "post", "verb": "add"}})
    assert [ref.leadgen_id for ref in parse_leadgen_notification(payload)] == ["111"]


def test_an_entry_without_changes_yields_nothing() -> None:
    assert parse_leadgen_notification({"object": "page", "entry": [{"id": "1", "time": 1}]}) == []


def test_numeric_ids_become_their_exact_decimal_strings() -> None:
    # Parsed from JSON text, as the view will: 19 digits survive only as an int, never a float.
    payload = json.loads(json.dumps(meta_notification([BIG_ID], page_id=BIG_ID - 1)))
    (ref,) = parse_leadgen_notification(payload)
    assert ref.leadgen_id == BIG_ID_TEXT
    assert ref.page_id == str(BIG_ID - 1)


def test_refs_are_frozen() -> None:
    (ref,) = parse_leadgen_notification(meta_notification())
    with pytest.raises(dataclasses.FrozenInstanceError):
        ref.leadgen_id = "other"  # type: ignore[misc]


def test_idempotency_key_is_the_leadgen_id() -> None:
    (ref,) = parse_leadgen_notification(meta_notification(["123"]))
    assert idempotency_key(ref) == "123"


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ([], {"_schema": ["A Meta notification must be a JSON object."]}),
        ("page", {"_schema": ["A Meta notification must be a JSON object."]}),
        ({"object": "page"}, {"entry": ["A Meta notification needs its entry list."]}),
        ({"entry": {"id": "1"}}, {"entry": ["entry must be a list."]}),
        ({"entry": ["x"]}, {"entry": {0: {"_schema": ["Each entry must be a JSON object."]}}}),
    ],
)
def test_malformed_notifications_name_the_problem(payload: object, expected: dict) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_leadgen_notification(payload)
    assert caught.value.messages == expected


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"page_id": "1"}, {"value": {"leadgen_id": ["A leadgen change needs its leadgen_id."]}}),
        (None, {"value": {"_schema": ["A leadgen change's value must be a JSON object."]}}),
    ],
)
def test_a_change_that_names_no_lead_is_unreadable_and_the_others_are_still_read(value: object, problem: dict) -> None:
    payload = meta_notification(["111", "222"])
    payload["entry"][0]["changes"][1]["value"] = value
    first, second = parse_leadgen_notification(payload)
    assert isinstance(first, MetaLeadRef) and first.leadgen_id == "111"
    assert second == Unreadable(value, problem)


@pytest.mark.parametrize("bad_id", [1.2345678901234568e18, True, "", {"id": 1}])
def test_a_leadgen_id_that_is_not_an_exact_id_makes_the_change_unreadable(bad_id: object) -> None:
    (ref,) = parse_leadgen_notification(meta_notification([bad_id]))  # type: ignore[list-item]
    assert isinstance(ref, Unreadable) and "leadgen_id" in ref.problem["value"]


def test_attribution_that_is_off_is_left_out_and_the_lead_still_read() -> None:
    payload = meta_notification(["111"])
    payload["entry"][0]["changes"][0]["value"].update(created_time="yesterday", page_id=1.5)
    (ref,) = parse_leadgen_notification(payload)
    assert ref.leadgen_id == "111" and ref.created_time is None and ref.page_id is None
    assert ref.form_id == "666666666666"


# --- the Graph lead -------------------------------------------------------------------------------------


def test_graph_fields_ask_for_attribution() -> None:
    requested = GRAPH_LEAD_FIELDS.split(",")
    for field in ("field_data", "form_id", "ad_id", "adset_id", "campaign_name", "is_organic", "platform"):
        assert field in requested


def test_standard_answers_map_onto_the_rotor_body() -> None:
    body = load(meta_graph_lead())
    assert {key: body[key] for key in body if key not in ("notes", "tags")} == {**ANN_LEE_BODY, "source": "meta"}
    assert set(body) <= set(ROTOR_BODY_FIELDS)


@pytest.mark.parametrize(
    ("key", "value", "field"),
    [("province", "Ontario", "address_state"), ("post_code", "K1A 0B1", "address_zip")],
)
def test_alternative_address_keys(key: str, value: str, field: str) -> None:
    assert load(meta_graph_lead({"full_name": "Ann Lee", "email": "a@example.com", key: value}))[field] == value


def test_first_and_last_name_are_joined() -> None:
    body = load(meta_graph_lead({"first_name": "Ann", "last_name": "Lee", "email": "a@example.com"}))
    assert body["name"] == "Ann Lee"


def test_work_contact_details_are_the_fallback() -> None:
    body = load(
        meta_graph_lead({"full_name": "Ann Lee", "work_email": "ann@acme.com", "work_phone_number": "2015550123"})
    )
    assert (body["email"], body["phone"]) == ("ann@acme.com", "+12015550123")


def test_work_contact_details_go_to_the_notes_when_personal_ones_exist() -> None:
    body = load(meta_graph_lead({**META_ANSWERS, "work_email": "ann@acme.com"}))
    assert body["email"] == "ann.lee@example.com"
    assert "Work email: ann@acme.com" in body["notes"]


def test_custom_and_unmapped_questions_go_to_the_answers_with_readable_labels() -> None:
    answers = {**META_ANSWERS, "job_title": "Owner", "your_budget_range?": ["up_to_₹75_lacs"]}
    notes = load(meta_graph_lead(answers))["notes"]
    assert notes.startswith(
        "Answers:\nWhat service do you need?: roof_repair\nJob title: Owner\nYour budget range?: up_to_₹75_lacs\n\n"
    )


def test_several_values_of_one_question_are_joined() -> None:
    notes = load(meta_graph_lead({**META_ANSWERS, "which_rooms?": ["kitchen", "bath"]}))["notes"]
    assert "Which rooms?: kitchen, bath" in notes


def test_attribution_goes_to_the_notes_and_platform_to_a_tag() -> None:
    body = load(meta_graph_lead(platform="ig"))
    assert body["tags"] == ["meta", "platform:ig"]
    assert body["notes"].endswith(
        "Attribution:\nlead_id: 444444444444\ncreated_time: 2024-09-26T12:00:00+0000\nform_id: 666666666666\n"
        "campaign_id: 111111111111\nadset_id: 999999999999\nad_id: 888888888888\n"
        "campaign_name: Spring roofs\n"
        "adset_name: Homeowners\nad_name: Roof ad\nplatform: ig\nis_organic: no"
    )


def test_organic_leads_have_no_ad_id() -> None:
    body = load(meta_graph_lead(ad_id="0", adset_id=None, is_organic=True))
    assert "\nad_id:" not in body["notes"] and "\nadset_id:" not in body["notes"]
    assert "is_organic: yes" in body["notes"]


def test_numeric_graph_ids_stay_exact() -> None:
    body = load(json.loads(json.dumps(meta_graph_lead(id=BIG_ID, ad_id=BIG_ID))))
    assert f"lead_id: {BIG_ID_TEXT}" in body["notes"] and f"ad_id: {BIG_ID_TEXT}" in body["notes"]


@pytest.mark.parametrize(
    ("key", "value", "field", "expected"),
    [
        ("phone_number", "p:+12015550123", "phone", "+12015550123"),
        ("zip_code", "z:07081", "address_zip", "07081"),
    ],
)
def test_csv_type_prefixes_are_stripped(key: str, value: str, field: str, expected: str) -> None:
    assert load(meta_graph_lead({**META_ANSWERS, key: value}))[field] == expected


def test_source_and_tags_can_be_configured() -> None:
    body = load(meta_graph_lead(), source="facebook-roofing", tags=["roofing"])
    assert body["source"] == "facebook-roofing"
    assert body["tags"] == ["meta", "roofing", "platform:fb"]


def test_phone_region_applies_to_national_numbers() -> None:
    body = load(meta_graph_lead({**META_ANSWERS, "phone_number": "020 7946 0958"}), phone_region="GB")
    assert body["phone"] == "+442079460958"


def test_a_lead_without_any_contact_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        load(meta_graph_lead({"full_name": "Ann Lee", "city": "Springfield"}))
    assert set(caught.value.messages) == {"phone", "email"}


@pytest.mark.parametrize(
    ("lead", "field"),
    [
        ({"id": "1"}, "field_data"),
        ({"id": "1", "field_data": {"email": "a@example.com"}}, "field_data"),
        ({"id": "1", "field_data": [{"values": ["x"]}]}, "field_data.0"),
        ({"id": "1", "field_data": ["email"]}, "field_data.0"),
        ({"id": 1.5, "field_data": [{"name": "email", "values": ["a@example.com"]}]}, "id"),
    ],
)
def test_malformed_graph_leads_name_the_problem(lead: dict, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        load(lead)
    assert field in caught.value.messages


def test_a_graph_lead_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        load(["not", "a", "lead"])  # type: ignore[arg-type]
    assert caught.value.messages == {"_schema": ["Expected a JSON object, got a list."]}


# --- test leads -----------------------------------------------------------------------------------------


def test_testing_tool_leads_are_recognised() -> None:
    assert is_meta_test_lead(meta_test_graph_lead())


@pytest.mark.parametrize(
    "answers",
    [
        {"full_name": "<test lead: dummy data for full_name>"},
        {"phone_number": "p:<test lead: dummy data for phone_number>"},
        {"email": "test@meta.com"},
        {"email": "TEST@FB.COM"},
    ],
)
def test_any_placeholder_or_test_email_marks_a_test_lead(answers: dict) -> None:
    assert is_meta_test_lead(meta_graph_lead({"full_name": "Ann Lee", **answers}))


@pytest.mark.parametrize(
    "lead",
    [meta_graph_lead(), {}, None, "lead", {"field_data": "x"}, {"field_data": [None, {"values": "x"}]}],
)
def test_real_or_malformed_leads_are_not_test_leads(lead: object) -> None:
    assert is_meta_test_lead(lead) is False


def test_a_test_lead_fails_to_load_so_it_must_be_checked_first() -> None:
    with pytest.raises(ValidationError) as caught:
        load(meta_test_graph_lead())
    assert "phone" in caught.value.messages
