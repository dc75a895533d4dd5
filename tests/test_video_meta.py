"""Tests for ingest.video_meta: videos built with PyAV in tmp_path, plus the shared corpus."""

from __future__ import annotations

import random
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.errors import CorruptMedia, NotAFile, UnreadableFile
from ingest.video.meta import (
    MAX_TAG_CHARS,
    MAX_TAGS,
    VideoInfo,
    _iso_datetime,
    parse_iso6709,
    read_video_metadata,
)

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"

METADATA_KEYS = {
    "captured_at",
    "make",
    "model",
    "software",
    "serial",
    "orientation",
    "gps",
    "codec",
    "fps",
    "rotation",
    "frame_count",
    "frame_count_estimated",
    "audio_codec",
    "bit_rate",
    "container",
    "pixel_format",
}

CREATION_TIME = "2024-02-03T04:05:06.000000Z"
KYIV = "+50.4501+030.5234+120.000/"


def make_video(
    path: Path,
    *,
    codec: str = "h264",
    metadata: dict[str, str] | None = None,
    stream_metadata: dict[str, str] | None = None,
    rotation: float | None = None,
    options: dict[str, str] | None = None,
    size: tuple[int, int] = (160, 120),
    frames: int = 20,
    fps: int = 10,
) -> Path:
    """Write a small video (2 s at 10 fps by default) with the given tags and rotation."""
    width, height = size
    with av.open(str(path), "w", options=options or {}) as out:
        out.metadata.update(metadata or {})
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.metadata.update(stream_metadata or {})
        if rotation is not None:
            # Counter-clockwise, as PyAV reads it back from VideoFrame.rotation.
            stream.set_display_rotation(rotation)
        for i in range(frames):
            pixels = np.full((height, width, 3), i * 12 % 256, np.uint8)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24").reformat(format="yuv420p")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def make_audio_only(path: Path) -> Path:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("pcm_s16le", rate=8000)
        silence = np.zeros((1, 800), np.int16)
        frame = av.AudioFrame.from_ndarray(silence, format="s16", layout="mono")
        frame.sample_rate = 8000
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


@pytest.fixture
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    return CORPUS


# --- videos written with PyAV ----------------------------------------------------------


@pytest.mark.parametrize(
    ("ext", "codec"), [("mp4", "h264"), ("mp4", "mpeg4"), ("mov", "h264"), ("mkv", "h264")]
)
def test_generated_video_basics(tmp_path: Path, ext: str, codec: str) -> None:
    # creation_time and location survive every muxer without extra flags.
    path = make_video(
        tmp_path / f"clip.{ext}",
        codec=codec,
        metadata={"creation_time": CREATION_TIME, "location": KYIV},
    )
    info = read_video_metadata(path)

    assert isinstance(info, VideoInfo)
    assert set(info.metadata) == METADATA_KEYS
    assert (info.width, info.height) == (160, 120)
    assert info.duration_s == pytest.approx(2.0, abs=0.15)
    md = info.metadata
    assert md["captured_at"] == "2024-02-03T04:05:06+00:00"
    # The mp4 muxer rewrites the altitude as 120.000000; the value is the same.
    assert md["gps"] == {"lat": 50.4501, "lon": 30.5234, "alt": 120.0}
    assert md["codec"] == codec
    assert md["fps"] == 10.0
    assert md["frame_count"] == 20
    # Matroska does not store a frame count, so it is estimated from duration and rate.
    assert md["frame_count_estimated"] is (ext == "mkv")
    assert md["rotation"] == 0
    assert md["orientation"] is None
    assert md["serial"] is None
    assert md["pixel_format"] == "yuv420p"
    assert md["audio_codec"] is None
    assert md["software"].startswith("Lavf")  # every FFmpeg muxer stamps its own encoder tag
    assert md["container"] == ("matroska,webm" if ext == "mkv" else "mov,mp4,m4a,3gp,3g2,mj2")
    assert isinstance(md["bit_rate"], int) and md["bit_rate"] > 0


@pytest.mark.parametrize(
    ("ext", "options"),
    [("mov", None), ("mp4", {"movflags": "use_metadata_tags"}), ("mkv", None)],
)
def test_make_and_model_survive_these_muxers(tmp_path: Path, ext: str, options) -> None:
    # The plain mp4 muxer drops make/model; mov writes them as ©mak/©mod.
    path = make_video(
        tmp_path / f"cam.{ext}", options=options, metadata={"make": "Acme", "model": "Cam 1"}
    )
    md = read_video_metadata(path).metadata
    assert (md["make"], md["model"]) == ("Acme", "Cam 1")


def test_apple_tags_are_preferred(tmp_path: Path) -> None:
    path = make_video(
        tmp_path / "iphone.mov",
        options={"movflags": "use_metadata_tags"},
        metadata={
            "creation_time": "2021-06-01T10:00:00.000000Z",
            "com.apple.quicktime.creationdate": "2021-06-01T12:00:00+0200",
            "com.apple.quicktime.location.ISO6709": "-33.8688+151.2093+012.500/",
            "com.apple.quicktime.make": "Apple",
            "com.apple.quicktime.model": "iPhone 12",
            "com.apple.quicktime.software": "14.6",
        },
    )
    info = read_video_metadata(path)
    md = info.metadata
    assert md["captured_at"] == "2021-06-01T12:00:00+02:00"  # local offset kept
    assert md["gps"] == {"lat": -33.8688, "lon": 151.2093, "alt": 12.5}
    assert (md["make"], md["model"], md["software"]) == ("Apple", "iPhone 12", "14.6")
    assert info.tags["com.apple.quicktime.make"] == "Apple"


def test_android_tags(tmp_path: Path) -> None:
    path = make_video(
        tmp_path / "pixel.mp4",
        options={"movflags": "use_metadata_tags"},
        metadata={
            "com.android.manufacturer": "Google",
            "com.android.model": "Pixel 7",
            "location": "-22.9519-043.2105/",
        },
    )
    md = read_video_metadata(path).metadata
    assert (md["make"], md["model"]) == ("Google", "Pixel 7")
    assert md["gps"] == {"lat": -22.9519, "lon": -43.2105, "alt": None}


def test_matroska_keeps_tags_verbatim(tmp_path: Path) -> None:
    path = make_video(
        tmp_path / "tags.mkv",
        metadata={"location": "+4851.46+00217.70/", "make": "Acme"},
        stream_metadata={"serial_number": "SN-0042"},
    )
    info = read_video_metadata(path)
    assert info.tags["LOCATION"] == "+4851.46+00217.70/"  # Matroska upper-cases tag names
    assert info.tags["stream0:SERIAL_NUMBER"] == "SN-0042"
    assert info.metadata["serial"] == "SN-0042"
    assert info.metadata["gps"] == {"lat": 48.8576667, "lon": 2.2950, "alt": None}


@pytest.mark.parametrize("ext", ["mp4", "mov", "mkv"])
@pytest.mark.parametrize(
    ("ccw", "expected", "size"),
    [(-90, 90, (120, 160)), (90, 270, (120, 160)), (180, 180, (160, 120))],
)
def test_rotation_from_display_matrix(tmp_path: Path, ext: str, ccw, expected, size) -> None:
    path = make_video(tmp_path / f"rot.{ext}", rotation=ccw, frames=5)
    info = read_video_metadata(path)
    assert info.metadata["rotation"] == expected  # clockwise, like the legacy rotate tag
    assert (info.width, info.height) == size


def test_rotation_from_legacy_rotate_tag(tmp_path: Path) -> None:
    # FFmpeg's mov muxer no longer writes ``rotate``; Matroska keeps it as a plain tag.
    path = make_video(tmp_path / "tag.mkv", stream_metadata={"rotate": "90"}, frames=5)
    info = read_video_metadata(path)
    assert info.metadata["rotation"] == 90
    assert (info.width, info.height) == (120, 160)


def test_tags_are_capped(tmp_path: Path) -> None:
    metadata = {f"k{i:03}": "v" * (MAX_TAG_CHARS + 50) for i in range(MAX_TAGS + 100)}
    path = make_video(tmp_path / "many.mkv", metadata=metadata, frames=2)
    tags = read_video_metadata(path).tags
    assert len(tags) == MAX_TAGS
    assert all(isinstance(v, str) and len(v) <= MAX_TAG_CHARS for v in tags.values())
    assert max(len(v) for v in tags.values()) == MAX_TAG_CHARS


def test_stream_tags_are_prefixed(tmp_path: Path) -> None:
    path = make_video(tmp_path / "s.mp4", metadata={"creation_time": CREATION_TIME}, frames=2)
    tags = read_video_metadata(path).tags
    assert tags["creation_time"] == CREATION_TIME
    assert tags["stream0:handler_name"] == "VideoHandler"


def test_accepts_pathlike_and_str(tmp_path: Path) -> None:
    path = make_video(tmp_path / "p.mp4", frames=2)
    assert read_video_metadata(path) == read_video_metadata(str(path))


# --- errors --------------------------------------------------------------------------


def test_empty_file_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp4"
    path.touch()
    with pytest.raises(CorruptMedia, match="empty"):
        read_video_metadata(path)


def test_random_bytes_are_corrupt_with_cause(tmp_path: Path) -> None:
    path = tmp_path / "noise.mp4"
    path.write_bytes(random.Random(1).randbytes(4096))
    with pytest.raises(CorruptMedia) as caught:
        read_video_metadata(path)
    assert isinstance(caught.value.__cause__, av.error.FFmpegError)
    assert "\n" not in caught.value.message


def test_audio_only_has_no_video_stream(tmp_path: Path) -> None:
    path = make_audio_only(tmp_path / "tone.wav")
    with pytest.raises(CorruptMedia, match="no video stream"):
        read_video_metadata(path)


def test_missing_file_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(UnreadableFile):
        read_video_metadata(tmp_path / "absent.mp4")


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(NotAFile):
        read_video_metadata(tmp_path)


@pytest.mark.parametrize("keep", [16, 200, 1000, 3000])
def test_truncated_video_returns_or_is_corrupt(tmp_path: Path, keep: int) -> None:
    whole = make_video(tmp_path / "whole.mp4", frames=10).read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole[:keep])
    try:
        info = read_video_metadata(cut)
    except CorruptMedia:
        return
    assert set(info.metadata) == METADATA_KEYS


# --- ISO 6709 and dates ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+48.8577+002.2950+035.000/", {"lat": 48.8577, "lon": 2.295, "alt": 35.0}),
        ("+48.8577+002.2950/", {"lat": 48.8577, "lon": 2.295, "alt": None}),
        ("-33.8688+151.2093/", {"lat": -33.8688, "lon": 151.2093, "alt": None}),
        ("+40.7128-074.0060-010.5/", {"lat": 40.7128, "lon": -74.006, "alt": -10.5}),
        ("+4851.46+00217.70/", {"lat": 48.8576667, "lon": 2.2950, "alt": None}),
        ("+485127.6+0021742/", {"lat": 48.8576667, "lon": 2.2950, "alt": None}),
        ("+48.8577+002.2950+035.000CRSWGS_84/", {"lat": 48.8577, "lon": 2.295, "alt": 35.0}),
        (" +48.8577+002.2950 ", {"lat": 48.8577, "lon": 2.295, "alt": None}),
        ("+90+180/", {"lat": 90.0, "lon": 180.0, "alt": None}),
    ],
)
def test_parse_iso6709(text: str, expected: dict) -> None:
    assert parse_iso6709(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "/",
        "garbage",
        "48.8577,2.2950",  # no signs
        "+91.0000+002.2950/",  # latitude out of range
        "+48.8577+181.0000/",  # longitude out of range
        "+4875.00+00217.70/",  # 75 minutes
        "+485.1+002.2950/",  # three latitude digits is no ISO 6709 form
        "+48.8577/",  # no longitude
        "+48.8577+002.2950+1+2/",
        "+٤٨.٨+002.2950/",  # non-ASCII digits
        "+48.8577+002.2950/" + "0" * 200,
    ],
)
def test_parse_iso6709_rejects(text: str) -> None:
    assert parse_iso6709(text) is None


def _valid_or_none(result) -> bool:
    if result is None:
        return True
    return (
        set(result) == {"lat", "lon", "alt"}
        and -90 <= result["lat"] <= 90
        and -180 <= result["lon"] <= 180
        and (result["alt"] is None or isinstance(result["alt"], float))
    )


@given(st.text())
def test_parse_iso6709_never_raises_on_any_text(text: str) -> None:
    assert _valid_or_none(parse_iso6709(text))


@given(st.from_regex(r"[+-][0-9.]{1,9}[+-][0-9.]{1,10}([+-][0-9.]{1,400})?/?", fullmatch=True))
def test_parse_iso6709_never_raises_on_near_misses(text: str) -> None:
    assert _valid_or_none(parse_iso6709(text))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2018-04-19T10:12:03.000000Z", "2018-04-19T10:12:03+00:00"),
        ("2018-04-19T10:12:03.250000Z", "2018-04-19T10:12:03.250000+00:00"),
        ("2021-06-01T12:00:00+0200", "2021-06-01T12:00:00+02:00"),
        ("2021-06-01T12:00:00-07:00", "2021-06-01T12:00:00-07:00"),
        ("not a date", None),
        ("2021-13-01T00:00:00Z", None),
    ],
)
def test_iso_datetime(text: str, expected: str | None) -> None:
    assert _iso_datetime(text) == expected


# --- shared corpus ---------------------------------------------------------------------


def test_corpus_car_detection(corpus: Path) -> None:
    info = read_video_metadata(corpus / "video" / "car-detection.mp4")
    assert (info.width, info.height) == (768, 432)
    assert info.duration_s == pytest.approx(30.16, abs=0.5)
    md = info.metadata
    assert md["codec"] == "h264"
    assert md["captured_at"] == "2018-04-19T22:46:00+00:00"
    assert md["fps"] == float(Fraction(25, 2))
    assert (md["frame_count"], md["frame_count_estimated"]) == (377, False)
    assert md["audio_codec"] == "aac"
    assert md["rotation"] == 0


def test_corpus_every_video_has_codec_and_duration(corpus: Path) -> None:
    videos = sorted(p for p in (corpus / "video").iterdir() if p.is_file())
    assert videos
    for path in videos:
        info = read_video_metadata(path)
        assert info.metadata["codec"], path
        assert info.duration_s and info.duration_s > 0, path
        assert set(info.metadata) == METADATA_KEYS


def test_corpus_non_videos_return_or_raise_corrupt(corpus: Path, tmp_path: Path) -> None:
    # JPEGs open as one-frame mjpeg "videos" through FFmpeg's image2 demuxer; the caller
    # only sends files sniffed as video, so that is accepted rather than rejected here.
    paths = [p for p in (corpus / "photos").rglob("*") if p.is_file()]
    paths += [p for p in (corpus / "malformed").rglob("*") if p.is_file()]
    rng = random.Random(6709)
    for i, size in enumerate([1, 7, 512, 65536]):
        noise = tmp_path / f"noise{i}.bin"
        noise.write_bytes(rng.randbytes(size))
        paths.append(noise)
    # A real video cut short before its index, and one with its header overwritten.
    car = (corpus / "video" / "car-detection.mp4").read_bytes()
    (tmp_path / "head.mp4").write_bytes(car[:65536])
    (tmp_path / "smashed.mp4").write_bytes(rng.randbytes(4096) + car[4096:])
    paths += [tmp_path / "head.mp4", tmp_path / "smashed.mp4"]
    for path in paths:
        try:
            info = read_video_metadata(path)
        except CorruptMedia:
            continue
        assert set(info.metadata) == METADATA_KEYS, path
