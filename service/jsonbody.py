"""Reading a JSON request body safely: malformed or absurdly nested JSON is the sender's 400, never our 500."""

from __future__ import annotations

import json
from typing import Any

from service.errors import BadRequest

# No lead, webhook or ops request nests anywhere near this; Python's parser itself breaks near 1000.
MAX_DEPTH = 32


def parse_json(raw: bytes) -> Any:
    """The decoded body (big integers stay exact); BadRequest for invalid JSON or nesting past MAX_DEPTH."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise BadRequest("The body is not valid JSON.") from None
    if _depth(data) > MAX_DEPTH:
        raise BadRequest(f"The JSON body nests deeper than {MAX_DEPTH} levels.")
    return data


def _depth(data: Any) -> int:
    deepest, stack = 0, [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            deepest = max(deepest, depth)
            if depth <= MAX_DEPTH:  # no need to look further once past the limit
                stack.extend((item, depth + 1) for item in (value.values() if isinstance(value, dict) else value))
    return deepest
