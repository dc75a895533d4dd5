"""Near-duplicate matching: candidates from the hash index, then verification on pixels.

The index (``registry.neardup``) proposes a handful of candidates: items whose PDQ is
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
from dataclasses import asdict, dataclass, field
from typing import Any

import cv2
import numpy as np
from PIL import Image

from ingest import features as feat
from ingest import regions
from ingest.perceptual import DIHEDRAL

from .neardup import NearDupIndex, PdqHit, parse_hex

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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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


# --- verification -----------------------------------------------------------------------


@dataclass
class Side:
    """A picture prepared for verification: grey levels, features, and where its photo
    is (``box``: inside uniform borders; ``band``: the photo of a screenshot, if any)."""

    gray: np.ndarray
    features: feat.Features
    box: regions.Box
    band: regions.Box | None

    @classmethod
    def of(cls, picture: Image.Image, features: feat.Features | None = None) -> Side:
        """``features``: the picture's ``feat.detect`` when already known (ingest's)."""
        picture = picture.convert("RGB")
        boxes = dict(regions.content_boxes(picture))
        g = feat.gray(picture)
        if features is None or features.size != picture.size:
            features = feat.detect(g)
        return cls(g, features, boxes.get("border") or regions.FULL, boxes.get("band"))

    def mirrored(self) -> Side:
        g = np.ascontiguousarray(self.gray[:, ::-1])
        return Side(g, feat.detect(g), _mirror_box(self.box), _mirror_box(self.band))


def _mirror_box(box: regions.Box | None) -> regions.Box | None:
    if box is None:
        return None
    x0, y0, x1, y1 = box
    return (1 - x1, y0, 1 - x0, y1)


@dataclass
class Verification:
    """What verification found for one pair (``ok`` says whether it is a match)."""

    ok: bool
    conclusive: bool
    score: float = 0.0
    agreement: float = 0.0
    inliers: int = 0
    mirrored: bool = False
    angle: float = 0.0
    scale: float = 1.0
    coverage_query: float = 0.0
    coverage_match: float = 0.0
    coverage_band: float = 0.0
    blocks: int = 0
    transform: str | None = None
    reason: str = ""


_MATCHER = cv2.BFMatcher(cv2.NORM_HAMMING)
#: Agreement is measured on blocks of this many pixels (of the ~512 px pictures).
BLOCK = 16
#: A block agrees when its normalised cross-correlation exceeds this.
BLOCK_NCC = 0.9
#: Photos inside borders or screenshots are enlarged to this size for the vote.
ENLARGE_TO = 512
#: Re-posts are resized by at most this factor (either way) relative to each other.
MIN_SCALE = 0.1
#: Blocks flatter than this (grey-level standard deviation) carry no evidence.
MIN_BLOCK_STD = 6.0


def _fit(query: Side, other: Side, ratio: float) -> tuple[np.ndarray, int] | None:
    if len(query.features) < 8 or len(other.features) < 8:
        return None
    pairs = _MATCHER.knnMatch(query.features.descriptors, other.features.descriptors, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < ratio * p[1].distance]
    if len(good) < 6:
        return None
    src = query.features.points[[m.queryIdx for m in good]]
    dst = other.features.points[[m.trainIdx for m in good]]
    # Reprojection tolerance scales with the candidate's size (about 4 px at 512 px).
    tolerance = max(2.0, 0.008 * max(other.gray.shape))
    matrix, inliers = cv2.estimateAffinePartial2D(
        src,
        dst,
        method=cv2.RANSAC,
        ransacReprojThreshold=tolerance,
        maxIters=2000,
        confidence=0.995,
        refineIters=10,
    )
    if matrix is None or inliers is None:
        return None
    return matrix, int(inliers.sum())


def _box_mask(shape: tuple[int, int], box: regions.Box) -> np.ndarray:
    h, w = shape
    mask = np.zeros((h, w), bool)
    x0, y0, x1, y1 = box
    mask[round(y0 * h) : round(y1 * h), round(x0 * w) : round(x1 * w)] = True
    return mask


def _blocks(arr: np.ndarray, size: int) -> np.ndarray:
    hb, wb = arr.shape[0] // size, arr.shape[1] // size
    cut = arr[: hb * size, : wb * size]
    return cut.reshape(hb, size, wb, size).transpose(0, 2, 1, 3).reshape(hb, wb, -1)


@dataclass
class Overlap:
    agreement: float
    blocks: int
    coverage_query: float
    coverage_match: float
    coverage_band: float


def _agreement(query: Side, other: Side, matrix: np.ndarray) -> Overlap:
    """Block agreement and how much of each picture's content the other covers."""
    h, w = query.gray.shape
    oh, ow = other.gray.shape
    inverse = cv2.invertAffineTransform(matrix)
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    source, to_source = other.gray.astype(np.float32), inverse
    if scale > 1.25:
        # The candidate is larger: average it down first, or the warp would alias.
        small = (max(1, round(ow / scale)), max(1, round(oh / scale)))
        source = cv2.resize(source, small, interpolation=cv2.INTER_AREA)
        to_source = cv2.invertAffineTransform(matrix / scale)
    warped = cv2.warpAffine(source, to_source, (w, h), flags=cv2.INTER_LINEAR)
    other_box = _box_mask((oh, ow), other.box)
    seen = cv2.warpAffine(other_box.astype(np.uint8), inverse, (w, h), flags=cv2.INTER_NEAREST)
    seen = seen > 0
    query_box = _box_mask((h, w), query.box)
    coverage_query = float((seen & query_box).sum() / max(1, query_box.sum()))
    back = cv2.warpAffine(query_box.astype(np.uint8), matrix, (ow, oh), flags=cv2.INTER_NEAREST)
    coverage_match = float(((back > 0) & other_box).sum() / max(1, other_box.sum()))
    compared = seen & query_box
    regions_compared = [compared]
    coverage_band = 0.0
    if query.band is not None:
        # In a screenshot of a crop the registered copy also covers the app around the
        # photo: compare the photo alone too. (A band wrongly found in an ordinary photo
        # gives a smaller region, and the better-supported of the two is kept.)
        band = _box_mask((h, w), query.band)
        coverage_band = float((seen & band).sum() / max(1, band.sum()))
        regions_compared.append(compared & band)
    a = cv2.GaussianBlur(query.gray.astype(np.float32), (0, 0), 1.0)
    b = cv2.GaussianBlur(warped, (0, 0), 1.0)
    size = BLOCK
    if h < 3 * size or w < 3 * size:
        return Overlap(0.0, 0, coverage_query, coverage_match, coverage_band)
    agrees, textured = _block_agreement(a, b, size)
    best_score, best_n, best_agree = -1.0, 0, 0.0
    for region in regions_compared:
        # Blocks on the edge of the compared region mix photo and background: left out.
        valid = cv2.erode(region.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
        inside = _blocks(valid[1:-1, 1:-1].astype(np.float32), size).min(axis=2) > 0
        counted = inside & textured
        n = int(counted.sum())
        fraction = float(agrees[counted].sum() / n) if n else 0.0
        if lower_bound(fraction, n) > best_score:
            best_score, best_n, best_agree = lower_bound(fraction, n), n, fraction
    return Overlap(best_agree, best_n, coverage_query, coverage_match, coverage_band)


def _block_agreement(a: np.ndarray, b: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Per block (of ``a`` without its 1-pixel rim): whether ``b`` agrees, and whether
    both are textured enough to say."""
    h, w = a.shape
    # Compare each block with the warped candidate shifted by up to one pixel: resampling
    # leaves sub-pixel misalignments that would otherwise cost fine textures their
    # agreement, while parallax and perspective move things by far more.
    ab = _blocks(a[1:-1, 1:-1], size)
    ab = ab - ab.mean(axis=2, keepdims=True)
    sa = np.sqrt((ab * ab).mean(axis=2))
    best = np.full(sa.shape, -1.0, np.float32)
    sb_best = np.zeros(sa.shape, np.float32)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            shifted = b[1 + dy : h - 1 + dy, 1 + dx : w - 1 + dx]
            bb = _blocks(shifted, size)
            bb = bb - bb.mean(axis=2, keepdims=True)
            sb = np.sqrt((bb * bb).mean(axis=2))
            ncc = (ab * bb).mean(axis=2) / np.maximum(sa * sb, 1e-6)
            better = ncc > best
            best[better] = ncc[better]
            sb_best[better] = sb[better]
    textured = (sa > MIN_BLOCK_STD) & (sb_best > MIN_BLOCK_STD)
    return best > BLOCK_NCC, textured


def lower_bound(fraction: float, n: int, z: float = 1.96) -> float:
    """Wilson's lower confidence bound of a proportion: what ``fraction`` of ``n``
    blocks allows us to claim (a small picture's few blocks prove less)."""
    if n <= 0:
        return 0.0
    centre = fraction + z * z / (2 * n)
    margin = z * np.sqrt(fraction * (1 - fraction) / n + z * z / (4 * n * n))
    return float(max(0.0, (centre - margin) / (1 + z * z / n)))


def _area(box: regions.Box) -> float:
    return (box[2] - box[0]) * (box[3] - box[1])


def _describe(v: Verification, query: Side) -> str:
    parts = []
    if v.mirrored:
        parts.append("mirror")
    # The fitted map takes query points to the match; the transform that made the
    # query from the match turns the other way (image y points down, so a positive
    # fitted angle is a counter-clockwise turn of the query).
    angle = v.angle if not v.mirrored else -v.angle
    quarter = round(angle / 90) % 4
    rest = (angle - round(angle / 90) * 90 + 180) % 360 - 180
    if v.mirrored and quarter == 2:
        parts, quarter = ["flip"], 0
    elif v.mirrored and quarter in (1, 3):
        parts, quarter = ["transpose" if quarter == 1 else "transverse"], 0
    if quarter:
        parts.append(f"rotate{quarter * 90}")
    if abs(rest) >= 1.5:
        parts.append(f"rotate{rest:+.0f}°")
    full = 0.95
    # A screenshot has app chrome around the photo, so its photo band is much smaller
    # than the inside of its borders; padding has nothing around the photo.
    chrome = (
        query.band is not None
        and _area(query.band) <= 0.75 * _area(query.box)
        and v.coverage_query <= 0.8  # the registered copy leaves the chrome unexplained
    )
    frame = "screenshot" if chrome else "pad" if query.box != regions.FULL else None
    shown = v.coverage_band if chrome else v.coverage_query
    if v.coverage_match < full <= shown:
        parts.append("crop")  # the query shows part of the registered copy
    if frame:
        parts.append(frame)
    if shown < full <= v.coverage_match:
        parts.append("uncrop")  # the registered copy shows part of the query
    return "+".join(parts) or "identity"


def verify(
    query: Side,
    other: Side,
    config: MatchConfig,
    *,
    mirrored_query: Side | None = None,
    prefer_mirror: bool = False,
) -> Verification:
    """Decide whether ``query`` is a re-post of ``other`` (see module docstring)."""
    tries = [(False, query)]
    if mirrored_query is not None:
        tries.insert(1 if not prefer_mirror else 0, (True, mirrored_query))
    best: tuple[int, bool, Side, np.ndarray] | None = None
    for mirrored, side in tries:
        fitted = _fit(side, other, config.orb_ratio)
        if fitted is not None and (best is None or fitted[1] > best[0]):
            best = (fitted[1], mirrored, side, fitted[0])
        if best is not None and best[0] >= 4 * config.min_inliers:
            break  # clearly this orientation; skip the other
    enough = min(len(query.features), len(other.features)) >= 4 * config.min_inliers
    if best is None or best[0] < config.min_inliers:
        found = best[0] if best else 0
        return Verification(False, enough, inliers=found, reason="too few inliers")
    inliers, mirrored, side, matrix = best
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    angle = float(np.degrees(np.arctan2(matrix[1, 0], matrix[0, 0])))
    if not MIN_SCALE <= scale <= 1 / MIN_SCALE:
        # A degenerate fit (a repeated texture mapped onto one spot), not a re-post.
        return Verification(False, enough, inliers=inliers, scale=scale, reason="implausible scale")
    o = _agreement(side, other, matrix)
    v = Verification(
        ok=False,
        conclusive=o.blocks >= config.min_blocks,
        score=lower_bound(o.agreement, o.blocks),
        agreement=o.agreement,
        inliers=inliers,
        mirrored=mirrored,
        angle=angle,
        scale=scale,
        coverage_query=o.coverage_query,
        coverage_match=o.coverage_match,
        coverage_band=o.coverage_band,
        blocks=o.blocks,
    )
    if not v.conclusive:
        v.reason = "too little texture"
    elif max(o.coverage_query, o.coverage_band, o.coverage_match) < config.min_containment:
        v.reason = "partial overlap: neither picture contains the other"
    elif v.score < config.min_score:
        v.reason = "content disagrees after alignment"
    else:
        v.ok = True
        v.transform = _describe(v, side)
    return v


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
        enlarged, because a small photo in a large frame yields too few features."""
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
            other = Side.of(picture) if picture is not None else None
            if other is not None and cache is not None:
                cache[sha] = other
        v: Verification | None = None
        if other is not None:
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
