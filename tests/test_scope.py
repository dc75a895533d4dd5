"""The permission filter on a hand-made catalogue: which custody entries belong to
which case, what of an item a user sees, and decisions per case."""

from __future__ import annotations

from typing import Any

import pytest

from registry.accounts import NotPermitted, NotVisible, Scope
from registry.custody import (
    access,
    item_stored,
    metadata_extracted,
    neardup_decided,
    neardup_found,
    note_added,
    sighting_added,
)
from registry.store.catalog import Catalog

X, Y, Z = "a" * 64, "b" * 64, "c" * 64


def _catalog() -> tuple[Catalog, list[dict[str, Any]]]:
    """X stored by bob in case B, then sighted by alice in A; Y bob's in B only (a
    near-duplicate of X found at bob's ingest of Y); Z carol's in A (a near-duplicate
    of X found at alice's sighting of X)."""
    cat = Catalog(None)
    log: list[dict[str, Any]] = []

    def add(event: dict[str, Any]) -> None:
        entry = {**event, "seq": len(log) + 1, "time": f"2026-01-01T00:00:{len(log):02d}+00:00"}
        log.append(entry)
        cat.apply(entry, entry_hash=str(entry["seq"]), end_offset=entry["seq"])

    for sha, who, case in ((X, "bob", "B"), (Y, "bob", "B"), (Z, "carol", "A")):
        add(item_stored(who, sha, {"size": 1, "media_type": "image"}))
        add(metadata_extracted(who, sha, {"metadata": {}}))
        add(sighting_added(who, sha, {"case": case, "source_url": f"https://{case}.example"}))
    add(neardup_found("bob", Y, {"sha256": X, "score": 0.9}))
    add(sighting_added("alice", X, {"case": "A", "source_url": "https://A.example/2"}))
    add(neardup_found("alice", X, {"sha256": Z, "score": 0.8}))
    add(note_added("bob", X, "bob's note", "B"))
    add(note_added("alice", X, "alice's note", "A"))
    add(note_added("operator", X, "operator's note"))
    add(neardup_decided("bob", Y, X, "rejected", "B", "no"))
    add(access("alice", "access.viewed", {"cases": ["A"], "items": [X]}, X))
    add(access("dave", "access.viewed", {"cases": ["A", "B"], "items": [X]}, X))
    return cat, log


def test_an_item_is_cut_to_the_users_cases() -> None:
    cat, _ = _catalog()
    alice = Scope(cat, {"A": "viewer"})
    assert alice.sees(X) and alice.sees(Z) and not alice.sees(Y)
    doc = alice.item(X)
    assert [s["observed_by"] for s in doc["sightings"]] == ["alice"]
    assert doc["cases"] == ["A"] and [n["text"] for n in doc["notes"]] == ["alice's note"]
    assert [p["sha256"] for p in doc["near_duplicates"]] == [Z]  # Y is B's
    assert doc["first_seen"]["observed_by"] == "alice"
    assert doc["stored_at"] == doc["sightings"][0]["observed_at"]  # not bob's storing
    with pytest.raises(NotVisible):
        alice.item(Y)
    both = Scope(cat, {"A": "viewer", "B": "viewer"})
    assert both.item(X)["stored_at"] == cat.get(X)["stored_at"]


def test_entries_belong_to_the_case_they_were_logged_in() -> None:
    cat, log = _catalog()
    seen = {
        name: [(e["seq"], e["action"], e["actor"]) for e in Scope(cat, roles).entries(log)]
        for name, roles in (("A", {"A": "viewer"}), ("B", {"B": "viewer"}))
    }
    actions_a = [(a, who) for _, a, who in seen["A"]]
    assert ("item.stored", "bob") not in actions_a  # X was stored for B
    assert ("item.stored", "carol") in actions_a
    assert ("sighting.added", "alice") in actions_a and ("sighting.added", "bob") not in actions_a
    assert ("neardup.found", "alice") in actions_a  # Z ~ X, found at alice's sighting in A
    assert ("neardup.found", "bob") not in actions_a
    assert ("note.added", "alice") in actions_a and ("note.added", "operator") not in actions_a
    assert ("access.viewed", "alice") in actions_a and ("access.viewed", "dave") not in actions_a
    actions_b = [(a, who) for _, a, who in seen["B"]]
    assert ("item.stored", "bob") in actions_b and ("neardup.rejected", "bob") in actions_b
    assert ("neardup.found", "alice") not in actions_b  # Z is A's


def test_decisions_are_per_case() -> None:
    cat, _ = _catalog()
    pair = next(p for p in cat.get(X)["near_duplicates"] if p["sha256"] == Y)
    assert pair["decision"] == "rejected" and set(pair["decisions"]) == {"B"}
    b = Scope(cat, {"B": "viewer"}).item(X)
    assert [(p["sha256"], p["decision"]) for p in b["near_duplicates"]] == [(Y, "rejected")]
    assert Scope(cat, {"B": "viewer"}).clusters() == []  # the rejected pair links nothing


def test_require_tells_unseen_from_forbidden() -> None:
    scope = Scope(None, {"A": "viewer"})
    assert scope.require("A") == "viewer"
    with pytest.raises(NotPermitted):
        scope.require("A", "ingest")
    with pytest.raises(NotVisible):
        scope.require("B")
