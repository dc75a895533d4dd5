"""Content boxes of video frames: a video that shows a framed picture (a photo with
borders, a screen recording) gets the picture's hash per frame; ordinary videos do not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from videogen import Part, write

from ingest.photo.perceptual import pdq
from ingest.video import frames as frames_module
from ingest.video.content import colour_boxes, frame_boxes, framed
from ingest.video.frames import hash_sampling, hash_video_frames
from ingest.video.sampling import sample_frames
from support.media import scene, write_video


def _still(picture: Image.Image):
    frame = np.asarray(picture)
    return lambda t: frame


def test_a_video_of_a_photo_with_borders_gets_content_box_hashes(tmp_path: Path) -> None:
    canvas = Image.new("RGB", (320, 180), (30, 140, 200))
    canvas.paste(scene(31, 200, 130), (30, 20))  # off-centre: not a letterbox
    path = write(tmp_path / "framed.mp4", [Part(_still(canvas), 0.0, 2.0)])
    result = hash_video_frames(path)
    boxes = [h for h in result.hashes if h.get("region")]
    assert result.summary["content_boxes"] == len(boxes) > 0
    assert all(h["t"] is not None and len(h["box"]) == 4 for h in boxes)
    # Every frame keeps its whole-frame hash too, first.
    assert result.summary["hashed"] == len(result.hashes) - len(boxes)


def test_an_ordinary_video_has_no_content_boxes(tmp_path: Path) -> None:
    path = write_video(tmp_path / "plain.mp4", 5, seconds=3, size=(320, 180))
    result = hash_video_frames(path)
    assert result.summary["content_boxes"] == 0
    assert not any(h.get("region") for h in result.hashes)


def test_framed_needs_most_frames_to_have_a_box() -> None:
    canvas = np.full((90, 160), 200, np.uint8)
    canvas[20:70, 30:130] = np.asarray(scene(32, 100, 50).convert("L"))
    plain = np.asarray(scene(33, 160, 90).convert("L"))
    assert frame_boxes(canvas)
    assert framed([canvas] * 10)
    assert not framed([plain] * 10)
    assert not framed([canvas] * 2 + [plain] * 8)


def _sky_on_a_canvas_of_its_grey() -> tuple[Image.Image, Image.Image, tuple[float, ...]]:
    """A photo whose top is a flat sky, shown on a canvas of another hue but the same
    grey level: on greyscale frames the sky and the canvas are one."""
    photo = np.asarray(scene(34, 200, 130)).copy()
    photo[:40] = (200, 180, 120)  # grey ~179
    canvas = Image.new("RGB", (320, 180), (140, 200, 160))  # grey ~178
    canvas.paste(Image.fromarray(photo), (60, 25))
    return Image.fromarray(photo), canvas, (60 / 320, 25 / 180, 260 / 320, 155 / 180)


def test_boxes_are_found_on_the_colour_frames(tmp_path: Path) -> None:
    photo, canvas, truth = _sky_on_a_canvas_of_its_grey()
    path = write(tmp_path / "sky.mp4", [Part(_still(canvas), 0.0, 2.0)])
    gray = np.asarray(canvas.convert("L"))
    # The greyscale frame alone loses the sky's edge...
    assert not any(np.allclose(b, truth, atol=0.02) for _, b in frame_boxes(gray))
    # ... the colour pass finds the photo, and its hash is the photo's.
    result = hash_video_frames(path)
    boxes = [h for h in result.hashes if h.get("region")]
    assert any(np.allclose(h["box"], truth, atol=0.02) for h in boxes)
    code = int(pdq(photo)["hex"], 16)
    best = min(bin(code ^ int(h["hex"], 16)).count("1") for h in boxes)
    assert best <= 24


def test_frames_the_colour_pass_misses_get_their_grey_boxes(tmp_path: Path) -> None:
    canvas = Image.new("RGB", (320, 180), (30, 140, 200))
    canvas.paste(scene(31, 200, 130), (30, 20))
    path = write(tmp_path / "framed.mp4", [Part(_still(canvas), 0.0, 2.0)])
    sampling = sample_frames(path)
    times = [f.t for f in sampling.frames]
    found = colour_boxes(path, times[:2])
    assert set(found) == set(times[:2]) and all(found.values())
    half = hash_sampling(sampling, None, lambda ts: {t: b for t, b in found.items()})
    none = hash_sampling(sampling, None, lambda ts: {})
    assert half.summary["content_boxes"] > 0
    assert none.summary["content_boxes"] > 0  # every frame from its grey picture
    assert {h["t"] for h in half.hashes if h.get("region")} == set(times)


def test_a_failing_colour_pass_keeps_the_frame_hashes(tmp_path: Path, monkeypatch) -> None:
    canvas = Image.new("RGB", (320, 180), (30, 140, 200))
    canvas.paste(scene(31, 200, 130), (30, 20))
    path = write(tmp_path / "framed.mp4", [Part(_still(canvas), 0.0, 2.0)])
    expected = hash_video_frames(path)

    def broken(*args, **kwargs):
        raise RuntimeError("decoder crashed in the second pass")

    monkeypatch.setattr(frames_module, "colour_boxes", broken)
    result = hash_video_frames(path)
    assert result.summary["hashed"] == expected.summary["hashed"] > 0
    assert result.summary["content_boxes"] > 0  # from the greyscale frames
