"""Website form fields → Rotor upsert body: aliases, normalisation, attribution. Pure, no servers."""

from __future__ import annotations

import pytest
from marshmallow import ValidationError

from core.config import FormConfig
from core.lead import NOTES_LIMIT, ROTOR_BODY_FIELDS
from core.sources.forms import WebsiteFormSchema, fold_key, is_bot

FORM = FormConfig(key="contact", tags=("website",))
PERSON = {"name": "Ann Lee", "phone": "2015550123"}


def load(fields: dict, form: FormConfig = FORM, region: str = "US") -> dict:
    return WebsiteFormSchema(form=form, phone_region=region).load(fields)


@pytest.mark.parametrize("key", ["name", "Name", "full_name", "Full Name", "FULLNAME", "your-name"])
def test_name_aliases(key: str) -> None:
    assert load({key: "  Ann   Lee ", "email": "a@example.com"})["name"] == "Ann Lee"


@pytest.mark.parametrize(
    ("first", "last"), [("first_name", "last_name"), ("First Name", "Last Name"), ("fname", "lname")]
)
def test_first_and_last_name_are_joined(first: str, last: str) -> None:
    assert load({first: "Ann", last: "Lee", "email": "a@example.com"})["name"] == "Ann Lee"


def test_full_name_wins_over_parts() -> None:
    assert load({"name": "Ann Lee", "first_name": "A", "email": "a@example.com"})["name"] == "Ann Lee"


@pytest.mark.parametrize("key", ["email", "E-mail", "e_mail", "_replyto", "Email Address"])
def test_email_aliases_lower_case(key: str) -> None:
    assert load({"name": "Ann", key: " Ann.Lee@Example.COM "})["email"] == "ann.lee@example.com"


@pytest.mark.parametrize("key", ["phone", "tel", "mobile", "phone_number", "Phone Number", "Telephone"])
def test_phone_aliases(key: str) -> None:
    assert load({"name": "Ann", key: "201-555-0123"})["phone"] == "+12015550123"


@pytest.mark.parametrize(
    "typed",
    ["2015550123", "(201) 555-0123", "201.555.0123", "201 555 0123", "+1 201 555 0123", "1-201-555-0123", 2015550123],
)
def test_phone_formats_become_e164(typed: object) -> None:
    assert load({"name": "Ann", "phone": typed})["phone"] == "+12015550123"


def test_phone_region_applies_to_national_numbers() -> None:
    assert load({"name": "Ann", "phone": "020 7946 0958"}, region="GB")["phone"] == "+442079460958"


@pytest.mark.parametrize(
    ("key", "field"),
    [
        ("address", "address_street1"),
        ("Street", "address_street1"),
        ("city", "address_city"),
        ("State", "address_state"),
        ("zip", "address_zip"),
        ("postal_code", "address_zip"),
        ("Postal Code", "address_zip"),
        ("country", "address_country"),
        ("service", "service_type"),
        ("Service", "service_type"),
    ],
)
def test_address_and_service_aliases(key: str, field: str) -> None:
    assert load({**PERSON, key: "Value 1"})[field] == "Value 1"


@pytest.mark.parametrize("key", ["message", "comments", "Comments", "notes"])
def test_message_becomes_notes(key: str) -> None:
    assert load({**PERSON, key: "My roof leaks"})["notes"] == "My roof leaks"


def test_numeric_zip_from_json_is_text() -> None:
    assert load({**PERSON, "zip": 2139})["address_zip"] == "2139"


def test_attribution_goes_to_tags_and_notes() -> None:
    body = load(
        {
            **PERSON,
            "message": "Hi",
            "utm_source": "google",
            "utm_medium": "cpc",
            "utm_campaign": "spring",
            "utm_term": "roof repair",
            "gclid": "Cj0KCQ",
            "fbclid": "IwAR",
            "page_url": "https://roofs.example/quote",
            "referrer": "https://www.google.com/",
        }
    )
    assert body["tags"] == ["website", "utm_source:google", "utm_medium:cpc", "utm_campaign:spring"]
    assert body["notes"].startswith("Hi\n\nAttribution:\n")
    for line in (
        "utm_term: roof repair",
        "gclid: Cj0KCQ",
        "fbclid: IwAR",
        "page_url: https://roofs.example/quote",
        "referrer: https://www.google.com/",
    ):
        assert line in body["notes"]


def test_unknown_fields_are_summarised_in_notes_never_sent() -> None:
    body = load({**PERSON, "Roof Type": "shingle", "budget": ["5k", "10k"], "hoa": True})
    assert set(body) <= set(ROTOR_BODY_FIELDS)
    assert "Other fields:\nRoof Type: shingle\nbudget: 5k, 10k\nhoa: yes" in body["notes"]


def test_a_second_answer_for_a_field_is_kept_in_the_notes() -> None:
    # Nothing a sender posted is dropped: the first answer is the lead's, another one is noted.
    body = load({**PERSON, "email": "ann@example.com", "_replyto": "ann.lee@work.example", "E-mail": "ann@example.com"})
    assert body["email"] == "ann@example.com"
    assert body["notes"] == "Other fields:\n_replyto: ann.lee@work.example"


def test_a_blank_answer_does_not_hide_a_later_alias() -> None:
    assert load({"name": "", "full_name": "Ann Lee", "phone": "2015550123"})["name"] == "Ann Lee"


def test_form_tool_fields_are_dropped() -> None:
    body = load({**PERSON, "g-recaptcha-response": "x" * 50, "_gotcha": "", "submit": "Send"})
    assert "notes" not in body


def test_form_settings_fill_the_body() -> None:
    form = FormConfig(
        key="q", tags=("website", "quote"), source="landing", service_type="estimate", stage="new", priority="high"
    )
    body = load({**PERSON, "service": "roof repair"}, form=form)
    assert body == {
        "name": "Ann Lee",
        "phone": "+12015550123",
        "source": "landing",
        "service_type": "roof repair",  # the person's choice wins over the form's default
        "stage": "new",
        "priority": "high",
        "tags": ["website", "quote"],
    }


def test_long_notes_are_cut_to_rotors_limit() -> None:
    body = load({**PERSON, "message": "x" * 5000})
    assert len(body["notes"]) == NOTES_LIMIT and body["notes"].endswith("…")


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        (
            {},
            {
                "name": ["A name is required."],
                "phone": ["A lead needs a phone number or an email address."],
                "email": ["A lead needs a phone number or an email address."],
            },
        ),
        (
            {"name": "Ann"},
            {
                "phone": ["A lead needs a phone number or an email address."],
                "email": ["A lead needs a phone number or an email address."],
            },
        ),
        ({"name": "Ann", "phone": "12345"}, {"phone": ["Not a valid phone number."]}),
        ({"name": "   ", "email": "a@example.com"}, {"name": ["A name is required."]}),
        ({"name": "Ann", "phone": {"n": 1}}, {"phone": ["Not a valid string."]}),
    ],
)
def test_validation_errors_name_the_field(fields: dict, errors: dict) -> None:
    with pytest.raises(ValidationError) as caught:
        load(fields)
    assert caught.value.normalized_messages() == errors


def test_invalid_email_names_the_problem() -> None:
    with pytest.raises(ValidationError) as caught:
        load({"name": "Ann", "email": "ann@"})
    assert caught.value.normalized_messages()["email"][0].startswith("Not a valid email address")


def test_honeypot() -> None:
    assert is_bot({"_gotcha": "http://spam"}, FORM)
    assert not is_bot({"_gotcha": ""}, FORM)
    assert is_bot({"website_url": "x"}, FormConfig(key="f", honeypot_field="website_url"))


def test_fold_key() -> None:
    assert fold_key(" E-Mail  Address ") == "e_mail_address"
