"""How the ORB vote scales when the index holds descriptors of pictures, not random codes.

``bench/index_scale.py`` fills the ORB multi-index with random codes, whose 16-bit chunk
values are spread evenly over the 65,536 buckets. Descriptors of real pictures are not:
corners on flat or smooth patches give many descriptors the same chunk values, so some
buckets are crowded, and a query's descriptors fall into the crowded buckets more often
than a random code would. This benchmark measures that.

Pictures: ``--pictures`` distinct generated pictures (``support.media.scene`` and
``support.synthetic.texture``, 320x240), ORB-detected and spread to the 64 descriptors
that ingest stores (``features.spread``). Their descriptors are cached in an ``.npz``
file (``--cache``), since detection takes about 10 ms a picture.

Larger indexes: detecting 100k pictures takes too long, so beyond ``--pictures`` items
the benchmark adds *synthetic* items. Each synthetic descriptor is made chunk by chunk:
each of its 16 chunks of 16 bits is the same chunk of a randomly drawn real descriptor.
Every chunk's distribution of values, hence every bucket's expected size, is that of
real descriptors (the cost of a lookup), while the synthetic items are not near copies of
the real ones (random bit flips of a real set would make ~N/pictures near duplicates of
every picture, each a rival in Lowe's ratio test). What this loses: the correlation
between the chunks of one descriptor, so the few near pairs a synthetic item offers are
fewer than real pictures would give.

Queries: ``--queries`` indexed pictures re-posted through a transform (crop 20 % and
resize 0.8, JPEG 85; every third one mirrored), as ``Query.orb_sets`` gives them to the
vote; the time per query is all of its ``vote_orb`` calls together. ``found`` is the
share of queries whose picture would become a candidate by votes (at least ``min_votes``
and among the ``max_candidates`` most voted), ``votes`` its mean number of votes.

Run: ``python -m bench.orb_vote_scale [N ...]`` (default 1,000 10,000 100,000).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from ingest.photo import features as feat
from registry.similarity import orb_index
from registry.similarity.config import MatchConfig
from registry.similarity.index import NearDupIndex
from registry.similarity.photo import Query
from support.media import scene
from support.synthetic import texture
from support.transforms import chain, crop, jpeg, mirror, resize

SIZE = (320, 240)


def picture(i: int) -> Image.Image:
    """Picture ``i``: a scene (even) or a procedural texture (odd)."""
    if i % 2 == 0:
        return scene(i, *SIZE)
    return Image.fromarray(texture(np.random.default_rng(10_000 + i), *SIZE))


def descriptors(n: int, cache: Path) -> np.ndarray:
    """n×64×32 uint8: the stored descriptors of pictures 0..n-1 (padded with the
    picture's first descriptors when it has fewer than 64)."""
    if cache.exists():
        with np.load(cache) as data:
            if len(data["codes"]) >= n:
                return data["codes"][:n]
    out = np.zeros((n, feat.STORED_DESCRIPTORS, 32), np.uint8)
    started = time.perf_counter()
    for i in range(n):
        d = feat.spread(feat.detect(picture(i))).descriptors
        if len(d) == 0:
            d = np.zeros((1, 32), np.uint8)
        out[i] = np.resize(d, (feat.STORED_DESCRIPTORS, 32))
    print(
        f"detected {n:,} pictures in {time.perf_counter() - started:.0f} s (cached in {cache})",
        file=sys.stderr,
    )
    np.savez(cache, codes=out)
    return out


def build(real: np.ndarray, n: int, rng: np.random.Generator) -> tuple[NearDupIndex, float]:
    """An index of ``n`` items (the real pictures first, then synthetic items made of
    chunks of real descriptors, see the module doc) and the seconds its sort took."""
    per = feat.STORED_DESCRIPTORS
    k = min(n, len(real))
    codes = [real[:k].reshape(-1, 32)]
    if n > k:
        pool = real.reshape(-1, 32).view(np.uint16)  # rows × 16 chunks
        extra = (n - k) * per
        mixed = np.empty((extra, 16), np.uint16)
        for c in range(16):
            mixed[:, c] = pool[rng.integers(0, len(pool), extra), c]
        codes.append(mixed.view(np.uint8).reshape(-1, 32))
    index = NearDupIndex()
    index.items = [f"{i:064x}" for i in range(n)]
    index.position = {s: i for i, s in enumerate(index.items)}
    codes, owners = np.concatenate(codes), np.repeat(np.arange(n, dtype=np.int32), per)
    started = time.perf_counter()
    index.orb.replace(codes, owners)  # sorts the chunk tables
    return index, time.perf_counter() - started


def reposts(count: int, pictures: int) -> list[tuple[int, Image.Image]]:
    """``count`` of the first ``pictures`` pictures re-posted (crop 20 %, resize 0.8,
    JPEG 85; every third mirrored), each with the number of the picture it shows."""
    rng = np.random.default_rng(1)
    out = []
    for truth in rng.choice(pictures, count, replace=False).tolist():
        steps = [crop(0.2), resize(0.8), jpeg(85)]
        if truth % 3 == 0:
            steps.append(mirror)
        out.append((truth, chain(*steps)(picture(truth).convert("RGB"), rng)))
    return out


def queries(count: int, pictures: int) -> list[tuple[int, list[tuple[bool, np.ndarray]]]]:
    return [(truth, Query(img, []).orb_sets()) for truth, img in reposts(count, pictures)]


def bucket_stats(index: NearDupIndex) -> tuple[int, float, float]:
    """Largest bucket, 99th percentile of non-empty buckets, mean non-empty bucket (over
    every sorted segment of the ORB multi-index)."""
    sizes = np.concatenate([np.diff(seg.starts, axis=1).ravel() for seg in index.orb.segments()])
    sizes = sizes[sizes > 0]
    return int(sizes.max()), float(np.percentile(sizes, 99)), float(sizes.mean())


def scanned(index: NearDupIndex, sets: list[tuple[bool, np.ndarray]]) -> tuple[int, int]:
    """Rows in the buckets of a query's descriptors, and rows the lookup compares (after
    the index narrows large buckets and skips those over ``MAX_BUCKET``)."""
    every = kept = 0
    chunk = np.arange(orb_index.CHUNKS)
    for seg in index.orb.segments():
        for _, d in sets:
            q = np.ascontiguousarray(d).view(np.uint16).astype(np.int64)
            every += int((seg.starts[chunk, q + 1] - seg.starts[chunk, q]).sum())
            lo, hi = index.orb.buckets(seg, d)
            count = hi - lo
            kept += int(count[count <= orb_index.MAX_BUCKET].sum())
    return every, kept


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[1_000, 10_000, 100_000])
    parser.add_argument("--pictures", type=int, default=3_000, help="distinct pictures detected")
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "orb_vote_scale.npz"
    )
    args = parser.parse_args(argv)
    config = MatchConfig()
    real = descriptors(args.pictures, args.cache)
    qs = queries(args.queries, min(args.pictures, min(args.sizes)))
    rng = np.random.default_rng(0)
    print(
        f"{args.pictures:,} real pictures; larger indexes add synthetic items made of chunks "
        f"of their descriptors. {len(qs)} queries (crop 20 % + resize 0.8 + JPEG 85, every "
        f"third mirrored), {np.mean([sum(len(d) for _, d in s) for _, s in qs]):.0f} "
        f"descriptors each on average. MAX_BUCKET={orb_index.MAX_BUCKET}, "
        f"BUCKET_TARGET={orb_index.BUCKET_TARGET}."
    )
    print(
        "| items | ORB rows | sort (s) | max bucket | p99 bucket | mean bucket | rows in query's "
        "buckets | rows scanned | vote p50 (ms) | vote p99 (ms) | found | votes |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in args.sizes:
        index, sort_s = build(real, n, rng)
        biggest, p99, mean = bucket_stats(index)
        times, hits, every, kept, truth_votes = [], 0, [], [], []
        for truth, sets in qs:
            started = time.perf_counter()
            votes: dict[int, int] = {}
            for _, d in sets:
                for owner, v in index.vote_orb(d, config.orb_distance, config.orb_ratio).items():
                    votes[owner] = max(votes.get(owner, 0), v)
            times.append(time.perf_counter() - started)
            ranked = sorted(votes, key=lambda o: (-votes[o], o))[: config.max_candidates]
            hits += truth in ranked and votes[truth] >= config.min_votes
            truth_votes.append(votes.get(truth, 0))
            a, b = scanned(index, sets)
            every.append(a)
            kept.append(b)
        ms = np.array(times) * 1000
        print(
            f"| {n:,} | {len(index.orb):,} | {sort_s:.2f} | {biggest:,} | {p99:.0f} | {mean:.1f} | "
            f"{np.mean(every):,.0f} | {np.mean(kept):,.0f} | {np.percentile(ms, 50):.0f} | "
            f"{np.percentile(ms, 99):.0f} | {hits / len(qs):.2f} | {np.mean(truth_votes):.1f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
