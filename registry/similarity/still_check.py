"""Stills checked on pixels: a photo found among a video's frame hashes is compared with
the video's own frames around the matched time, as photos are verified.

PDQ finds the frame a photo comes from, but it cannot tell that frame from the same
instant of *another recording* of the same scene: two clips of one person in one room,
standing alike at the start, are ~10 bits apart. Photo matching meets the same problem
(another viewpoint of a scene) with verification on pixels (``verification.verify``:
ORB + RANSAC, then block-by-block agreement), and so does this: the frames of the video
within ``MatchConfig.still_window_s`` of the matched time are decoded
(``ingest.video.window``), the few whose thumbnails fit the photo best are
verified against it, and

- a frame that verifies (with ``still_min_score``: stricter than for photos, because a
  second recording from the same spot agrees on everything that did not move) confirms
  the match and gives its time (the exact frame, finer
  than the half-second grid of the frame hashes);
- frames that are conclusively different reject it;
- when no frame has the texture to say either way (a flat car park), PDQ's decision
  stands, as for photos too flat to verify.

The photo's side is the whole picture: verification finds a frame inside a screenshot's
chrome, or a photo inside a video's borders, by containment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ingest import EvidenceError, lazy_import, regions
from ingest import features as feat
from ingest.video.window import decode_window
from registry.similarity.config import MatchConfig
from registry.similarity.stills import StillMatch
from registry.similarity.verification import ENLARGE_TO, Side, verify

if TYPE_CHECKING:
    import cv2
    import numpy as np
    from PIL import Image
else:
    cv2 = lazy_import("cv2")
    np = lazy_import("numpy")
    Image = lazy_import("PIL.Image")

#: Side of the thumbnails that rank the decoded frames (fine enough to tell frames a
#: few hundredths of a second apart in fast motion).
RANK_SIZE = 32

#: ``(path, clockwise rotation or None)`` of a video, or None when it cannot be read.
VideoSource = tuple[str, int | None]


@dataclass
class StillCheck:
    """Checks still matches on pixels for one query (see module docstring).

    Args:
        config: Thresholds (``still_window_s``, ``still_frames`` and verification's).
        photo: A registered photo's picture by sha256 (None: unreadable).
        video: A registered video's file by sha256 (None: unreadable).
        query_picture: The query's picture, when the query is a photo.
        query_video: The query's file, when the query is a video.
    """

    config: MatchConfig
    photo: Callable[[str], Image.Image | None]
    video: Callable[[str], VideoSource | None]
    query_picture: Image.Image | None = None
    query_video: VideoSource | None = None
    _sides: dict[tuple[str, Any], tuple[Image.Image, Side, Side]] = field(default_factory=dict)

    def __call__(
        self, sha256: str, still: StillMatch, photo_is_query: bool, box: Any = None
    ) -> StillMatch | None:
        """The still confirmed (re-timed to the frame that verifies), the still as it
        is (nothing conclusive to check it with), or None (the frames are another shot).

        ``box``: the photo's content box whose hash matched (``ingest.photo.regions``),
        or None for the whole picture; the photo inside it is what is compared.
        """
        picture = self.query_picture if photo_is_query else self.photo(sha256)
        source = self.video(sha256) if photo_is_query else self.query_video
        if picture is None or source is None or feat.too_small(picture.size):
            return still
        window = self.config.still_window_s
        try:
            frames = decode_window(
                source[0], still.t - window, still.t + window, rotation=source[1]
            )
        except (EvidenceError, OSError):
            return still  # the video cannot be read again: PDQ's decision stands
        if not frames:
            return still
        key = ("" if photo_is_query else sha256, tuple(box) if box else None)
        if key not in self._sides:
            shown = _content(picture, box)
            side = Side.of(shown)
            self._sides[key] = (shown, side, side.mirrored())
        shown, side, mirrored = self._sides[key]
        conclusive = False
        for t, gray in _ranked(shown, frames)[: self.config.still_frames]:
            if feat.too_small((gray.shape[1], gray.shape[0])):
                continue
            frame = Side.of(Image.fromarray(gray).convert("RGB"))
            v = verify(side, frame, self.config, mirrored_query=mirrored)
            if v.ok and v.score >= self.config.still_min_score:
                return _retimed(still, t, v.score)
            conclusive |= v.conclusive
        return None if conclusive else still


def _content(picture: Image.Image, box: Any) -> Image.Image:
    """The photo inside its content box, enlarged as photo matching enlarges it for its
    votes (a frame shown small in a phone screenshot has too few features as it is)."""
    if not box:
        return picture
    inner = regions.crop_box(picture.convert("RGB"), tuple(box))
    scale = ENLARGE_TO / max(inner.size)
    if scale > 1:
        size = (round(inner.width * scale), round(inner.height * scale))
        inner = inner.resize(size, Image.Resampling.BICUBIC)
    return inner if not feat.too_small(inner.size) else picture


def _ranked(picture: Image.Image, frames: list[tuple[float, np.ndarray]]) -> list:
    """The frames, best fitting first: thumbnail correlation with the photo (as is or
    mirrored, whichever fits better)."""
    gray = np.asarray(picture.convert("L"), np.float32)
    photo = _thumb(gray)
    mirrored = photo[:, ::-1]
    scores = []
    for _, frame in frames:
        thumb = _thumb(frame.astype(np.float32))
        scores.append(max(_corr(photo, thumb), _corr(mirrored, thumb)))
    order = np.argsort(-np.array(scores), kind="stable")
    return [frames[i] for i in order]


def _thumb(gray: np.ndarray) -> np.ndarray:
    small = cv2.resize(gray, (RANK_SIZE, RANK_SIZE), interpolation=cv2.INTER_AREA)
    return small - small.mean()


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.sum(a * b)) / norm if norm > 1e-9 else 0.0


def _retimed(still: StillMatch, t: float, score: float) -> StillMatch:
    lo = t if still.tie_start_s is None else min(still.tie_start_s, t)
    hi = t if still.tie_end_s is None else max(still.tie_end_s, t)
    tie: dict[str, Any] = {}
    if still.tie_start_s is not None:
        tie = {"tie_start_s": lo, "tie_end_s": hi}
    return replace(still, t=t, verified_score=score, **tie)
