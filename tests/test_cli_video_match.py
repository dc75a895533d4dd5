"""Video near-duplicates through the CLI: a re-posted clip is found inside the original
with its offsets, a frame saved as a photo is found at its time, and unrelated media
do not match."""

from __future__ import annotations

import json
from pathlib import Path

import av
import pytest

from support.cli import ROOT, run_cli
from support.media import write_video

MEDIA = ROOT / "samples" / "media"


def _frame_as_jpeg(video: Path, index: int, out: Path) -> Path:
    with av.open(str(video)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i == index:
                frame.to_image().save(out, quality=85)
                return out
    raise AssertionError("frame not found")


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> Path:
    reg = tmp_path_factory.mktemp("vm") / "reg"
    other = write_video(
        tmp_path_factory.mktemp("other") / "other.mp4", 77, seconds=4, size=(320, 180)
    )
    proc = run_cli("ingest", str(MEDIA / "video_original.mp4"), str(other), "--json", registry=reg)
    assert proc.returncode == 0, proc.stderr
    return reg


def test_clip_is_found_inside_the_original_with_offsets(registry: Path) -> None:
    proc = run_cli("match", str(MEDIA / "video_clip_repost.mp4"), "--json", registry=registry)
    assert proc.returncode == 0, proc.stderr
    [row] = [json.loads(line) for line in proc.stdout.splitlines()]
    assert row["exact"] is False
    [match] = row["matches"]
    assert match["method"] == "pdq-frames-align" and 0 < match["score"] <= 1
    [seg] = match["segments"]
    # The clip is seconds 4.0-8.0 of the original (letterboxed, downscaled, re-encoded).
    assert seg["query_start_s"] == pytest.approx(0.0, abs=1.0)
    assert seg["query_end_s"] == pytest.approx(4.0, abs=1.0)
    assert seg["match_start_s"] - seg["query_start_s"] == pytest.approx(4.0, abs=1.0)


def test_still_of_a_frame_is_found_at_its_time(registry: Path, tmp_path: Path) -> None:
    still = _frame_as_jpeg(MEDIA / "video_original.mp4", 130, tmp_path / "still.jpg")  # 5.2 s
    proc = run_cli("match", str(still), "--json", registry=registry)
    [row] = [json.loads(line) for line in proc.stdout.splitlines()]
    [match] = row["matches"]
    [seg] = match["segments"]
    assert seg["match_start_s"] == pytest.approx(5.2, abs=1.0)


def test_unrelated_media_do_not_match(registry: Path) -> None:
    proc = run_cli("match", str(MEDIA / "photo_other_scene.jpg"), "--json", registry=registry)
    [row] = [json.loads(line) for line in proc.stdout.splitlines()]
    assert row["matches"] == []


def test_ingest_records_the_video_match_in_custody(registry: Path) -> None:
    proc = run_cli("ingest", str(MEDIA / "video_clip_repost.mp4"), "--json", registry=registry)
    [row] = [json.loads(line) for line in proc.stdout.splitlines()]
    assert row["status"] == "new" and row["near_duplicates"][0]["segments"]
    entries = [
        json.loads(line)
        for line in run_cli(
            "custody", row["sha256"], "--json", registry=registry
        ).stdout.splitlines()
    ]
    found = [e for e in entries if e["action"] == "neardup.found"]
    assert found and found[0]["details"]["segments"]
    dupes = json.loads(run_cli("dupes", "--json", registry=registry).stdout)
    assert any(row["sha256"] in c["members"] for c in dupes["clusters"])
