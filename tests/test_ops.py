"""Reprocessing: see why things failed, fix, retry or replay, in bulk; CLI and ops API alike."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from openapi_spec_validator import validate

from core.config import Config, FormConfig
from core.store import keys
from core.store.submissions import SubmissionStore
from core.vocabulary import SubmissionStatus
from leadgate import main
from ops.reprocess import Done, Reprocessor, Skipped, SkipReason
from service.ops_schemas import ERROR_CLASSES
from tests.conftest import ADMIN_TOKEN
from workers import context
from workers.deliver import Delivery

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
ANN = {"name": "Ann Lee", "phone": "2015550123", "email": "ann@example.com"}


FORMS_TOML = '[forms.contact]\ntags = ["website"]\nredirect_url = "https://example.com/thanks"\n'


@pytest.fixture
def cli(config: Config, tmp_path):
    """Run a leadgate command against this test's Redis and sandbox; returns click's result.

    ``stdout`` holds what scripts read (tables, JSON); ``output`` adds stderr (progress bars).
    """
    env = {
        "REDIS_URL": config.redis_url,
        "ROTOR_BASE_URL": config.rotor_base_url,
        "ROTOR_API_KEY": config.rotor_api_key,
        "LEADGATE_RETRY_MAX_ATTEMPTS": str(config.retry_max_attempts),
        "LEADGATE_CONFIG": str(tmp_path / "forms.toml"),
    }
    (tmp_path / "forms.toml").write_text(FORMS_TOML)

    def run(*args: str, **extra_env: str):
        return CliRunner().invoke(main, list(args), env={**env, **extra_env})

    return run


def record(redis_conn, submission_id: str):
    return SubmissionStore(redis_conn).get(submission_id)


def test_exhausted_5xx_is_listed_then_retried_once_the_cause_is_gone(client, deliver, redis_conn, sandbox, cli):
    sandbox.faults(fail_next=3)
    submission_id = client.post("/v1/forms/contact", json=ANN).json["submission_id"]
    deliver()
    (item,) = json.loads(cli("failed", "list", "--json").stdout)
    assert (item["id"], item["error_class"], item["attempts"]) == (submission_id, "unavailable", 3)
    assert item["error"] == "Rotor answered 500: Internal server error"
    result = cli("failed", "retry", submission_id, "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["done"] == 1
    deliver()
    done = record(redis_conn, submission_id)
    assert done.status is SubmissionStatus.DELIVERED and done.failures == 0
    assert len(sandbox.leads()) == 1
    assert sandbox.stats()["by_endpoint"]["POST /leads"] == 4  # three failed, one delivered, exactly once
    assert json.loads(cli("failed", "list", "--json").stdout) == []


def test_rq_requeue_behaves_like_failed_retry(client, deliver, redis_conn, sandbox, queue) -> None:
    sandbox.faults(fail_next=3)
    submission_id = client.post("/v1/forms/contact", json=ANN).json["submission_id"]
    deliver()  # tried in the drain job, then retried in a job of its own until that job failed
    failed = record(redis_conn, submission_id)
    assert failed.status is SubmissionStatus.FAILED and failed.job_id in queue.failed_job_registry.get_job_ids()
    queue.failed_job_registry.requeue(failed.job_id)  # what `rq requeue` and rq-dashboard do
    deliver()
    assert record(redis_conn, submission_id).status is SubmissionStatus.DELIVERED
    assert len(sandbox.leads()) == 1
    assert sandbox.stats()["by_endpoint"]["POST /leads"] == 4  # three failed, one delivered


def failed_submission(client, deliver, sandbox) -> str:
    """A submission that used up its three attempts on Rotor 500s."""
    sandbox.faults(fail_next=3)
    submission_id = client.post("/v1/forms/contact", json=ANN).json["submission_id"]
    deliver()
    return submission_id


def test_a_second_retry_before_the_first_ran_adds_no_second_job(client, deliver, redis_conn, sandbox, queue, cli):
    submission_id = failed_submission(client, deliver, sandbox)
    posts_before = sandbox.stats()["by_endpoint"]["POST /leads"]
    first = client.post("/v1/ops/failed/retry", json={"ids": [submission_id]}, headers=AUTH).json
    assert first == {"done": 1, "ids": [submission_id], "skipped": {}}
    assert record(redis_conn, submission_id).status is SubmissionStatus.QUEUED  # reopened at once, not by its job
    again = client.post("/v1/ops/failed/retry", json={"ids": [submission_id, submission_id]}, headers=AUTH).json
    assert again == {"done": 0, "ids": [], "skipped": {submission_id: "not failed (it is queued)"}}
    assert cli("failed", "retry", "--all").stdout == "retry: 0 done, 0 skipped\n"  # no longer listed as failed
    assert len(queue.job_ids) == 1
    sandbox.faults(fail_next=100)  # Rotor still failing: the one retry costs three attempts, not six
    deliver()
    assert sandbox.stats()["by_endpoint"]["POST /leads"] - posts_before == 3
    assert record(redis_conn, submission_id).status is SubmissionStatus.FAILED and len(queue.job_ids) == 0


def test_the_same_id_twice_in_one_retry_is_retried_once(client, deliver, redis_conn, sandbox, queue, cli) -> None:
    submission_id = failed_submission(client, deliver, sandbox)
    result = cli("failed", "retry", submission_id, submission_id, "--json")
    assert result.exit_code == 0 and json.loads(result.stdout) == {"done": 1, "ids": [submission_id], "skipped": {}}
    assert len(queue.job_ids) == 1


def test_a_leftover_job_requeued_after_a_retry_does_not_reopen_it(client, deliver, redis_conn, sandbox, queue, config):
    submission_id = failed_submission(client, deliver, sandbox)
    leftover = record(redis_conn, submission_id).job_id
    assert Reprocessor(redis_conn, config).retry([submission_id]).done == [submission_id]
    sandbox.faults(fail_next=100)
    deliver()  # the operator's retry fails too: its own job is now the submission's
    failed = record(redis_conn, submission_id)
    assert failed.status is SubmissionStatus.FAILED and failed.job_id != leftover
    posts_before = sandbox.stats()["by_endpoint"]["POST /leads"]
    queue.failed_job_registry.requeue(leftover)  # someone requeues the old job in rq-dashboard
    deliver()
    assert sandbox.stats()["by_endpoint"]["POST /leads"] == posts_before  # it did not reopen it
    assert record(redis_conn, submission_id).status is SubmissionStatus.FAILED


def test_replay_refuses_a_submission_still_waiting(client, redis_conn, queue, cli) -> None:
    submission_id = client.post("/v1/forms/contact", json=ANN).json["submission_id"]
    result = cli("replay", submission_id)
    assert result.exit_code == 1
    assert result.stdout == (
        f"replay: 0 done, 1 skipped\nskipped {submission_id}: not settled (it is queued): it will "
        "be delivered as it is; replay it once it is delivered or failed\n"
    )
    waiting = record(redis_conn, submission_id)
    assert waiting.status is SubmissionStatus.QUEUED and not waiting.replay and waiting.job_id is None


def test_replay_while_a_worker_delivers_it_is_refused_not_lost(client, deliver, redis_conn, sandbox, config) -> None:
    submission_id = client.post("/v1/forms/contact", json=ANN).json["submission_id"]
    redis_conn.delete(keys.INBOX)  # delivered by hand below, not by the drain job
    fixed = Config(
        **{
            **config.__dict__,
            "forms": {**config.forms, "contact": FormConfig(key="contact", tags=("website", "fixed-mapping"))},
        }
    )
    ctx = context.DeliveryContext.from_config(config)
    rotor = ctx.rotor("default")
    upsert, reports = rotor.upsert_lead, []

    def upsert_while_the_operator_replays(body):
        reports.append(Reprocessor(redis_conn, fixed).replay([submission_id]))
        return upsert(body)

    rotor.upsert_lead = upsert_while_the_operator_replays
    Delivery(redis_conn, ctx, submission_id).run()
    ctx.close()
    (report,) = reports
    assert report.done == [] and report.skipped[submission_id].startswith("not settled (it is queued)")
    assert record(redis_conn, submission_id).status is SubmissionStatus.DELIVERED
    # Once settled, the replay goes through and Rotor gets today's mapping.
    assert Reprocessor(redis_conn, fixed).replay([submission_id]).done == [submission_id]
    deliver()
    (lead,) = sandbox.leads()
    assert "fixed-mapping" in lead["tags"]


def test_retry_validates_the_error_class_like_the_api(cli) -> None:
    result = cli("failed", "retry", "--all", "--error-class", "bogus")
    assert result.exit_code == 2 and "'bogus' is not one of" in result.output
    assert cli("failed", "retry", "--all", "--error-class", "crashed").exit_code == 0
    help_text = cli("failed", "retry", "--help").stdout
    assert all(name in help_text for name in ERROR_CLASSES)


def test_lookup_on_an_unknown_account_is_one_line(cli) -> None:
    result = cli("lookup", "some-lead", "--account", "nosuch")
    assert result.exit_code == 1
    assert result.output == "Error: LEADGATE_CONFIG: no account named 'nosuch'\n"


def test_replay_after_a_mapping_fix_corrects_the_same_rotor_lead(app, client, deliver, redis_conn, sandbox, cli):
    intake = app.extensions["leadgate"]
    raw = {"content_type": "application/json", "fields": ANN}
    # Yesterday's mapping put the page title where the name belongs.
    buggy = {"name": "Contact us", "phone": "+12015550123", "email": "ann@example.com", "source": "website"}
    submission_id = intake.accept(source="form:contact", raw=raw, lead=buggy)
    deliver()
    (lead,) = sandbox.leads()
    assert lead["name"] == "Contact us"
    result = cli("replay", submission_id)
    assert result.exit_code == 0, result.output
    deliver()
    (fixed,) = sandbox.leads()
    assert fixed["id"] == lead["id"] and fixed["name"] == "Ann Lee"
    replayed = record(redis_conn, submission_id)
    assert replayed.status is SubmissionStatus.DELIVERED and replayed.rotor_result == "updated"
    assert replayed.lead["name"] == "Ann Lee" and not replayed.replay


def test_rejected_body_fails_at_once_and_replay_fixes_it(app, deliver, redis_conn, sandbox, cli) -> None:
    intake = app.extensions["leadgate"]
    raw = {"content_type": "application/json", "fields": ANN}
    submission_id = intake.accept(source="form:contact", raw=raw, lead={"name": "Ann", "email": "ann@@example"})
    deliver()
    (item,) = json.loads(cli("failed", "list", "--error-class", "rejected", "--json").stdout)
    assert item["error"] == "Rotor answered 400: Validation failed: email: Invalid email format"
    assert json.loads(cli("failed", "list", "--error-class", "auth", "--json").stdout) == []
    assert cli("replay", submission_id).exit_code == 0
    deliver()
    assert record(redis_conn, submission_id).status is SubmissionStatus.DELIVERED
    assert sandbox.leads()[0]["email"] == "ann@example.com"


def test_auth_pause_waits_then_delivers_once_the_key_is_fixed(client, deliver, redis_conn, sandbox, cli) -> None:
    submission_id = client.post("/v1/forms/contact", json=ANN).json["submission_id"]
    deliver(rotor_api_key="rotor_revoked_key", auth_probe_seconds=1)
    assert record(redis_conn, submission_id).status is SubmissionStatus.DEFERRED
    (row,) = json.loads(cli("quota", "--json").stdout)
    assert row["paused"] == "Rotor answered 401: Invalid API key" and row["backlog"] == 1
    assert json.loads(cli("failed", "list", "--json").stdout) == []  # waiting, not failed
    redis_conn.delete(keys.account_probe("default"))  # the next probe is due
    cli("deferred", "run-now")
    deliver()
    assert record(redis_conn, submission_id).status is SubmissionStatus.DELIVERED
    assert len(sandbox.leads()) == 1


def test_bulk_retry_of_a_thousand_failed_submissions(client, deliver, redis_conn, sandbox, cli) -> None:
    sandbox.reset(daily_limit=5000)  # 1000 failed calls and 1000 good ones, all in one day
    sandbox.faults(fail_next=1000)
    ids = [
        client.post("/v1/forms/contact", json={"name": f"P {n}", "phone": f"201555{n:04d}"}).json["submission_id"]
        for n in range(1000)
    ]
    deliver(retry_max_attempts=1, rotor_daily_limit=5000)  # each fails in its drain job, which carries on
    assert len(json.loads(cli("failed", "list", "--json").stdout)) == 1000
    result = cli("failed", "retry", "--all", "--source", "form:contact")
    assert result.exit_code == 0
    assert result.stdout == "retry: 1000 done, 0 skipped\n"
    assert "retry 100/1000" in result.output and "retry 1000/1000" in result.output  # progress, on stderr
    deliver(rotor_daily_limit=5000)
    assert sandbox.stats()["leads"] == 1000
    assert {record(redis_conn, sid).status for sid in ids} == {SubmissionStatus.DELIVERED}
    assert json.loads(cli("failed", "list", "--json").stdout) == []


def test_retry_says_why_it_skips_and_exits_1(client, deliver, redis_conn, cli) -> None:
    submission_id = client.post("/v1/forms/contact", json=ANN).json["submission_id"]
    result = cli("failed", "retry", submission_id, "nope")
    assert result.exit_code == 1
    assert f"skipped {submission_id}: not failed (it is queued)" in result.stdout
    assert "skipped nope: no such submission" in result.stdout
    assert cli("failed", "retry").exit_code == 2  # neither ids nor --all


def test_each_outcome_says_what_happened_as_a_kind(client, deliver, redis_conn, sandbox, config) -> None:
    failed_id = failed_submission(client, deliver, sandbox)
    waiting_id = client.post("/v1/forms/contact", json={"name": "Bo Li", "phone": "2015550199"}).json["submission_id"]
    report = Reprocessor(redis_conn, config).retry([failed_id, waiting_id, "nope"])
    assert report.outcomes == (
        Done(failed_id),
        Skipped(waiting_id, SkipReason.NOT_FAILED, "not failed (it is queued)"),
        Skipped("nope", SkipReason.NO_SUCH_SUBMISSION, "no such submission"),
    )
    (still_waiting,) = Reprocessor(redis_conn, config).replay([waiting_id]).outcomes
    assert isinstance(still_waiting, Skipped) and still_waiting.kind is SkipReason.STILL_WAITING


def test_replay_of_a_form_no_longer_configured_is_skipped_as_such(client, deliver, redis_conn, sandbox, config):
    submission_id = failed_submission(client, deliver, sandbox)
    without_the_form = Config(**{**config.__dict__, "forms": {}})
    (outcome,) = Reprocessor(redis_conn, without_the_form).replay([submission_id]).outcomes
    assert outcome == Skipped(submission_id, SkipReason.NOT_CONFIGURED, "form 'contact' is no longer configured")
    assert record(redis_conn, submission_id).status is SubmissionStatus.FAILED


def test_ops_api_discard_answers_404_for_an_unknown_id_and_409_once_settled(client, deliver) -> None:
    missing = client.post("/v1/ops/submissions/nope/discard", json={"reason": "spam"}, headers=AUTH)
    assert (missing.status_code, missing.json["message"]) == (404, "There is no submission 'nope'.")
    submission_id = client.post("/v1/forms/contact", json=ANN).json["submission_id"]
    deliver()
    settled = client.post(f"/v1/ops/submissions/{submission_id}/discard", json={"reason": "spam"}, headers=AUTH)
    assert (settled.status_code, settled.json["message"]) == (
        409,
        f"Cannot discard {submission_id}: already delivered.",
    )


def test_discard_and_filters(client, deliver, redis_conn, sandbox, cli) -> None:
    sandbox.faults(fail_next=3)
    submission_id = client.post("/v1/forms/contact", json=ANN).json["submission_id"]
    deliver()
    assert json.loads(cli("failed", "list", "--source", "webhook", "--json").stdout) == []
    assert json.loads(cli("failed", "list", "--older-than", "1h", "--json").stdout) == []
    assert len(json.loads(cli("failed", "list", "--newer-than", "1h", "--source", "form", "--json").stdout)) == 1
    assert cli("discard", submission_id, "--reason", "called them, delivered by hand").exit_code == 0
    assert record(redis_conn, submission_id).status is SubmissionStatus.DISCARDED
    assert json.loads(cli("failed", "list", "--json").stdout) == []
    assert cli("discard", submission_id, "--reason", "again").exit_code == 1


def test_lookup_reads_rotor_and_counts_against_the_quota(client, deliver, redis_conn, sandbox, cli) -> None:
    client.post("/v1/forms/contact", json=ANN)
    deliver()
    lead_id = sandbox.leads()[0]["id"]
    before = sandbox.stats()["requests_total"]
    result = cli("lookup", lead_id, "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["phone"] == "+12015550123"
    assert sandbox.stats()["requests_total"] == before + 1
    assert json.loads(cli("quota", "--json").stdout)[0]["used"] == 2  # the delivery and the look-up


def test_settled_records_expire_after_the_retention_period(client, deliver, redis_conn, config) -> None:
    submission_id = client.post("/v1/forms/contact", json=ANN).json["submission_id"]
    assert redis_conn.ttl(keys.submission(submission_id)) == -1  # waiting: kept
    deliver()
    assert 0 < redis_conn.ttl(keys.submission(submission_id)) <= config.retention_seconds


OPS_ENDPOINTS = [
    ("get", "/v1/submissions/x", None),
    ("get", "/v1/ops/failed", None),
    ("post", "/v1/ops/failed/retry", {"all": True}),
    ("post", "/v1/ops/replay", {"ids": ["x"]}),
    ("post", "/v1/ops/submissions/x/discard", {"reason": "r"}),
    ("post", "/v1/ops/deferred/run-now", None),
    ("get", "/v1/ops/quota", None),
    ("get", "/v1/ops/leads/x", None),
]


@pytest.mark.parametrize(("method", "path", "body"), OPS_ENDPOINTS)
def test_ops_api_refuses_missing_and_wrong_tokens(client, method: str, path: str, body) -> None:
    call = getattr(client, method)
    assert call(path, json=body).status_code == 401
    assert call(path, json=body, headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_ops_api_does_what_the_cli_does(client, deliver, redis_conn, sandbox) -> None:
    sandbox.faults(fail_next=3)
    submission_id = client.post("/v1/forms/contact", json=ANN).json["submission_id"]
    deliver()
    (item,) = client.get("/v1/ops/failed?error_class=unavailable", headers=AUTH).json
    assert item["id"] == submission_id
    assert client.get("/v1/ops/failed?error_class=bogus", headers=AUTH).status_code == 422
    assert client.post("/v1/ops/failed/retry", json={}, headers=AUTH).status_code == 422
    report = client.post("/v1/ops/failed/retry", json={"all": True, "filters": {"source": "form"}}, headers=AUTH).json
    assert report == {"done": 1, "ids": [submission_id], "skipped": {}}
    deliver()
    lead_id = record(redis_conn, submission_id).lead_id
    assert client.get(f"/v1/ops/leads/{lead_id}", headers=AUTH).json["id"] == lead_id
    assert client.get("/v1/ops/quota", headers=AUTH).json[0]["account"] == "default"
    assert (
        client.post(f"/v1/ops/submissions/{submission_id}/discard", json={"reason": "x"}, headers=AUTH).status_code
        == 409
    )
    assert client.post("/v1/ops/replay", json={"ids": [submission_id]}, headers=AUTH).json["done"] == 1


def test_openapi_document_is_valid_and_lists_the_ops_api(client) -> None:
    spec = client.get("/v1/openapi.json").json
    validate(spec)
    assert {"/v1/ops/failed", "/v1/ops/failed/retry", "/v1/ops/replay", "/v1/submissions/{submission_id}"} <= set(
        spec["paths"]
    )
    assert spec["components"]["securitySchemes"]["admin"] == {"type": "http", "scheme": "bearer"}
