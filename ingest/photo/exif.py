"""Embedded EXIF of photos: every tag as text, plus the few fields the registry indexes.

This module owns reading EXIF with exifread (JPEG, TIFF, HEIC/AVIF, PNG, WebP) and turning
it into two dicts: ``raw`` (each tag as a capped, valid UTF-8 string) and ``normalized``
(capture time, camera, serial, orientation, GPS). Malformed or hostile metadata becomes a
``MetadataError``; the parser's work is bounded so a crafted file cannot hang a worker.
"""

from __future__ import annotations

import functools
import io
import os
import re
import stat
from datetime import datetime, timedelta
from fractions import Fraction
from typing import TYPE_CHECKING, Any, BinaryIO

from ingest.errors import MetadataError, NotAFile, UnreadableFile
from ingest.lazy import lazy_import
from ingest.record import display_path

if TYPE_CHECKING:
    import exifread
else:
    exifread = lazy_import("exifread")

MAX_BYTES = 64 * 1024 * 1024
MAX_VALUE_CHARS = 2_000
MAX_TAGS = 1_000
# A normal photo needs a few hundred reads and seeks; crafted IFDs (65535 entries of 999
# values each) or box loops need millions. Past this budget the file is hostile.
MAX_IO_CALLS = 200_000
# EXIF lives in small segments; reading more than this means tags point at the same data
# over and over (one 64 MiB string per tag would exhaust memory).
MAX_READ_BYTES = 16 * 1024 * 1024
_OVER_BUDGET = "EXIF parser exceeded its work limit (looping or hostile metadata)"


# Tags that hold binary blobs (vendor data, embedded files), never useful as text.
# Thumbnails are not extracted at all, and exifread would return them as bytes.
_BLOB_NAMES = frozenset({"ApplicationNotes", "InterColorProfile", "IPTC/NAA", "PrintIM"})
_BINARY_TYPES = frozenset({1, 6, 7})  # BYTE, SBYTE, UNDEFINED
_MAX_INLINE_BINARY = 64

_DATETIME_RE = re.compile(r"(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_DATE_RE = re.compile(r"(\d{4})[:-](\d{2})[:-](\d{2})")
_SUBSEC_RE = re.compile(r"\d{1,9}")
_OFFSET_RE = re.compile(r"[+-](\d{2}):(\d{2})")

# (date tag, sub-second tag, UTC offset tag) for the three EXIF timestamps.
_ORIGINAL = ("DateTimeOriginal", "SubSecTimeOriginal", "OffsetTimeOriginal")
_DIGITIZED = ("DateTimeDigitized", "SubSecTimeDigitized", "OffsetTimeDigitized")
_MODIFIED = ("DateTime", "SubSecTime", "OffsetTime")


def read_exif(source: str | os.PathLike[str] | bytes) -> tuple[dict[str, str], dict[str, Any]]:
    """Read the embedded EXIF of a photo.

    Args:
        source: A path, or the whole file as bytes (only the first 64 MiB are read).

    Returns:
        ``(raw, normalized)``. ``raw`` maps exifread tag names (``"EXIF DateTimeOriginal"``)
        to strings, without maker notes, thumbnails or binary blobs, each value capped at
        2,000 characters and at most 1,000 tags. ``normalized`` has exactly the keys in
        ``NORMALIZED_KEYS``, each ``None`` when absent or unusable. Times are ISO 8601; they
        carry a UTC offset only when the file states one (naive means "zone unknown").
        A photo without EXIF gives ``({}, {all None})``.

    Raises:
        MetadataError: The EXIF is malformed beyond what exifread tolerates, or hostile.
        UnreadableFile: The path cannot be opened or read.
        NotAFile: The path is a FIFO, device or directory (opening it could block).
    """
    tags = _load_tags(source)
    try:
        return _raw_tags(tags), _normalize(tags)
    except Exception as exc:  # a normaliser bug must not crash ingest of the whole file
        raise MetadataError(detail=f"cannot interpret EXIF: {_describe(exc)}") from exc


# --- running exifread safely --------------------------------------------------------------


class _BudgetExceeded(Exception):
    pass


class _GuardedReader:
    """File wrapper that caps exifread's reads, seeks and buffer sizes."""

    def __init__(self, fh: BinaryIO, size: int) -> None:
        self._fh = fh
        self._size = size
        self._calls = 0
        self._bytes = 0
        self.exhausted = False

    def _spend(self, nbytes: int = 0) -> None:
        self._calls += 1
        self._bytes += nbytes
        if self._calls > MAX_IO_CALLS or self._bytes > MAX_READ_BYTES:
            self.exhausted = True  # checked after parsing, in case exifread swallows it
            raise _BudgetExceeded

    def read(self, n: int | None = -1) -> bytes:
        # exifread passes counts straight from the file (up to 4 GiB); Python allocates
        # the whole buffer before it finds EOF, so clamp to what is really there.
        remaining = max(self._size - self._fh.tell(), 0)
        if n is None or n < 0 or n > remaining:
            n = remaining
        self._spend(n)
        return self._fh.read(n)

    def seek(self, offset: int, whence: int = 0) -> int:
        self._spend()
        return self._fh.seek(offset, whence)

    def tell(self) -> int:
        return self._fh.tell()


def _load_tags(source: str | os.PathLike[str] | bytes) -> dict[str, Any]:
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source[:MAX_BYTES])
        return _parse(io.BytesIO(data), len(data))
    try:
        # O_NONBLOCK: opening a FIFO would otherwise wait forever for a writer.
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
        fd = os.open(source, flags)
    except OSError as exc:
        raise UnreadableFile(detail=f"{display_path(source)}: {exc.strerror or exc}") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotAFile(detail=display_path(source))
        # From here on OSError means MetadataError: exifread turns bad offsets into
        # negative seeks, which is the file's fault, not the disk's.
        with os.fdopen(fd, "rb", closefd=False) as fh:
            return _parse(fh, info.st_size)
    finally:
        os.close(fd)


@functools.cache
def _quiet_exifread() -> None:
    # exifread warns about every odd offset it skips; the caller learns about broken
    # metadata from our return value or MetadataError, not from stderr. (On first use:
    # logging is one more import that commands which read no EXIF need not pay for.)
    import logging

    logging.getLogger("exifread").setLevel(logging.ERROR)


def _parse(fh: BinaryIO, size: int) -> dict[str, Any]:
    _quiet_exifread()
    outer = target = _GuardedReader(fh, size)
    try:
        tiff = _webp_tiff_payload(outer)
        if tiff:
            target = _GuardedReader(io.BytesIO(tiff), len(tiff))
        tags = exifread.process_file(target, details=False, extract_thumbnail=False)
    except Exception as exc:  # exifread raises anything from IndexError to MemoryError
        if outer.exhausted or target.exhausted:
            raise MetadataError(detail=_OVER_BUDGET) from exc
        raise MetadataError(detail=f"exifread failed: {_describe(exc)}") from exc
    if outer.exhausted or target.exhausted:
        raise MetadataError(detail=_OVER_BUDGET)
    return tags


def _webp_tiff_payload(fh: _GuardedReader) -> bytes | None:
    """Return a WebP EXIF chunk that is a bare TIFF stream, else None.

    The WebP spec stores the TIFF stream directly (libwebp and Pillow do so), but exifread
    always skips an ``Exif\\0\\0`` prefix and then misreads such files; we hand it the TIFF.
    """
    fh.seek(0)
    head = fh.read(12)
    if head[:4] != b"RIFF" or head[8:12] != b"WEBP":
        return None
    while True:  # each pass moves forward by at least 8 bytes, and reads are budgeted
        chunk = fh.read(8)
        if len(chunk) < 8:
            return None
        size = int.from_bytes(chunk[4:], "little")
        if chunk[:4] == b"EXIF":
            payload = fh.read(size)
            return None if payload.startswith(b"Exif\x00\x00") else payload
        fh.seek(size + (size & 1), os.SEEK_CUR)


# --- raw tags -----------------------------------------------------------------------------


def _raw_tags(tags: dict[str, Any]) -> dict[str, str]:
    raw: dict[str, str] = {}
    for key, tag in tags.items():
        if len(raw) >= MAX_TAGS:
            break
        if not _is_blob(str(key), tag):
            raw[_clean(str(key))] = _cap(_clean(str(tag)))
    return raw


def _is_blob(key: str, tag: Any) -> bool:
    name = key.rsplit(" ", 1)[-1]
    if key.startswith("MakerNote") or name.startswith("MakerNote") or name in _BLOB_NAMES:
        return True
    if not hasattr(tag, "field_type"):  # exifread returns thumbnails as plain bytes
        return True
    return (
        int(tag.field_type) in _BINARY_TYPES
        and not tag.prefer_printable  # tags exifread decodes to text (ExifVersion) are fine
        and tag.field_length > _MAX_INLINE_BINARY
    )


def _clean(text: str) -> str:
    """Drop NULs and make the text encodable as UTF-8 (lone surrogates become escapes)."""
    return text.replace("\x00", "").encode("utf-8", "backslashreplace").decode("utf-8")


def _cap(text: str) -> str:
    extra = len(text) - MAX_VALUE_CHARS
    return text if extra <= 0 else f"{text[:MAX_VALUE_CHARS]}…[truncated {extra} chars]"


# --- normalised fields --------------------------------------------------------------------


def _normalize(tags: dict[str, Any]) -> dict[str, Any]:
    return {
        "captured_at": _timestamp(tags, _ORIGINAL)
        or _timestamp(tags, _DIGITIZED)
        or _timestamp(tags, _MODIFIED),
        "datetime_digitized": _timestamp(tags, _DIGITIZED),
        "datetime_modified": _timestamp(tags, _MODIFIED),
        "make": _text(tags, "Image Make"),
        "model": _text(tags, "Image Model"),
        "software": _text(tags, "Image Software"),
        "serial": _text(
            tags,
            "EXIF BodySerialNumber",
            "Image CameraSerialNumber",
            "Image Tag 0xC62F",  # DNG CameraSerialNumber, unnamed in exifread
            "EXIF SerialNumber",
        ),
        "orientation": _orientation(tags),
        "gps": _gps(tags),
        "gps_timestamp": _gps_timestamp(tags),
    }


def _text(tags: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        tag = tags.get(key)
        values = getattr(tag, "values", None)
        if isinstance(values, bytes):  # ASCII that was not valid UTF-8
            values = values.decode("utf-8", "replace")
        if isinstance(values, str):
            text = _clean(values).strip()
            if text:
                return _cap(text)
    return None


def _exif_text(tags: dict[str, Any], name: str) -> str | None:
    # TIFF/EP writers put the EXIF date tags in IFD0, so look in both.
    return _text(tags, f"EXIF {name}", f"Image {name}")


def _timestamp(tags: dict[str, Any], names: tuple[str, str, str]) -> str | None:
    date_name, subsec_name, offset_name = names
    text = _exif_text(tags, date_name)
    match = _DATETIME_RE.fullmatch(text) if text else None
    if not match:
        return None
    try:
        # Rejects "0000:00:00 00:00:00", month 13, February 30 and the like.
        stamp = datetime(*(int(part) for part in match.groups()))
    except ValueError:
        return None
    result = stamp.isoformat(timespec="seconds")
    subsec = _exif_text(tags, subsec_name)
    if subsec and _SUBSEC_RE.fullmatch(subsec):
        result += f".{subsec}"  # keep the digits the camera wrote; do not round
    for name in (offset_name, "OffsetTime"):
        found = _OFFSET_RE.fullmatch(_exif_text(tags, name) or "")
        if found and int(found[1]) <= 14 and int(found[2]) < 60:
            return result + found[0]
    return result


def _orientation(tags: dict[str, Any]) -> int | None:
    values = getattr(tags.get("Image Orientation"), "values", None)
    if isinstance(values, list) and values and isinstance(values[0], int):
        return values[0] if 1 <= values[0] <= 8 else None
    return None


def _ratio(value: Any) -> Fraction | None:
    """Return an exact rational, or None for a zero denominator or a non-number."""
    if isinstance(value, int):
        return Fraction(value)
    num = getattr(value, "numerator", None)
    den = getattr(value, "denominator", None)
    if isinstance(num, int) and isinstance(den, int) and den != 0:
        return Fraction(num, den)
    return None


def _ratios(tag: Any, lengths: range) -> list[Fraction] | None:
    values = getattr(tag, "values", None)
    if not isinstance(values, list) or len(values) not in lengths:
        return None
    parts = [part for part in map(_ratio, values) if part is not None and part >= 0]
    return parts if len(parts) == len(values) else None


def _coordinate(tags: dict[str, Any], axis: str, hemispheres: str, limit: int) -> float | None:
    parts = _ratios(tags.get(f"GPS GPS{axis}"), range(1, 4))
    ref = (_text(tags, f"GPS GPS{axis}Ref") or "")[:1].upper()
    # Without N/S or E/W the hemisphere is unknown, and a wrong sign is a wrong place.
    if parts is None or not ref or ref not in hemispheres:
        return None
    degrees = sum(part / 60**i for i, part in enumerate(parts))
    if degrees > limit:
        return None
    return round(float(-degrees if ref == hemispheres[1] else degrees), 7)


def _gps(tags: dict[str, Any]) -> dict[str, float | None] | None:
    lat = _coordinate(tags, "Latitude", "NS", 90)
    lon = _coordinate(tags, "Longitude", "EW", 180)
    if lat is None or lon is None:
        return None
    altitude = _ratios(tags.get("GPS GPSAltitude"), range(1, 2))
    alt = None
    if altitude is not None:
        ref = getattr(tags.get("GPS GPSAltitudeRef"), "values", None)
        below = ref in ([1], "1") or (isinstance(ref, bytes) and ref[:1] in (b"\x01", b"1"))
        alt = round(float(-altitude[0] if below else altitude[0]), 2)
    return {"lat": lat, "lon": lon, "alt": alt}


def _gps_timestamp(tags: dict[str, Any]) -> str | None:
    date_text = _text(tags, "GPS GPSDate", "GPS GPSDateStamp")
    date_match = _DATE_RE.fullmatch(date_text) if date_text else None
    clock = _ratios(tags.get("GPS GPSTimeStamp"), range(3, 4))
    if not date_match or clock is None:
        return None
    hours, minutes, seconds = clock
    if hours >= 24 or minutes >= 60 or seconds >= 60:
        return None
    try:
        day = datetime(*(int(part) for part in date_match.groups()))
    except ValueError:
        return None
    micros = round((hours * 3600 + minutes * 60 + seconds) * 1_000_000)
    stamp = day + timedelta(microseconds=micros)
    fraction = f".{stamp.microsecond:06d}".rstrip("0") if stamp.microsecond else ""
    return f"{stamp.isoformat(timespec='seconds')}{fraction}+00:00"


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}"[:300] if text else type(exc).__name__


# The normalised keys, in order, taken from the one function that builds them.
NORMALIZED_KEYS: tuple[str, ...] = tuple(_normalize({}))
