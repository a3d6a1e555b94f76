"""Sample bodies for the ad-platform sources, built from the documented shapes (intake-formats.md).

Values are made up; field names and nesting follow each platform's documentation or captured traffic.
The HTTP tests of the wiring reuse these builders, and the ``*_signature`` helpers sign a body the way
each platform does, computed here with hashlib alone so they check the code rather than repeat it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from typing import Any

from core.sources.registry import SOURCES
from core.sources.source import SourceConfig

SECRET = "app-secret-123"
VERIFY_TOKEN = "verify-me"


def source(name: str, kind: str, *, tags: tuple[str, ...] = (), **settings: Any) -> SourceConfig:
    """A webhook source signed with the test secret; ``settings`` over its platform's defaults."""
    defaults = {setting.name: setting.default for setting in SOURCES[kind].settings}
    return SourceConfig(
        name=name, type=kind, secret=SECRET, secret_env="X", tags=tags, settings={**defaults, **settings}
    )


def webhook_sources(platform_url: str) -> dict[str, SourceConfig]:
    """One source of every type, as the webhook and fuzz tests configure them; Meta and LinkedIn read from
    ``platform_url``."""
    return {
        "meta": source(
            "meta",
            "meta",
            tags=("paid",),
            verify_token=VERIFY_TOKEN,
            access_token="page-token",
            graph_url=f"{platform_url}/v21.0",
        ),
        "google": source("google", "google"),
        "tiktok": source("tiktok", "tiktok"),
        "linkedin": source("linkedin", "linkedin", access_token="li-token", api_url=f"{platform_url}/rest"),
        "typeform": source("typeform", "typeform"),
        "crm": source(
            "crm",
            "generic",
            signature_header="X-Signature",
            id_path="data.id",
            fields={"name": "data.customer.name", "phone": "data.customer.phone"},
        ),
    }


# 19 digits, past 2**53: a float would round it (1234567890123456768).
BIG_ID = 1234567890123456789
BIG_ID_TEXT = "1234567890123456789"


def json_body(payload: Any) -> bytes:
    """The bytes a platform would POST: UTF-8 JSON, non-ASCII characters written as themselves."""
    return json.dumps(payload, ensure_ascii=False).encode()


def meta_signature(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def typeform_signature(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def linkedin_signature(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), b"hmacsha256=" + body, hashlib.sha256).hexdigest()


def tiktok_signature(payload: Any, secret: str = SECRET) -> str:
    """TikTok signs the ASCII-escaped JSON: for ``json_body(payload)`` that is ``json.dumps(payload)``."""
    return hmac.new(secret.encode(), json.dumps(payload).encode(), hashlib.sha256).hexdigest()


# The sample person every platform's sample carries, as the Rotor body should have it.
ANN_LEE_BODY = {
    "name": "Ann Lee",
    "email": "ann.lee@example.com",
    "phone": "+12015550123",
    "address_street1": "12 Main St",
    "address_city": "Springfield",
    "address_state": "NJ",
    "address_zip": "07081",
    "address_country": "US",
}


# --- Meta ---------------------------------------------------------------------------------------

META_ANSWERS = {
    "full_name": "Ann Lee",
    "email": "Ann.Lee@Example.com",
    "phone_number": "+12015550123",
    "street_address": "12 Main St",
    "city": "Springfield",
    "state": "NJ",
    "zip_code": "07081",
    "country": "US",
    "what_service_do_you_need?": "roof_repair",
}


def meta_notification(
    leadgen_ids: Iterable[str | int] = ("444444444444",), *, page_id: str | int = "555555555555"
) -> dict[str, Any]:
    """A leadgen webhook POST body: one entry, one change per lead id."""
    changes = [
        {
            "field": "leadgen",
            "value": {
                "leadgen_id": leadgen_id,
                "page_id": page_id,
                "form_id": "666666666666",
                "adgroup_id": "777777777777",
                "ad_id": "888888888888",
                "created_time": 1727352000,
            },
        }
        for leadgen_id in leadgen_ids
    ]
    return {"object": "page", "entry": [{"id": page_id, "time": 1727352001, "changes": changes}]}


def meta_graph_lead(answers: Mapping[str, str | list[str]] | None = None, **fields: Any) -> dict[str, Any]:
    """A Graph API lead object as ``GET /{leadgen_id}?fields=GRAPH_LEAD_FIELDS`` returns it."""
    answers = META_ANSWERS if answers is None else answers
    return {
        "id": "444444444444",
        "created_time": "2024-09-26T12:00:00+0000",
        "field_data": [
            {"name": name, "values": value if isinstance(value, list) else [value]} for name, value in answers.items()
        ],
        "form_id": "666666666666",
        "ad_id": "888888888888",
        "ad_name": "Roof ad",
        "adset_id": "999999999999",
        "adset_name": "Homeowners",
        "campaign_id": "111111111111",
        "campaign_name": "Spring roofs",
        "is_organic": False,
        "platform": "fb",
        **fields,
    }


def meta_test_graph_lead() -> dict[str, Any]:
    """What the Lead Ads Testing Tool's "Create lead" button produces: placeholders, no ad."""
    placeholders = {key: f"<test lead: dummy data for {key}>" for key in ("full_name", "phone_number")}
    return meta_graph_lead({**placeholders, "email": "test@meta.com"}, ad_id="0", is_organic=True)


# --- Google -------------------------------------------------------------------------------------

GOOGLE_COLUMNS = [
    ("FULL_NAME", "Ann Lee", "Full Name"),
    ("EMAIL", "ann.lee@example.com", "Email"),
    ("PHONE_NUMBER", "+12015550123", "Phone number"),
    ("STREET_ADDRESS", "12 Main St", "Street address"),
    ("CITY", "Springfield", "City"),
    ("REGION", "NJ", "State"),
    ("POSTAL_CODE", "07081", "Zip code"),
    ("COUNTRY", "US", "Country"),
    ("SERVICE", "Roof repair", "What service do you need?"),
]


def google_lead(columns: Iterable[tuple[str, str, str | None]] = GOOGLE_COLUMNS, **fields: Any) -> dict[str, Any]:
    """A Google Ads lead form webhook body; ``columns`` are (column_id, answer, column_name)."""
    return {
        "lead_id": "Cj0KCQjw-lead-1",
        "user_column_data": [
            {"column_id": column_id, "string_value": value, **({"column_name": name} if name else {})}
            for column_id, value, name in columns
        ],
        "api_version": "1.0",
        "form_id": 40000000001,
        "campaign_id": 30000000001,
        "adgroup_id": 20000000001,
        "creative_id": 10000000001,
        "google_key": SECRET,
        "is_test": False,
        "gcl_id": "EAIaIQobChMI-gclid",
        "lead_stage": "NEW",
        "lead_submit_time": "2024-09-26T12:30:00Z",
        **fields,
    }


# --- TikTok -------------------------------------------------------------------------------------

TIKTOK_ANSWERS = {
    "name": "Ann Lee",
    "email": "ann.lee@example.com",
    "phone_number": "+12015550123",
    "city": "Springfield",
    "What is your budget?": "$5k-$10k",
}


def tiktok_entry(answers: Mapping[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    """One lead of a TikTok callback: ids as 19-digit JSON numbers, answers as changes."""
    answers = TIKTOK_ANSWERS if answers is None else answers
    return {
        "id": BIG_ID,
        "page_id": 7300000000000000001,
        "advertiser_id": 7300000000000000002,
        "campaign_id": 7300000000000000003,
        "adgroup_id": 7300000000000000004,
        "ad_id": 7300000000000000005,
        "create_time": 1727352000,
        "lead_source": "INSTANT_FORM",
        "changes": [{"field": field, "value": value} for field, value in answers.items()],
        **fields,
    }


def tiktok_callback(*entries: Mapping[str, Any], object_type: int = 1) -> dict[str, Any]:
    """A TikTok lead callback body carrying ``entries`` (``object: 1`` marks leads)."""
    return {"object": object_type, "time": 1727352001, "entry": list(entries or [tiktok_entry()])}


# --- LinkedIn -----------------------------------------------------------------------------------

LINKEDIN_RESPONSE_ID = "249592fc-d272-44ba-a7db-c2bdce579507-6"
LINKEDIN_QUESTIONS = [
    (101, "FIRST_NAME", "First name"),
    (102, "LAST_NAME", "Last name"),
    (103, "EMAIL", "Email address"),
    (104, "PHONE_NUMBER", "Phone number"),
    (105, "CITY", "City"),
    (106, "STATE", "State"),
    (107, "ZIP_CODE", "Zip code"),
    (108, "COUNTRY", "Country"),
    (109, "JOB_TITLE", "Job title"),
    (110, None, "Where did you grow up?"),
]
LINKEDIN_CHOICE_QUESTION = 111
LINKEDIN_ANSWERS = {
    101: "Ann",
    102: "Lee",
    103: "ann.lee@example.com",
    104: "+12015550123",
    105: "Springfield",
    106: "NJ",
    107: "07081",
    108: "US",
    109: "Engineer",
    110: "Mexico",
    111: [1],
}


def linkedin_notification(response_id: str = LINKEDIN_RESPONSE_ID, *, action: str = "CREATED") -> dict[str, Any]:
    """A Lead Sync ``LEAD_ACTION`` webhook body."""
    return {
        "type": "LEAD_ACTION",
        "leadGenFormResponse": f"urn:li:leadGenFormResponse:{response_id}",
        "leadGenForm": "urn:li:versionedLeadGenForm:(urn:li:leadGenForm:7234246,1)",
        "owner": {"sponsoredAccount": "urn:li:sponsoredAccount:1234567"},
        "associatedEntity": {"sponsoredCreative": "urn:li:sponsoredCreative:241257736"},
        "leadType": "SPONSORED",
        "leadAction": action,
        "occurredAt": 1689894599288,
    }


def linkedin_form() -> dict[str, Any]:
    """A lead form as the ``form:(hiddenFields,name,id,content)`` projection returns it."""
    questions: list[dict[str, Any]] = [
        {
            "questionId": question_id,
            "question": {"localized": {"en_US": label}},
            "name": label,
            "questionDetails": {"textQuestionDetails": {"maxResponseLength": 300}},
            **({"predefinedField": predefined} if predefined else {}),
        }
        for question_id, predefined, label in LINKEDIN_QUESTIONS
    ]
    options = [
        {"id": 0, "text": {"localized": {"en_US": "Red"}}},
        {"id": 1, "text": {"localized": {"en_US": "Blue"}}},
    ]
    questions.append(
        {
            "questionId": LINKEDIN_CHOICE_QUESTION,
            "question": {"localized": {"en_US": "Favourite colour?"}},
            "name": "Custom question 0",
            "questionDetails": {"multipleChoiceQuestionDetails": {"options": options}},
        }
    )
    hidden = [{"name": "utm_source", "value": "linkedin"}, {"name": "utm_campaign", "value": "spring"}]
    return {"id": 7234246, "name": "Roof offer", "hiddenFields": hidden, "content": {"questions": questions}}


def linkedin_lead_response(
    answers: Mapping[int, str | list[int]] | None = None,
    *,
    form: Mapping[str, Any] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A ``GET /rest/leadFormResponses/{id}`` answer, with the form projected in unless ``form`` is None."""
    answers = LINKEDIN_ANSWERS if answers is None else answers
    items = [
        {
            "questionId": question_id,
            "answerDetails": (
                {"multipleChoiceAnswer": {"options": value}}
                if isinstance(value, list)
                else {"textQuestionAnswer": {"answer": value}}
            ),
        }
        for question_id, value in answers.items()
    ]
    response: dict[str, Any] = {
        "owner": {"sponsoredAccount": "urn:li:sponsoredAccount:1234567"},
        "submitter": "urn:li:person:BcLKblgopR",
        "leadType": "SPONSORED",
        "leadMetadata": {"sponsoredLeadMetadata": {"campaign": "urn:li:sponsoredCampaign:198356826"}},
        "versionedLeadGenFormUrn": "urn:li:versionedLeadGenForm:(urn:li:leadGenForm:7234246,1)",
        "id": LINKEDIN_RESPONSE_ID,
        "submittedAt": 1689894599288,
        "testLead": False,
        "associatedEntity": {"associatedCreative": "urn:li:sponsoredCreative:241257736"},
        "formResponse": {"consentResponses": [{"accepted": True, "consentId": 0}], "answers": items},
        **fields,
    }
    if form is not None:
        response["form"] = form
    return response


# --- Typeform -----------------------------------------------------------------------------------


def typeform_field(field_id: str, field_type: str, title: str, ref: str | None = None) -> dict[str, Any]:
    return {
        "id": field_id,
        "type": field_type,
        "title": title,
        "ref": ref or f"{field_id}-uuid-ref",
        "properties": {},
    }


def typeform_answer(field: Mapping[str, Any], answer_type: str, value: Any) -> dict[str, Any]:
    return {"type": answer_type, answer_type: value, "field": {k: field[k] for k in ("id", "type", "ref")}}


TYPEFORM_FIELDS = {
    "first": typeform_field("Fa1", "short_text", "What is your first name?"),
    "last": typeform_field("Fa2", "short_text", "And your last name?"),
    "email": typeform_field("Fa3", "email", "Your email address"),
    "phone": typeform_field("Fa4", "phone_number", "Best number to reach you"),
    "city": typeform_field("Fa5", "short_text", "Where is the property?", ref="city"),
    "service": typeform_field("Fa6", "multiple_choice", "Which service do you need?"),
    "extras": typeform_field("Fa7", "multiple_choice", "Anything else?"),
    "message": typeform_field("Fa8", "long_text", "Tell us more", ref="message"),
}
TYPEFORM_ANSWERS = [
    typeform_answer(TYPEFORM_FIELDS["first"], "text", "Ann"),
    typeform_answer(TYPEFORM_FIELDS["last"], "text", "Lee"),
    typeform_answer(TYPEFORM_FIELDS["email"], "email", "ann.lee@example.com"),
    typeform_answer(TYPEFORM_FIELDS["phone"], "phone_number", "+12015550123"),
    typeform_answer(TYPEFORM_FIELDS["city"], "text", "Springfield"),
    typeform_answer(TYPEFORM_FIELDS["service"], "choice", {"label": "Roof repair"}),
    typeform_answer(TYPEFORM_FIELDS["extras"], "choices", {"labels": ["Gutters", "Skylight"], "other": "Chimney"}),
    typeform_answer(TYPEFORM_FIELDS["message"], "text", "The roof leaks."),
]


def typeform_event(
    answers: Iterable[Mapping[str, Any]] = TYPEFORM_ANSWERS,
    *,
    fields: Iterable[Mapping[str, Any]] = TYPEFORM_FIELDS.values(),
    hidden: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A Typeform ``form_response`` webhook body."""
    return {
        "event_id": "01HZX3T9Q5GZ6W3Q4C2D3E4F5G",
        "event_type": "form_response",
        "form_response": {
            "form_id": "lT4Z3j",
            "token": "a3a12ec67a1365927098a606107fac15",
            "landed_at": "2024-09-26T12:28:00Z",
            "submitted_at": "2024-09-26T12:30:00Z",
            "hidden": {"utm_source": "google", "utm_campaign": "spring", "partner": "acme"}
            if hidden is None
            else hidden,
            "definition": {"id": "lT4Z3j", "title": "Roof quote", "fields": list(fields)},
            "answers": list(answers),
        },
    }
