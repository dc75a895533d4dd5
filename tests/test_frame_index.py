"""The frame multi-index: what it finds against the exhaustive PDQ search."""

from __future__ import annotations

import numpy as np

from registry.similarity import frame_index
from registry.similarity.frame_index import FrameIndex
from registry.similarity.frames import frame_sequence, signs
from registry.similarity.index import KINDS, NearDupIndex


def _index(rng: np.random.Generator, videos: int, frames: int, photos: int) -> NearDupIndex:
    index = NearDupIndex()
    n = videos + photos
    index.items = [f"{i:064x}" for i in range(n)]
    index.position = {s: i for i, s in enumerate(index.items)}
    rows = videos * frames + photos
    kind = np.full(rows, KINDS.index("frame"), np.int8)
    kind[videos * frames :] = KINDS.index("whole")
    t = np.tile(np.arange(frames, dtype=np.float32) / 2, videos)
    index.set_pdq(
        rng.integers(0, 256, (rows, 32), dtype=np.uint8),
        np.concatenate([np.repeat(np.arange(videos), frames), np.arange(videos, n)]).astype(
            np.int32
        ),
        kind,
        np.concatenate([t, np.full(photos, np.nan, np.float32)]),
        np.full(rows, 90, np.int16),
    )
    return index


def _flip(codes: np.ndarray, bits: int, rng: np.random.Generator) -> np.ndarray:
    out = np.unpackbits(codes, axis=1)
    for row in out:
        row[rng.choice(256, bits, replace=False)] ^= 1
    return np.packbits(out, axis=1)


def _exhaustive(index: NearDupIndex, codes: np.ndarray, reach: int) -> dict[int, int]:
    return {h.owner: h.distance for h in index.search_pdq(codes, reach)}


def test_finds_near_rows_and_ranks_them_exactly(monkeypatch) -> None:
    monkeypatch.setattr(frame_index, "PENDING_LIMIT", 100)  # sorted, not scanned
    rng = np.random.default_rng(3)
    index = _index(rng, videos=60, frames=40, photos=50)
    # Codes within 15 bits of frame rows of video 7 (always found), and of a photo.
    codes = np.concatenate([_flip(index.pdq[280:290], 15, rng), _flip(index.pdq[-3:-2], 30, rng)])
    found = FrameIndex.of(index).nearest(codes, 64)
    assert found == _exhaustive(index, codes, 64)
    assert set(found) == {7, 60 + 47}


def test_rows_appended_after_the_first_search_are_found(monkeypatch) -> None:
    monkeypatch.setattr(frame_index, "PENDING_LIMIT", 100)
    rng = np.random.default_rng(4)
    index = _index(rng, videos=20, frames=30, photos=0)
    FrameIndex.of(index)
    code = rng.integers(0, 256, (1, 32), dtype=np.uint8)
    index.add("f" * 64, [{"alg": "pdq", "hex": code[0].tobytes().hex(), "quality": 90, "t": 0.0}])
    found = FrameIndex.of(index).nearest(_flip(code, 40, rng), 64)
    assert found == {20: 40}


def test_a_replaced_table_is_taken_in_anew() -> None:
    rng = np.random.default_rng(5)
    index = _index(rng, videos=5, frames=10, photos=2)
    FrameIndex.of(index)
    other = _index(rng, videos=5, frames=10, photos=2)
    index.set_pdq(other.pdq, other.pdq_owner, other.pdq_kind, other.pdq_t, other.pdq_quality)
    codes = _flip(index.pdq[12:14], 20, rng)
    assert FrameIndex.of(index).nearest(codes, 64) == _exhaustive(index, codes, 64)


def test_bulk_parsing_gives_what_one_frame_at_a_time_gives() -> None:
    rng = np.random.default_rng(6)
    hexes = [rng.integers(0, 256, 32, dtype=np.uint8).tobytes().hex() for _ in range(16)]
    frames = [
        {
            "alg": "pdq",
            "hex": hexes[i],
            "quality": 60 + i,
            "t": 0.5 * (15 - i),
            # Some frames without variants: those variants are then not complete.
            "dihedral": [hexes[i], *hexes[:7]] if i % 5 else None,
            "thumb": bytes((i + k) % 256 for k in range(256)).hex(),
        }
        for i in range(16)
    ]
    seq = frame_sequence(frames)
    by_time = sorted(frames, key=lambda f: f["t"])
    assert np.array_equal(seq.bits[0], np.stack([signs(f["hex"]) for f in by_time]))
    assert not seq.has[1:].any()
    with_variants = [f for f in by_time if f["dihedral"]]
    rows = [i for i, f in enumerate(by_time) if f["dihedral"]]
    assert np.array_equal(
        seq.bits[3, rows], np.stack([signs(f["dihedral"][3]) for f in with_variants])
    )
    assert seq.thumbs is not None and seq.thumbs[0, 0, 0] == 15
    assert not frame_sequence(frames, variants=False).bits[1:].any()


def test_photos_added_after_the_first_search_are_found() -> None:
    rng = np.random.default_rng(7)
    index = _index(rng, videos=3, frames=10, photos=0)
    FrameIndex.of(index)
    code = rng.integers(0, 256, (1, 32), dtype=np.uint8)
    index.add("e" * 64, [{"alg": "pdq", "hex": code[0].tobytes().hex(), "quality": 90}])
    assert FrameIndex.of(index).nearest(code, 64) == {3: 0}
