"""What re-posting does to a photo, as named transforms at chosen strengths.

Each transform takes an RGB picture and a seeded random generator and returns the
re-posted picture. ``TRANSFORMS`` lists every (family, name, function) the benchmark
runs; tests pick from it too, so both exercise the very same edits.

Definitions (the benchmark table uses these names):
    rotate ±d°   turned d degrees either way (a phone held askew); black corners, or
                 "corners cropped": the largest centred rectangle of the same shape
    crop p %     keep (1 - p) of the width and of the height, at a random position
    pad p %      add borders totalling p of the width and of the height (solid colour)
    letterbox    bars on two sides to reach a 16:9 (or 9:16) frame, p of the height
    watermark a% a channel logo covering a of the area, in a corner, semi-opaque
    screenshot   the photo inside a phone screen with status bar, caption and buttons
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFont, ImageOps

Transform = Callable[[Image.Image, np.random.Generator], Image.Image]


def jpeg(quality: int) -> Transform:
    def apply(img: Image.Image, rng: np.random.Generator) -> Image.Image:
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=quality)
        return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")

    return apply


def resize(factor: float) -> Transform:
    def apply(img: Image.Image, rng: np.random.Generator) -> Image.Image:
        w, h = img.size
        size = (max(8, round(w * factor)), max(8, round(h * factor)))
        return img.resize(size, Image.Resampling.LANCZOS)

    return apply


def mirror(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    return ImageOps.mirror(img)


def flip(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    return ImageOps.flip(img)


def rotate(degrees: float) -> Transform:
    """Rotate counter-clockwise; multiples of 90 are exact, others keep the frame size
    and fill the corners with black (as an editor's straighten tool without crop)."""

    def apply(img: Image.Image, rng: np.random.Generator) -> Image.Image:
        if degrees % 90 == 0:
            return img.rotate(degrees, expand=True)
        return img.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=False)

    return apply


def straighten(degrees: float, *, cropped: bool) -> Transform:
    """A phone held askew and straightened: turned by ``degrees`` one way or the other
    (the sign drawn at random), keeping the frame size with black corners, or with the
    corners cropped away (the largest centred rectangle of the same shape that holds no
    corner, as a gallery app's straighten tool crops)."""

    def apply(img: Image.Image, rng: np.random.Generator) -> Image.Image:
        angle = degrees if rng.random() < 0.5 else -degrees
        turned = img.rotate(angle, resample=Image.Resampling.BICUBIC, expand=False)
        if not cropped:
            return turned
        w, h = img.size
        a = np.radians(abs(angle))
        c, s = float(np.cos(a)), float(np.sin(a))
        scale = min(w / (w * c + h * s), h / (w * s + h * c))
        cw, ch = int(w * scale) - 2, int(h * scale) - 2  # a pixel in from the edge blend
        x0, y0 = (w - cw) // 2, (h - ch) // 2
        return turned.crop((x0, y0, x0 + cw, y0 + ch))

    return apply


def crop(fraction: float) -> Transform:
    def apply(img: Image.Image, rng: np.random.Generator) -> Image.Image:
        w, h = img.size
        cw, ch = round(w * (1 - fraction)), round(h * (1 - fraction))
        x0 = int(rng.integers(0, w - cw + 1))
        y0 = int(rng.integers(0, h - ch + 1))
        return img.crop((x0, y0, x0 + cw, y0 + ch))

    return apply


def _colour(rng: np.random.Generator) -> tuple[int, int, int]:
    choice = rng.integers(0, 3)
    if choice == 0:
        return (0, 0, 0)
    if choice == 1:
        return (255, 255, 255)
    return tuple(int(v) for v in rng.integers(0, 256, 3))  # type: ignore[return-value]


def pad(fraction: float) -> Transform:
    def apply(img: Image.Image, rng: np.random.Generator) -> Image.Image:
        w, h = img.size
        pw, ph = round(w * fraction), round(h * fraction)
        left, top = int(rng.integers(0, pw + 1)), int(rng.integers(0, ph + 1))
        canvas = Image.new("RGB", (w + pw, h + ph), _colour(rng))
        canvas.paste(img, (left, top))
        return canvas

    return apply


def letterbox(fraction: float) -> Transform:
    """Bars above and below (landscape) or left and right (portrait), centred."""

    def apply(img: Image.Image, rng: np.random.Generator) -> Image.Image:
        w, h = img.size
        colour = (0, 0, 0) if rng.random() < 0.7 else (255, 255, 255)
        if w >= h:
            extra = round(h * fraction)
            canvas = Image.new("RGB", (w, h + extra), colour)
            canvas.paste(img, (0, extra // 2))
        else:
            extra = round(w * fraction)
            canvas = Image.new("RGB", (w + extra, h), colour)
            canvas.paste(img, (extra // 2, 0))
        return canvas

    return apply


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has no sized default font
        return ImageFont.load_default()


def logo(area: float) -> Transform:
    """A channel logo (badge with a name) over ``area`` of the picture, in a corner."""

    def apply(img: Image.Image, rng: np.random.Generator) -> Image.Image:
        w, h = img.size
        lw = max(8, round(np.sqrt(area * w * h * 2.5)))
        lh = max(4, round(area * w * h / lw))
        badge = Image.new("RGBA", (lw, lh), (0, 0, 0, 0))
        d = ImageDraw.Draw(badge)
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        d.rounded_rectangle([0, 0, lw - 1, lh - 1], radius=lh // 4, fill=(*colour, 170))
        d.ellipse([lh // 8, lh // 8, lh - lh // 8, lh - lh // 8], fill=(255, 255, 255, 220))
        name = "".join(chr(int(c)) for c in rng.integers(65, 91, 6))
        d.text((lh + 4, lh // 4), f"@{name}", fill=(255, 255, 255, 230), font=_font(lh // 2))
        corner = int(rng.integers(0, 4))
        x = 8 if corner % 2 == 0 else w - lw - 8
        y = 8 if corner < 2 else h - lh - 8
        out = img.convert("RGBA")
        out.alpha_composite(badge, (max(0, x), max(0, y)))
        return out.convert("RGB")

    return apply


def brightness(factor: float) -> Transform:
    def apply(img: Image.Image, rng: np.random.Generator) -> Image.Image:
        return ImageEnhance.Brightness(img).enhance(factor)

    return apply


def contrast(factor: float) -> Transform:
    def apply(img: Image.Image, rng: np.random.Generator) -> Image.Image:
        return ImageEnhance.Contrast(img).enhance(factor)

    return apply


def gamma(value: float) -> Transform:
    def apply(img: Image.Image, rng: np.random.Generator) -> Image.Image:
        lut = [round(255 * (i / 255) ** value) for i in range(256)] * 3
        return img.point(lut)

    return apply


def screenshot(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """The photo as shown in a messaging app on a phone, captured as a screenshot."""
    sw, sh = 720, 1560
    dark = rng.random() < 0.5
    bg = (16, 16, 16) if dark else (245, 245, 245)
    fg = (235, 235, 235) if not dark else (220, 220, 220)
    ink = (20, 20, 20) if not dark else (230, 230, 230)
    screen = Image.new("RGB", (sw, sh), bg)
    d = ImageDraw.Draw(screen)
    hour, minute = int(rng.integers(0, 24)), int(rng.integers(0, 60))
    d.text((28, 14), f"{hour:02d}:{minute:02d}", fill=ink, font=_font(30))
    for i in range(4):  # signal, wifi and battery icons
        d.rectangle([sw - 150 + i * 30, 18, sw - 130 + i * 30, 44], fill=ink)
    d.rectangle([0, 64, sw, 150], fill=fg if not dark else (40, 40, 40))
    d.text((110, 84), "Channel name", fill=ink, font=_font(34))
    w, h = img.size
    pw = sw - 2 * int(rng.integers(0, 40))
    ph = round(h * pw / w)
    if ph > sh - 500:
        ph = sh - 500
        pw = round(w * ph / h)
    shown = img.resize((pw, ph), Image.Resampling.BILINEAR)
    top = 200 + int(rng.integers(0, 80))
    screen.paste(shown, ((sw - pw) // 2, top))
    d.text((30, top + ph + 20), "Caption of the post, views 12.3K", fill=ink, font=_font(28))
    d.rectangle([0, sh - 120, sw, sh], fill=fg if not dark else (40, 40, 40))
    for i in range(5):
        d.ellipse([60 + i * 140, sh - 90, 110 + i * 140, sh - 40], fill=ink)
    return screen


def chain(*steps: Transform) -> Transform:
    def apply(img: Image.Image, rng: np.random.Generator) -> Image.Image:
        for step in steps:
            img = step(img, rng)
        return img

    return apply


@dataclass(frozen=True)
class Named:
    """One benchmark transform: its family (a table section) and name (a row)."""

    family: str
    name: str
    apply: Transform


TRANSFORMS: list[Named] = [
    Named("re-encode", "jpeg q90", jpeg(90)),
    Named("re-encode", "jpeg q50", jpeg(50)),
    Named("re-encode", "jpeg q20", jpeg(20)),
    Named("resize", "resize 0.25×", resize(0.25)),
    Named("resize", "resize 0.5×", resize(0.5)),
    Named("resize", "resize 2×", resize(2.0)),
    Named("mirror", "mirror", mirror),
    Named("mirror", "flip vertical", flip),
    Named("rotate", "rotate 90", rotate(90)),
    Named("rotate", "rotate 180", rotate(180)),
    Named("rotate", "rotate 270", rotate(270)),
    Named("rotate", "rotate +5°", rotate(5)),
    Named("rotate", "rotate −5°", rotate(-5)),
    Named("crop", "crop 5 %", crop(0.05)),
    Named("crop", "crop 10 %", crop(0.10)),
    Named("crop", "crop 20 %", crop(0.20)),
    Named("crop", "crop 30 %", crop(0.30)),
    Named("pad", "pad 10 %", pad(0.10)),
    Named("pad", "pad 20 %", pad(0.20)),
    Named("pad", "pad 30 %", pad(0.30)),
    Named("pad", "letterbox 10 %", letterbox(0.10)),
    Named("pad", "letterbox 30 %", letterbox(0.30)),
    Named("watermark", "logo 5 %", logo(0.05)),
    Named("watermark", "logo 10 %", logo(0.10)),
    Named("watermark", "logo 20 %", logo(0.20)),
    Named("photometric", "brightness 0.6", brightness(0.6)),
    Named("photometric", "brightness 1.4", brightness(1.4)),
    Named("photometric", "contrast 0.6", contrast(0.6)),
    Named("photometric", "contrast 1.5", contrast(1.5)),
    Named("photometric", "gamma 0.5", gamma(0.5)),
    Named("photometric", "gamma 2.0", gamma(2.0)),
    Named("screenshot", "phone screenshot", screenshot),
    Named("combination", "crop 10 % + mirror + q50", chain(crop(0.10), mirror, jpeg(50))),
    Named(
        "combination",
        "pad 20 % + logo 10 % + 0.5×",
        chain(pad(0.20), logo(0.10), resize(0.5)),
    ),
    Named(
        "combination",
        "rotate 3° + brightness 1.3 + q40",
        chain(rotate(3), brightness(1.3), jpeg(40)),
    ),
    Named(
        "combination",
        "screenshot of a mirrored 20 %-crop",
        chain(crop(0.20), mirror, screenshot),
    ),
    Named(
        "combination",
        "rotate 90 + crop 15 % + gamma 0.7",
        chain(rotate(90), crop(0.15), gamma(0.7)),
    ),
    # Added later (issue 18), at the end so that every earlier row keeps its seeds.
    Named("rotate", "rotate ±3°", straighten(3, cropped=False)),
    Named("rotate", "rotate ±5°", straighten(5, cropped=False)),
    Named("rotate", "rotate ±8°", straighten(8, cropped=False)),
    Named("rotate", "rotate ±3°, corners cropped", straighten(3, cropped=True)),
    Named("rotate", "rotate ±5°, corners cropped", straighten(5, cropped=True)),
    Named("rotate", "rotate ±8°, corners cropped", straighten(8, cropped=True)),
    Named(
        "combination",
        "mirror + crop 20 % + q40",
        chain(mirror, crop(0.20), jpeg(40)),
    ),
    # The bound: "up to ±10°".
    Named("rotate", "rotate ±10°", straighten(10, cropped=False)),
    Named("rotate", "rotate ±10°, corners cropped", straighten(10, cropped=True)),
]


def by_name(name: str) -> Named:
    """The transform called ``name``."""
    for named in TRANSFORMS:
        if named.name == name:
            return named
    raise KeyError(name)
