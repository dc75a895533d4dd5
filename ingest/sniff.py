"""Content sniffing: which photo or video format a file is, from its first bytes.

The file name and extension are never consulted: evidence arrives renamed, without
extensions, or with misleading ones.
"""

from __future__ import annotations

from dataclasses import dataclass

from ingest.errors import UnsupportedType

#: How many leading bytes ``sniff`` needs.
HEAD_SIZE = 64


@dataclass(frozen=True)
class Sniffed:
    """A sniffed type: ``media_type`` is ``"image"`` or ``"video"``."""

    media_type: str
    format: str
    mime: str


_JPEG = Sniffed("image", "jpeg", "image/jpeg")
_PNG = Sniffed("image", "png", "image/png")
_GIF = Sniffed("image", "gif", "image/gif")
_BMP = Sniffed("image", "bmp", "image/bmp")
_TIFF = Sniffed("image", "tiff", "image/tiff")
_WEBP = Sniffed("image", "webp", "image/webp")
_HEIC = Sniffed("image", "heic", "image/heic")
_HEIF = Sniffed("image", "heif", "image/heif")
_AVIF = Sniffed("image", "avif", "image/avif")
_MP4 = Sniffed("video", "mp4", "video/mp4")
_MOV = Sniffed("video", "mov", "video/quicktime")
_3GP = Sniffed("video", "3gp", "video/3gpp")
_3G2 = Sniffed("video", "3g2", "video/3gpp2")
_MKV = Sniffed("video", "mkv", "video/x-matroska")
_WEBM = Sniffed("video", "webm", "video/webm")
_AVI = Sniffed("video", "avi", "video/x-msvideo")

# ISO base media file format brands (the ftyp box) -> type. HEIF stills and MP4-family
# video share the container, so the brand decides.
_HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"}
_HEIF_BRANDS = {b"mif1", b"msf1", b"mif2"}
_AVIF_BRANDS = {b"avif", b"avis"}
_QT_BRANDS = {b"qt  "}
_3GP_PREFIX = (b"3gp", b"3ge", b"3gg", b"3gs")
_3G2_PREFIX = (b"3g2",)
# QuickTime files from before ftyp existed start directly with one of these atoms.
_QT_ATOMS = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}
_BMP_HEADER_SIZES = {12, 16, 40, 52, 56, 64, 108, 124}


def sniff(head: bytes) -> Sniffed:
    """Identify a photo or video format from the first ``HEAD_SIZE`` bytes.

    Args:
        head: The first bytes of the file (at least 12 for most formats).

    Returns:
        The sniffed type.

    Raises:
        UnsupportedType: The bytes are not one of the supported formats.
    """
    if head.startswith(b"\xff\xd8\xff"):
        return _JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return _PNG
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return _GIF
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return _TIFF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return _WEBP
    if head[:4] == b"RIFF" and head[8:12] in (b"AVI ", b"AVIX"):
        return _AVI
    if head[:4] == b"\x1a\x45\xdf\xa3":
        # EBML header; the DocType element says whether it is WebM or Matroska.
        return _WEBM if b"webm" in head[:HEAD_SIZE] else _MKV
    if head[4:8] == b"ftyp":
        return _iso_bmff(head)
    if head[4:8] in _QT_ATOMS and int.from_bytes(head[:4], "big") >= 8:
        return _MOV
    if (
        head[:2] == b"BM"
        and len(head) >= 18
        and int.from_bytes(head[14:18], "little") in _BMP_HEADER_SIZES
    ):
        return _BMP
    raise UnsupportedType(describe_head(head))


def _iso_bmff(head: bytes) -> Sniffed:
    box_size = int.from_bytes(head[:4], "big")
    major = head[8:12]
    end = min(len(head), box_size) if box_size >= 16 else len(head)
    compatible = {head[i : i + 4] for i in range(16, end - 3, 4)}
    brands = {major} | compatible
    if major in _HEIC_BRANDS:
        return _HEIC
    if major in _AVIF_BRANDS:
        return _AVIF
    if major in _HEIF_BRANDS:
        return _HEIC if brands & _HEIC_BRANDS else (_AVIF if brands & _AVIF_BRANDS else _HEIF)
    if major in _QT_BRANDS:
        return _MOV
    if major.startswith(_3G2_PREFIX):
        return _3G2
    if major.startswith(_3GP_PREFIX):
        return _3GP
    return _MP4


def describe_head(head: bytes) -> str:
    """A short human description of unknown leading bytes, for error messages."""
    if not head:
        return "no bytes"
    shown = head[:8]
    text = "".join(chr(b) if 32 <= b < 127 else "." for b in shown)
    return f"starts with {shown.hex(' ')} ({text!r})"
