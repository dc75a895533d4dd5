"""Temporal alignment of videos and stills found in videos (registry.similarity.align)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from videogen import Part, Source, black, constant, letterbox, logo, mirror, write

from ingest.extraction import extract
from ingest.video.frames import hash_video_frames
from registry.similarity.align import (
    Segment,
    StillMatch,
    VideoMatch,
    align,
    frame_sequence,
    matchable_frames,
    still_in_video,
)

A = Source(seed=5, seconds=16.0)
B = Source(seed=9, seconds=12.0)
SEGMENT_KEYS = {"query_start_s", "query_end_s", "match_start_s", "match_end_s"}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("align")


@pytest.fixture(scope="module")
def originals(folder: Path) -> dict[str, list[dict]]:
    return {
        "A": hash_video_frames(write(folder / "a.mp4", [Part(A.frame, 0, A.seconds)])).hashes,
        "B": hash_video_frames(write(folder / "b.mp4", [Part(B.frame, 0, B.seconds)])).hashes,
    }


def frames_of(path: Path) -> list[dict]:
    return hash_video_frames(path).hashes


def only(match: VideoMatch | None) -> Segment:
    assert match is not None
    assert len(match.segments) == 1, match.segments
    return match.segments[0]


def test_trimmed_clip_found_at_its_offset(folder: Path, originals) -> None:
    clip = write(folder / "trim.mp4", [Part(A.frame, 5.3, 7.0)], fps=12)
    match = align(frames_of(clip), originals["A"], query_duration_s=7.0, candidate_duration_s=16)
    seg = only(match)
    assert seg.offset_s == pytest.approx(5.3, abs=1.0)
    assert seg.query_start_s <= 0.5 and seg.query_end_s >= 6.5
    assert seg.match_start_s == pytest.approx(5.3, abs=1.0)
    assert match.query_share >= 0.9 and match.match_share == pytest.approx(7 / 16, abs=0.08)
    assert match.transform is None and 0.5 < match.score <= 1.0
    assert set(seg.to_dict()) == SEGMENT_KEYS
    assert align(frames_of(clip), originals["B"]) is None


def test_compilation_of_two_sources_gives_a_segment_in_each(folder: Path, originals) -> None:
    path = write(
        folder / "compilation.mp4",
        [Part(B.frame, 2.0, 5.0), Part(black, 0, 1.0), Part(A.frame, 9.0, 6.0)],
        fps=12,
    )
    frames = frames_of(path)
    from_a = only(align(frames, originals["A"]))
    assert from_a.query_start_s == pytest.approx(6.0, abs=1.0)
    assert from_a.query_end_s == pytest.approx(12.0, abs=1.0)
    assert from_a.offset_s == pytest.approx(3.0, abs=1.0)
    from_b = only(align(frames, originals["B"]))
    assert from_b.query_start_s == pytest.approx(0.0, abs=1.0)
    assert from_b.query_end_s == pytest.approx(5.0, abs=1.0)
    assert from_b.offset_s == pytest.approx(2.0, abs=1.0)


def test_same_clip_twice_gives_two_segments(folder: Path, originals) -> None:
    path = write(
        folder / "twice.mp4",
        [Part(A.frame, 1.0, 5.0), Part(B.frame, 0, 3.0), Part(A.frame, 1.0, 5.0)],
    )
    match = align(frames_of(path), originals["A"])
    assert match is not None and len(match.segments) == 2
    first, second = match.segments
    assert first.query_start_s == pytest.approx(0.0, abs=1.0)
    assert second.query_start_s == pytest.approx(8.0, abs=1.0)
    for seg in match.segments:
        assert seg.match_start_s == pytest.approx(1.0, abs=1.0)
        assert seg.match_end_s == pytest.approx(6.0, abs=1.0)


@pytest.mark.parametrize(
    ("edit", "transform"), [(mirror, "mirror"), (letterbox, None), (logo, None)]
)
def test_edited_copies_are_found(folder: Path, originals, edit, transform) -> None:
    path = write(folder / f"{edit.__name__}.mp4", [Part(A.frame, 3.0, 8.0)], fps=12, edit=edit)
    match = align(frames_of(path), originals["A"])
    seg = only(match)
    assert seg.offset_s == pytest.approx(3.0, abs=1.0)
    assert seg.query_end_s - seg.query_start_s >= 7.0
    assert match.transform == transform and seg.transform == transform


def test_black_constant_and_fade_frames_never_match(folder: Path, originals) -> None:
    def fading(source: Source):
        return lambda t: (source.frame(t) * max(0.0, 1.0 - t / 1.5) * 0.3).astype(np.uint8)

    one = write(
        folder / "dark1.mp4", [Part(black, 0, 3), Part(constant, 0, 3), Part(fading(A), 0, 2)]
    )
    two = write(
        folder / "dark2.mp4", [Part(constant, 0, 2), Part(black, 0, 3), Part(fading(B), 0, 2)]
    )
    first, second = frames_of(one), frames_of(two)
    assert all(h["quality"] < 50 for h in first + second)
    assert align(first, second) is None
    assert align(second, first) is None
    for frames in originals.values():
        assert align(first, frames) is None and align(frames, second) is None


def test_unrelated_videos_do_not_match(originals) -> None:
    assert align(originals["A"], originals["B"]) is None
    assert align(originals["B"], originals["A"]) is None


def test_a_video_matches_itself_whole(originals) -> None:
    seg = only(align(originals["A"], originals["A"], query_duration_s=16, candidate_duration_s=16))
    assert seg.offset_s == pytest.approx(0.0, abs=0.01)
    assert seg.query_start_s == 0.0 and seg.query_end_s == pytest.approx(16.0, abs=0.6)


def _export_frame(video: Path, at: float, out: Path, *, flip: bool = False) -> tuple[Path, float]:
    with av.open(str(video)) as container:
        for frame in container.decode(video=0):
            if frame.time >= at:
                picture = frame.to_image()
                break
    if flip:
        picture = picture.transpose(0)  # PIL's FLIP_LEFT_RIGHT
    picture.save(out, quality=85)
    return out, float(frame.time)


def test_a_frame_exported_as_jpeg_matches_its_video_at_its_time(folder: Path, originals) -> None:
    video = folder / "a.mp4"
    photo_path, t = _export_frame(video, 9.3, folder / "still.jpg")
    photo = next(h for h in extract(photo_path).hashes if h["alg"] == "pdq")
    matches = still_in_video(photo, originals["A"])
    assert matches and abs(matches[0].t - t) <= 0.5
    assert matches[0].transform is None and matches[0].start_s <= matches[0].t <= matches[0].end_s
    segment = matches[0].segment()
    assert set(segment) == SEGMENT_KEYS and segment["match_start_s"] == round(matches[0].t, 2)
    assert still_in_video(photo, originals["B"]) == []
    # A frame of a query video that is a registered photo: the same lookup, other way round.
    assert matches[0].segment(photo_is_query=False)["query_start_s"] == round(matches[0].t, 2)


def test_a_mirrored_screenshot_matches_with_its_transform(folder: Path, originals) -> None:
    photo_path, t = _export_frame(folder / "a.mp4", 4.6, folder / "flipped.jpg", flip=True)
    photo = next(h for h in extract(photo_path).hashes if h["alg"] == "pdq")
    matches = still_in_video(photo, originals["A"])
    assert matches and abs(matches[0].t - t) <= 0.5 and matches[0].transform == "mirror"


def test_low_quality_photos_and_frames_never_match(originals) -> None:
    frames = [dict(h, quality=10) for h in originals["A"]]
    photo = originals["A"][5]
    assert still_in_video(photo, frames) == []
    assert still_in_video(dict(photo, quality=10), originals["A"]) == []


def test_matchable_frames_skips_repeats_and_low_quality(originals) -> None:
    frames = originals["A"]
    repeated = [dict(frames[0], t=0.0), dict(frames[0], t=0.5), dict(frames[1], t=1.0, quality=5)]
    assert [f["t"] for f in matchable_frames(repeated)] == [0.0]
    assert len(matchable_frames(frames)) <= len(frames)


def test_details_follow_the_custody_contract(folder: Path, originals) -> None:
    clip = write(folder / "trim2.mp4", [Part(A.frame, 2.0, 5.0)])
    details = align(frames_of(clip), originals["A"]).details()
    assert {"score", "distance", "method", "transform", "segments"} <= set(details)
    assert all(set(s) == SEGMENT_KEYS for s in details["segments"])
    still = StillMatch(t=3.0, distance=10, score=0.9).details()
    assert still["segments"] == [
        {"query_start_s": None, "query_end_s": None, "match_start_s": 3.0, "match_end_s": 3.0}
    ]


def test_frame_sequence_accepts_tuples_and_rejects_bad_hashes(originals) -> None:
    h = originals["A"][0]
    seq = frame_sequence([(1.0, h["hex"], 80, h["dihedral"]), (0.0, h["hex"])])
    assert list(seq.t) == [0.0, 1.0] and list(seq.quality) == [100, 80]
    assert seq.has[0] and not seq.has[5]  # one frame had no variants
    with pytest.raises(ValueError):
        frame_sequence([(0.0, "abcd")])
    # Photo hashes (no "t") and other algorithms are not frames.
    assert len(frame_sequence([{"alg": "pdq", "hex": h["hex"]}, {"alg": "phash", "t": 1}])) == 0


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    start=st.integers(0, 30),
    length=st.integers(8, 30),
    shift=st.floats(0, 100),
)
def test_any_excerpt_of_a_hash_sequence_is_found_at_its_offset(seed, start, length, shift) -> None:
    rng = np.random.default_rng(seed)
    bits = rng.integers(0, 2, (60, 256), dtype=np.uint8)
    hexes = [np.packbits(b).tobytes().hex() for b in bits]
    video = [(i * 0.5, hexes[i], 100) for i in range(60)]
    end = min(60, start + length)
    excerpt = []
    for i in range(start, end):
        noisy = bits[i].copy()
        noisy[rng.choice(256, 12, replace=False)] ^= 1  # re-encoding noise
        excerpt.append((shift + (i - start) * 0.5, np.packbits(noisy).tobytes().hex(), 100))
    seg = only(align(excerpt, video))
    assert seg.offset_s == pytest.approx(start * 0.5 - shift, abs=0.01)
    assert seg.query_start_s == pytest.approx(shift)
    assert seg.query_end_s == pytest.approx(shift + (end - start) * 0.5)
