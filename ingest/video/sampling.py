"""Decoding a video once and choosing which frames to keep, with their times.

Owns the PyAV decode loop of ``ingest.video.frames``: the cheap decoder settings, the
sampling rule (a regular grid, scene cuts, and every frame that changed enough during fast
motion), the per-video limits (frame cap, time budget, keyframe fallback) and the upright,
small greyscale pictures handed on for hashing. Pure: reads the one file it is given.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ingest.errors import CorruptMedia, NotAFile, UnreadableFile
from ingest.lazy import lazy_import

if TYPE_CHECKING:
    import av
    import cv2
    import numpy as np
else:
    av = lazy_import("av")
    cv2 = lazy_import("cv2")
    np = lazy_import("numpy")

#: Pixel formats whose first plane is 8-bit luma: read it directly, without a conversion.
_LUMA_FIRST = frozenset(
    {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12", "nv21"}
    | {"gray", "yuv411p", "yuv440p", "yuvj440p", "yuv410p"}
)
# Same pins as ingest.video.meta: a hostile file must not make probing unbounded.
_OPEN_OPTIONS = {"probesize": "5000000", "analyzeduration": "5000000"}
_TIMEOUT = (10.0, 5.0)
# The thumbnail every decoded frame is compared through (width, height).
_SIGNATURE = (32, 18)


@dataclass(frozen=True)
class FrameOptions:
    """How frames are sampled and filtered.

    Attributes:
        interval_s: Seconds between regularly sampled frames (scene cuts add more).
        max_frames: At most this many frames per video; longer videos get a coarser interval.
        size: Longest side, in pixels, of the greyscale picture that is hashed.
        scene_threshold: Mean absolute change (grey levels, 0-255) of a 32x18 thumbnail
            between decoded frames that counts as a cut.
        motion_threshold: Change of the thumbnail since the last kept frame (mean absolute
            difference over its standard deviation) at which a frame is kept between grid
            points. Fast motion changes PDQ by ~70 bits in 1/12 s; keeping frames at this
            rate bounds the distance from any instant of a copy to the nearest kept frame.
        min_motion_gap_s: Motion frames are kept at most this often.
        motion_share: Share of ``max_frames`` that motion frames may use, spread evenly
            over the video.
        min_scene_gap_s: A cut is kept only this long after the previous cut (flashes and
            strobes would otherwise flood the record).
        min_quality: Frames whose PDQ quality is below this are counted as low quality
            (kept, flagged by their quality; matching does not start from them).
        min_std: Frames whose grey-level standard deviation (after cropping) is below this
            are dropped (black, constant colour, the ends of fades).
        threads: FFmpeg decoding threads (1: the worker process is the unit of parallelism).
        time_budget_s: Wall-clock seconds for decoding; when the projected time exceeds
            it, decoding falls back to keyframes only, and stops when it is used up.
        fast: Skip non-reference frames and the deblocking filter.
        crop: Detect and cut off letterbox/pillarbox bars.
    """

    interval_s: float = 0.5
    max_frames: int = 2400
    size: int = 160
    scene_threshold: float = 28.0
    min_scene_gap_s: float = 0.2
    motion_threshold: float = 0.07
    min_motion_gap_s: float = 0.06
    motion_share: float = 0.5
    min_quality: int = 50
    min_std: float = 6.0
    threads: int = 1
    time_budget_s: float = 90.0
    fast: bool = True
    crop: bool = True


@dataclass
class SampledFrame:
    """One kept frame: its time, an upright greyscale picture, and why it was kept."""

    t: float
    gray: np.ndarray
    scene: bool = False
    motion: bool = False


@dataclass
class Sampling:
    """The frames kept from one video, and what limited the sampling."""

    frames: list[SampledFrame]
    interval_s: float
    decoded: int = 0
    decode_errors: int = 0
    complete: bool = True
    keyframes_only_from_s: float | None = None
    duration_s: float | None = None


def sample_frames(
    path: str | os.PathLike[str],
    *,
    rotation: int | None = None,
    duration_s: float | None = None,
    options: FrameOptions | None = None,
) -> Sampling:
    """Decode a video once and keep grid, scene-cut and motion frames.

    Args:
        path: The video file.
        rotation: Clockwise display rotation in degrees (``metadata["rotation"]``); None
            reads it from each frame's display matrix.
        duration_s: The container's duration, to choose the interval up front.
        options: Sampling settings.

    Raises:
        CorruptMedia: No frame could be decoded.
        UnreadableFile, NotAFile: The file cannot be opened.
    """
    opts = options or FrameOptions()
    fspath = os.fsdecode(path)
    if os.path.exists(fspath) and not os.path.isfile(fspath):
        raise NotAFile(fspath)
    with open_video(fspath) as container:
        videos = [
            s
            for s in container.streams.video
            if not s.disposition & av.stream.Disposition.attached_pic
        ]
        if not videos:
            raise CorruptMedia("no video stream")
        stream = videos[0]
        if duration_s is None and container.duration and container.duration > 0:
            duration_s = container.duration / av.time_base
        sampler = _Sampler(stream, opts, rotation, duration_s)
        sampler.run(container)
    if not sampler.sampling.frames and sampler.sampling.decoded == 0:
        raise CorruptMedia("no video frame could be decoded")
    return sampler.sampling


class _Sampler:
    """The decode loop's state: which frames to keep, and the decoder's settings."""

    def __init__(
        self, stream: Any, opts: FrameOptions, rotation: int | None, duration: float | None
    ) -> None:
        self.stream, self.opts, self.rotation, self.duration = stream, opts, rotation, duration
        interval = opts.interval_s
        if duration and duration > 0:
            interval = max(interval, duration / opts.max_frames)
        self.sampling = Sampling(frames=[], interval_s=interval, duration_s=duration)
        self.ctx = stream.codec_context
        self.ctx.thread_count = opts.threads
        self.ctx.thread_type = "SLICE" if opts.threads == 1 else "AUTO"
        # "fast" skips work (below); "all" decodes every frame; "keyframes" only those.
        self.mode = "fast" if opts.fast else "all"
        if opts.fast:
            # Non-reference frames are never needed to decode the others; the residual
            # of B-frames (motion-compensated from their neighbours) and the deblocking
            # filter change a frame's PDQ by a few bits only. Skipping all three decodes
            # 720p H.264 about 2.5x faster. Every other frame is still seen, which fast
            # motion needs (see ``motion_threshold``).
            self.ctx.skip_frame = "NONREF"
            self.ctx.options = {"skip_loop_filter": "all", "skip_idct": "bidir"}
        self.tb = stream.time_base
        self.start_pts: int | None = stream.start_time
        rate = stream.average_rate or stream.guessed_rate
        self.frame_step = 1.0 / float(rate) if rate else 1.0 / 25
        self.next_grid = 0.0
        self.last_kept = -math.inf
        self.last_t = -math.inf
        self.previous: np.ndarray | None = None
        self.kept_signature: np.ndarray | None = None
        self.kept_contrast = 0.0
        self.motion_kept = 0
        self.last_cut = -math.inf
        self.started = time.monotonic()

    def run(self, container: Any) -> None:
        errors = 0
        for packet in container.demux(self.stream):
            try:
                frames = self.ctx.decode(packet) if packet.size else self.ctx.decode(None)
            except (av.error.InvalidDataError, av.error.UndefinedError, ValueError):
                errors += 1
                if errors > 1000:
                    break
                continue
            for frame in frames:
                self._take(frame)
            if not self._within_budget():
                self.sampling.complete = False
                break
        self.sampling.decode_errors = errors
        grid = sum(not (f.scene or f.motion) for f in self.sampling.frames)
        if grid > self.opts.max_frames * 1.2 or len(self.sampling.frames) > self._cap():
            self._thin()

    def _cap(self) -> int:
        # Grid frames, motion frames' own budget, and as many again for cuts.
        return int(self.opts.max_frames * (2 + self.opts.motion_share))

    def _within_budget(self) -> bool:
        elapsed = time.monotonic() - self.started
        if elapsed > self.opts.time_budget_s:
            return False
        if (
            self.sampling.keyframes_only_from_s is None
            and self.duration
            and elapsed > 3.0
            and self.last_t > 0
            and elapsed / self.last_t * self.duration > self.opts.time_budget_s
        ):
            # Too slow to decode every frame in time: keep going on keyframes only, which
            # still gives a frame every few seconds on most encodings.
            self.ctx.skip_frame = "NONKEY"
            self.mode = "keyframes"
            self.sampling.keyframes_only_from_s = round(self.last_t, 3)
        return True

    def _take(self, frame: Any) -> None:
        self.sampling.decoded += 1
        t = self._time(frame)
        signature = _signature(frame)
        opts = self.opts
        cut = (
            self.previous is not None
            and float(np.mean(np.abs(signature - self.previous))) >= opts.scene_threshold
        )
        self.previous = signature
        interval = self.sampling.interval_s
        gap = t - self.last_kept
        on_grid = t >= self.next_grid - self.frame_step / 2
        # Cuts right after a kept cut are a flash or a strobe: one frame is enough.
        scene = cut and t - self.last_cut >= opts.min_scene_gap_s
        motion = (
            not (on_grid or scene)
            and self.kept_signature is not None
            and gap >= opts.min_motion_gap_s
            and self.motion_kept < self._motion_allowance(t)
            and _change(signature, self.kept_signature, self.kept_contrast) >= opts.motion_threshold
        )
        if not (on_grid or scene or motion):
            return
        if on_grid:
            # The next grid point strictly after this frame's slot (the frame may be a
            # little early: it counts for the point it is within half a frame of).
            slot = math.floor((t + self.frame_step / 2) / interval + 1e-6)
            self.next_grid = (slot + 1) * interval
        self.motion_kept += motion
        self.last_kept = t
        if scene:
            self.last_cut = t
        self.kept_signature = signature
        # Computed once per kept frame, not for every decoded frame compared with it.
        self.kept_contrast = float(signature.std())
        kept = SampledFrame(t, self._picture(frame), scene, motion)
        self.sampling.frames.append(kept)
        if self.mode == "fast" and len(self.sampling.frames) == 8:
            self._check_density()

    def _motion_allowance(self, t: float) -> float:
        budget = self.opts.max_frames * self.opts.motion_share
        if not self.duration:
            return budget
        # Spread evenly, with a head start, so a busy opening cannot use it all up.
        return budget * min(1.0, (t + 10.0) / self.duration)

    def _check_density(self) -> None:
        # Some encoders mark most frames as non-reference; then skipping them would leave
        # too few frames. Decode everything when the first frames came too sparsely.
        grid = [f for f in self.sampling.frames if not (f.scene or f.motion)]
        span = grid[-1].t - grid[0].t
        if span > (len(grid) - 1) * self.sampling.interval_s * 1.5:
            self.ctx.skip_frame = "DEFAULT"
            self.mode = "all"

    def _time(self, frame: Any) -> float:
        pts = frame.pts
        if pts is not None and self.tb is not None:
            if self.start_pts is None:
                self.start_pts = pts
            t = float((pts - self.start_pts) * self.tb)
        else:
            t = self.last_t + self.frame_step
        if not math.isfinite(t) or t <= self.last_t:
            # Missing or out-of-order timestamps (broken muxers): assume a steady rate.
            t = max(self.last_t + self.frame_step, 0.0) if self.last_t > -math.inf else 0.0
        self.last_t = t
        return max(t, 0.0)

    def _picture(self, frame: Any) -> np.ndarray:
        return gray_picture(frame, self.opts.size, self.rotation)

    def _thin(self) -> None:
        # The container understated the duration (or a strobe cut all the time): halve
        # the rate until under the cap.
        frames = self.sampling.frames
        while len(frames) > self.opts.max_frames:
            frames = frames[::2]
            self.sampling.interval_s *= 2
        self.sampling.frames = frames


def fitted(frame: Any, size: int) -> tuple[int, int]:
    """Width and height of a frame scaled down (never up) to ``size`` on its longest side."""
    scale = min(1.0, size / max(frame.width, frame.height))
    return max(1, round(frame.width * scale)), max(1, round(frame.height * scale))


def gray_picture(frame: Any, size: int, rotation: int | None) -> np.ndarray:
    """A decoded frame as an upright greyscale picture ``size`` on its longest side at most.

    ``rotation``: clockwise display rotation in degrees; None reads the frame's own.
    """
    w, h = fitted(frame, size)
    luma = _luma(frame)
    if luma is None:
        gray = frame.to_ndarray(format="gray", width=w, height=h, interpolation="AREA")
    else:
        # Straight from the decoder's luma plane: half the cost of a conversion.
        gray = cv2.resize(luma, (w, h), interpolation=cv2.INTER_AREA)
    return upright(gray, frame, rotation)


def upright(pixels: np.ndarray, frame: Any, rotation: int | None) -> np.ndarray:
    """``pixels`` (a picture of ``frame``) turned by the clockwise display rotation
    (``rotation``, or the frame's own when None), as a contiguous array."""
    clockwise = rotation if rotation is not None else -_frame_rotation(frame)
    turns = round(clockwise / 90) % 4
    # np.rot90 turns counter-clockwise; the display rotation is clockwise.
    return np.ascontiguousarray(np.rot90(pixels, -turns) if turns else pixels)


def _frame_rotation(frame: Any) -> float:
    try:
        return float(frame.rotation or 0)
    except (ValueError, TypeError, AttributeError):
        return 0.0


def _change(signature: np.ndarray, reference: np.ndarray, contrast: float) -> float:
    """How much a thumbnail changed, relative to the contrast (std) of the reference."""
    return float(np.mean(np.abs(signature - reference))) / (contrast + 4.0)


def _luma(frame: Any) -> np.ndarray | None:
    """The frame's 8-bit luma plane as an array view, or None for other pixel formats."""
    if frame.format.name not in _LUMA_FIRST:
        return None
    plane = frame.planes[0]
    luma = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)
    return luma[: frame.height, : frame.width]


def _signature(frame: Any) -> np.ndarray:
    """A 32x18 thumbnail of the frame's luma, read cheaply (no full-size conversion)."""
    luma = _luma(frame)
    if luma is not None:
        # Every few pixels is plenty for a 32x18 average and costs almost nothing.
        step = max(1, min(frame.width // 64, frame.height // 36, 8))
        luma = luma[::step, ::step]
    else:
        luma = frame.to_ndarray(format="gray", width=64, height=36)
    return cv2.resize(luma, _SIGNATURE, interpolation=cv2.INTER_AREA).astype(np.float32)


def open_video(fspath: str) -> Any:
    """The container at ``fspath`` opened for decoding (probe and I/O time bounded).

    Raises:
        UnreadableFile: The file cannot be opened.
        CorruptMedia: It is not a container PyAV can read.
    """
    try:
        return av.open(fspath, metadata_errors="ignore", options=_OPEN_OPTIONS, timeout=_TIMEOUT)
    except (FileNotFoundError, PermissionError, IsADirectoryError) as exc:
        raise UnreadableFile(_one_line(exc)) from exc
    except Exception as exc:
        raise CorruptMedia(_one_line(exc)) from exc


def _one_line(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {' '.join(str(text).split())}"[:300]
