"""Re-posts as channels make them, through ``evidence match``: a phone screenshot of a
video's frame (status bar above it, saved as a low-quality JPEG) is found in the video
at the frame's time; a photo straightened by 5° with its corners cropped, and a mirrored
crop recompressed at q40, are found; another shot of the same scene is not."""

from __future__ import annotations

import io
import json
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from support.cli import ROOT, run_cli
from support.screens import WHITE, Style, as_jpeg, phone_screenshot
from support.synthetic import viewpoint_pair
from support.transforms import by_name

MEDIA = ROOT / "samples" / "media"


def _frame(video: Path, index: int) -> tuple[float, Image.Image]:
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        for i, frame in enumerate(container.decode(stream)):
            if i == index:
                return float(frame.pts * stream.time_base), frame.to_image()
    raise AssertionError("frame not found")


def _jpeg(picture: Image.Image, path: Path, quality: int = 90) -> Path:
    buf = io.BytesIO()
    picture.convert("RGB").save(buf, "JPEG", quality=quality)
    path.write_bytes(buf.getvalue())
    return path


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("shots")
    a, b = viewpoint_pair(1)
    photo = _jpeg(a, folder / "scene-a.jpg", 95)
    _jpeg(b, folder / "scene-b.jpg", 95)  # the same scene from a few steps away
    reg = folder / "reg"
    proc = run_cli("ingest", str(MEDIA / "video_original.mp4"), str(photo), "--json", registry=reg)
    assert proc.returncode == 0, proc.stderr
    return reg, folder


def _match(reg: Path, path: Path) -> list[dict]:
    proc = run_cli("match", str(path), "--json", registry=reg)
    assert proc.returncode == 0, proc.stderr
    [row] = [json.loads(line) for line in proc.stdout.splitlines()]
    return row["matches"]


@pytest.mark.parametrize(
    "style",
    [
        Style("landscape", (64, WHITE), quality=45),
        Style("portrait", (48, (20, 20, 20)), (90, (20, 20, 20)), "below", (20, 20, 20)),
    ],
    ids=["white status bar", "dark chat app"],
)
def test_a_screenshot_of_a_frame_is_found_at_its_time(
    registry: tuple[Path, Path], tmp_path: Path, style: Style
) -> None:
    reg, _ = registry
    t, frame = _frame(MEDIA / "video_original.mp4", 130)
    shot = tmp_path / "shot.jpg"
    shot.write_bytes(as_jpeg(phone_screenshot(frame, style), style.quality))
    matches = _match(reg, shot)
    videos = [m for m in matches if m["method"] == "pdq-still-frame"]
    assert len(videos) == 1, matches
    [seg] = videos[0]["segments"]
    assert seg["match_start_s"] == pytest.approx(t, abs=1.0)
    assert videos[0]["verified_score"] >= 0.85  # checked on the video's own frames


@pytest.mark.parametrize(
    "transform", ["rotate ±5°, corners cropped", "rotate ±8°", "mirror + crop 20 % + q40"]
)
def test_a_straightened_or_mirrored_crop_is_found(
    registry: tuple[Path, Path], tmp_path: Path, transform: str
) -> None:
    reg, folder = registry
    original = Image.open(folder / "scene-a.jpg").convert("RGB")
    copy = by_name(transform).apply(original, np.random.default_rng(4))
    matches = _match(reg, _jpeg(copy, tmp_path / "copy.jpg"))
    photos = [m for m in matches if m["method"] == "orb+ransac"]
    assert len(photos) == 1 and photos[0]["score"] >= 0.75, matches


def test_another_shot_of_the_same_scene_is_not_found(registry: tuple[Path, Path]) -> None:
    reg, folder = registry
    assert _match(reg, folder / "scene-b.jpg") == []
