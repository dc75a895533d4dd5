"""Verification of one candidate pair on pixels (see ``registry.similarity.photo``).

ORB features of both pictures are matched and a similarity transform fitted with RANSAC,
for the query as is and mirrored; the candidate is warped onto the query and compared
block by block. ``verify`` decides; ``Side`` is a picture prepared for it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ingest import features as feat
from ingest import lazy_import, regions
from registry.similarity.config import MatchConfig

if TYPE_CHECKING:
    import cv2
    import numpy as np
    from PIL import Image
else:
    cv2 = lazy_import("cv2")
    np = lazy_import("numpy")
    Image = lazy_import("PIL.Image")


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


@functools.cache
def _matcher() -> cv2.BFMatcher:
    return cv2.BFMatcher(cv2.NORM_HAMMING)


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
    pairs = _matcher().knnMatch(query.features.descriptors, other.features.descriptors, k=2)
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


def alignment(
    query: Image.Image, other: Image.Image, config: MatchConfig | None = None
) -> np.ndarray | None:
    """How to lay ``other`` over ``query`` (the review UI's overlay): the 3×3 matrix that
    takes a pixel ``(x, y, 1)`` of ``query`` to the same content in ``other``, fitted as
    ``verify`` fits it (ORB, RANSAC, the query as is and mirrored); None when the two
    do not fit (too few inliers: pictures too flat, or not the same)."""
    config = config or MatchConfig()
    side = Side.of(query)
    target = Side.of(other)
    best: tuple[int, bool, np.ndarray] | None = None
    for mirrored, tried in ((False, side), (True, side.mirrored())):
        fitted = _fit(tried, target, config.orb_ratio)
        if fitted is not None and (best is None or fitted[1] > best[0]):
            best = (fitted[1], mirrored, fitted[0])
    if best is None or best[0] < config.min_inliers:
        return None
    _, mirrored, matrix = best
    full = np.vstack([matrix, [0.0, 0.0, 1.0]])
    if mirrored:  # the fit is of the mirrored query: x -> w - 1 - x first
        width = side.gray.shape[1]
        full = full @ np.array([[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    return full
