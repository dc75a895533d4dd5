"""Stills found in videos: a photo that is a frame (or a screenshot of one) of a video.

Pure functions over a photo's PDQ record and a video's frame hashes; the lookup serves
both ways round (a query photo in a registered video, or a frame of a query video that is
a registered photo).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ingest.perceptual import DIHEDRAL

from .frame_seq import BITS, FrameInput, FrameSeq, distances, frame_sequence, signs, transform_name


@dataclass(frozen=True)
class StillMatch:
    """A photo found as a frame of a video.

    Attributes:
        t: Time (seconds) of the closest frame.
        start_s, end_s: The stretch of consecutive frames the photo matches (a still
            scene matches for as long as it lasts; ``t`` is its best frame).
        distance: Hamming distance to the closest frame.
        score: 1 - distance / 128, in [0, 1].
        transform: The edit that maps the frame onto the photo (``"mirror"``...), or None.
    """

    t: float
    distance: int
    score: float
    transform: str | None = None
    start_s: float | None = None
    end_s: float | None = None
    method: str = "pdq-still-frame"

    def segment(self, *, photo_is_query: bool = True) -> dict[str, float | None]:
        """The contract segment: the video side's start and end are the frame's time.

        Args:
            photo_is_query: True when the photo is the query and the video the match
                (``match_start_s`` is the frame time); False for a frame of a query video
                that is a registered photo (``query_start_s`` is the frame time).
        """
        t = round(self.t, 2)
        if photo_is_query:
            return {
                "query_start_s": None,
                "query_end_s": None,
                "match_start_s": t,
                "match_end_s": t,
            }
        return {"query_start_s": t, "query_end_s": t, "match_start_s": None, "match_end_s": None}

    def details(self, *, photo_is_query: bool = True) -> dict[str, Any]:
        """The ``neardup.found`` custody-event fields (without ``match``)."""
        return {
            "score": round(self.score, 4),
            "distance": self.distance,
            "method": self.method,
            "transform": self.transform,
            "segments": [self.segment(photo_is_query=photo_is_query)],
        }


def still_in_video(
    photo: Mapping[str, Any] | str,
    frames: Iterable[FrameInput] | FrameSeq,
    *,
    max_distance: int = 40,
    min_quality: int = 50,
    transforms: Sequence[str] = DIHEDRAL,
    limit: int = 5,
) -> list[StillMatch]:
    """Find the times at which a photo is a frame of a video.

    Args:
        photo: The photo's PDQ record (``{"hex", "quality", "dihedral"}``) or a bare hex.
        frames: The video's frame hashes.
        max_distance: Most bits the photo (in its best variant) may differ from a frame.
        min_quality: Photos and frames below this PDQ quality never match.
        transforms: The photo's dihedral variants tried (all 8 by default: photos are often
            rotated or mirrored).
        limit: At most this many matches: the best frame of each stretch of matching
            frames (a still scene matches several frames in a row), best first.

    Returns:
        Matches, best first; empty when none.
    """
    record = {"hex": photo} if isinstance(photo, str) else photo
    quality = record.get("quality")
    if quality is not None and int(quality) < min_quality:
        return []
    seq = frame_sequence(frames)
    if not len(seq):
        return []
    variants = list(record.get("dihedral") or [record["hex"]])
    names = [n for n in transforms if DIHEDRAL.index(n) < len(variants)]
    photo_bits = np.stack([signs(variants[DIHEDRAL.index(n)]) for n in names])
    dist = distances(photo_bits, seq.bits[0])
    dist[:, seq.quality < min_quality] = BITS
    best_variant = dist.argmin(axis=0)
    best = dist.min(axis=0)
    hits = np.flatnonzero(best <= max_distance)
    if not len(hits):
        return []
    gap = 2.5 * seq.interval_s
    groups: list[list[int]] = []
    for i in hits.tolist():
        if groups and seq.t[i] - seq.t[groups[-1][-1]] <= gap:
            groups[-1].append(i)
        else:
            groups.append([i])
    matches = []
    for group in groups:
        i = min(group, key=lambda j: (int(best[j]), j))
        name = names[int(best_variant[i])]
        matches.append(
            StillMatch(
                t=float(seq.t[i]),
                distance=int(best[i]),
                score=max(0.0, 1.0 - int(best[i]) / (BITS / 2)),
                transform=transform_name(name),
                start_s=float(seq.t[group[0]]),
                end_s=float(seq.t[group[-1]]),
            )
        )
    matches.sort(key=lambda m: (m.distance, m.t))
    return matches[:limit]


def matchable_frames(
    frames: Iterable[FrameInput], *, min_quality: int = 50, min_change: int = 16
) -> list[dict[str, Any]]:
    """The frame hashes of a video worth looking up in a photo index.

    Frames below ``min_quality`` are left out, and so is a frame within ``min_change``
    bits of the previous one kept (a still scene gives the same hash many times).
    """
    kept: list[dict[str, Any]] = []
    last: np.ndarray | None = None
    for item in sorted(
        (f for f in frames if isinstance(f, Mapping) and f.get("t") is not None),
        key=lambda f: float(f["t"]),
    ):
        if item.get("alg", "pdq") != "pdq":
            continue
        if item.get("quality") is not None and int(item["quality"]) < min_quality:
            continue
        bits = signs(item["hex"])
        if last is not None and int(np.sum(bits != last)) < min_change:
            continue
        kept.append(dict(item))
        last = bits
    return kept
