"""Stills found in videos: a photo that is a frame (or a screenshot of one) of a video.

Pure functions over a photo's PDQ record and a video's frame hashes; the lookup serves
both ways round (a query photo in a registered video, or a frame of a query video that is
a registered photo).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ingest import DIHEDRAL, lazy_import, parse_thumb
from registry.similarity.frames import (
    BITS,
    FrameInput,
    FrameSeq,
    distances,
    frame_sequence,
    signs,
    transform_name,
)
from registry.similarity.refine import orient, rank_still

if TYPE_CHECKING:
    import numpy as np
else:
    np = lazy_import("numpy")

#: PDQ distance (bits) within which frames tie with the closest one for a photo: the
#: noise of a JPEG export or a screenshot of a frame.
TIE_BITS = 16
#: Thumbnail correlation within which frames fit a photo equally (compression noise).
EQUAL_CORRELATION = 0.001


@dataclass(frozen=True)
class StillMatch:
    """A photo found as a frame of a video.

    Attributes:
        t: Time (seconds) of the frame the photo is: the closest in PDQ, or among PDQ's
            near-ties the one whose thumbnail fits best.
        start_s, end_s: The stretch of consecutive frames the photo matches (a still
            scene matches for as long as it lasts; ``t`` is its best frame).
        tie_start_s, tie_end_s: The earliest and latest frames that fit the photo as well
            as ``t`` does, in PDQ and in thumbnail (an empty room looks the same whenever
            it is empty): the photo may be from any of them. None when not checked.
        distance: Hamming distance to the closest frame.
        score: 1 - distance / 128, in [0, 1].
        transform: The edit that maps the frame onto the photo (``"mirror"``...), or None.
        verified_score: When the match was checked on the video's pixels
            (``registry.similarity.still_check``), the verification score of the frame
            at ``t``; None when it was matched by PDQ alone.
        also: Other times, in other stretches of the video, whose frames verified about
            as well as ``t``'s (``(time, verified score)``): an empty room before and
            after a person crossed it. Each is a segment of its own after ``t``'s.
    """

    t: float
    distance: int
    score: float
    transform: str | None = None
    start_s: float | None = None
    end_s: float | None = None
    tie_start_s: float | None = None
    tie_end_s: float | None = None
    method: str = "pdq-still-frame"
    verified_score: float | None = None
    also: tuple[tuple[float, float], ...] = ()

    def segment(self, *, photo_is_query: bool = True) -> dict[str, float | None]:
        """The contract segment: the video side's start and end are the frame's time.

        When the frame is one of several that fit equally, ``tie_start_s`` and
        ``tie_end_s`` give their span on the video's time axis.

        Args:
            photo_is_query: True when the photo is the query and the video the match
                (``match_start_s`` is the frame time); False for a frame of a query video
                that is a registered photo (``query_start_s`` is the frame time).
        """
        out = _at(self.t, photo_is_query)
        if self.tie_start_s is not None and self.tie_end_s is not None:
            # Extra fields: the video's span where the frame could equally be.
            out["tie_start_s"] = round(self.tie_start_s, 2)
            out["tie_end_s"] = round(self.tie_end_s, 2)
        return out

    def details(self, *, photo_is_query: bool = True) -> dict[str, Any]:
        """The ``neardup.found`` custody-event fields (without ``match``)."""
        out: dict[str, Any] = {
            "score": round(self.score, 4),
            "distance": self.distance,
            "method": self.method,
            "transform": self.transform,
            "segments": [self.segment(photo_is_query=photo_is_query)],
        }
        for t, score in self.also:
            segment = _at(t, photo_is_query)
            segment["verified_score"] = round(score, 4)  # extra field, as the match's own
            out["segments"].append(segment)
        if self.verified_score is not None:
            out["verified_score"] = round(self.verified_score, 4)
        return out


def _at(time_s: float, photo_is_query: bool) -> dict[str, float | None]:
    """A still's segment at one time of the video (start and end are that time)."""
    t = round(time_s, 2)
    if photo_is_query:
        out: dict[str, float | None] = {
            "query_start_s": None,
            "query_end_s": None,
            "match_start_s": t,
            "match_end_s": t,
        }
    else:
        out = {"query_start_s": t, "query_end_s": t, "match_start_s": None, "match_end_s": None}
    return out


def still_in_video(
    photo: Mapping[str, Any] | str,
    frames: Iterable[FrameInput] | FrameSeq,
    *,
    max_distance: int = 40,
    min_quality: int = 50,
    transforms: Sequence[str] = DIHEDRAL,
    limit: int = 5,
    tie_bits: int = TIE_BITS,
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
        tie_bits: Frames within this many bits of the closest are PDQ's near-ties; when
            the photo and the frames have thumbnails, the first match is the tied frame
            whose thumbnail fits best (negative: PDQ's closest frame, as is).

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
    thumb = record.get("thumb")
    if thumb and seq.thumbs is not None and len(matches) and tie_bits >= 0:
        # Ties never reach beyond ``max_distance``: only frames that match at all compete.
        reach = min(matches[0].distance + tie_bits, max_distance)
        matches = _by_thumbnail(matches, seq, best, best_variant, names, thumb, reach)
    return matches[:limit]


def _by_thumbnail(
    matches: list[StillMatch],
    seq: FrameSeq,
    best: np.ndarray,
    variant: np.ndarray,
    names: list[str],
    thumb: str,
    reach: int,
) -> list[StillMatch]:
    """Put first the frame whose thumbnail fits the photo best, among PDQ's near-ties.

    A still scene (an empty room) matches many frames about equally in PDQ, often far
    apart in time; the thumbnail tells them apart when anything in the picture moved.
    The match reports the span of the frames that fit as well (``tie_start_s``,
    ``tie_end_s``). ``reach``: the largest PDQ distance of a tied frame.
    """
    ties = np.flatnonzero(best <= reach)
    if len(ties) < 2:
        return matches
    name = names[int(variant[ties[np.argmin(best[ties])]])]
    photo = orient(parse_thumb(thumb), name)
    scores = rank_still(photo, seq.thumbs[ties])
    i = int(ties[int(np.argmax(scores))])
    # The frames the thumbnail cannot tell from the chosen one either: the honest span.
    equal = ties[scores >= float(scores.max()) - EQUAL_CORRELATION]
    chosen = StillMatch(
        t=float(seq.t[i]),
        distance=int(best[i]),
        score=max(0.0, 1.0 - int(best[i]) / (BITS / 2)),
        transform=transform_name(names[int(variant[i])]),
        start_s=next((m.start_s for m in matches if m.start_s <= seq.t[i] <= m.end_s), None),
        end_s=next((m.end_s for m in matches if m.start_s <= seq.t[i] <= m.end_s), None),
        tie_start_s=float(seq.t[equal[0]]),
        tie_end_s=float(seq.t[equal[-1]]),
    )
    rest = [m for m in matches if not (m.start_s <= chosen.t <= m.end_s)]
    return [chosen, *rest]


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
