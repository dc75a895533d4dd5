"""Building test videos with PyAV (no ffmpeg binary): cut, edit and join real footage.

Used by the video benchmarks. ``compose`` writes a video from pieces of source videos,
each piece through an optional per-frame edit (mirror, letterbox, logo...), and returns
the ground truth: where each piece sits in the new video and in its source.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

Edit = Callable[[np.ndarray], np.ndarray]

#: The shared corpus's real videos (``../shared/corpus/video`` beside the project).
CORPUS = next(
    (
        p / "shared" / "corpus" / "video"
        for p in Path(__file__).resolve().parents
        if (p / "shared" / "corpus").is_dir()
    ),
    Path(__file__).resolve().parents[2] / "shared" / "corpus" / "video",
)


@dataclass(frozen=True)
class Piece:
    """A stretch of a source video, or ``seconds`` of black when ``source`` is None.

    ``fade`` is the length (seconds) of a fade from and to black at the piece's ends.
    """

    source: Path | None
    start_s: float = 0.0
    end_s: float | None = None
    seconds: float = 1.0
    fade: float = 0.0


@dataclass
class Truth:
    """Where a piece of a source sits in the composed video."""

    source: str
    query_start_s: float
    query_end_s: float
    match_start_s: float
    match_end_s: float


@dataclass
class Composed:
    path: Path
    duration_s: float
    truth: list[Truth] = field(default_factory=list)


def read_frames(path: Path, start_s: float = 0.0, end_s: float | None = None) -> Iterator:
    """(t, RGB array) of a video's frames in [start_s, end_s)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        first = None
        for frame in container.decode(stream):
            if frame.pts is None:
                continue
            if first is None:
                first = frame.pts
            t = float((frame.pts - first) * stream.time_base)
            if t < start_s - 1e-6:
                continue
            if end_s is not None and t >= end_s - 1e-6:
                break
            yield t, frame.to_ndarray(format="rgb24")


def duration(path: Path) -> float:
    with av.open(str(path)) as container:
        return container.duration / av.time_base


def compose(
    out: Path,
    pieces: list[Piece],
    *,
    size: tuple[int, int] = (640, 360),
    fps: int = 25,
    edit: Edit | None = None,
    bit_rate: int | None = None,
    crf: int = 23,
    fit: str = "stretch",
) -> Composed:
    """Write the pieces one after another as one H.264 video.

    Each output frame shows the latest source frame at or before its time (the way a
    re-encode to a constant frame rate does), so a piece keeps its source's timing.

    Args:
        out: The file to write (.mp4).
        pieces: What to join.
        size: Output size; pieces are scaled to it (``fit="stretch"``) or fitted inside it
            with black bars (``fit="pad"``), before ``edit``.
        fps: Output frame rate.
        edit: Applied to every output frame (an RGB array of ``size``).
        bit_rate: Constant bit rate; None encodes at constant quality ``crf``.
        crf: x264 quality when no bit rate is given.
    """
    width, height = size
    truth: list[Truth] = []
    with av.open(str(out), "w") as container:
        stream = container.add_stream("h264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        options = {"preset": "veryfast"}
        if bit_rate:
            stream.bit_rate = bit_rate
        else:
            options["crf"] = str(crf)
        stream.options = options
        index = 0

        def emit(rgb: np.ndarray) -> None:
            nonlocal index
            picture = edit(rgb) if edit else rgb
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(picture), format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, fps)
            for packet in stream.encode(frame):
                container.mux(packet)
            index += 1

        for piece in pieces:
            start_q = index / fps
            if piece.source is None:
                black = np.zeros((height, width, 3), np.uint8)
                for _ in range(round(piece.seconds * fps)):
                    emit(black)
                continue
            end = piece.end_s if piece.end_s is not None else duration(piece.source)
            frames = read_frames(piece.source, piece.start_s, end)
            length = end - piece.start_s
            n_out = math.floor(length * fps + 1e-6)
            current = next(frames)
            upcoming = next(frames, None)
            for n in range(n_out):
                t = piece.start_s + n / fps
                while upcoming is not None and upcoming[0] <= t + 1e-6:
                    current, upcoming = upcoming, next(frames, None)
                rgb = _fit(current[1], size, fit)
                if piece.fade:
                    # Dip to black: fade in over the first ``fade`` seconds, out over the last.
                    edge = min(n / fps, (n_out - 1 - n) / fps, piece.fade) / piece.fade
                    rgb = (rgb.astype(np.float32) * max(0.0, edge)).astype(np.uint8)
                emit(rgb)
            truth.append(
                Truth(
                    source=piece.source.name,
                    query_start_s=start_q,
                    query_end_s=index / fps,
                    match_start_s=piece.start_s,
                    match_end_s=piece.start_s + n_out / fps,
                )
            )
        for packet in stream.encode():
            container.mux(packet)
    return Composed(out, index / fps, truth)


def _fit(rgb: np.ndarray, size: tuple[int, int], fit: str) -> np.ndarray:
    width, height = size
    if fit == "stretch" or rgb.shape[1] * height == rgb.shape[0] * width:
        if rgb.shape[:2] == (height, width):
            return rgb
        return cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)
    return letterbox(rgb, size)


def letterbox(rgb: np.ndarray, size: tuple[int, int], colour: int = 0) -> np.ndarray:
    """The picture fitted inside ``size`` with bars of ``colour``."""
    width, height = size
    scale = min(width / rgb.shape[1], height / rgb.shape[0])
    w, h = round(rgb.shape[1] * scale), round(rgb.shape[0] * scale)
    canvas = np.full((height, width, 3), colour, np.uint8)
    x, y = (width - w) // 2, (height - h) // 2
    canvas[y : y + h, x : x + w] = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)
    return canvas


def mirror(rgb: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(rgb[:, ::-1])


def logo(rgb: np.ndarray, text: str = "NEWS 24") -> np.ndarray:
    """A broadcaster's logo in the top-right corner and a translucent caption strip."""
    out = rgb.copy()
    h, w = out.shape[:2]
    box_w, box_h = int(w * 0.22), int(h * 0.12)
    x0, y0 = w - box_w - int(w * 0.03), int(h * 0.04)
    cv2.rectangle(out, (x0, y0), (x0 + box_w, y0 + box_h), (200, 20, 20), thickness=-1)
    scale = box_h / 40
    cv2.putText(
        out,
        text,
        (x0 + 6, y0 + int(box_h * 0.72)),
        cv2.FONT_HERSHEY_SIMPLEX,
        scale,
        (255, 255, 255),
        max(1, int(scale * 2)),
        cv2.LINE_AA,
    )
    strip = out[int(h * 0.85) : int(h * 0.95)].astype(np.float32)
    out[int(h * 0.85) : int(h * 0.95)] = (strip * 0.5 + 0.5 * 30).astype(np.uint8)
    cv2.putText(
        out,
        "breaking: footage from the scene",
        (int(w * 0.05), int(h * 0.92)),
        cv2.FONT_HERSHEY_SIMPLEX,
        h / 700,
        (255, 255, 255),
        1,
        cv2.LINE_AA,
    )
    return out


def write_test_720p(out: Path, source: Path, *, bit_rate: int, grain: int = 4) -> Path:
    """A 1280x720 30 fps H.264 video from ``source``, upscaled, with sensor-like grain.

    Grain makes the encoder spend its bits as it does on camera footage (an upscaled
    clean picture would decode unrealistically fast).
    """
    rng = np.random.default_rng(0)
    frames = read_frames(source)
    fps = 30
    with av.open(str(out), "w") as container:
        stream = container.add_stream("h264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 1280, 720, "yuv420p"
        stream.bit_rate = bit_rate
        stream.options = {"preset": "veryfast"}
        current = next(frames)
        upcoming = next(frames, None)
        n = 0
        while True:
            t = n / fps
            while upcoming is not None and upcoming[0] <= t + 1e-6:
                current, upcoming = upcoming, next(frames, None)
            if upcoming is None and t > current[0] + 1.0 / fps:
                break
            rgb = cv2.resize(current[1], (1280, 720), interpolation=cv2.INTER_CUBIC)
            noise = rng.integers(-grain, grain + 1, (720, 1280, 1), dtype=np.int16)
            rgb = (rgb.astype(np.int16) + noise).clip(0, 255).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = n, Fraction(1, fps)
            for packet in stream.encode(frame):
                container.mux(packet)
            n += 1
        for packet in stream.encode():
            container.mux(packet)
    return out
