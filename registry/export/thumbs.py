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
    try:
        if media_type == "video":
            picture = _video_frame(path, rotation)
        else:
            with open(path, "rb") as fh:
                data = fh.read(MAX_THUMB_SOURCE_BYTES + 1)
            if len(data) > MAX_THUMB_SOURCE_BYTES:
                return None
            picture = decode_image(data, size=THUMB_SIZE).picture
    except (EvidenceError, OSError, ValueError, MemoryError):
        return None
    if picture is None:
        return None
    picture.thumbnail((THUMB_SIZE, THUMB_SIZE))
    buf = io.BytesIO()
    picture.convert("RGB").save(buf, "JPEG", quality=70)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _video_frame(path: str, rotation: int | None) -> Image.Image | None:
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
        if duration and duration > 1:
            with contextlib.suppress(Exception):
                container.seek(int(duration * 0.1 / stream.time_base), stream=stream)
        try:
            for i, frame in enumerate(container.decode(stream)):
                image = frame.to_image()
                if i >= 30 or image.getextrema() != ((0, 0), (0, 0), (0, 0)):
                    break
            else:
                return None
        except Exception:
            return None
    if rotation:
        # Rotation is clockwise degrees for display; PIL rotates counter-clockwise.
        image = image.rotate(-rotation, expand=True)
    return image
