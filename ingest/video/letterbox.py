"""Letterbox and pillarbox detection: the uniform bars a re-post adds around a video.

Re-posts often put a video inside a larger canvas (a 16:9 clip on a square or 9:16 canvas,
or the reverse), so its frames gain black or coloured bars that change every frame's
perceptual hash. This module finds those bars from a video's sampled frames so they can be
cut off before hashing; the original and the letterboxed copy then hash the same content.

The bars are found per frame and then agreed across frames: a row (or column) at an edge is
a bar when most of its pixels have one flat colour (the colour may change from row to row,
so a caption strip printed on a bar does not end it). Bars count only in matching pairs
(top and bottom, or left and right), so a flat edge of the picture itself is kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ingest.lazy import lazy_import

if TYPE_CHECKING:
    import numpy as np
else:
    np = lazy_import("numpy")


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
#: Frames looked at (spread over the video).
STATIC_FRAMES = 60
#: Smallest bar, as a share of the frame (thinner ones barely change a hash).
MIN_BAR_SHARE = 0.04
#: Grey levels by which the two opposite bars' colours may differ.
COLOUR_MATCH = 16.0


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
    # Row by row in small blocks: most frames have no bar, and their first row says so.
    run, block = 0, 4
    while run < len(pixels):
        rows = pixels[run : run + block]
        colour = np.median(rows, axis=1, keepdims=True)
        uniform = (np.abs(rows - colour) <= TOLERANCE).mean(axis=1) >= ROW_SHARE
        if not uniform.all():
            return run + int(np.argmin(uniform))
        run += len(rows)
        block = min(2 * block, 32)
    return run


def find_crop(frames: Sequence[np.ndarray]) -> Crop:
    """Agree on the bars of a video from its sampled greyscale frames (all one size).

    Bars are accepted in pairs only: opposite bars of about the same size and the same
    colour, each at least ``MIN_BAR_SHARE`` of the frame. A flat picture edge (a wall, the
    sky) is rarely matched by the opposite edge, so pictures are almost never cut; a
    re-post's canvas puts the picture in the middle.

    Args:
        frames: Upright greyscale frames of the video, all the same size.

    Returns:
        The crop to apply to every frame; empty when there are no bars or too few frames
        with content to tell.
    """
    # Bars are the same all through a video: a few dozen frames spread over it will do.
    step = max(1, len(frames) // STATIC_FRAMES)
    voting = [f for f in frames[::step] if float(np.std(f)) >= MIN_FRAME_STD]
    if not voting:
        return Crop()
    height, width = voting[0].shape[:2]
    voting = [f for f in voting if f.shape[:2] == (height, width)]
    runs = np.array([frame_bars(f) for f in voting])
    # The run that (1 - AGREEMENT) of the frames fall short of: frames where a subtitle
    # or a bright object reaches the edge do not shrink the bar for the whole video.
    agreed = np.floor(np.quantile(runs, 1.0 - AGREEMENT, axis=0, method="lower")).astype(int)
    top, bottom, left, right = (int(v) for v in agreed)
    if not ((top and bottom) or (left and right)):
        return Crop()  # no pair of bars to check
    sample = np.stack(voting).astype(np.float32)
    still = np.std(sample, axis=0) if len(sample) >= 3 else np.zeros((height, width))
    typical = np.median(sample, axis=0)
    top, bottom = _pair(top, bottom, np.median(still, axis=1), typical)
    left, right = _pair(left, right, np.median(still, axis=0), typical.T)
    return Crop(top, bottom, left, right)


def _pair(a: int, b: int, still: np.ndarray, typical: np.ndarray) -> tuple[int, int]:
    """Accept two opposite bars (rows ``[:a]`` and ``[-b:]``), or neither.

    Args:
        a, b: The agreed flat runs at the two edges.
        still: Each row's temporal variation.
        typical: The median frame (rows along the axis in question).
    """
    size = len(still)
    if not (a and b):
        return 0, 0
    colour = np.median(typical, axis=1)
    flat = (np.abs(typical - colour[:, None]) <= TOLERANCE).mean(axis=1) >= ROW_SHARE
    # A caption printed on one bar stops its flat run early. Widen that bar to the other's
    # size when the rows between are static (print is) and the innermost of them are bar
    # again (flat, the other bar's colour): a static picture edge next to a bar is not.
    if a < b:
        inner = slice(max(a, b - 2), b)
        if np.all(still[a:b] <= STATIC_STD) and _bar_like(inner, flat, colour, colour[-1]):
            a = b
    elif b < a:
        inner = slice(size - a, min(size - b, size - a + 2))
        if np.all(still[size - a : size - b] <= STATIC_STD) and _bar_like(
            inner, flat, colour, colour[0]
        ):
            b = a
    if min(a, b) < size * MIN_BAR_SHARE:
        return 0, 0
    if abs(a - b) > max(2, 0.2 * max(a, b)):
        # A dark (or light) picture edge can continue one bar's flat run. Bars of a
        # centred canvas are equal, so the shorter run is the bar, provided the longer
        # side holds still rows of the same colour that far.
        inner = slice(0, min(a, b)) if a > b else slice(size - min(a, b), size)
        if not (
            np.all(still[inner] <= STATIC_STD)
            and _bar_like(inner, flat, colour, colour[-1] if a > b else colour[0])
        ):
            return 0, 0
    if abs(float(colour[0]) - float(colour[-1])) > COLOUR_MATCH:
        return 0, 0
    # A centred canvas has equal bars: a longer run on one side is picture (a flat wall
    # next to the bar), which the original shows too, so it must not be cut.
    a = b = min(a, b)
    # The row where bar and picture meet is a blend of both after downscaling; drop it too.
    a, b = a + 1, b + 1
    if max(a, b) > size * MAX_SIDE_SHARE or size - a - b < size * 0.2:
        return 0, 0
    return a, b


def _bar_like(rows: slice, flat: np.ndarray, colour: np.ndarray, bar: float) -> bool:
    return bool(np.all(flat[rows]) and np.all(np.abs(colour[rows] - bar) <= COLOUR_MATCH))
