"""Perceptual hashes of pictures, each a small function found by name in ``HASHERS``.

Every hash is stored as ``{"alg", "v", "hex", "quality", ...}`` so that a later version
of an algorithm can be told apart and items re-hashed from the vault. Distances are
Hamming distances between the hex values' bits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import imagehash
import numpy as np
import pdqhash
from PIL import Image

Hash = dict[str, Any]

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
    return {"alg": "pdq", "v": 1, "hex": hexes[0], "quality": int(quality), "dihedral": hexes}


def phash(picture: Image.Image) -> Hash:
    """imagehash's DCT pHash, 64 bits."""
    value = imagehash.phash(picture)
    return {"alg": "phash", "v": 1, "hex": str(value), "quality": None}


HASHERS: dict[str, Callable[[Image.Image], Hash]] = {
    "pdq": pdq,
    "phash": phash,
}


def hash_picture(picture: Image.Image, names: tuple[str, ...] | None = None) -> list[Hash]:
    """Run the named hashers (all by default) on one picture."""
    return [HASHERS[name](picture) for name in names or tuple(HASHERS)]
