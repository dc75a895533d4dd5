"""The catalogue: a fold of custody entries, indexed, written once per batch."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from registry.errors import AmbiguousPrefix, ItemNotFound
from registry.schema import first_seen
from registry.store import catalog as catalog_module
from registry.store.catalog import Catalog
from support.entries import sha_of, stored_entries

_sha = sha_of
_entries = stored_entries


@pytest.fixture(params=["memory", "json"])
def catalog_path(request, tmp_path: Path) -> str | None:
    return None if request.param == "memory" else str(tmp_path / "catalog")


def _fill(cat: Catalog, n: int) -> None:
    for entry in _entries(n):
        cat.apply(entry, entry_hash="h" * 64, end_offset=entry["seq"] * 10)
    cat.flush()


def test_fold_and_lookups(catalog_path: str | None) -> None:
    cat = Catalog(catalog_path)
    _fill(cat, 10)
    assert len(cat) == 10
    doc = cat.get(_sha(3))
    assert doc["size"] == 3 and doc["cases"] == ["C1"]
    assert doc["first_seen"]["observed_by"] == "b"
    assert cat.resolve(_sha(3)[:12]) == _sha(3)
    assert len(cat.shas("C1")) == 5
    assert cat.log_seq == 20


@pytest.mark.parametrize("window", [100, 5, 2])  # in memory; spilled by 1 and 2 hex digits
def test_listing_orders(
    catalog_path: str | None, monkeypatch: pytest.MonkeyPatch, window: int
) -> None:
    monkeypatch.setattr(catalog_module, "SHARD_SIZE", 7)
    monkeypatch.setattr(catalog_module, "CACHED_SHARDS", 2)
    monkeypatch.setattr(catalog_module, "SORT_WINDOW", window)
    cat = Catalog(catalog_path)
    _fill(cat, 40)
    stored = [d["sha256"] for d in cat.iter_items()]
    assert stored == [_sha(i) for i in range(40)]  # the order they were first stored
    assert [d["sha256"] for d in cat.iter_items(order="sha256")] == sorted(stored)
    c1 = [_sha(i) for i in range(1, 40, 2)]
    assert [d["sha256"] for d in cat.iter_items("C1")] == c1
    assert [d["sha256"] for d in cat.iter_items("C1", "sha256")] == sorted(c1)
    assert list(cat.iter_items("no such case")) == []
    with pytest.raises(ValueError):
        list(cat.iter_items(order="size"))


def test_prefix_errors(catalog_path: str | None) -> None:
    cat = Catalog(catalog_path)
    _fill(cat, 40)
    with pytest.raises(ItemNotFound):
        cat.resolve("zz")
    with pytest.raises(ItemNotFound):
        cat.resolve("ffffffffffffffff0")
    first = sorted(cat.shas())
    common = next(a[0] for a, b in itertools.pairwise(first) if a[0] == b[0])
    with pytest.raises(AmbiguousPrefix):
        cat.resolve(common)


def test_reopen_from_disk(tmp_path: Path) -> None:
    path = str(tmp_path / "catalog")
    cat = Catalog(path)
    _fill(cat, 5)
    again = Catalog(path)
    assert again.shas() == cat.shas() and again.log_seq == cat.log_seq
    assert again.get(_sha(4)) == cat.get(_sha(4))
    index = json.loads((tmp_path / "catalog" / "index.json").read_text())
    assert len(index["items"]) == 5


def test_sharded_writes_touch_only_changed_shards(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(catalog_module, "SHARD_SIZE", 4)
    path = tmp_path / "catalog"
    cat = Catalog(str(path))
    _fill(cat, 10)  # 10 items -> shards 0, 1, 2
    assert sorted(p.name for p in path.glob("shard-*.json")) == [
        "shard-000000.json",
        "shard-000001.json",
        "shard-000002.json",
    ]
    before = {p.name: p.stat().st_mtime_ns for p in path.glob("shard-*.json")}
    sha = _sha(0)
    cat.apply(
        {
            "seq": 99,
            "time": "2026-02-01T00:00:00+00:00",
            "actor": "c",
            "action": "sighting.added",
            "sha256": sha,
            "details": {"case": "C3"},
        },
        entry_hash="h" * 64,
        end_offset=999,
    )
    cat.flush()
    after = {p.name: p.stat().st_mtime_ns for p in path.glob("shard-*.json")}
    changed = sorted(n for n in after if after[n] != before[n])
    assert changed == ["shard-000000.json"]
    again = Catalog(str(path))
    assert again.shas("C3") == [sha] and len(again.get(sha)["sightings"]) == 2


def test_unindexed_shard_documents_are_overwritten_by_replay(tmp_path: Path) -> None:
    """A crash after a shard write but before the index write: replay is idempotent."""
    path = tmp_path / "catalog"
    cat = Catalog(str(path))
    _fill(cat, 3)
    saved_index = (path / "index.json").read_bytes()
    entries = list(_entries(5))[6:]  # items 3 and 4 (two entries each)
    for entry in entries:
        cat.apply(entry, entry_hash="h" * 64, end_offset=entry["seq"] * 10)
    cat.flush()
    (path / "index.json").write_bytes(saved_index)  # the index write never happened
    again = Catalog(str(path))
    assert len(again) == 3
    for entry in entries:
        again.apply(entry, entry_hash="h" * 64, end_offset=entry["seq"] * 10)
    again.flush()
    final = Catalog(str(path))
    assert len(final) == 5 and len(final.get(_sha(4))["sightings"]) == 1


def test_nothing_written_before_flush(tmp_path: Path) -> None:
    path = tmp_path / "catalog"
    cat = Catalog(str(path))
    for entry in _entries(3):
        cat.apply(entry, entry_hash="h" * 64, end_offset=1)
    assert not path.exists()
    assert len(cat) == 3  # staged changes are visible to lookups
    cat.flush()
    assert len(Catalog(str(path))) == 3


def test_first_seen_keeps_claims_and_observations_apart() -> None:
    sightings = [
        {
            "observed_at": "2026-01-02T00:00:00+00:00",
            "observed_by": "late",
            "posted_at": "2022-03-16T09:00:00+00:00",
            "source_url": "https://t.me/b/2",
        },
        {
            "observed_at": "2026-01-01T00:00:00+00:00",
            "observed_by": "early",
            "posted_at": "2022-03-16T10:30:00+02:00",
            "source_url": "https://t.me/a/1",
        },
    ]
    fs = first_seen(sightings, {"captured_at": "2022-03-16T10:41:07+02:00"})
    assert fs == {
        "observed_at": "2026-01-01T00:00:00+00:00",
        "observed_by": "early",
        # 10:30+02:00 is 08:30 UTC: earlier than 09:00 UTC, though its text sorts later.
        "claimed_posted_at": "2022-03-16T10:30:00+02:00",
        "claimed_source_url": "https://t.me/a/1",
        "captured_at": "2022-03-16T10:41:07+02:00",
    }
