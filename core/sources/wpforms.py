"""WPForms: the Webhooks addon's post, keys the site owner chose, urlencoded (the default) or JSON.

intake-formats.md §7.5 [addon source, ``WPFormsWebhooks\\Process``]: the body is the owner's key → field
value (or smart tag) pairs, so the keys go through the website forms' alias table as posted. Address,
select and checkbox values join their lines with ``||``; a date is ``{value, unix}`` (urlencoded:
``key[value]=…&key[unix]=…``); uploads are a list of URLs. Every post carries ``X-WPForms-Webhook-Id``
(the webhook's id, one per form feed) and ``User-Agent: wpforms-webhooks/<version>``, and is signed:
``X-WPForms-Webhook-Signature: t=<unix>,v=<hex HMAC-SHA256(secret, "<t>.<body>")>``. In urlencoded
mode the addon signs PHP's ``json_encode`` of the body's array, not the bytes it sends
(``generate_signature``: ``is_array($body) ? wp_json_encode($body) : $body``), so that is rebuilt here
from the posted pairs. One attempt per post, no retry, no test marker. Pure: no I/O.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from core.sources.common import exact_id
from core.sources.form_tool import FormTool, ToolPost, ToolSubmission
from core.sources.forms import fold_key
from core.sources.signatures import recent, verify_hex_signature

WEBHOOK_ID_HEADER = "X-WPForms-Webhook-Id"
USER_AGENT_PREFIX = "wpforms-webhooks/"
MAX_AGE_SECONDS = 5 * 60
# The {entry_id} smart tag, when the owner maps it: with the webhook's id, it names one submission.
ENTRY_ID_KEYS = ("entry_id", "entryid", "wpforms_entry_id")
LINE_SEPARATOR = "||"
MAX_NESTING = 64  # PHP's default max_input_nesting_level
_BRACKETED = re.compile(r"^(?P<base>[^\[\]]+)(?P<path>(?:\[[^\[\]]*\])+)$")


class WPForms(FormTool):
    """The WPForms Webhooks addon."""

    name = "wpforms"
    title = "WPForms"
    signature_header = "X-WPForms-Webhook-Signature"

    def recognises(self, post: ToolPost) -> bool:
        """True for a post with the addon's webhook-id header or its User-Agent (the body is free-form)."""
        user_agent = post.header("User-Agent") or ""
        return post.header(WEBHOOK_ID_HEADER) is not None or user_agent.lower().startswith(USER_AGENT_PREFIX)

    def unwrap(self, post: ToolPost) -> ToolSubmission:
        """The owner's keys as posted, ``||`` lines split, dates as their text; the webhook and entry id."""
        form_encoded = "form" in (post.header("Content-Type") or "").lower()  # urlencoded or multipart
        body = php_array(post.fields.items(), form_encoded=form_encoded)
        fields = {key: _readable(value) for key, value in body.items()}
        entry_key = next((key for key in body if fold_key(key) in ENTRY_ID_KEYS), None)
        entry_id = exact_id(body[entry_key], entry_key) if entry_key else None
        webhook_id = (post.header(WEBHOOK_ID_HEADER) or "").strip()
        # The webhook id alone is the same for every entry of the form: no id rather than a false duplicate.
        platform_id = f"{webhook_id}:{entry_id}" if webhook_id and entry_id else entry_id
        return ToolSubmission(fields, platform_id=platform_id)

    def verify(self, post: ToolPost, *, secret: str, now: float) -> bool:
        """``t=<unix>,v=<hex>`` over ``"<t>.<body>"``, no older (or newer) than 5 minutes."""
        header = post.header(self.signature_header)
        if not isinstance(header, str):
            return False
        parts = [part.strip().partition("=") for part in header.split(",")]
        stamps = [value.strip() for key, _, value in parts if key.strip() == "t"]
        digests = [value.strip() for key, _, value in parts if key.strip() == "v"]
        if len(stamps) != 1 or not recent(stamps[0], now=now, max_age_seconds=MAX_AGE_SECONDS):
            return False
        prefix = stamps[0].encode() + b"."
        return any(
            verify_hex_signature(digest, secret=secret, body=prefix + signed, prefix="")
            for signed in _signed_bodies(post.body)
            for digest in digests
        )


TOOL = WPForms()


def php_array(pairs: Iterable[tuple[str, Any]], *, form_encoded: bool = True) -> dict[str, Any]:
    """Posted pairs as the PHP array they were encoded from: ``date[value]=…`` nests under ``date``,
    ``files[0]=…&files[1]=…`` (or ``files[]``) is a list. Other keys are kept as they are.

    As PHP reads a form body: a key repeated without ``[]`` is its last value (what the addon
    signed, so nothing unsigned is read), and a key nested deeper than PHP's
    ``max_input_nesting_level`` is taken literally.
    """
    array: dict[str, Any] = {}
    for key, value in pairs:
        match = _BRACKETED.match(key)
        steps = [match["base"], *match["path"][1:-1].split("][")] if match else [key]
        *path, last = steps if len(steps) <= MAX_NESTING else [key]
        if form_encoded and last != "" and isinstance(value, list):
            value = value[-1] if value else ""
        node = array
        for step in path:
            child = node.get(step or str(len(node)))  # ``[]`` is the next index
            if not isinstance(child, dict):
                child = node[step or str(len(node))] = {}
            node = child
        for item in value if last == "" and isinstance(value, list) else [value]:
            node[last or str(len(node))] = item
    return {key: _as_lists(value) for key, value in array.items()}


def _as_lists(value: Any) -> Any:
    # PHP writes an array keyed 0, 1, 2 ... as a list, any other array as an object.
    if not isinstance(value, dict):
        return value
    items = {key: _as_lists(item) for key, item in value.items()}
    return list(items.values()) if list(items) == [str(i) for i in range(len(items))] and items else items


def _readable(value: Any) -> Any:
    """A value for the notes and the lead: ``a||b`` as ``[a, b]``, a date object as its text."""
    if isinstance(value, Mapping) and "value" in value:
        return _readable(value["value"])
    if isinstance(value, list):
        return [_readable(item) for item in value]
    if isinstance(value, str) and LINE_SEPARATOR in value:
        lines = [line.strip() for line in value.split(LINE_SEPARATOR)]
        return [line for line in lines if line]
    return value


def _signed_bodies(body: bytes) -> list[bytes]:
    """What the signature may cover: the body as sent (JSON mode) and, for urlencoded pairs, PHP's
    ``json_encode`` of them, with a date's ``unix`` as the integer (or ``false``) it was."""
    bodies = [body]
    if body.lstrip()[:1] in (b"{", b"["):
        return bodies
    try:
        pairs = parse_qsl(body.decode("ascii"), keep_blank_values=True, strict_parsing=False, errors="strict")
    except (UnicodeDecodeError, ValueError):
        return bodies
    array = php_array(pairs)
    for empty_date in (False, 0):
        bodies.append(_php_json(_with_unix_numbers(array, empty_date)))
    return list(dict.fromkeys(bodies))  # the same bytes twice when no date was left empty


def _with_unix_numbers(value: Any, empty_date: bool | int) -> Any:
    # PHP sent the unix time as an integer, false for an empty date; urlencoding made both text ("0").
    if isinstance(value, dict):
        return {
            key: _unix(item, empty_date) if key == "unix" else _with_unix_numbers(item, empty_date)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_with_unix_numbers(item, empty_date) for item in value]
    return value


def _unix(value: Any, empty_date: bool | int) -> Any:
    if isinstance(value, str) and value.isdigit():
        return empty_date if value == "0" else int(value)
    return value


def _php_json(value: Any) -> bytes:
    """``json_encode($value)`` with PHP's defaults: compact, ``\\uXXXX`` escapes, ``/`` escaped."""
    return json.dumps(value, ensure_ascii=True, separators=(",", ":")).replace("/", "\\/").encode()
