"""Shared fixtures: the shared corpus (skipped when absent), generated photos and videos,
and a fresh registry."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import IO, Any

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
# ../shared/corpus from the repository; git worktrees (wt/<name>) sit one level deeper.
CORPUS = next(
    (
        p
        for p in (ROOT.parent / "shared" / "corpus", ROOT.parents[1] / "shared" / "corpus")
        if p.is_dir()
    ),
    ROOT.parent / "shared" / "corpus",
)


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The shared corpus of real files; tests using it skip when it is absent."""
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is absent")
    return CORPUS


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


@pytest.fixture
def media(tmp_path: Path) -> Path:
    """A folder with two photos (one with GPS), a video, and a non-media file."""
    folder = tmp_path / "media"
    write_jpeg(folder / "a.jpg", 1, gps=(50.4501, 30.5234, 179.0), offset="+02:00")
    write_jpeg(folder / "sub" / "b.jpg", 2, make="NIKON", model="COOLPIX P6000")
    write_video(folder / "clip.mp4", 3)
    (folder / "note.txt").write_text("not media\n")
    return folder


@pytest.fixture
def registry_path(tmp_path: Path) -> Path:
    return tmp_path / "reg"


def run_cli(
    *args: str,
    registry: Path | None = None,
    check: bool = False,
    env: dict[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess:
    """Run ``python -m registry`` in a subprocess, as a user would run ``evidence``."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    cmd = [sys.executable, "-m", "registry"]
    if registry is not None:
        cmd += ["--registry", str(registry)]
    proc = subprocess.run(
        cmd + list(args),
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def spawn_cli(
    *args: str,
    registry: Path,
    output: int | IO[Any] | None = subprocess.PIPE,
    env: dict[str, str] | None = None,
) -> subprocess.Popen:
    """Start ``python -m registry`` in its own session, so that killing the session's
    process group also kills its extraction workers (used by the kill -9 loops)."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "registry", "--registry", str(registry), *args],
        stdout=output,
        stderr=output,
        stdin=subprocess.DEVNULL,
        env=full_env,
        start_new_session=True,
    )


#: The commit points (``registry.fsutil.pause_point``) that every run of each command
#: passes once at least, whatever the registry holds (export: at least one item) and
#: however the ingest's records fall into batches.
PAUSE_POINTS: dict[str, tuple[str, ...]] = {
    "ingest": (
        "commit.staged",
        "commit.logged",
        "commit.vaulted",
        "commit.saved",
        "custody.appended",
    ),
    "rebuild": ("rebuild.built", "rebuild.between_renames", "rebuild.renamed", "custody.appended"),
    "checkpoint": (
        "checkpoint.signed",
        "checkpoint.written",
        "checkpoint.logged",
        "custody.appended",
    ),
    "export": ("export.payload", "export.written", "custody.appended"),
    "verify": ("custody.appended",),  # the recovery's entry, or else the verify.run one
}


def kill_at(
    argv: Sequence[str], point: str, *, registry: Path, work: Path, timeout: float = 120.0
) -> str:
    """Run ``evidence <argv>`` until it stops at the pause point ``point`` (``name`` or
    ``name:n``), then kill -9 its whole process group; returns what the pause file says.

    The kill is decided by what the process has done, never by a delay: ``timeout`` only
    bounds a process that never gets there (then, or when it exits first, this fails
    with its output). ``work`` holds the pause file and the output.
    """
    flag, log = work / "paused", work / "output.txt"
    flag.unlink(missing_ok=True)
    with open(log, "wb") as out:
        proc = spawn_cli(
            *argv,
            registry=registry,
            output=out,
            env={"EVIDENCE_PAUSE_AT": point, "EVIDENCE_PAUSE_FILE": str(flag)},
        )
    try:
        deadline = time.monotonic() + timeout
        while not flag.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                what = f"exited with {proc.returncode}" if proc.poll() is not None else "hangs"
                text = log.read_text(errors="replace")[-3000:]
                raise AssertionError(f"{' '.join(argv)} {what} before {point}:\n{text}")
            time.sleep(0.01)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.returncode
    return flag.read_text().strip()
