"""A platform as one object: everything leadgate needs to take its webhooks and read its leads.

Each platform module (``meta.py``, ``google.py`` ...) defines one ``Source``: the settings it needs,
how a request proves it comes from the platform, the GET handshake if the platform has one, how a
verified body splits into ``Incoming`` items, its lead schema, its test-lead rule, and for a
platform that only announces leads, how to read one and what its answers mean. The registry
(``core.sources.registry``) lists them by type; config, the webhook view and the worker's reads all
ask it. The web layer hands a source a ``WebhookRequest`` and the worker a ``LeadAnswer``, so no
source sees Flask or httpx. docs/adding-a-source.md walks through a new one. Pure: no I/O.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar, Literal, Protocol

from core.errors import NotFound, Unauthorized
from core.sources.common import PlatformLeadSchema, header_value
from core.sources.incoming import Incoming
from core.sources.lead_read import LeadAnswer, LeadRequest

# What the GET handshake answers: text is sent as text/plain, a mapping as JSON.
Handshake = str | Mapping[str, str]


@dataclass(frozen=True)
class Setting:
    """A setting a platform needs, which ``core.config`` reads and checks at start.

    Found in the fixed environment variable ``env`` (Meta's ``META_ACCESS_TOKEN``) or else under
    ``key`` in the source's ``[sources.<name>]`` table. ``kind`` says how it is checked: ``secret``
    a value kept in the environment, in ``env`` or in the variable that ``key`` names; ``url`` (in
    ``env``) an http(s) URL, trailing slash dropped; ``text`` (under ``key``) a string, non-empty
    unless ``allow_empty``; ``choice`` one of ``choices``; ``paths`` a required table of Rotor field
    = payload path. Unset, a setting is ``default`` (None for a secret).
    """

    name: str  # its key in SourceConfig.settings
    kind: Literal["text", "url", "secret", "choice", "paths"]
    key: str | None = None
    env: str | None = None
    default: Any = None
    choices: tuple[str, ...] = ()
    allow_empty: bool = False


@dataclass(frozen=True)
class SourceConfig:
    """One webhook source, served at ``/v1/webhooks/<name>``."""

    name: str
    type: str
    secret: str | None = field(repr=False)  # the signing secret or shared key; None: the endpoint is off (404)
    secret_env: str
    tags: tuple[str, ...] = ()
    account: str = "default"
    source: str | None = None  # Rotor's `source` for these leads; default: the platform's name
    deliver_test_leads: bool = False  # platform test leads are stored as discarded unless set
    # The platform's own settings by Setting.name, every one its Source declares (tokens among them).
    settings: Mapping[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class WebhookRequest:
    """What a source sees of a webhook request: the body exactly as received, headers, query arguments."""

    body: bytes
    headers: Mapping[str, str]
    args: Mapping[str, str]
    # The web layer's JSON reader: it raises BadRequest for a body that is not JSON.
    read_json: Callable[[bytes], Any]

    def header(self, name: str) -> str | None:
        """The header called ``name``, in whatever case it was sent; None if absent."""
        return header_value(self.headers, name)

    @cached_property
    def payload(self) -> Any:
        """The body as JSON, decoded on first use: after a signature check, never before it."""
        return self.read_json(self.body)


class Source(ABC):
    """One platform: subclassed once in its module, listed once in the registry."""

    # Declared before `type`: below it, `type` in this class body is the attribute, not the builtin.
    schema_class: ClassVar[type[PlatformLeadSchema]]
    type: ClassVar[str]  # `type = "..."` in [sources.<name>]; also the prefix of its read refs
    settings: ClassVar[tuple[Setting, ...]] = ()
    # Set for a platform configured by its own variables: the source then exists without a
    # [sources.<type>] table, named after its type, its secret in this variable.
    default_secret_env: ClassVar[str | None] = None

    @abstractmethod
    def authenticate(self, source: SourceConfig, request: WebhookRequest) -> None:
        """Raise Unauthorized (``require_signature``, ``require_proof``) unless ``request`` is the platform's."""

    @abstractmethod
    def parse(self, source: SourceConfig, request: WebhookRequest, schema: PlatformLeadSchema) -> list[Incoming]:
        """The items of an authenticated body; BadRequest only when it is not the platform's envelope at all."""

    def handshake(self, source: SourceConfig, request: WebhookRequest) -> Handshake:
        """The answer to the platform's GET check of the webhook URL."""
        raise NotFound(f"The {source.name!r} source has no GET handshake.")

    def schema(self, source: SourceConfig, *, phone_region: str) -> PlatformLeadSchema:
        """The schema that turns this source's leads into Rotor bodies."""
        return self.schema_class(source=source.source, tags=source.tags, phone_region=phone_region)

    def is_test_lead(self, lead: Any) -> bool:
        """True for a test lead among those read from the platform (``read_request``)."""
        return False

    def read_request(self, source: SourceConfig, lead_id: str) -> LeadRequest | None:
        """How to read an announced lead (None: this platform's webhooks carry their leads);
        LeadReadRefused when a setting the read needs is not set."""
        return None

    def read_answer(self, answer: LeadAnswer) -> dict[str, Any]:
        """The lead ``answer`` carries, or the error it means: LeadReadUnavailable for "later" (an
        outage, the platform's rate limits), LeadReadRefused for a refusal no retry fixes."""
        raise NotImplementedError(f"{self.type} reads no leads")

    def announced(self, platform_id: str, payload: dict[str, Any], lead_id: str) -> Incoming:
        """A lead the body only names: stored unread, then read by the worker (``read_ref``)."""
        return Incoming(platform_id, payload, read_ref=f"{self.type}:{lead_id}")


def split_read_ref(read_ref: str) -> tuple[str, str]:
    """``'meta:444'`` → (source type, lead id): what ``Source.announced`` stored."""
    kind, _, lead_id = read_ref.partition(":")
    return kind, lead_id


class SignatureCheck(Protocol):
    """A check from ``core.sources.signatures``: does ``header`` sign ``body`` with ``secret``?"""

    def __call__(self, header: str | None, /, *, secret: str, body: bytes) -> bool: ...


def require_signature(source: SourceConfig, request: WebhookRequest, header: str, check: SignatureCheck) -> None:
    """Unauthorized naming ``header`` unless it signs the body with the source's secret."""
    require_proof(check(request.header(header), secret=source.secret or "", body=request.body), header)


def require_proof(ok: bool, proof: str) -> None:
    """Unauthorized naming ``proof`` (the header or key that failed) unless ``ok``."""
    if not ok:
        raise Unauthorized(f"{proof} does not match this body and secret.")
