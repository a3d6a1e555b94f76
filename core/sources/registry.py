"""Which schema turns which source's lead into the Rotor body; used by webhooks and by lead reads."""

from __future__ import annotations

import json
import logging
from typing import Any

from marshmallow import ValidationError

from core.config import Config, SourceConfig
from core.sources import google, linkedin, meta, tiktok, typeform
from core.sources.common import PlatformLeadSchema
from core.sources.generic import GenericSourceSchema

SCHEMAS: dict[str, type[PlatformLeadSchema]] = {
    "meta": meta.MetaLeadSchema,
    "google": google.GoogleLeadSchema,
    "tiktok": tiktok.TikTokLeadSchema,
    "linkedin": linkedin.LinkedInLeadSchema,
    "typeform": typeform.TypeformLeadSchema,
}
log = logging.getLogger(__name__)
TEST_LEAD_CHECKS = {"meta": meta.is_meta_test_lead, "linkedin": linkedin.is_linkedin_test_lead}


def schema_for(source: SourceConfig, config: Config) -> PlatformLeadSchema:
    """The schema for ``source``, with its tags, Rotor source label and the phone region."""
    options: dict[str, Any] = {"tags": source.tags, "phone_region": config.default_phone_region}
    if source.type == "generic":
        return GenericSourceSchema(
            field_map=source.fields, id_path=source.id_path, source=source.source or source.name, **options
        )
    return SCHEMAS[source.type](source=source.source, **options)


def load_lead(schema: PlatformLeadSchema, payload: Any, *, test: bool) -> tuple[dict[str, Any] | None, str | None]:
    """(Rotor body, None), or (None, why not) when the answers cannot make a deliverable lead."""
    try:
        lead = schema.load(payload)
    except ValidationError as exc:
        return None, "cannot make a lead of it: " + json.dumps(exc.normalized_messages(), sort_keys=True)
    except (TypeError, ValueError, AttributeError) as exc:
        # A shape the mapping did not foresee: the lead is stored failed (replayable once the mapping
        # knows it), not lost to a 500.
        log.exception("cannot map a %s lead", schema.source)
        return None, f"cannot make a lead of it: unexpected shape ({type(exc).__name__}: {exc})"
    if test:
        lead["tags"] = [*lead.get("tags", []), "test-lead"]
    return lead, None
