"""What every ``leadgate`` command shares: the parsed config, and printing tables or JSON."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from functools import wraps
from typing import Any

import click
import redis

from core.config import Config
from core.errors import ConfigError

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


def with_config(command: Callable[..., Any]) -> Callable[..., Any]:
    """Parse the environment once; a bad setting (or an option naming one the config lacks), or Redis out of
    reach, ends the command with one line (exit 1)."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            config = Config.from_env()
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None
        try:
            return command(config, *args, **kwargs)
        except ConfigError as exc:  # an option naming what the config lacks (`lookup --account nosuch`)
            raise click.ClickException(str(exc)) from None
        except redis.RedisError as exc:
            raise click.ClickException(f"cannot use Redis at REDIS_URL={config.redis_url}: {exc}") from None

    return wrapper


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def print_table(columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> None:
    cells = [[("-" if row.get(c) is None else str(row[c])) for c in columns] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    for line in [list(columns), *cells]:
        click.echo("  ".join(value.ljust(width) for value, width in zip(line, widths, strict=True)).rstrip())
