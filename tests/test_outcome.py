"""How a delivery run ends, decided from what it read, and what its own job returns for it. Pure, no servers."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import rq

from core.errors import (
    LeadReadRefused,
    LeadReadUnavailable,
    RotorAuthFailed,
    RotorNotFound,
    RotorQuotaExceeded,
    RotorRejected,
    RotorServerError,
)
from core.store.people import Member, Person
from core.store.quota import window_at
from core.store.submissions import DeliveryState
from core.vocabulary import ErrorClass, SubmissionStatus
from workers.deliver import job_result
from workers.outcome import (
    Busy,
    Deferred,
    Delivered,
    Duplicate,
    Failed,
    Retry,
    RetryWithoutId,
    Run,
    Skipped,
    Upsert,
    after_failure,
    plan,
)
from workers.retry import Action, Decision, RetryPolicy

NOW = datetime(2026, 11, 23, 15, 30, tzinfo=UTC)
WINDOW = window_at(NOW, "00:00")
ANN = {"name": "Ann Lee", "phone": "+12015550123", "tags": ["website"]}


def state(status: SubmissionStatus = SubmissionStatus.QUEUED, **changes) -> DeliveryState:
    base = DeliveryState(
        status=status,
        account="default",
        lead=dict(ANN),
        failures=0,
        deferrals=0,
        person="p1",
        source="form:contact",
        received_at="2026-11-23T15:00:00+00:00",
        read_ref=None,
        replay=False,
    )
    return replace(base, **changes)


def run_of(*states: DeliveryState, person: Person | None = None) -> Run:
    members = [Member(f"s{n}", s) for n, s in enumerate(states)]
    return Run("s0", states[0], members, person or Person("p1"))


def failure(error, *, failures: int = 1, sent_id: bool = False):
    verdict = RetryPolicy(max_attempts=3, base_seconds=30).decide(error, failures=failures, sent_id=sent_id)
    return after_failure(error, verdict, window=WINDOW, now=NOW, probe_seconds=300)


@pytest.mark.parametrize("status", [SubmissionStatus.DELIVERED, SubmissionStatus.DUPLICATE, SubmissionStatus.DISCARDED])
def test_a_settled_submission_sends_nothing(status) -> None:
    assert plan(run_of(state(status))) == Skipped(f"already {status.value}")


def test_a_new_person_gets_the_merged_body_without_an_id() -> None:
    planned = plan(run_of(state(), state(lead={"name": "Ann Lee", "email": "ann@example.com"})))
    assert planned == Upsert({**ANN, "email": "ann@example.com"})
    assert not planned.sends_id


def test_a_known_person_is_updated_by_its_rotor_id() -> None:
    planned = plan(run_of(state(), person=Person("p1", lead_id="L1")))
    assert planned == Upsert({"id": "L1", **ANN})
    assert planned.sends_id


def test_what_rotor_already_holds_within_the_window_is_a_duplicate() -> None:
    person = Person("p1", lead_id="L1", delivered=dict(ANN), delivered_by="s9")
    assert plan(run_of(state(), person=person)) == Duplicate("s9", "L1")
    # An operator's replay sends it all the same; anything new is sent too.
    assert isinstance(plan(run_of(state(replay=True), person=person)), Upsert)
    assert isinstance(plan(run_of(state(lead={**ANN, "zip": "07030"}), person=person)), Upsert)


def test_rotor_refusing_for_its_quota_defers_to_the_reset_of_the_window_it_was_counted_in() -> None:
    deferred = failure(RotorQuotaExceeded("Rotor answered 429: limit"))
    assert deferred == Deferred(WINDOW.resets_at, "Rotor says the quota is spent: Rotor answered 429: limit", WINDOW)
    assert str(deferred) == "deferred until 2026-11-24T00:00:00+00:00"


def test_a_refused_key_pauses_the_account_until_the_next_probe() -> None:
    deferred = failure(RotorAuthFailed("Rotor answered 401: bad key"))
    assert deferred == Deferred(
        NOW + timedelta(seconds=300),
        "account paused: Rotor answered 401: bad key",
        pauses_account="Rotor answered 401: bad key",
    )


def test_an_id_rotor_no_longer_has_is_dropped_and_the_upsert_runs_again_at_once() -> None:
    assert failure(RotorNotFound("Rotor answered 404"), sent_id=True) == RetryWithoutId()
    # Without an id sent, a 404 is Rotor misbehaving: no retry would fix it.
    error = RotorNotFound("Rotor answered 404")
    assert failure(error, sent_id=False) == Failed("Rotor answered 404", ErrorClass.NOT_FOUND, error)


def test_transient_failures_retry_with_backoff_then_fail_as_unavailable() -> None:
    retry = failure(RotorServerError("Rotor answered 503"), failures=1)
    assert isinstance(retry, Retry) and 15 <= retry.delay <= 30 and retry.error == "Rotor answered 503"
    assert str(retry) == f"retrying in {retry.delay}s: Rotor answered 503"
    error = LeadReadUnavailable("Meta Graph answered 500")
    assert isinstance(failure(error, failures=2), Retry)
    assert failure(error, failures=3) == Failed("Meta Graph answered 500", ErrorClass.UNAVAILABLE, error)


@pytest.mark.parametrize(
    ("error", "error_class"),
    [
        (RotorRejected("Rotor answered 422: phone: invalid"), ErrorClass.REJECTED),
        (LeadReadRefused("Meta Graph answered 400: token expired"), ErrorClass.READ_REFUSED),
    ],
)
def test_permanent_failures_fail_at_once_with_their_error_class(error, error_class) -> None:
    assert failure(error) == Failed(error.message, error_class, error)


def test_after_failure_follows_the_verdict_whatever_the_error() -> None:
    error = RotorServerError("Rotor answered 502")
    assert after_failure(error, Decision(Action.RETRY, 7), window=WINDOW, now=NOW, probe_seconds=1) == Retry(
        7, "Rotor answered 502"
    )
    assert after_failure(error, Decision(Action.FAIL), window=WINDOW, now=NOW, probe_seconds=1) == Failed(
        "Rotor answered 502", ErrorClass.UNAVAILABLE, error
    )


def test_a_job_of_its_own_returns_the_lead_id_or_what_happened() -> None:
    assert job_result(Delivered("L1", created=True, body=dict(ANN))) == "L1"
    assert job_result(Duplicate("s9", "L1")) == "duplicate of s9"
    assert job_result(Skipped("left failed: it is queued now")) == "left failed: it is queued now"
    assert job_result(Failed("no phone or email", ErrorClass.INVALID_LEAD)) == "failed: no phone or email"
    assert job_result(Deferred(WINDOW.resets_at, "budget")) == "deferred until 2026-11-24T00:00:00+00:00"


@pytest.mark.parametrize(
    ("outcome", "interval"),
    [(Busy(2, "another worker holds the person"), 2), (Retry(45, "x"), 45), (RetryWithoutId(), 0)],
)
def test_a_run_that_must_happen_again_is_rqs_retry(outcome, interval) -> None:
    result = job_result(outcome)
    assert isinstance(result, rq.Retry) and result.intervals == [interval]


def test_a_failed_call_fails_the_job_so_rq_shows_why() -> None:
    error = RotorRejected("Rotor answered 422: phone: invalid")
    with pytest.raises(RotorRejected):
        job_result(Failed(error.message, error.error_class, error))
