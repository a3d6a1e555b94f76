"""The store's Lua scripts: each a file in ``lua/``, read on first use and run by EVALSHA.

A script is ``lua/<name>.lua``. Scripts share functions through files of their own that define
``local function``s and nothing else: a script whose first line is ``-- include: current_person,
over_limit`` runs with ``lua/current_person.lua`` and ``lua/over_limit.lua`` put before its own
text, each included file's own includes before it, every file once. (The bundled Redis is 6.2: no
FUNCTION LOAD.)

Every key a script touches comes in KEYS, or, for a key it finds on its way (a person id reached by
following folds, a submission id popped off the inbox), is built from a prefix and suffix of
``core.store.keys`` passed as an argument; field lists and status sets come from their Python
definition the same way, so none of them is spelled in both languages.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from redis import Redis
from redis.commands.core import Script

PACKAGE = "core.store"  # its lua/ folder ships with it (pyproject.toml's package-data)
INCLUDE = "-- include:"


def register(connection: Redis, name: str) -> Script:
    """``lua/<name>.lua`` on ``connection``: call it with ``keys=``, ``args=`` and, in a pipeline, ``client=``.

    Calls send its SHA (EVALSHA); one that meets NOSCRIPT (a first call, or Redis restarted) loads it
    and sends it again. In a pipeline redis-py asks SCRIPT EXISTS before the pipeline runs instead,
    since a NOSCRIPT inside MULTI would leave the transaction half done: one round trip more.
    """
    return connection.register_script(source(name))


@cache
def source(name: str) -> str:
    """The text Redis runs for ``lua/<name>.lua``: what it includes, then the file itself."""
    return "\n".join(text(part) for part in _in_order(name, order=[], including=()))


@cache
def text(name: str) -> str:
    """The file ``lua/<name>.lua`` as it is."""
    return resources.files(PACKAGE).joinpath("lua", f"{name}.lua").read_text(encoding="utf-8")


def includes(name: str) -> list[str]:
    """The files ``lua/<name>.lua`` names on its first line, if that line is an include."""
    first_line = text(name).partition("\n")[0]
    if not first_line.startswith(INCLUDE):
        return []
    return [part.strip() for part in first_line.removeprefix(INCLUDE).split(",")]


def _in_order(name: str, *, order: list[str], including: tuple[str, ...]) -> list[str]:
    """``order`` with ``name`` appended after what it includes, each file once."""
    if name in including:
        raise ValueError(f"lua/{name}.lua includes itself: {' -> '.join((*including, name))}")
    for included in includes(name):
        if included not in order:
            _in_order(included, order=order, including=(*including, name))
    order.append(name)
    return order
