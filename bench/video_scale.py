"""Video at scale: video-in-video queries against a registry of N synthetic videos.

What it models. Each stored video is a sequence of shots (lengths exponential, mean 4 s)
over a duration drawn log-uniformly from 5 s to 10 min, as social-media videos spread.
A shot's content is PDQ's 16x16 DCT as a stationary random walk (an Ornstein-Uhlenbeck
process in the 256 coefficients): a still shot drifts a few bits per 0.5 s, a moving one
(35% of shots) ~50 bits, a cut starts a new random code. 15% of shots are look-alikes
(a news desk, a sports pitch): half their content is one of 20 shared scenes, so
look-alikes of one scene are ~85 bits apart (unrelated codes: 128), a few within the
64-bit candidate reach. 10% of
shots are dim (PDQ quality 25-49: stored, never indexed), 4% black (dropped, as ingest
drops blank frames). Frames are sampled as ``ingest.video.sampling`` does: every 0.5 s,
the first frame after a cut, and in moving shots every 1/6 s (the drone footage of the
corpus gives ~7 frames a second). Hashes, the 8 dihedral variants and the 16x16
thumbnails are computed from the DCT the way ``ingest.video.frames`` computes them from
a picture (bits above the median; the thumbnail is the DCT's low-pass picture).

Queries: a 5-30 s clip cut at a random time from a random stored video and re-encoded
(every DCT coefficient perturbed: ~10 bits of 256 per frame) and re-sampled from the
clip's start (so its frames fall between the original's: time-shifted sampling); a
third of them mirrored. Unrelated queries are clips of videos built the same way but
not stored: they must match nothing. Photos (random PDQ codes, one per video by default)
share the table, as in a registry.

What is timed: ``registry.similarity.video_matches`` as ingest calls it (a
``NearDupIndex`` and a document lookup); the time spent building the looked-up
documents (in a registry a dict lookup of the catalogue) is measured and left out.
"found" is the source video among the matches with an offset within 1 s of the truth;
"false" counts any other video reported.

Limits: synthetic codes are cleaner than real PDQ hashes (real unrelated frames are
closer than random codes; real clips carry logos, crops and speed changes), so the
found rate here says that the path works at scale, not what recall real edits get
(``bench/video_matching.py`` measures that). The first query of each size also pays the
one-off load of the rows into the search table (not counted: it is done once per
registry process).

    python bench/video_scale.py                        # 1,000 and 10,000 videos
    python bench/video_scale.py --sizes 100000 --queries 50
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# One BLAS thread, as the query path's faiss search uses one core (and a shared
# machine's BLAS threads fight over the cores otherwise).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from registry.similarity.frame_index import FrameIndex
from registry.similarity.index import FRAME_MIN_QUALITY, KINDS, NearDupIndex
from registry.similarity.video import video_matches

KNOT_S = 1 / 6  # resolution of the content walk (linear in between)
FPS = 30.0
SCENES = 20
LOOKALIKE_SHARE = 0.5  # of a look-alike shot's content that is its shared scene
RE_ENCODE = 0.127  # noise of a re-encode, in units of the content's spread (~10 bits)
# Correlation of a still / moving shot's content 0.5 s apart (~6 / ~50 bits).
RHO_HALF_SECOND = {"still": 0.9973, "moving": 0.78}
_PARITY = np.where(np.arange(16) % 2, -1.0, 1.0).astype(np.float32)
_DCT = np.cos(np.pi / 32 * np.outer(np.arange(16), 2 * np.arange(16) + 1)).astype(np.float32)


@dataclass
class Shot:
    start: float
    end: float
    moving: bool
    quality: int  # 0: black
    first: int  # its first knot in ``Video.knots``


@dataclass
class Video:
    duration: float
    shots: list[Shot]
    knots: np.ndarray  # content every KNOT_S seconds of each shot, shot after shot (k, 256)


def ar1(noise: np.ndarray, rho: float, block: int = 32) -> np.ndarray:
    """y[k] = rho * y[k-1] + noise[k], a block of steps at a time (cumsum, not a loop)."""
    out = np.empty_like(noise)
    powers = rho ** np.arange(block, dtype=np.float32)
    prev = np.zeros(noise.shape[1], np.float32)
    for b in range(0, len(noise), block):
        p = powers[: len(noise) - b, None]
        out[b : b + block] = p * (rho * prev + np.cumsum(noise[b : b + block] / p, axis=0))
        prev = out[min(b + block, len(noise)) - 1]
    return out


@dataclass(frozen=True)
class Model:
    seed: int
    scenes: np.ndarray  # the shared scenes of look-alike shots
    lookalike: float  # share of a look-alike shot's content that is its scene


def make_video(model: Model, vid: int) -> Video:
    rng = np.random.default_rng((model.seed, vid))
    scenes, lookalike = model.scenes, model.lookalike
    duration = float(np.exp(rng.uniform(np.log(5), np.log(600))))
    shots, walks, start, first = [], [], 0.0, 0
    while start < duration:
        end = min(duration, start + max(0.4, float(rng.exponential(4.0))))
        moving = bool(rng.random() < 0.35)
        roll = rng.random()
        # Black (dropped by ingest), dim (stored, never indexed) or fine.
        quality = (
            0
            if roll < 0.04
            else int(rng.integers(25, 50) if roll < 0.14 else rng.integers(60, 101))
        )
        n = int(np.ceil((end - start) / KNOT_S)) + 2
        rho = RHO_HALF_SECOND["moving" if moving else "still"] ** (KNOT_S / 0.5)
        noise = rng.standard_normal((n, 256), dtype=np.float32) * np.float32(np.sqrt(1 - rho**2))
        noise[0] = rng.standard_normal(256, dtype=np.float32)
        walk = ar1(noise, rho)
        if rng.random() < 0.15:
            scene = scenes[rng.integers(len(scenes))]
            walk = np.sqrt(lookalike) * scene + np.sqrt(1 - lookalike) * walk
        shots.append(Shot(start, end, moving, quality, first))
        walks.append(walk)
        start, first = end, first + n
    return Video(duration, shots, np.concatenate(walks).astype(np.float32))


def content(video: Video, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The DCT (n, 256) and quality of the video at each time (linear between knots)."""
    starts = np.array([s.start for s in video.shots])
    which = np.searchsorted(starts, times, side="right") - 1
    first = np.array([s.first for s in video.shots])[which]
    x = (times - starts[which]) / KNOT_S
    k = np.floor(x).astype(np.int64)
    w = (x - k).astype(np.float32)[:, None]
    out = (1 - w) * video.knots[first + k] + w * video.knots[first + k + 1]
    quality = np.array([s.quality for s in video.shots], np.int32)[which]
    return out, quality


def sample_times(video: Video, start: float, end: float, phase: float) -> np.ndarray:
    """Frame times (in the video's clock) a sampler starting at ``start`` keeps."""
    times = set(np.arange(start, end, 0.5).round(3).tolist())
    frame = 1 / FPS
    for shot in video.shots:
        if shot.end <= start or shot.start >= end:
            continue
        lo = max(shot.start, start)
        if lo > start:
            times.add(round(np.ceil(lo / frame) * frame, 3))  # the first frame of a cut
        if shot.moving:
            times.update(np.arange(lo + phase, min(shot.end, end), 1 / 6).round(3).tolist())
    return np.array(sorted(t for t in times if start <= t < min(end, video.duration)))


def pdq_bits(dct: np.ndarray, variants: bool) -> np.ndarray:
    """(8 or 1, n, 256) 0/1 bits as ``ingest.video.frames.dihedral_bits`` gives."""
    d = dct.reshape(-1, 16, 16)
    if variants:
        mirrored = d * _PARITY[None, None, :]
        flipped = d * _PARITY[None, :, None]
        both = mirrored * _PARITY[None, :, None]
        stack = [d, mirrored, both, flipped, flipped, mirrored, d, both]
        swap = (False, True, False, True, False, False, True, True)
        d = np.stack([s.transpose(0, 2, 1) if t else s for s, t in zip(stack, swap, strict=True)])
    else:
        d = d[None]
    flat = d.reshape(d.shape[0], d.shape[1], 256)
    return (flat > np.median(flat, axis=2, keepdims=True)).astype(np.uint8)


def thumbs(dct: np.ndarray) -> np.ndarray:
    """16x16 low-pass pictures of the DCTs, as 0-255 bytes."""
    pic = np.einsum("ui,nuv,vj->nij", _DCT, dct.reshape(-1, 16, 16), _DCT)
    pic = (pic - pic.mean(axis=(1, 2), keepdims=True)) / (
        pic.std(axis=(1, 2), keepdims=True) + 1e-6
    )
    return np.clip(128 + 40 * pic, 0, 255).astype(np.uint8)


def records(times: np.ndarray, dct: np.ndarray, quality: np.ndarray) -> list[dict[str, Any]]:
    """Stored-form frame hashes (blank frames dropped)."""
    keep = quality > 0
    times, dct, quality = times[keep], dct[keep], quality[keep]
    packed = np.packbits(pdq_bits(dct, True), axis=2)
    thumb = thumbs(dct)
    return [
        {
            "alg": "pdq",
            "v": 1,
            "hex": packed[0, i].tobytes().hex(),
            "quality": int(quality[i]),
            "dihedral": [packed[k, i].tobytes().hex() for k in range(8)],
            "thumb": thumb[i].tobytes().hex(),
            "t": round(float(times[i]), 3),
        }
        for i in range(len(times))
    ]


def stored_frames(video: Video) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    times = sample_times(video, 0.0, video.duration, 0.0)
    dct, quality = content(video, times)
    return times, dct, quality


@dataclass
class Registry:
    index: NearDupIndex
    lookup: Callable[[str], dict[str, Any] | None]
    rows_per_video: np.ndarray
    frames_per_video: np.ndarray
    build_s: float


def sha(vid: int) -> str:
    return f"{vid:064x}"


def build(n: int, photos: int, model: Model) -> Registry:
    started = time.perf_counter()
    codes, owners, ts, qs, rows, frames = [], [], [], [], [], []
    for vid in range(n):
        times, dct, quality = stored_frames(make_video(model, vid))
        usable = quality >= FRAME_MIN_QUALITY  # as NearDupIndex.add indexes them
        codes.append(np.packbits(pdq_bits(dct[usable], False)[0], axis=1))
        owners.append(np.full(int(usable.sum()), vid, np.int32))
        ts.append(times[usable].astype(np.float32))
        qs.append(quality[usable].astype(np.int16))
        rows.append(int(usable.sum()))
        frames.append(int((quality > 0).sum()))
    rng = np.random.default_rng((model.seed, 1, 0))
    codes.append(rng.integers(0, 256, (photos, 32), dtype=np.uint8))
    owners.append(np.arange(n, n + photos, dtype=np.int32))
    ts.append(np.full(photos, np.nan, np.float32))
    qs.append(np.full(photos, 100, np.int16))
    code = np.concatenate(codes)
    kind = np.where(np.isnan(np.concatenate(ts)), KINDS.index("whole"), KINDS.index("frame"))
    index = NearDupIndex()
    index.items = [sha(i) for i in range(n + photos)]
    index.position = {s: i for i, s in enumerate(index.items)}
    index.set_pdq(
        code, np.concatenate(owners), kind.astype(np.int8), np.concatenate(ts), np.concatenate(qs)
    )

    def lookup(key: str) -> dict[str, Any] | None:
        vid = int(key, 16)
        if vid >= n:
            return {"sha256": key, "media_type": "image", "hashes": []}
        video = make_video(model, vid)
        times, dct, quality = stored_frames(video)
        hashes = records(times, dct, quality)
        return {
            "sha256": key,
            "media_type": "video",
            "duration_s": video.duration,
            "hashes": hashes,
        }

    return Registry(index, lookup, np.array(rows), np.array(frames), time.perf_counter() - started)


def make_query(
    model: Model, vid: int, rng: np.random.Generator, mirror: bool
) -> tuple[list[dict[str, Any]], float, float]:
    """A re-encoded clip of video ``vid``: its frame hashes, duration and start time."""
    video = make_video(model, vid)
    length = min(video.duration, float(rng.uniform(5, 30)))
    start = float(rng.uniform(0, video.duration - length))
    times = sample_times(video, start, start + length, float(rng.uniform(0, 1 / 6)))
    dct, quality = content(video, times)
    dct = dct + RE_ENCODE * rng.standard_normal(dct.shape, dtype=np.float32)
    if mirror:
        dct = (dct.reshape(-1, 16, 16) * _PARITY[None, None, :]).reshape(-1, 256)
    return records(times - start, dct, quality), length, start


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * q))]


def run(n: int, args: argparse.Namespace, model: Model) -> dict[str, Any]:
    reg = build(n, args.photos if args.photos >= 0 else n, model)
    spent = [0.0]

    def lookup(key: str) -> dict[str, Any] | None:
        started = time.perf_counter()
        doc = reg.lookup(key)
        spent[0] += time.perf_counter() - started
        return doc

    reg.index.search_pdq(reg.index.pdq[:1], 0)  # loads the rows into the search table
    rng = np.random.default_rng((args.seed, 3, n))
    times, found, false, negatives_hit = [], 0, 0, 0
    positives = args.queries
    for q in range(positives + args.negatives):
        positive = q < positives
        vid = int(rng.integers(n)) if positive else n + 1_000_000 + q
        hashes, length, start = make_query(model, vid, rng, mirror=q % 3 == 2)
        spent[0] = 0.0
        began = time.perf_counter()
        matches = video_matches("video", hashes, length, reg.index, lookup)
        times.append((time.perf_counter() - began - spent[0]) * 1000)
        others = [m for m in matches if m["sha256"] != sha(vid)]
        if positive:
            false += len(others)
            mine = [m for m in matches if m["sha256"] == sha(vid)]
            offsets = [s["match_start_s"] - s["query_start_s"] for m in mine for s in m["segments"]]
            found += any(abs(o - start) <= 1.0 for o in offsets)
        else:
            negatives_hit += bool(matches)
    index = reg.index
    array_bytes = sum(
        a.nbytes
        for a in (index.pdq, index.pdq_owner, index.pdq_kind, index.pdq_t, index.pdq_quality)
    )
    frame_rows = int(reg.rows_per_video.sum())
    return {
        "n": n,
        "build_s": reg.build_s,
        "rows": len(index.pdq),
        "rows_mean": reg.rows_per_video.mean(),
        "rows_p50": float(np.median(reg.rows_per_video)),
        "rows_max": int(reg.rows_per_video.max()),
        "frames_mean": reg.frames_per_video.mean(),
        # The PDQ rows' arrays plus the search table's copy of the codes (32 bytes a row).
        "bytes_per_video": (array_bytes + 32 * len(index.pdq)) * frame_rows / len(index.pdq) / n,
        # The frame multi-index's tables (chunk orders, rows by item).
        "multi_bytes_per_video": FrameIndex.of(index).nbytes() / n,
        "p50": statistics.median(times),
        "p99": percentile(times, 0.99),
        "found": found / max(1, positives),
        "false": false,
        "negatives": f"{negatives_hit} of {args.negatives}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--queries", type=int, default=60, help="clips of stored videos")
    parser.add_argument("--negatives", type=int, default=30, help="clips of other videos")
    parser.add_argument("--photos", type=int, default=-1, help="photo rows (default: N)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--lookalike",
        type=float,
        default=LOOKALIKE_SHARE,
        help="share of a look-alike shot that is its shared scene (0.5: ~85 bits apart; 0: none)",
    )
    args = parser.parse_args()
    scenes = np.random.default_rng((args.seed, 2, 0)).standard_normal((SCENES, 256))
    model = Model(args.seed, scenes.astype(np.float32), args.lookalike)
    print(
        "| videos | build (s) | PDQ rows | frame rows per video mean / p50 / max "
        "| frames stored per video | index rows per video | frame multi-index per video "
        "| p50 ms | p99 ms "
        "| found | false matches | unrelated clips matched |"
    )
    print("|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in args.sizes:
        r = run(n, args, model)
        print(
            f"| {r['n']:,} | {r['build_s']:.0f} | {r['rows']:,} "
            f"| {r['rows_mean']:.0f} / {r['rows_p50']:.0f} / {r['rows_max']:,} "
            f"| {r['frames_mean']:.0f} | {r['bytes_per_video'] / 1024:.1f} KiB "
            f"| {r['multi_bytes_per_video'] / 1024:.1f} KiB "
            f"| {r['p50']:.1f} | {r['p99']:.1f} | {r['found']:.1%} ({args.queries}) "
            f"| {r['false']} | {r['negatives']} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
