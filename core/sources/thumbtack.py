"""Thumbtack: a business's webhook posting its new leads ("negotiations") to a form URL.

Two shapes, both accepted (intake-formats.md §6.3): the body captured from real traffic [3p], an
envelope ``{event: {eventType, triggeredAt, webhookID, description}, data: {negotiationID, customer,
request, business, leadPrice, createdAt ...}}``, and the flat one of Thumbtack's docs [doc], the
negotiation's fields at the top level (the capture found the docs wrong, so neither is trusted alone).
Only ``NegotiationCreatedV4`` is a lead; messages, reviews and incentives share the negotiation id,
so the platform id is the event type plus that id (§1.3). Thumbtack signs nothing; a webhook may be set
up with HTTP Basic credentials, which ``verify`` checks against ``user:password``. The customer's
contact fields depend on the OAuth scopes granted, so a post may carry no phone. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.sources.common import (
    first_exact_id,
    labelled_fields,
    marketplace_attribution,
    question_answers,
    require_object,
    resolve_path,
    text_at,
)
from core.sources.form_tool import FormTool, ToolPost, ToolSubmission
from core.sources.forms import flatten_value
from core.sources.signatures import verify_basic_auth

LEAD_EVENT = "NegotiationCreatedV4"
MESSAGE_EVENT = "MessageCreatedV4"
# The webhook event families of §6.3 (NegotiationCreatedV4, MessageCreatedV4, ReviewCreatedV1/V4,
# IncentiveUsedV4): an ``eventType`` of one of these, with a version, is Thumbtack's.
EVENT_FAMILIES = ("Negotiation", "Message", "Review", "Incentive")
# Thumbtack's "send a test" button (§6.3 [3p]): a made-up business and customer, phone 1234567890.
TEST_BUSINESS = "Test Business for Webhooks"
TEST_CUSTOMER = "Test Customer"
# Where the docs' flat shape puts what the capture calls negotiationID and createdAt.
ID_KEYS = ("negotiationID", "leadID")
CREATED_KEYS = ("createdAt", "createTimestamp")


class Thumbtack(FormTool):
    """Thumbtack's lead webhooks, enveloped or flat."""

    name = "thumbtack"
    title = "Thumbtack"
    signature_header = "Authorization"  # HTTP Basic, when the webhook was set up with credentials

    def recognises(self, post: ToolPost) -> bool:
        fields = post.fields
        event_type = text_at(fields, "event.eventType")
        if event_type is not None:
            return _is_thumbtack_event(event_type) and isinstance(fields.get("data"), Mapping)
        # The flat shape: a negotiation id beside the customer or request it belongs to.
        return any(key in fields for key in ID_KEYS) and any(
            isinstance(fields.get(part), Mapping) for part in ("customer", "request")
        )

    def unwrap(self, post: ToolPost) -> ToolSubmission:
        negotiation, event_type, where = _negotiation(post.fields)
        negotiation_id = first_exact_id(negotiation, ID_KEYS, where)
        platform_id = f"{event_type}:{negotiation_id}" if negotiation_id else None
        if event_type != LEAD_EVENT:
            return ToolSubmission(
                fields={}, platform_id=platform_id, ignored=f"a Thumbtack {event_type} event, not a new lead"
            )
        return ToolSubmission(
            fields=_lead_fields(negotiation, negotiation_id), platform_id=platform_id, test=_test_marker(negotiation)
        )

    def verify(self, post: ToolPost, *, secret: str, now: float) -> bool:
        return verify_basic_auth(post.header(self.signature_header), secret)


TOOL = Thumbtack()


def _is_thumbtack_event(event_type: str) -> bool:
    family, _, version = event_type.rpartition("V")
    return family.startswith(EVENT_FAMILIES) and version.isdigit()


def _negotiation(fields: Mapping[str, Any]) -> tuple[Mapping[str, Any], str, str]:
    """The negotiation, its event type and where it sits (for error names), from either shape."""
    if "event" in fields or "data" in fields:
        data = require_object(fields.get("data"), "data")
        return data, text_at(fields, "event.eventType") or LEAD_EVENT, "data."
    # The docs' flat shape names no event; a message there still carries its messageID.
    default = MESSAGE_EVENT if "messageID" in fields else LEAD_EVENT
    return fields, text_at(fields, "eventType") or default, ""


def _lead_fields(negotiation: Mapping[str, Any], negotiation_id: str | None) -> dict[str, str]:
    """The lead's fields, by lead field name where Thumbtack says what they are, else by label."""
    request = resolve_path(negotiation, "request")
    return labelled_fields(
        [
            ("name", text_at(negotiation, "customer.name")),  # the docs' shape; the capture splits it
            ("first_name", text_at(negotiation, "customer.firstName")),
            ("last_name", text_at(negotiation, "customer.lastName")),
            ("phone", text_at(negotiation, "customer.phone")),
            ("email", text_at(negotiation, "customer.email")),  # only with the scope that grants it
            ("address_street1", text_at(request, "location.address1")),
            ("address_street2", text_at(request, "location.address2")),
            ("address_city", text_at(request, "location.city")),
            ("address_state", text_at(request, "location.state")),
            ("address_zip", text_at(request, "location.zipCode")),
            ("service_type", _category(resolve_path(request, "category"))),
            ("notes", text_at(request, "description")),
            ("Request", text_at(request, "title")),
            *question_answers(resolve_path(request, "details"), "Other details"),
            ("Schedule", text_at(request, "schedule")),
            ("Proposed times", _proposed_times(resolve_path(request, "proposedTimes"))),
            ("Attachments", _attachments(resolve_path(request, "attachments"))),
            ("Travel preferences", text_at(request, "travelPreferences")),
            ("Lead price", text_at(negotiation, "leadPrice")),
            ("Created at", next(filter(None, (text_at(negotiation, key) for key in CREATED_KEYS)), None)),
            ("Thumbtack business", text_at(negotiation, "business.name")),
            ("Thumbtack lead ID", negotiation_id),
            *marketplace_attribution("thumbtack"),
        ]
    )


def _category(category: Any) -> str | None:
    # The capture has {categoryID, name}; the docs' shape a plain string.
    return text_at(category, "name") if isinstance(category, Mapping) else flatten_value(category)


def _proposed_times(times: Any) -> str | None:
    if not isinstance(times, list):
        return flatten_value(times)
    spans = [
        " to ".join(filter(None, (text_at(span, "start"), text_at(span, "end")))) if isinstance(span, Mapping) else span
        for span in times
    ]
    return flatten_value(spans)


def _attachments(attachments: Any) -> str | None:
    # A person reading the CRM wants the link; the file's name when there is none.
    if not isinstance(attachments, list):
        return flatten_value(attachments)
    return flatten_value(
        [
            (text_at(item, "url") or text_at(item, "fileName")) if isinstance(item, Mapping) else item
            for item in attachments
        ]
    )


def _test_marker(negotiation: Mapping[str, Any]) -> str | None:
    if text_at(negotiation, "business.name") == TEST_BUSINESS:
        return f"Thumbtack's webhook test (business {TEST_BUSINESS!r})"
    customer = text_at(negotiation, "customer.name") or " ".join(
        filter(None, (text_at(negotiation, "customer.firstName"), text_at(negotiation, "customer.lastName")))
    )
    if customer == TEST_CUSTOMER:
        return f"Thumbtack's webhook test (customer {TEST_CUSTOMER!r})"
    return None
