"""Frame sampling and per-frame hashes (ingest.video.frames, ingest.letterbox)."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pdqhash
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from videogen import Part, Source, black, constant, letterbox, write

from ingest.errors import CorruptMedia
from ingest.extraction import extract
from ingest.photo.perceptual import DIHEDRAL, hamming
from ingest.video.frames import FrameOptions, hash_video_frames, pdq_frame, sample_frames
from ingest.video.letterbox import ROW_SHARE, TOLERANCE, Crop, find_crop, frame_bars
from support.media import scene

SOURCE = Source(seed=5, seconds=12.0)


@pytest.fixture(scope="module")
def source_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("video") / "source.mp4"
    return write(path, [Part(SOURCE.frame, 0.0, SOURCE.seconds)])


def test_frames_every_half_second_with_times(source_video: Path) -> None:
    result = hash_video_frames(source_video)
    times = [h["t"] for h in result.hashes]
    assert times == sorted(times) and times[0] == 0.0
    assert max(np.diff(times)) <= 0.5 + 1e-6  # at least 1 frame per second (2 here)
    assert times[-1] >= SOURCE.seconds - 0.6
    first = result.hashes[0]
    assert first["alg"] == "pdq" and first["v"] == 1
    assert len(first["hex"]) == 64 and len(first["dihedral"]) == len(DIHEDRAL)
    assert first["dihedral"][0] == first["hex"] and 0 <= first["quality"] <= 100
    assert len(first["thumb"]) == 512  # 16x16 grey levels, for finer timing
    summary = result.summary
    assert summary["v"] == 4
    assert summary["content_boxes"] == 0  # an ordinary video shows no framed picture
    assert summary["hashed"] == len(result.hashes) and summary["complete"]
    assert summary["crop"] == {"top": 0.0, "bottom": 0.0, "left": 0.0, "right": 0.0}


def test_scene_cut_frame_is_kept(tmp_path: Path) -> None:
    # Cuts at 4 s and 8 s (shot boundaries) fall between the 0.5 s grid points once the
    # video starts 0.3 s into the source.
    path = write(tmp_path / "cuts.mp4", [Part(SOURCE.frame, 0.3, 9.0)])
    sampling = sample_frames(path)
    cuts = [f.t for f in sampling.frames if f.scene]
    assert any(abs(t - 3.7) <= 0.11 for t in cuts), cuts
    assert any(abs(t - 7.7) <= 0.11 for t in cuts), cuts


def test_frames_match_between_copies_at_other_frame_rates(
    source_video: Path, tmp_path: Path
) -> None:
    copy = write(tmp_path / "copy.mp4", [Part(SOURCE.frame, 0.0, SOURCE.seconds)], fps=12)
    ours = {round(h["t"] * 2) / 2: h["hex"] for h in hash_video_frames(source_video).hashes}
    theirs = {round(h["t"] * 2) / 2: h["hex"] for h in hash_video_frames(copy).hashes}
    common = sorted(set(ours) & set(theirs))
    distances = [hamming(ours[t], theirs[t]) for t in common]
    assert len(common) >= 20 and np.median(distances) <= 40


def test_rotation_metadata_is_applied(source_video: Path, tmp_path: Path) -> None:
    rotated = write(tmp_path / "rotated.mp4", [Part(SOURCE.frame, 0.0, 4.0)], rotation=-90)
    with av.open(str(rotated)) as container:
        assert container.streams.video[0].codec_context.height == 192  # stored on its side
    upright = {round(h["t"], 1): h["hex"] for h in hash_video_frames(source_video).hashes}
    turned = {round(h["t"], 1): h["hex"] for h in hash_video_frames(rotated).hashes}
    common = sorted(set(upright) & set(turned))
    assert common and np.median([hamming(upright[t], turned[t]) for t in common]) <= 40
    # The same file with the rotation ignored hashes like a different picture.
    sideways = hash_video_frames(rotated, rotation=0).hashes
    assert np.median([hamming(upright[round(h["t"], 1)], h["hex"]) for h in sideways]) > 64


def test_black_constant_and_faded_frames_are_dropped(tmp_path: Path) -> None:
    def fade(t: float) -> np.ndarray:
        return (SOURCE.frame(t) * max(0.0, 1.0 - t / 2.0)).astype(np.uint8)

    path = write(
        tmp_path / "blank.mp4",
        [Part(black, 0, 2.0), Part(constant, 0, 2.0), Part(fade, 0.0, 2.5)],
    )
    result = hash_video_frames(path)
    times = [h["t"] for h in result.hashes]
    # Nothing from the black or the constant stretch, nothing from the end of the fade.
    assert all(4.0 <= t <= 6.0 for t in times), times
    assert result.summary["blank"] >= 9
    # The dimmest hashed frames of the fade are flagged by their quality.
    assert all(h["quality"] < 50 for h in result.hashes if h["t"] > 5.5)


def test_letterbox_bars_are_cut_before_hashing(source_video: Path, tmp_path: Path) -> None:
    boxed = write(tmp_path / "boxed.mp4", [Part(SOURCE.frame, 0.0, 6.0)], edit=letterbox)
    result = hash_video_frames(boxed)
    crop = result.summary["crop"]
    # 192x108 in a 192x192 canvas: bars of 42 px (22%) above and below.
    assert 0.2 <= crop["top"] <= 0.26 and 0.2 <= crop["bottom"] <= 0.26
    assert crop["left"] == crop["right"] == 0.0
    original = {round(h["t"], 1): h["hex"] for h in hash_video_frames(source_video).hashes}
    distances = [hamming(original[round(h["t"], 1)], h["hex"]) for h in result.hashes]
    assert np.median(distances) <= 40
    uncut = hash_video_frames(boxed, options=FrameOptions(crop=False)).hashes
    assert np.median([hamming(original[round(h["t"], 1)], h["hex"]) for h in uncut]) > 60


def test_find_crop_needs_matching_bars() -> None:
    picture = np.asarray(scene(3, 160, 90).convert("L"))
    # A flat band along one edge only (a wall, the sky) is picture, not a letterbox.
    walled = picture.copy()
    walled[:20] = 128
    assert find_crop([walled] * 5) == Crop()
    boxed = np.zeros((160, 160), np.uint8)
    boxed[35:125] = picture
    assert find_crop([boxed] * 5) == Crop(top=36, bottom=36)
    # A caption printed on the lower bar does not stop it being a bar.
    captioned = boxed.copy()
    captioned[135:150, 10:150] = 60
    captioned[140:145, 20:140:3] = 255
    assert find_crop([captioned] * 5) == Crop(top=36, bottom=36)
    assert find_crop([np.zeros((90, 160), np.uint8)] * 5) == Crop()


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    bars=st.tuples(*[st.integers(0, 40)] * 4),
    colour=st.integers(0, 255),
)
def test_frame_bars_counts_every_flat_leading_row(seed, bars, colour) -> None:
    rng = np.random.default_rng(seed)
    frame = rng.integers(0, 256, (90, 160)).astype(np.uint8)
    top, bottom, left, right = bars
    frame[:top] = colour
    frame[90 - bottom :] = colour
    frame[:, :left] = colour
    frame[:, 160 - right :] = colour
    frame[top : top + 2, ::7] = 255 - colour  # text on the bar: still most of the row

    def reference(pixels: np.ndarray) -> int:
        # Every row at once, as the run was first written.
        colour = np.median(pixels, axis=1, keepdims=True)
        uniform = (np.abs(pixels - colour) <= TOLERANCE).mean(axis=1) >= ROW_SHARE
        return int(np.argmin(uniform)) if not uniform.all() else len(uniform)

    pixels = frame.astype(np.float32)
    expected = (
        reference(pixels),
        reference(pixels[::-1]),
        reference(pixels.T),
        reference(pixels.T[::-1]),
    )
    assert frame_bars(frame) == expected


def test_long_videos_get_a_coarser_interval(source_video: Path) -> None:
    options = FrameOptions(max_frames=10)
    sampling = sample_frames(source_video, options=options)
    assert sampling.interval_s == pytest.approx(SOURCE.seconds / 10)
    grid = [f for f in sampling.frames if not (f.scene or f.motion)]
    assert len(grid) <= 10
    assert sum(f.motion for f in sampling.frames) <= 10 * options.motion_share
    assert [round(f.t, 1) for f in sampling.frames if f.scene] == [4.0, 8.0]


def test_pdq_frame_golden_value() -> None:
    gray = np.asarray(scene(11, 160, 90).convert("L"))
    value = pdq_frame(gray)
    assert value["hex"] == GOLDEN_PDQ
    assert value["quality"] == 100


GOLDEN_PDQ = "dcb06382ad59aa261b891ceda5ed3afdac259f8d2e68c0e56a5e615237888f51"


def test_undecodable_frames_still_store_the_video(tmp_path: Path) -> None:
    good = write(tmp_path / "good.mkv", [Part(SOURCE.frame, 0.0, 3.0)])
    data = bytearray(good.read_bytes())
    # Keep the container header, scramble every byte after it: metadata reads, frames don't.
    rng = np.random.default_rng(0)
    data[600:] = rng.integers(0, 256, len(data) - 600, dtype=np.uint8).tobytes()
    bad = tmp_path / "bad.mkv"
    bad.write_bytes(bytes(data))
    with pytest.raises(CorruptMedia):
        hash_video_frames(bad)
    rec = extract(bad)
    assert rec.ok and rec.media_type == "video"
    assert rec.hashes == [] and [w["step"] for w in rec.warnings] == ["frame_hashes"]


def test_pipeline_records_frame_hashes(source_video: Path) -> None:
    rec = extract(source_video)
    assert rec.ok and rec.warnings == []
    assert rec.hashes and all("t" in h for h in rec.hashes)
    assert rec.metadata["frame_hashes"]["hashed"] == len(rec.hashes)
    assert rec.metadata["codec"] == "h264"


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), blur=st.floats(0.3, 4.0))
def test_pdq_frame_variants_equal_pdqhash_dihedral(seed, blur) -> None:
    noise = np.random.default_rng(seed).integers(0, 256, (64, 64)).astype(np.uint8)
    gray = cv2.GaussianBlur(noise, (0, 0), blur)
    expected, quality = pdqhash.compute_dihedral(np.repeat(gray[:, :, None], 3, axis=2))
    value = pdq_frame(gray)
    assert value["dihedral"] == [np.packbits(v).tobytes().hex() for v in expected]
    assert value["quality"] == quality and value["hex"] == value["dihedral"][0]
