"""Reading JSON safely: malformed or absurdly nested JSON is the sender's 400 (or a field's error), never our 500."""

from __future__ import annotations

import json
import re
from typing import Any

from core.errors import BadRequest

# No lead, webhook or ops request nests anywhere near this; Python's parser itself breaks near 1000.
MAX_DEPTH = 32
# A \uD800-\uDFFF escape: half of a pair (an emoji, fine) or a lone half. JavaScript writes one
# when a script cuts text mid-emoji; no UTF-8 text can hold it, so hashing, storing or sending
# the lead would fail. It becomes U+FFFD, as browsers do (WHATWG USVString): the lead is kept.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def parse_json(raw: bytes) -> Any:
    """The decoded body (big integers stay exact, lone surrogates replaced); BadRequest for invalid
    JSON (NaN and Infinity included) or nesting past MAX_DEPTH."""
    try:
        return loads(raw)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None


def loads(raw: bytes | str) -> Any:
    """``raw`` decoded as ``parse_json`` does; ValueError saying what is wrong with it. For JSON
    carried inside a field (Unbounce's ``data.json``, Jotform's ``rawRequest``) as for a body."""
    try:
        text = raw.decode() if isinstance(raw, bytes) else raw  # JSON is UTF-8 (RFC 8259)
        data = json.loads(text, parse_constant=_not_json)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise ValueError("The body is not valid JSON.") from None
    if _depth(data) > MAX_DEPTH:
        raise ValueError(f"The JSON body nests deeper than {MAX_DEPTH} levels.")
    if _SURROGATE_ESCAPE.search(text) or _LONE_SURROGATE.search(text):
        decoded = json.dumps(data, ensure_ascii=False)
        if _LONE_SURROGATE.search(decoded):
            data = json.loads(_LONE_SURROGATE.sub("\ufffd", decoded))
    return data


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")  # Python's parser accepts NaN and Infinity; the standard does not


def _depth(data: Any) -> int:
    deepest, stack = 0, [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            deepest = max(deepest, depth)
            if depth <= MAX_DEPTH:  # no need to look further once past the limit
                stack.extend((item, depth + 1) for item in (value.values() if isinstance(value, dict) else value))
    return deepest
