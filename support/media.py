"""Generated photos and videos: textured synthetic scenes, JPEGs with chosen EXIF, and
short videos panning across a scene."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image


def scene(seed: int, width: int = 640, height: int = 480) -> Image.Image:
    """A textured synthetic scene: different seeds give unrelated pictures."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.zeros((height, width, 3), np.float32)
    for c in range(3):
        fx, fy, phase = [*rng.uniform(0.5, 6, 2).tolist(), rng.uniform(0, 6.28)]
        base[..., c] = 128 + 60 * np.sin(x / width * fx * 6.28 + phase) * np.cos(
            y / height * fy * 6.28
        )
    img = Image.fromarray(base.clip(0, 255).astype(np.uint8))
    from PIL import ImageDraw

    draw = ImageDraw.Draw(img)
    for _ in range(40):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        w, h = int(rng.integers(10, width // 3)), int(rng.integers(10, height // 3))
        color = tuple(int(v) for v in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            draw.rectangle([x0, y0, x0 + w, y0 + h], fill=color)
        else:
            draw.ellipse([x0, y0, x0 + w, y0 + h], fill=color)
    noise = rng.normal(0, 6, (height, width, 3))
    arr = np.asarray(img, np.float32) + noise
    return Image.fromarray(arr.clip(0, 255).astype(np.uint8))


def _rational(value: float, den: int = 10000) -> tuple[int, int]:
    frac = Fraction(value).limit_denominator(den)
    return frac.numerator, frac.denominator


def write_jpeg(
    path: Path,
    seed: int = 1,
    *,
    size: tuple[int, int] = (640, 480),
    make: str | None = "Canon",
    model: str | None = "Canon EOS 80D",
    taken: str | None = "2022:03:16 10:41:07",
    offset: str | None = None,
    gps: tuple[float, float, float] | None = None,
    orientation: int | None = None,
    quality: int = 90,
) -> Path:
    """A JPEG of ``scene(seed)`` with the given EXIF."""
    from PIL.TiffImagePlugin import IFDRational

    img = scene(seed, *size)
    exif = Image.Exif()
    if make:
        exif[0x010F] = make
    if model:
        exif[0x0110] = model
    if orientation:
        exif[0x0112] = orientation
    ifd = exif.get_ifd(0x8769)
    if taken:
        ifd[0x9003] = taken
    if offset:
        ifd[0x9011] = offset
    if gps:
        lat, lon, alt = gps

        def dms(v: float) -> tuple[IFDRational, ...]:
            v = abs(v)
            d = int(v)
            m = int((v - d) * 60)
            s = (v - d - m / 60) * 3600
            return (IFDRational(d, 1), IFDRational(m, 1), IFDRational(*_rational(s, 1000)))

        g = exif.get_ifd(0x8825)
        g[1] = "N" if lat >= 0 else "S"
        g[2] = dms(lat)
        g[3] = "E" if lon >= 0 else "W"
        g[4] = dms(lon)
        g[5] = b"\x00" if alt >= 0 else b"\x01"
        g[6] = IFDRational(*_rational(abs(alt), 100))
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, "JPEG", quality=quality, exif=exif.tobytes())
    return path


def encode_h264(
    path: Path,
    frames: list[np.ndarray],
    fps: int,
    *,
    crf: str = "23",
    size: tuple[int, int] | None = None,
    rotation: int | None = None,
) -> Path:
    """RGB frames written to ``path`` as H.264 (veryfast, constant quality ``crf``) at
    ``fps``, ``size`` (width, height; default the first frame's), with an optional
    display rotation in the stream."""
    import av

    width, height = size or (frames[0].shape[1], frames[0].shape[0])
    with av.open(str(path), "w") as out:
        stream = out.add_stream("h264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": crf}
        if rotation:
            stream.set_display_rotation(rotation)
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def write_video(
    path: Path,
    seed: int = 1,
    *,
    seconds: float = 2.0,
    fps: int = 10,
    size: tuple[int, int] = (160, 120),
    creation_time: str | None = "2024-02-03T04:05:06.000000Z",
    codec: str = "h264",
    container: str | None = None,
) -> Path:
    """A short video panning across ``scene(seed)``."""
    import av

    width, height = size
    pano = np.asarray(scene(seed, width * 3, height))
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = container or {".mkv": "matroska", ".mov": "mov", ".webm": "webm"}.get(path.suffix, "mp4")
    with av.open(str(path), "w", format=fmt) as out:
        if creation_time:
            out.metadata["creation_time"] = creation_time
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        frames = int(seconds * fps)
        for i in range(frames):
            x = int(i * (2 * width) / max(1, frames - 1))
            frame = av.VideoFrame.from_ndarray(
                np.ascontiguousarray(pano[:, x : x + width]), format="rgb24"
            )
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path
