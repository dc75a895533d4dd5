"""Finding the photo inside borders, letterbox bars and screenshots."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from ingest.photo.regions import FULL, band_box, border_box, content_box, content_boxes, crop_box
from support.media import scene
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
