"""The operator's ``leadgate`` commands: status, quota, deferred, failed, replay, discard, lookup.

Human tables by default and JSON with ``--json``; bulk operations show a progress bar on stderr and
exit 1 when they skipped anything, saying why for each.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Protocol

import click

from core.config import Config
from core.errors import DeliveryError
from core.store.connection import connect
from leadgate.helpers import echo_json, json_option, print_table, with_config
from ops.backlog import account_reports, run_deferred_now
from ops.lookup import lookup_lead
from ops.reprocess import FailedFilter, Progress, Report, Reprocessor, Skipped
from service.ops_schemas import ERROR_CLASSES

DURATION = re.compile(r"^(\d+)([smhd])$")
SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class BulkOperation(Protocol):
    """``Reprocessor.retry`` or ``Reprocessor.replay``."""

    def __call__(self, ids: Iterable[str], *, progress: Progress | None = None) -> Report: ...


def duration(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    if value is None:
        return None
    match = DURATION.match(value.strip())
    if not match:
        raise click.BadParameter("use a number and a unit, e.g. 30m, 2h, 7d")
    return int(match[1]) * SECONDS[match[2]]


def filter_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add the options that pick failed submissions (``FailedFilter``) to ``command``."""
    for option in reversed(
        [
            click.option("--source", help="form:<key>, webhook:<name>, or just form / webhook."),
            click.option("--account", help="Rotor account name."),
            click.option("--error-class", type=click.Choice(ERROR_CLASSES), help="Why it failed."),
            click.option("--older-than", callback=duration, help="Failed at least this long ago (30m, 2h, 7d)."),
            click.option("--newer-than", callback=duration, help="Failed at most this long ago."),
        ]
    ):
        command = option(command)
    return command


@click.command()
@click.argument("submission_id")
@json_option
@with_config
def status(config: Config, submission_id: str, as_json: bool) -> None:
    """Show one submission: status, Rotor lead id, attempts and history."""
    submission = Reprocessor(connect(config.redis_url), config).store.get(submission_id)
    if submission is None:
        raise click.ClickException(f"no submission {submission_id}")
    data = submission.to_dict()
    if as_json:
        echo_json(data)
        return
    for key in (
        "id",
        "source",
        "status",
        "lead_id",
        "rotor_result",
        "error",
        "error_class",
        "attempts",
        "merged_into",
        "duplicate_of",
        "received_at",
        "updated_at",
    ):
        click.echo(f"{key:<13} {data[key] if data[key] is not None else '-'}")
    click.echo("history:")
    for event in data["events"]:
        what = event.get("status") or "attempt " + ", ".join(f"{k}={v}" for k, v in event["attempt"].items())
        click.echo(f"  {event['at']}  {what}  {event.get('note', '')}".rstrip())


@click.command()
@json_option
@with_config
def quota(config: Config, as_json: bool) -> None:
    """Per Rotor account: requests used and left today, reset time, backlog and when it clears."""
    rows = [r.to_dict() for r in account_reports(connect(config.redis_url), config, datetime.now(UTC))]
    if as_json:
        echo_json(rows)
        return
    print_table(("account", "used", "limit", "remaining", "resets_at", "backlog", "backlog_clears_at", "paused"), rows)


@click.group()
def deferred() -> None:
    """Deliveries waiting for the Rotor quota to reset."""


@deferred.command("run-now")
@click.option(
    "--reset-quota", is_flag=True, help="Also forget today's request count: only when Rotor's day turned before ours."
)
@json_option
@with_config
def deferred_run_now(config: Config, reset_quota: bool, as_json: bool) -> None:
    """Queue every deferred delivery now (after a quota raise, or a paused account's key was fixed).

    Clears Rotor's "quota spent" mark but keeps today's request count, unless --reset-quota.
    """
    moved = run_deferred_now(connect(config.redis_url), config, reset_quota=reset_quota)
    echo_json({"queued": moved}) if as_json else click.echo(f"queued {moved} deferred deliveries")


@click.group()
def failed() -> None:
    """Failed submissions: list them, retry them."""


@failed.command("list")
@filter_options
@click.option("--limit", type=int, help="Show at most this many.")
@json_option
@with_config
def failed_list(config: Config, as_json: bool, limit: int | None, **options: Any) -> None:
    """List failed submissions with their reason and attempts, oldest failure first."""
    items = Reprocessor(connect(config.redis_url), config).failed(FailedFilter.from_options(options), limit=limit)
    rows = [
        item.to_dict() | {"failed_at": datetime.fromtimestamp(item.failed_at, UTC).isoformat(timespec="seconds")}
        for item in items
    ]
    if as_json:
        echo_json(rows)
        return
    print_table(("id", "source", "account", "error_class", "attempts", "failed_at", "error"), rows)
    click.echo(f"{len(rows)} failed", err=True)


@failed.command("retry")
@click.argument("ids", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="Every failed submission that matches the filters.")
@filter_options
@json_option
@with_config
def failed_retry(config: Config, ids: tuple[str, ...], everything: bool, as_json: bool, **options: Any) -> None:
    """Re-run delivery of failed submissions (their jobs go back on the queue; workers deliver them)."""
    reprocessor = Reprocessor(connect(config.redis_url), config)
    targets = _targets(reprocessor, ids, everything, options)
    _bulk("retry", targets, reprocessor.retry, as_json)


@click.command()
@click.argument("ids", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="Every failed submission that matches the filters.")
@filter_options
@json_option
@with_config
def replay(config: Config, ids: tuple[str, ...], everything: bool, as_json: bool, **options: Any) -> None:
    """Re-normalise from the raw payload with today's mapping, then deliver onto the known Rotor lead."""
    reprocessor = Reprocessor(connect(config.redis_url), config)
    targets = _targets(reprocessor, ids, everything, options)
    _bulk("replay", targets, reprocessor.replay, as_json)


@click.command()
@click.argument("submission_id")
@click.option("--reason", required=True, help="Why; kept in the submission's history.")
@json_option
@with_config
def discard(config: Config, submission_id: str, reason: str, as_json: bool) -> None:
    """Stop a submission for good: it will not be delivered."""
    outcome = Reprocessor(connect(config.redis_url), config).discard(submission_id, reason)
    if isinstance(outcome, Skipped):
        raise click.ClickException(f"{submission_id}: {outcome.detail}")
    echo_json({"discarded": submission_id}) if as_json else click.echo(f"discarded {submission_id}")


@click.command()
@click.argument("lead_id")
@click.option("--account", default="default", show_default=True)
@json_option
@with_config
def lookup(config: Config, lead_id: str, account: str, as_json: bool) -> None:
    """Read a lead from Rotor (costs one request, from the share kept for operators)."""
    try:
        lead = lookup_lead(connect(config.redis_url), config, lead_id, account=account)
    except DeliveryError as exc:
        raise click.ClickException(exc.message) from None
    if as_json:
        echo_json(lead)
        return
    for key, value in lead.items():
        if value not in (None, "", []):
            click.echo(f"{key:<17} {value}")


def _targets(reprocessor: Reprocessor, ids: tuple[str, ...], everything: bool, options: dict[str, Any]) -> list[str]:
    if bool(ids) == everything:
        raise click.UsageError("give submission ids, or --all (with filters)")
    if ids:
        return list(dict.fromkeys(ids))
    return [item.id for item in reprocessor.failed(FailedFilter.from_options(options))]


def _bulk(verb: str, targets: list[str], operation: BulkOperation, as_json: bool) -> None:
    """Run ``operation`` over ``targets`` showing progress on stderr; exit 1 if any was skipped."""
    if sys.stderr.isatty():
        with click.progressbar(length=len(targets), label=verb, file=sys.stderr) as bar:
            report = operation(targets, progress=bar.update)
    else:  # a log or a script: a line at every tenth, not a redrawn bar
        done, step = 0, max(1, len(targets) // 10)

        def count(n: int) -> None:
            nonlocal done
            done += n
            if done % step == 0 or done == len(targets):
                click.echo(f"{verb} {done}/{len(targets)}", err=True)

        report = operation(targets, progress=count)
    if as_json:
        echo_json(report.to_dict())
    else:
        click.echo(f"{verb}: {len(report.done)} done, {len(report.skipped)} skipped")
        for submission_id, reason in report.skipped.items():
            click.echo(f"skipped {submission_id}: {reason}")
    if report.skipped:
        sys.exit(1)


COMMANDS = [status, quota, deferred, failed, replay, discard, lookup]
