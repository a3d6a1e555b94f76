"""One person is one Rotor lead and, ideally, one request: idempotency, coalescing, the lead-id map."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

import httpx

from core import rotor
from core.config import Config
from core.store import keys
from core.store.submissions import SubmissionStore
from core.vocabulary import SubmissionStatus
from service.app import create_app
from tests.conftest import DRAIN_JOB, inbox, queued_functions, wait_for

ANN = {"name": "Ann Lee", "phone": "(201) 555-0123", "email": "ann@example.com"}


def post(client, form: str = "contact", **fields) -> str:
    response = client.post(f"/v1/forms/{form}", json=fields)
    assert response.status_code == 202, response.json
    return response.json["submission_id"]


def stored_ids(redis_conn) -> set[str]:
    return {key.decode().split(":")[2] for key in redis_conn.keys("leadgate:submission:*")}


def test_the_same_content_twice_is_a_duplicate_with_no_job(client, redis_conn, queue) -> None:
    first = post(client, **ANN)
    again = post(client, **{**ANN, "phone": "+1 201-555-0123", "email": "ANN@example.com"})  # same once normalised
    record = SubmissionStore(redis_conn).get(again)
    assert record.status is SubmissionStatus.DUPLICATE and record.duplicate_of == first
    assert inbox(redis_conn) == [first]  # the duplicate goes no further
    assert queued_functions(queue) == [DRAIN_JOB]


def test_a_post_refused_by_a_rate_limit_stores_and_claims_nothing(config, redis_conn) -> None:
    # Intake's one script counts the limits before it claims, resolves or stores anything: a
    # refused post leaves nothing behind but its count.
    client = create_app(Config(**{**config.__dict__, "rate_limit_per_ip": "1 per minute"})).test_client()
    first = post(client, **ANN)
    bob = {"name": "Bob Ray", "phone": "2015550124", "email": "bob@example.com"}
    assert client.post("/v1/forms/contact", json=bob).status_code == 429
    assert stored_ids(redis_conn) == {first}
    assert len(redis_conn.keys("leadgate:idempotency:*")) == 1
    assert len(redis_conn.keys("leadgate:identity:*")) == 2  # Ann's phone and email; nothing of Bob's
    assert inbox(redis_conn) == [first]
    # So the sender's retry from elsewhere is a fresh submission, not a duplicate of one never stored.
    retried = client.post("/v1/forms/contact", json=bob, environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert retried.status_code == 202
    again = retried.json["submission_id"]
    assert SubmissionStore(redis_conn).get(again).status is SubmissionStatus.QUEUED
    assert inbox(redis_conn) == [first, again]


def test_a_claim_whose_record_was_never_written_does_not_make_a_duplicate(client, redis_conn) -> None:
    # A store script that failed after claiming (Redis does not roll scripts back) leaves a claim
    # naming a record that does not exist; the sender's retry must be stored, not dropped.
    first = post(client, **ANN)
    redis_conn.delete(keys.submission(first), keys.submission_events(first))
    again = post(client, **ANN)
    assert SubmissionStore(redis_conn).get(again).status is SubmissionStatus.QUEUED
    assert inbox(redis_conn) == [first, again]


def test_waiting_submissions_of_one_person_become_one_request(client, deliver, redis_conn, sandbox) -> None:
    ids = [
        post(client, name="Ann", phone="2015550123", message="Roof leak"),
        post(client, "quote", name="Ann Lee", phone="201 555 0123", email="ann@example.com"),
        post(client, name="Ann Lee", email="Ann@Example.com", city="Hoboken"),
    ]
    deliver()
    assert sandbox.stats()["requests_total"] == 1
    (lead,) = sandbox.leads()
    assert (lead["name"], lead["phone"], lead["email"]) == ("Ann Lee", "+12015550123", "ann@example.com")
    assert lead["property_city"] == "Hoboken"
    assert sorted(lead["tags"]) == ["quote", "website"]
    assert "Roof leak" in lead["notes"]
    records = [SubmissionStore(redis_conn).get(sid) for sid in ids]
    assert {r.status for r in records} == {SubmissionStatus.DELIVERED}
    assert {r.lead_id for r in records} == {lead["id"]}
    assert [r.merged_into for r in records].count(None) == 1  # one upsert, the others merged into it


def test_later_updates_send_the_known_rotor_lead_id(client, deliver, redis_conn, sandbox) -> None:
    post(client, **ANN)
    deliver()
    update = post(client, "quote", name="Ann Lee", phone="2015550123", message="Also gutters")
    deliver()
    record = SubmissionStore(redis_conn).get(update)
    (lead,) = sandbox.leads()
    assert record.rotor_result == "updated" and record.lead_id == lead["id"]
    assert "Also gutters" in lead["notes"] and "quote" in lead["tags"]


def test_a_resubmission_that_adds_nothing_costs_nothing(client, deliver, redis_conn, sandbox) -> None:
    first = post(client, **ANN)
    deliver()
    again = post(client, "quote", name="Ann Lee", phone="2015550123")  # another form, nothing new but its tag
    deliver()
    assert SubmissionStore(redis_conn).get(again).status is SubmissionStatus.DELIVERED  # the tag is news
    third = post(client, name="Ann Lee", email="ann@example.com")
    deliver()
    record = SubmissionStore(redis_conn).get(third)
    assert record.status is SubmissionStatus.DUPLICATE
    assert record.duplicate_of in (first, again)
    assert sandbox.stats()["requests_total"] == 2


def test_an_update_keeps_what_rotor_held_though_rotor_replaces_notes(client, deliver, redis_conn, sandbox) -> None:
    # Rotor replaces notes on every update that has any (destinations.md §1.3): ours must carry the old ones.
    post(client, name="Ann", phone="2015550123", email="ann@old.example", message="Roof leak")
    post(client, name="Ann", phone="2015550123", email="ann@example.com")  # the old email goes to the notes
    deliver()
    post(client, "quote", name="Ann Lee", phone="2015550123", message="Also gutters")
    deliver(dedup_window_seconds=0)  # the notes Rotor holds are remembered past the dedup window too
    post(client, name="Ann Lee", phone="2015550123", city="Hoboken")  # no notes: Rotor keeps its own
    deliver()
    (lead,) = sandbox.leads()
    assert "Roof leak" in lead["notes"] and "Also given as email: ann@old.example" in lead["notes"]
    assert lead["notes"].endswith("Also gutters") and lead["property_city"] == "Hoboken"
    assert sandbox.stats()["by_endpoint"]["POST /leads"] == 3


def test_a_message_sent_again_is_a_duplicate_only_while_rotor_holds_it(client, deliver, redis_conn, sandbox) -> None:
    first = post(client, "quote", **ANN, message="Roof leak")
    deliver()
    post(client, "quote", **ANN, message="Also gutters")
    deliver()
    again = post(client, "quote", name="Ann Lee", phone="2015550123", message="Roof leak")  # a new fingerprint
    deliver()
    record = SubmissionStore(redis_conn).get(again)
    (lead,) = sandbox.leads()
    assert lead["notes"] == "Roof leak\n\nAlso gutters"  # Rotor does hold it: nothing to send
    assert record.status is SubmissionStatus.DUPLICATE and record.duplicate_of != first
    assert sandbox.stats()["by_endpoint"]["POST /leads"] == 2


def test_a_fold_during_a_delivery_leaves_nothing_on_the_survivors_pending_list(
    client, deliver, redis_conn, sandbox, monkeypatch
) -> None:
    post(client, name="Ann", phone="2015550123")
    deliver()
    by_email = post(client, name="Ann", email="ann@example.com", message="by email")
    upsert, calls = rotor.RotorClient.upsert_lead, []

    def linking_arrives_mid_flight(self, body):  # the real call, after intake folds the email's person
        calls.append(body)
        if len(calls) == 1:
            post(client, "quote", name="Ann Lee", phone="2015550123", email="ann@example.com")
        return upsert(self, body)

    monkeypatch.setattr(rotor.RotorClient, "upsert_lead", linking_arrives_mid_flight)
    deliver()
    folded = SubmissionStore(redis_conn).get(by_email).person
    survivor = redis_conn.get(keys.person_folded_into(folded)).decode()
    assert redis_conn.lrange(keys.person_pending(survivor), 0, -1) == []
    assert not redis_conn.exists(keys.person(folded))  # written to the survivor, or not at all
    phone_lead = next(lead for lead in sandbox.leads() if lead["phone"])
    assert redis_conn.hget(keys.person(survivor), "lead_id").decode() == phone_lead["id"]  # it keeps its own lead


def test_a_failed_submission_retried_after_a_fold_waits_on_the_survivors_list(
    client, deliver, redis_conn, sandbox, queue
) -> None:
    post(client, name="Ann", phone="2015550123")
    deliver()
    sandbox.faults(fail_next=3)
    by_email = post(client, name="Ann", email="ann@example.com", message="by email")
    deliver()
    failed = SubmissionStore(redis_conn).get(by_email)
    assert failed.status is SubmissionStatus.FAILED
    post(client, "quote", name="Ann Lee", phone="2015550123", email="ann@example.com")  # folds the email's person
    queue.failed_job_registry.requeue(failed.job_id)  # `rq requeue`: the run reopens it first
    deliver()
    assert SubmissionStore(redis_conn).get(by_email).status is SubmissionStatus.DELIVERED
    assert redis_conn.lrange(keys.person_pending(failed.person), 0, -1) == []  # not on the folded person's list


def test_phone_and_email_people_linked_later_are_one_lead(client, deliver, redis_conn, sandbox) -> None:
    post(client, name="Ann", phone="2015550123")
    post(client, name="Ann", email="ann@example.com", message="email first")
    post(client, name="Ann Lee", phone="201-555-0123", email="ann@example.com")  # links the two
    deliver()
    assert sandbox.stats()["requests_total"] == 1
    assert len(sandbox.leads()) == 1


def test_different_accounts_never_share_people(client, app, deliver, redis_conn) -> None:
    intake = app.extensions["leadgate"]
    lead = {"name": "Ann", "phone": "+12015550123", "source": "website"}
    a = intake.accept(source="form:contact", raw={}, lead=lead, account="default")
    b = intake.accept(source="form:other", raw={}, lead=lead, account="acme")
    store = SubmissionStore(redis_conn)
    assert store.get(a).person != store.get(b).person


def test_two_hundred_variant_submissions_of_fifty_people(processes, sandbox, redis_conn) -> None:
    url = processes.web()
    people = [(f"Person {n}", f"201555{n:04d}", f"person{n}@example.com") for n in range(50)]
    bodies = []
    for name, phone, email in people:
        national = f"({phone[:3]}) {phone[3:6]}-{phone[6:]}"
        bodies += [
            ("contact", {"name": name, "phone": f"+1 {phone[:3]} {phone[3:6]} {phone[6:]}", "email": email}),
            ("quote", {"name": name, "phone": national}),
            ("contact", {"name": name, "email": email.upper()}),
            ("quote", {"name": name, "phone": phone.replace("555", "-555-"), "email": email.title()}),
        ]
    random.Random(7).shuffle(bodies)
    with httpx.Client(base_url=url) as http, ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda item: http.post(f"/v1/forms/{item[0]}", json=item[1]), bodies))
    assert [a.status_code for a in answers] == [202] * 200
    ids = [a.json()["submission_id"] for a in answers]

    workers = [processes.worker("--burst") for _ in range(2)]
    for worker in workers:
        assert worker.wait(timeout=120) == 0
    leads = wait_for(lambda: sandbox.leads() if sandbox.stats()["leads"] >= 50 else None)
    assert len(leads) == 50
    assert {lead["phone"] for lead in leads} == {f"+1{phone}" for _, phone, _ in people}
    assert all(sorted(lead["tags"]) == ["quote", "website"] for lead in leads)
    store = SubmissionStore(redis_conn)
    statuses = [store.get(sid).status for sid in ids]
    assert set(statuses) <= {SubmissionStatus.DELIVERED, SubmissionStatus.DUPLICATE}  # none lost, none waiting
    posts = sandbox.stats()["by_endpoint"]["POST /leads"]
    assert posts <= 100
    print(f"\n200 submissions of 50 people: {posts} Rotor requests, {len(leads)} leads")
