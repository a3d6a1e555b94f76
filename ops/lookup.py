"""``leadgate lookup``: read one lead back from Rotor, paid from the share of the budget kept for ops."""

from __future__ import annotations

from typing import Any

from redis import Redis

from core.config import Config
from core.errors import RotorQuotaExceeded
from core.rotor import RotorClient
from core.store.quota import Budget, QuotaLedger, RequestKind


def lookup_lead(connection: Redis, config: Config, lead_id: str, *, account: str = "default") -> dict[str, Any]:
    """The lead as Rotor has it; a DeliveryError when it cannot be asked or has none by ``lead_id``."""
    settings = config.account(account)
    ledger = QuotaLedger(connection, reset_utc=config.quota_reset_utc)
    reservation = ledger.reserve(account, Budget.for_account(config, account), RequestKind.OPS)
    if not reservation.granted:
        raise RotorQuotaExceeded(f"no Rotor requests left today on account {account!r}", error_code="LOCAL_BUDGET")
    if not settings.api_key:
        raise RotorQuotaExceeded(f"{settings.api_key_env} is not set", error_code="NO_KEY")
    client = RotorClient(config.rotor_base_url, settings.api_key)
    try:
        return client.get_lead(lead_id)
    except RotorQuotaExceeded:
        ledger.mark_exhausted(account, reservation.window)
        raise
    finally:
        client.close()
