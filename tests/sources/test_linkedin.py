"""LinkedIn Lead Sync: the notification → response URN, the lead form response → Rotor body. Pure."""

from __future__ import annotations

import pytest
from marshmallow import ValidationError

from core.lead import ROTOR_BODY_FIELDS
from core.sources.linkedin import (
    FORM_NEEDED,
    LEAD_RESPONSE_FIELDS,
    LinkedInLeadRef,
    LinkedInLeadSchema,
    idempotency_key,
    is_linkedin_test_lead,
    parse_linkedin_notification,
)
from tests.sources.samples import (
    LINKEDIN_RESPONSE_ID,
    linkedin_form,
    linkedin_lead_response,
    linkedin_notification,
)

URN = f"urn:li:leadGenFormResponse:{LINKEDIN_RESPONSE_ID}"


# --- the notification -------------------------------------------------------------------------------


def test_a_lead_notification_names_the_response_to_read() -> None:
    assert parse_linkedin_notification(linkedin_notification()) == LinkedInLeadRef(
        response_urn=URN,
        response_id=LINKEDIN_RESPONSE_ID,
        action="CREATED",
        lead_type="SPONSORED",
        form_urn="urn:li:versionedLeadGenForm:(urn:li:leadGenForm:7234246,1)",
        occurred_at=1689894599288,
    )


def test_attribution_that_is_off_is_left_out_and_the_lead_still_named() -> None:
    ref = parse_linkedin_notification({**linkedin_notification(), "occurredAt": "yesterday"})
    assert ref is not None and ref.response_urn == URN and ref.occurred_at is None


def test_a_deletion_is_reported_as_such() -> None:
    ref = parse_linkedin_notification(linkedin_notification(action="DELETED"))
    assert ref is not None and ref.action == "DELETED"


def test_the_idempotency_key_is_the_response_urn() -> None:
    ref = parse_linkedin_notification(linkedin_notification())
    assert ref is not None and idempotency_key(ref) == URN


def test_other_event_types_name_no_lead() -> None:
    other = {"type": "ORGANIZATION_SOCIAL_ACTION_NOTIFICATIONS", "notifications": []}
    assert parse_linkedin_notification(other) is None


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"type": "LEAD_ACTION", "leadAction": "CREATED"}, "leadGenFormResponse"),
        ({**linkedin_notification(), "leadGenFormResponse": "urn:li:leadGenForm:1"}, "leadGenFormResponse"),
        (
            {**linkedin_notification(), "leadGenFormResponse": "urn:li:leadGenFormResponse:"},
            "leadGenFormResponse",
        ),
        ({**linkedin_notification(), "leadGenFormResponse": 42}, "leadGenFormResponse"),
        ({k: v for k, v in linkedin_notification().items() if k != "leadAction"}, "leadAction"),
        (["LEAD_ACTION"], "_schema"),
    ],
)
def test_malformed_notifications_name_the_problem(payload: object, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_linkedin_notification(payload)
    assert list(caught.value.messages) == [field]


# --- the lead form response --------------------------------------------------------------------------


def test_the_projection_brings_the_form_along() -> None:
    assert "formResponse" in LEAD_RESPONSE_FIELDS and "form:(hiddenFields,name,id,content)" in LEAD_RESPONSE_FIELDS


def test_predefined_questions_map_onto_the_rotor_body() -> None:
    body = LinkedInLeadSchema().load(linkedin_lead_response(form=linkedin_form()))
    assert {key: body[key] for key in body if key not in ("notes", "tags")} == {
        "name": "Ann Lee",
        "email": "ann.lee@example.com",
        "phone": "+12015550123",
        "address_city": "Springfield",
        "address_state": "NJ",
        "address_zip": "07081",
        "address_country": "US",
        "source": "linkedin",
    }
    assert body["tags"] == ["linkedin"]
    assert set(body) <= set(ROTOR_BODY_FIELDS)


def test_custom_questions_and_choices_go_to_the_answers() -> None:
    notes = LinkedInLeadSchema().load(linkedin_lead_response(form=linkedin_form()))["notes"]
    assert notes.startswith(
        "Answers:\nJob title: Engineer\nWhere did you grow up?: Mexico\nFavourite colour?: Blue\n\n"
    )


def test_attribution_and_hidden_fields_go_to_the_notes() -> None:
    notes = LinkedInLeadSchema().load(linkedin_lead_response(form=linkedin_form()))["notes"]
    assert notes.endswith(
        f"Attribution:\nlead_id: {LINKEDIN_RESPONSE_ID}\nsubmitted_at: 1689894599288\nlead_type: SPONSORED\n"
        "form: urn:li:versionedLeadGenForm:(urn:li:leadGenForm:7234246,1)\n"
        "campaign: urn:li:sponsoredCampaign:198356826\ncreative: urn:li:sponsoredCreative:241257736\n"
        "utm_source: linkedin\nutm_campaign: spring"
    )


def test_a_form_fetched_separately_can_be_passed_in() -> None:
    body = LinkedInLeadSchema(form=linkedin_form()).load(linkedin_lead_response())
    assert (body["name"], body["email"]) == ("Ann Lee", "ann.lee@example.com")


def test_work_email_is_the_fallback() -> None:
    form = linkedin_form()
    form["content"]["questions"].append({"questionId": 120, "name": "Work email", "predefinedField": "WORK_EMAIL"})
    body = LinkedInLeadSchema(form=form).load(linkedin_lead_response({101: "Ann", 102: "Lee", 120: "ann@acme.com"}))
    assert body["email"] == "ann@acme.com"


def test_an_answer_to_an_unknown_question_is_kept_under_its_id() -> None:
    answers = {101: "Ann", 103: "ann@example.com", 999: "Surprise"}
    notes = LinkedInLeadSchema(form=linkedin_form()).load(linkedin_lead_response(answers))["notes"]
    assert "Question 999: Surprise" in notes


def test_without_the_form_the_answers_cannot_be_read() -> None:
    with pytest.raises(ValidationError) as caught:
        LinkedInLeadSchema().load(linkedin_lead_response())
    assert caught.value.messages == {"form": [FORM_NEEDED]}


def test_source_and_tags_can_be_configured() -> None:
    body = LinkedInLeadSchema(source="linkedin-b2b", tags=["b2b"]).load(linkedin_lead_response(form=linkedin_form()))
    assert (body["source"], body["tags"]) == ("linkedin-b2b", ["linkedin", "b2b"])


@pytest.mark.parametrize(
    ("response", "field"),
    [
        ({"id": "x"}, "formResponse.answers"),
        ({"id": "x", "formResponse": {"answers": "none"}}, "formResponse.answers"),
        ({"id": "x", "form": linkedin_form(), "formResponse": {"answers": ["x"]}}, "formResponse.answers.0"),
        ("response", "_schema"),
    ],
)
def test_malformed_responses_name_the_problem(response: object, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        LinkedInLeadSchema().load(response)  # type: ignore[arg-type]
    assert list(caught.value.messages) == [field]


def test_test_leads_are_recognised() -> None:
    assert is_linkedin_test_lead(linkedin_lead_response(testLead=True))
    assert not is_linkedin_test_lead(linkedin_lead_response())
    assert not is_linkedin_test_lead(None)
