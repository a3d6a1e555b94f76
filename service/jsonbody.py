"""Reading a JSON request body safely: malformed or absurdly nested JSON is the sender's 400, never our 500."""

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
        text = raw.decode()  # JSON is UTF-8 (RFC 8259); json.loads would also guess UTF-16 and -32
        data = json.loads(text, parse_constant=_not_json)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise BadRequest("The body is not valid JSON.") from None
    if _depth(data) > MAX_DEPTH:
        raise BadRequest(f"The JSON body nests deeper than {MAX_DEPTH} levels.")
    if _SURROGATE_ESCAPE.search(text):
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
