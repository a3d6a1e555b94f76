"""The ``leadgate`` command: run the processes (here) and operate on submissions (``leadgate.ops``).

Exit codes: 0 done; 1 an error, or a bulk operation that skipped some items; 2 wrong usage.
"""

from __future__ import annotations

import sys

import click

from core import logs
from core.config import Config
from core.errors import ConfigError
from leadgate import ops as ops_commands
from leadgate.helpers import with_config
from leadgate.local import run_local_stack
from sandbox import SANDBOX_API_KEY, serve
from workers.worker import run_worker


@click.group()
def main() -> None:
    """leadgate: website forms and ad-platform leads, delivered to Rotor."""
    logs.configure()


@main.command()
@click.option("--burst", is_flag=True, help="Stop once the queue is empty.")
@click.option("--name", help="Worker name shown by `rq info`.")
@with_config
def worker(config: Config, burst: bool, name: str | None) -> None:
    """Deliver queued submissions to Rotor (RQ SimpleWorker with the scheduler)."""
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
    serve(host, port, api_keys=(SANDBOX_API_KEY,), daily_limit=daily_limit)


@main.command()
def dev() -> None:
    """Run everything locally: Redis, the sandbox (when no ROTOR_API_KEY), web and worker."""
    sys.exit(run_local_stack())


for command in ops_commands.COMMANDS:
    main.add_command(command)
