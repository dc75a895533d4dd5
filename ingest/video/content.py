"""The picture inside a video's frames: a photo shown with borders, a screen recording.

Letterbox bars (``ingest.video.letterbox``) are cut off every frame because they are
common and symmetric. A video that *shows a photo* (a slideshow with coloured borders,
a news clip with a ticker under the picture, a screen recording of a chat with a status
bar and app chrome) frames its content in other ways. Its frames are searched for the
same content boxes as photos (``ingest.photo.regions.content_boxes``: borders, a
screenshot's band, flat chrome at the edges), so that a photo and a video showing it
hash alike on both sides.

A video gets content boxes only when most of its frames have a ``chrome_box``: lines drawn
flat (borders, bars, app chrome) do not occur in camera footage, where the other finders
take a white wall behind a person for a background around a photo, frame after frame.
Each frame of such a video then gets every box found in it (a screen recording scrolls).

Whether a video is framed is decided on the sampler's small greyscale frames; the boxes
themselves are found on the same frames decoded again in colour and larger
(``colour_boxes``): a photo's sky and a canvas of another hue can have one grey level,
and an edge placed on a 160-pixel frame is a few per cent of the picture off.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ingest.errors import CorruptMedia, PictureTooSmall
from ingest.lazy import lazy_import
from ingest.photo.regions import MIN_PICTURE_SIDE, Box, chrome_box, content_boxes
from ingest.video.sampling import _one_line, fitted, open_video, upright

if TYPE_CHECKING:
    import av
    import numpy as np
    from PIL import Image
else:
    av = lazy_import("av")
    np = lazy_import("numpy")
    Image = lazy_import("PIL.Image")

#: Share of a video's frames (with some contrast) that must have a content box.
MIN_SHARE = 0.8
#: Frames with less contrast than this (grey-level standard deviation) do not vote.
MIN_FRAME_STD = 12.0
#: Frames looked at to decide (spread over the video).
VOTING_FRAMES = 24
#: Longest side of the colour pictures boxes are found on.
COLOUR_SIZE = 480
#: The colour pass decodes at most this many frames more than the sampler did.
COLOUR_SLACK = 250

Boxes = list[tuple[str, Box]]


def frame_boxes(gray: np.ndarray) -> list[tuple[str, Box]]:
    """The content boxes of one greyscale frame, as ``(kind, box)`` (often none): all
    of them, as a photo's are all hashed, since no one finder is right for every picture."""
    try:
        return content_boxes(Image.fromarray(gray).convert("RGB"))
    except PictureTooSmall:
        return []


def _chrome(gray: np.ndarray) -> Box | None:
    if min(gray.shape[:2]) < MIN_PICTURE_SIDE:
        return None
    return chrome_box(Image.fromarray(gray).convert("RGB"))


def framed(frames: Sequence[np.ndarray]) -> bool:
    """Whether a video's frames show their picture inside a frame (see module docstring).

    Args:
        frames: Upright greyscale frames, after letterbox bars are cut off.
    """
    step = max(1, len(frames) // VOTING_FRAMES)
    voting = [f for f in frames[::step] if f.size and float(np.std(f)) >= MIN_FRAME_STD]
    if not voting:
        return False
    found = sum(_chrome(f) is not None for f in voting)
    return found >= MIN_SHARE * len(voting)


def colour_boxes(
    path: str | os.PathLike[str],
    times: Sequence[float],
    *,
    rotation: int | None = None,
    max_decoded: int | None = None,
    size: int = COLOUR_SIZE,
) -> dict[float, Boxes]:
    """The content boxes of a video's frames at ``times`` (the sampled frames' times,
    timed as ``ingest.video.sampling`` times them), found on colour pictures.

    Frames the pass does not reach (a decoding error, ``max_decoded`` frames decoded)
    are absent from the answer; their boxes are then looked for on the greyscale frames.

    Raises:
        UnreadableFile, CorruptMedia: The file cannot be opened.
    """
    wanted = sorted(times)
    out: dict[float, Boxes] = {}
    limit = (max_decoded or 0) + COLOUR_SLACK if max_decoded else None
    with open_video(os.fspath(path)) as container:
        if not container.streams.video:
            raise CorruptMedia("no video stream")
        stream = container.streams.video[0]
        stream.codec_context.thread_count = 1
        tb, start, decoded = stream.time_base, None, 0
        # Half a frame either way: the sampled frame is this one.
        step = 0.5 / (float(stream.average_rate or 0) or 25.0)
        try:
            for frame in container.decode(stream):
                decoded += 1
                if frame.pts is None or tb is None or (limit and decoded > limit):
                    break
                start = frame.pts if start is None else start
                t = float((frame.pts - start) * tb)
                while wanted and wanted[0] < t - step:
                    wanted.pop(0)  # timed otherwise (a muxer's broken stamps): grey boxes
                if wanted and abs(wanted[0] - t) <= step:
                    out[wanted.pop(0)] = _boxes_in(_colour(frame, size, rotation))
                if not wanted:
                    break
        except (av.error.FFmpegError, ValueError) as exc:
            if not out:
                raise CorruptMedia(_one_line(exc)) from exc
    return out


def _colour(frame: Any, size: int, rotation: int | None) -> np.ndarray:
    w, h = fitted(frame, size)
    rgb = frame.to_ndarray(format="rgb24", width=w, height=h, interpolation="AREA")
    return upright(rgb, frame, rotation)


def _boxes_in(rgb: np.ndarray) -> Boxes:
    try:
        return content_boxes(Image.fromarray(rgb))
    except PictureTooSmall:
        return []
