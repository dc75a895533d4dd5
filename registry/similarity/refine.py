"""Finer timing from frame thumbnails, once PDQ has found where a video or photo matches.

PDQ finds the scene. Within a scene that barely changes (a fixed camera on a room), or
under an overlay that dominates every frame's hash (a logo and a caption strip), many
placements are about equally close in PDQ terms. The frames' 16x16 thumbnails
(``ingest.thumb``) tell them apart:

- ``refine_offset``: for a matched stretch of a query video, the offsets at which the
  candidate's frames are as close in PDQ as at the offset found (within ``TIE_BITS`` on
  average) are ranked by the correlation of the two videos' *temporal residuals*: each
  thumbnail minus the stretch's mean thumbnail. What stays still cancels out (a logo, a
  caption's text, the walls of a room); what moves (a person, a car, the camera) is
  compared.
- ``rank_still``: among the frames a photo matches about equally well in PDQ, the one
  whose thumbnail correlates best with the photo's.

Both only re-time a match that PDQ found; they never make one, so they cannot add a false
match. Without thumbnails (frames hashed before they were stored) nothing changes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ingest import lazy_import
from registry.similarity.frames import FrameSeq

if TYPE_CHECKING:
    import numpy as np
else:
    np = lazy_import("numpy")

#: Mean PDQ distance (bits) by which another offset may trail the one found and still be
#: a tie: the noise of re-encoded frames' hashes, well under what moving content changes.
TIE_BITS = 6.0
#: Residual correlation by which a tied offset must beat the one found to replace it.
MIN_GAIN = 0.1
#: Residual correlation the chosen offset needs (unrelated motion correlates near 0).
MIN_CORRELATION = 0.5
#: Share of the stretch's frames that need a candidate frame near them at an offset.
MIN_COVERAGE = 0.8
#: Offsets tried per stretch, at most (a coarser step for very long candidates).
MAX_OFFSETS = 4000
#: Frames of a stretch compared, at most (spread evenly).
MAX_ROWS = 120

_ORIENT: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "identity": lambda a: a,
    "rotate90": lambda a: np.rot90(a, 1, axes=(-2, -1)),
    "rotate180": lambda a: np.rot90(a, 2, axes=(-2, -1)),
    "rotate270": lambda a: np.rot90(a, -1, axes=(-2, -1)),
    "flip_x": lambda a: a[..., ::-1, :],
    "flip_y": lambda a: a[..., :, ::-1],
    "flip_plus1": lambda a: np.swapaxes(a, -1, -2),
    "flip_minus1": lambda a: np.rot90(np.swapaxes(a, -1, -2), 2, axes=(-2, -1)),
}


def orient(thumbs: np.ndarray, variant: str) -> np.ndarray:
    """Thumbnails turned as PDQ's dihedral ``variant`` turns a picture (last two axes)."""
    return _ORIENT[variant](thumbs)


def refine_offset(
    q: FrameSeq, c: FrameSeq, dist: np.ndarray, rows: np.ndarray, offset: float, variant: str
) -> float:
    """The offset (candidate time - query time) of a matched stretch, re-timed.

    Args:
        q, c: The query's and the candidate's frames (with thumbnails).
        dist: PDQ distances of the query's frames (in ``variant``) to the candidate's.
        rows: Indexes of the query frames in the stretch.
        offset: The offset PDQ voting found.
        variant: The query's dihedral variant that matched (``"identity"``, ``"flip_y"``).

    Returns:
        A tied offset whose moving content correlates clearly better, else ``offset``.
    """
    if q.thumbs is None or c.thumbs is None or len(rows) < 3 or len(c) < 3:
        return offset
    if len(rows) > MAX_ROWS:
        rows = rows[np.linspace(0, len(rows) - 1, MAX_ROWS).round().astype(int)]
    qt = q.t[rows]
    residual = orient(q.thumbs[rows], variant)
    residual = residual - residual.mean(axis=0)
    energy = float(np.sqrt(np.sum(residual**2)))
    if energy < 1e-3 * len(rows):
        return offset  # nothing moves in the query: no finer timing to be had
    lo, hi = float(c.t[0] - qt[0]), float(c.t[-1] - qt[-1])
    if hi < lo:
        return offset
    step = max(min(0.25, c.interval_s / 2), (hi - lo) / MAX_OFFSETS)
    grid = np.append(np.arange(lo, hi + step / 2, step), offset)
    targets = qt[None, :] + grid[:, None]
    j = _nearest(c.t, targets)
    near = np.abs(c.t[j] - targets) <= max(c.interval_s, 0.25)
    d = np.where(near, dist[rows[None, :], j], 0).astype(np.float64)
    counts = near.sum(axis=1)
    score = d.sum(axis=1) / np.maximum(counts, 1)
    ties = (counts >= MIN_COVERAGE * len(rows)) & (score <= score[-1] + TIE_BITS)
    ties[-1] = True
    # Neighbouring offsets often pick the same candidate frames: correlate each set once.
    candidates = np.flatnonzero(ties)
    sets, which = np.unique(j[candidates], axis=0, return_inverse=True)
    corr = np.array([_residual_correlation(residual, energy, c.thumbs[s]) for s in sets])
    per_offset = corr[which.ravel()]
    found = per_offset[-1]
    best = float(per_offset.max())
    if best < MIN_CORRELATION or best < found + MIN_GAIN:
        return offset
    # The middle of the offsets that pick the best frames (the frames' own timing).
    return float(np.median(grid[candidates][per_offset >= best - 1e-9]))


def rank_still(photo: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """How well a photo's thumbnail fits each of a few frames' (higher is better).

    Args:
        photo: The photo's 16x16 thumbnail, turned like the frames.
        frames: The thumbnails of frames the photo matches about equally in PDQ.

    Returns:
        Per frame, the correlation of its thumbnail with the photo's, in [-1, 1]. A
        photo's grey levels differ from a video's by a gain and an offset (full range
        against limited range, a screenshot's colour handling), which correlation ignores.
    """
    target = photo.ravel() - photo.mean()
    rows = frames.reshape(len(frames), -1)
    rows = rows - rows.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(rows, axis=1) * max(float(np.linalg.norm(target)), 1e-9)
    return rows @ target / np.maximum(norms, 1e-9)


def _residual_correlation(residual: np.ndarray, energy: float, frames: np.ndarray) -> float:
    other = frames - frames.mean(axis=0)
    norm = float(np.sqrt(np.sum(other**2)))
    if norm < 1e-9:
        return 0.0
    return float(np.sum(residual * other)) / (energy * norm)


def _nearest(times: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Index of the frame nearest each target time."""
    right = np.clip(np.searchsorted(times, targets), 1, len(times) - 1)
    left = right - 1
    return np.where(targets - times[left] <= times[right] - targets, left, right)
