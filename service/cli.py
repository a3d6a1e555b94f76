"""The ``leadgate`` command: run the processes, and look at submissions."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any

import click

from service.config import Config
from service.errors import ConfigError

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def with_config(command: Callable[..., Any]) -> Callable[..., Any]:
    """Parse the environment once; a bad setting ends the command with one line naming it."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            config = Config.from_env()
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None
        return command(config, *args, **kwargs)

    return wrapper


@click.group()
def main() -> None:
    """leadgate: website forms and ad-platform leads, delivered to Rotor."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)


@main.command()
@click.option("--burst", is_flag=True, help="Stop once the queue is empty.")
@click.option("--name", help="Worker name shown by `rq info`.")
@with_config
def worker(config: Config, burst: bool, name: str | None) -> None:
    """Deliver queued submissions to Rotor (RQ SimpleWorker with the scheduler)."""
    from workers.worker import run_worker

    try:
        run_worker(config, burst=burst, name=name)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8001, show_default=True, envvar="LEADGATE_SANDBOX_PORT")
@click.option("--daily-limit", default=1000, show_default=True, envvar="SANDBOX_DAILY_LIMIT")
def sandbox(host: str, port: int, daily_limit: int) -> None:
    """Serve the bundled Rotor-compatible CRM (in memory) for development and tests."""
    from sandbox import SANDBOX_API_KEY, serve

    serve(host, port, api_keys=(SANDBOX_API_KEY,), daily_limit=daily_limit)


@main.command()
def dev() -> None:
    """Run everything locally: Redis, the sandbox (when no ROTOR_API_KEY), web and worker."""
    from service.local import run_local_stack

    sys.exit(run_local_stack())


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@with_config
def quota(config: Config, as_json: bool) -> None:
    """Per Rotor account: requests used and left today, reset time, backlog and when it clears."""
    from datetime import UTC, datetime

    from service.connection import connect
    from workers.backlog import account_reports

    rows = [r.to_dict() for r in account_reports(connect(config.redis_url), config, datetime.now(UTC))]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    columns = ("account", "used", "limit", "remaining", "resets_at", "backlog", "backlog_clears_at", "paused")
    print_table(columns, rows)


@main.group()
def deferred() -> None:
    """Deliveries waiting for the Rotor quota to reset."""


@deferred.command("run-now")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@with_config
def deferred_run_now(config: Config, as_json: bool) -> None:
    """Queue every deferred delivery now (after a quota raise, or when Rotor's day turned early)."""
    from service.connection import connect
    from workers.backlog import run_deferred_now

    moved = run_deferred_now(connect(config.redis_url), config)
    click.echo(json.dumps({"queued": moved}) if as_json else f"queued {moved} deferred deliveries")


def print_table(columns: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    cells = [[("-" if row[c] is None else str(row[c])) for c in columns] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    for line in [list(columns), *cells]:
        click.echo("  ".join(value.ljust(width) for value, width in zip(line, widths, strict=True)).rstrip())


@main.command()
@click.argument("submission_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@with_config
def status(config: Config, submission_id: str, as_json: bool) -> None:
    """Show one submission: status, Rotor lead id, attempts and history."""
    from service.connection import connect
    from service.submissions import SubmissionStore

    submission = SubmissionStore(connect(config.redis_url)).get(submission_id)
    if submission is None:
        raise click.ClickException(f"no submission {submission_id}")
    data = submission.to_dict()
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    for key in ("id", "source", "status", "lead_id", "rotor_result", "error", "attempts", "received_at", "updated_at"):
        click.echo(f"{key:<13} {data[key] if data[key] is not None else '-'}")
    click.echo("history:")
    for event in data["events"]:
        what = event.get("status") or "attempt " + json.dumps(event.get("attempt"))
        click.echo(f"  {event['at']}  {what}  {event.get('note', '')}".rstrip())
