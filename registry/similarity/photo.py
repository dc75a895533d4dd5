"""Near-duplicate matching: candidates from the hash index, then verification on pixels.

The index (``registry.similarity.index``) proposes a handful of candidates: items whose PDQ is
close to one of the query's (whole picture or content box, in any of the 8 rotations and
mirror images), and items that many of the query's ORB descriptors vote for (crops,
small rotations, screenshots). Hashes alone cannot be trusted to say "same photo": two
photos of one street from a few steps apart can hash alike. So each candidate is
*verified* (``verify``):

1. ORB features of both pictures are matched (Lowe's ratio test), for the query as is
   and mirrored, and a similarity transform (rotation, scale, shift) is fitted with
   RANSAC. A re-post is a similarity of the original; another viewpoint is not.
2. The candidate is warped onto the query and compared block by block (16 px blocks,
   normalised cross-correlation of the blurred grey levels, so brightness, contrast and
   gamma do not matter). ``score`` is the lower 95 % confidence bound (Wilson) of the
   fraction of textured overlapping blocks that agree (NCC > 0.9), so a small picture's
   few blocks prove less: a logo costs the blocks it covers; parallax and perspective
   make whole regions disagree.
3. One picture must lie (almost) inside the other (a crop, or padding/a screenshot
   around it): partly overlapping views are different photos.

When a pair has too little texture to verify, a PDQ distance within ``pdq_distance``
(quality ≥ 50 on both sides, as PDQ's authors advise) is accepted on its own.

Every threshold is a ``MatchConfig`` field; the defaults were calibrated by
``bench/photo_matching.py`` (see docs/photo-matching.md).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ingest import DIHEDRAL, lazy_import, regions
from ingest import features as feat
from registry.similarity.config import MatchConfig
from registry.similarity.index import NearDupIndex, PdqHit, parse_hex
from registry.similarity.verification import ENLARGE_TO, Side, Verification, verify

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image
else:
    np = lazy_import("numpy")
    Image = lazy_import("PIL.Image")

#: The transform (registered copy -> query) when query variant ``k`` matched: the
#: variant undoes the transform, so this is its inverse.
VARIANT_TRANSFORM = {
    "identity": "identity",
    "rotate90": "rotate270",
    "rotate180": "rotate180",
    "rotate270": "rotate90",
    "flip_x": "flip",
    "flip_y": "mirror",
    "flip_plus1": "transpose",
    "flip_minus1": "transverse",
}


@dataclass
class Match:
    """One registered item that the query is a near-duplicate of."""

    sha256: str
    score: float
    distance: int | None
    method: str
    transform: str | None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = {
            "sha256": self.sha256,
            "score": round(self.score, 4),
            "distance": self.distance,
            "method": self.method,
            "transform": self.transform,
            "segments": [],
        }
        out.update(self.details)
        return out


# --- search -------------------------------------------------------------------------


@dataclass
class Query:
    """A picture to match: its reduced-size decode and its perceptual hashes."""

    picture: Image.Image
    hashes: list[dict[str, Any]]
    #: ``feat.detect(picture)`` when ingest already computed it.
    features: feat.Features | None = None
    _side: Side | None = None
    _mirrored: Side | None = None
    _sets: list[tuple[bool, np.ndarray]] | None = None

    @property
    def verifiable(self) -> bool:
        """Whether the picture is large enough for ORB votes and pixel verification
        (``ingest.photo.features.MIN_SIDE``); a smaller one is matched by hash only."""
        return not feat.too_small(self.picture.size)

    @property
    def side(self) -> Side:
        if self._side is None:
            self._side = Side.of(self.picture, self.features)
        return self._side

    @property
    def mirrored(self) -> Side:
        if self._mirrored is None:
            self._mirrored = self.side.mirrored()
        return self._mirrored

    def pdq_codes(self) -> tuple[np.ndarray, list[tuple[str, str, int]]]:
        """Every PDQ variant of the query, with (region, variant, quality) per row."""
        codes, labels = [], []
        for h in self.hashes:
            if h.get("alg") != "pdq" or h.get("t") is not None:
                continue
            variants = h.get("dihedral") or [h["hex"]]
            for name, value in zip(DIHEDRAL, variants, strict=False):
                codes.append(parse_hex(value)[0])
                labels.append((h.get("region", "whole"), name, int(h.get("quality") or 0)))
        if not codes:
            return np.zeros((0, 32), np.uint8), []
        return np.array(codes, np.uint8), labels

    def orb_sets(self) -> list[tuple[bool, np.ndarray]]:
        """Descriptor sets for voting, each ``(mirrored, descriptors)``: the query's and
        its mirror image's, and the same for the photo inside its borders or screenshot,
        enlarged, because a small photo in a large frame yields too few features.
        None when the picture is too small to have features."""
        if self._sets is None:
            self._sets = self._orb_sets()
        return self._sets

    def _orb_sets(self) -> list[tuple[bool, np.ndarray]]:
        if not self.verifiable:
            return []
        sets = [
            (False, feat.spread(self.side.features, feat.QUERY_VOTES).descriptors),
            (True, feat.spread(self.mirrored.features, feat.QUERY_VOTES).descriptors),
        ]
        box = self.side.band or self.side.box
        x0, y0, x1, y1 = box
        if (x1 - x0) * (y1 - y0) < 0.8:
            inner = regions.crop_box(self.picture.convert("RGB"), box)
            scale = ENLARGE_TO / max(inner.size)
            if scale > 1:
                size = (round(inner.width * scale), round(inner.height * scale))
                inner = inner.resize(size, Image.Resampling.BICUBIC)
            g = feat.gray(inner)
            if feat.too_small((g.shape[1], g.shape[0])):
                return sets  # a sliver of a photo: the whole picture's sets only
            for mirrored, arr in ((False, g), (True, np.ascontiguousarray(g[:, ::-1]))):
                found = feat.spread(feat.detect(arr), feat.QUERY_VOTES)
                sets.append((mirrored, found.descriptors))
        return sets


@dataclass
class Candidate:
    owner: int
    distance: int | None = None
    variant: str | None = None
    quality: int = 0
    votes: int = 0
    mirrored_votes: int = 0


def candidates(
    query: Query, index: NearDupIndex, config: MatchConfig, exclude: Iterable[str] = ()
) -> list[Candidate]:
    """Items worth verifying, closest hash or most votes first."""
    skip = {index.position[s] for s in exclude if s in index.position}
    found: dict[int, Candidate] = {}
    codes, labels = query.pdq_codes()

    def from_hit(hit: PdqHit) -> Candidate:
        _, variant, quality = labels[hit.query]
        stored_quality = int(index.pdq_quality[hit.row])
        return Candidate(hit.owner, hit.distance, variant, min(quality, stored_quality))

    for hit in index.search_pdq(codes, config.candidate_distance):
        if hit.owner not in skip:
            found[hit.owner] = from_hit(hit)
    by_hash = sorted(found.values(), key=lambda c: (c.distance, c.owner))
    voted: dict[int, Candidate] = {}
    for mirrored, descriptors in query.orb_sets():
        for owner, n in index.vote_orb(descriptors, config.orb_distance, config.orb_ratio).items():
            if owner in skip:
                continue
            c = voted.get(owner) or found.get(owner) or Candidate(owner)
            if mirrored:
                c.mirrored_votes = max(c.mirrored_votes, n)
            else:
                c.votes = max(c.votes, n)
            voted[owner] = c
    voted = {o: c for o, c in voted.items() if max(c.votes, c.mirrored_votes) >= config.min_votes}
    by_votes = sorted(voted.values(), key=lambda c: (-max(c.votes, c.mirrored_votes), c.owner))
    for c in by_votes[: config.max_candidates]:
        if c.distance is None:  # found by votes only: its PDQ distance is still reported
            hit = index.pdq_distance(codes, c.owner)
            if hit is not None:
                c.distance, c.variant, c.quality = (
                    hit.distance,
                    from_hit(hit).variant,
                    from_hit(hit).quality,
                )
    chosen: list[Candidate] = []
    # Alternate between the two lists so neither crowds the other out.
    for pair in itertools.zip_longest(by_hash, by_votes):
        for c in pair:
            if c is not None and all(c.owner != d.owner for d in chosen):
                chosen.append(c)
    return chosen[: config.max_candidates]


def find_matches(
    query: Query,
    index: NearDupIndex,
    load: Callable[[str], Image.Image | None],
    config: MatchConfig | None = None,
    *,
    exclude: Iterable[str] = (),
    cache: dict[str, Side] | None = None,
) -> list[Match]:
    """The registered items ``query`` is a near-duplicate of, best first.

    Args:
        query: The picture and its hashes.
        index: The index of registered items.
        load: Returns a registered item's picture (reduced size), or None if unreadable.
        config: Thresholds (defaults: the calibrated ones).
        exclude: Items not to report (the query itself when it is registered).
        cache: Prepared pictures of registered items, by sha256, reused across calls.
    """
    config = config or MatchConfig()
    matches = []
    for cand in candidates(query, index, config, exclude):
        sha = index.items[cand.owner]
        other = cache.get(sha) if cache is not None else None
        if other is None:
            picture = load(sha)
            too_small = picture is None or feat.too_small(picture.size)
            other = Side.of(picture) if not too_small else None
            if other is not None and cache is not None:
                cache[sha] = other
        v: Verification | None = None
        if other is not None and query.verifiable:
            prefer_mirror = cand.mirrored_votes > cand.votes or (
                cand.variant is not None
                and VARIANT_TRANSFORM[cand.variant] != "identity"
                and "flip" in cand.variant
            )
            v = verify(
                query.side,
                other,
                config,
                mirrored_query=query.mirrored,
                prefer_mirror=prefer_mirror,
            )
        if v is not None and v.ok:
            matches.append(
                Match(
                    sha,
                    v.score,
                    cand.distance,
                    "orb+ransac",
                    v.transform,
                    {
                        "inliers": v.inliers,
                        "agreement": round(v.agreement, 4),
                        "blocks": v.blocks,
                        "angle": round(v.angle, 2),
                        "scale": round(v.scale, 4),
                        "mirrored": v.mirrored,
                        "coverage_query": round(v.coverage_query, 4),
                        "coverage_match": round(v.coverage_match, 4),
                    },
                )
            )
        elif (
            (v is None or not v.conclusive)
            and cand.distance is not None
            and cand.distance <= config.pdq_distance
            and cand.quality >= config.min_pdq_quality
        ):
            matches.append(
                Match(
                    sha,
                    1.0 - cand.distance / 128,
                    cand.distance,
                    "pdq",
                    VARIANT_TRANSFORM.get(cand.variant or "identity"),
                    {"quality": cand.quality},
                )
            )
    matches.sort(key=lambda m: (-m.score, m.sha256))
    return matches
