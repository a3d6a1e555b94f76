"""Rate limits on the public form endpoints: per client address and per form, counted in Redis.

A form endpoint is open to the internet; these limits stop one client (or a botnet on one form)
from filling Redis or the Rotor budget. Webhooks are not limited: they are authenticated, and a
platform's burst is real leads. The rates are parsed by ``limits`` (flask-limiter's own parser,
so ``"20 per minute; 500 per day"`` works) and counted, fixed window, by intake's store script
(``core.store.intake``): a post costs no round trip beyond the one that stores it. flask-limiter
itself was dropped for that: its two checks were a third of a form post's time
(docs/benchmarks.md). A post is counted when it would be stored, so a post refused as invalid (422)
does not use up its sender's allowance; on a form with a captcha it is counted before the
provider is asked, so a flood of made-up tokens is refused here rather than checked one by one.
"""

from __future__ import annotations

import ipaddress

import limits

from core.config import Config
from core.store import keys
from core.store.intake import Limit


class FormLimits:
    def __init__(self, config: Config) -> None:
        self.per_address = limits.parse_many(config.rate_limit_per_ip)
        self.per_form = limits.parse_many(config.rate_limit_per_form)

    def for_post(self, form_key: str, address: str | None, *, signed: bool = False) -> list[Limit]:
        """The limits a post from ``address`` to ``form_key`` counts against. A post its tool signed
        counts against the form's only: a tool posts every site's leads from a few addresses, and
        does not resend after a 429."""
        scoped = [] if signed else [("form-ip", client_bucket(address), rate) for rate in self.per_address]
        scoped += [("form", form_key, rate) for rate in self.per_form]
        return [
            Limit(
                keys.rate_limit(scope, f"{rate.amount}/{rate.get_expiry()}", value),
                rate.amount,
                rate.get_expiry(),
                str(rate),
            )
            for scope, value, rate in scoped
        ]


def client_bucket(address: str | None) -> str:
    """What one client's posts are counted under: its IPv4 address, or its IPv6 /64.

    An IPv6 host is given a whole /64 (RFC 4291's interface identifier), so a client can post from
    as many addresses as it likes within one: counting the /64 counts the client.
    """
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return address or "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)
