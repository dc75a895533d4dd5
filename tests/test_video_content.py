"""Content boxes of video frames: a video that shows a framed picture (a photo with
borders, a screen recording) gets the picture's hash per frame; ordinary videos do not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from videogen import Part, write

from ingest.video.content import frame_boxes, framed
from ingest.video.frames import hash_video_frames
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
