"""Local features (ORB keypoints and binary descriptors) of a picture.

Whole-image hashes cannot follow a photo through a crop or a small rotation; local
features can, because each describes a small patch around a corner-like point, at its
own scale and orientation. They serve twice: a few dozen spread-out descriptors are
stored per item (``orb`` hash) so the index can vote for candidates, and the full set is
matched between a query and each candidate to verify it (``registry.similarity.photo``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ingest.errors import PictureTooSmall
from ingest.lazy import lazy_import

if TYPE_CHECKING:
    import cv2
    import numpy as np
    from PIL import Image
else:
    cv2 = lazy_import("cv2")
    np = lazy_import("numpy")
    Image = lazy_import("PIL.Image")

#: Descriptors stored per item in the index: enough to survive a 30 % crop.
STORED_DESCRIPTORS = 64
#: Features detected for voting and verification.
QUERY_FEATURES = 800
#: Pictures narrower or lower than this have no room for a keypoint: ORB leaves 15 px
#: at each edge and describes 31 px patches, so detection is skipped (``PictureTooSmall``).
MIN_SIDE = 32
#: Spread descriptors a query brings to the vote (per orientation).
QUERY_VOTES = 300
#: Grid used to spread the stored descriptors over the picture.
SPREAD_GRID = 4


@dataclass
class Features:
    """Keypoints (x, y in pixels of the analysed picture) and their 32-byte descriptors."""

    points: np.ndarray  # N×2 float32
    descriptors: np.ndarray  # N×32 uint8
    size: tuple[int, int]  # (width, height) of the picture they were found in

    def __len__(self) -> int:
        return len(self.points)

    def subset(self, index: np.ndarray) -> Features:
        return Features(self.points[index], self.descriptors[index], self.size)


def gray(picture: Image.Image | np.ndarray) -> np.ndarray:
    arr = np.asarray(picture)
    if arr.ndim == 3:
        arr = cv2.cvtColor(np.ascontiguousarray(arr), cv2.COLOR_RGB2GRAY)
    return np.ascontiguousarray(arr)


def too_small(size: tuple[int, int]) -> bool:
    """Whether a ``(width, height)`` picture is too small for ORB (see ``MIN_SIDE``)."""
    return min(size) < MIN_SIDE


def detect(picture: Image.Image | np.ndarray, n: int = QUERY_FEATURES) -> Features:
    """ORB keypoints and descriptors, strongest first.

    Raises:
        PictureTooSmall: The picture is under ``MIN_SIDE`` pixels on a side.
    """
    g = gray(picture)
    height, width = g.shape
    if too_small((width, height)):
        raise PictureTooSmall(f"{width}x{height} px; ORB needs {MIN_SIDE} px a side")
    orb = cv2.ORB_create(
        nfeatures=n,
        scaleFactor=1.3,
        nlevels=6,
        edgeThreshold=15,
        patchSize=31,
        fastThreshold=10,
    )
    keypoints, descriptors = orb.detectAndCompute(g, None)
    if descriptors is None or not keypoints:
        return Features(np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8), (width, height))
    responses = np.fromiter((k.response for k in keypoints), np.float64, len(keypoints))
    order = np.argsort(-responses, kind="stable")
    points = cv2.KeyPoint_convert(keypoints).reshape(-1, 2)[order]
    return Features(np.ascontiguousarray(points, np.float32), descriptors[order], (width, height))


def spread(features: Features, n: int = STORED_DESCRIPTORS, grid: int = SPREAD_GRID) -> Features:
    """The ``n`` strongest features taken round-robin from a grid of cells, so that a
    crop keeps some of them wherever it is."""
    if len(features) <= n:
        return features
    width, height = features.size
    cx = np.minimum((features.points[:, 0] * grid / width).astype(int), grid - 1)
    cy = np.minimum((features.points[:, 1] * grid / height).astype(int), grid - 1)
    cell = cy * grid + cx
    # Rank of each feature within its cell (features are sorted strongest first).
    rank = np.zeros(len(features), int)
    seen: dict[int, int] = {}
    for i, c in enumerate(cell.tolist()):
        rank[i] = seen.get(c, 0)
        seen[c] = rank[i] + 1
    order = np.lexsort((np.arange(len(features)), rank))[:n]
    return features.subset(np.sort(order))
