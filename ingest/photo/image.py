"""Decoding photos for hashing: header dimensions, a pixel limit, and a reduced-size,
orientation-corrected RGB picture.

Only as much is decoded as the perceptual hashes need: JPEGs are decoded DCT-scaled
(``Image.draft``) to about ``HASH_SIZE`` pixels, which is several times faster than a
full decode of a camera photo and gives the same hashes within their noise.
"""

from __future__ import annotations

import contextlib
import functools
import io
import math
import warnings
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

from ingest.errors import CorruptMedia, TooLarge
from ingest.lazy import lazy_import

if TYPE_CHECKING:
    from PIL import Image, ImageFile, ImageOps
else:
    Image = lazy_import("PIL.Image")
    ImageFile = lazy_import("PIL.ImageFile")
    ImageOps = lazy_import("PIL.ImageOps")

#: Longest side, in pixels, of the picture handed to the perceptual hashes (elongated
#: pictures get the pixels of a 4:3 one instead, see ``fit_size``).
HASH_SIZE = 512
#: Default refusal limit: images with more pixels are decompression bombs or absurd.
MAX_PIXELS = 200_000_000


@functools.cache
def pillow() -> ModuleType:
    """``PIL.Image``, set up for evidence (once, on first use): HEIC/HEIF opens (the
    pillow-heif plugin) and Pillow's own pixel limit is lifted, so its warning does not
    fire for images we have already accepted (our limit is checked before decoding)."""
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
    except ImportError:  # pragma: no cover - it is a declared dependency
        pass
    Image.MAX_IMAGE_PIXELS = None
    return Image


@dataclass
class Decoded:
    """A decoded picture: header size and a small RGB copy, upright."""

    width: int
    height: int
    format: str
    picture: Image.Image
    truncated: bool = False


def fit_size(width: int, height: int, size: int = HASH_SIZE) -> tuple[int, int]:
    """The reduced size of a ``width``×``height`` picture.

    Ordinary shapes fit in ``size``×``size``. Elongated pictures (phone screenshots,
    panoramas) keep the pixel count of a ``size``-wide 4:3 picture instead, up to twice
    ``size`` long, so the photo inside a screenshot is not starved of pixels.
    """
    long_side = max(width, height)
    by_side = size / long_side
    by_area = math.sqrt(size * size * 0.75 / (width * height))
    scale = min(1.0, max(by_side, min(by_area, 2 * size / long_side)))
    return max(1, round(width * scale)), max(1, round(height * scale))


def decode_image(data: bytes, *, max_pixels: int = MAX_PIXELS, size: int = HASH_SIZE) -> Decoded:
    """Decode an image from its bytes at reduced size, with EXIF orientation applied.

    Args:
        data: The whole file.
        max_pixels: Refuse images with more pixels than this.
        size: The longest side of the returned picture, at most (see ``fit_size``).

    Raises:
        TooLarge: The header declares more than ``max_pixels`` pixels.
        CorruptMedia: The image cannot be decoded at all.
    """
    pillow()
    try:
        im = Image.open(io.BytesIO(data))
        width, height = im.size
    except Exception as exc:
        raise CorruptMedia(f"cannot read the image header ({_why(exc)})") from exc
    if width <= 0 or height <= 0:
        raise CorruptMedia(f"image header declares {width}×{height} pixels")
    if width * height > max_pixels:
        raise TooLarge(f"{width}×{height} pixels is over the limit of {max_pixels:,}")
    fmt = (im.format or "").lower()
    target = fit_size(width, height, size)
    if fmt == "jpeg":
        # DCT scaling: decode at 1/2, 1/4 or 1/8 size, never below the requested size.
        im.draft("RGB", target)
    truncated = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            im.load()
    except OSError as exc:
        # A truncated file still shows most of the picture; keep what decodes.
        im = Image.open(io.BytesIO(data))
        if fmt == "jpeg":
            im.draft("RGB", target)
        ImageFile.LOAD_TRUNCATED_IMAGES = True
        try:
            im.load()
            truncated = True
        except Exception as exc2:
            raise CorruptMedia(f"image data cannot be decoded ({_why(exc2)})") from exc
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = False
    except Exception as exc:
        raise CorruptMedia(f"image data cannot be decoded ({_why(exc)})") from exc
    # A malformed orientation tag must not cost us the picture.
    with contextlib.suppress(Exception):
        im = ImageOps.exif_transpose(im) or im
    try:
        if im.mode not in ("RGB", "L"):
            im = _flatten(im)
        im = im.convert("RGB")
        w, h = fit_size(*im.size, size)
        im.thumbnail((w, h), Image.Resampling.BILINEAR, reducing_gap=2.0)
    except Exception as exc:
        raise CorruptMedia(f"image data cannot be converted ({_why(exc)})") from exc
    return Decoded(width=width, height=height, format=fmt, picture=im, truncated=truncated)


def _flatten(im: Image.Image) -> Image.Image:
    """Composite transparency onto white, as a viewer shows it."""
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba)
    return im


def _why(exc: BaseException) -> str:
    return " ".join((str(exc) or type(exc).__name__).split())[:200]
