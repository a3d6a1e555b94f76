"""Thumbtack lead webhooks at a form URL: both shapes, other events, test leads, Basic auth, delivery.

Samples are built from intake-formats.md §6.3 (the captured ``{event, data}`` envelope, the docs' flat
shape, the webhook test's made-up business and customer); values are made up.
"""

from __future__ import annotations

import base64
import copy
import json
from dataclasses import replace
from typing import Any

import pytest
from marshmallow import ValidationError

from core.config import FormConfig
from core.sources import angi, thumbtack
from core.sources.form_tool import ToolPost
from core.sources.form_tools import TOOLS, detect
from core.sources.forms import WebsiteFormSchema
from core.store.submissions import SubmissionStore
from core.vocabulary import SubmissionStatus
from service.app import create_app
from tests.sources.test_angi import angi_lead

TOOL = thumbtack.TOOL
NEGOTIATION_ID = "590299344770662410"
CREDENTIALS = "tt-hooks:s3cret pass"


def negotiation(**changes: Any) -> dict[str, Any]:
    """A new lead as the capture's ``data`` holds it (§6.3), or the docs' flat body without the envelope."""
    lead = {
        "negotiationID": NEGOTIATION_ID,
        "status": "Open",
        "chargeState": "Created",
        "createdAt": "2026-09-15T04:02:24Z",
        "leadPrice": "$25.00",
        "business": {"businessID": "590297085345701895", "name": "Griffis Roofing"},
        "customer": {
            "customerID": "590299344770162703",
            "firstName": "Dana",
            "lastName": "Reyes",
            "phone": "5615550142",
        },
        "request": {
            "requestID": "590299344772112393",
            "category": {"categoryID": "240123621172183344", "name": "Roof Repair"},
            "description": "Two shingles blew off over the garage.",
            "location": {
                "address1": "12 Palm Way",
                "address2": "Unit 4",
                "city": "Lake Worth",
                "state": "FL",
                "zipCode": "33460",
            },
            "details": [
                {"question": "Type of roof", "answer": "Asphalt shingle"},
                {"question": "Is there active leaking?", "answer": "Yes"},
            ],
            "proposedTimes": [{"start": "2026-09-16T10:00:00Z", "end": "2026-09-16T11:00:00Z"}],
            "attachments": [
                {"fileName": "garage.jpg", "mimeType": "image/jpeg", "url": "https://example.com/garage.jpg"}
            ],
            "travelPreferences": ["ProviderTravelToCustomer"],
        },
    }
    return {**lead, **changes}


def envelope(data: Any = None, event_type: str = "NegotiationCreatedV4") -> dict[str, Any]:
    """The body captured from real traffic: ``{event, data}``."""
    return {
        "event": {
            "eventType": event_type,
            "triggeredAt": "2026-09-15T04:02:29Z",
            "webhookID": "590298304139583503",
            "description": "",
        },
        "data": negotiation() if data is None else data,
    }


def message(**changes: Any) -> dict[str, Any]:
    """A ``MessageCreatedV4``'s data: the same negotiation id, a message of its own."""
    return {
        "messageID": "590299344999",
        "negotiationID": NEGOTIATION_ID,
        "customer": {"customerID": "590299344770162703", "displayName": "Dana R."},
        "from": "Customer",
        "text": "Are you free on Saturday?",
        "sentAt": "2026-09-15T04:03:00Z",
        **changes,
    }


def webhook_test_body() -> dict[str, Any]:
    """Thumbtack's "send a test" body: a made-up business, customer and phone (§6.3 [3p])."""
    data = negotiation(business={"businessID": "1", "name": "Test Business for Webhooks"})
    data["customer"] = {"customerID": "2", "firstName": "Test", "lastName": "Customer", "phone": "1234567890"}
    return envelope(data)


def post(fields: dict[str, Any], headers: dict[str, str] | None = None) -> ToolPost:
    return ToolPost(fields, headers or {}, json.dumps(fields).encode())


def basic(credentials: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}


EXPECTED_FIELDS = {
    "first_name": "Dana",
    "last_name": "Reyes",
    "phone": "5615550142",
    "address_street1": "12 Palm Way",
    "address_street2": "Unit 4",
    "address_city": "Lake Worth",
    "address_state": "FL",
    "address_zip": "33460",
    "service_type": "Roof Repair",
    "notes": "Two shingles blew off over the garage.",
    "Type of roof": "Asphalt shingle",
    "Is there active leaking?": "Yes",
    "Proposed times": "2026-09-16T10:00:00Z to 2026-09-16T11:00:00Z",
    "Attachments": "https://example.com/garage.jpg",
    "Travel preferences": "ProviderTravelToCustomer",
    "Lead price": "$25.00",
    "Created at": "2026-09-15T04:02:24Z",
    "Thumbtack business": "Griffis Roofing",
    "Thumbtack lead ID": NEGOTIATION_ID,
    "utm_source": "thumbtack",
    "utm_medium": "marketplace",
}


# --- recognising ---------------------------------------------------------------------------------

# Other tools' documented shapes (intake-formats.md §7): none of them is Thumbtack's or Angi's.
OTHER_SHAPES = {
    "webflow": {
        "triggerType": "form_submission",
        "payload": {"id": "6321", "data": {"Name": "Ann", "Phone": 15550000000}},
    },
    "tally": {"eventId": "e1", "eventType": "FORM_RESPONSE", "data": {"responseId": "r1", "fields": []}},
    "typeform": {"event_id": "e1", "event_type": "form_response", "form_response": {"token": "t", "answers": []}},
    "jotform": {"formID": "1", "submissionID": "2", "rawRequest": '{"q3_name":{"first":"Ann","last":"Lee"}}'},
    "unbounce": {"page_id": "p", "data.json": '{"email":["ann@example.com"]}'},
    "html form": {"name": "Ann Lee", "email": "ann@example.com", "message": "Call me"},
    "other event envelope": {"event": "lead.created", "data": {"id": "1", "name": "Ann"}},
}
OWN_SAMPLES = {
    "thumbtack captured": ("thumbtack", envelope()),
    "thumbtack flat": ("thumbtack", negotiation()),
    "thumbtack message": ("thumbtack", envelope(message(), "MessageCreatedV4")),
    "thumbtack review": ("thumbtack", envelope({"negotiationID": "1", "review": {"rating": 5}}, "ReviewCreatedV1")),
    "thumbtack flat message": ("thumbtack", message()),
    "angi": ("angi", angi_lead()),
    "angi aliases": ("angi", angi_lead(leadOid=None, leadId="L-1", primaryPhone=None, phone="5615550142")),
}


@pytest.mark.parametrize("sample", OWN_SAMPLES, ids=str)
@pytest.mark.parametrize("tool", [thumbtack.TOOL, angi.TOOL], ids=lambda tool: tool.name)
def test_each_marketplace_recognises_its_own_posts_and_not_the_others(tool, sample: str) -> None:
    owner, fields = OWN_SAMPLES[sample]
    assert tool.recognises(post(fields)) is (tool.name == owner)


@pytest.mark.parametrize("shape", OTHER_SHAPES)
@pytest.mark.parametrize("tool", [thumbtack.TOOL, angi.TOOL], ids=lambda tool: tool.name)
def test_no_marketplace_claims_another_tools_post(tool, shape: str) -> None:
    assert not tool.recognises(post(OTHER_SHAPES[shape]))


def test_the_registry_finds_thumbtack_and_angi_by_shape() -> None:
    assert (TOOLS["thumbtack"], TOOLS["angi"]) == (thumbtack.TOOL, angi.TOOL)
    assert detect(post(envelope())) is thumbtack.TOOL
    assert detect(post(negotiation())) is thumbtack.TOOL
    assert detect(post(angi_lead())) is angi.TOOL


def test_an_event_type_of_no_thumbtack_family_is_not_recognised() -> None:
    assert not TOOL.recognises(post({"event": {"eventType": "FormSubmitted"}, "data": negotiation()}))
    assert not TOOL.recognises(post({"event": {"eventType": "NegotiationCreatedV4"}, "data": "not an object"}))


# --- unwrapping ----------------------------------------------------------------------------------


def test_the_captured_envelope_unwraps_every_documented_part() -> None:
    submission = TOOL.unwrap(post(envelope()))
    assert submission.fields == EXPECTED_FIELDS
    assert list(submission.fields) == list(EXPECTED_FIELDS)  # the tool's order, person fields first
    assert submission.platform_id == f"NegotiationCreatedV4:{NEGOTIATION_ID}"
    assert (submission.test, submission.ignored) == (None, None)


def test_the_docs_flat_shape_unwraps_to_the_same_lead() -> None:
    submission = TOOL.unwrap(post(negotiation()))
    assert submission.fields == EXPECTED_FIELDS
    assert submission.platform_id == f"NegotiationCreatedV4:{NEGOTIATION_ID}"


def test_the_docs_older_names_are_read_too() -> None:
    # leadID, one customer name, a category as text, a title and a schedule, a Unix createTimestamp.
    lead = negotiation(negotiationID=None, leadID="299999", createTimestamp="1757800000", createdAt=None)
    lead["customer"] = {"customerID": "c1", "name": "Dana Reyes", "phone": "(561) 555-0142"}
    lead["request"] = {**lead["request"], "category": "Roof Repair", "title": "Roof leak", "schedule": "This week"}
    fields = TOOL.unwrap(post(lead)).fields
    assert (fields["name"], fields["service_type"]) == ("Dana Reyes", "Roof Repair")
    assert (fields["Request"], fields["Schedule"], fields["Created at"]) == ("Roof leak", "This week", "1757800000")
    assert TOOL.unwrap(post(lead)).platform_id == "NegotiationCreatedV4:299999"


def test_optional_parts_may_be_missing_and_numbers_become_text() -> None:
    # No phone without the scope that grants it; an email with it; a phone or id as a JSON number.
    data = negotiation(negotiationID=590299344770662410, leadPrice=None)
    data["customer"] = {"firstName": "Dana", "email": "Dana@Example.com"}
    data["request"] = {"location": {"zipCode": 33460}, "details": []}
    submission = TOOL.unwrap(post(envelope(data)))
    assert "phone" not in submission.fields and "Lead price" not in submission.fields
    assert (submission.fields["email"], submission.fields["address_zip"]) == ("Dana@Example.com", "33460")
    assert submission.platform_id == "NegotiationCreatedV4:590299344770662410"
    data["customer"]["phone"] = 5615550142
    assert TOOL.unwrap(post(envelope(data))).fields["phone"] == "5615550142"


def test_a_question_asked_twice_keeps_both_answers_and_odd_details_are_kept() -> None:
    data = negotiation()
    data["request"]["details"] = [
        {"question": "Rooms", "answer": "Kitchen"},
        {"question": "Rooms", "answer": "Bath"},
        "Needs a permit",
    ]
    fields = TOOL.unwrap(post(envelope(data))).fields
    assert (fields["Rooms"], fields["Other details"]) == ("Kitchen; Bath", "Needs a permit")


def test_the_fields_make_the_rotor_lead_through_the_website_form_mapping() -> None:
    form = FormConfig(key="thumbtack", tags=("marketplace",))
    body = WebsiteFormSchema(form=form).load(TOOL.unwrap(post(envelope())).fields)
    assert {key: body[key] for key in body if key not in ("notes", "tags")} == {
        "name": "Dana Reyes",
        "phone": "+15615550142",
        "address_street1": "12 Palm Way",
        "address_street2": "Unit 4",
        "address_city": "Lake Worth",
        "address_state": "FL",
        "address_zip": "33460",
        "service_type": "Roof Repair",
        "source": "website",
    }
    assert body["tags"] == ["marketplace", "utm_source:thumbtack", "utm_medium:marketplace"]
    assert body["notes"].startswith("Two shingles blew off over the garage.\n\nOther fields:\nType of roof: Asphalt")
    assert "Lead price: $25.00\n" in body["notes"] and f"Thumbtack lead ID: {NEGOTIATION_ID}\n" in body["notes"]
    assert body["notes"].endswith("Attribution:\nutm_source: thumbtack\nutm_medium: marketplace")


@pytest.mark.parametrize("event_type", ["MessageCreatedV4", "ReviewCreatedV4", "ReviewCreatedV1", "IncentiveUsedV4"])
def test_other_events_are_no_lead_and_keyed_by_their_type(event_type: str) -> None:
    submission = TOOL.unwrap(post(envelope(message(), event_type)))
    assert submission.ignored == f"a Thumbtack {event_type} event, not a new lead"
    # The message shares the lead's negotiation id: the event type keeps the two apart.
    assert submission.platform_id == f"{event_type}:{NEGOTIATION_ID}"


def test_a_flat_message_is_no_lead_either() -> None:
    submission = TOOL.unwrap(post(message()))
    assert submission.ignored == "a Thumbtack MessageCreatedV4 event, not a new lead"
    assert submission.platform_id == f"MessageCreatedV4:{NEGOTIATION_ID}"


def test_thumbtacks_webhook_test_is_a_test() -> None:
    assert (
        TOOL.unwrap(post(webhook_test_body())).test
        == "Thumbtack's webhook test (business 'Test Business for Webhooks')"
    )
    only_customer = copy.deepcopy(webhook_test_body())
    only_customer["data"]["business"]["name"] = "Griffis Roofing"
    assert TOOL.unwrap(post(only_customer)).test == "Thumbtack's webhook test (customer 'Test Customer')"
    flat = negotiation(customer={"name": "Test Customer"})
    assert TOOL.unwrap(post(flat)).test == "Thumbtack's webhook test (customer 'Test Customer')"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"event": {"eventType": "NegotiationCreatedV4"}, "data": "{}"}, "data"),
        ({"event": {"eventType": "NegotiationCreatedV4"}, "data": [negotiation()]}, "data"),
        ({"event": {"eventType": "NegotiationCreatedV4"}}, "data"),
        (envelope(negotiation(negotiationID=5.9e17)), "data.negotiationID"),
        (negotiation(negotiationID=True), "negotiationID"),
    ],
)
def test_an_unreadable_envelope_names_the_field(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        TOOL.unwrap(post(fields))
    assert list(caught.value.messages) == [field]


# --- Basic auth ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "verified"),
    [
        (basic(CREDENTIALS), True),
        ({"authorization": basic(CREDENTIALS)["Authorization"].replace("Basic", "basic")}, True),
        (basic("tt-hooks:wrong"), False),
        (basic("tt-hooks"), False),
        ({}, False),
        ({"Authorization": "Bearer " + CREDENTIALS}, False),
        ({"Authorization": "Basic not base64!"}, False),
        ({"Authorization": "Basic " + base64.b64encode(b"\xff\xfe:x").decode()}, False),
        ({"Authorization": "Basic"}, False),
    ],
)
def test_basic_credentials_are_checked(headers: dict[str, str], verified: bool) -> None:
    assert TOOL.verify(post(envelope(), headers), secret=CREDENTIALS, now=0) is verified


def test_no_credentials_configured_verifies_nothing() -> None:
    assert TOOL.verify(post(envelope(), basic(":")), secret="", now=0) is False


# --- over HTTP, into the sandbox's Rotor -----------------------------------------------------------


def thumbtack_form(config, **form: Any):
    """The app with a form ``thumbtack`` (``form``: builder, secret ...), and the config it runs on."""
    forms = {**config.forms, "thumbtack": FormConfig(key="thumbtack", tags=("marketplace",), **form)}
    cfg = replace(config, forms=forms)
    return cfg, create_app(cfg).test_client()


def send(client, body: dict[str, Any], headers: dict[str, str] | None = None):
    # As Thumbtack sends it: JSON bytes, its own headers, no Origin.
    return client.post("/v1/forms/thumbtack", data=json.dumps(body), content_type="application/json", headers=headers)


def stored(redis_conn, response):
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json["status"] == "success"
    return SubmissionStore(redis_conn).get(response.json["submission_id"])


@pytest.mark.parametrize("body", [envelope(), negotiation()], ids=["captured", "flat"])
def test_a_thumbtack_lead_reaches_rotor(config, deliver, sandbox, redis_conn, body: dict[str, Any]) -> None:
    cfg, client = thumbtack_form(config)
    assert stored(redis_conn, send(client, body)).status is SubmissionStatus.QUEUED
    deliver(forms=cfg.forms)
    [lead] = sandbox.leads()
    assert (lead["name"], lead["phone"], lead["lead_source"]) == ("Dana Reyes", "+15615550142", "website")
    # Rotor reads the address back as property_* (destinations.md; the sandbox does the same).
    assert (lead["property_street1"], lead["property_street2"]) == ("12 Palm Way", "Unit 4")
    assert (lead["property_city"], lead["property_state"], lead["property_zip"]) == ("Lake Worth", "FL", "33460")
    assert lead["service_type"] == "Roof Repair"
    assert lead["tags"] == ["marketplace", "utm_source:thumbtack", "utm_medium:marketplace"]
    assert lead["notes"].startswith("Two shingles blew off over the garage.")
    for line in ("Is there active leaking?: Yes", "Lead price: $25.00", "Created at: 2026-09-15T04:02:24Z"):
        assert line in lead["notes"]


def test_a_resent_lead_is_a_duplicate_and_its_message_no_lead(config, deliver, sandbox, redis_conn) -> None:
    cfg, client = thumbtack_form(config)
    first = stored(redis_conn, send(client, envelope()))
    again = stored(redis_conn, send(client, envelope()))
    # The message arrives under the same negotiation id, even before the lead: neither blocks the other.
    chat = stored(redis_conn, send(client, envelope(message(), "MessageCreatedV4")))
    assert again.status is SubmissionStatus.DUPLICATE and again.duplicate_of == first.id
    assert chat.status is SubmissionStatus.DISCARDED
    deliver(forms=cfg.forms)
    assert len(sandbox.leads()) == 1


def test_the_webhook_test_is_kept_discarded(config, deliver, sandbox, redis_conn) -> None:
    cfg, client = thumbtack_form(config)
    assert stored(redis_conn, send(client, webhook_test_body())).status is SubmissionStatus.DISCARDED
    deliver(forms=cfg.forms)
    assert sandbox.leads() == []


def test_an_unreadable_envelope_is_kept_failed_and_answered_200(config, redis_conn) -> None:
    _, client = thumbtack_form(config, builder="thumbtack")
    submission = stored(redis_conn, send(client, {"event": {"eventType": "NegotiationCreatedV4"}, "data": "oops"}))
    assert submission.status is SubmissionStatus.FAILED
    assert "data" in (submission.error or "")
    assert submission.raw["fields"]["data"] == "oops"


def test_a_lead_without_a_contact_is_kept_failed_and_answered_200(config, redis_conn) -> None:
    data = negotiation()
    data["customer"] = {"firstName": "Dana"}  # no phone: the scopes granted none
    _, client = thumbtack_form(config)
    submission = stored(redis_conn, send(client, envelope(data)))
    assert submission.status is SubmissionStatus.FAILED


@pytest.mark.parametrize(
    ("headers", "status"),
    [(basic(CREDENTIALS), 200), (basic("tt-hooks:guess"), 401), ({}, 401)],
    ids=["right", "wrong", "missing"],
)
def test_a_form_with_credentials_takes_only_posts_that_carry_them(
    config, deliver, sandbox, headers: dict[str, str], status: int
) -> None:
    cfg, client = thumbtack_form(config, builder="thumbtack", secret=CREDENTIALS)
    response = send(client, envelope(), headers)
    assert response.status_code == status
    if status == 401:
        assert "Authorization" in response.json["message"]
    deliver(forms=cfg.forms)
    assert len(sandbox.leads()) == (1 if status == 200 else 0)
