"""Webflow: a site's ``form_submission`` webhook, answers keyed by the designer's field names.

v2 body ``{triggerType: "form_submission", payload: {name, siteId, data: {<field name>: value},
schema, submittedAt, id, formId, ...}}``; the legacy v1 body is ``{name, site, data, d, _id}``. The
doc's example sends the phone as a JSON number. Webhooks made by an OAuth app are signed:
``x-webflow-signature`` = hex HMAC-SHA256(client secret, ``"<x-webflow-timestamp>:<body>"``), the
timestamp in milliseconds, older than 5 minutes refused. intake-formats.md §7.2 [doc]. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import ValidationError

from core.sources.common import exact_id, require_object
from core.sources.form_tool import FormTool, ToolPost, ToolSubmission
from core.sources.signatures import recent, verify_hex_signature

TRIGGER = "form_submission"
TIMESTAMP_HEADER = "x-webflow-timestamp"
MAX_AGE_SECONDS = 5 * 60
LEGACY_KEYS = frozenset({"name", "site", "data", "_id"})


class WebflowTool(FormTool):
    name = "webflow"
    title = "Webflow"
    signature_header = "x-webflow-signature"

    def recognises(self, post: ToolPost) -> bool:
        fields = post.fields
        if fields.get("triggerType") == TRIGGER:
            return True
        return LEGACY_KEYS <= fields.keys() and isinstance(fields.get("data"), Mapping)

    def unwrap(self, post: ToolPost) -> ToolSubmission:
        payload = post.fields.get("payload", post.fields) if "triggerType" in post.fields else post.fields
        submission = require_object(payload, "payload")
        data = submission.get("data")
        if not isinstance(data, Mapping):
            raise ValidationError({"payload.data": ["A Webflow form submission needs its data object."]})
        fields: dict[str, Any] = {label: value for label, value in data.items()}
        form = submission.get("name")
        if isinstance(form, str) and form:
            fields.setdefault("Webflow form", form)
        return ToolSubmission(fields, platform_id=exact_id(submission.get("id", submission.get("_id")), "payload.id"))

    def verify(self, post: ToolPost, *, secret: str, now: float) -> bool:
        stamp = post.header(TIMESTAMP_HEADER) or ""
        if not recent(stamp, now=now, max_age_seconds=MAX_AGE_SECONDS, per_second=1000):
            return False
        return verify_hex_signature(
            post.header(self.signature_header), secret=secret, body=stamp.encode() + b":" + post.body, prefix=""
        )


TOOL = WebflowTool()
