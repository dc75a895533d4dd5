"""Temporal alignment of videos by their frame hashes, and stills found in videos.

Pure functions over frame-hash sequences (what ``ingest.video.frames`` stores in a record:
PDQ hashes with a ``"t"`` key); nothing here reads files or the registry.

``align(query, candidate)`` finds where a query video's content appears in a candidate:

1. Frame pairs: every usable query frame (PDQ quality >= 50), in each allowed dihedral
   variant (the mirror image by default), is compared with every usable candidate frame;
   pairs within ``pair_distance`` bits that are among the query frame's best few vote.
2. Hough voting on the time offset ``t_candidate - t_query`` (speed is unchanged, so a
   copied stretch is a line of slope 1): each peak is one placement of query content.
3. Each peak grows into segments by walking the query's frames (low-quality ones too)
   while they agree with the candidate's frame at the same offset, bridging a few
   disagreeing frames (a logo or caption popping up). A segment needs ``min_frames``
   usable agreeing pairs. Several peaks give several segments: a compilation of several
   sources, or the same clip appearing twice.
4. Each segment's offset is re-timed by the frames' thumbnails (``registry.similarity.refine``)
   when other offsets are as close in PDQ (a still scene, a dominating overlay).

``still_in_video(photo, frames)`` (from ``registry.similarity.stills``, re-exported here) finds
the times at which a photo, in any of its 8 dihedral variants, is a frame of a video.
Frame sequences are parsed by ``registry.similarity.frames.frame_sequence``; pass a parsed
``FrameSeq`` to compare one video with many without parsing it again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ingest import DIHEDRAL, lazy_import
from registry.similarity.frames import (
    BITS,
    TRANSFORM_NAMES,
    FrameInput,
    FrameSeq,
    distances,
    frame_sequence,
    transform_name,
)
from registry.similarity.refine import refine_offset
from registry.similarity.stills import StillMatch, matchable_frames, still_in_video

if TYPE_CHECKING:
    import numpy as np
else:
    np = lazy_import("numpy")

__all__ = [
    "TRANSFORM_NAMES",
    "AlignParams",
    "FrameSeq",
    "Segment",
    "StillMatch",
    "VideoMatch",
    "align",
    "frame_sequence",
    "matchable_frames",
    "still_in_video",
]


@dataclass(frozen=True)
class AlignParams:
    """Thresholds of video-to-video alignment (Hamming distances are out of 256 bits).

    Attributes:
        pair_distance: A frame pair this close always votes.
        weak_distance, contrast: A pair up to ``weak_distance`` apart votes too when it is
            ``contrast`` bits closer than the query frame is to the candidate's frames in
            general (the median). Fast motion over a plain background (a drone over a car
            park) changes a frame's PDQ by 70 bits in 1/12 s, so two copies sampled at
            slightly different instants differ that much, yet unrelated frames differ by
            ~120 bits; a still scene is the opposite (everything is close to everything)
            and needs the absolute threshold.
        margin: A pair votes only if within this many bits of its query frame's best pair.
        per_frame: At most this many candidate frames per query frame vote.
        extend_distance: Largest distance at which a low-quality frame (never a seed)
            continues a segment; farther, it neither continues nor breaks it (its hash
            is too unstable to disagree with). Usable frames continue a segment on the
            voting bar and break it above it.
        min_agreement: Share of a segment's usable query frames that must agree with
            the candidate at the segment's offset (look-alike scenes agree on a few
            frames, copies on nearly all).
        min_frames: Fewest usable frame pairs that make a segment.
        min_duration_s: Shortest segment (fast motion samples frames densely, so a few
            frames can span a fraction of a second).
        min_quality: Frames below this PDQ quality never vote.
        bin_s: Width of an offset bin in the vote.
        tolerance_s: Pairs this close to a peak's offset belong to it.
        max_miss: Consecutive disagreeing frames bridged inside a segment.
        merge_gap_s: Segments at the same offset this close are joined.
        transforms: Dihedral variants of the query tried (``ingest.photo.perceptual.DIHEDRAL``).
        max_segments: Stop after this many segments.
    """

    pair_distance: int = 24
    weak_distance: int = 90
    contrast: int = 40
    margin: int = 12
    per_frame: int = 4
    extend_distance: int = 60
    min_agreement: float = 0.6
    min_frames: int = 3
    min_duration_s: float = 1.0
    min_quality: int = 50
    bin_s: float = 0.5
    tolerance_s: float = 0.8
    max_miss: int = 2
    merge_gap_s: float = 3.0
    transforms: tuple[str, ...] = ("identity", "flip_y")
    max_segments: int = 50


@dataclass(frozen=True)
class Segment:
    """One stretch of the query found in the match (seconds from each video's start)."""

    query_start_s: float
    query_end_s: float
    match_start_s: float
    match_end_s: float
    frames: int
    distance: float
    transform: str | None = None

    @property
    def offset_s(self) -> float:
        """``match time - query time`` along the segment."""
        return self.match_start_s - self.query_start_s

    def to_dict(self) -> dict[str, float]:
        """The contract form: query and match start and end, in seconds."""
        return {
            "query_start_s": round(self.query_start_s, 2),
            "query_end_s": round(self.query_end_s, 2),
            "match_start_s": round(self.match_start_s, 2),
            "match_end_s": round(self.match_end_s, 2),
        }


@dataclass(frozen=True)
class VideoMatch:
    """Where a query video's content appears in a candidate video.

    Attributes:
        segments: Matched stretches, in query time order.
        query_share: Share of the query's duration covered by the segments (0-1).
        match_share: Share of the candidate's duration covered (0-1).
        score: Similarity of the matched frames, 1 - distance / 128, in [0, 1].
        distance: Median Hamming distance of the matched frame pairs (segments' medians
            averaged by their frame counts).
        transform: The edit that maps the candidate onto the query (``"mirror"``...) for
            the longest segment; None when there is none.
    """

    segments: list[Segment]
    query_share: float
    match_share: float
    score: float
    distance: int
    transform: str | None = None
    method: str = "pdq-frames-align"

    def details(self) -> dict[str, Any]:
        """The ``neardup.found`` custody-event fields (without ``match``)."""
        return {
            "score": round(self.score, 4),
            "distance": self.distance,
            "method": self.method,
            "transform": self.transform,
            "segments": [s.to_dict() for s in self.segments],
            "query_share": round(self.query_share, 4),
            "match_share": round(self.match_share, 4),
        }


# --- video to video ----------------------------------------------------------------------


def align(
    query: Iterable[FrameInput] | FrameSeq,
    candidate: Iterable[FrameInput] | FrameSeq,
    *,
    query_duration_s: float | None = None,
    candidate_duration_s: float | None = None,
    params: AlignParams | None = None,
) -> VideoMatch | None:
    """Find the stretches of a query video that appear in a candidate video.

    Args:
        query: The query's frame hashes (see ``frame_sequence``).
        candidate: The candidate's frame hashes.
        query_duration_s, candidate_duration_s: Durations, for the shares (estimated from
            the last frame when not given).
        params: Thresholds.

    Returns:
        The match, or None when no segment qualifies.
    """
    p = params or AlignParams()
    q = frame_sequence(query, query_duration_s)
    c = frame_sequence(candidate, candidate_duration_s)
    if not len(q) or not len(c):
        return None
    segments: list[Segment] = []
    dists: dict[str | None, tuple[str, np.ndarray]] = {}
    for name in p.transforms:
        k = DIHEDRAL.index(name)
        if not q.has[k]:
            continue
        dist = distances(q.bits[k], c.bits[0])
        transform = transform_name(name)
        dists.setdefault(transform, (name, dist))
        # The identity is tried first: a symmetric scene matches mirrored too, but the
        # same placement found again (under another transform, or from a neighbouring
        # offset peak) adds nothing.
        for seg in _segments(q, c, dist, p, transform):
            if not _duplicate(seg, segments):
                segments.append(seg)
    if not segments:
        return None
    segments = _resolve(segments, p)[: p.max_segments]
    # Tied placements of one stretch re-time to the same place (keep one); re-timed
    # halves of one clip (split by a still stretch) join again.
    retimed: list[Segment] = []
    for seg in segments:
        seg = _retime(seg, q, c, *dists[seg.transform])
        if not _duplicate(seg, retimed):
            retimed.append(seg)
    segments = _merge(retimed, p)
    segments.sort(key=lambda s: (s.query_start_s, s.match_start_s))
    weights = [s.frames for s in segments]
    median = round(float(np.average([s.distance for s in segments], weights=weights)))
    longest = max(segments, key=lambda s: s.query_end_s - s.query_start_s)
    return VideoMatch(
        segments=segments,
        query_share=_share([(s.query_start_s, s.query_end_s) for s in segments], q.span_s),
        match_share=_share([(s.match_start_s, s.match_end_s) for s in segments], c.span_s),
        score=max(0.0, 1.0 - median / (BITS / 2)),
        distance=median,
        transform=longest.transform,
    )


def _segments(
    q: FrameSeq, c: FrameSeq, dist: np.ndarray, p: AlignParams, transform: str | None
) -> list[Segment]:
    """Segments of one query variant against the candidate, strongest offset first."""
    usable = (q.quality >= p.min_quality)[:, None] & (c.quality >= p.min_quality)[None, :]
    background = np.median(dist, axis=1)
    # The bar a pair must pass: the absolute one, or the relative one when looser.
    limit = np.maximum(p.pair_distance, np.minimum(p.weak_distance, background - p.contrast))
    voting = np.where(usable & (dist <= limit[:, None]), dist, BITS)
    pairs = _pairs(voting, p)
    if not len(pairs):
        return []
    qi, ci, d = pairs[:, 0], pairs[:, 1], pairs[:, 2]
    offsets = c.t[ci] - q.t[qi]
    # Weight by similarity (unrelated PDQ hashes are ~128 bits apart), shared among the
    # candidate frames a query frame matches about equally well: a frame of a still scene
    # matches the whole scene and says little about the offset; a moving one says a lot.
    weights = np.clip((BITS / 2 - d) / (BITS / 2), 0.05, 1.0)
    weights /= np.bincount(qi, minlength=len(q))[qi]
    alive = np.ones(len(pairs), bool)
    found: list[Segment] = []
    lo = float(offsets.min()) - p.bin_s
    while alive.any() and len(found) < p.max_segments:
        bins = np.floor((offsets[alive] - lo) / p.bin_s).astype(np.int64)
        votes = np.bincount(bins, weights=weights[alive])
        # A true offset falls on a bin edge as often as not: vote over 3 neighbouring bins.
        smooth = np.convolve(votes, np.ones(3), mode="same")
        peak = int(np.argmax(smooth))
        if smooth[peak] < p.min_frames * 0.5:
            break
        near = alive & (np.abs(offsets - (lo + (peak + 0.5) * p.bin_s)) <= 1.5 * p.bin_s)
        centre = float(np.median(offsets[near]))
        members = alive & (np.abs(offsets - centre) <= p.tolerance_s)
        alive &= ~members
        grown = _grow(q, c, dist, limit, p, qi[members], ci[members], d[members], centre)
        found += [_with_transform(seg, transform) for seg in grown]
    return found


def _pairs(voting: np.ndarray, p: AlignParams) -> np.ndarray:
    """(query index, candidate index, distance) of the pairs that vote."""
    n_best = min(p.per_frame, voting.shape[1])
    order = np.argpartition(voting, n_best - 1, axis=1)[:, :n_best]
    rows = np.repeat(np.arange(voting.shape[0]), n_best)
    cols = order.ravel()
    d = voting[rows, cols]
    best = voting.min(axis=1)[rows]
    keep = (d < BITS) & (d <= best + p.margin)
    return np.stack([rows[keep], cols[keep], d[keep]], axis=1).astype(np.int64)


def _grow(
    q: FrameSeq,
    c: FrameSeq,
    dist: np.ndarray,
    limit: np.ndarray,
    p: AlignParams,
    qi: np.ndarray,
    ci: np.ndarray,
    d: np.ndarray,
    offset: float,
) -> list[Segment]:
    """Turn one offset's voting pairs into segments by walking the query's frames."""
    best: dict[int, tuple[int, int]] = {}
    for i, j, dd in zip(qi.tolist(), ci.tolist(), d.tolist(), strict=True):
        if i not in best or dd < best[i][1]:
            best[i] = (j, dd)
    # Next to voting pairs, a frame only has to be clearly closer than chance: a logo on
    # an empty street dominates its hash, yet the frame still sits well below the median.
    background = np.median(dist, axis=1)
    extend = np.maximum(limit, np.minimum(p.weak_distance, background - p.contrast // 2))
    # Each query frame: agrees (True), disagrees (False) or has no candidate frame near
    # its time at this offset (None: the candidate has nothing there, e.g. a black stretch).
    tol = max(p.tolerance_s, c.interval_s)
    state: list[bool | None] = []
    for i, t in enumerate(q.t.tolist()):
        if i in best:
            state.append(True)
            continue
        lo, hi = np.searchsorted(c.t, [t + offset - tol, t + offset + tol])
        if hi <= lo:
            state.append(None)
        else:
            closest = int(dist[i, lo:hi].min())
            if q.quality[i] >= p.min_quality:
                state.append(bool(closest <= extend[i]))
            else:
                state.append(True if closest <= p.extend_distance else None)
    out = []
    for first, last in _runs(state, p.max_miss):
        seeds = [i for i in range(first, last + 1) if i in best]
        seed_d = [best[i][1] for i in seeds]
        usable = [i for i in range(first, last + 1) if q.quality[i] >= p.min_quality]
        agreeing = sum(state[i] is True for i in usable)
        if len(seeds) < p.min_frames or agreeing < p.min_agreement * len(usable):
            continue
        seg_offset = float(np.median([c.t[best[i][0]] - q.t[i] for i in seeds]))
        start = float(q.t[first])
        end = _segment_end(q, last)
        if end - start < p.min_duration_s:
            continue
        m_start = max(0.0, start + seg_offset)
        m_end = min(c.span_s, end + seg_offset)
        if m_end <= m_start:
            continue
        out.append(
            Segment(
                query_start_s=start,
                query_end_s=end,
                match_start_s=m_start,
                match_end_s=m_end,
                frames=len(seeds),
                distance=float(np.median(seed_d)),
            )
        )
    return out


def _retime(seg: Segment, q: FrameSeq, c: FrameSeq, variant: str, dist: np.ndarray) -> Segment:
    """The segment at the offset its frames' thumbnails place it (``thumb_refine``)."""
    rows = np.flatnonzero((q.t >= seg.query_start_s) & (q.t < seg.query_end_s))
    offset = refine_offset(q, c, dist, rows, seg.offset_s, variant)
    if offset == seg.offset_s:
        return seg
    start = max(0.0, seg.query_start_s + offset)
    end = min(c.span_s, seg.query_end_s + offset)
    if end <= start:
        return seg
    return Segment(**{**seg.__dict__, "match_start_s": start, "match_end_s": end})


def _runs(state: list[bool | None], max_miss: int) -> list[tuple[int, int]]:
    """Stretches that start and end on agreeing frames, bridging short disagreements."""
    runs = []
    first = last = -1
    misses = 0
    for i, s in enumerate(state):
        if s is True:
            if first < 0:
                first = i
            last, misses = i, 0
        elif s is False and first >= 0:
            misses += 1
            if misses > max_miss:
                runs.append((first, last))
                first = last = -1
                misses = 0
    if first >= 0:
        runs.append((first, last))
    return runs


def _segment_end(q: FrameSeq, last: int) -> float:
    """A frame stands for the time until the next frame (at most one interval)."""
    step = q.interval_s
    if last + 1 < len(q.t):
        step = min(step, float(q.t[last + 1] - q.t[last]))
    else:
        step = min(step, max(0.0, q.span_s - float(q.t[last])))
    return float(q.t[last]) + step


def _with_transform(seg: Segment, transform: str | None) -> Segment:
    return Segment(**{**seg.__dict__, "transform": transform})


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Overlap of two intervals as a share of the shorter one."""
    inter = min(a[1], b[1]) - max(a[0], b[0])
    shorter = min(a[1] - a[0], b[1] - b[0])
    return max(0.0, inter) / shorter if shorter > 0 else 0.0


def _duplicate(seg: Segment, accepted: list[Segment]) -> bool:
    """True when an accepted segment already covers the same content on both sides."""
    return any(
        _overlap((seg.query_start_s, seg.query_end_s), (a.query_start_s, a.query_end_s)) > 0.5
        and _overlap((seg.match_start_s, seg.match_end_s), (a.match_start_s, a.match_end_s)) > 0.5
        for a in accepted
    )


def _resolve(segments: list[Segment], p: AlignParams) -> list[Segment]:
    """Keep the better of segments that claim the same query time for different places.

    The same query stretch may truly appear twice in the candidate (equally well); a
    clearly worse placement of the same stretch is a look-alike (a static scene).
    """
    ranked = sorted(segments, key=lambda s: (-s.frames, s.distance))
    kept: list[Segment] = []
    for seg in ranked:
        rivals = [
            k
            for k in kept
            if _overlap((seg.query_start_s, seg.query_end_s), (k.query_start_s, k.query_end_s))
            > 0.5
        ]
        if any(
            seg.distance > k.distance + p.margin / 2 or seg.frames < 0.5 * k.frames for k in rivals
        ):
            continue
        kept.append(seg)
    return _merge(kept, p)


def _merge(segments: list[Segment], p: AlignParams) -> list[Segment]:
    """Join segments that continue each other (same offset, a short gap between them).

    A stretch whose frames are dominated by an overlay, or too dark to hash, splits a
    copied clip in two; the two halves keep the clip's offset.
    """
    out: list[Segment] = []
    for seg in sorted(segments, key=lambda s: (s.transform or "", s.offset_s, s.query_start_s)):
        last = out[-1] if out else None
        if (
            last is not None
            and last.transform == seg.transform
            and abs(last.offset_s - seg.offset_s) <= p.tolerance_s
            and -p.tolerance_s <= seg.query_start_s - last.query_end_s <= p.merge_gap_s
        ):
            out[-1] = Segment(
                query_start_s=last.query_start_s,
                query_end_s=max(last.query_end_s, seg.query_end_s),
                match_start_s=last.match_start_s,
                match_end_s=max(last.match_end_s, seg.match_end_s),
                frames=last.frames + seg.frames,
                distance=min(last.distance, seg.distance),
                transform=last.transform,
            )
        else:
            out.append(seg)
    return out


def _share(spans: list[tuple[float, float]], total: float) -> float:
    if total <= 0:
        return 0.0
    covered, end = 0.0, -np.inf
    for a, b in sorted(spans):
        a = max(a, end)
        if b > a:
            covered += b - a
            end = b
    return min(1.0, covered / total)
