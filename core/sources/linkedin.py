"""LinkedIn Lead Sync: the webhook notification, and the lead form response read after it.

LinkedIn's ``LEAD_ACTION`` notification (signed: ``X-LI-Signature``) names a ``leadGenFormResponse``
URN and carries no answers; the worker reads ``GET /rest/leadFormResponses/{response_id}`` and loads that with
``LinkedInLeadSchema``. Answers are keyed by ``questionId`` only, so the form's questions are needed
to know which answer is the email: either projected into the response (``LEAD_RESPONSE_FIELDS``) or
fetched once per form and passed as ``form=``. Shapes: LinkedIn's Lead Sync Postman collection as
catalogued by API-Evangelist; intake-formats.md §5. Pure: no I/O.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import quote

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, pre_load

from core.errors import BadRequest, LeadReadRefused, LeadReadUnavailable
from core.sources.common import (
    Answer,
    PlatformLeadSchema,
    Unreadable,
    lead_data,
    read_or_unreadable,
    require_list,
    require_object,
    resolve_path,
    text_at,
)
from core.sources.forms import flatten_value
from core.sources.incoming import Incoming, ignored, unreadable
from core.sources.lead_read import LeadAnswer, LeadRequest
from core.sources.signatures import linkedin_challenge_response, verify_linkedin_signature
from core.sources.source import Handshake, Setting, Source, SourceConfig, WebhookRequest, require_signature

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-LI-Signature"
ACCESS_TOKEN = Setting("access_token", "secret", key="access_token_env")  # the token for the lead read
API_URL = Setting("api_url", "text", key="api_url", default="https://api.linkedin.com/rest")
API_VERSION = "202411"
# LinkedIn's URL check sends a UUID. Anything else is refused: the answer is an HMAC with the same
# key as X-LI-Signature, so answering any text would sign notifications for whoever asks.
CHALLENGE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
LEAD_ACTION = "LEAD_ACTION"
DELETED = "DELETED"  # the member withdrew the lead: its data is not to be read or delivered
RESPONSE_URN_PREFIX = "urn:li:leadGenFormResponse:"
# A field projection that brings the form (questions, hidden fields) along with the response; LinkedIn's
# own Lead Sync examples use it on the owner finder.
LEAD_RESPONSE_FIELDS = (
    "id,owner,submitter,leadType,versionedLeadGenFormUrn,submittedAt,testLead,leadMetadata,associatedEntity,"
    "formResponse,form:(hiddenFields,name,id,content)"
)
# predefinedField → role. FIRST_NAME, LAST_NAME, EMAIL, WORK_EMAIL are in LinkedIn's samples; the others
# follow intake-formats.md and are unverified, hence both spellings of the postal code. Anything else
# (JOB_TITLE, COMPANY_NAME, SENIORITY, custom questions) goes to the notes.
PREDEFINED_FIELDS = {
    "FIRST_NAME": "first_name",
    "LAST_NAME": "last_name",
    "EMAIL": "email",
    "WORK_EMAIL": "work_email",
    "PHONE_NUMBER": "phone",
    "WORK_PHONE_NUMBER": "work_phone",
    "CITY": "address_city",
    "STATE": "address_state",
    "ZIP_CODE": "address_zip",
    "POSTAL_CODE": "address_zip",
    "COUNTRY": "address_country",
}
# A form question: (role, label, multiple-choice option texts by option id). Ids are read with
# text_at, so a question or option without one is kept under None rather than dropped.
Question = tuple[str | None, str, dict[str | None, str | None]]
FORM_NEEDED = (
    "The lead form's questions are needed to read the answers: request the response with "
    "LEAD_RESPONSE_FIELDS, or pass the form as form=."
)


@dataclass(frozen=True)
class LinkedInLeadRef:
    """One lead named by a notification: what the read job and the dedupe need."""

    response_urn: str
    response_id: str  # the {id} of GET /rest/leadFormResponses/{id}
    action: str  # CREATED, or DELETED when the member withdrew the lead
    lead_type: str | None = None
    form_urn: str | None = None
    occurred_at: int | None = None


def _response_urn(value: str) -> None:
    if not value.startswith(RESPONSE_URN_PREFIX) or value == RESPONSE_URN_PREFIX:
        raise ValidationError(f"Not a lead form response URN (expected {RESPONSE_URN_PREFIX}<id>).")


class _NotificationSchema(Schema):
    error_messages = {"type": "A LinkedIn notification must be a JSON object."}

    class Meta:
        unknown = EXCLUDE

    response_urn = fields.String(
        required=True,
        data_key="leadGenFormResponse",
        validate=_response_urn,
        error_messages={"required": "A LEAD_ACTION notification needs its leadGenFormResponse URN."},
    )
    action = fields.String(required=True, data_key="leadAction")
    lead_type = fields.String(load_default=None, data_key="leadType")
    form_urn = fields.String(load_default=None, data_key="leadGenForm")
    occurred_at = fields.Integer(load_default=None, data_key="occurredAt")

    @post_load
    def _to_ref(self, data: dict[str, Any], **kwargs: Any) -> LinkedInLeadRef:
        return LinkedInLeadRef(response_id=data["response_urn"].removeprefix(RESPONSE_URN_PREFIX), **data)


def parse_linkedin_notification(payload: Any) -> LinkedInLeadRef | None:
    """The lead a verified notification names; None for another event type. ValidationError if it
    names no lead; attribution that is off (an ``occurredAt`` that is no number) is left out."""
    if isinstance(payload, Mapping) and payload.get("type") != LEAD_ACTION:
        return None
    try:
        return _NotificationSchema().load(payload)
    except ValidationError as exc:
        valid = exc.valid_data if isinstance(exc.valid_data, dict) else {}
        if "response_urn" in valid and "action" in valid:
            return LinkedInLeadRef(response_id=valid["response_urn"].removeprefix(RESPONSE_URN_PREFIX), **valid)
        raise


def idempotency_key(ref: LinkedInLeadRef) -> str:
    """The response URN (LinkedIn says notifications repeat)."""
    return ref.response_urn


def is_linkedin_test_lead(response: Any) -> bool:
    """True for a lead form response LinkedIn marks ``testLead: true``."""
    return isinstance(response, Mapping) and response.get("testLead") is True


class LinkedInLeadSchema(PlatformLeadSchema):
    """A ``leadFormResponses`` object, loaded into the Rotor upsert body."""

    default_source = "linkedin"
    base_tags = ("linkedin",)

    def __init__(
        self,
        *,
        form: Mapping[str, Any] | None = None,
        source: str | None = None,
        tags: Iterable[str] = (),
        phone_region: str = "US",
    ) -> None:
        super().__init__(source=source, tags=tags, phone_region=phone_region)
        self.form = form

    @pre_load
    def _map_response(self, data: Any, **kwargs: Any) -> dict[str, Any]:
        response = require_object(data)
        form = self.form if self.form is not None else response.get("form")
        questions = _questions(form)
        items = require_list(resolve_path(response, "formResponse.answers"), "formResponse.answers")
        if items and not questions:
            raise ValidationError({"form": [FORM_NEEDED]})
        answers = [_answer(item, questions, f"formResponse.answers.{i}") for i, item in enumerate(items)]
        hidden = resolve_path(form, "hiddenFields")
        hidden = hidden if isinstance(hidden, list) else []
        attribution = {
            "lead_id": text_at(response, "id"),
            "submitted_at": text_at(response, "submittedAt"),  # epoch milliseconds
            "lead_type": text_at(response, "leadType"),
            "form": text_at(response, "versionedLeadGenFormUrn"),
            "campaign": text_at(response, "leadMetadata.sponsoredLeadMetadata.campaign"),
            "creative": text_at(response, "associatedEntity.associatedCreative"),
            # Hidden fields are the form owner's tracking values (UTMs and the like).
            **{text_at(field, "name") or "hidden": text_at(field, "value") for field in hidden},
        }
        return lead_data(answers, attribution)


class LinkedInSource(Source):
    """Signed notifications naming one lead form response each, read from LinkedIn's REST API."""

    type = "linkedin"
    schema_class = LinkedInLeadSchema
    settings = (ACCESS_TOKEN, API_URL)

    def authenticate(self, source: SourceConfig, request: WebhookRequest) -> None:
        require_signature(source, request, SIGNATURE_HEADER, verify_linkedin_signature)

    def parse(self, source: SourceConfig, request: WebhookRequest, schema: PlatformLeadSchema) -> list[Incoming]:
        payload = request.payload
        ref = read_or_unreadable(parse_linkedin_notification, payload)
        if ref is None:
            return ignored(payload, f"not a lead notification (type {payload.get('type')!r})")
        if isinstance(ref, Unreadable):
            return [unreadable(ref, "LinkedIn lead notification")]
        if ref.action == DELETED:
            # Not read (LinkedIn has removed the data) nor delivered; one already in Rotor is ops' to remove.
            log.warning("LinkedIn says the member deleted lead %s", ref.response_urn)
            return ignored(asdict(ref), "the member deleted this lead on LinkedIn: not read or delivered")
        return [self.announced(idempotency_key(ref), asdict(ref), ref.response_id)]

    def handshake(self, source: SourceConfig, request: WebhookRequest) -> Handshake:
        """``challengeResponse``: the challenge code signed with the client secret, for a UUID code only."""
        code = request.args.get("challengeCode")
        if not code or not CHALLENGE.match(code):
            raise BadRequest("challengeCode must be the UUID LinkedIn sends.")
        assert source.secret, "the view serves only sources whose secret is set"
        return {"challengeCode": code, "challengeResponse": linkedin_challenge_response(code, secret=source.secret)}

    def is_test_lead(self, lead: Any) -> bool:
        return is_linkedin_test_lead(lead)

    def read_request(self, source: SourceConfig, lead_id: str) -> LeadRequest:
        token = source.settings[ACCESS_TOKEN.name]
        if not token:
            raise LeadReadRefused(
                f"sources.{source.name}.{ACCESS_TOKEN.key} is not set, so LinkedIn leads cannot be read"
            )
        return LeadRequest(
            f"{source.settings[API_URL.name].rstrip('/')}/leadFormResponses/{quote(lead_id, safe='')}",
            "LinkedIn",
            params={"fields": LEAD_RESPONSE_FIELDS},
            headers={
                "Authorization": f"Bearer {token}",
                "LinkedIn-Version": API_VERSION,
                "X-Restli-Protocol-Version": "2.0.0",
            },
        )

    def read_answer(self, answer: LeadAnswer) -> dict[str, Any]:
        if answer.status == 200:
            return answer.payload
        message = f"LinkedIn answered {answer.status}: {answer.payload.get('message') or answer.reason}"
        if answer.status >= 500 or answer.status == 429:  # 429: LinkedIn's rate limit
            raise LeadReadUnavailable(message, http_status=answer.status)
        raise LeadReadRefused(message, http_status=answer.status)


SOURCE = LinkedInSource()


def _questions(form: Any) -> dict[str | None, Question]:
    # questionId → (role, label, multiple-choice option texts by option id)
    index: dict[str | None, Question] = {}
    for question in resolve_path(form, "content.questions") or ():
        question_id = text_at(question, "questionId")
        options = resolve_path(question, "questionDetails.multipleChoiceQuestionDetails.options") or ()
        index[question_id] = (
            PREDEFINED_FIELDS.get(text_at(question, "predefinedField") or ""),
            _localized(resolve_path(question, "question")) or text_at(question, "name") or f"Question {question_id}",
            {text_at(option, "id"): _localized(resolve_path(option, "text")) for option in options},
        )
    return index


def _answer(item: Any, questions: Mapping[str | None, Question], where: str) -> Answer:
    item = require_object(item, where)
    question_id = text_at(item, "questionId")
    role, label, options = questions.get(question_id, (None, f"Question {question_id}", {}))
    chosen = resolve_path(item, "answerDetails.multipleChoiceAnswer.options")
    if isinstance(chosen, list):
        value = flatten_value([options.get(str(option), str(option)) for option in chosen])
    else:
        value = text_at(item, "answerDetails.textQuestionAnswer.answer")
    return role, label, value or ""


def _localized(text: Any) -> str | None:
    # MultiLocaleString: {"localized": {"en_US": "..."}}; a form is written in one locale.
    values = resolve_path(text, "localized")
    return next((flatten_value(v) for v in values.values() if v), None) if isinstance(values, Mapping) else None
