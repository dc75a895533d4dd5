"""Ingest throughput: the registry's pipeline against two naive pipelines, same files.

Generates 12-megapixel camera-like JPEGs (with EXIF) and phone-like H.264 videos, then
times, from a cold start of each pipeline:

* ``evidence ingest`` with 1 worker and with N workers (full job: hashes, EXIF, reduced
  decode, PDQ + pHash, vault copy with fsync and re-hash, custody log, catalogue);
* *same outputs*: per file, read it, hashlib sha256/sha1/md5, ``exifread.process_file``,
  full decode ``Image.open(f).convert("RGB")``, ``imagehash.phash`` and
  ``pdqhash.compute`` on it, ``shutil.copy2`` into a folder;
* *minimal*: ``hashlib.sha256`` + ``exifread.process_file`` +
  ``imagehash.phash(Image.open(f))``;
* *floor*: not a pipeline, the least any pipeline with the required outputs must do: the
  three digests, a greyscale 1/8-scale decode (which still entropy-decodes every
  coefficient) and a copy of the file, fsynced. Its time bounds how much faster than the
  naive pipelines one can be.

Start-up is measured apart: each pipeline also runs on no photo at all (``evidence
ingest`` on one 64x48 JPEG, so that its workers import their decoders), and "per file"
is the difference of the two runs' times divided by the number of photos.

CPU seconds include every process a pipeline waited for (its workers); "per core" ratios
are of CPU seconds, so they do not depend on the number of cores or on other load.

    python bench/ingest_throughput.py               # 30 photos, 4 videos
    python bench/ingest_throughput.py --photos 30 --videos 0
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def make_photo(path: Path, seed: int, size: tuple[int, int] = (4000, 3000)) -> None:
    """A 12-MP photo with camera-like detail (noise and edges compress like real ones)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (size[1] // 16, size[0] // 16, 3), dtype=np.uint8)
    img = Image.fromarray(small).resize(size, Image.Resampling.BICUBIC)
    arr = np.asarray(img, dtype=np.int16) + rng.integers(-12, 13, (size[1], size[0], 3))
    img = Image.fromarray(arr.clip(0, 255).astype(np.uint8))
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Canon", "Canon EOS 80D"
    exif.get_ifd(0x8769)[0x9003] = "2022:03:16 10:41:07"
    img.save(path, "JPEG", quality=92, exif=exif.tobytes())


def make_video(path: Path, seed: int, seconds: float = 10.0) -> None:
    """A 1080p 30 fps H.264 clip, about what a phone records."""
    import av

    rng = np.random.default_rng(seed)
    width, height, fps = 1920, 1080, 30
    pano = rng.integers(0, 256, (height // 8, width // 4, 3), dtype=np.uint8)
    pano = np.asarray(Image.fromarray(pano).resize((width * 2, height), Image.Resampling.BICUBIC))
    with av.open(str(path), "w") as out:
        out.metadata["creation_time"] = "2022-03-16T10:45:00.000000Z"
        stream = out.add_stream("h264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "23", "preset": "veryfast"}
        frames = int(seconds * fps)
        for i in range(frames):
            x = int(i * width / frames)
            frame = av.VideoFrame.from_ndarray(
                np.ascontiguousarray(pano[:, x : x + width]), format="rgb24"
            )
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


SAME_OUTPUTS = """
import hashlib, shutil, sys, os
import exifread, imagehash, pdqhash, numpy as np
from PIL import Image
dest = sys.argv[1]
for path in sys.argv[2:]:
    with open(path, "rb") as fh:
        data = fh.read()
    for name in ("sha256", "sha1", "md5"):
        hashlib.new(name, data).hexdigest()
    with open(path, "rb") as fh:
        exifread.process_file(fh)
    with Image.open(path) as f:
        rgb = f.convert("RGB")
    imagehash.phash(rgb)
    pdqhash.compute(np.asarray(rgb))
    shutil.copy2(path, os.path.join(dest, os.path.basename(path)))
"""

MINIMAL = """
import hashlib, sys
import exifread, imagehash
from PIL import Image
for path in sys.argv[2:]:
    with open(path, "rb") as fh:
        hashlib.sha256(fh.read()).hexdigest()
    with open(path, "rb") as fh:
        exifread.process_file(fh)
    imagehash.phash(Image.open(path))
"""


@dataclass
class Run:
    wall: float  # seconds
    cpu: float  # CPU seconds of the process and every process it waited for


# Not a pipeline: the least any pipeline with the required outputs must do per photo
# (the three digests, decoding the JPEG's entropy-coded data, which DCT scaling to 1/8
# does not skip, and a durable copy). Its time bounds the achievable speed-up.
FLOOR = """
import hashlib, io, os, sys
from PIL import Image
dest = sys.argv[1]
for path in sys.argv[2:]:
    with open(path, "rb") as fh:
        data = fh.read()
    for name in ("sha256", "sha1", "md5"):
        hashlib.new(name, data).hexdigest()
    im = Image.open(io.BytesIO(data))
    im.draft("L", (im.width // 8, im.height // 8))
    im.load()
    with open(os.path.join(dest, os.path.basename(path)), "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
"""


def timed(cmd: list[str], env: dict[str, str] | None = None) -> Run:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd[:4])}…\n{proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Run(elapsed, cpu)


def run_evidence(files: list[Path], workers: int, folder: Path) -> Run:
    reg = folder / f"reg-{workers}-{time.monotonic_ns()}"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [
        sys.executable,
        "-m",
        "registry",
        "--registry",
        str(reg),
        "ingest",
        *map(str, files),
        "--workers",
        str(workers),
        "--json",
    ]
    elapsed = timed(cmd, env)
    shutil.rmtree(reg, ignore_errors=True)
    return elapsed


def run_script(script: str, files: list[Path], folder: Path) -> Run:
    dest = folder / f"copy-{time.monotonic_ns()}"
    dest.mkdir()
    elapsed = timed([sys.executable, "-c", script, str(dest), *map(str, files)])
    shutil.rmtree(dest, ignore_errors=True)
    return elapsed


def print_photo_summary(
    n: int,
    ours: Run,
    startup: Run,
    same: Run,
    minimal: Run,
    floor: Run,
    starts: dict[str, Run],
) -> None:
    """Start-up apart from the cost per file, and the ratios the issue asks about."""

    def per_file(total: Run, start: Run) -> Run:
        return Run((total.wall - start.wall) / n, (total.cpu - start.cpu) / n)

    ours_file = per_file(ours, startup)
    minimal_file = per_file(minimal, starts["minimal"])
    floor_file = per_file(floor, starts["floor"])
    print(
        "\n| photos, 1 worker | start-up wall s | start-up CPU s | per file wall ms "
        "| per file CPU ms |"
    )
    print("|---|---:|---:|---:|---:|")
    for name, start, each in (
        ("evidence ingest", startup, ours_file),
        ("naive, minimal", starts["minimal"], minimal_file),
        ("floor: 3 digests + 1/8 decode + fsynced copy", starts["floor"], floor_file),
    ):
        print(
            f"| {name} | {start.wall:.2f} | {start.cpu:.2f} | {each.wall * 1000:.0f} "
            f"| {each.cpu * 1000:.0f} |"
        )
    print(
        f"\nstart-up included, {n} photos: evidence ingest is {minimal.wall / ours.wall:.2f}x "
        f"as fast as the minimal pipeline (wall; {minimal.cpu / ours.cpu:.2f}x per core, CPU "
        f"seconds) and {same.wall / ours.wall:.2f}x the same-outputs one"
    )
    print(
        f"per file after start-up: {ours_file.wall / floor_file.wall:.2f}x the floor (wall; "
        f"{ours_file.cpu / floor_file.cpu:.2f}x in CPU seconds); the minimal pipeline "
        f"{minimal_file.wall / floor_file.wall:.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=30)
    parser.add_argument("--videos", type=int, default=4)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--keep", help="Folder to generate into and keep (default: temp).")
    args = parser.parse_args()
    folder = Path(args.keep or tempfile.mkdtemp(prefix="ingestbench-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        photos = []
        for i in range(args.photos):
            path = folder / f"photo{i:03d}.jpg"
            if not path.exists():
                make_photo(path, i)
            photos.append(path)
        videos = []
        for i in range(args.videos):
            path = folder / f"video{i:02d}.mp4"
            if not path.exists():
                make_video(path, i)
            videos.append(path)
        mb_photos = sum(p.stat().st_size for p in photos) / 1e6
        mb_videos = sum(p.stat().st_size for p in videos) / 1e6
        print(
            f"{len(photos)} photos, 4000×3000 JPEG, {mb_photos:.1f} MB; "
            f"{len(videos)} videos, 1080p30 H.264 10 s, {mb_videos:.1f} MB; "
            f"{os.cpu_count()} cores\n"
        )
        rows = []
        if photos:
            # Each pipeline and its start-up, side by side in this one run.
            same = run_script(SAME_OUTPUTS, photos, folder)
            minimal = run_script(MINIMAL, photos, folder)
            floor = run_script(FLOOR, photos, folder)
            photo_one = run_evidence(photos, 1, folder)
            tiny = folder / "tiny.jpg"
            Image.new("RGB", (64, 48), (90, 120, 30)).save(tiny, "JPEG")
            startup = run_evidence([tiny], 1, folder)
            starts = {
                "minimal": run_script(MINIMAL, [], folder),
                "floor": run_script(FLOOR, [], folder),
            }
            many = run_evidence(photos, args.workers, folder)
            n = len(photos)
            rows += [
                ("photos", "naive, same outputs", 1, same, n, mb_photos),
                ("photos", "naive, minimal", 1, minimal, n, mb_photos),
                ("photos", "floor: 3 digests + 1/8 decode + fsynced copy", 1, floor, n, mb_photos),
                ("photos", "evidence ingest", 1, photo_one, n, mb_photos),
                ("photos", "evidence ingest", args.workers, many, n, mb_photos),
            ]
        if videos:
            one = run_evidence(videos, 1, folder)
            many = run_evidence(videos, args.workers, folder)
            n = len(videos)
            rows += [
                ("videos", "evidence ingest", 1, one, n, mb_videos),
                ("videos", "evidence ingest", args.workers, many, n, mb_videos),
            ]
        print("| files | pipeline | workers | wall s | files/s | MB/s | wall s/file | CPU s/file |")
        print("|---|---|---:|---:|---:|---:|---:|---:|")
        for kind, name, workers, run, n, mb in rows:
            print(
                f"| {kind} | {name} | {workers} | {run.wall:.2f} | {n / run.wall:.2f} "
                f"| {mb / run.wall:.1f} | {run.wall / n:.3f} | {run.cpu / n:.3f} |"
            )
        if photos:
            print_photo_summary(n, photo_one, startup, same, minimal, floor, starts)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
