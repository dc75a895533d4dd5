"""Frame-hash sequences as arrays, for comparing videos' frames in bulk.

Owns the conversion of stored frame hashes (PDQ records with a ``"t"`` key, see
``ingest.video.frames``) into time-sorted +-1 bit matrices, all 8 dihedral variants
included, with the frames' thumbnails; and the Hamming distances between such matrices
(one matrix product). Also the names of the dihedral variants as edits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ingest import DIHEDRAL, lazy_import, parse_thumb

if TYPE_CHECKING:
    import numpy as np
else:
    np = lazy_import("numpy")

#: What each dihedral variant means as an edit, said of the query relative to the match.
TRANSFORM_NAMES = {
    "identity": None,
    "rotate90": "rotate90",
    "rotate180": "rotate180",
    "rotate270": "rotate270",
    "flip_x": "flip_vertical",
    "flip_y": "mirror",
    "flip_plus1": "transpose",
    "flip_minus1": "transverse",
}
# Variant k of the query equals the match => the query is the match under k's inverse.
INVERSE = {"rotate90": "rotate270", "rotate270": "rotate90"}
BITS = 256


def transform_name(variant: str) -> str | None:
    """The edit that maps the match onto the query, when the query's ``variant`` matched."""
    return TRANSFORM_NAMES[INVERSE.get(variant, variant)]


@dataclass(frozen=True)
class FrameSeq:
    """A video's frame hashes as arrays: times, qualities and +-1 bit matrices.

    ``bits[k]`` holds dihedral variant ``DIHEDRAL[k]`` of every frame; ``has[k]`` says
    whether the variant was stored (frames hashed without variants only have identity).
    ``thumbs`` holds the frames' 16x16 thumbnails (``ingest.thumb``), or None when some
    frame has none (hashed before thumbnails were stored).
    """

    t: np.ndarray
    quality: np.ndarray
    bits: np.ndarray = field(repr=False)
    has: np.ndarray = field(repr=False)
    duration_s: float | None = None
    thumbs: np.ndarray | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.t)

    @property
    def interval_s(self) -> float:
        """The typical spacing of the frames."""
        if len(self.t) < 2:
            return 0.5
        return float(np.median(np.diff(self.t)))

    @property
    def span_s(self) -> float:
        """The duration, or an estimate from the last frame."""
        if self.duration_s:
            return float(self.duration_s)
        return float(self.t[-1] + self.interval_s) if len(self.t) else 0.0


FrameInput = Mapping[str, Any] | Sequence[Any]


def frame_sequence(
    frames: Iterable[FrameInput] | FrameSeq,
    duration_s: float | None = None,
    *,
    variants: bool = True,
    boxes: bool = False,
) -> FrameSeq:
    """Normalise frame hashes into a ``FrameSeq`` sorted by time.

    Args:
        frames: Hash records with ``"t"`` (``{"alg": "pdq", "hex", "quality", "dihedral",
            "thumb", "t"}``; records of other algorithms or without ``"t"`` are skipped) or
            tuples ``(t, hex, quality, dihedral, thumb)`` (the last ones optional).
        duration_s: The video's duration, for the shares.
        variants: Parse the dihedral variants too (a candidate that is aligned with a
            query, or searched for a still, is only ever used as it is).
        boxes: Take the hashes of the frames' content boxes (records with ``"region"``,
            ``ingest.video.content``) instead of the whole frames'.

    Raises:
        ValueError: A hash is not 64 hex digits, or a thumbnail not 512.
    """
    if isinstance(frames, FrameSeq):
        return frames
    rows = []
    for item in frames:
        if isinstance(item, Mapping):
            if item.get("alg", "pdq") != "pdq" or item.get("t") is None:
                continue
            if bool(item.get("region")) != boxes:
                continue
            row = (item["t"], item["hex"], item.get("quality"), item.get("dihedral"))
            rows.append((*row, item.get("thumb")))
        else:
            t, hexa, quality, dihedral, thumb = (*item, None, None, None)[:5]
            rows.append((t, hexa, quality, dihedral, thumb))
    rows.sort(key=lambda r: float(r[0]))
    n = len(rows)
    bits = np.zeros((len(DIHEDRAL), n, BITS), np.float32)
    has = np.zeros(len(DIHEDRAL), bool)
    has[0] = True
    if n:
        bits[0] = _signs_of([r[1] for r in rows])
    for k in range(1, len(DIHEDRAL) if variants else 1):
        # Parsed in one step per variant (a frame at a time was most of a query's time).
        found = [(i, r[3][k]) for i, r in enumerate(rows) if r[3] and k < len(r[3]) and r[3][k]]
        if found:
            bits[k, [i for i, _ in found]] = _signs_of([h for _, h in found])
        has[k] = bool(n) and len(found) == n
    times = np.array([float(r[0]) for r in rows], np.float64)
    quality = np.array([100 if r[2] is None else int(r[2]) for r in rows], np.int32)
    thumbs = None
    if n and all(r[4] for r in rows):
        thumbs = _thumbs_of([r[4] for r in rows])
    return FrameSeq(times, quality, bits, has, duration_s, thumbs)


def _signs_of(hexes: list[str]) -> np.ndarray:
    """``signs`` of many hashes at once (the same values and errors)."""
    for hexa in hexes:
        if len(hexa) != BITS // 4:
            signs(hexa)  # raises the error a single hash gets
    raw = np.frombuffer(bytes.fromhex("".join(hexes)), np.uint8).reshape(len(hexes), -1)
    return np.unpackbits(raw, axis=1).astype(np.float32) * 2 - 1


def _thumbs_of(hexes: list[str]) -> np.ndarray:
    """``parse_thumb`` of many thumbnails at once (the same values and errors)."""
    side = parse_thumb(hexes[0]).shape[0]
    for hexa in hexes:
        if len(hexa) != side * side * 2:
            parse_thumb(hexa)  # raises the error a single thumbnail gets
    raw = np.frombuffer(bytes.fromhex("".join(hexes)), np.uint8)
    return raw.reshape(len(hexes), side, side).astype(np.float32)


def signs(hexa: str) -> np.ndarray:
    raw = bytes.fromhex(hexa)
    if len(raw) * 8 != BITS:
        raise ValueError(f"not a 256-bit PDQ hash: {hexa[:16]}...")
    return np.unpackbits(np.frombuffer(raw, np.uint8)).astype(np.float32) * 2 - 1


def distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamming distances between rows of two +-1 matrices (exact in float32)."""
    return np.rint((BITS - a @ b.T) / 2).astype(np.int16)
