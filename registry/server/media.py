"""Pictures the review UI puts in its pages: thumbnails (a video's poster frame),
previews, a copy laid over another by the match's fit, and video frames at given times.

Each is made from the vault's bytes (``registry.export.thumbs``: photos decoded at
reduced size with their orientation applied, video frames rotated as the container
says) and kept in a cache beside the registry's data (``server/media/`` in the
registry folder): derived, never evidence, rebuilt on demand, and keyed by content
(an item's SHA-256 never changes what it names). Pages embed them as ``data:`` URIs,
so the page's one ``access.viewed`` entry says every item it showed.

PIL, PyAV and OpenCV are imported when a picture is first made.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from registry.export.thumbs import THUMB_SIZE, data_uri, jpeg, picture
from registry.session import Session

#: Longest side of the pictures of the item and compare pages.
PREVIEW_SIZE = 720
CACHE = os.path.join("server", "media")


@dataclass(frozen=True)
class Aligned:
    """Two previews of the compare page's overlay, the second laid over the first."""

    base: str | None  # data URI of ``a``
    over: str | None  # data URI of ``b`` warped into ``a``'s frame
    fitted: bool  # False: no fit found, ``b`` only resized to ``a``'s size


class Pictures:
    """The picture cache of one registry folder."""

    def __init__(self, root: str) -> None:
        self.folder = os.path.join(root, CACHE)

    def _cached(self, name: str, make: Callable[[], bytes | None]) -> bytes | None:
        path = os.path.join(self.folder, name[:2], name)
        with contextlib.suppress(OSError), open(path, "rb") as fh:
            return fh.read()
        data = make()
        if data is not None:
            with contextlib.suppress(OSError):
                _write(path, data)
        return data

    def thumbnail(self, reg: Session, doc: dict[str, Any]) -> str | None:
        """A data URI of the item's thumbnail (a video's poster frame), or None."""
        return self._uri(reg, doc, THUMB_SIZE)

    def preview(self, reg: Session, doc: dict[str, Any]) -> str | None:
        return self._uri(reg, doc, PREVIEW_SIZE)

    def _uri(self, reg: Session, doc: dict[str, Any], size: int) -> str | None:
        sha = doc["sha256"]

        def make() -> bytes | None:
            found = _picture(reg, doc, size)
            return jpeg(found, size) if found is not None else None

        data = self._cached(f"{sha}-{size}.jpg", make)
        return data_uri(data) if data is not None else None

    def frame(self, reg: Session, doc: dict[str, Any], seconds: float) -> str | None:
        """A data URI of a video's frame at ``seconds`` (thumbnail size), or None."""
        sha = doc["sha256"]

        def make() -> bytes | None:
            found = _picture(reg, doc, THUMB_SIZE, at=max(0.0, seconds))
            return jpeg(found, THUMB_SIZE) if found is not None else None

        data = self._cached(f"{sha}-t{seconds:.3f}.jpg", make)
        return data_uri(data) if data is not None else None

    def aligned(self, reg: Session, a: dict[str, Any], b: dict[str, Any]) -> Aligned:
        """``a``'s preview and ``b`` warped onto it by the fit of
        ``registry.similarity.alignment`` (ORB + RANSAC, as matching fits it)."""
        base = self.preview(reg, a)
        stem = f"{a['sha256']}-over-{b['sha256']}"
        for fitted in (True, False):
            with contextlib.suppress(OSError):
                path = os.path.join(self.folder, stem[:2], f"{stem}-{int(fitted)}.jpg")
                with open(path, "rb") as fh:
                    return Aligned(base, data_uri(fh.read()), fitted)
        made = _overlay(reg, a, b)
        if made is None:
            return Aligned(base, self.preview(reg, b), False)
        data, fitted = made
        with contextlib.suppress(OSError):
            _write(os.path.join(self.folder, stem[:2], f"{stem}-{int(fitted)}.jpg"), data)
        return Aligned(base, data_uri(data), fitted)


def _overlay(reg: Session, a: dict[str, Any], b: dict[str, Any]) -> tuple[bytes, bool] | None:
    """``b`` in ``a``'s frame at preview size, and whether a fit was found."""
    from PIL import Image

    from registry.similarity import alignment

    base = _picture(reg, a, PREVIEW_SIZE)
    other = _picture(reg, b, PREVIEW_SIZE)
    if base is None or other is None:
        return None
    base, other = base.convert("RGB"), other.convert("RGB")
    # The previews are what the page shows: fit them as they are.
    base.thumbnail((PREVIEW_SIZE, PREVIEW_SIZE))
    other.thumbnail((PREVIEW_SIZE, PREVIEW_SIZE))
    matrix = alignment(base, other)
    if matrix is not None:
        coefficients = tuple(float(v) for v in matrix[:2].flatten())
        warped = other.transform(base.size, Image.Transform.AFFINE, coefficients, Image.BILINEAR)
    else:
        warped = other.resize(base.size, Image.BILINEAR)
    return jpeg(warped, PREVIEW_SIZE, quality=80), matrix is not None


def _picture(reg: Session, doc: dict[str, Any], size: int, at: float | None = None) -> Any:
    rotation = (doc.get("metadata") or {}).get("rotation")
    path = reg.vault.path(doc["sha256"])
    if not os.path.exists(path):
        return None
    return picture(path, doc.get("media_type"), rotation, size, at)


def _write(path: str, data: bytes) -> None:
    """A cache file, replaced whole (no fsync: a lost one is made again)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
