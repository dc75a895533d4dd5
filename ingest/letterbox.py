"""Letterbox and pillarbox detection: the uniform bars a re-post adds around a video.

Re-posts often put a video inside a larger canvas (a 16:9 clip on a square or 9:16 canvas,
or the reverse), so its frames gain black or coloured bars that change every frame's
perceptual hash. This module finds those bars from a video's sampled frames so they can be
cut off before hashing; the original and the letterboxed copy then hash the same content.

The bars are found per frame and then agreed across frames: a row (or column) at an edge is
a bar when most of its pixels have one flat colour. The colour may change from row to row,
so a caption strip or a logo printed on a bar does not end it. A flat edge that belongs to
the picture (sky, a wall) is cut off too, in the original and in the copy alike, so the two
stay comparable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Grey levels a pixel may differ from its row's colour. Bars are flat synthetic colour, so
#: this is small: textured picture edges (asphalt, foliage) must not pass for a bar.
TOLERANCE = 6.0
#: Share of a row's pixels that must have the row's colour (text on a bar is allowed).
ROW_SHARE = 0.6
#: Frames with less contrast than this (grey-level standard deviation) do not vote.
MIN_FRAME_STD = 12.0
#: At most this share of a side is cut off (beyond it, the "bar" is the picture).
MAX_SIDE_SHARE = 0.45
#: Share of the voting frames that must show a bar at least as large.
AGREEMENT = 0.9
#: A row whose pixels vary less than this over time (grey levels, median over the row) is
#: static: part of a bar, or something printed on one.
STATIC_STD = 3.0
#: Frames used to measure what is static.
STATIC_FRAMES = 60


@dataclass(frozen=True)
class Crop:
    """Pixels to cut off each side of a frame of a given size."""

    top: int = 0
    bottom: int = 0
    left: int = 0
    right: int = 0

    @property
    def empty(self) -> bool:
        return not (self.top or self.bottom or self.left or self.right)

    def apply(self, frame: np.ndarray) -> np.ndarray:
        """The frame without its bars."""
        height, width = frame.shape[:2]
        return frame[self.top : height - self.bottom, self.left : width - self.right]

    def shares(self, width: int, height: int) -> dict[str, float]:
        """The crop as shares of the frame's size (independent of the decode size)."""
        return {
            "top": round(self.top / height, 4),
            "bottom": round(self.bottom / height, 4),
            "left": round(self.left / width, 4),
            "right": round(self.right / width, 4),
        }


def frame_bars(gray: np.ndarray) -> tuple[int, int, int, int]:
    """Uniform rows/columns at each edge of one greyscale frame: (top, bottom, left, right)."""
    pixels = np.asarray(gray, dtype=np.float32)
    return (
        _edge_run(pixels),
        _edge_run(pixels[::-1]),
        _edge_run(pixels.T),
        _edge_run(pixels.T[::-1]),
    )


def _edge_run(pixels: np.ndarray) -> int:
    """How many leading rows are (mostly) of one flat colour."""
    colour = np.median(pixels, axis=1, keepdims=True)
    close = np.abs(pixels - colour) <= TOLERANCE
    uniform = close.mean(axis=1) >= ROW_SHARE
    if not uniform[0]:
        return 0
    run = int(np.argmin(uniform)) if not uniform.all() else len(uniform)
    return run


def find_crop(frames: Sequence[np.ndarray]) -> Crop:
    """Agree on the bars of a video from its sampled greyscale frames (all one size).

    Args:
        frames: Upright greyscale frames of the video, all the same size.

    Returns:
        The crop to apply to every frame; empty when there are no bars or too few frames
        with content to tell.
    """
    voting = [f for f in frames if float(np.std(f)) >= MIN_FRAME_STD]
    if not voting:
        return Crop()
    height, width = voting[0].shape[:2]
    runs = np.array([frame_bars(f) for f in voting if f.shape[:2] == (height, width)])
    # The run that (1 - AGREEMENT) of the frames fall short of: frames where a subtitle
    # or a bright object reaches the edge do not shrink the bar for the whole video.
    agreed = np.floor(np.quantile(runs, 1.0 - AGREEMENT, axis=0, method="lower")).astype(int)
    top, bottom, left, right = (int(v) for v in agreed)
    if len(voting) >= 3:
        step = max(1, len(voting) // STATIC_FRAMES)
        stack = np.stack([f for f in voting[::step] if f.shape[:2] == (height, width)])
        still = np.std(stack.astype(np.float32), axis=0)
        top, bottom = _symmetric(top, bottom, np.median(still, axis=1))
        left, right = _symmetric(left, right, np.median(still, axis=0))
    # The row where bar and picture meet is a blend of both after downscaling; drop it too.
    top, bottom, left, right = (v + 1 if v else 0 for v in (top, bottom, left, right))
    top, bottom = _limit(top, bottom, height)
    left, right = _limit(left, right, width)
    return Crop(top, bottom, left, right)


def _symmetric(a: int, b: int, still: np.ndarray) -> tuple[int, int]:
    """Widen the narrower of two opposite bars to the wider one when the rows between are
    static: a centred letterbox has equal bars, and a caption or logo printed on one of them
    stops its flat run early. The rows must be static over time, so picture content is
    never taken for a bar; a flat edge of the picture (sky) is cut the same in the original
    and the copy, as both show it.
    """
    if not (a and b) or a == b:
        return a, b
    size = len(still)
    if a < b and np.all(still[a:b] <= STATIC_STD):
        return b, b
    if b < a and np.all(still[size - a : size - b] <= STATIC_STD):
        return a, a
    return a, b


def _limit(a: int, b: int, size: int) -> tuple[int, int]:
    cap = int(size * MAX_SIDE_SHARE)
    if a > cap or b > cap or size - a - b < size * 0.2:
        # A "bar" this large is a uniform picture (sky, a wall), not a letterbox.
        return 0, 0
    return a, b
