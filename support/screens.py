"""Screenshots of a picture as a phone shows it: status bars, app chrome and captions.

The commonest still on messaging channels is not a clean frame but a screenshot of the
video playing (or of a photo in a chat): the picture with a phone's status bar above it,
often an app's header, a caption above or below, buttons, all saved as a low-quality
JPEG. ``phone_screenshot`` draws one in a chosen ``Style``; ``STYLES`` are the kinds the
benchmarks and tests cycle through, and ``random_style`` draws one.

Unlike ``support.transforms.screenshot`` (one fixed chat layout for photos), the bars'
heights and colours vary, and the picture may fill the width of a landscape screen with
nothing but a status bar above it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image, ImageDraw, ImageFont

RGB = tuple[int, int, int]

WHITE: RGB = (255, 255, 255)
BLACK: RGB = (0, 0, 0)


@dataclass(frozen=True)
class Style:
    """How the screen around the picture looks.

    Attributes:
        screen: ``"portrait"`` (720 wide, the picture across the width, the rest app
            background) or ``"landscape"`` (the picture scaled to ``width`` with only the
            bars above and below it: a full-screen player captured with its status bar).
        status: Height of the status bar (pixels of a 720-wide screen) and its colour.
        chrome: Height of an app header below the status bar (0: none) and its colour.
        caption: ``"above"``, ``"below"`` or None: lines of text next to the picture.
        background: The app's background colour.
        quality: JPEG quality the screenshot is saved at.
        width: Width of a landscape screenshot.
    """

    screen: str = "portrait"
    status: tuple[int, RGB] = (48, WHITE)
    chrome: tuple[int, RGB] = (0, WHITE)
    caption: str | None = None
    background: RGB = WHITE
    quality: int = 60
    width: int = 1280


def _ink(colour: RGB) -> RGB:
    return BLACK if sum(colour) > 380 else WHITE


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has no sized default font
        return ImageFont.load_default()


def _status_bar(draw: ImageDraw.ImageDraw, width: int, top: int, style: Style, clock: str) -> int:
    height, colour = style.status
    if height <= 0:
        return top
    ink = _ink(colour)
    draw.rectangle([0, top, width, top + height - 1], fill=colour)
    size = max(10, int(height * 0.5))
    draw.text((24, top + (height - size) // 2), clock, fill=ink, font=_font(size))
    icon = max(6, int(height * 0.4))
    for i in range(4):  # signal, wifi, battery
        x = width - 40 - (4 - i) * (icon + 8)
        draw.rectangle([x, top + (height - icon) // 2, x + icon, top + (height + icon) // 2], ink)
    return top + height


def _chrome(draw: ImageDraw.ImageDraw, width: int, top: int, style: Style) -> int:
    height, colour = style.chrome
    if height <= 0:
        return top
    ink = _ink(colour)
    draw.rectangle([0, top, width, top + height - 1], fill=colour)
    size = max(10, int(height * 0.4))
    arrow = [(20, top + height // 2), (40, top + height // 4), (40, top + 3 * height // 4)]
    draw.polygon(arrow, ink)
    draw.text((70, top + (height - size) // 2), "Channel · video", fill=ink, font=_font(size))
    return top + height


def _caption(draw: ImageDraw.ImageDraw, width: int, top: int, style: Style, lines: int) -> int:
    ink = _ink(style.background)
    size = 26
    for i in range(lines):
        text = ["Footage from this morning, shared", "by a reader. Views 12.3K", "#news"][i % 3]
        draw.text((24, top + 10 + i * (size + 10)), text, fill=ink, font=_font(size))
    return top + 20 + lines * (size + 10)


def phone_screenshot(picture: Image.Image, style: Style, clock: str = "09:41") -> Image.Image:
    """The picture shown on a phone in ``style``, as a screenshot (before JPEG saving)."""
    picture = picture.convert("RGB")
    if style.screen == "landscape":
        width = style.width
        shown_h = round(picture.height * width / picture.width)
        shown = picture.resize((width, shown_h), Image.Resampling.BILINEAR)
        # Status bar and chrome above (scaled to the wider screen), caption below or above.
        scale = width / 720
        status = replace(style, status=(round(style.status[0] * scale), style.status[1]))
        chrome_h = round(style.chrome[0] * scale)
        cap_h = 0 if style.caption is None else round(90 * scale / 2)
        height = status.status[0] + chrome_h + shown_h + cap_h
        screen = Image.new("RGB", (width, height), style.background)
        draw = ImageDraw.Draw(screen)
        top = _status_bar(draw, width, 0, status, clock)
        top = _chrome(draw, width, top, replace(style, chrome=(chrome_h, style.chrome[1])))
        if style.caption == "above":
            top = _caption(draw, width, top, style, 1) + max(0, cap_h - 56)
        screen.paste(shown, (0, top))
        if style.caption == "below":
            _caption(draw, width, top + shown_h, style, 1)
        return screen
    width, height = 720, 1560
    screen = Image.new("RGB", (width, height), style.background)
    draw = ImageDraw.Draw(screen)
    top = _status_bar(draw, width, 0, style, clock)
    top = _chrome(draw, width, top, style)
    top += 24
    if style.caption == "above":
        top = _caption(draw, width, top, style, 3)
    shown_h = min(round(picture.height * width / picture.width), height - top - 260)
    shown_w = round(picture.width * shown_h / picture.height)
    shown = picture.resize((shown_w, shown_h), Image.Resampling.BILINEAR)
    screen.paste(shown, ((width - shown_w) // 2, top))
    top += shown_h
    if style.caption == "below":
        _caption(draw, width, top, style, 3)
    bar = style.chrome[1] if style.chrome[0] else style.status[1]
    draw.rectangle([0, height - 110, width, height], fill=bar)
    for i in range(5):
        draw.ellipse([60 + i * 140, height - 80, 100 + i * 140, height - 40], fill=_ink(bar))
    return screen


def as_jpeg(picture: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    picture.convert("RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


#: Screenshot kinds cycled through by the benchmarks: status bars of several heights and
#: colours (white, black, coloured), with and without app chrome, captions above and below.
STYLES: tuple[tuple[str, Style], ...] = (
    ("white status bar", Style("landscape", (48, WHITE), quality=50)),
    ("black status bar, caption below", Style("landscape", (64, BLACK), caption="below")),
    ("tall coloured bar + chrome", Style("landscape", (90, (40, 90, 200)), (70, (25, 25, 25)))),
    ("thin white bar, caption above", Style("landscape", (24, WHITE), caption="above")),
    ("portrait app, white", Style("portrait", (48, WHITE), (96, (245, 245, 245)), "below")),
    ("portrait app, dark", Style("portrait", (60, BLACK), (88, (30, 30, 30)), "above", BLACK)),
    (
        "portrait app, coloured",
        Style("portrait", (40, (200, 40, 60)), (80, (200, 40, 60)), "below", (240, 236, 225)),
    ),
)


def random_style(rng: np.random.Generator) -> Style:
    """A style drawn at random: bar heights 20-100 px, white, black or coloured."""

    def colour() -> RGB:
        k = int(rng.integers(0, 3))
        if k < 2:
            return (WHITE, BLACK)[k]
        return tuple(int(v) for v in rng.integers(0, 256, 3))  # type: ignore[return-value]

    return Style(
        screen=("portrait", "landscape")[int(rng.integers(0, 2))],
        status=(int(rng.integers(20, 101)), colour()),
        chrome=(int(rng.integers(0, 2)) * int(rng.integers(50, 110)), colour()),
        caption=(None, "above", "below")[int(rng.integers(0, 3))],
        background=colour(),
        quality=int(rng.integers(35, 75)),
    )
