"""Tiny greyscale thumbnails stored next to PDQ hashes, for comparisons finer than PDQ.

PDQ tells whether two pictures show the same thing; it cannot tell one instant of a still
scene from another (a room where only a person moves), nor see past an overlay that
dominates it (a logo and a caption strip). A 16x16 greyscale thumbnail (256 bytes, stored
as 512 hex digits under ``"thumb"``) keeps the coarse layout of grey levels, so that once
PDQ has found the scene, correlating thumbnails tells the instants apart
(``registry.similarity.refine``). Thumbnails are compared by correlation, so a difference of
brightness or contrast (a photo's full-range grey levels against a video's limited range)
does not matter.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ingest.lazy import lazy_import

if TYPE_CHECKING:
    import cv2
    import numpy as np
else:
    cv2 = lazy_import("cv2")
    np = lazy_import("numpy")


#: Side of the thumbnail, in pixels (the picture is squeezed to a square, as PDQ does).
SIZE = 16


def thumbnail(gray: np.ndarray) -> np.ndarray:
    """A picture's 16x16 thumbnail by area averaging (``gray``: 2-D uint8 array)."""
    return cv2.resize(np.ascontiguousarray(gray), (SIZE, SIZE), interpolation=cv2.INTER_AREA)


def thumb_hex(gray: np.ndarray) -> str:
    """The thumbnail of a greyscale picture as hex (row by row, one byte a pixel)."""
    return thumbnail(gray).astype(np.uint8).tobytes().hex()


def parse_thumb(hexa: str) -> np.ndarray:
    """A stored thumbnail back as a 16x16 float32 array.

    Raises:
        ValueError: The text is not 512 hex digits.
    """
    raw = bytes.fromhex(hexa)
    if len(raw) != SIZE * SIZE:
        raise ValueError(f"not a {SIZE}x{SIZE} thumbnail: {len(raw)} bytes")
    return np.frombuffer(raw, np.uint8).reshape(SIZE, SIZE).astype(np.float32)
