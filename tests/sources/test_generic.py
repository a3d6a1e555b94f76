"""The configurable signed-JSON source: paths → Rotor body, ids, leftovers, signature schemes. Pure."""

from __future__ import annotations

import json

import pytest
from marshmallow import ValidationError

from core.errors import ConfigError
from core.lead import ROTOR_BODY_FIELDS
from core.sources.generic import GenericSourceSchema, SignatureScheme
from tests.sources.samples import BIG_ID, BIG_ID_TEXT, SECRET, json_body, meta_signature, typeform_signature

# A Thumbtack-style {event, data} envelope (intake-formats.md §6.3).
THUMBTACK_MAP = {
    "first_name": "data.customer.firstName",
    "last_name": "data.customer.lastName",
    "phone": "data.customer.phone",
    "address_street1": "data.request.location.address1",
    "address_city": "data.request.location.city",
    "address_state": "data.request.location.state",
    "address_zip": "data.request.location.zipCode",
    "service_type": "data.request.category.name",
    "notes": "data.request.description",
}
THUMBTACK = {
    "event": {"eventType": "NegotiationCreatedV4", "webhookID": "wh-1"},
    "data": {
        "negotiationID": BIG_ID,
        "customer": {"customerID": "c-1", "firstName": "Ann", "lastName": "Lee", "phone": "2015550123"},
        "request": {
            "category": {"categoryID": "1", "name": "Roof repair"},
            "description": "The roof leaks.",
            "location": {"address1": "12 Main St", "city": "Springfield", "state": "NJ", "zipCode": "07081"},
        },
    },
    "leadPrice": "$25.00",
    "test": False,
}


def schema(
    field_map: dict = THUMBTACK_MAP, id_path: str = "data.negotiationID", **options: object
) -> GenericSourceSchema:
    return GenericSourceSchema(field_map=field_map, id_path=id_path, source="thumbtack", **options)  # type: ignore[arg-type]


def test_paths_map_onto_the_rotor_body() -> None:
    body = schema().load(json.loads(json.dumps(THUMBTACK)))
    assert {key: body[key] for key in body if key != "notes"} == {
        "name": "Ann Lee",
        "phone": "+12015550123",
        "address_street1": "12 Main St",
        "address_city": "Springfield",
        "address_state": "NJ",
        "address_zip": "07081",
        "service_type": "Roof repair",
        "source": "thumbtack",
    }
    assert set(body) <= set(ROTOR_BODY_FIELDS)


def test_unmapped_top_level_values_go_to_the_notes_and_the_id_to_attribution() -> None:
    notes = schema().load(json.loads(json.dumps(THUMBTACK)))["notes"]
    assert notes == (
        f"The roof leaks.\n\nAnswers:\nLead price: $25.00\nTest: no\n\nAttribution:\ndata.negotiationID: {BIG_ID_TEXT}"
    )


def test_a_flat_body_with_list_paths() -> None:
    flat = {
        "leadOid": "A-1",
        "name": "Ann Lee",
        "contacts": [{"email": "Ann@Example.com"}],
        "taskName": "Gutters",
    }
    body = schema({"name": "name", "email": "contacts.0.email"}, id_path="leadOid").load(flat)
    assert (body["name"], body["email"]) == ("Ann Lee", "ann@example.com")
    assert body["notes"] == "Answers:\nTask name: Gutters\n\nAttribution:\nleadOid: A-1"


def test_tags_are_configured() -> None:
    assert schema(tags=["marketplace"]).load(THUMBTACK)["tags"] == ["marketplace"]


def test_the_idempotency_key_is_the_exact_id_at_id_path() -> None:
    assert schema().idempotency_key(json.loads(json.dumps(THUMBTACK))) == BIG_ID_TEXT


@pytest.mark.parametrize("payload", [{"data": {}}, {}, None, {"data": {"negotiationID": 2.5}}])
def test_a_missing_or_inexact_id_is_named_by_its_path(payload: object) -> None:
    with pytest.raises(ValidationError) as caught:
        schema().idempotency_key(payload)
    assert list(caught.value.messages) == ["data.negotiationID"]


def test_a_mapped_value_that_is_invalid_fails_the_lead() -> None:
    payload = json.loads(json.dumps(THUMBTACK))
    payload["data"]["customer"]["phone"] = "12"
    with pytest.raises(ValidationError) as caught:
        schema().load(payload)
    assert caught.value.messages == {"phone": ["Not a valid phone number."]}


def test_a_body_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        schema().load([THUMBTACK])  # type: ignore[arg-type]
    assert list(caught.value.messages) == ["_schema"]


def test_a_field_map_naming_no_lead_field_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"field_map\.phone_number: not a lead field"):
        schema({"name": "name", "phone_number": "phone"})


@pytest.mark.parametrize(
    ("scheme", "sign"),
    [
        (SignatureScheme(header="X-Signature", encoding="hex", prefix="sha256="), meta_signature),
        (SignatureScheme(header="X-Signature", encoding="base64", prefix="sha256="), typeform_signature),
    ],
)
def test_signature_schemes(scheme: SignatureScheme, sign: object) -> None:
    body = json_body(THUMBTACK)
    header = sign(body)  # type: ignore[operator]
    assert scheme.verify(header, secret=SECRET, body=body)
    assert not scheme.verify(header, secret=SECRET, body=body + b" ")
    assert not scheme.verify(None, secret=SECRET, body=body)


def test_an_unprefixed_hex_scheme() -> None:
    body = json_body(THUMBTACK)
    assert SignatureScheme(header="X-Sig").verify(
        meta_signature(body).removeprefix("sha256="), secret=SECRET, body=body
    )
