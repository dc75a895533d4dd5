"""Small synthetic videos for the video tests: shots panning over ``support.media.scene``
pictures.

A "source" is a function of time (which shot, how far the pan has gone), so an edited copy
(a trim, a compilation, a mirrored or letterboxed re-post) is rendered from the same
function over its own time range and encoded separately, at its own frame rate.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from support.media import encode_h264, scene

SIZE = (192, 108)
SHOT_S = 4.0


@lru_cache(maxsize=64)
def _panorama(seed: int, width: int, height: int) -> np.ndarray:
    return np.asarray(scene(seed, width * 3, height))


@dataclass(frozen=True)
class Source:
    """Shots of ``SHOT_S`` seconds, each a pan across its own scene."""

    seed: int
    seconds: float

    def frame(self, t: float, size: tuple[int, int] = SIZE) -> np.ndarray:
        width, height = size
        shot = int(t // SHOT_S)
        pano = _panorama(self.seed * 100 + shot, width, height)
        x = int((t - shot * SHOT_S) / SHOT_S * 2 * width)
        return np.ascontiguousarray(pano[:, x : x + width])


Picture = Callable[[float], np.ndarray]


def black(_: float) -> np.ndarray:
    return np.zeros((SIZE[1], SIZE[0], 3), np.uint8)


def constant(_: float) -> np.ndarray:
    return np.full((SIZE[1], SIZE[0], 3), (70, 120, 200), np.uint8)


def mirror(rgb: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(rgb[:, ::-1])


def letterbox(rgb: np.ndarray, canvas: tuple[int, int] = (192, 192)) -> np.ndarray:
    """The picture centred on a black canvas of another shape."""
    width, height = canvas
    scale = min(width / rgb.shape[1], height / rgb.shape[0])
    w, h = round(rgb.shape[1] * scale), round(rgb.shape[0] * scale)
    out = np.zeros((height, width, 3), np.uint8)
    x, y = (width - w) // 2, (height - h) // 2
    out[y : y + h, x : x + w] = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)
    return out


def logo(rgb: np.ndarray) -> np.ndarray:
    out = rgb.copy()
    h, w = out.shape[:2]
    cv2.rectangle(out, (w - w // 4, 4), (w - 6, 4 + h // 8), (230, 30, 30), -1)
    cv2.putText(out, "TV", (w - w // 4 + 4, 4 + h // 10), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255,) * 3)
    return out


@dataclass(frozen=True)
class Part:
    """``seconds`` of ``picture``, starting at its time ``start``."""

    picture: Picture
    start: float
    seconds: float


def write(
    path: Path,
    parts: Sequence[Part],
    *,
    fps: int = 10,
    edit: Callable[[np.ndarray], np.ndarray] | None = None,
    size: tuple[int, int] | None = None,
    rotation: int | None = None,
) -> Path:
    """Encode the parts one after another as H.264.

    Args:
        size: Output size (defaults to the first picture's size after ``edit``).
        rotation: Display rotation (counter-clockwise degrees) written into the stream,
            with the pictures stored turned the other way so that they display upright.
    """
    frames = []
    for part in parts:
        for n in range(round(part.seconds * fps)):
            rgb = part.picture(part.start + n / fps)
            frames.append(edit(rgb) if edit else rgb)
    if rotation:
        # Stored rotated clockwise by the display rotation, shown upright by a player.
        frames = [np.ascontiguousarray(np.rot90(f, -round(rotation / 90))) for f in frames]
    return encode_h264(path, frames, fps, crf="23", size=size, rotation=rotation)
