"""Persons and folds (core.store.identity): a key set before its person was folded still finds the person."""

from __future__ import annotations

import redis

from core.store import keys
from core.store.identity import PersonIndex

ACCOUNT = "acct"


def now_is(redis_conn: redis.Redis, person_id: str) -> str:
    """The person a (possibly folded) id is now; the same walk as core.store.people.People.current_id."""
    for _ in range(10):
        folded_into = redis_conn.get(keys.person_folded_into(person_id))
        if folded_into is None:
            return person_id
        person_id = folded_into.decode()
    return person_id


def held(redis_conn: redis.Redis, kind: str, value: str) -> str:
    return redis_conn.get(keys.identity(ACCOUNT, kind, value)).decode()


def fold_x_into_q(index: PersonIndex) -> tuple[str, str]:
    """X has two emails; Q's phone arrives with X's first email, so X is folded into Q. X's second
    email is left pointing at X, as no submission carried it since."""
    x = index.resolve(ACCOUNT, {"phone": "+12015550100", "email": "one@example.com"})
    assert index.resolve(ACCOUNT, {"phone": "+12015550100", "email": "two@example.com"}) == x
    q = index.resolve(ACCOUNT, {"phone": "+12015550101"})
    assert index.resolve(ACCOUNT, {"phone": "+12015550101", "email": "one@example.com"}) == q
    return x, q


def test_a_key_naming_a_folded_person_folds_the_person_it_is_now(redis_conn: redis.Redis) -> None:
    index = PersonIndex(redis_conn, ttl_seconds=3600)
    x, q = fold_x_into_q(index)
    assert held(redis_conn, "email", "two@example.com") == x  # stale: X is Q now
    r = index.resolve(ACCOUNT, {"phone": "+12015550102"})

    # R's phone with X's second email proves R is X, and X is Q: the phone's person R survives.
    assert index.resolve(ACCOUNT, {"phone": "+12015550102", "email": "two@example.com"}) == r
    assert now_is(redis_conn, q) == r, "Q (which X is) must be folded into R"
    assert now_is(redis_conn, x) == r
    assert redis_conn.get(keys.person_folded_into(x)).decode() == q, "X's fold into Q is not re-pointed"
    assert redis_conn.get(keys.person_folded_into(r)) is None

    # The proving submission's keys name R itself; every older key finds R through the folds.
    assert held(redis_conn, "phone", "+12015550102") == r
    assert held(redis_conn, "email", "two@example.com") == r
    every = [("phone", "+12015550100"), ("phone", "+12015550101"), ("email", "one@example.com")]
    for kind, value in every:
        assert now_is(redis_conn, held(redis_conn, kind, value)) == r, (kind, value)
        assert index.resolve(ACCOUNT, {kind: value}) == r, (kind, value)


def test_the_fold_through_a_stale_key_moves_the_current_persons_pending_and_lead(redis_conn: redis.Redis) -> None:
    index = PersonIndex(redis_conn, ttl_seconds=3600)
    x, q = fold_x_into_q(index)
    redis_conn.rpush(keys.person_pending(q), "s1", "s2")
    redis_conn.hset(keys.person(q), "lead_id", "lead-q")
    r = index.resolve(ACCOUNT, {"phone": "+12015550102"})
    redis_conn.rpush(keys.person_pending(r), "s3")

    assert index.resolve(ACCOUNT, {"phone": "+12015550102", "email": "two@example.com"}) == r
    assert redis_conn.lrange(keys.person_pending(r), 0, -1) == [b"s3", b"s1", b"s2"]
    assert redis_conn.exists(keys.person_pending(q)) == 0
    assert redis_conn.hget(keys.person(r), "lead_id") == b"lead-q"  # R had none: adopted


def test_the_survivors_lead_id_is_kept_and_an_unnamed_lead_is_not_adopted(redis_conn: redis.Redis) -> None:
    index = PersonIndex(redis_conn, ttl_seconds=3600)
    _, q = fold_x_into_q(index)
    redis_conn.hset(keys.person(q), "lead_id", "lead-q")
    r = index.resolve(ACCOUNT, {"phone": "+12015550102"})
    redis_conn.hset(keys.person(r), "lead_id", "lead-r")
    assert index.resolve(ACCOUNT, {"phone": "+12015550102", "email": "two@example.com"}) == r
    assert redis_conn.hget(keys.person(r), "lead_id") == b"lead-r"  # two Rotor leads; the phone's gets updates

    # A delivery whose answer named no lead stored '' (core.rotor): a fold does not adopt it.
    s = index.resolve(ACCOUNT, {"email": "three@example.com"})
    redis_conn.hset(keys.person(s), "lead_id", "")
    t = index.resolve(ACCOUNT, {"phone": "+12015550103"})
    assert index.resolve(ACCOUNT, {"phone": "+12015550103", "email": "three@example.com"}) == t
    assert redis_conn.hget(keys.person(t), "lead_id") is None


def test_an_adopted_lead_brings_what_it_holds_from_us(redis_conn: redis.Redis) -> None:
    index = PersonIndex(redis_conn, ttl_seconds=3600)
    emailed = index.resolve(ACCOUNT, {"email": "ann@example.com"})
    redis_conn.hset(keys.person(emailed), mapping={"lead_id": "L1", "notes": "Roof leak", "delivered": "{}"})
    phoned = index.resolve(ACCOUNT, {"phone": "+12015550123"})
    assert index.resolve(ACCOUNT, {"phone": "+12015550123", "email": "ann@example.com"}) == phoned
    survivor = redis_conn.hgetall(keys.person(phoned))
    assert survivor == {b"lead_id": b"L1", b"notes": b"Roof leak", b"delivered": b"{}"}
    assert 0 < redis_conn.ttl(keys.person(phoned)) <= 3600
