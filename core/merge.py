"""Merge rules: several submissions of one person become one Rotor upsert. Pure.

* A later non-empty field wins (people correct typos; the newest answer is the best guess).
* Tags are unioned, in order of first appearance.
* Notes are appended, each headed with the submission's source and time.
* Nothing a person gave is dropped: a phone or email replaced by a later one is kept in the notes.

Rotor merges tags on update but replaces every other field, notes included (destinations.md
§1.3), so an update that carries notes sends the ones Rotor holds from us first (``upsert_body``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.lead import NOTES_LIMIT

CONTACT_FIELDS = ("phone", "email")


@dataclass(frozen=True)
class Piece:
    """One submission's Rotor body with where and when it came from."""

    body: Mapping[str, Any]
    source: str
    received_at: str


def merge(pieces: Sequence[Piece]) -> dict[str, Any]:
    """One body for all ``pieces``, oldest first."""
    if len(pieces) == 1:
        return dict(pieces[0].body)
    merged: dict[str, Any] = {}
    tags: list[str] = []
    notes: list[str] = []
    replaced: dict[str, list[str]] = {field: [] for field in CONTACT_FIELDS}
    for piece in sorted(pieces, key=lambda p: p.received_at):
        for key, value in piece.body.items():
            if key == "tags":
                tags.extend(value)
            elif key == "notes":
                notes.append(f"[{piece.source}, {piece.received_at}]\n{value}")
            elif value not in (None, ""):
                previous = merged.get(key)
                if key in CONTACT_FIELDS and previous and previous != value and previous not in replaced[key]:
                    replaced[key].append(previous)
                merged[key] = value
    for field in CONTACT_FIELDS:
        also = [v for v in replaced[field] if v != merged.get(field)]
        if also:
            notes.append(f"Also given as {field}: {', '.join(also)}")
    if tags:
        merged["tags"] = list(dict.fromkeys(tags))
    if notes:
        merged["notes"] = _keep_newest("\n\n".join(notes), NOTES_LIMIT)
    return merged


def is_covered(body: Mapping[str, Any], delivered: Mapping[str, Any]) -> bool:
    """True when sending ``body`` would tell Rotor nothing it already holds from us (``delivered``)."""
    for key, value in body.items():
        if key == "id":
            continue
        if key == "tags":
            if not set(value) <= set(delivered.get("tags", ())):
                return False
        elif key == "notes":
            if value not in delivered.get("notes", ""):
                return False
        elif delivered.get(key) != value:
            return False
    return True


def accumulate(held: Mapping[str, Any], sent: Mapping[str, Any]) -> dict[str, Any]:
    """What Rotor holds from us after upserting ``sent`` onto ``held``: tags added, every other field
    (notes too) replaced, as Rotor does."""
    result = dict(held)
    for key, value in sent.items():
        if key == "id":
            continue
        if key == "tags":
            result["tags"] = list(dict.fromkeys([*held.get("tags", ()), *value]))
        else:
            result[key] = value
    return result


def notes_to_send(held: str, new: str) -> str:
    """The notes an update sends: Rotor replaces them, so the ones it holds from us (``held``) go
    first and ``new`` after, the newest kept within Rotor's limit. Notes it already holds are not
    added again (a replay, or a re-sent message with a changed field)."""
    if not held:
        return _keep_newest(new, NOTES_LIMIT)
    if new in held:
        return held
    return _keep_newest(f"{held}\n\n{new}", NOTES_LIMIT)


def upsert_body(body: Mapping[str, Any], held_notes: str, lost: Mapping[str, Any]) -> dict[str, Any]:
    """What to send for the merged ``body``, given the notes Rotor holds from us.

    A body without notes sends none: Rotor keeps its own. ``lost`` is what a lead Rotor no longer
    has (a 404 on its id) held from us: all of it is sent again, under ``body``, so the lead created
    in its place is complete.
    """
    sent = dict(body)
    if "notes" in body:
        sent["notes"] = notes_to_send(held_notes or lost.get("notes", ""), body["notes"])
    if not lost:
        return sent
    ids = {"id": body["id"]} if "id" in body else {}
    return {**ids, **accumulate(lost, sent)}


def _keep_newest(text: str, limit: int) -> str:
    """Notes past Rotor's limit lose their oldest part: the newest message matters most."""
    return text if len(text) <= limit else "…" + text[len(text) - limit + 1 :]
