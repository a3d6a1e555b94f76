"""Google Ads lead form webhooks: columns → Rotor body, exact int64 ids, test leads, envelope errors."""

from __future__ import annotations

import json

import pytest
from marshmallow import ValidationError

from core.lead import ROTOR_BODY_FIELDS
from core.sources.google import (
    GoogleLeadRef,
    GoogleLeadSchema,
    idempotency_key,
    is_google_test_lead,
    parse_google_payload,
)
from tests.sources.samples import ANN_LEE_BODY, BIG_ID, BIG_ID_TEXT, SECRET, google_lead

CONTACT = [("FULL_NAME", "Ann Lee", None), ("EMAIL", "ann@example.com", None)]


def load(payload: object, **options: object) -> dict:
    # Through JSON text, as the view receives it: that is where int64 ids could lose digits.
    return GoogleLeadSchema(**options).load(json.loads(json.dumps(payload)))  # type: ignore[arg-type]


def test_standard_columns_map_onto_the_rotor_body() -> None:
    body = load(google_lead())
    assert {key: body[key] for key in body if key not in ("notes", "tags")} == {**ANN_LEE_BODY, "source": "google-ads"}
    assert body["tags"] == ["google-ads"]
    assert set(body) <= set(ROTOR_BODY_FIELDS)


@pytest.mark.parametrize(("first", "last"), [("FIRST_NAME", "LAST_NAME"), ("GIVEN_NAME", "FAMILY_NAME")])
def test_split_names_are_joined_under_either_spelling(first: str, last: str) -> None:
    body = load(google_lead([(first, "Ann", "First name"), (last, "Lee", "Last name"), CONTACT[1]]))
    assert body["name"] == "Ann Lee"


def test_work_email_and_phone_are_the_fallback() -> None:
    body = load(google_lead([CONTACT[0], ("WORK_EMAIL", "ann@acme.com", None), ("WORK_PHONE", "2015550123", None)]))
    assert (body["email"], body["phone"]) == ("ann@acme.com", "+12015550123")


def test_work_email_goes_to_the_notes_when_an_email_exists() -> None:
    body = load(google_lead([*CONTACT, ("WORK_EMAIL", "ann@acme.com", "Work email")]))
    assert body["email"] == "ann@example.com"
    assert "Work email: ann@acme.com" in body["notes"]


def test_company_job_title_and_custom_questions_go_to_the_answers() -> None:
    columns = [
        *CONTACT,
        ("COMPANY_NAME", "Acme Roofing", None),
        ("JOB_TITLE", "Owner", "Job title"),
        ("QUESTION_1", "Next week", "When should we start?"),
        ("SERVICE", "Roof repair", None),
    ]
    notes = load(google_lead(columns))["notes"]
    assert notes.startswith(
        "Answers:\nCompany name: Acme Roofing\nJob title: Owner\nWhen should we start?: Next week\n"
        "Service: Roof repair\n\n"
    )


def test_attribution_keeps_int64_ids_exact() -> None:
    notes = load(google_lead(form_id=BIG_ID, campaign_id=BIG_ID - 1, asset_group_id=BIG_ID - 2))["notes"]
    assert notes.endswith(
        "Attribution:\nlead_id: Cj0KCQjw-lead-1\nlead_submit_time: 2024-09-26T12:30:00Z\n"
        f"gclid: EAIaIQobChMI-gclid\nform_id: {BIG_ID_TEXT}\ncampaign_id: {BIG_ID - 1}\n"
        f"adgroup_id: 20000000001\ncreative_id: 10000000001\nasset_group_id: {BIG_ID - 2}\nlead_stage: NEW"
    )


def test_ids_sent_as_strings_are_kept() -> None:
    assert f"form_id: {BIG_ID_TEXT}\n" in load(google_lead(form_id=BIG_ID_TEXT))["notes"]


def test_an_id_that_lost_its_digits_is_refused_by_name() -> None:
    with pytest.raises(ValidationError) as caught:
        GoogleLeadSchema().load(google_lead(campaign_id=float(BIG_ID)))
    assert list(caught.value.messages) == ["campaign_id"]


def test_older_leads_without_the_newer_fields_load() -> None:
    payload = {"lead_id": "old-1", "user_column_data": google_lead(CONTACT)["user_column_data"], "form_id": 1}
    assert load(payload)["notes"] == "Attribution:\nlead_id: old-1\nform_id: 1"


def test_unknown_top_level_fields_are_ignored() -> None:
    body = load(google_lead(brand_new_field={"nested": True}, another=1))
    assert "brand_new_field" not in body["notes"] and "another" not in body


def test_blank_answers_are_left_out() -> None:
    notes = load(google_lead([*CONTACT, ("QUESTION_1", "", "Anything else?")]))["notes"]
    assert "Anything else" not in notes


def test_source_and_tags_can_be_configured() -> None:
    body = load(google_lead(), source="google-roofing", tags=["roofing"])
    assert (body["source"], body["tags"]) == ("google-roofing", ["google-ads", "roofing"])


# --- envelope, key, test leads --------------------------------------------------------------------------


def test_parse_reads_key_test_flag_and_lead_id() -> None:
    assert parse_google_payload(google_lead()) == GoogleLeadRef(
        lead_id="Cj0KCQjw-lead-1", google_key=SECRET, is_test=False
    )


def test_top_level_keys_are_read_case_insensitively() -> None:
    payload = google_lead()
    payload["Google_key"] = payload.pop("google_key")
    assert parse_google_payload(payload).google_key == SECRET


def test_test_data_sends_are_recognised() -> None:
    payload = google_lead(lead_id="TeSter-123-ABCDEFGHIJKLMNOPQRSTUVWXYZ-abcdefghijklmnopqrstuvwxyz", is_test=True)
    assert is_google_test_lead(payload)
    assert parse_google_payload(payload).is_test


@pytest.mark.parametrize("payload", [google_lead(), google_lead(is_test="yes"), {}, None, ["is_test"]])
def test_other_payloads_are_not_test_leads(payload: object) -> None:
    assert is_google_test_lead(payload) is False


def test_idempotency_key_is_the_lead_id() -> None:
    assert idempotency_key(google_lead(lead_id=BIG_ID)) == BIG_ID_TEXT


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"user_column_data": []}, {"lead_id": ["A Google lead needs its lead_id."]}),
        (
            {"lead_id": "1"},
            {"user_column_data": ["A Google lead needs user_column_data, its list of answers."]},
        ),
        (
            {"lead_id": "1", "user_column_data": {"EMAIL": "a"}},
            {"user_column_data": ["user_column_data must be a list."]},
        ),
        ([], {"_schema": ["A Google lead must be a JSON object."]}),
    ],
)
def test_malformed_envelopes_name_the_problem(payload: object, expected: dict) -> None:
    for parse in (parse_google_payload, idempotency_key, GoogleLeadSchema().load):
        with pytest.raises(ValidationError) as caught:
            parse(payload)  # type: ignore[operator]
        assert caught.value.messages == expected


def test_a_column_that_is_not_an_object_is_named() -> None:
    with pytest.raises(ValidationError) as caught:
        load({"lead_id": "1", "user_column_data": [google_lead(CONTACT)["user_column_data"][0], "EMAIL"]})
    assert list(caught.value.messages) == ["user_column_data.1"]
