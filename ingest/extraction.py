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
from typing import TYPE_CHECKING, Any

from ingest.credentials import read_credentials
from ingest.errors import (
    CorruptImageData,
    EmptyFile,
    EvidenceError,
    FileChanged,
    NotAFile,
    TooLarge,
    UnreadableFile,
)
from ingest.hashes import CHUNK, BackgroundHasher, Digests, MultiHasher
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
    "c2pa-python",
)


def tool_versions() -> dict[str, str]:
    """Versions of the libraries whose output ends up in a record."""
    from importlib import metadata as importlib_metadata  # slow to import: workers only

    versions = {}
    for name in _TOOL_PACKAGES:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


# Looked up on the first record, not at import: the CLI imports this module too.
_TOOLS: dict[str, str] | None = None


def _tools() -> dict[str, str]:
    """What goes into ``Extracted.tools``: library versions and the hashers' tag."""
    global _TOOLS
    if _TOOLS is None:
        tools = tool_versions()
        # Which hashers (and versions) made a record's hashes: ``evidence reindex``
        # compares it.
        tools["hashers"] = versions_tag()
        _TOOLS = tools
    return dict(_TOOLS)


def warm_up(*, credentials: bool = True) -> None:
    """Load what extracting a photo needs (decoders, hashers, tool versions, and the
    C2PA reader unless ``credentials`` is False: re-hashing does not read it) ahead of
    the first file: a worker process calls it when it starts."""
    if credentials:
        import c2pa  # noqa: F401
    import cv2  # noqa: F401
    import exifread  # noqa: F401
    import imagehash  # noqa: F401
    import numpy  # noqa: F401
    import pdqhash  # noqa: F401
    from PIL import Image as _Image  # noqa: F401

    _tools()


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
    rec.tools = _tools()
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
    data, head, hasher = _read(path, rec)
    try:
        kind = sniff(head)
        rec.media_type, rec.format, rec.mime = kind.media_type, kind.format, kind.mime
        if kind.media_type == "image":
            _extract_image(data, rec, max_pixels=max_pixels)
        else:
            _extract_video(path, rec, credentials=True)
    finally:  # a file that cannot be used is still named by its digests
        _set_digests(rec, hasher.digests())


def _set_digests(rec: Extracted, digests: Digests) -> None:
    rec.sha256, rec.sha1, rec.md5, rec.size = (
        digests.sha256,
        digests.sha1,
        digests.md5,
        digests.size,
    )


def _read(path: str, rec: Extracted) -> tuple[bytes | None, bytes, MultiHasher | BackgroundHasher]:
    """Read the file once: the head for sniffing, the bytes of files small enough to keep,
    and their digests. Kept bytes are hashed in a thread while they are decoded; larger
    files are hashed chunk by chunk as they are read."""
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
        streaming = None if keep else MultiHasher()
        parts: list[bytes] = []
        head = b""
        size = 0
        # A kept file is read in one call when it has the size it had when opened (and a
        # single part is joined without a copy).
        step = before.st_size if keep and before.st_size > 0 else CHUNK
        try:
            while chunk := fh.read(step):
                step = CHUNK
                size += len(chunk)
                if len(head) < HEAD_SIZE:
                    head = (head + chunk)[:HEAD_SIZE]
                if streaming is not None:
                    streaming.update(chunk)
                else:
                    parts.append(chunk)
        except OSError as exc:
            raise UnreadableFile(f"read failed: {exc.strerror or exc}") from exc
        after = os.fstat(fh.fileno())
    data = b"".join(parts) if streaming is None else None
    hasher = streaming if streaming is not None else BackgroundHasher(data or b"")
    if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns) or (
        size != before.st_size
    ):
        _set_digests(rec, hasher.digests())
        raise FileChanged(f"{before.st_size} bytes when opened, {size} read")
    if size == 0:
        _set_digests(rec, hasher.digests())
        raise EmptyFile()
    return data, head, hasher


def _extract_image(data: bytes | None, rec: Extracted, *, max_pixels: int) -> None:
    if data is None:
        raise TooLarge(f"image files over {MAX_IMAGE_BYTES:,} bytes are refused")
    try:
        rec.exif, rec.metadata = read_exif(data)
    except EvidenceError as exc:
        rec.warn("exif", exc)
    _read_credentials(rec, data, None)
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
    rec = Extracted(path="", tools=_tools())
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
    rec = Extracted(path="", media_type="video", tools=_tools())
    try:
        _extract_video(path, rec)
    except EvidenceError as exc:
        rec.error = {"code": exc.code, "message": exc.message}
    return rec


def _extract_video(path: str, rec: Extracted, *, credentials: bool = False) -> None:
    info = read_video_metadata(path)
    rec.width, rec.height, rec.duration_s = info.width, info.height, info.duration_s
    rec.metadata = dict(info.metadata)
    rec.exif = dict(info.tags)
    if credentials:
        _read_credentials(rec, None, path)
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


def _read_credentials(rec: Extracted, data: bytes | None, path: str | None) -> None:
    """``metadata["c2pa"]`` and ``manifest_store`` from the file's Content Credentials;
    a store that cannot be read is a warning (``read_credentials`` never raises)."""
    summary, store, problems = read_credentials(data, path, rec.mime)
    rec.metadata["c2pa"] = summary
    rec.manifest_store = store
    for problem in problems:
        rec.warn("c2pa", problem)


def reread_credentials(path: str) -> Extracted:
    """The Content Credentials of a stored file (for re-indexing items stored before
    they were read): ``metadata["c2pa"]``, ``manifest_store``, ``media_type``, ``mime``,
    ``warnings`` and ``tools`` of the returned record are set, or ``error`` when the
    file cannot be opened or is not a photo or video."""
    rec = Extracted(path="", tools=_tools())
    try:
        with open(path, "rb") as fh:
            head = fh.read(HEAD_SIZE)
        kind = sniff(head)
    except OSError as exc:
        rec.error = {"code": "UnreadableFile", "message": UnreadableFile(str(exc)).message}
        return rec
    except EvidenceError as exc:
        rec.error = {"code": exc.code, "message": exc.message}
        return rec
    rec.media_type, rec.format, rec.mime = kind.media_type, kind.format, kind.mime
    _read_credentials(rec, None, path)
    return rec


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat()
