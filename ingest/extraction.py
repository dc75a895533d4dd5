"""Extraction of one file: one input path in, one ``Extracted`` record out.

``extract`` reads a file once (hashing every chunk with all algorithms), sniffs its type
from the first bytes, and runs the extraction steps for its media type. A step that fails
is recorded as a warning and the others go on; a file that cannot be used at all gets an
``error``. ``extract`` never raises for a bad input and touches nothing but the file it
reads, so it can run in worker processes or on a cluster (``ingest.batch``).
"""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from typing import TYPE_CHECKING, Any

from ingest.errors import (
    CorruptImageData,
    EmptyFile,
    EvidenceError,
    FileChanged,
    NotAFile,
    TooLarge,
    UnreadableFile,
)
from ingest.hashes import CHUNK, MultiHasher
from ingest.lazy import lazy_import
from ingest.photo import MAX_PIXELS, decode_image, features, hash_picture, read_exif, versions_tag
from ingest.record import Extracted, display_path
from ingest.sniff import HEAD_SIZE, sniff
from ingest.video import hash_video_frames, read_video_metadata

if TYPE_CHECKING:
    from PIL import Image
else:
    Image = lazy_import("PIL.Image")

#: Images up to this size are kept in memory after hashing so they are decoded from the
#: very bytes that were hashed; larger ones are refused as images.
MAX_IMAGE_BYTES = 512 * 1024 * 1024

_TOOL_PACKAGES = (
    "exifread",
    "pillow",
    "pillow-heif",
    "imagehash",
    "pdqhash",
    "opencv-python-headless",
    "av",
)


def tool_versions() -> dict[str, str]:
    """Versions of the libraries whose output ends up in a record."""
    versions = {}
    for name in _TOOL_PACKAGES:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


_TOOLS = tool_versions()
# Which hashers (and versions) made a record's hashes: ``evidence reindex`` compares it.
_TOOLS["hashers"] = versions_tag()


def extract(path: str | os.PathLike[str], *, max_pixels: int = MAX_PIXELS) -> Extracted:
    """Extract everything the registry keeps about one file.

    Args:
        path: The file to read.
        max_pixels: Refuse images with more pixels than this (decompression bombs).

    Returns:
        The record; ``record.error`` is set when the file cannot be stored.
    """
    fspath = os.fspath(path)
    rec = Extracted(path=display_path(fspath), name=display_path(os.path.basename(fspath)))
    rec.source = fspath
    rec.tools = dict(_TOOLS)
    try:
        _extract(fspath, rec, max_pixels=max_pixels)
    except EvidenceError as exc:
        rec.error = {"code": exc.code, "message": exc.message}
    except MemoryError:
        rec.error = {"code": "TooLarge", "message": "Media exceeds a safety limit: out of memory"}
    except Exception as exc:  # A bug or a library crash must not stop the batch.
        text = " ".join(str(exc).split())[:300]
        rec.error = {"code": "InternalError", "message": f"{type(exc).__name__}: {text}"}
    if rec.error is not None:
        rec.media_type = None
    return rec


def _extract(path: str, rec: Extracted, *, max_pixels: int) -> None:
    data, head = _read_and_hash(path, rec)
    kind = sniff(head)
    rec.media_type, rec.format, rec.mime = kind.media_type, kind.format, kind.mime
    if kind.media_type == "image":
        _extract_image(data, rec, max_pixels=max_pixels)
    else:
        _extract_video(path, rec)


def _read_and_hash(path: str, rec: Extracted) -> tuple[bytes | None, bytes]:
    """Read the file once: hashes, the head for sniffing, and the bytes of small files."""
    try:
        # O_NONBLOCK: opening a FIFO must not block; it is refused just below.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOATIME", 0))
    except PermissionError:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        except OSError as exc:
            raise UnreadableFile(exc.strerror or str(exc)) from exc
    except FileNotFoundError as exc:
        raise UnreadableFile("no such file (it vanished before it was read)") from exc
    except OSError as exc:
        raise UnreadableFile(exc.strerror or str(exc)) from exc
    with os.fdopen(fd, "rb", buffering=0) as fh:
        before = os.fstat(fh.fileno())
        if not stat.S_ISREG(before.st_mode):
            raise NotAFile()
        rec.file_mtime = _iso(before.st_mtime)
        rec.file_ctime = _iso(before.st_ctime)
        keep = before.st_size <= MAX_IMAGE_BYTES
        hasher = MultiHasher()
        parts: list[bytes] = []
        head = b""
        try:
            while chunk := fh.read(CHUNK):
                hasher.update(chunk)
                if len(head) < HEAD_SIZE:
                    head = (head + chunk)[:HEAD_SIZE]
                if keep:
                    parts.append(chunk)
        except OSError as exc:
            raise UnreadableFile(f"read failed: {exc.strerror or exc}") from exc
        after = os.fstat(fh.fileno())
    digests = hasher.digests()
    rec.sha256, rec.sha1, rec.md5, rec.size = (
        digests.sha256,
        digests.sha1,
        digests.md5,
        digests.size,
    )
    if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns) or (
        digests.size != before.st_size
    ):
        raise FileChanged(f"{before.st_size} bytes when opened, {digests.size} read")
    if digests.size == 0:
        raise EmptyFile()
    return (b"".join(parts) if keep else None), head


def _extract_image(data: bytes | None, rec: Extracted, *, max_pixels: int) -> None:
    if data is None:
        raise TooLarge(f"image files over {MAX_IMAGE_BYTES:,} bytes are refused")
    try:
        rec.exif, rec.metadata = read_exif(data)
    except EvidenceError as exc:
        rec.warn("exif", exc)
    decoded = decode_image(data, max_pixels=max_pixels)
    rec.width, rec.height = decoded.width, decoded.height
    if decoded.truncated:
        rec.warn("decode", CorruptImageData("image data is truncated; hashed what decoded"))
    try:
        found: features.Features | None = features.detect(decoded.picture)
    except Exception:  # the orb hasher detects again, and its failure becomes a warning
        found = None
    rec.hashes = picture_hashes(decoded.picture, rec, found)
    rec.picture, rec.features = decoded.picture, found


def picture_hashes(
    picture: Image.Image, rec: Extracted | None = None, found: features.Features | None = None
) -> list[dict[str, Any]]:
    """Every hasher's hashes of one picture; a hasher that fails is recorded as a
    warning on ``rec`` (when given) and the others go on. ``found``: the picture's ORB
    features, when already detected."""

    def failed(name: str, exc: Exception) -> None:
        if rec is not None:
            rec.warn(f"perceptual_hash.{name}", exc)

    return hash_picture(picture, found=found, on_error=failed)


def rehash_image(data: bytes, *, max_pixels: int = MAX_PIXELS) -> Extracted:
    """Perceptual hashes of an image's bytes with the current hashers (for re-indexing
    stored items); ``hashes``, ``warnings`` and ``tools`` of the returned record are set,
    or ``error`` when the image cannot be decoded."""
    rec = Extracted(path="", tools=dict(_TOOLS))
    try:
        decoded = decode_image(data, max_pixels=max_pixels)
    except EvidenceError as exc:
        rec.error = {"code": exc.code, "message": exc.message}
        return rec
    rec.hashes = picture_hashes(decoded.picture, rec)
    return rec


def rehash_video(path: str) -> Extracted:
    """Frame hashes of a stored video with the current method (for re-indexing);
    ``hashes``, ``metadata["frame_hashes"]``, ``duration_s``, ``warnings`` and ``tools``
    of the returned record are set, or ``error`` when its container cannot be read."""
    rec = Extracted(path="", media_type="video", tools=dict(_TOOLS))
    try:
        _extract_video(path, rec)
    except EvidenceError as exc:
        rec.error = {"code": exc.code, "message": exc.message}
    return rec


def _extract_video(path: str, rec: Extracted) -> None:
    info = read_video_metadata(path)
    rec.width, rec.height, rec.duration_s = info.width, info.height, info.duration_s
    rec.metadata = dict(info.metadata)
    rec.exif = dict(info.tags)
    # Frame hashes are one more step: a video whose frames cannot be decoded is still
    # stored, with its container metadata and a warning.
    try:
        frames = hash_video_frames(
            path, rotation=info.metadata.get("rotation"), duration_s=info.duration_s
        )
    except EvidenceError as exc:
        rec.warn("frame_hashes", exc)
    except MemoryError:
        rec.warn("frame_hashes", TooLarge("out of memory while hashing frames"))
    except Exception as exc:  # A decoder crash on one file must not lose its metadata.
        rec.warn("frame_hashes", exc)
    else:
        rec.hashes = frames.hashes
        rec.metadata["frame_hashes"] = frames.summary
        for problem in frames.problems:
            rec.warn("frame_hashes", problem)


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat()
