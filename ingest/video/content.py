"""The picture inside a video's frames: a photo shown with borders, a screen recording.

Letterbox bars (``ingest.video.letterbox``) are cut off every frame because they are
common and symmetric. A video that *shows a photo* (a slideshow with coloured borders,
a news clip with a ticker under the picture, a screen recording of a chat with a status
bar and app chrome) frames its content in other ways. Its frames are searched for the
same content boxes as photos (``ingest.photo.regions.content_boxes``: borders, a
screenshot's band, flat chrome at the edges), so that a photo and a video showing it
hash alike on both sides.

A video gets content boxes only when most of its frames have a ``chrome_box``: lines drawn
flat (borders, bars, app chrome) do not occur in camera footage, where the other finders
take a white wall behind a person for a background around a photo, frame after frame.
Each frame of such a video then gets every box found in it (a screen recording scrolls).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ingest.errors import PictureTooSmall
from ingest.lazy import lazy_import
from ingest.photo.regions import MIN_PICTURE_SIDE, Box, chrome_box, content_boxes

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image
else:
    np = lazy_import("numpy")
    Image = lazy_import("PIL.Image")

#: Share of a video's frames (with some contrast) that must have a content box.
MIN_SHARE = 0.8
#: Frames with less contrast than this (grey-level standard deviation) do not vote.
MIN_FRAME_STD = 12.0
#: Frames looked at to decide (spread over the video).
VOTING_FRAMES = 24


def frame_boxes(gray: np.ndarray) -> list[tuple[str, Box]]:
    """The content boxes of one greyscale frame, as ``(kind, box)`` (often none): all
    of them, as a photo's are all hashed, since no one finder is right for every picture."""
    try:
        return content_boxes(Image.fromarray(gray).convert("RGB"))
    except PictureTooSmall:
        return []


def _chrome(gray: np.ndarray) -> Box | None:
    if min(gray.shape[:2]) < MIN_PICTURE_SIDE:
        return None
    return chrome_box(Image.fromarray(gray).convert("RGB"))


def framed(frames: Sequence[np.ndarray]) -> bool:
    """Whether a video's frames show their picture inside a frame (see module docstring).

    Args:
        frames: Upright greyscale frames, after letterbox bars are cut off.
    """
    step = max(1, len(frames) // VOTING_FRAMES)
    voting = [f for f in frames[::step] if f.size and float(np.std(f)) >= MIN_FRAME_STD]
    if not voting:
        return False
    found = sum(_chrome(f) is not None for f in voting)
    return found >= MIN_SHARE * len(voting)
