"""A configurable signed-JSON source: a new platform becomes a table of paths, not a module.

Many platforms POST one JSON object per lead (Thumbtack's ``{event, data}``, Angi's flat body, in-house
systems). For those, where each person field sits in the body is the whole mapping: ``field_map`` gives
the dotted path of each Rotor field, ``id_path`` the platform's own lead id for idempotency, and a
``SignatureScheme`` the HMAC header it signs with, all set in its ``[sources.<name>]`` table. What the
map does not use is kept: unmapped top-level values go to the notes. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from marshmallow import ValidationError, pre_load

from core.errors import ConfigError
from core.sources.common import (
    NAME_PARTS,
    PERSON_FIELDS,
    PlatformLeadSchema,
    exact_id,
    lead_data,
    read_or_unreadable,
    readable_label,
    require_object,
    resolve_path,
    text_at,
)
from core.sources.forms import flatten_value
from core.sources.incoming import Incoming, with_answers
from core.sources.signatures import verify_base64_signature, verify_hex_signature
from core.sources.source import Setting, Source, SourceConfig, WebhookRequest, require_signature

MAPPABLE_FIELDS = (*PERSON_FIELDS, *NAME_PARTS)
SIGNATURE_HEADER = Setting("signature_header", "text", key="signature_header", default="X-Signature")
SIGNATURE_ENCODING = Setting(
    "signature_encoding", "choice", key="signature_encoding", default="hex", choices=("hex", "base64")
)
SIGNATURE_PREFIX = Setting("signature_prefix", "text", key="signature_prefix", default="sha256=", allow_empty=True)
ID_PATH = Setting("id_path", "text", key="id_path", default="id")
FIELDS = Setting("fields", "paths", key="fields")


@dataclass(frozen=True)
class SignatureScheme:
    """How a platform signs: ``<header>: <prefix><hex or base64 HMAC-SHA256(secret, raw body)>``."""

    header: str
    encoding: Literal["hex", "base64"] = "hex"
    prefix: str = ""

    def verify(self, header_value: str | None, *, secret: str, body: bytes) -> bool:
        """True if ``header_value`` (the value of ``self.header``) signs ``body`` with ``secret``."""
        verify = verify_hex_signature if self.encoding == "hex" else verify_base64_signature
        return verify(header_value, secret=secret, body=body, prefix=self.prefix)


class GenericSourceSchema(PlatformLeadSchema):
    """A configured platform's JSON body, loaded into the Rotor upsert body through ``field_map``."""

    def __init__(
        self,
        *,
        field_map: Mapping[str, str],
        id_path: str,
        source: str,
        tags: Iterable[str] = (),
        phone_region: str = "US",
    ) -> None:
        unknown = sorted(set(field_map) - set(MAPPABLE_FIELDS))
        if unknown:
            raise ConfigError(f"field_map.{unknown[0]}: not a lead field (known: {', '.join(MAPPABLE_FIELDS)})")
        super().__init__(source=source, tags=tags, phone_region=phone_region)
        self.field_map = dict(field_map)
        self.id_path = id_path

    def idempotency_key(self, payload: Any) -> str:
        """The lead id at ``id_path`` as an exact string; a ValidationError naming the path if absent."""
        lead_id = exact_id(resolve_path(payload, self.id_path), self.id_path)
        if lead_id is None:
            raise ValidationError({self.id_path: ["Missing: this source's lead id is expected here."]})
        return lead_id

    @pre_load
    def _map_paths(self, data: Any, **kwargs: Any) -> dict[str, Any]:
        payload = require_object(data)
        mapped = [(field, readable_label(path), text_at(payload, path) or "") for field, path in self.field_map.items()]
        used = {path.split(".", 1)[0] for path in (*self.field_map.values(), self.id_path)}
        unmapped = [
            (None, readable_label(key), flatten_value(value) or "")
            for key, value in payload.items()
            if key not in used and isinstance(value, str | int | float | bool)
        ]
        attribution = {self.id_path: exact_id(resolve_path(payload, self.id_path), self.id_path)}
        return lead_data([*mapped, *unmapped], attribution)


class GenericSource(Source):
    """A platform described by configuration: its signature header and where each field sits."""

    type = "generic"
    schema_class = GenericSourceSchema
    settings = (SIGNATURE_HEADER, SIGNATURE_ENCODING, SIGNATURE_PREFIX, ID_PATH, FIELDS)

    def authenticate(self, source: SourceConfig, request: WebhookRequest) -> None:
        settings = source.settings
        scheme = SignatureScheme(
            settings[SIGNATURE_HEADER.name], settings[SIGNATURE_ENCODING.name], settings[SIGNATURE_PREFIX.name]
        )
        require_signature(source, request, scheme.header, scheme.verify)

    def parse(self, source: SourceConfig, request: WebhookRequest, schema: PlatformLeadSchema) -> list[Incoming]:
        payload = request.payload
        assert isinstance(schema, GenericSourceSchema)
        return [
            with_answers(schema, payload, read_or_unreadable(schema.idempotency_key, payload), f"{source.name} lead")
        ]

    def schema(self, source: SourceConfig, *, phone_region: str) -> GenericSourceSchema:
        return GenericSourceSchema(
            field_map=source.settings[FIELDS.name],
            id_path=source.settings[ID_PATH.name],
            source=source.source or source.name,  # no platform name to default to: the source's own
            tags=source.tags,
            phone_region=phone_region,
        )


SOURCE = GenericSource()
