"""Tests for ingest.exif: generated photos, crafted hostile files, the shared corpus."""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import os
import struct
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from PIL.TiffImagePlugin import IFDRational as R

from ingest.errors import MetadataError, NotAFile, UnreadableFile
from ingest.photo import exif
from ingest.photo.exif import NORMALIZED_KEYS, read_exif

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
EMPTY = dict.fromkeys(NORMALIZED_KEYS)
MARKER_MAX = len("…[truncated 999999999 chars]")

IFD0 = {0x010F: "Canon", 0x0110: "Canon EOS 5D", 0x0131: "Firmware 1.1", 0x0112: 6}
EXIF_IFD = {0x9003: "2021:03:04 10:20:30", 0x9291: "25", 0x9011: "+02:00", 0xA431: "0123456789"}
GPS_IFD = {
    1: "S",
    2: (R(33, 1), R(51, 1), R(2436, 100)),
    3: "W",
    4: (R(151, 1), R(12, 1), R(305, 10)),
    5: b"\x01",  # below sea level
    6: R(125, 10),
    7: (R(14, 1), R(27, 1), R(181, 25)),
    29: "2008:10:23",
}
FULL = {
    "captured_at": "2021-03-04T10:20:30.25+02:00",
    "datetime_digitized": None,
    "datetime_modified": None,
    "make": "Canon",
    "model": "Canon EOS 5D",
    "software": "Firmware 1.1",
    "serial": "0123456789",
    "orientation": 6,
    "gps": {"lat": -33.8567667, "lon": -151.2084722, "alt": -12.5},
    "gps_timestamp": "2008-10-23T14:27:07.24+00:00",
}


def photo(fmt: str = "JPEG", ifd0=None, exif_ifd=None, gps_ifd=None) -> bytes:
    """Encode a small image with the given EXIF (tag -> value dicts per IFD)."""
    data = Image.Exif()
    data.update(ifd0 or {})
    if exif_ifd:
        data.get_ifd(0x8769).update(exif_ifd)
    if gps_ifd:
        data.get_ifd(0x8825).update(gps_ifd)
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), "gray").save(buf, fmt, exif=data)
    return buf.getvalue()


@functools.cache
def full_photo(fmt: str = "JPEG") -> bytes:
    return photo(fmt, IFD0, EXIF_IFD, GPS_IFD)


def tiff(entries: list[tuple[int, int, int, int]], data: bytes = b"") -> bytes:
    """A little-endian TIFF with one IFD of (tag, type, count, value-or-offset) entries.

    ``data`` follows the IFD; ``data_offset(len(entries))`` is where it starts.
    """
    ifd = struct.pack("<H", len(entries))
    ifd += b"".join(struct.pack("<HHII", *entry) for entry in entries)
    return b"II*\x00" + struct.pack("<I", 8) + ifd + b"\x00\x00\x00\x00" + data


def data_offset(n_entries: int) -> int:
    return 8 + 2 + 12 * n_entries + 4


def check_shape(raw: dict, normalized: dict) -> None:
    assert list(normalized) == list(NORMALIZED_KEYS)
    assert len(raw) <= exif.MAX_TAGS
    for key, value in raw.items():
        assert isinstance(key, str) and isinstance(value, str)
        assert len(value) <= exif.MAX_VALUE_CHARS + MARKER_MAX
        assert "\x00" not in value
        value.encode("utf-8")  # raises on lone surrogates


@pytest.fixture
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    return CORPUS


# --- generated photos ----------------------------------------------------------------------


def test_full_exif_normalized_exactly(tmp_path):
    path = tmp_path / "full.jpg"
    path.write_bytes(full_photo())
    raw, normalized = read_exif(path)
    assert normalized == FULL
    assert raw["Image Make"] == "Canon"
    assert raw["EXIF DateTimeOriginal"] == "2021:03:04 10:20:30"
    assert raw["GPS GPSLatitudeRef"] == "S"
    check_shape(raw, normalized)


def test_bytes_path_and_str_path_agree(tmp_path):
    path = tmp_path / "full.jpg"
    path.write_bytes(full_photo())
    assert read_exif(full_photo()) == read_exif(path) == read_exif(str(path))
    assert read_exif(bytearray(full_photo())) == read_exif(full_photo())


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_png_and_webp_exif(fmt):
    # WebP stores a bare TIFF stream, which exifread alone misreads: see _webp_tiff_payload.
    assert read_exif(full_photo(fmt))[1] == FULL


def test_tiff_ifd0_tags():
    _, normalized = read_exif(photo("TIFF", IFD0))
    assert (normalized["make"], normalized["orientation"]) == ("Canon", 6)


@pytest.mark.parametrize("data", [photo(), b"", b"not an image", b"\xff\xd8\xff\xd9"])
def test_no_exif_gives_empty_raw_and_all_none(data):
    assert read_exif(data) == ({}, EMPTY)


@pytest.mark.parametrize(
    "value",
    [
        "0000:00:00 00:00:00",
        "",
        "    ",
        "2005:09:11 16:35:5",
        "2020:13:01 10:00:00",
        "2021:02:30 10:00:00",
        "2021:01:01 24:00:00",
        "2021:01:01",
        "yesterday",
    ],
)
def test_junk_datetime_is_none(value):
    _, normalized = read_exif(photo(exif_ifd={0x9003: value, 0x9011: "+02:00"}))
    assert normalized["captured_at"] is None


def test_datetime_without_offset_is_naive():
    _, normalized = read_exif(photo(exif_ifd={0x9003: "2021:03:04 10:20:30"}))
    assert normalized["captured_at"] == "2021-03-04T10:20:30"


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({0x9010: "-05:00"}, "2021-03-04T10:20:30-05:00"),  # OffsetTime as fallback
        ({0x9011: "+25:00"}, "2021-03-04T10:20:30"),  # impossible offset is ignored
        ({0x9011: "   :  "}, "2021-03-04T10:20:30"),  # the spec's "unknown"
        ({0x9291: "ab"}, "2021-03-04T10:20:30"),  # junk sub-seconds are ignored
        ({0x9291: "054 ", 0x9011: "+00:00"}, "2021-03-04T10:20:30.054+00:00"),
    ],
)
def test_offset_and_subsec(tags, expected):
    _, normalized = read_exif(photo(exif_ifd={0x9003: "2021:03:04 10:20:30", **tags}))
    assert normalized["captured_at"] == expected


def test_captured_at_falls_back_to_digitized_then_modified():
    digitized = photo(exif_ifd={0x9004: "2020:01:02 03:04:05", 0x9012: "+01:00"})
    _, normalized = read_exif(digitized)
    assert normalized["captured_at"] == normalized["datetime_digitized"]
    assert normalized["captured_at"] == "2020-01-02T03:04:05+01:00"
    _, normalized = read_exif(photo(ifd0={0x0132: "2019:01:02 03:04:05"}))
    assert normalized["captured_at"] == normalized["datetime_modified"] == "2019-01-02T03:04:05"


def test_text_fields_are_stripped():
    _, normalized = read_exif(photo(ifd0={0x010F: "NIKON   ", 0x0110: "", 0x0131: "GIMP\x00junk"}))
    assert (normalized["make"], normalized["model"], normalized["software"]) == (
        "NIKON",
        None,
        "GIMP",
    )


@pytest.mark.parametrize("value", [0, 9, 65535])
def test_orientation_out_of_range_is_none(value):
    assert read_exif(photo(ifd0={0x0112: value}))[1]["orientation"] is None


def test_gps_north_east_is_positive_and_altitude_above_sea_level():
    gps = {**GPS_IFD, 1: "N", 3: "E", 5: b"\x00"}
    assert read_exif(photo(gps_ifd=gps))[1]["gps"] == {
        "lat": 33.8567667,
        "lon": 151.2084722,
        "alt": 12.5,
    }


@pytest.mark.parametrize(
    "change",
    [
        {2: (R(33, 1), R(51, 1), R(1, 0))},  # zero denominator
        {2: (R(91, 1), R(0, 1), R(0, 1))},  # latitude beyond 90
        {4: (R(181, 1), R(0, 1), R(0, 1))},  # longitude beyond 180
        {2: (R(1, 1), R(2, 1), R(3, 1), R(4, 1))},  # four parts
        {1: "X"},  # unknown hemisphere
        {3: ""},
    ],
)
def test_unusable_gps_is_none(change):
    assert read_exif(photo(gps_ifd={**GPS_IFD, **change}))[1]["gps"] is None


def test_missing_hemisphere_is_none():
    gps = {key: value for key, value in GPS_IFD.items() if key != 1}
    assert read_exif(photo(gps_ifd=gps))[1]["gps"] is None


def test_bad_altitude_keeps_position():
    _, normalized = read_exif(photo(gps_ifd={**GPS_IFD, 6: R(5, 0)}))
    assert normalized["gps"] == {"lat": -33.8567667, "lon": -151.2084722, "alt": None}


@pytest.mark.parametrize(
    "change", [{29: "2008:02:30"}, {7: (R(24, 1), R(0, 1), R(0, 1))}, {7: (R(1, 0),) * 3}]
)
def test_bad_gps_timestamp_is_none(change):
    assert read_exif(photo(gps_ifd={**GPS_IFD, **change}))[1]["gps_timestamp"] is None


# --- raw tags ------------------------------------------------------------------------------


def test_long_value_is_truncated_with_marker():
    raw, _ = read_exif(photo(ifd0={0x010E: "x" * 5000}))
    assert raw["Image ImageDescription"] == "x" * 2000 + "…[truncated 3000 chars]"


def test_tag_count_is_capped():
    raw, _ = read_exif(tiff([(0xC000 + i, 3, 1, i) for i in range(1200)]))
    assert len(raw) == exif.MAX_TAGS


def test_binary_blobs_are_left_out_and_small_binary_kept():
    start = data_offset(4)
    raw, _ = read_exif(
        tiff(
            [
                (0x010F, 2, 6, start),  # Make
                (0x8773, 7, 100, start),  # InterColorProfile
                (0xC4A5, 7, 100, start),  # PrintIM
                (0xC500, 7, 200, start),  # unknown, UNDEFINED, large
            ],
            b"Canon\x00" + bytes(200),
        )
    )
    assert raw == {"Image Make": "Canon"}


def test_non_utf8_text_becomes_valid_text():
    raw, normalized = read_exif(tiff([(0x010F, 2, 6, data_offset(1))], b"Caf\xe9\xff\x00"))
    assert raw["Image Make"].encode("utf-8")
    assert normalized["make"] == "Caf\ufffd\ufffd"


# --- hostile input -------------------------------------------------------------------------


def test_work_limit_stops_huge_ifd_quickly():
    # 3000 entries x 999 rationals each, all at one offset: millions of reads if unbounded.
    start = data_offset(3000)
    entries = [(0xC000 + i, 5, 999, start) for i in range(3000)]
    began = time.monotonic()
    with pytest.raises(MetadataError, match="work limit"):
        read_exif(tiff(entries, bytes(8 * 999)))
    assert time.monotonic() - began < 10


def test_read_limit_stops_repeated_huge_strings():
    # 40 ASCII tags that all point at the same 1 MiB: 40 MiB of strings if unbounded.
    start = data_offset(40)
    entries = [(0xC000 + i, 2, 1 << 20, start) for i in range(40)]
    with pytest.raises(MetadataError, match="work limit"):
        read_exif(tiff(entries, b"A" * (1 << 20)))


def test_ifd_loop_is_not_an_error():
    data = bytearray(tiff([(0x010F, 2, 5, data_offset(1))], b"ACME\x00"))
    data[8 + 2 + 12 : 8 + 2 + 12 + 4] = struct.pack("<I", 8)  # next IFD -> itself
    assert read_exif(bytes(data))[1]["make"] == "ACME"


def test_exifread_crash_becomes_metadata_error(monkeypatch):
    def boom(*args, **kwargs):
        raise IndexError("tuple index out of range")

    monkeypatch.setattr(exif.exifread, "process_file", boom)
    with pytest.raises(MetadataError, match="IndexError") as info:
        read_exif(full_photo())
    assert isinstance(info.value.__cause__, IndexError)


def test_exifread_warnings_are_silenced(caplog):
    corrupt = mutate(full_photo(), [("flip", 30, 7), ("delete", 40, 0)])
    with caplog.at_level(logging.DEBUG):
        for data in (corrupt, b"\x00" * 64, full_photo("WEBP")):
            with contextlib.suppress(MetadataError):
                read_exif(data)
    assert [record for record in caplog.records if record.name.startswith("exifread")] == []


def test_missing_file_is_unreadable(tmp_path):
    with pytest.raises(UnreadableFile):
        read_exif(tmp_path / "nope.jpg")


def test_directory_is_not_a_file(tmp_path):
    with pytest.raises(NotAFile):
        read_exif(tmp_path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX FIFOs")
def test_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    with pytest.raises(NotAFile):
        read_exif(fifo)


def mutate(data: bytes, edits: list[tuple[str, int, int]]) -> bytes:
    out = bytearray(data)
    for op, position, byte in edits:
        at = position % (len(out) + 1)
        if op == "insert":
            out[at:at] = bytes([byte])
        elif out:
            at %= len(out)
            if op == "flip":
                out[at] ^= 1 << (byte % 8)
            else:
                del out[at]
    return bytes(out)


def assert_result_or_metadata_error(data: bytes) -> None:
    try:
        raw, normalized = read_exif(data)
    except MetadataError:
        return
    check_shape(raw, normalized)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_random_bytes_never_crash(data):
    assert_result_or_metadata_error(data)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(["JPEG", "PNG", "WEBP", "TIFF"]),
    st.lists(
        st.tuples(
            st.sampled_from(["flip", "insert", "delete"]),
            st.integers(0, 4096),
            st.integers(0, 255),
        ),
        min_size=1,
        max_size=8,
    ),
)
def test_mutated_photos_never_crash(fmt, edits):
    assert_result_or_metadata_error(mutate(full_photo(fmt), edits))


# --- shared corpus -------------------------------------------------------------------------


def corpus_files(*patterns: str) -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted({path for pattern in patterns for path in CORPUS.glob(pattern)})


def corpus_id(path: Path) -> str:
    return str(path.relative_to(CORPUS))


@pytest.mark.parametrize("path", corpus_files("photos/gps/*.jpg"), ids=corpus_id)
def test_corpus_gps_photos(corpus, path):
    _, normalized = read_exif(path)
    # All taken by one Nikon COOLPIX P6000 around Arezzo, Tuscany.
    assert 43 < normalized["gps"]["lat"] < 44
    assert 11 < normalized["gps"]["lon"] < 12
    assert normalized["captured_at"].startswith("2008-10-22T")
    assert normalized["gps_timestamp"].endswith("+00:00")


def test_corpus_dscn0010_golden(corpus):
    _, normalized = read_exif(corpus / "photos/gps/DSCN0010.jpg")
    assert normalized == {
        "captured_at": "2008-10-22T16:28:39",
        "datetime_digitized": "2008-10-22T16:28:39",
        "datetime_modified": "2008-11-01T21:15:07",
        "make": "NIKON",
        "model": "COOLPIX P6000",
        "software": "Nikon Transfer 1.1 W",
        "serial": None,
        "orientation": 1,
        "gps": {"lat": 43.4674483, "lon": 11.8851267, "alt": None},
        # The GPS clock says the next day: the camera clock was not set to UTC (or wrong).
        "gps_timestamp": "2008-10-23T14:27:07.24+00:00",
    }
    assert normalized["gps"]["lat"] == pytest.approx(43.46745, abs=1e-5)
    assert normalized["gps"]["lon"] == pytest.approx(11.88513, abs=1e-5)


def test_corpus_canon_40d(corpus):
    raw, normalized = read_exif(corpus / "photos/Canon_40D.jpg")
    assert normalized["make"] == "Canon"
    assert normalized["model"] == "Canon EOS 40D"
    assert normalized["captured_at"] == "2008-05-30T15:56:01.00"
    assert normalized["gps"] is None  # a GPS IFD with only GPSVersionID
    assert not any("MakerNote" in key or "JPEGThumbnail" in key for key in raw)


def test_corpus_southern_hemisphere(corpus):
    _, normalized = read_exif(corpus / "photos/Kodak_CX7530.jpg")
    assert normalized["gps"] == {"lat": -0.3713, "lon": 36.0564167, "alt": None}


@pytest.mark.parametrize(
    "name", [f"{kind}_{n}" for kind in ("landscape", "portrait") for n in range(1, 9)]
)
def test_corpus_orientation(corpus, name):
    assert read_exif(corpus / f"photos/orientation/{name}.jpg")[1]["orientation"] == int(name[-1])


def test_corpus_heic_iphone(corpus):
    _, normalized = read_exif(corpus / "photos/heic/IMG_5195.HEIC")
    assert normalized["make"] == "Apple"
    assert normalized["model"] == "iPhone 11 Pro Max"
    assert normalized["captured_at"] == "2021-04-11T15:47:53.054-05:00"
    assert normalized["gps"] == {"lat": 39.0513444, "lon": -94.2887722, "alt": 260.56}


def test_corpus_heif_and_jpeg_without_capture_data(corpus):
    assert read_exif(corpus / "photos/heic/samplefilehub.heif")[1] == {**EMPTY, "orientation": 1}
    assert read_exif(corpus / "photos/xmp/no_exif.jpg") == ({}, EMPTY)


@pytest.mark.parametrize(
    "path",
    corpus_files(
        "malformed/*", "photos/**/*.jpg", "photos/**/*.tiff", "photos/**/*.HEIC", "photos/**/*.heif"
    ),
    ids=corpus_id,
)
def test_corpus_file_returns_or_raises_metadata_error(corpus, path):
    try:
        raw, normalized = read_exif(path)
    except MetadataError:
        return
    check_shape(raw, normalized)
    assert read_exif(path.read_bytes()) == (raw, normalized)
