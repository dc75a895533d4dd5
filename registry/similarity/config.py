"""The near-duplicate thresholds: every number that decides whether two photos are the
same, in one place. The defaults were calibrated by ``bench/photo_matching.py`` (see
docs/photo-matching.md); ``evidence ingest|match|reindex`` take them as options.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class MatchConfig:
    """Thresholds of candidate search and verification (see module docstring)."""

    #: Verified matches need at least this ``score`` (lower bound of block agreement);
    #: the highest wrong match in the benchmark scored 0.624.
    min_score: float = 0.75
    #: Hash-only matches (too little texture to verify) need a PDQ distance this small.
    pdq_distance: int = 31
    #: PDQ hashes of lower quality are not trusted on their own (PDQ's own advice).
    min_pdq_quality: int = 50
    #: Index rows within this PDQ distance make a candidate.
    candidate_distance: int = 64
    #: ORB votes: descriptor distance, ratio to the runner-up, and votes for a candidate.
    orb_distance: int = 40
    orb_ratio: float = 0.8
    min_votes: int = 5
    #: At most this many candidates are verified per query (best hash/vote first).
    max_candidates: int = 8
    #: RANSAC inliers a verified match needs.
    min_inliers: int = 15
    #: One picture must cover at least this fraction of the other's content.
    min_containment: float = 0.85
    #: Fewer textured blocks than this cannot be verified (hash-only fallback).
    min_blocks: int = 12
    #: A photo is a still of a video by PDQ alone within this distance of a frame (when it
    #: cannot be checked on pixels, or the check is inconclusive); a still checked on
    #: pixels may be up to ``candidate_distance`` away (a frame between sampled ones).
    still_distance: int = 40
    #: A still found in a video is checked on the video's frames this many seconds either
    #: side of the matched time (the frame hashes are ~0.5 s apart)...
    still_window_s: float = 0.6
    #: ... verifying at most this many of them, best-fitting thumbnails first...
    still_frames: int = 3
    #: ... one of which must score this much. Higher than ``min_score``: another
    #: recording of one scene from one spot (a person standing alike at the start of two
    #: clips) agrees on its background, and scored up to 0.765 in the benchmark, where
    #: stills of the very frame scored 0.95 and more, screenshots included.
    still_min_score: float = 0.85
    #: A verified still is also reported at the best frames of up to ``still_also_checked``
    #: other stretches of the video within ``still_also_bits`` PDQ bits of its closest
    #: frame that verify within ``still_also_margin`` of its score (an empty room before
    #: and after a person crossed it: the still may be from either time).
    still_also_bits: int = 16
    still_also_checked: int = 2
    still_also_margin: float = 0.03
    #: Review (issue 16): a pair nobody decided counts as confirmed by the system at
    #: this score or above (shown as such, never logged as a person's decision) ...
    auto_confirm: float = 0.97
    #: ... and waits in the review queue from this score up to ``auto_confirm``;
    #: below it, it is listed but not queued.
    suggest: float = 0.75

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def review(self, pair: dict[str, Any]) -> str:
        """Where a near-duplicate pair stands: ``"confirmed"`` or ``"rejected"`` (a
        person's ``decision``), ``"auto"`` (confirmed by the system, see
        ``auto_confirm``), ``"waiting"`` (for a person) or ``"below"`` (under
        ``suggest``)."""
        decision = pair.get("decision")
        if decision in ("confirmed", "rejected"):
            return str(decision)
        score = float(pair.get("score") or 0.0)
        if score >= self.auto_confirm:
            return "auto"
        return "waiting" if score >= self.suggest else "below"
