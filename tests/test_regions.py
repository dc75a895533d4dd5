"""Finding the photo inside borders, letterbox bars and screenshots."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from ingest.photo.image import decode_image
from ingest.photo.regions import (
    FULL,
    band_box,
    border_box,
    chrome_box,
    content_box,
    content_boxes,
    crop_box,
)
from support.media import scene
from support.screens import STYLES, Style, as_jpeg, phone_screenshot
from support.transforms import by_name


def _padded(colour: tuple[int, int, int]) -> tuple[Image.Image, tuple[float, ...]]:
    photo = scene(3, 400, 300)
    canvas = Image.new("RGB", (600, 500), colour)
    canvas.paste(photo, (50, 120))
    return canvas, (50 / 600, 120 / 500, 450 / 600, 420 / 500)


@pytest.mark.parametrize("colour", [(0, 0, 0), (255, 255, 255), (30, 140, 200)])
def test_border_box_is_the_photo_inside_padding(colour: tuple[int, int, int]) -> None:
    canvas, expected = _padded(colour)
    box = border_box(canvas)
    assert box is not None
    assert np.allclose(box, expected, atol=0.01)


def test_a_photo_without_borders_has_no_content_box() -> None:
    photo = scene(4)
    assert border_box(photo) is None
    assert content_box(photo) == FULL


@pytest.mark.parametrize("seed", range(4))
def test_band_box_finds_the_photo_in_a_phone_screenshot(seed: int) -> None:
    photo = scene(10 + seed)
    shot = by_name("phone screenshot").apply(photo, np.random.default_rng(seed))
    box = band_box(shot)
    assert box is not None
    inner = crop_box(shot, box)
    # The photo keeps its aspect ratio inside the screenshot.
    assert inner.width / inner.height == pytest.approx(photo.width / photo.height, rel=0.05)
    assert "band" in dict(content_boxes(shot))


def test_letterbox_bars_are_trimmed() -> None:
    photo = scene(5, 640, 360)
    boxed = by_name("letterbox 30 %").apply(photo, np.random.default_rng(0))
    box = border_box(boxed)
    assert box is not None
    x0, y0, x1, y1 = box
    assert (x0, x1) == (0.0, 1.0)
    assert (y1 - y0) * boxed.height == pytest.approx(360, abs=4)


# --- screenshots of a picture with status bars, app chrome and captions ---------------------


@pytest.mark.parametrize(("label", "style"), STYLES, ids=[label for label, _ in STYLES])
def test_the_picture_is_found_inside_every_phone_style(label: str, style: Style) -> None:
    picture = scene(21, 640, 360)
    shot = decode_image(as_jpeg(phone_screenshot(picture, style), style.quality)).picture
    inner = [crop_box(shot, box) for _, box in content_boxes(shot)]
    # One of the boxes is the picture: its shape, nearly all of it.
    assert any(abs(i.width / i.height - 640 / 360) < 0.06 for i in inner), label


@pytest.mark.parametrize("height", [20, 48, 100])
@pytest.mark.parametrize("colour", [(255, 255, 255), (0, 0, 0), (40, 90, 200)])
def test_a_status_bar_above_the_picture_is_peeled_off(height: int, colour: tuple) -> None:
    picture = scene(22, 640, 360)
    shot = phone_screenshot(picture, Style("landscape", (height, colour)))
    shot = decode_image(as_jpeg(shot, 40)).picture  # heavy recompression, as re-posted
    box = chrome_box(shot)
    assert box is not None
    x0, y0, x1, y1 = box
    bar = height * 1280 / 720 / (360 * 1280 / 640 + height * 1280 / 720)
    assert (x0, x1) == (0.0, 1.0)
    assert y0 == pytest.approx(bar, abs=0.02) and y1 == pytest.approx(1.0, abs=0.01)


def test_flat_areas_of_a_photo_are_not_chrome() -> None:
    # A wall or the sky at the top of a photo is flat too, but not drawn flat: noise and
    # gradients spread its pixels around the row's colour.
    rng = np.random.default_rng(3)
    photo = np.asarray(scene(23, 640, 480)).copy()
    wall = 150 + np.linspace(0, 12, 640)[None, :, None] + rng.normal(0, 2.5, (160, 640, 3))
    photo[:160] = wall.clip(0, 255).astype(np.uint8)
    picture = decode_image(as_jpeg(Image.fromarray(photo), 60)).picture
    assert chrome_box(picture) is None


def _wall_photo(wall: int = 150) -> Image.Image:
    """A picture that starts with a flat wall (as a wall behind bottles on a table). Its
    top is as flat as a drawn bar; light falling off across it spreads its lower lines a
    little (within 10 levels), and things stand in front of it there (a third of the
    width)."""
    photo = np.asarray(scene(24, 640, 360)).copy()
    y, x = np.mgrid[0:220, 0:640]
    shade = wall + 10 * (y / 220) ** 2 * (x / 640)
    behind = np.ones(640, bool)
    for left in (200, 330, 460):
        behind[left : left + 70] = False
    area = np.ones((220, 640), bool)
    area[100:, ~behind] = False
    photo[:220][area] = np.repeat(shade[area][:, None], 3, axis=1).astype(np.uint8)
    return Image.fromarray(photo)


def _walled(bar: tuple[int, int, int]) -> tuple[Image.Image, float]:
    """A landscape screenshot of ``_wall_photo`` under a status bar: the wall is the
    picture's, not a second bar."""
    shot = phone_screenshot(_wall_photo(), Style("landscape", (48, bar)))
    top = round(48 * 1280 / 720)
    return decode_image(as_jpeg(shot, 50)).picture, top / shot.height


@pytest.mark.parametrize("bar", [(255, 255, 255), (0, 0, 0), (200, 40, 60)])
def test_a_flat_wall_at_the_top_of_the_picture_stays_in_the_box(bar: tuple) -> None:
    # The wall is drawn as flat as any bar; the old peeling took it for a second bar. The
    # bar ends where the picture starts, the wall runs on into the rest of the picture.
    shot, top = _walled(bar)
    box = chrome_box(shot)
    assert box is not None
    assert box[1] == pytest.approx(top, abs=1.5 / shot.height)
    assert box[1] in [b[1] for _, b in content_boxes(shot)]


@pytest.mark.parametrize(("label", "style"), STYLES, ids=[label for label, _ in STYLES])
def test_box_edges_are_placed_at_the_pictures_resolution(label: str, style: Style) -> None:
    # On the 256-px analysis copy an edge is up to 2 of the picture's lines off (more
    # when the picture's first line is flat, a wall), and the hash of a flat picture
    # moves by tens of bits for that: the top edge must be within 2 of the picture's
    # lines (it was 3-4.5 off here). Where the picture lies: the screen drawn around magenta.
    screen = phone_screenshot(_wall_photo(), style)
    solid = np.asarray(phone_screenshot(Image.new("RGB", (640, 360), (255, 0, 255)), style))
    rows = np.flatnonzero((solid == (255, 0, 255)).all(axis=2).mean(axis=1) > 0.9)
    picture = decode_image(as_jpeg(screen, style.quality)).picture
    top = rows[0] * picture.height / screen.height
    errors = [abs(b[1] * picture.height - top) for _, b in content_boxes(picture)]
    assert min(errors) <= 2.0, (label, errors)
