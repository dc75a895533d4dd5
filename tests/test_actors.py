"""Actors' own keys, notes, and the arguments recorded in entries."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from registry.core import init_registry
from registry.custody.actors import create_actor_key, list_keys
from registry.custody.log import invocation, set_invocation
from registry.custody.notes import add_note
from registry.errors import KeyExists
from registry.verify import check


@pytest.fixture
def reg(registry_path: Path):
    return init_registry(str(registry_path), actor="alice")


@pytest.mark.parametrize("actor", ["alice", "../../x", "a b", "a_b", "Олена\n"])
def test_actor_keys_stay_in_the_keys_folder(reg, actor: str):
    made = create_actor_key(reg, actor)
    path = Path(reg.root) / made["private_key_file"]
    assert path.parent == Path(reg.keys.folder) / "actors"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    entry = list(reg.log.entries())[-1]
    assert entry["action"] == "key.created" and entry["actor"] == actor
    assert entry["key"] == reg.info["installation_key"]
    assert entry["details"]["public_key"] == reg.keys.public_pem(made["key_id"]).decode()
    with pytest.raises(KeyExists):
        create_actor_key(reg, actor)
    assert check(reg).ok


def test_names_that_sanitise_alike_get_different_keys(reg):
    a, b = create_actor_key(reg, "a b"), create_actor_key(reg, "a_b")
    assert a["private_key_file"] != b["private_key_file"]
    assert a["key_id"] != b["key_id"]
    kids = {k["actor"]: k["key_id"] for k in list_keys(reg)}
    assert kids == {
        "installation": reg.info["installation_key"],
        "a b": a["key_id"],
        "a_b": b["key_id"],
    }


def test_entries_are_signed_by_their_actors_key(reg, media: Path):
    from registry import Submission

    made = create_actor_key(reg, "alice")
    reg.ingest([str(media / "a.jpg")], Submission(actor="alice"))
    sha = reg.catalog.shas()[0]
    add_note(reg, sha, "seen by bob", actor="bob")
    entries = list(reg.log.entries())
    assert {e["key"] for e in entries if e["actor"] == "alice"} >= {made["key_id"]}
    assert all(e["key"] == made["key_id"] for e in entries[2:] if e["actor"] == "alice")
    assert entries[-1]["key"] == reg.info["installation_key"]
    assert reg.show(sha)["notes"] == [
        {
            "seq": entries[-1]["seq"],
            "time": entries[-1]["time"],
            "actor": "bob",
            "text": "seen by bob",
        }
    ]
    reg.rebuild(actor="alice")
    assert reg.show(sha)["notes"][0]["text"] == "seen by bob"
    assert check(reg).ok


def test_note_rejects_empty_text(reg, media: Path):
    from registry import Submission

    reg.ingest([str(media / "a.jpg")], Submission(actor="alice"))
    with pytest.raises(ValueError):
        add_note(reg, reg.catalog.shas()[0], "  ", actor="bob")


def test_invocation_is_recorded_and_bounded(reg):
    try:
        set_invocation(["ingest", *(f"file{i:05d}.jpg" for i in range(2000)), "--case", "X"])
        args = invocation()
        assert args is not None and sum(len(a) for a in args[:-1]) <= 4096
        assert args[-1].startswith("… (") and args[0] == "ingest"
        set_invocation(["note", os.fsdecode(b"bad\xffname")])
        with reg.writing("alice"):
            [entry] = reg.record([{"actor": "alice", "action": "test.event"}])
            reg.save()
        assert entry["args"] == ["note", "bad\\xffname"]
    finally:
        set_invocation(None)
    with reg.writing("alice"):
        [entry] = reg.record([{"actor": "alice", "action": "test.event"}])
        reg.save()
    assert "args" not in entry
    assert check(reg).ok
