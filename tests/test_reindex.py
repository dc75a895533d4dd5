"""Re-hashing stored photos with new hash versions, through the Python API: the change is
logged, folded into the catalogue, picked up by the index, and survives a rebuild."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ingest.photo import perceptual
from registry.core import Registry, init_registry
from support.media import write_jpeg
from support.transforms import by_name


def _phash_v2(picture: Image.Image) -> dict:
    """A stand-in for a future pHash version."""
    value = perceptual.phash(picture)
    return {**value, "v": 2, "hex": value["hex"][::-1]}


def test_reindex_logs_new_hash_versions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    photos = tmp_path / "in"
    a = write_jpeg(photos / "a.jpg", 41)
    by_name("crop 10 %").apply(Image.open(a).convert("RGB"), np.random.default_rng(0)).save(
        photos / "b.jpg", quality=80
    )
    reg = init_registry(str(tmp_path / "reg"))
    results = reg.ingest([photos], workers=1)
    assert [len(r.near_duplicates) for r in results] == [0, 1]
    stamp_before = reg.near.index().stamp

    monkeypatch.setitem(perceptual.HASHERS, "phash", _phash_v2)
    monkeypatch.setitem(perceptual.HASH_VERSIONS, "phash", ("phash", 2))
    monkeypatch.setattr("ingest.extraction._TOOLS", {"hashers": perceptual.versions_tag()})
    monkeypatch.setattr("registry.reindexing.versions_tag", perceptual.versions_tag)

    summary = reg.reindex(actor="carol")
    assert summary["rehashed"] == summary["updated"] == 2
    assert summary["near_duplicates"] == 0  # the pair was already known
    assert summary["hashers"] == "pdq/1 phash/2 pdq_content/3 orb/1"

    updates = [e for e in reg.custody() if e["action"] == "hashes.updated"]
    assert len(updates) == 2 and {e["actor"] for e in updates} == {"carol"}
    for item in reg.list_items():
        phash = next(h for h in item["hashes"] if h["alg"] == "phash")
        assert phash["v"] == 2
    assert reg.near.index().stamp != stamp_before  # the index noticed the new hashes

    # Nothing stale is left; a rebuilt catalogue folds the same hashes from the log.
    assert reg.reindex(actor="carol")["rehashed"] == 0
    reg.rebuild()
    reopened = Registry.open(str(tmp_path / "reg"))
    assert all(
        next(h for h in item["hashes"] if h["alg"] == "phash")["v"] == 2
        for item in reopened.list_items()
    )
    assert reopened.verify().ok


MEDIA = Path(__file__).resolve().parents[1] / "samples" / "media"
VIDEOS = [MEDIA / "video_original.mp4", MEDIA / "video_clip_repost.mp4"]


def test_reindex_hashes_videos_of_an_older_frame_method(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ingest.video import frames as video_frames

    reg = init_registry(str(tmp_path / "reg"))
    with monkeypatch.context() as old:
        old.setattr(video_frames, "METHOD_VERSION", video_frames.METHOD_VERSION - 1)
        reg.ingest(VIDEOS, workers=1)
    assert {i["metadata"]["frame_hashes"]["v"] for i in reg.list_items()} == {
        video_frames.METHOD_VERSION - 1
    }
    summary = reg.reindex(actor="carol")
    assert summary["videos"] == 2 and summary["rehashed"] == summary["updated"] == 2
    assert summary["near_duplicates"] == 0  # the clip was found at ingest already
    assert {i["metadata"]["frame_hashes"]["v"] for i in reg.list_items()} == {
        video_frames.METHOD_VERSION
    }
    assert reg.reindex(actor="carol")["rehashed"] == 0  # nothing stale is left
    reg.rebuild()  # the log carries the new frame summary too
    reopened = Registry.open(str(tmp_path / "reg"))
    assert {i["metadata"]["frame_hashes"]["v"] for i in reopened.list_items()} == {
        video_frames.METHOD_VERSION
    }
    assert reopened.verify().ok


def test_reindex_everything_hashes_unhashed_videos_and_finds_the_clip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ingest.errors import FrameDecodeErrors

    def no_frames(*_args: object, **_kwargs: object) -> None:
        raise FrameDecodeErrors("no frame could be decoded (simulated)")

    reg = init_registry(str(tmp_path / "reg"))
    with monkeypatch.context() as broken:
        broken.setattr("ingest.extraction.hash_video_frames", no_frames)
        results = reg.ingest(VIDEOS, workers=1)
    assert [r.status for r in results] == ["new", "new"]
    assert all(not r.near_duplicates for r in results)
    assert reg.reindex(actor="carol")["rehashed"] == 0  # failed hashing is retried on --all
    summary = reg.reindex(actor="carol", everything=True)
    assert summary["rehashed"] == summary["updated"] == 2
    assert summary["near_duplicates"] == 1
    (found,) = [e for e in reg.custody() if e["action"] == "neardup.found"]
    (segment,) = found["details"]["segments"]
    # The 4-second clip is 4.0-8.0 s of the original, whichever side was the query.
    assert abs(abs(segment["query_start_s"] - segment["match_start_s"]) - 4.0) < 0.5
    assert reg.verify().ok


def test_reindex_never_replaces_frame_hashes_with_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ingest.errors import FrameDecodeErrors

    reg = init_registry(str(tmp_path / "reg"))
    reg.ingest(VIDEOS[:1], workers=1)
    before = next(iter(reg.list_items()))["hashes"]

    def no_frames(*_args: object, **_kwargs: object) -> None:
        raise FrameDecodeErrors("decoder gave up (simulated)")

    monkeypatch.setattr("ingest.extraction.hash_video_frames", no_frames)
    summary = reg.reindex(actor="carol", everything=True)
    assert summary["rehashed"] == summary["updated"] == 0
    (failure,) = summary["failed"]
    assert "decoder gave up (simulated)" in failure["error"]
    assert next(iter(reg.list_items()))["hashes"] == before
