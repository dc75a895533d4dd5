"""The custody log: chained, signed, durable, recoverable after a torn append."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from registry.custody.keys import KeyRing
from registry.custody.log import GENESIS, CustodyLog, entry_hash, signed_message
from registry.errors import CustodyLogError


@pytest.fixture
def log(tmp_path: Path) -> tuple[CustodyLog, KeyRing]:
    keys = KeyRing(str(tmp_path / "keys"))
    keys.create()
    return CustodyLog(str(tmp_path / "custody.jsonl"), str(tmp_path / "head.json"), keys), keys


def _events(n: int) -> list[dict]:
    return [
        {"actor": "alice", "action": "note", "sha256": None, "details": {"i": i}} for i in range(n)
    ]


def test_chain_and_signatures(log) -> None:
    clog, keys = log
    clog.append(_events(3), keys.signer())
    clog.append(_events(2), keys.signer())
    prev = GENESIS
    lines = Path(clog.path).read_bytes().splitlines()
    assert len(lines) == 5
    for n, line in enumerate(lines, start=1):
        entry = json.loads(line)
        assert entry["seq"] == n and entry["prev"] == prev
        assert keys.verify(entry["key"], signed_message(entry), entry["sig"])
        assert entry["tool"]["name"] == "evidence-registry" and entry["host"]
        prev = entry_hash(line)
    head = clog.read_head()
    assert (head.seq, head.hash, head.offset) == (5, prev, Path(clog.path).stat().st_size)


def test_private_key_is_owner_only(log, tmp_path: Path) -> None:
    assert (tmp_path / "keys" / "installation.key").stat().st_mode & 0o777 == 0o600


def test_torn_last_line_is_cut_on_recovery(log) -> None:
    clog, keys = log
    clog.append(_events(2), keys.signer())
    with open(clog.path, "ab") as fh:
        fh.write(b'{"seq": 3, "half an entr')
    notes = clog.recover()
    assert notes[0]["repair"].startswith("cut a torn last line")
    clog.append(_events(1), keys.signer())
    assert clog.read_head().seq == 3


def test_entries_written_before_the_head_are_adopted(log) -> None:
    clog, keys = log
    clog.append(_events(2), keys.signer())
    saved_head = Path(clog.head_path).read_bytes()
    clog.append(_events(1), keys.signer())
    Path(clog.head_path).write_bytes(saved_head)  # as if the crash hit before the head
    notes = clog.recover()
    assert notes and clog.read_head().seq == 3


def test_truncated_log_is_refused(log) -> None:
    clog, keys = log
    clog.append(_events(3), keys.signer())
    data = Path(clog.path).read_bytes()
    Path(clog.path).write_bytes(data[: data.index(b"\n") + 1])
    with pytest.raises(CustodyLogError):
        clog.recover()
    with pytest.raises(CustodyLogError):
        clog.append(_events(1), keys.signer())
