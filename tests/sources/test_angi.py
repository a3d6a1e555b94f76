"""Angi / HomeAdvisor lead posts at a form URL: recognised, unwrapped, keyed, delivered with the phone.

Samples are built from intake-formats.md §6.2 (the fields receivers map, the aliases other integrations
use, the headers Angi sends); values are made up. The recognising cross-check over both marketplaces
is in test_thumbtack.py.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from marshmallow import ValidationError

from core.config import FormConfig
from core.sources.angi import TOOL
from core.sources.form_tool import ToolPost
from core.sources.forms import WebsiteFormSchema
from core.store.submissions import SubmissionStore
from core.vocabulary import SubmissionStatus
from service.app import create_app

API_KEY = "angi-key-0123456789"
# What Angi sends besides the body (§6.2): an HTML-first Accept and no User-Agent (removed below).
ANGI_HEADERS = {"Accept": "text/html, image/gif, image/jpeg, *; q=.2, */*; q=.2"}


def angi_lead(**changes: Any) -> dict[str, Any]:
    """A new-lead post with the fields §6.2 lists; a change to None leaves that field out."""
    lead = {
        "leadOid": "381234567",
        "srOid": "176543210",
        "leadSource": "HomeAdvisor",
        "name": "Dana Reyes",
        "firstName": "Dana",
        "lastName": "Reyes",
        "address": "12 Palm Way",
        "city": "Lake Worth",
        "stateProvince": "FL",
        "postalCode": "33460",
        "primaryPhone": "(561) 555-0142",
        "email": "Dana.Reyes@Example.com",
        "taskName": "Roof Repair",
        "comments": "Shingles blew off in the storm.",
        "interview": [
            {"question": "What kind of roof?", "answer": "Asphalt shingle"},
            {"question": "When do you need it?", "answer": "Within 1 week"},
        ],
        "fee": 42.5,
    }
    return {key: value for key, value in {**lead, **changes}.items() if value is not None}


def post(fields: dict[str, Any], headers: dict[str, str] | None = None) -> ToolPost:
    return ToolPost(fields, headers or {}, json.dumps(fields).encode())


EXPECTED_FIELDS = {
    "name": "Dana Reyes",
    "first_name": "Dana",
    "last_name": "Reyes",
    "email": "Dana.Reyes@Example.com",
    "phone": "(561) 555-0142",
    "address_street1": "12 Palm Way",
    "address_city": "Lake Worth",
    "address_state": "FL",
    "address_zip": "33460",
    "service_type": "Roof Repair",
    "notes": "Shingles blew off in the storm.",
    "What kind of roof?": "Asphalt shingle",
    "When do you need it?": "Within 1 week",
    "Lead fee": "42.5",
    "Lead source": "HomeAdvisor",
    "Angi lead ID": "381234567",
    "Angi service request ID": "176543210",
    "utm_source": "homeadvisor",
    "utm_medium": "marketplace",
}


# --- recognising (the cross-check with Thumbtack and other tools is in test_thumbtack.py) -------------


@pytest.mark.parametrize(
    "fields",
    [
        angi_lead(),
        {"leadOid": "1", "srOid": "2"},
        {"srOid": "2", "name": "Dana", "primaryPhone": "5615550142"},
        angi_lead(leadOid=None, leadId="L-1", primaryPhone=None, phone="5615550142"),
    ],
)
def test_angi_is_recognised_by_its_ids_with_its_fields(fields: dict[str, Any]) -> None:
    assert TOOL.recognises(post(fields))


@pytest.mark.parametrize(
    "fields",
    [
        {"leadOid": "1", "name": "Dana", "email": "d@example.com"},  # an id alone could be anyone's
        {"leadId": "1", "primaryPhone": "5615550142", "taskName": "Roof Repair"},
        {"leadOid": "", "primaryPhone": "5615550142", "taskName": "Roof Repair"},
    ],
)
def test_a_lead_id_without_angis_names_is_not_angi(fields: dict[str, Any]) -> None:
    assert not TOOL.recognises(post(fields))


# --- unwrapping ----------------------------------------------------------------------------------


def test_every_documented_part_is_mapped() -> None:
    submission = TOOL.unwrap(post(angi_lead()))
    assert submission.fields == EXPECTED_FIELDS
    assert list(submission.fields) == list(EXPECTED_FIELDS)
    assert (submission.platform_id, submission.test, submission.ignored) == ("381234567", None, None)


def test_the_aliases_other_integrations_map_are_read() -> None:
    lead = angi_lead(
        leadOid=None,
        leadId=98765,
        primaryPhone=None,
        phone=5615550142,
        comments=None,
        description="Leak over the garage.",
        address=None,
        city=None,
        stateProvince=None,
        postalCode=None,
        location={"address": "12 Palm Way", "city": "Lake Worth", "state": "FL", "zip": 33460},
        timestamp="2026-09-15T04:02:24Z",
    )
    submission = TOOL.unwrap(post(lead))
    assert submission.platform_id == "98765"
    fields = submission.fields
    assert (fields["phone"], fields["notes"], fields["Submitted at"]) == (
        "5615550142",
        "Leak over the garage.",
        "2026-09-15T04:02:24Z",
    )
    assert [fields[f"address_{part}"] for part in ("street1", "city", "state", "zip")] == [
        "12 Palm Way",
        "Lake Worth",
        "FL",
        "33460",
    ]


def test_a_location_as_text_is_kept_for_a_person_to_read() -> None:
    fields = TOOL.unwrap(post(angi_lead(location="Lake Worth, FL 33460"))).fields
    assert fields["Location"] == "Lake Worth, FL 33460"
    assert fields["address_city"] == "Lake Worth"  # the named parts still win


def test_nothing_said_is_dropped() -> None:
    # Two numbers, two texts about the job, and fields §6.2 does not list.
    lead = angi_lead(phone="561-555-0199", description="Also the gutters.", spCompanyName="Griffis Roofing", crmKey=7)
    fields = TOOL.unwrap(post(lead)).fields
    assert (fields["phone"], fields["Other phone"]) == ("(561) 555-0142", "561-555-0199")
    assert fields["notes"] == "Shingles blew off in the storm., Also the gutters."
    assert (fields["Sp company name"], fields["Crm key"]) == ("Griffis Roofing", "7")


@pytest.mark.parametrize(
    ("lead_source", "utm_source"),
    [("HomeAdvisor", "homeadvisor"), ("Home Advisor", "homeadvisor"), ("Angi", "angi"), (None, "angi")],
)
def test_attribution_names_the_marketplace(lead_source: str | None, utm_source: str) -> None:
    fields = TOOL.unwrap(post(angi_lead(leadSource=lead_source))).fields
    assert (fields["utm_source"], fields["utm_medium"]) == (utm_source, "marketplace")


def test_the_fields_make_the_rotor_lead_through_the_website_form_mapping() -> None:
    form = FormConfig(key="angi", tags=("marketplace",))
    body = WebsiteFormSchema(form=form).load(TOOL.unwrap(post(angi_lead())).fields)
    assert {key: body[key] for key in body if key not in ("notes", "tags")} == {
        "name": "Dana Reyes",
        "email": "dana.reyes@example.com",
        "phone": "+15615550142",
        "address_street1": "12 Palm Way",
        "address_city": "Lake Worth",
        "address_state": "FL",
        "address_zip": "33460",
        "service_type": "Roof Repair",
        "source": "website",
    }
    assert body["tags"] == ["marketplace", "utm_source:homeadvisor", "utm_medium:marketplace"]
    assert body["notes"] == (
        "Shingles blew off in the storm.\n\nOther fields:\nWhat kind of roof?: Asphalt shingle\n"
        "When do you need it?: Within 1 week\nLead fee: 42.5\nLead source: HomeAdvisor\n"
        "Angi lead ID: 381234567\nAngi service request ID: 176543210\n\n"
        "Attribution:\nutm_source: homeadvisor\nutm_medium: marketplace"
    )


def test_angi_marks_no_test_lead_in_the_body() -> None:
    # Angi sends its test leads to the separate testing endpoint it is given (§6.2), not with a marker.
    assert TOOL.unwrap(post(angi_lead(name="Test Lead"))).test is None


@pytest.mark.parametrize(
    ("lead", "field"),
    [
        (angi_lead(leadOid=3.81e8), "leadOid"),
        (angi_lead(leadOid={"id": "1"}), "leadOid"),
        (angi_lead(leadOid=None, leadId=True), "leadId"),
    ],
)
def test_an_unreadable_lead_id_names_the_field(lead: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        TOOL.unwrap(post(lead))
    assert list(caught.value.messages) == [field]


@pytest.mark.parametrize(
    ("headers", "verified"),
    [
        ({"x-api-key": API_KEY}, True),
        ({"X-API-Key": API_KEY}, True),
        ({"x-api-key": API_KEY + "x"}, False),
        ({"x-api-key": ""}, False),
        ({}, False),
    ],
)
def test_the_api_key_is_checked(headers: dict[str, str], verified: bool) -> None:
    assert TOOL.verify(post(angi_lead(), headers), secret=API_KEY, now=0) is verified


# --- over HTTP, into the sandbox's Rotor -----------------------------------------------------------


def angi_form(config, **form: Any):
    """The app with a form ``angi`` (``form``: builder, secret ...), and the config it runs on."""
    cfg = replace(config, forms={**config.forms, "angi": FormConfig(key="angi", tags=("marketplace",), **form)})
    client = create_app(cfg).test_client()
    client.environ_base.pop("HTTP_USER_AGENT")  # Angi sends none
    return cfg, client


def send(client, body: dict[str, Any], **headers: str):
    return client.post(
        "/v1/forms/angi", data=json.dumps(body), content_type="application/json", headers={**ANGI_HEADERS, **headers}
    )


def stored(redis_conn, response):
    assert response.status_code == 200, response.get_data(as_text=True)
    # Angi wants JSON, whatever its Accept header prefers; public receivers answer {"status": "success"}.
    assert response.mimetype == "application/json"
    assert response.json["status"] == "success"
    return SubmissionStore(redis_conn).get(response.json["submission_id"])


def test_an_angi_post_reaches_rotor_with_its_primary_phone(config, deliver, sandbox, redis_conn) -> None:
    # Written before core/sources/angi.py existed, it failed there: the lead reached Rotor without
    # its phone (``primaryPhone`` is no alias a website form uses) and without state or zip.
    cfg, client = angi_form(config)
    submission = stored(redis_conn, send(client, angi_lead()))
    assert submission.status is SubmissionStatus.QUEUED
    assert "User-Agent" not in submission.raw["headers"]
    deliver(forms=cfg.forms)
    [lead] = sandbox.leads()
    assert (lead["name"], lead["email"], lead["phone"]) == ("Dana Reyes", "dana.reyes@example.com", "+15615550142")
    # Rotor reads the address back as property_* (destinations.md; the sandbox does the same).
    assert (lead["property_street1"], lead["property_city"]) == ("12 Palm Way", "Lake Worth")
    assert (lead["property_state"], lead["property_zip"]) == ("FL", "33460")
    assert lead["service_type"] == "Roof Repair"
    assert lead["tags"] == ["marketplace", "utm_source:homeadvisor", "utm_medium:marketplace"]
    assert lead["notes"].startswith("Shingles blew off in the storm.")
    assert "What kind of roof?: Asphalt shingle" in lead["notes"] and "Angi lead ID: 381234567" in lead["notes"]


def test_a_resent_lead_is_a_duplicate(config, deliver, sandbox, redis_conn) -> None:
    cfg, client = angi_form(config)
    first = stored(redis_conn, send(client, angi_lead()))
    # Angi's leadOid keys it: a resend with a changed word is still the same lead.
    again = stored(redis_conn, send(client, angi_lead(comments="Shingles blew off.")))
    assert again.status is SubmissionStatus.DUPLICATE and again.duplicate_of == first.id
    deliver(forms=cfg.forms)
    assert len(sandbox.leads()) == 1


def test_an_unreadable_lead_is_kept_failed_and_answered_200(config, redis_conn) -> None:
    _, client = angi_form(config)
    submission = stored(redis_conn, send(client, angi_lead(leadOid=3.81e8)))
    assert submission.status is SubmissionStatus.FAILED
    assert "leadOid" in (submission.error or "")


def test_a_lead_without_a_contact_is_kept_failed_and_answered_200(config, redis_conn) -> None:
    _, client = angi_form(config)
    submission = stored(redis_conn, send(client, angi_lead(primaryPhone=None, email=None)))
    assert submission.status is SubmissionStatus.FAILED


@pytest.mark.parametrize(
    ("headers", "status"),
    [({"x-api-key": API_KEY}, 200), ({"x-api-key": "guess"}, 401), ({}, 401)],
    ids=["right", "wrong", "missing"],
)
def test_a_form_with_an_api_key_takes_only_posts_that_carry_it(
    config, deliver, sandbox, headers: dict[str, str], status: int
) -> None:
    cfg, client = angi_form(config, builder="angi", secret=API_KEY)
    response = send(client, angi_lead(), **headers)
    assert response.status_code == status
    assert response.mimetype == "application/json"
    if status == 401:
        assert "x-api-key" in response.json["message"]
    deliver(forms=cfg.forms)
    assert len(sandbox.leads()) == (1 if status == 200 else 0)
