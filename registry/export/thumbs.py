"""Thumbnails for reports: small JPEGs made from the vault's original bytes, as data URIs.

Photos are decoded at reduced size with their orientation applied (``ingest.photo.image``);
videos give one frame from about a tenth of the way in (past black lead-in frames),
rotated as the container says. A file that does not decode gets no thumbnail (the
report says so) rather than stopping the export.
"""

from __future__ import annotations

import base64
import contextlib
import io
from typing import TYPE_CHECKING

from ingest import EvidenceError, decode_image, lazy_import

if TYPE_CHECKING:
    from PIL import Image
else:
    Image = lazy_import("PIL.Image")

#: Longest side of a thumbnail, in pixels.
THUMB_SIZE = 240
#: Photos larger than this are not decoded for a thumbnail (the original is kept).
MAX_THUMB_SOURCE_BYTES = 256 * 1024 * 1024


def thumbnail(path: str, media_type: str | None, rotation: int | None = None) -> str | None:
    """A ``data:image/jpeg;base64,…`` URI for the file at ``path``, or None."""
    data = thumbnail_jpeg(path, media_type, rotation)
    if data is None:
        return None
    return data_uri(data)


def data_uri(jpeg: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")


def thumbnail_jpeg(
    path: str,
    media_type: str | None,
    rotation: int | None = None,
    size: int = THUMB_SIZE,
    at: float | None = None,
) -> bytes | None:
    """A JPEG of the file at ``path`` whose longest side is at most ``size``: the photo,
    or a video's frame at ``at`` seconds (None: its poster frame, about a tenth of the
    way in); None when it does not decode."""
    found = picture(path, media_type, rotation, size, at)
    return jpeg(found, size) if found is not None else None


def picture(
    path: str,
    media_type: str | None,
    rotation: int | None = None,
    size: int = THUMB_SIZE,
    at: float | None = None,
) -> Image.Image | None:
    """The picture of ``thumbnail_jpeg`` (decoded at about ``size``), or None."""
    try:
        if media_type == "video":
            return _video_frame(path, rotation, at)
        with open(path, "rb") as fh:
            data = fh.read(MAX_THUMB_SOURCE_BYTES + 1)
        if len(data) > MAX_THUMB_SOURCE_BYTES:
            return None
        return decode_image(data, size=size).picture
    except (EvidenceError, OSError, ValueError, MemoryError):
        return None


def jpeg(found: Image.Image, size: int = THUMB_SIZE, quality: int = 70) -> bytes:
    """``found`` shrunk to fit ``size`` and encoded as a JPEG."""
    found = found.copy()
    found.thumbnail((size, size))
    buf = io.BytesIO()
    found.convert("RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _video_frame(path: str, rotation: int | None, at: float | None = None) -> Image.Image | None:
    import av

    try:
        container = av.open(path)
    except Exception:  # PyAV raises many kinds for hostile files
        return None
    with container:
        if not container.streams.video:
            return None
        stream = container.streams.video[0]
        duration = None
        if stream.duration and stream.time_base:
            duration = float(stream.duration * stream.time_base)
        elif container.duration:
            duration = container.duration / 1_000_000
        if at is None and duration and duration > 1:
            at = duration * 0.1
        if at and stream.time_base:
            with contextlib.suppress(Exception):
                container.seek(int(at / stream.time_base), stream=stream)
        try:
            for i, frame in enumerate(container.decode(stream)):
                shown = float(frame.time) if frame.time is not None else None
                if at is not None and shown is not None and shown + 1e-3 < at and i < 600:
                    continue  # the seek lands on the key frame before ``at``
                image = frame.to_image()
                if at is not None or i >= 30 or image.getextrema() != ((0, 0), (0, 0), (0, 0)):
                    break
            else:
                return None
        except Exception:
            return None
    if rotation:
        # Rotation is clockwise degrees for display; PIL rotates counter-clockwise.
        image = image.rotate(-rotation, expand=True)
    return image
