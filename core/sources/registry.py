"""Every platform leadgate takes webhooks from, by the ``type`` a source is configured with.

Config asks it which types exist and what settings each needs, the webhook view which one
authenticates and parses a request, the worker which one reads an announced lead. A new platform
is one module (its ``Source``) and one line here (docs/adding-a-source.md).
"""

from __future__ import annotations

from core.sources import generic, google, linkedin, meta, tiktok, typeform
from core.sources.common import PlatformLeadSchema
from core.sources.source import Source, SourceConfig

# In this order config's messages list the types.
SOURCES: dict[str, Source] = {
    source.type: source
    for source in (
        meta.SOURCE,
        google.SOURCE,
        tiktok.SOURCE,
        linkedin.SOURCE,
        typeform.SOURCE,
        generic.SOURCE,
    )
}


def schema_for(source: SourceConfig, *, phone_region: str) -> PlatformLeadSchema:
    """The schema for ``source``, with its tags, Rotor source label and the phone region."""
    return SOURCES[source.type].schema(source, phone_region=phone_region)
