"""Every frame of a short stretch of a video, decoded on demand.

Frame hashes (``ingest.video.frames``) keep a frame every half second or so; a still
found among them is then checked on pixels against the frames around its time
(``registry.similarity.still_check``), which needs the frames themselves: this module
decodes them. Times are those of the frame hashes (seconds from the stream's start), the
pictures upright greyscale, as ``ingest.video.sampling`` makes them but larger. Pure:
reads the one file it is given, under the same open limits as sampling, and decodes at
most ``max_frames`` frames.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ingest.errors import CorruptMedia
from ingest.lazy import lazy_import
from ingest.video.sampling import _one_line, gray_picture, open_video

if TYPE_CHECKING:
    import av
    import numpy as np
else:
    av = lazy_import("av")
    np = lazy_import("numpy")

#: Longest side of the pictures returned (as photos are decoded for verification).
SIZE = 512
#: At most this many frames are decoded per call (from the keyframe before the stretch).
MAX_FRAMES = 1500


def decode_window(
    path: str | os.PathLike[str],
    start_s: float,
    end_s: float,
    *,
    rotation: int | None = None,
    size: int = SIZE,
    max_frames: int = MAX_FRAMES,
) -> list[tuple[float, np.ndarray]]:
    """The frames whose time lies in ``[start_s, end_s]``, as ``(t, grey picture)``.

    Args:
        path: The video file.
        start_s, end_s: The stretch, in seconds from the stream's start.
        rotation: Clockwise display rotation in degrees; None reads each frame's.
        size: Longest side of the pictures.
        max_frames: Decoding stops after this many frames (a hostile or very long GOP).

    Raises:
        UnreadableFile: The file cannot be opened.
        CorruptMedia: It is not a video PyAV can read.
    """
    fspath = os.fsdecode(path)
    out: list[tuple[float, np.ndarray]] = []
    with open_video(fspath) as container:
        if not container.streams.video:
            raise CorruptMedia("no video stream")
        stream = container.streams.video[0]
        stream.codec_context.thread_count = 1
        tb = stream.time_base
        start_pts = stream.start_time or 0
        if tb is not None and start_s > 0:
            try:
                target = int(start_pts + max(0.0, start_s) / float(tb))
                container.seek(target, stream=stream, backward=True, any_frame=False)
            except (av.error.FFmpegError, OverflowError, ValueError):
                pass  # decode from the start instead
        decoded = 0
        try:
            for frame in container.decode(stream):
                decoded += 1
                if decoded > max_frames or frame.pts is None or tb is None:
                    break
                t = float((frame.pts - start_pts) * tb)
                if t > end_s:
                    break
                if t >= start_s:
                    out.append((t, gray_picture(frame, size, rotation)))
        except (av.error.FFmpegError, ValueError) as exc:
            if not out:
                raise CorruptMedia(_one_line(exc)) from exc
    return out
