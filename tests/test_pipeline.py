"""extract(): one file in, one record out; never raises for bad input."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image

from ingest import extract
from ingest.batch import extract_all
from ingest.walk import walk
from support.media import write_jpeg, write_video

PHOTO_SUFFIXES = {".jpg", ".jpeg", ".tiff", ".tif", ".heic", ".heif"}


def test_photo_record(tmp_path: Path) -> None:
    path = write_jpeg(tmp_path / "a.jpg", 1, gps=(-33.8688, 151.2093, 58.0), offset="+10:00")
    rec = extract(path)
    assert rec.ok and rec.media_type == "image" and rec.mime == "image/jpeg"
    assert (rec.width, rec.height) == (640, 480)
    assert rec.metadata["captured_at"] == "2022-03-16T10:41:07+10:00"
    assert rec.metadata["gps"]["lat"] == pytest.approx(-33.8688, abs=1e-4)
    assert rec.metadata["gps"]["lon"] == pytest.approx(151.2093, abs=1e-4)
    assert {"pdq", "phash"} <= {h["alg"] for h in rec.hashes}
    assert rec.size == path.stat().st_size and len(rec.sha256) == 64
    assert rec.to_dict()["sha256"] == rec.sha256 and "source" not in rec.to_dict()


def test_photo_record_hands_on_its_picture_and_features_unwritten(tmp_path: Path) -> None:
    import numpy as np

    from ingest.photo import features
    from ingest.photo.perceptual import hash_picture

    rec = extract(str(write_jpeg(tmp_path / "a.jpg")))
    assert rec.picture is not None and rec.features is not None
    again = features.detect(rec.picture.copy())  # a fresh detection of the same picture
    assert np.array_equal(rec.features.descriptors, again.descriptors)
    stored = next(h for h in rec.hashes if h["alg"] == "orb")
    assert stored == next(h for h in hash_picture(rec.picture.copy()) if h["alg"] == "orb")
    assert "features" not in rec.to_dict() and "picture" not in rec.to_dict()


def test_video_record(tmp_path: Path) -> None:
    rec = extract(write_video(tmp_path / "v.mp4", 2, seconds=2, fps=10))
    assert rec.ok and rec.media_type == "video" and rec.format == "mp4"
    assert (rec.width, rec.height) == (160, 120)
    assert rec.duration_s == pytest.approx(2.0, abs=0.15)
    assert rec.metadata["codec"] == "h264"
    assert rec.metadata["captured_at"] == "2024-02-03T04:05:06+00:00"


def test_renamed_file_is_sniffed_by_content(tmp_path: Path) -> None:
    src = write_jpeg(tmp_path / "a.jpg", 1)
    renamed = tmp_path / "holiday.mp4"
    src.rename(renamed)
    assert extract(renamed).media_type == "image"


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"", "EmptyFile"),
        (b"%PDF-1.4 not media", "UnsupportedType"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 20, "CorruptMedia"),
    ],
)
def test_bad_files_get_a_named_error(tmp_path: Path, content: bytes, code: str) -> None:
    path = tmp_path / "bad"
    path.write_bytes(content)
    rec = extract(path)
    assert rec.error is not None and rec.error["code"] == code
    assert rec.media_type is None
    assert rec.sha256 is not None  # identity is known even for a refused file


def test_truncated_jpeg_keeps_what_decodes(tmp_path: Path) -> None:
    data = write_jpeg(tmp_path / "a.jpg", 1).read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[: len(data) * 2 // 3])
    rec = extract(cut)
    assert rec.ok
    assert any(w["step"] == "decode" for w in rec.warnings)


def test_decompression_bomb_refused(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    Image.new("1", (20000, 20000)).save(path)  # 400 Mpx, a few KB on disk
    rec = extract(path, max_pixels=100_000_000)
    assert rec.error["code"] == "TooLarge"


def test_unreadable_file(tmp_path: Path) -> None:
    path = write_jpeg(tmp_path / "a.jpg", 1)
    path.chmod(0)
    try:
        rec = extract(path)
    finally:
        path.chmod(0o644)
    if os.geteuid() != 0:
        assert rec.error["code"] == "UnreadableFile"


def test_fifo_is_never_opened(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    assert extract(tmp_path / "pipe").error["code"] == "NotAFile"


def test_extract_all_parallel_keeps_order(tmp_path: Path) -> None:
    for i in range(6):
        write_jpeg(tmp_path / f"{i}.jpg", i)
    serial = [r.sha256 for r in extract_all(walk([tmp_path]), workers=1)]
    parallel = [r.sha256 for r in extract_all(walk([tmp_path]), workers=2)]
    assert serial == parallel and len(serial) == 6


# --- the shared corpus -------------------------------------------------------------------


def _corpus_photos(corpus: Path) -> list[Path]:
    return sorted(p for p in (corpus / "photos").rglob("*") if p.suffix.lower() in PHOTO_SUFFIXES)


def test_every_corpus_photo_is_stored_with_dimensions(corpus: Path) -> None:
    photos = _corpus_photos(corpus)
    assert len(photos) > 40
    for path in photos:
        rec = extract(path)
        assert rec.ok, (path.name, rec.error)
        assert rec.media_type == "image" and rec.width and rec.height, path.name
        assert rec.hashes, path.name


def _pillow_exif(path: Path) -> dict:
    with Image.open(path) as im:
        exif = im.getexif()
        return {
            "make": exif.get(0x010F),
            "model": exif.get(0x0110),
            "taken": exif.get_ifd(0x8769).get(0x9003),
            "gps": exif.get_ifd(0x8825),
        }


def _clean(value) -> str | None:
    if value is None:
        return None
    text = str(value).split("\x00")[0].strip()  # EXIF ASCII ends at the first NUL
    return text or None


def test_corpus_exif_agrees_with_an_independent_reader(corpus: Path) -> None:
    """Make, model, capture date and GPS as Pillow reads them (another parser)."""
    checked = 0
    for path in _corpus_photos(corpus):
        if path.suffix.lower() in {".heic", ".heif"}:
            continue
        try:
            other = _pillow_exif(path)
        except Exception:
            continue
        meta = extract(path).metadata
        if _clean(other["make"]):
            assert meta["make"] == _clean(other["make"]), path.name
        if _clean(other["model"]):
            assert meta["model"] == _clean(other["model"]), path.name
        taken = _clean(other["taken"])
        if taken and taken[:4].isdigit() and taken[:4] != "0000":
            assert meta["captured_at"][:19] == taken[:10].replace(":", "-") + "T" + taken[11:19], (
                path.name
            )
        gps = other["gps"]
        if gps.get(2) and gps.get(4) and meta["gps"]:
            lat = sum(float(v) / 60**i for i, v in enumerate(gps[2]))
            lat = -lat if gps.get(1) == "S" else lat
            lon = sum(float(v) / 60**i for i, v in enumerate(gps[4]))
            lon = -lon if gps.get(3) == "W" else lon
            assert meta["gps"]["lat"] == pytest.approx(lat, abs=1e-5), path.name
            assert meta["gps"]["lon"] == pytest.approx(lon, abs=1e-5), path.name
        checked += 1
    assert checked > 30


def test_corpus_gps_photos_pinned(corpus: Path) -> None:
    meta = extract(corpus / "photos" / "gps" / "DSCN0010.jpg").metadata
    assert (meta["make"], meta["model"]) == ("NIKON", "COOLPIX P6000")
    assert meta["captured_at"] == "2008-10-22T16:28:39"
    assert meta["gps"]["lat"] == pytest.approx(43.46744833, abs=1e-6)
    assert meta["gps"]["lon"] == pytest.approx(11.88512667, abs=1e-6)


def test_corpus_heic(corpus: Path) -> None:
    rec = extract(corpus / "photos" / "heic" / "IMG_5195.HEIC")
    assert rec.ok and rec.mime == "image/heic"
    assert rec.metadata["model"] and rec.metadata["gps"] and rec.metadata["captured_at"]


def test_corpus_malformed_files_never_crash(corpus: Path) -> None:
    files = sorted((corpus / "malformed").iterdir())
    assert files
    for path in files:
        rec = extract(path)
        assert rec.ok or rec.error["code"] != "InternalError", (path.name, rec.error)
        if rec.ok:
            assert rec.width and rec.height, path.name


def test_corpus_videos(corpus: Path) -> None:
    rec = extract(corpus / "video" / "car-detection.mp4")
    assert rec.ok and (rec.width, rec.height) == (768, 432)
    assert rec.metadata["codec"] == "h264"
    assert rec.metadata["captured_at"].startswith("2018-04-19")
    for path in sorted((corpus / "video").iterdir()):
        r = extract(path)
        assert r.ok and r.media_type == "video" and r.duration_s > 0, path.name
