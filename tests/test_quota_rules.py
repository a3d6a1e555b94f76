"""Budget shares, quota windows, retry decisions and backlog estimates. Pure, no servers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.errors import (
    RotorAuthFailed,
    RotorConnectFailed,
    RotorNotFound,
    RotorQuotaExceeded,
    RotorRejected,
    RotorServerError,
    RotorUnreachable,
)
from core.store.quota import Budget, QuotaStatus, RequestKind, window_at
from ops.backlog import backlog_clears_at
from workers.retry import Action, RetryPolicy


def test_budget_keeps_a_share_for_ops_and_for_fresh_leads() -> None:
    budget = Budget(1000, ops_reserve_percent=2, fresh_reserve_percent=20)
    assert budget.ops_reserve == 20 and budget.for_deliveries == 980
    assert budget.ceiling(RequestKind.OPS, 0.0) == 1000
    assert budget.ceiling(RequestKind.FRESH, 0.0) == 980
    assert budget.ceiling(RequestKind.BACKLOG, 0.0) == 980 - 196  # at the reset, 20% is kept for fresh leads
    assert budget.ceiling(RequestKind.BACKLOG, 0.5) == 980 - 98
    assert budget.ceiling(RequestKind.BACKLOG, 1.0) == 980  # nothing is kept unspent at the day's end


def test_small_budgets_round_the_ops_share_up() -> None:
    assert Budget(20, ops_reserve_percent=2).ops_reserve == 1
    assert Budget(20, ops_reserve_percent=0).for_deliveries == 20


@pytest.mark.parametrize(
    ("now", "reset", "starts", "resets"),
    [
        ("2026-11-23T13:05:00", "00:00", "2026-11-23T00:00:00", "2026-11-24T00:00:00"),
        ("2026-11-23T00:00:00", "00:00", "2026-11-23T00:00:00", "2026-11-24T00:00:00"),
        ("2026-11-23T05:59:59", "06:30", "2026-11-22T06:30:00", "2026-11-23T06:30:00"),
        ("2026-11-23T07:00:00", "06:30", "2026-11-23T06:30:00", "2026-11-24T06:30:00"),
    ],
)
def test_quota_window(now: str, reset: str, starts: str, resets: str) -> None:
    window = window_at(datetime.fromisoformat(now).replace(tzinfo=UTC), reset)
    assert window.starts_at == datetime.fromisoformat(starts).replace(tzinfo=UTC)
    assert window.resets_at == datetime.fromisoformat(resets).replace(tzinfo=UTC)


POLICY = RetryPolicy(max_attempts=3, base_seconds=30, max_seconds=3600)


@pytest.mark.parametrize(
    ("error", "sent_id", "action"),
    [
        (RotorQuotaExceeded("q", http_status=429, error_code="RATE_LIMIT_EXCEEDED"), False, Action.WAIT_FOR_QUOTA),
        (RotorQuotaExceeded("q", http_status=400, error_code="RATE_LIMIT_EXCEEDED"), False, Action.WAIT_FOR_QUOTA),
        (RotorAuthFailed("a", http_status=401), False, Action.PAUSE_ACCOUNT),
        (RotorAuthFailed("a", http_status=403, error_code="INSUFFICIENT_SCOPE"), False, Action.PAUSE_ACCOUNT),
        (RotorNotFound("n", http_status=404), True, Action.RETRY_WITHOUT_ID),
        (RotorNotFound("n", http_status=404), False, Action.FAIL),
        (RotorRejected("v", http_status=400), False, Action.FAIL),
        (RotorServerError("s", http_status=503), False, Action.RETRY),
        (RotorUnreachable("t"), False, Action.RETRY),
        (RotorConnectFailed("c"), False, Action.RETRY),
    ],
)
def test_each_failure_class_has_its_action(error, sent_id: bool, action: Action) -> None:
    assert POLICY.decide(error, failures=1, sent_id=sent_id).action is action


def test_transient_failures_stop_after_max_attempts() -> None:
    assert POLICY.decide(RotorServerError("s"), failures=2, sent_id=False).action is Action.RETRY
    assert POLICY.decide(RotorServerError("s"), failures=3, sent_id=False).action is Action.FAIL


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    assert [POLICY.backoff(n, rand=lambda: 0.0) for n in (1, 2, 3)] == [15, 30, 60]
    assert [POLICY.backoff(n, rand=lambda: 1.0) for n in (1, 2, 3)] == [30, 60, 120]
    assert POLICY.backoff(20, rand=lambda: 1.0) == 3600


def test_default_policy_spans_about_a_day() -> None:
    policy = RetryPolicy()
    low = sum(policy.backoff(n, rand=lambda: 0.0) for n in range(1, policy.max_attempts))
    high = sum(policy.backoff(n, rand=lambda: 1.0) for n in range(1, policy.max_attempts))
    assert 10 * 3600 < low < high < 24 * 3600


def test_backlog_estimate() -> None:
    window = window_at(datetime(2026, 11, 23, 12, tzinfo=UTC), "00:00")
    now = datetime(2026, 11, 23, 12, tzinfo=UTC)
    budget = Budget(100, ops_reserve_percent=0)
    status = QuotaStatus("default", used=90, limit=100, exhausted=False, window=window)
    assert backlog_clears_at(status, budget, 0, now) is None
    assert backlog_clears_at(status, budget, 10, now) == now
    assert backlog_clears_at(status, budget, 110, now) == datetime(2026, 11, 24, tzinfo=UTC)
    assert backlog_clears_at(status, budget, 111, now) == datetime(2026, 11, 25, tzinfo=UTC)
    exhausted = QuotaStatus("default", used=50, limit=100, exhausted=True, window=window)
    assert backlog_clears_at(exhausted, budget, 100, now) == datetime(2026, 11, 24, tzinfo=UTC)
