"""Drain jobs: what a batch does with submissions that moved on, and with a run cut short."""

from __future__ import annotations

import threading

from rq.job import Job

from core.config import Config
from core.store import keys
from core.store.submissions import SubmissionStore
from core.vocabulary import SubmissionStatus
from service.app import create_app
from tests.conftest import inbox
from workers import context
from workers.batch import Drain
from workers.deliver import Delivery

ANN = {"name": "Ann", "phone": "2015550123"}


def test_a_submission_settled_while_in_the_inbox_is_dropped_by_the_take(
    client, config, deliver, redis_conn, sandbox
) -> None:
    first = client.post("/v1/forms/contact", json=ANN).json["submission_id"]
    second = client.post("/v1/forms/contact", json={**ANN, "message": "Also the gutters"}).json["submission_id"]
    # A job of the first's own (a retry, say) delivers the person before any drain job runs:
    # the second, still in the inbox, is merged into that one upsert.
    context.install(context.DeliveryContext.from_config(config))
    Delivery(redis_conn, context.current(), first).run()
    assert SubmissionStore(redis_conn).get(second).status is SubmissionStatus.DELIVERED
    deliver()
    assert inbox(redis_conn) == []
    assert redis_conn.zcard(keys.WAITING_INDEX) == 0  # nothing settled is left for the sweep
    assert sandbox.stats()["requests_total"] == 1


def test_a_batch_cut_short_charges_only_the_delivery_it_was_running(config, deliver, redis_conn, sandbox) -> None:
    short = Config(**{**config.__dict__, "job_timeout_seconds": 5, "rotor_timeout_seconds": 20})
    client = create_app(short).test_client()  # its drain job gets RQ's timeout of 2 x 5 s
    ids = [
        client.post("/v1/forms/contact", json={"name": f"P {n}", "phone": f"201555012{n}"}).json["submission_id"]
        for n in range(3)
    ]
    # Rotor hangs on the first call past the drain job's timeout; later calls are answered at once.
    sandbox.faults(latency_ms=12_000)
    recovered = threading.Timer(8, sandbox.faults)  # while the first call still hangs
    recovered.start()
    try:
        deliver(job_timeout_seconds=5, rotor_timeout_seconds=20)  # the cut-short job, then what it left
    finally:
        recovered.cancel()
    store = SubmissionStore(redis_conn)
    first, *rest = (store.get(sid) for sid in ids)
    assert first.failures == 1 and any("JobTimeoutException" in e.get("note", "") for e in first.events)
    assert [s.failures for s in rest] == [0, 0]  # given back to the inbox, not charged
    assert {s.status for s in (first, *rest)} == {SubmissionStatus.DELIVERED}
    assert sandbox.stats()["leads"] == 3  # the cut-short call had landed; its retry updated that lead


def test_a_batch_given_back_twice_is_back_in_the_inbox_once(client, config, queue, redis_conn) -> None:
    ids = [
        client.post("/v1/forms/contact", json={"name": f"P {n}", "phone": f"201555012{n}"}).json["submission_id"]
        for n in range(3)
    ]
    job = Job.fetch(queue.job_ids[0], connection=redis_conn)
    drain = Drain(redis_conn, context.DeliveryContext.from_config(config), job)
    taken = list(drain.take())
    drain.give_back(taken[1:])  # the start window closed after the first
    drain.give_back(taken)  # then the run was cut short before that one had started
    assert inbox(redis_conn) == ids
    assert redis_conn.llen(keys.batch(job.id)) == 0 and redis_conn.zcard(keys.WAITING_INDEX) == 0
    assert {SubmissionStore(redis_conn).get(sid).job_id for sid in ids} == {None}
