"""Benchmark: how much faster than real time video frames are sampled and hashed, on one core.

Makes 1280x720 30 fps H.264 test videos from the corpus's real footage (upscaled, with
sensor-like grain, at typical social-media bit rates), then times
``ingest.video.frames.hash_video_frames`` with one decoding thread, in CPU seconds of this
process (so other load on the machine does not count), against each video's duration.
Also times the corpus videos as they are, and the same work without the fast decoding
settings (every frame decoded, deblocking on) for comparison. Each video is hashed
``--repeat`` times (5) and the least CPU time counts: on a shared machine, other jobs on the
same core slow a run down, never speed it up.

    python bench/video_hashing.py                 # builds the 720p videos in a temp dir
    python bench/video_hashing.py --keep /tmp/v   # ... or keeps and reuses them there
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import av
import cv2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from videokit import CORPUS, write_test_720p  # noqa: E402

from ingest.video.frames import FrameOptions, hash_video_frames  # noqa: E402

TEST_VIDEOS = (
    ("car-detection.mp4", 2_000_000),
    ("bottle-detection.mp4", 1_500_000),
)


def measure(path: Path, options: FrameOptions, repeat: int = 5) -> dict:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        duration = container.duration / av.time_base
        info = {
            "size": f"{stream.codec_context.width}x{stream.codec_context.height}",
            "fps": round(float(stream.average_rate), 1),
            "kbps": round((container.bit_rate or 0) / 1000),
            "duration": duration,
        }
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        result = hash_video_frames(path, options=options)
        best = min(best, time.process_time() - started)
    info.update(cpu=best, speed=duration / best, hashed=result.summary["hashed"])
    return info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", type=Path, default=None, help="keep the 720p videos here")
    parser.add_argument(
        "--repeat", type=int, default=5, help="runs per video; the least CPU time counts"
    )
    args = parser.parse_args()
    if not CORPUS.is_dir():
        sys.exit(f"{CORPUS} is absent")
    cv2.setNumThreads(1)
    fast, full = FrameOptions(threads=1), FrameOptions(threads=1, fast=False)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        videos = []
        for name, rate in TEST_VIDEOS:
            out = work / f"{Path(name).stem}-720p30-{rate // 1000}k.mp4"
            if not out.exists():
                print(f"building {out.name} ...", file=sys.stderr)
                write_test_720p(out, CORPUS / name, bit_rate=rate, grain=2)
            videos.append(out)
        rows = []
        for path in videos:
            rows.append((path.name, "fast (default)", measure(path, fast, args.repeat)))
            rows.append((path.name, "every frame, deblocking", measure(path, full, args.repeat)))
        for name in ("car-detection", "bottle-detection", "one-by-one-person-detection"):
            name = f"{name}.mp4"
            rows.append((name, "fast (default)", measure(CORPUS / name, fast, args.repeat)))
    print(
        "| video | size | fps | kb/s | duration (s) | decoding | CPU (s) | x real time "
        "| frames hashed |\n|---|---|---|---|---|---|---|---|---|"
    )
    for name, mode, r in rows:
        print(
            f"| {name} | {r['size']} | {r['fps']} | {r['kbps']} | {r['duration']:.1f} | {mode} "
            f"| {r['cpu']:.2f} | {r['speed']:.0f}x | {r['hashed']} |"
        )


if __name__ == "__main__":
    main()
