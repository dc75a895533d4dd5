"""Perceptual hashes of pictures, each a small function found by name in ``HASHERS``.

Every hash is stored as ``{"alg", "v", "hex", "quality", ...}`` so that a later version
of an algorithm can be told apart and items re-hashed from the vault (``HASH_VERSIONS``
names what the current code produces). Distances are Hamming distances between the hex
values' bits.

- ``pdq``: Meta's PDQ of the whole picture, with the hashes of its 8 rotations/mirrors
  and a 16x16 greyscale thumbnail (``ingest.thumb``).
- ``phash``: imagehash's 64-bit DCT hash (kept for comparison with other tools).
- ``pdq_content``: PDQ of the photo inside borders, letterbox bars or a screenshot
  (``ingest.photo.regions``), tagged ``"region": "border" | "band"`` with its ``"box"``.
- ``orb``: a few dozen ORB descriptors spread over the picture (``ingest.photo.features``),
  concatenated in ``"hex"``; they let the index find crops and small rotations.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ingest.lazy import lazy_import
from ingest.photo import features, regions
from ingest.photo.thumb import thumb_hex

if TYPE_CHECKING:
    import cv2
    import imagehash
    import numpy as np
    import pdqhash
    from PIL import Image
else:
    cv2 = lazy_import("cv2")
    imagehash = lazy_import("imagehash")
    np = lazy_import("numpy")
    pdqhash = lazy_import("pdqhash")
    Image = lazy_import("PIL.Image")

Hash = dict[str, Any]

#: What the current code computes: (alg, version) per hasher name. ``evidence reindex``
#: re-hashes items whose stored hashes were made by other versions.
HASH_VERSIONS: dict[str, tuple[str, int]] = {
    "pdq": ("pdq", 1),
    "phash": ("phash", 1),
    # 2: flat chrome at the edges (status bars, app headers); 3: a flat area of the picture
    # itself is not peeled as chrome, and chrome edges are placed at full resolution.
    "pdq_content": ("pdq", 3),
    "orb": ("orb", 1),
}

# The order in which pdqhash.compute_dihedral returns the eight variants: the hash of
# the picture transformed by each of these, so a transformed copy's plain hash equals
# one of the original's variants.
DIHEDRAL = (
    "identity",
    "rotate90",
    "rotate180",
    "rotate270",
    "flip_x",
    "flip_y",
    "flip_plus1",
    "flip_minus1",
)


def bits_to_hex(bits: np.ndarray) -> str:
    """Pack a 0/1 vector (most significant bit first) into hex."""
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes().hex()


def hamming(a: str, b: str) -> int:
    """Hamming distance between two equal-length hex hashes."""
    if len(a) != len(b):
        raise ValueError("hashes of different lengths")
    return (int(a, 16) ^ int(b, 16)).bit_count()


def pdq(picture: Image.Image) -> Hash:
    """Meta's PDQ: 256 bits, with the hashes of all 8 rotations and mirror images."""
    pixels = np.asarray(picture.convert("RGB"))
    variants, quality = pdqhash.compute_dihedral(pixels)
    hexes = [bits_to_hex(v) for v in variants]
    # The thumbnail lets a photo found in a still scene be placed at its instant
    # (``registry.similarity.refine``); PDQ alone matches the whole scene equally.
    gray = cv2.cvtColor(np.ascontiguousarray(pixels), cv2.COLOR_RGB2GRAY)
    return {
        "alg": "pdq",
        "v": 1,
        "hex": hexes[0],
        "quality": int(quality),
        "dihedral": hexes,
        "thumb": thumb_hex(gray),
    }


def phash(picture: Image.Image) -> Hash:
    """imagehash's DCT pHash, 64 bits."""
    value = imagehash.phash(picture)
    return {"alg": "phash", "v": 1, "hex": str(value), "quality": None}


def pdq_content(picture: Image.Image) -> list[Hash]:
    """PDQ of each content box found inside borders or a screenshot (often none)."""
    out = []
    for kind, box in regions.content_boxes(picture):
        inner = regions.crop_box(picture, box)
        hashed = pdq(inner)
        hashed["region"] = kind
        hashed["box"] = [round(v, 4) for v in box]
        out.append(hashed)
    return out


def orb(picture: Image.Image, found: features.Features | None = None) -> Hash:
    """ORB descriptors of the strongest, spread-out keypoints (``features.spread``).

    ``found``: ``features.detect(picture)`` when the caller already has it (extraction
    detects once and hands the same features on in ``Extracted.features``).
    """
    found = features.spread(found if found is not None else features.detect(picture))
    return {
        "alg": "orb",
        "v": 1,
        "hex": found.descriptors.tobytes().hex(),
        "quality": len(found),
        "size": list(found.size),
    }


HASHERS: dict[str, Callable[[Image.Image], Hash | list[Hash]]] = {
    "pdq": pdq,
    "phash": phash,
    "pdq_content": pdq_content,
    "orb": orb,
}


def versions_tag() -> str:
    """The hashers and versions the current code runs, e.g. ``pdq/1 phash/1 …``."""
    return " ".join(f"{name}/{v}" for name, (_, v) in HASH_VERSIONS.items())


def hash_picture(
    picture: Image.Image,
    names: tuple[str, ...] | None = None,
    *,
    found: features.Features | None = None,
    on_error: Callable[[str, Exception], None] | None = None,
) -> list[Hash]:
    """Run the named hashers (all by default) on one picture.

    Args:
        picture: The reduced, upright picture.
        names: Hashers to run, by their ``HASHERS`` names.
        found: The picture's ORB features when already detected (used by ``orb``).
        on_error: Called with a hasher's name and exception when it fails; the others
            go on. Without it the exception is raised.
    """
    out: list[Hash] = []
    for name in names or tuple(HASHERS):
        try:
            hasher = HASHERS[name]
            result = orb(picture, found) if hasher is orb else hasher(picture)
        except Exception as exc:
            if on_error is None:
                raise
            on_error(name, exc)
            continue
        out.extend(result if isinstance(result, list) else [result])
    return out
