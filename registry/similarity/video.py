"""Near-duplicates that involve a video: a video inside another (trimmed, re-encoded,
mirrored, letterboxed, cut into a compilation), a photo that is a frame of a video, and
a frame of a video that is a registered photo.

Candidates come from the near-duplicate index, where every video frame hash is a row
with its time; each candidate is then checked with temporal alignment
(``video_align.align``) or a still-in-video search (``still_match.still_in_video``),
which give the matched segments. Results have the fields of ``neardup.found`` plus
``sha256`` (the other item).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ingest import lazy_import
from registry.similarity.align import align
from registry.similarity.config import MatchConfig
from registry.similarity.frame_index import FrameIndex
from registry.similarity.frames import FrameSeq, frame_sequence
from registry.similarity.index import NearDupIndex, parse_hex
from registry.similarity.stills import StillMatch, matchable_frames, still_in_video

if TYPE_CHECKING:
    import numpy as np
else:
    np = lazy_import("numpy")

#: Looser for a video's frames: temporal alignment is the strict check that follows,
#: and re-encoded, rescaled frames drift further from their originals than stills do.
VIDEO_CANDIDATE_DISTANCE = 64
#: At most this many candidates are aligned per query.
MAX_CANDIDATES = 25
#: At most this many distinct frames of a query video are looked up.
MAX_QUERY_FRAMES = 240
#: Query codes compared with the index in one step (bounds the distance matrix).
QUERY_CHUNK = 128
#: Variants of a query frame looked up: as is, and mirrored (the common re-post edit).
FRAME_VARIANTS = (0, 5)  # indexes into the 8 dihedral variants: identity, flip_y


def photo_pdq(hashes: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """A photo's whole-picture PDQ record (with its dihedral variants)."""
    for h in hashes:
        if h.get("alg") == "pdq" and h.get("t") is None and not h.get("region"):
            return h
    return None


def photo_pdqs(hashes: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """A photo's PDQ records: the whole picture first, then each content box (the photo
    inside borders, a screenshot's band or its status bar and app chrome), as
    ``ingest.photo.regions`` found them for photo matching."""
    records = [h for h in hashes if h.get("alg") == "pdq" and h.get("t") is None and h.get("hex")]
    return sorted(records, key=lambda h: bool(h.get("region")))


#: Checks a still match on pixels: ``(other item, match, photo_is_query, the photo's
#: content box that matched or None)`` to the match confirmed (perhaps re-timed), or None
#: when it is another shot (``registry.similarity.still_check.StillCheck``).
Check = Callable[[str, StillMatch, bool, Any], StillMatch | None]


def best_still(
    records: list[dict[str, Any]],
    frames: list[FrameSeq],
    config: MatchConfig,
    check: Check | None = None,
    sha256: str = "",
    photo_is_query: bool = True,
) -> StillMatch | None:
    """The best still match of any of a photo's PDQ records (whole picture or content
    box) among a video's frames (whole, or inside their content boxes): the closest, the
    whole picture on a tie.

    Without ``check`` a still is matched by PDQ alone, within ``config.still_distance``.
    With it (``sha256``: the other item) the still is checked on pixels, and may lie up
    to ``config.candidate_distance`` from the sampled frames when a frame verifies."""
    reach = config.candidate_distance if check is not None else config.still_distance
    found: list[StillMatch] = []
    box = None
    for seq in frames:
        for record in records:
            matches = still_in_video(record, seq, max_distance=reach)
            if matches and (not found or matches[0].distance < found[0].distance):
                found, box = matches, record.get("box")
    if not found or check is None:
        return found[0] if found else None
    best = found[0]
    checked = check(sha256, best, photo_is_query, box)
    if checked is None or (
        checked.verified_score is None and best.distance > config.still_distance
    ):
        return None
    if checked.verified_score is None:
        return checked
    return _also(checked, found[1:], config, lambda m: check(sha256, m, photo_is_query, box))


def _also(
    checked: StillMatch,
    others: list[StillMatch],
    config: MatchConfig,
    check: Callable[[StillMatch], StillMatch | None],
) -> StillMatch:
    """The verified still with the other times it may equally be from (``also``).

    A photo of an empty room matches the room before and after a person crossed it,
    minutes apart; the thumbnail prefers one by a hair and the pixel check then confirms
    it, so the other would be lost. Each other stretch whose best frame is about as close
    in PDQ is checked on its own pixels, and kept when it verifies about as well
    (``MatchConfig.still_also_*``).
    """
    assert checked.verified_score is not None
    near = [m for m in others if m.distance <= checked.distance + config.still_also_bits]
    also: list[tuple[float, float]] = []
    for other in near[: config.still_also_checked]:
        if abs(other.t - checked.t) <= 2 * config.still_window_s:
            continue
        again = check(other)
        if again is None or again.verified_score is None:
            continue
        if again.verified_score >= checked.verified_score - config.still_also_margin:
            also.append((again.t, again.verified_score))
    return replace(checked, also=tuple(sorted(also))) if also else checked


def frame_hashes(hashes: Iterable[dict[str, Any]], boxes: bool = False) -> list[dict[str, Any]]:
    """A video's frame hashes: of the whole frames, or (``boxes``) of the pictures inside
    their content boxes (``ingest.video.content``; most videos have none)."""
    return [
        h
        for h in hashes
        if h.get("alg") == "pdq" and h.get("t") is not None and bool(h.get("region")) == boxes
    ]


def frame_seqs(hashes: list[dict[str, Any]], duration_s: float | None = None) -> list[FrameSeq]:
    """A video's frames as sequences for still matching: whole, then content boxes."""
    seqs = [frame_sequence(frame_hashes(hashes), duration_s, variants=False)]
    boxed = frame_hashes(hashes, boxes=True)
    if boxed:
        seqs.append(frame_sequence(boxed, duration_s, variants=False, boxes=True))
    return seqs


def _codes(records: list[dict[str, Any]], variants: Iterable[int]) -> np.ndarray:
    rows = []
    for h in records:
        dihedral = h.get("dihedral") or [h["hex"]]
        for v in variants:
            if v < len(dihedral):
                rows.append(parse_hex(dihedral[v])[0])
    return np.array(rows, np.uint8).reshape(-1, 32)


def _candidates(
    index: NearDupIndex, codes: np.ndarray, exclude: set[str], frames_only: bool, reach: int
) -> list[str]:
    """Items with a stored PDQ row within reach of any query code, closest first.

    A photo's few codes are searched exhaustively among the frames; a video's many are
    looked up in the frame multi-index (``frame_index``).
    """
    best: dict[int, int] = {}
    if not frames_only:
        best = FrameIndex.of(index).nearest(codes, reach)
    for start in range(0, len(codes) if frames_only else 0, QUERY_CHUNK):
        for hit in index.search_pdq(codes[start : start + QUERY_CHUNK], reach):
            if not np.isfinite(index.pdq_t[hit.row]):
                continue
            if hit.distance < best.get(hit.owner, 1 << 30):
                best[hit.owner] = hit.distance
    shas = [index.items[o] for o in sorted(best, key=lambda o: (best[o], o))]
    return [s for s in shas if s not in exclude][:MAX_CANDIDATES]


def video_matches(
    media_type: str | None,
    hashes: list[dict[str, Any]],
    duration_s: float | None,
    index: NearDupIndex,
    lookup: Callable[[str], dict[str, Any] | None],
    exclude: Iterable[str] = (),
    check: Check | None = None,
    config: MatchConfig | None = None,
) -> list[dict[str, Any]]:
    """The registered items that share footage with a query, best first.

    Args:
        media_type: The query's type (``"image"`` or ``"video"``).
        hashes: The query's stored-form hashes (frames carry ``"t"``).
        duration_s: The query's duration (videos).
        index: The near-duplicate index.
        lookup: An item document by sha256 (its ``media_type``, ``hashes``, duration).
        exclude: Items not to report.
        check: Checks stills on pixels (a photo in a video, a video's frame that is a
            photo); without it they are matched by PDQ alone.
        config: Thresholds of still matching (``still_distance``, ``candidate_distance``).
    """
    config = config or MatchConfig()
    skip = set(exclude)
    out: list[dict[str, Any]] = []
    if media_type == "video":
        frames = frame_hashes(hashes)
        boxed = frame_hashes(hashes, boxes=True)
        query = matchable_frames(frames)[:MAX_QUERY_FRAMES]
        query_boxes = matchable_frames(boxed)[:MAX_QUERY_FRAMES]
        if not query and not query_boxes:
            return []
        # Parsed once, not once per candidate.
        seq = frame_sequence(frames, duration_s)
        seqs = [seq] + ([frame_sequence(boxed, duration_s, boxes=True)] if boxed else [])
        codes = _codes(query + query_boxes, FRAME_VARIANTS)
        for sha in _candidates(index, codes, skip, False, VIDEO_CANDIDATE_DISTANCE):
            doc = lookup(sha) or {}
            if doc.get("media_type") == "video":
                if not len(seq):
                    continue
                found = align(
                    seq,
                    frame_sequence(
                        frame_hashes(doc.get("hashes") or []),
                        doc.get("duration_s"),
                        variants=False,
                    ),
                )
                if found is not None:
                    out.append({"sha256": sha, **found.details()})
            elif doc.get("media_type") == "image":
                records = photo_pdqs(doc.get("hashes") or [])
                still = best_still(records, seqs, config, check, sha, photo_is_query=False)
                if still is not None:
                    out.append({"sha256": sha, **still.details(photo_is_query=False)})
    elif media_type == "image":
        records = photo_pdqs(hashes)
        if not records:
            return []
        codes = _codes(records, range(8))
        reach = config.candidate_distance if check is not None else config.still_distance
        for sha in _candidates(index, codes, skip, True, reach):
            doc = lookup(sha) or {}
            if doc.get("media_type") != "video":
                continue
            seqs = frame_seqs(doc.get("hashes") or [])
            still = best_still(records, seqs, config, check, sha, photo_is_query=True)
            if still is not None:
                out.append({"sha256": sha, **still.details(photo_is_query=True)})
    return sorted(out, key=lambda m: -float(m.get("score") or 0))
