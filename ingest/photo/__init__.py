"""Photos: decoding at hashing size (``image``), embedded metadata (``exif``), perceptual
hashes found by name in ``HASHERS`` (``perceptual``), ORB features (``features``),
content boxes inside borders and screenshots (``regions``), and 16x16 thumbnails
(``thumb``)."""

from ingest.photo import features, regions
from ingest.photo.exif import read_exif
from ingest.photo.features import Features
from ingest.photo.image import MAX_PIXELS, Decoded, decode_image, pillow
from ingest.photo.perceptual import DIHEDRAL, HASHERS, bits_to_hex, hash_picture, versions_tag
from ingest.photo.thumb import parse_thumb, thumb_hex

__all__ = [
    "DIHEDRAL",
    "HASHERS",
    "MAX_PIXELS",
    "Decoded",
    "Features",
    "bits_to_hex",
    "decode_image",
    "features",
    "hash_picture",
    "parse_thumb",
    "pillow",
    "read_exif",
    "regions",
    "thumb_hex",
    "versions_tag",
]
