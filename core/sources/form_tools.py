"""Every form tool and lead marketplace whose webhook posts a form URL takes, in the order they are tried.

A post is the tool's when the form pins it (``builder = "<name>"``) or, otherwise, when the first
tool here recognises its shape; a post no tool recognises is a plain website form. A new tool is
one module (its ``FormTool``) and one line here. The most specific shapes come first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from core.sources import angi, elementor, gravity_forms, jotform, tally, thumbtack, unbounce, webflow, wpforms
from core.sources.common import resolve_path
from core.sources.form_tool import FormTool, ToolPost, ToolSubmission
from core.sources.forms import fold_key

TOOLS: dict[str, FormTool] = {
    tool.name: tool
    for tool in (
        wpforms.TOOL,  # its own X-WPForms-Webhook-Id header or User-Agent; the body is free-form
        thumbtack.TOOL,  # event.eventType of a Thumbtack family around data, or a flat negotiationID
        angi.TOOL,  # leadOid or srOid with another of Angi's own names (primaryPhone, taskName ...)
        webflow.TOOL,
        tally.TOOL,  # eventId and eventType around data, or data.fields with a responseId
        jotform.TOOL,  # formID beside submissionID or rawRequest
        unbounce.TOOL,  # a data.json field
        elementor.TOOL,  # form[...] and fields[<id>][...] keys (Advanced Data on)
        gravity_forms.TOOL,  # an entry: id, form_id and field-id keys ("1.3"); loosest, so last
    )
}


def detect(post: ToolPost) -> FormTool | None:
    """The tool whose shape ``post`` has; None for a plain website form."""
    return next((tool for tool in TOOLS.values() if tool.recognises(post)), None)


def tool_for(post: ToolPost, *, builder: str | None) -> FormTool | None:
    """The tool a form post comes from: the one the form pins, else the one whose shape it has."""
    return TOOLS[builder] if builder else detect(post)


def form_submission(post: ToolPost, tool: FormTool | None, field_map: Mapping[str, str]) -> ToolSubmission:
    """What a form post says: the tool's envelope unwrapped (a plain form's fields as posted), with the
    form's own ``field_map`` read first. ValidationError when the tool's envelope cannot be read."""
    submission = tool.unwrap(post) if tool is not None else ToolSubmission(dict(post.fields))
    if not field_map:
        return submission
    return replace(submission, fields=_mapped(submission.fields, post.fields, field_map))


def _mapped(fields: dict[str, Any], posted: Mapping[str, Any], field_map: Mapping[str, str]) -> dict[str, Any]:
    """``fields`` with each mapped lead field first, taken from the field so labelled (compared like
    the alias table compares) or else from the dotted path in what was posted."""
    labels = {fold_key(label): label for label in fields}
    mapped: dict[str, Any] = {}
    for lead_field, found_at in field_map.items():
        label = labels.get(fold_key(found_at))
        if label is not None:
            value = fields[label]
        else:  # a key of the post itself (Gravity Forms' "1.3"), else a dotted path into it
            value = posted[found_at] if found_at in posted else resolve_path(posted, found_at)
        if value not in (None, "", []):
            mapped[lead_field] = value
    used = {labels.get(fold_key(found_at)) for found_at in field_map.values()}
    rest = {label: value for label, value in fields.items() if label not in used}
    # A posted field under a mapped lead field's own name stays, renamed, in the notes.
    return mapped | {(f"{label} (as posted)" if label in mapped else label): value for label, value in rest.items()}
