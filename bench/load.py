"""What the benchmarks send, and wrk to send it.

Every request is a different person (a counter in the phone number and the email), so intake
never takes its cheaper redelivery path. The lead is a realistic website form of about 600 bytes.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

# One lead, with %d where the person's number goes (the phone takes the exchange and line).
LEAD = {
    "name": "Jordan Alvarez %d",
    "email": "jordan.alvarez.%d@example.com",
    "phone": "(201) %03d-%04d",
    "address": "1842 Maple Ridge Drive",
    "city": "Hackensack",
    "state": "NJ",
    "zip": "07601",
    "service": "roof replacement",
    "message": "Our roof is about 20 years old and we noticed a few missing shingles after the last storm. "
    "Looking for a quote on a full replacement, ideally architectural shingles. Weekday mornings work best.",
    "utm_source": "google",
    "utm_medium": "cpc",
    "utm_campaign": "roofing-spring",
    "gclid": "EAIaIQobChMI8vWq3bKZ-QIVgYBQBh2x",
    "page_url": "https://roofs.example/free-estimate",
}


def lead(n: int) -> dict[str, str]:
    """Person ``n``'s form post: a distinct name, email and valid US phone for n < 8,000,000."""
    body = dict(LEAD)
    body["name"] = LEAD["name"] % n
    body["email"] = LEAD["email"] % n
    body["phone"] = LEAD["phone"] % (200 + n // 10_000 % 800, n % 10_000)
    return body


# wrk's request(): the same body with each thread's own counter (threads start a million apart).
WRK_SCRIPT = """
local template = [[%s]]
local threads = 0
setup = function(thread) thread:set("first", threads * 1000000); threads = threads + 1 end
init = function() n = tonumber(first) end
request = function()
  n = n + 1
  local exchange, line = 200 + math.floor(n / 10000) %% 800, n %% 10000
  local body = template:gsub("{N}", tostring(n)):gsub("{EXCHANGE}", tostring(exchange)):gsub("{LINE}",
    string.format("%%04d", line))
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
"""


@dataclass(frozen=True)
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # non-2xx answers plus socket errors


def require_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit("bench: wrk is not installed (Debian: apt-get install wrk)")
    return path


def run_wrk(url: str, *, seconds: int, connections: int = 32, threads: int = 2) -> WrkResult:
    """POST a different lead per request to ``url`` for ``seconds``; wrk's own summary, parsed."""
    template = json.dumps(
        {
            **LEAD,
            "name": "Jordan Alvarez {N}",
            "email": "jordan.alvarez.{N}@example.com",
            "phone": "(201) {EXCHANGE}-{LINE}",
        }
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(WRK_SCRIPT % template)
        script.flush()
        command = [
            require_wrk(),
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            script.name,
            url,
        ]
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return parse_wrk(out)


UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def parse_wrk(out: str) -> WrkResult:
    def found(pattern: str) -> re.Match[str]:
        match = re.search(pattern, out, re.M)
        if match is None:
            raise ValueError(f"wrk printed no {pattern!r}: {out}")
        return match

    def latency(percent: str) -> float:
        value, unit = found(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s|m)\s*$").groups()
        return float(value) * UNITS_MS[unit]

    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(non_2xx.group(1)) if non_2xx else 0) + (sum(map(int, socket.groups())) if socket else 0)
    return WrkResult(
        requests_per_second=float(found(r"Requests/sec:\s+([\d.]+)").group(1)),
        p50_ms=latency("50"),
        p99_ms=latency("99"),
        requests=int(found(r"(\d+) requests in").group(1)),
        errors=errors,
    )
