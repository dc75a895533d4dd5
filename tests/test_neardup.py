"""The near-duplicate index: exact Hamming search, the multi-index for descriptors,
votes, video frame rows, and the cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.photo.perceptual import hash_picture
from registry.similarity import index as index_module
from registry.similarity import orb_index
from registry.similarity.index import INDEX_FILE, KINDS, NearDupIndex, parse_hex
from registry.similarity.orb_index import BUCKET_TARGET, MultiIndex, distances
from registry.similarity.pdq_index import GUARANTEED, FlipIndex
from support.media import scene


def _codes(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 256, (n, 32), dtype=np.uint8)


def _flip(code: np.ndarray, bits: int, rng: np.random.Generator) -> np.ndarray:
    out = np.unpackbits(code.copy())
    idx = rng.choice(256, bits, replace=False)
    out[idx] ^= 1
    return np.packbits(out)


def test_distances_are_hamming_distances() -> None:
    rng = np.random.default_rng(0)
    a, b = _codes(rng, 3), _codes(rng, 5)
    expected = [[int(np.unpackbits(x ^ y).sum()) for y in b] for x in a]
    assert distances(a, b).tolist() == expected


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 15))
def test_multi_index_finds_every_code_within_15_bits(seed: int, bits: int) -> None:
    # 16 chunks: two codes within 15 bits share at least one chunk exactly.
    rng = np.random.default_rng(seed)
    stored = _codes(rng, 300)
    index = MultiIndex()
    index.add(stored, np.arange(300))
    index.sort()
    target = int(rng.integers(0, 300))
    query = _flip(stored[target], bits, rng)[None, :]
    _, ri, dist = index.near(query, 15)
    assert target in ri.tolist()
    assert int(dist[ri.tolist().index(target)]) == bits


def test_multi_index_agrees_with_brute_force_including_unsorted_rows() -> None:
    rng = np.random.default_rng(1)
    stored = _codes(rng, 500)
    index = MultiIndex()
    index.add(stored[:400], np.arange(400))
    index.sort()
    index.add(stored[400:], np.arange(400, 500))  # pending rows, searched exhaustively
    queries = np.array([_flip(stored[i], 6, rng) for i in (3, 250, 450)])
    qi, ri, _ = index.near(queries, 10)
    found = {(int(q), int(r)) for q, r in zip(qi, ri, strict=True)}
    brute = distances(queries, stored)
    assert found == {(int(q), int(r)) for q, r in zip(*np.nonzero(brute <= 10), strict=True)}


def test_a_crowded_bucket_is_narrowed_by_the_next_byte_not_skipped() -> None:
    # 3,000 rows share every chunk value but the next byte after chunk 0 (as descriptors
    # of flat patches do): the bucket is narrowed to the rows whose byte 2 shares its
    # first bits with the query's, and an exact copy is still found.
    rng = np.random.default_rng(2)
    stored = np.zeros((3000, 32), np.uint8)
    stored[:, 2] = rng.integers(0, 256, 3000)
    stored[:, 3:] = rng.integers(0, 256, (3000, 29)) & 0x01  # a few low bits differ
    index = MultiIndex()
    index.add(stored, np.arange(3000))
    index.sort()
    segment = index.segments()[0]
    lo, hi = index.buckets(segment, stored[:50])
    assert (hi[:, 0] - lo[:, 0]).max() <= 2 * BUCKET_TARGET
    bits = int(np.ceil(np.log2(3000 / BUCKET_TARGET)))
    for q in range(50):
        rows = segment.rows(0, lo[q, 0], hi[q, 0])
        same = (stored[:, 2] >> (8 - bits)) == (stored[q, 2] >> (8 - bits))
        assert set(rows.tolist()) == set(np.nonzero(same)[0].tolist())
    _, ri, _ = index.near(stored[7:8], 0)
    assert 7 in ri.tolist()


def test_pdq_search_returns_the_closest_row_per_item() -> None:
    index = NearDupIndex()
    a, b = scene(1), scene(2)
    index.add("a" * 64, hash_picture(a))
    index.add("b" * 64, hash_picture(b))
    query = parse_hex(next(h for h in hash_picture(a) if h["alg"] == "pdq")["hex"])
    hits = index.search_pdq(query, 256)
    assert index.items[hits[0].owner] == "a" * 64
    assert hits[0].distance == 0
    assert hits[1].distance > 64


def _brute_hits(index: NearDupIndex, queries: np.ndarray, reach: int) -> dict[int, int]:
    dist = distances(queries, index.pdq).min(axis=0)
    best: dict[int, int] = {}
    for row in np.nonzero(dist <= reach)[0]:
        owner = int(index.pdq_owner[row])
        best[owner] = min(best.get(owner, 256), int(dist[row]))
    return best


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 80))
def test_pdq_search_agrees_with_brute_force(seed: int, reach: int) -> None:
    rng = np.random.default_rng(seed)
    index = NearDupIndex()
    stored = _codes(rng, 120)
    for i in range(40):  # three rows per item, some of them near copies of each other
        rows = stored[3 * i : 3 * i + 3]
        rows[1] = _flip(rows[0], int(rng.integers(0, 60)), rng)
        index.add(f"{i:064x}", [{"alg": "pdq", "hex": r.tobytes().hex()} for r in rows])
    queries = np.array([_flip(stored[int(rng.integers(0, 120))], 30, rng) for _ in range(4)])
    found = {h.owner: h.distance for h in index.search_pdq(queries, reach)}
    assert found == _brute_hits(index, queries, reach)
    # Rows added after a search are searched too (the faiss table catches up).
    index.add("f" * 64, [{"alg": "pdq", "hex": queries[0].tobytes().hex()}])
    hits = index.search_pdq(queries, reach)
    assert hits[0].distance == 0 and index.items[hits[0].owner] == "f" * 64
    assert {h.owner: h.distance for h in hits} == _brute_hits(index, queries, reach)


def test_orb_votes_go_to_the_same_picture() -> None:
    index = NearDupIndex()
    for seed in range(5):
        index.add(f"{seed:064x}", hash_picture(scene(seed)))
    index.orb.sort()
    from ingest.photo import features

    query = features.spread(features.detect(scene(3)), 300).descriptors
    votes = index.vote_orb(query, 40, 0.8)
    best = max(votes, key=votes.get)
    assert index.items[best] == f"{3:064x}"
    assert votes[best] >= 30
    assert all(v < 10 for owner, v in votes.items() if owner != best)


def test_video_frame_hashes_are_rows_with_a_time() -> None:
    index = NearDupIndex()
    frame = {"alg": "pdq", "v": 1, "hex": "ab" * 32, "quality": 90, "dihedral": [], "t": 12.5}
    index.add("c" * 64, [frame, {**frame, "t": 13.0, "hex": "cd" * 32}])
    assert index.pdq_kind.tolist() == [KINDS.index("frame")] * 2
    assert index.pdq_t.tolist() == [12.5, 13.0]
    hit = index.search_pdq(parse_hex("cd" * 32), 0)[0]
    assert float(index.pdq_t[hit.row]) == 13.0


def test_malformed_stored_hashes_are_skipped() -> None:
    index = NearDupIndex()
    index.add("d" * 64, [{"alg": "pdq", "hex": "zz"}, {"alg": "orb", "hex": "abc"}])
    assert "d" * 64 not in index
    with pytest.raises(ValueError):
        parse_hex("ab" * 31)


def test_cache_round_trip_and_stale_stamp(tmp_path: Path) -> None:
    index = NearDupIndex()
    for seed in range(3):
        index.add(f"{seed:064x}", hash_picture(scene(seed)))
    index.stamp = "3:7"
    path = str(tmp_path / INDEX_FILE)
    index.save(path)
    loaded = NearDupIndex.load(path, "3:7")
    assert loaded is not None
    assert loaded.items == index.items
    assert np.array_equal(loaded.pdq, index.pdq)
    assert np.array_equal(loaded.orb.codes, index.orb.codes)
    assert NearDupIndex.load(path, "4:9") is None
    assert NearDupIndex.load(str(tmp_path / "absent.json"), "3:7") is None
    (tmp_path / "old.npz").write_bytes(b"PK\x03\x04 an older cache format")
    assert NearDupIndex.load(str(tmp_path / "old.npz"), "3:7") is None


def _mapped(array: np.ndarray) -> bool:
    """Whether ``array`` is (a view of) a memory map of a file."""
    while array is not None:
        if isinstance(array, np.memmap):
            return True
        array = array.base
    return False


def test_the_cache_keeps_the_sorted_tables_and_searches_the_same(tmp_path) -> None:
    rng = np.random.default_rng(3)
    index = NearDupIndex()
    for i in range(30):
        rows = _codes(rng, 8)
        index.add(f"{i:064x}", [{"alg": "orb", "hex": rows.tobytes().hex()}])
    index.stamp = "s"
    path = str(tmp_path / "index.json")
    index.save(path)
    again = NearDupIndex.load(path, "s")
    assert again is not None and again.orb.sorted_n == len(index.orb.codes)
    assert _mapped(again.orb.codes)  # opened as a map, not read
    queries = np.array([_flip(index.orb.codes[i], 8, rng) for i in (0, 100, 200)])
    assert [a.tolist() for a in again.orb.near(queries, 20)] == [
        a.tolist() for a in index.orb.near(queries, 20)
    ]
    assert NearDupIndex.load(path, "other stamp") is None


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 31))
def test_the_pdq_multi_index_finds_every_row_within_31_bits(seed: int, bits: int) -> None:
    # One-bit probes of 16 chunks: a row within 31 bits differs from the query in at
    # most one bit of some chunk, so it is found, exactly as an exhaustive scan finds it.
    rng = np.random.default_rng(seed)
    stored = _codes(rng, 400)
    stored[1::2] = [_flip(stored[i - 1], int(rng.integers(0, 40)), rng) for i in range(1, 400, 2)]
    flip = FlipIndex.build(stored)
    queries = np.array([_flip(stored[int(rng.integers(0, 400))], bits, rng) for _ in range(3)])
    for reach in (bits, GUARANTEED):
        qi, ri, dist = flip.near(stored, queries, reach)
        brute = distances(queries, stored)
        expected = {(int(q), int(r)) for q, r in zip(*np.nonzero(brute <= reach), strict=True)}
        assert {(int(q), int(r)) for q, r in zip(qi, ri, strict=True)} == expected
        assert dist.tolist() == brute[qi, ri].tolist()


def test_a_large_pdq_table_is_searched_through_the_multi_index(monkeypatch) -> None:
    monkeypatch.setattr(index_module, "PDQ_EXACT_ROWS", 50)
    monkeypatch.setattr(index_module, "PDQ_PENDING", 20)
    rng = np.random.default_rng(5)
    index = NearDupIndex()
    stored = _codes(rng, 90)
    for i in range(30):
        rows = stored[3 * i : 3 * i + 3]
        index.add(f"{i:064x}", [{"alg": "pdq", "hex": r.tobytes().hex()} for r in rows])
    index.sort()
    assert index._flip is not None and index._flip.n == 90
    queries = np.array([_flip(stored[i], 20, rng) for i in (4, 50, 88)])
    assert {h.owner: h.distance for h in index.search_pdq(queries, 31)} == _brute_hits(
        index, queries, 31
    )
    # Rows added later are scanned exhaustively until enough of them are pending.
    for i in range(30, 60):
        code = _flip(stored[i - 30], 10, rng)
        index.add(f"{i:064x}", [{"alg": "pdq", "hex": code.tobytes().hex()}])
        found = {h.owner: h.distance for h in index.search_pdq(queries, 31)}
        assert found == _brute_hits(index, queries, 31)
    assert index._flip.n > 90  # sorted again once more than PDQ_PENDING were pending


def _vote_reference(index: NearDupIndex, queries: np.ndarray, reach: int, ratio: float):
    """The vote as a loop over query descriptors (what ``vote_orb`` computes at once)."""
    dist = distances(queries, index.orb.codes).astype(int)
    owners = index.orb.owners
    votes: dict[int, int] = {}
    for row in dist:
        near = [r for r in np.argsort(row, kind="stable") if row[r] <= reach]
        if not near:
            continue
        owner = int(owners[near[0]])
        rival = next((row[r] for r in near[1:] if owners[r] != owner), None)
        if rival is None or row[near[0]] < ratio * rival:
            votes[owner] = votes.get(owner, 0) + 1
    return votes


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_votes_agree_with_a_loop_over_descriptors(seed: int) -> None:
    rng = np.random.default_rng(seed)
    index = NearDupIndex()
    base = _codes(rng, 40)
    for i in range(12):
        rows = np.array([_flip(base[int(rng.integers(0, 40))], 6, rng) for _ in range(10)])
        index.add(f"{i:064x}", [{"alg": "orb", "hex": rows.tobytes().hex()}])
    queries = np.array([_flip(base[int(rng.integers(0, 40))], 5, rng) for _ in range(30)])
    # Within 15 bits the multi-index finds every pair, so the votes are exact.
    assert index.vote_orb(queries, 15, 0.8) == _vote_reference(index, queries, 15, 0.8)
    index.orb.sort()
    assert index.vote_orb(queries, 15, 0.8) == _vote_reference(index, queries, 15, 0.8)


def test_segments_search_like_one_table_and_survive_the_cache(monkeypatch, tmp_path) -> None:
    rng = np.random.default_rng(6)
    stored = _codes(rng, 700)
    queries = np.array([_flip(stored[i], 9, rng) for i in (0, 333, 699)])
    whole = MultiIndex()
    whole.add(stored, np.arange(700) // 7)
    whole.sort()
    monkeypatch.setattr(orb_index, "SEGMENT_ROWS", 256)
    index = NearDupIndex()
    for i in range(100):
        index.add(f"{i:064x}", [{"alg": "orb", "hex": stored[7 * i : 7 * i + 7].tobytes().hex()}])
    index.orb.sort()
    assert [s.base for s in index.orb.segments()] == [0, 256, 512]
    expected = [a.tolist() for a in whole.near(queries, 15)]
    assert [a.tolist() for a in index.orb.near(queries, 15)] == expected
    assert index.orb.owners.tolist() == whole.owners.tolist()
    index.stamp = "s"
    index.save(str(tmp_path / "i.json"))
    again = NearDupIndex.load(str(tmp_path / "i.json"), "s")
    assert again is not None and [s.base for s in again.orb.segments()] == [0, 256, 512]
    assert [a.tolist() for a in again.orb.near(queries, 15)] == expected
    # A loaded (memory-mapped) index still takes new items.
    again.add("n" * 64, [{"alg": "orb", "hex": queries[0].tobytes().hex()}])
    assert again.vote_orb(queries[:1], 0, 0.8) == {100: 1}


def test_a_reader_keeps_its_cache_while_it_is_rewritten(tmp_path) -> None:
    index = NearDupIndex()
    for seed in range(2):
        index.add(f"{seed:064x}", hash_picture(scene(seed)))
    index.stamp = "1"
    path = str(tmp_path / "neardup.json")
    index.save(path)
    reader = NearDupIndex.load(path, "1")
    assert reader is not None
    for stamp in "234":
        index.stamp = stamp
        index.save(path)
    # The old reader's maps still work; only the newest and the previous folder remain.
    query = parse_hex(next(h for h in hash_picture(scene(1)) if h["alg"] == "pdq")["hex"])
    assert reader.search_pdq(query, 0)[0].owner == 1
    assert len([p for p in tmp_path.iterdir() if p.is_dir()]) == 2
    assert NearDupIndex.load(path, "4") is not None and NearDupIndex.load(path, "3") is None


def test_rows_added_an_item_at_a_time_stay_in_few_segments(monkeypatch) -> None:
    """Ingest adds one item at a time: pending rows become small sorted segments that
    merge like a binary counter, so a query never scans more than PENDING_LIMIT rows
    exhaustively and the segments stay about log2(rows / PENDING_LIMIT)."""
    monkeypatch.setattr(orb_index, "PENDING_LIMIT", 64)
    rng = np.random.default_rng(11)
    stored = _codes(rng, 7 * 300)
    queries = np.array([_flip(stored[i], 9, rng) for i in (0, 1000, 2099)])
    whole = MultiIndex()
    whole.add(stored, np.arange(len(stored)) // 7)
    whole.sort()
    index = MultiIndex()
    for i in range(300):
        index.add(stored[7 * i : 7 * i + 7], np.full(7, i))
        assert len(index) - index.sorted_n <= 64 + 7
    sizes = [s.n for s in index.segments()]
    assert sum(sizes) == len(stored) and len(sizes) <= 8
    assert sizes == sorted(sizes, reverse=True)
    assert [a.tolist() for a in index.near(queries, 15)] == [
        a.tolist() for a in whole.near(queries, 15)
    ]
