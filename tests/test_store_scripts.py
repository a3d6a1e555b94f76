"""The store's Lua scripts (core.store.scripts): files that load and compile with their includes, no
Lua left in Python, and stores that send a script's SHA, not its text."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import pytest
import redis

from core.store import keys, scripts
from core.store.identity import PersonIndex
from core.store.inbox import Inbox
from core.store.intake import IntakeScript, Limit
from core.store.people import People
from core.store.quota import Budget, QuotaLedger, RequestKind
from core.store.submissions import SubmissionStore, new_record, new_submission_id, utc_now
from core.vocabulary import SubmissionStatus

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("core", "service", "workers", "ops", "leadgate")
LUA = sorted(
    entry.name.removesuffix(".lua")
    for entry in resources.files("core.store").joinpath("lua").iterdir()
    if entry.name.endswith(".lua")
)
SCRIPT_COMMANDS = ("EVAL", "EVALSHA", "SCRIPT")
HANDSHAKE = ("HELLO", "CLIENT", "AUTH", "SELECT")  # what a client sends as it opens a connection


@pytest.mark.parametrize("name", LUA)
def test_every_script_loads_with_what_it_includes_first_and_compiles(name: str, redis_conn: redis.Redis) -> None:
    source = scripts.source(name)
    own = source.index(scripts.text(name))
    for included in scripts.includes(name):
        assert source.count(scripts.text(included)) == 1
        assert source.index(scripts.text(included)) < own
    assert redis_conn.script_exists(redis_conn.script_load(source)) == [True]  # SCRIPT LOAD compiles it


def test_includes_come_first_each_once_and_a_cycle_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    files = {
        "top": "-- include: middle, bottom\ntop\n",
        "middle": "-- include: bottom\nmiddle\n",
        "bottom": "bottom\n",
        "ouroboros": "-- include: tail\n",
        "tail": "-- include: ouroboros\n",
    }
    monkeypatch.setattr(scripts, "text", files.__getitem__)
    assert scripts.source.__wrapped__("top") == "\n".join((files["bottom"], files["middle"], files["top"]))
    with pytest.raises(ValueError, match="ouroboros -> tail -> ouroboros"):
        scripts.source.__wrapped__("ouroboros")


def test_no_python_module_holds_lua() -> None:
    holding = [
        str(path.relative_to(ROOT))
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "redis.call" in path.read_text(encoding="utf-8")
    ]
    assert holding == []


def commands_sent(redis_conn: redis.Redis, action: Callable[[], object]) -> list[str]:
    """The commands clients sent while ``action`` ran (not a script's own, nor a new connection's handshake)."""
    marker = f"end-of-action-{secrets.token_hex(4)}"
    sent = []
    with redis_conn.monitor() as monitor:
        action()
        redis_conn.echo(marker)
        while marker not in (command := monitor.next_command())["command"]:
            if command["client_type"] != "lua" and command["command"].split(" ", 1)[0].upper() not in HANDSHAKE:
                sent.append(command["command"])
    return sent


def script_commands(redis_conn: redis.Redis, action: Callable[[], object]) -> list[str]:
    """The script commands (EVAL, EVALSHA, SCRIPT ...) that reached Redis while ``action`` ran."""
    return [
        command for command in commands_sent(redis_conn, action) if command.split(" ", 1)[0].upper() in SCRIPT_COMMANDS
    ]


def every_store_once(redis_conn: redis.Redis) -> None:
    """Each store's scripts, run once: intake's count and store, the identity resolve, the inbox's take
    and give-back, the person's lock, remember and settle (in a pipeline, as deliveries do), the quota."""
    intake = IntakeScript(redis_conn, retention_seconds=3600, person_ttl_seconds=3600)
    limits = [Limit(keys.rate_limit("form", "minute", "contact"), 100, 60, "100 per 1 minute")]
    intake.count(limits)
    record = new_record(
        new_submission_id(),
        source="form",
        raw={},
        lead={"phone": "+12015550100"},
        status=SubmissionStatus.QUEUED,
        account="default",
        at=utc_now(),
    )
    identity_keys = [keys.identity("default", "phone", "+12015550100")]
    idempotency = (keys.idempotency("form", secrets.token_hex(4)), 60)
    intake.store(record, note=None, idempotency=idempotency, identity_keys=identity_keys, limits=limits)
    person = PersonIndex(redis_conn, ttl_seconds=3600).resolve("default", {"phone": "+12015550100"})
    assert person is not None and redis_conn.get(identity_keys[0]) == person.encode()
    inbox = Inbox(redis_conn)
    batch = inbox.take("job-1", size=10, batch_ttl_seconds=60)
    inbox.give_back("job-1", list(batch.states))
    people = People(redis_conn, SubmissionStore(redis_conn), run_timeout_seconds=60)
    with people.locked(person, record["id"], window_seconds=60) as gathered:
        assert gathered is not None
        with redis_conn.pipeline() as pipe:
            people.remember_delivery(gathered.person, "lead-1", {"phone": "+12015550100"}, record["id"], pipeline=pipe)
            people.settle(person, [record["id"]], pipeline=pipe)
            pipe.execute()
    QuotaLedger(redis_conn).reserve("default", Budget(1000), RequestKind.FRESH)


def test_the_stores_send_a_scripts_sha_and_load_it_only_when_redis_lacks_it(redis_conn: redis.Redis) -> None:
    redis_conn.script_flush()
    first = script_commands(redis_conn, lambda: every_store_once(redis_conn))
    again = script_commands(redis_conn, lambda: every_store_once(redis_conn))
    assert not any(command.startswith("EVAL ") for command in first + again), "a script was sent whole"
    assert sum(command.startswith("SCRIPT LOAD") for command in first) == 9  # each of the stores' scripts, once
    assert not any(command.startswith("SCRIPT LOAD") for command in again)
    assert sum(command.startswith("EVALSHA") for command in again) == 9


def test_intake_stores_a_post_in_one_evalsha(redis_conn: redis.Redis) -> None:
    intake = IntakeScript(redis_conn, retention_seconds=3600, person_ttl_seconds=3600)

    def post() -> None:
        record = new_record(
            new_submission_id(),
            source="form",
            raw={},
            lead={},
            status=SubmissionStatus.QUEUED,
            account="a",
            at=utc_now(),
        )
        intake.store(record, note=None, identity_keys=[keys.identity("a", "phone", "+12015550100")])

    post()
    assert [command.split(" ", 1)[0].upper() for command in commands_sent(redis_conn, post)] == ["EVALSHA"]
