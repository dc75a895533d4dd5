"""Generate the project's demo media: synthetic photos and videos with known ground truth.

Everything is drawn procedurally (a street, a lake at sunset, a panning street video) from
fixed seeds, so the samples are the project's own work, show nothing sensitive and
regenerate byte for byte. The derived files imitate what a re-post does to a picture or
a clip (EXIF stripped, resized, mirrored, cropped, stamped with a logo, re-encoded), so the
registry's perceptual matching has something realistic to find. ``README.md`` next to this
script gives the ground truth.

Usage::

    python samples/make_samples.py [--out DIR]   (default: samples/media)

Text is drawn with OpenCV's built-in Hershey fonts rather than a system font, so the output
does not depend on which fonts a machine has installed.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TypeVar

import av
import cv2
import numpy as np
from PIL import ExifTags, Image
from PIL.TiffImagePlugin import IFDRational

HERE = Path(__file__).resolve().parent

PHOTO_SIZE = (1024, 768)
VIDEO_SIZE = (640, 360)
VIDEO_FPS = 25
VIDEO_FRAMES = 12 * VIDEO_FPS
PAN_PX_PER_FRAME = 8
CLIP_START_S, CLIP_END_S = 4.0, 8.0
CLIP_SIZE = (480, 270)
LETTERBOX_PX = 20
#: Scenes are laid out in units of a 768-unit-high picture, whatever their pixel size.
SCENE_UNITS = 768

FONT = cv2.FONT_HERSHEY_DUPLEX
Color = tuple[int, int, int]
T = TypeVar("T")

SHOP_SIGNS = [
    "CAFE", "BAKERY", "BOOKS", "PHARMACY", "FLOWERS", "HOTEL", "MARKET", "SHOES", "BANK",
    "POST", "TAILOR", "PIZZA", "OPTICS", "HARDWARE", "TEA", "CINEMA", "TOYS", "BARBER",
    "GALLERY", "DELI",
]  # fmt: skip
FACADES: list[Color] = [
    (196, 160, 120), (170, 80, 60), (225, 205, 160), (150, 160, 170), (120, 140, 110),
    (230, 225, 215), (180, 120, 90), (100, 110, 140), (210, 180, 90), (160, 100, 120),
]  # fmt: skip
SIGN_COLORS: list[Color] = [(30, 50, 90), (120, 30, 30), (20, 80, 50), (40, 40, 40)]
AWNING_COLORS: list[Color] = [(200, 40, 40), (40, 110, 60), (30, 70, 150), (220, 160, 30)]
CAR_COLORS: list[Color] = [
    (180, 30, 30), (30, 60, 140), (220, 220, 225), (40, 40, 45), (150, 150, 155),
    (20, 110, 70), (230, 180, 30), (120, 70, 40),
]  # fmt: skip


# --------------------------------------------------------------------------- drawing


@dataclass
class Canvas:
    """An RGB picture that drawing calls address in scene units (see ``SCENE_UNITS``)."""

    img: np.ndarray
    u: float  # pixels per unit

    @classmethod
    def blank(cls, w: int, h: int) -> Canvas:
        return cls(np.zeros((h, w, 3), np.uint8), h / SCENE_UNITS)

    @property
    def width(self) -> float:
        return self.img.shape[1] / self.u

    def px(self, x: float, y: float) -> tuple[int, int]:
        return round(x * self.u), round(y * self.u)

    def rect(self, x0: float, y0: float, x1: float, y1: float, color: Color) -> None:
        cv2.rectangle(self.img, self.px(x0, y0), self.px(x1, y1), color, -1, cv2.LINE_AA)

    def poly(self, pts: list[tuple[float, float]], color: Color) -> None:
        cv2.fillPoly(self.img, [np.array([self.px(*p) for p in pts])], color, cv2.LINE_AA)

    def line(self, x0: float, y0: float, x1: float, y1: float, color: Color, width: float) -> None:
        thick = max(1, round(width * self.u))
        cv2.line(self.img, self.px(x0, y0), self.px(x1, y1), color, thick, cv2.LINE_AA)

    def curve(self, pts: np.ndarray, color: Color, width: float) -> None:
        thick = max(1, round(width * self.u))
        pix = np.round(pts * self.u).astype(np.int32)
        cv2.polylines(self.img, [pix], False, color, thick, cv2.LINE_AA)

    def circle(self, x: float, y: float, r: float, color: Color) -> None:
        cv2.circle(self.img, self.px(x, y), round(r * self.u), color, -1, cv2.LINE_AA)

    def ellipse(
        self,
        x: float,
        y: float,
        rx: float,
        ry: float,
        color: Color,
        angle: float = 0,
        half: bool = False,
    ) -> None:
        axes = (round(rx * self.u), round(ry * self.u))
        cv2.ellipse(
            self.img, self.px(x, y), axes, angle, 180 if half else 0, 360, color, -1, cv2.LINE_AA
        )

    def darken(self, x0: float, y0: float, x1: float, y1: float, top: float, bottom: float) -> None:
        """Multiply a box by a vertical ramp from ``top`` to ``bottom``: shade and shadow."""
        h, w = self.img.shape[:2]
        (xa, ya), (xb, yb) = self.px(x0, y0), self.px(x1, y1)
        xa, xb, ya, yb = max(0, xa), min(w, xb), max(0, ya), min(h, yb)
        if xa < xb and ya < yb:
            ramp = np.linspace(top, bottom, yb - ya, dtype=np.float32)[:, None, None]
            box = self.img[ya:yb, xa:xb]
            box[:] = (box * ramp).clip(0, 255).astype(np.uint8)

    def text(self, s: str, cx: float, cy: float, height: float, color: Color) -> None:
        """Draw ``s`` centred on (cx, cy) with a cap height of about ``height`` units."""
        scale = height * self.u / 22
        thick = max(1, round(scale * 1.6))
        (tw, th), _ = cv2.getTextSize(s, FONT, scale, thick)
        x, y = self.px(cx, cy)
        cv2.putText(self.img, s, (x - tw // 2, y + th // 2), FONT, scale, color, thick, cv2.LINE_AA)


def fractal_noise(rng: np.random.Generator, h: int, w: int, cell: int, octaves: int) -> np.ndarray:
    """Smooth value noise in [0, 1]: random grids upsampled bicubically, finer ones weaker."""
    total = np.zeros((h, w), np.float32)
    amp, norm = 1.0, 0.0
    for _ in range(octaves):
        cell = max(cell, 2)
        grid = rng.random((h // cell + 2, w // cell + 2)).astype(np.float32)
        total += amp * cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
        norm += amp
        amp, cell = amp * 0.5, cell // 2
    lo, hi = float(total.min()), float(total.max())
    return (total - lo) / (hi - lo + 1e-6)


def ridge(rng: np.random.Generator, w: int, base: float, amp: float, knots: int) -> np.ndarray:
    """A skyline, one height per pixel column: random knots at four scales, joined by
    straight lines (which look like rock)."""
    x = np.arange(w, dtype=np.float64)
    y = np.full(w, base)
    for k in range(4):
        n = knots * 2**k + 2
        y += np.interp(x, np.linspace(0, w, n), amp / 2**k * (rng.random(n) - 0.5) * 2)
    return y


def fill_below(img: np.ndarray, top: np.ndarray, bottom: np.ndarray | float, color: Color) -> None:
    """Paint each pixel column from the skyline ``top`` down to ``bottom`` (in pixels)."""
    rows = np.arange(img.shape[0])[:, None]
    img[(rows >= np.asarray(top).astype(int)) & (rows < np.asarray(bottom).astype(int))] = color


def sky(rng: np.random.Generator, w: int, h: int, top: Color, bottom: Color) -> np.ndarray:
    t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    img = np.array(top, np.float32) * (1 - t) + np.array(bottom, np.float32) * t
    img = np.broadcast_to(img, (h, w, 3))
    clouds = fractal_noise(rng, h, w, cell=max(h // 4, 8), octaves=5)
    cover = (np.clip((clouds - 0.5) * 3.5, 0, 1) * (1 - 0.7 * t[..., 0]))[..., None]
    img = img * (1 - cover) + (205 + 50 * clouds)[..., None] * cover
    return img.clip(0, 255).astype(np.uint8)


def texture(rng: np.random.Generator, img: np.ndarray, strength: float, grain: float) -> np.ndarray:
    """Give flat fills the mottling and grain of real surfaces seen through a real lens."""
    h, w = img.shape[:2]
    mottle = fractal_noise(rng, h, w, cell=max(h // 8, 8), octaves=6)
    fine = fractal_noise(rng, h, w, cell=6, octaves=2)
    factor = 1 - strength / 2 + strength * mottle + 0.14 * (fine - 0.5)
    out = img.astype(np.float32) * factor[..., None]
    out += rng.normal(0, grain, (h, w, 1)).astype(np.float32)
    return np.clip(out, 0, 255).astype(np.uint8)


def jitter(rng: np.random.Generator, color: Color, amount: int = 18) -> Color:
    r, g, b = (int(np.clip(c + rng.integers(-amount, amount + 1), 0, 255)) for c in color)
    return (r, g, b)


def shade(color: Color, factor: float) -> Color:
    r, g, b = (int(np.clip(c * factor, 0, 255)) for c in color)
    return (r, g, b)


def pick(rng: np.random.Generator, options: list[T]) -> T:
    return options[int(rng.integers(len(options)))]


# --------------------------------------------------------------------------- street


def draw_tree(c: Canvas, rng: np.random.Generator, x: float, ground: float) -> None:
    height = rng.uniform(150, 230)
    c.ellipse(x, ground, 40, 7, (95, 95, 92))
    c.rect(x - 5, ground - height * 0.55, x + 5, ground, (90, 65, 45))
    cx, cy, radius = x, ground - height * 0.7, height * 0.33
    for _ in range(220):  # leaf clusters, lit from the upper left
        a, r = rng.uniform(0, 2 * np.pi), radius * np.sqrt(rng.random())
        dx, dy = r * np.cos(a), 0.8 * r * np.sin(a)
        light = 1.0 - 0.45 * (dx + dy) / (2 * radius) + rng.uniform(-0.15, 0.15)
        c.circle(cx + dx, cy + dy, rng.uniform(6, 15), shade(jitter(rng, (62, 105, 48)), light))


def draw_lamp(c: Canvas, x: float, ground: float) -> None:
    top = ground - 210
    c.rect(x - 2.5, top, x + 2.5, ground, (50, 55, 60))
    c.rect(x - 2.5, top, x + 28, top + 5, (50, 55, 60))
    c.poly(
        [(x + 16, top + 5), (x + 34, top + 5), (x + 30, top + 14), (x + 20, top + 14)],
        (235, 230, 200),
    )


CAR_BODY = [
    (0, 0.10), (0.02, 0.22), (0.22, 0.25), (0.32, 0.38), (0.66, 0.38), (0.78, 0.25),
    (0.97, 0.22), (1.0, 0.12), (0.98, 0.05), (0.02, 0.05),
]  # fmt: skip
CAR_PARTS: list[tuple[list[tuple[float, float]], Color | None]] = [
    (CAR_BODY, None),
    ([*CAR_BODY[:3], (0.97, 0.22), (1.0, 0.12)], None),  # the lit upper flank
    ([(0.34, 0.355), (0.49, 0.355), (0.49, 0.26), (0.25, 0.26)], (70, 90, 110)),
    ([(0.51, 0.355), (0.645, 0.355), (0.75, 0.26), (0.51, 0.26)], (80, 100, 120)),
    ([(0.94, 0.19), (0.99, 0.19), (0.99, 0.15), (0.94, 0.15)], (250, 240, 200)),
    ([(0.0, 0.19), (0.03, 0.19), (0.03, 0.15), (0.0, 0.15)], (200, 30, 30)),
]


def draw_car(
    c: Canvas,
    mask: Canvas | None,
    x: float,
    ground: float,
    length: float,
    color: Color,
    right: bool,
) -> None:
    """A car seen from the side, wheels on ``ground``; ``mask`` (if given) gets its alpha."""

    def p(px: float, py: float) -> tuple[float, float]:
        return (x + (px if right else 1 - px) * length, ground - py * length)

    shadow = (x + 0.5 * length, ground, 0.55 * length, 0.04 * length)
    if mask is None:
        c.ellipse(*shadow, (38, 39, 42))
    else:  # a sprite's shadow is half transparent
        c.ellipse(*shadow, (0, 0, 0))
        mask.ellipse(*shadow, (130, 130, 130))
    for canvas, alpha in ((c, False), (mask, True)):
        if canvas is None:
            continue
        for k, (outline, part_color) in enumerate(CAR_PARTS):
            own = part_color or (color if k == 0 else shade(color, 1.15))
            canvas.poly([p(*q) for q in outline], (255, 255, 255) if alpha else own)
        for wx in (0.2, 0.8):
            for r, wheel in ((0.085, (25, 25, 28)), (0.045, (170, 170, 175))):
                canvas.circle(*p(wx, 0.085), r * length, (255, 255, 255) if alpha else wheel)


def draw_windows(
    c: Canvas,
    rng: np.random.Generator,
    facade: Color,
    x0: float,
    x1: float,
    top: float,
    bottom: float,
) -> None:
    win_w, win_h = rng.uniform(26, 34), rng.uniform(38, 48)
    gap_x, gap_y = rng.uniform(16, 26), rng.uniform(20, 30)
    cols = max(1, int((x1 - x0 - gap_x) // (win_w + gap_x)))
    rows = max(1, int((bottom - top - gap_y) // (win_h + gap_y)))
    left = x0 + (x1 - x0 - cols * win_w - (cols - 1) * gap_x) / 2
    balconies = rng.random() < 0.35
    for r in range(rows):
        for k in range(cols):
            wx, wy = left + k * (win_w + gap_x), top + gap_y + r * (win_h + gap_y)
            wr, wb = wx + win_w, wy + win_h
            c.rect(wx - 3, wy - 3, wr + 3, wb + 3, shade(facade, 1.2))
            glass = (235, 200, 120) if rng.random() < 0.15 else jitter(rng, (60, 80, 105), 15)
            c.rect(wx, wy, wr, wb, glass)
            c.poly([(wx, wy), (wx + win_w * 0.5, wy), (wx, wy + win_h * 0.6)], shade(glass, 1.3))
            c.line(wx + win_w / 2, wy, wx + win_w / 2, wb, shade(facade, 1.2), 2)
            c.rect(wx - 4, wb + 3, wr + 4, wb + 7, shade(facade, 0.75))  # sill
            c.darken(wx - 3, wb + 7, wr + 3, wb + 13, 0.8, 1.0)  # and its shadow
            if balconies and r > 0:
                rail = wy + win_h * 0.55
                c.rect(wx - 8, wb + 2, wr + 8, wb + 8, (90, 90, 95))
                c.line(wx - 8, rail, wr + 8, rail, (40, 40, 45), 2)
                for bx in np.arange(wx - 6, wr + 8, 6):
                    c.line(bx, rail, bx, wb + 2, (40, 40, 45), 0.5)


def draw_shopfront(
    c: Canvas,
    rng: np.random.Generator,
    facade: Color,
    x0: float,
    x1: float,
    top: float,
    ground: float,
    number: int,
) -> None:
    """The ground floor: a sign, a striped awning, a door, a shop window, a house number."""
    c.rect(x0, top, x1, ground, shade(facade, 0.8))
    c.rect(x0 + 8, top + 4, x1 - 8, top + 26, jitter(rng, pick(rng, SIGN_COLORS)))
    c.text(pick(rng, SHOP_SIGNS), (x0 + x1) / 2, top + 15, 13, (245, 240, 220))
    stripes = jitter(rng, pick(rng, AWNING_COLORS))
    n = max(4, int((x1 - x0) / 14))
    step = (x1 - x0 - 8) / n
    for k in range(n):
        sx = x0 + 4 + k * step
        col = stripes if k % 2 == 0 else (235, 230, 220)
        c.poly(
            [(sx, top + 28), (sx + step, top + 28), (sx + step + 4, top + 46), (sx + 4, top + 46)],
            col,
        )
    c.darken(x0, top + 46, x1, top + 62, 0.6, 0.95)
    door = x0 + (x1 - x0) * rng.uniform(0.15, 0.7)
    c.rect(door, top + 50, door + 26, ground, jitter(rng, (90, 60, 40)))
    c.rect(door + 30, top + 50, min(x1 - 6, door + 110), ground - 12, (70, 95, 115))
    c.rect(door - 22, top + 54, door - 4, top + 68, (30, 60, 120))
    c.text(str(number), door - 13, top + 61, 8, (250, 250, 250))


def draw_building(
    c: Canvas,
    rng: np.random.Generator,
    x0: float,
    x1: float,
    top: float,
    ground: float,
    number: int,
) -> None:
    facade = jitter(rng, pick(rng, FACADES))
    c.rect(x0, top, x1, ground, facade)
    if rng.random() < 0.4:  # brick courses
        for y in np.arange(top + 4, ground, 7):
            c.line(x0, y, x1, y, shade(facade, 0.85), 0.5)
    roof = rng.integers(3)
    if roof == 0:
        c.poly(
            [(x0 - 6, top), (x1 + 6, top), ((x0 + x1) / 2, top - (x1 - x0) * 0.25)],
            jitter(rng, (120, 60, 50)),
        )
    elif roof == 1:
        c.rect(x0 - 5, top - 10, x1 + 5, top, shade(facade, 0.7))
    shop_top = ground - 95
    draw_windows(c, rng, facade, x0, x1, top, shop_top)
    c.darken(x0, top, x1, shop_top, 1.04, 0.86)  # less skylight lower down
    c.darken(x1 - 10, top, x1, ground, 0.8, 0.8)  # the corner in shade
    draw_shopfront(c, rng, facade, x0, x1, shop_top, ground, number)


def street_scene(seed: int, w: int, h: int, parked: bool = True) -> np.ndarray:
    """A street of shops and flats on a sunny day, ``w`` x ``h`` pixels."""
    rng = np.random.default_rng(seed)
    c = Canvas(sky(rng, w, h, (45, 100, 185), (185, 212, 235)), h / SCENE_UNITS)
    width, ground = c.width, 0.72 * SCENE_UNITS
    hills = ridge(rng, w, base=0.40 * h, amp=0.07 * h, knots=max(2, w // 700))
    fill_below(c.img, hills, ground * c.u, (120, 145, 140))
    x, number = -rng.uniform(0, 40), 2
    while x < width:
        bw = rng.uniform(170, 330)
        draw_building(c, rng, x, x + bw, ground - rng.uniform(260, 430), ground, number)
        x += bw + rng.uniform(0, 20)
        number += 2
    c.rect(0, ground, width, ground + 40, (175, 170, 160))  # pavement
    for xx in np.arange(0, width, 46):
        c.line(xx, ground, xx - 20, ground + 40, (150, 145, 138), 0.5)
    c.line(0, ground + 20, width, ground + 20, (150, 145, 138), 0.5)
    c.rect(0, ground + 40, width, ground + 48, (120, 118, 112))  # kerb
    c.rect(0, ground + 48, width, SCENE_UNITS, (72, 74, 78))  # road
    c.darken(0, ground + 48, width, ground + 60, 0.75, 1.0)
    for _ in range(int(width / 120)):  # patched and worn asphalt
        cx, cy = rng.uniform(0, width), rng.uniform(ground + 60, SCENE_UNITS)
        rx, ry, angle = rng.uniform(20, 90), rng.uniform(4, 14), rng.uniform(-10, 10)
        c.ellipse(cx, cy, rx, ry, shade((66, 68, 72), rng.uniform(0.85, 1.12)), angle)
    for xx in np.arange(0, width, 140):
        c.rect(xx, ground + 135, xx + 70, ground + 141, (225, 225, 215))
    for xx in np.arange(rng.uniform(40, 120), width, 260):
        if rng.random() < 0.65:
            draw_tree(c, rng, xx, ground + 20)
        else:
            draw_lamp(c, xx, ground + 30)
    for k in range(3):  # overhead tram wires, sagging between their supports
        y0, span = SCENE_UNITS * (0.06 + 0.05 * k), 520
        for xa in np.arange(-rng.uniform(0, span), width, span):
            xs = np.linspace(xa, xa + span, 40)
            ys = y0 + 30 * (1 - ((xs - xa - span / 2) / (span / 2)) ** 2)
            c.curve(np.c_[xs, ys], (35, 35, 40), 1)
    for xx in np.arange(rng.uniform(0, 200), width, 360):
        if parked and rng.random() < 0.6:
            length, right = rng.uniform(230, 270), rng.random() < 0.5
            draw_car(c, None, xx, ground + 92, length, pick(rng, CAR_COLORS), right)
    return texture(rng, c.img, strength=0.16, grain=5.0)


# --------------------------------------------------------------------------- lake


def lake_sky(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """A sunset sky with the sun low over the mountains."""
    img = sky(rng, w, h, (70, 50, 110), (250, 170, 100)).astype(np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    d = np.hypot(xx - 0.68 * w, yy - 0.46 * h)
    glow = np.exp(-((d / (0.18 * h)) ** 2)) * 120
    img += glow[..., None] * np.array([1.0, 0.7, 0.3], np.float32)
    img[d < 0.05 * h] = (255, 240, 200)
    return img.clip(0, 255).astype(np.uint8)


def reflect(rng: np.random.Generator, img: np.ndarray, shore: int) -> None:
    """Mirror everything above ``shore`` into the water below it, rippled and darkened."""
    h, w = img.shape[:2]
    above = img[max(0, 2 * shore - h) : shore][::-1].astype(np.float32)
    water = np.zeros((h - shore, w, 3), np.float32)
    water[: len(above)] = above
    rows = np.arange(h - shore, dtype=np.float32)[:, None]
    ripple = np.sin(rows * 0.35 + rng.random((h - shore, 1)) * 6) * 6 * h / SCENE_UNITS
    mx = (np.arange(w, dtype=np.float32)[None, :] + ripple).astype(np.float32)
    my = np.broadcast_to(rows, mx.shape).astype(np.float32)
    water = cv2.remap(water, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    img[shore:] = (water * 0.7 + np.array((20, 30, 60), np.float32)).clip(0, 255).astype(np.uint8)


def lake_scene(seed: int, w: int, h: int) -> np.ndarray:
    """Mountains over a lake at sunset, a pine shore, a jetty, a boat and a trail sign."""
    rng = np.random.default_rng(seed)
    c = Canvas(lake_sky(rng, w, h), h / SCENE_UNITS)
    width, shore, u = c.width, 0.58 * SCENE_UNITS, c.u
    ranges = [
        ((150, 120, 150), 0.34, 0.10),
        ((105, 85, 120), 0.43, 0.08),
        ((60, 60, 80), 0.50, 0.06),
    ]
    for i, (col, base, amp) in enumerate(ranges):
        top = ridge(rng, w, base=base * h, amp=amp * h, knots=3 + 2 * i)
        fill_below(c.img, top, shore * u, col)
        if i == 0:  # snow on the highest range: deeper on the peaks, with a ragged edge
            depth = np.clip((0.31 * h - top) * 1.2, 0, None) + ridge(rng, w, 4 * u, 10 * u, 40)
            fill_below(c.img, top, top + np.maximum(depth, 0), (235, 225, 235))
    for x in np.arange(0, width, 9):  # pines on the far shore
        th = rng.uniform(40, 95)
        c.poly(
            [(x - th * 0.22, shore), (x + th * 0.22, shore), (x, shore - th)],
            jitter(rng, (30, 50, 40), 12),
        )
    reflect(rng, c.img, round(shore * u))
    for _ in range(260):  # glints on the water
        y = shore + (SCENE_UNITS - shore) * rng.random() ** 1.5
        x0 = rng.uniform(0, width)
        c.line(x0, y, x0 + rng.uniform(10, 60), y, (255, 210, 150), 0.5)
    near = 0.86 * SCENE_UNITS  # the near shore: grass, rocks, a jetty, a boat, a sign
    fill_below(c.img, ridge(rng, w, base=near * u, amp=0.03 * h, knots=6), h, (70, 95, 45))
    for _ in range(400):
        x, y = rng.uniform(0, width), rng.uniform(near - 15, SCENE_UNITS)
        dx, dy = rng.uniform(-6, 6), rng.uniform(10, 30)
        c.line(x, y, x + dx, y - dy, jitter(rng, (90, 120, 50), 25), 2)
    for _ in range(14):
        x, y, r = rng.uniform(0, width), rng.uniform(near, SCENE_UNITS), rng.uniform(14, 40)
        c.ellipse(x, y, r * 1.4, r, jitter(rng, (120, 115, 110)), half=True)
    jx = 0.12 * width
    for k in range(14):  # jetty planks, narrowing into the distance
        y, half = near - k * 12, 150 - k * 8
        c.rect(jx - half + k * 14, y - 9, jx + half + k * 14, y, jitter(rng, (130, 95, 60), 12))
    for k in range(0, 14, 3):
        y, left = near - k * 12, jx - (150 - k * 8) + k * 14
        c.rect(left, y, left + 10, y + 40, (80, 60, 40))
    bx, by = 0.44 * width, 0.66 * SCENE_UNITS
    c.poly([(bx, by), (bx + 150, by), (bx + 125, by + 26), (bx + 20, by + 26)], (150, 40, 35))
    c.rect(bx + 10, by - 4, bx + 140, by + 2, (230, 220, 200))
    sx = 0.84 * width
    c.rect(sx - 4, near - 170, sx + 4, near + 20, (90, 65, 40))
    c.rect(sx - 95, near - 170, sx + 95, near - 110, (120, 85, 50))
    c.text("LAKE TRAIL", sx, near - 152, 16, (245, 235, 210))
    c.text("2 km", sx, near - 126, 14, (245, 235, 210))
    return texture(rng, c.img, strength=0.14, grain=5.0)


def render(
    scene: Callable[..., np.ndarray], seed: int, size: tuple[int, int], **options: bool
) -> np.ndarray:
    """Draw at twice the size and shrink, so edges are soft like a real camera's."""
    w, h = size
    small = cv2.resize(scene(seed, 2 * w, 2 * h, **options), (w, h), interpolation=cv2.INTER_AREA)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    vignette = 1 - 0.25 * (((xx - w / 2) / w) ** 2 + ((yy - h / 2) / h) ** 2)
    return (small * vignette[..., None]).clip(0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- photos


def dms(value: float) -> tuple[IFDRational, IFDRational, IFDRational]:
    """Degrees, minutes and seconds (to 1/100) as EXIF rationals."""
    hundredths = round(value * 360000)
    deg, rest = divmod(hundredths, 360000)
    minutes, sec = divmod(rest, 6000)
    return IFDRational(deg, 1), IFDRational(minutes, 1), IFDRational(sec, 100)


def camera_exif(
    make: str,
    model: str,
    taken: str,
    extra: dict[int, str | int] | None = None,
    gps: tuple[float, float, float] | None = None,
) -> Image.Exif:
    """EXIF as a camera writes it; ``extra`` tags go to IFD0 or, from 0x8000 up, the Exif IFD."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = make
    exif[ExifTags.Base.Model] = model
    exif_ifd = exif.get_ifd(ExifTags.IFD.Exif)
    exif_ifd[ExifTags.Base.DateTimeOriginal] = taken
    for tag, value in (extra or {}).items():
        (exif if tag < 0x8000 else exif_ifd)[tag] = value
    if gps is not None:
        lat, lon, alt = gps
        gps_ifd = exif.get_ifd(ExifTags.IFD.GPSInfo)
        gps_ifd[ExifTags.GPS.GPSVersionID] = b"\x02\x03\x00\x00"
        gps_ifd[ExifTags.GPS.GPSLatitudeRef] = "N" if lat >= 0 else "S"
        gps_ifd[ExifTags.GPS.GPSLatitude] = dms(abs(lat))
        gps_ifd[ExifTags.GPS.GPSLongitudeRef] = "E" if lon >= 0 else "W"
        gps_ifd[ExifTags.GPS.GPSLongitude] = dms(abs(lon))
        gps_ifd[ExifTags.GPS.GPSAltitudeRef] = 0 if alt >= 0 else 1
        gps_ifd[ExifTags.GPS.GPSAltitude] = IFDRational(round(abs(alt)), 1)
    return exif


def stamp_logo(img: np.ndarray, label: str) -> np.ndarray:
    """A channel's semi-opaque badge in the top-right corner, as re-posters add."""
    w = img.shape[1]
    x0, y0, x1, y1 = w - 200, 14, w - 14, 58
    out = img.copy()
    box = out[y0:y1, x0:x1].astype(np.float32) * 0.45 + np.array((20, 30, 120), np.float32) * 0.55
    out[y0:y1, x0:x1] = box.astype(np.uint8)
    Canvas(out, 1).text(label, (x0 + x1) / 2, (y0 + y1) / 2, 15, (255, 255, 255))
    return out


def write_photos(out: Path) -> None:
    street = Image.fromarray(render(street_scene, 11, PHOTO_SIZE))
    exif = camera_exif(
        "Canon",
        "Canon EOS 80D",
        "2022:03:16 10:41:07",
        extra={
            ExifTags.Base.Software: "samples/make_samples.py",
            ExifTags.Base.Orientation: 1,
            ExifTags.Base.SubsecTimeOriginal: "25",
            ExifTags.Base.OffsetTimeOriginal: "+02:00",
            ExifTags.Base.BodySerialNumber: "083021001234",
        },
        gps=(50.4501, 30.5234, 179),
    )
    street.save(out / "photo_original.jpg", "JPEG", quality=92, exif=exif)

    # Re-posts start from the published file, as a messenger or a channel would.
    with Image.open(out / "photo_original.jpg") as published:
        published.load()
        w, h = published.size
        repost = published.resize((800, round(800 * h / w)), Image.Resampling.LANCZOS)
        repost.save(out / "photo_repost_telegram.jpg", "JPEG", quality=70)
        dx, dy = round(0.10 * w), round(0.10 * h)
        cropped = np.ascontiguousarray(np.asarray(published)[dy : h - dy, ::-1][:, dx : w - dx])
        stamped = Image.fromarray(stamp_logo(cropped, "@city_feed"))
        stamped.save(out / "photo_mirrored_cropped.jpg", "JPEG", quality=80)

    lake = Image.fromarray(render(lake_scene, 29, PHOTO_SIZE))
    nikon = camera_exif("NIKON", "COOLPIX P6000", "2022:03:17 08:02:11")
    lake.save(out / "photo_other_scene.jpg", "JPEG", quality=92, exif=nikon)


# --------------------------------------------------------------------------- videos


def sprite(color: Color, right: bool, length: float, u: float) -> tuple[np.ndarray, np.ndarray]:
    """A car cut out for compositing: its pixels and a [0, 1] alpha mask."""
    w, h = round((length + 4) * u), round(length * 0.42 * u)
    pix, mask = Canvas(np.zeros((h, w, 3), np.uint8), u), Canvas(np.zeros((h, w, 3), np.uint8), u)
    draw_car(pix, mask, 2, h / u - 2, length, color, right)
    return pix.img, mask.img[..., :1].astype(np.float32) / 255


def video_frames() -> Iterator[np.ndarray]:
    """A left-to-right pan along a street with traffic; each second shows different shops."""
    vw, vh = VIDEO_SIZE
    pano_w = vw + PAN_PX_PER_FRAME * (VIDEO_FRAMES - 1)
    pano = render(street_scene, 47, (pano_w, vh), parked=False)
    u = vh / SCENE_UNITS
    ground = 0.72 * SCENE_UNITS
    rng = np.random.default_rng(48)
    traffic = []  # (pixels, alpha, start x in the panorama, px per frame, lane y)
    for k in range(9):
        right = k % 2 == 0  # the near lane drives right, the far one left
        pix, alpha = sprite(CAR_COLORS[k % len(CAR_COLORS)], right, rng.uniform(220, 260), u)
        lane = (ground + (190 if right else 110)) * u
        speed = rng.uniform(3, 6) * (1 if right else -1)
        traffic.append((pix, alpha, rng.uniform(0, pano_w), speed, lane))
    traffic.sort(key=lambda car: car[4])  # far lane first, so near cars pass in front
    for i in range(VIDEO_FRAMES):
        x0 = i * PAN_PX_PER_FRAME
        frame = pano[:, x0 : x0 + vw].astype(np.float32)
        for pix, alpha, start, speed, lane in traffic:
            cx = round(start + speed * i) % (pano_w + 400) - 200 - x0  # wrap round the street
            cy = int(lane) - pix.shape[0]
            fx0, fx1 = max(cx, 0), min(cx + pix.shape[1], vw)
            if fx0 >= fx1:
                continue
            part = frame[cy : cy + pix.shape[0], fx0:fx1]
            a = alpha[:, fx0 - cx : fx1 - cx]
            part[:] = part * (1 - a) + pix[:, fx0 - cx : fx1 - cx] * a
        yield frame.astype(np.uint8)


def encode(
    path: Path,
    frames: Iterator[np.ndarray],
    size: tuple[int, int],
    qp: int,
    metadata: dict[str, str],
    container_options: dict[str, str],
) -> None:
    """H.264 in MP4, encoded so that the same frames always give the same bytes.

    One x264 thread, so the output does not depend on the number of cores. Constant QP with
    no lookahead decisions (adaptive B-frames, scene cuts, weighted prediction), because
    x264 then never builds its half-size lookahead planes: for widths like 480 their row
    padding is read uninitialised, and CRF output changed from run to run.
    """
    with av.open(str(path), "w", format="mp4", options=container_options) as box:
        box.metadata.update(metadata)
        stream = box.add_stream("libx264", rate=VIDEO_FPS)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = {
            "qp": str(qp),
            "preset": "medium",
            "threads": "1",
            "x264-params": "b-adapt=0:scenecut=0:weightp=0",
        }
        stream.codec_context.time_base = Fraction(1, VIDEO_FPS)
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            box.mux(stream.encode(frame))
        box.mux(stream.encode(None))


def clip_frames(original: Path) -> Iterator[np.ndarray]:
    """Seconds 4-8 of the published video, decoded, shrunk and letterboxed like a re-post."""
    with av.open(str(original)) as box:
        for frame in box.decode(video=0):
            if CLIP_START_S - 1e-6 <= float(frame.time) < CLIP_END_S - 1e-6:
                rgb = frame.to_ndarray(format="rgb24")
                small = cv2.resize(rgb, CLIP_SIZE, interpolation=cv2.INTER_AREA)
                bar = LETTERBOX_PX
                yield cv2.copyMakeBorder(small, bar, bar, 0, 0, cv2.BORDER_CONSTANT, value=0)


def write_videos(out: Path) -> None:
    original = out / "video_original.mp4"
    camera = {"creation_time": "2022-03-16T10:45:00.000000Z", "location": "+50.4501+030.5234/"}
    encode(original, video_frames(), VIDEO_SIZE, 27, camera, {"movflags": "+faststart"})
    # bitexact keeps the muxer from writing its "encoder" tag: the re-post has no metadata.
    size = (CLIP_SIZE[0], CLIP_SIZE[1] + 2 * LETTERBOX_PX)
    plain = {"movflags": "+faststart", "fflags": "+bitexact"}
    encode(out / "video_clip_repost.mp4", clip_frames(original), size, 34, {}, plain)


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=HERE / "media", help="output folder (default: samples/media)"
    )
    out: Path = parser.parse_args(argv).out
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    write_photos(out)
    write_videos(out)
    for name in sorted(p.name for p in out.iterdir() if p.suffix in {".jpg", ".mp4"}):
        print(f"{(out / name).stat().st_size:>9,}  {name}")
    print(f"done in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
