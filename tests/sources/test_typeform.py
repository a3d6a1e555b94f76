"""Typeform form_response webhooks: answers by type, ref and title; hidden fields; errors. Pure."""

from __future__ import annotations

import pytest
from marshmallow import ValidationError

from core.lead import ROTOR_BODY_FIELDS
from core.sources.typeform import TypeformLeadSchema, idempotency_key
from tests.sources.samples import TYPEFORM_FIELDS, typeform_answer, typeform_event, typeform_field

EMAIL = typeform_answer(TYPEFORM_FIELDS["email"], "email", "ann@example.com")


def load(event: dict, **options: object) -> dict:
    return TypeformLeadSchema(**options).load(event)  # type: ignore[arg-type]


def named(title: str, value: str, ref: str | None = None) -> dict:
    field = typeform_field("Fx", "short_text", title, ref)
    return typeform_event([typeform_answer(field, "text", value), EMAIL], fields=[field, TYPEFORM_FIELDS["email"]])


def test_answers_map_onto_the_rotor_body() -> None:
    body = load(typeform_event())
    assert {key: body[key] for key in body if key not in ("notes", "tags")} == {
        "name": "Ann Lee",
        "email": "ann.lee@example.com",
        "phone": "+12015550123",
        "address_city": "Springfield",
        "source": "typeform",
    }
    assert set(body) <= set(ROTOR_BODY_FIELDS)


def test_email_and_phone_are_known_by_answer_type_whatever_the_title() -> None:
    body = load(typeform_event())
    assert (body["email"], body["phone"]) == ("ann.lee@example.com", "+12015550123")


@pytest.mark.parametrize(
    ("title", "ref"),
    [
        ("What's your name?", None),
        ("Name", None),
        ("Your full name, please", None),
        ("Who are you?", "full_name"),
        ("Who are you?", "name"),
    ],
)
def test_the_name_is_found_by_title_or_ref(title: str, ref: str | None) -> None:
    assert load(named(title, "Ann Lee", ref))["name"] == "Ann Lee"


def test_a_readable_ref_maps_other_fields_too() -> None:
    # ref "city" and ref "message" (the sample's) use the website forms' alias table.
    body = load(typeform_event())
    assert body["address_city"] == "Springfield"
    assert body["notes"].startswith("The roof leaks.\n\n")


def test_choices_and_other_questions_go_to_the_answers() -> None:
    notes = load(typeform_event())["notes"]
    assert "Answers:\nWhich service do you need?: Roof repair\nAnything else?: Gutters, Skylight, Chimney\n" in notes


@pytest.mark.parametrize(
    ("answer_type", "value", "shown"),
    [
        ("number", 3, "3"),
        ("boolean", True, "yes"),
        ("date", "2024-10-01", "2024-10-01"),
        ("choice", {"other": "Attic"}, "Attic"),
    ],
)
def test_other_answer_types_are_written_out(answer_type: str, value: object, shown: str) -> None:
    field = typeform_field("Fz", "opinion_scale", "How soon?")
    base = named("Name", "Ann")["form_response"]
    event = typeform_event(
        [*base["answers"], typeform_answer(field, answer_type, value)],
        fields=[*base["definition"]["fields"], field],
    )
    assert f"How soon?: {shown}" in load(event)["notes"]


def test_hidden_utms_are_attribution_and_tags_other_hidden_fields_are_answers() -> None:
    body = load(typeform_event())
    assert body["tags"] == ["typeform", "utm_source:google", "utm_campaign:spring"]
    assert "\nPartner: acme" in body["notes"]
    assert body["notes"].endswith(
        "Attribution:\nresponse_id: a3a12ec67a1365927098a606107fac15\nform_id: lT4Z3j\n"
        "form_title: Roof quote\n"
        "submitted_at: 2024-09-26T12:30:00Z\nutm_source: google\nutm_campaign: spring"
    )


def test_without_the_definition_answers_are_still_known_by_type_and_ref() -> None:
    event = named("Who are you?", "Ann Lee", ref="name")
    event["form_response"]["definition"]["fields"] = []
    body = load(event)
    assert (body["name"], body["email"]) == ("Ann Lee", "ann@example.com")


def test_source_and_tags_can_be_configured() -> None:
    body = load(typeform_event(hidden={}), source="typeform-quotes", tags=["quotes"])
    assert (body["source"], body["tags"]) == ("typeform-quotes", ["typeform", "quotes"])


def test_idempotency_key_is_the_response_token() -> None:
    assert idempotency_key(typeform_event()) == "a3a12ec67a1365927098a606107fac15"


@pytest.mark.parametrize("payload", [{}, {"form_response": {}}, None, []])
def test_a_response_without_a_token_has_no_key(payload: object) -> None:
    with pytest.raises(ValidationError) as caught:
        idempotency_key(payload)
    assert list(caught.value.messages) == ["form_response.token"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"event_type": "form_response"}, "form_response"),
        ({"form_response": {"token": "t"}}, "form_response.answers"),
        ({"form_response": {"answers": ["x"]}}, "form_response.answers.0"),
        ("event", "_schema"),
    ],
)
def test_malformed_events_name_the_problem(payload: object, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        load(payload)  # type: ignore[arg-type]
    assert list(caught.value.messages) == [field]
