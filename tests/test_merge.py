"""Merge rules, checked by example and by hypothesis. Pure."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from core.lead import NOTES_LIMIT
from core.merge import Piece, accumulate, is_covered, merge, notes_to_send, upsert_body


def piece(at: str, source: str = "form:contact", **body) -> Piece:
    return Piece(body=body, source=source, received_at=at)


def test_later_non_empty_field_wins_tags_union_notes_appended() -> None:
    merged = merge(
        [
            piece("2026-11-23T10:00", name="Ann", phone="+12015550123", tags=["website"], notes="Roof leak"),
            piece(
                "2026-11-23T10:05",
                "meta",
                name="Ann Lee",
                email="ann@example.com",
                tags=["meta", "website"],
                notes="Needs quote",
            ),
        ]
    )
    assert merged == {
        "name": "Ann Lee",
        "phone": "+12015550123",
        "email": "ann@example.com",
        "tags": ["website", "meta"],
        "notes": "[form:contact, 2026-11-23T10:00]\nRoof leak\n\n[meta, 2026-11-23T10:05]\nNeeds quote",
    }


def test_replaced_contact_details_are_kept_in_notes() -> None:
    merged = merge([piece("1", name="A", email="old@example.com"), piece("2", name="A", email="new@example.com")])
    assert merged["email"] == "new@example.com"
    assert merged["notes"] == "Also given as email: old@example.com"


def test_merge_is_by_time_not_by_list_order() -> None:
    a, b = piece("1", name="Old"), piece("2", name="New")
    assert merge([a, b]) == merge([b, a]) == {"name": "New"}


def test_long_notes_keep_the_newest() -> None:
    merged = merge([piece("1", name="A", notes="x" * 2500), piece("2", name="A", notes="latest")])
    assert len(merged["notes"]) == NOTES_LIMIT and merged["notes"].endswith("latest")


def test_covered() -> None:
    delivered = {"name": "Ann", "phone": "+1", "email": "a@x", "tags": ["website", "meta"], "notes": "Roof leak"}
    assert is_covered({"name": "Ann", "phone": "+1", "tags": ["website"]}, delivered)
    assert is_covered({"id": "L1", "name": "Ann", "notes": "Roof leak"}, delivered)
    assert not is_covered({"name": "Ann", "phone": "+2"}, delivered)
    assert not is_covered({"name": "Ann", "tags": ["quote"]}, delivered)
    assert not is_covered({"name": "Ann", "notes": "New question"}, delivered)
    assert not is_covered({"name": "Ann", "address_city": "Hoboken"}, delivered)


def test_accumulate_replaces_notes_as_rotor_does() -> None:
    # Rotor merges tags on update and replaces every other field, notes included (destinations.md §1.3).
    held = {"name": "Ann", "tags": ["website"], "notes": "Roof leak"}
    sent = {"id": "L1", "name": "Ann Lee", "tags": ["quote"], "notes": "Roof leak\n\nAlso gutters"}
    holds = accumulate(held, sent)
    assert holds == {"name": "Ann Lee", "tags": ["website", "quote"], "notes": "Roof leak\n\nAlso gutters"}
    assert accumulate(held, {"name": "Ann Lee"})["notes"] == "Roof leak"  # no notes sent: Rotor keeps its own


def test_notes_to_send_put_the_held_ones_first_and_keep_the_newest() -> None:
    assert notes_to_send("", "Roof leak") == "Roof leak"
    assert notes_to_send("Roof leak", "Also gutters") == "Roof leak\n\nAlso gutters"
    assert notes_to_send("Roof leak\n\nAlso gutters", "Roof leak") == "Roof leak\n\nAlso gutters"  # held already
    long = notes_to_send("x" * NOTES_LIMIT, "latest")
    assert len(long) == NOTES_LIMIT and long.endswith("x\n\nlatest")


def test_an_update_without_notes_sends_none_and_one_with_notes_sends_the_held_ones_too() -> None:
    assert upsert_body({"id": "L1", "name": "Ann"}, "Roof leak", {}) == {"id": "L1", "name": "Ann"}
    body = upsert_body({"id": "L1", "name": "Ann", "notes": "Also gutters"}, "Roof leak", {})
    assert body == {"id": "L1", "name": "Ann", "notes": "Roof leak\n\nAlso gutters"}


def test_what_a_lost_lead_held_is_sent_again_under_the_new_body() -> None:
    lost = {"name": "Ann", "email": "ann@example.com", "tags": ["website"], "notes": "Roof leak"}
    body = upsert_body({"name": "Ann Lee", "phone": "+1", "tags": ["quote"], "notes": "Also gutters"}, "", lost)
    assert body == {
        "name": "Ann Lee",
        "email": "ann@example.com",
        "phone": "+1",
        "tags": ["website", "quote"],
        "notes": "Roof leak\n\nAlso gutters",
    }
    assert upsert_body({"name": "Ann Lee"}, "", lost)["notes"] == "Roof leak"  # a new lead: all it had


phones = st.sampled_from(["+12015550123", "+12015550124", "+442079460958"])
emails = st.sampled_from(["a@example.com", "b@example.com"])
bodies = st.fixed_dictionaries(
    {"name": st.sampled_from(["Ann", "Ann Lee"])},
    optional={"phone": phones, "email": emails, "tags": st.lists(st.sampled_from(["website", "meta", "quote"]))},
)
pieces = st.lists(
    st.builds(Piece, body=bodies, source=st.just("form:contact"), received_at=st.integers(0, 10**6).map(str)),
    min_size=1,
    max_size=6,
    unique_by=lambda p: p.received_at,
)


@given(pieces, st.randoms())
def test_merge_is_order_independent(items, rng) -> None:
    shuffled = list(items)
    rng.shuffle(shuffled)
    assert merge(items) == merge(shuffled)


@given(pieces)
def test_merge_never_drops_a_phone_an_email_or_a_tag(items) -> None:
    merged = merge(items)
    for item in items:
        for field in ("phone", "email"):
            if field in item.body:
                assert item.body[field] == merged.get(field) or item.body[field] in merged.get("notes", "")
        assert set(item.body.get("tags", ())) <= set(merged.get("tags", ()))


@given(pieces)
def test_the_merge_covers_the_newest_submission(items) -> None:
    newest = max(items, key=lambda p: p.received_at)
    assert is_covered(newest.body, merge(items))
