"""How the near-duplicate index scales: build and search time for N items.

Rows are random codes (PDQ: whole picture + one content box per item; ORB: 64
descriptors per item), so multi-index buckets are as even as they can be; real ORB
descriptors are less uniform (flat patches share chunk values), so treat the ORB
figures as a lower bound; ``bench/orb_vote_scale.py`` votes with descriptors of pictures.

Times are medians of 5 queries (a photo's 24 PDQ codes; 600 ORB descriptors, i.e. two
orientations) after the index is built and loaded.

Run: ``python -m bench.index_scale [N ...]`` (default 1,000 10,000 100,000).
"""

from __future__ import annotations

import sys
import time

import numpy as np

from ingest.photo.features import STORED_DESCRIPTORS
from registry.similarity.index import NearDupIndex


def build(n: int, rng: np.random.Generator) -> NearDupIndex:
    index = NearDupIndex()
    index.items = [f"{i:064x}" for i in range(n)]
    index.position = {s: i for i, s in enumerate(index.items)}
    index.set_pdq(
        rng.integers(0, 256, (2 * n, 32), dtype=np.uint8),
        np.repeat(np.arange(n, dtype=np.int32), 2),
        np.zeros(2 * n, np.int8),
        np.full(2 * n, np.nan, np.float32),
        np.full(2 * n, 100, np.int16),
    )
    codes = rng.integers(0, 256, (STORED_DESCRIPTORS * n, 32), dtype=np.uint8)
    index.orb.replace(codes, np.repeat(np.arange(n, dtype=np.int32), STORED_DESCRIPTORS))
    return index


def add_one(index: NearDupIndex, rng: np.random.Generator) -> float:
    """Seconds to add one more item, as ingest does after each new photo."""
    hashes = [
        {"alg": "pdq", "hex": rng.integers(0, 256, 32, dtype=np.uint8).tobytes().hex()},
        {"alg": "orb", "hex": rng.integers(0, 256, 32 * 64, dtype=np.uint8).tobytes().hex()},
    ]
    started = time.perf_counter()
    index.add(f"new-{len(index)}", hashes)
    return time.perf_counter() - started


def main(argv: list[str]) -> int:
    sizes = [int(a) for a in argv] or [1_000, 10_000, 100_000]
    rng = np.random.default_rng(0)
    print("| items | PDQ rows | ORB rows | sort (s) | PDQ search (ms) | ORB vote (ms) | add (ms) |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n in sizes:
        index = build(n, rng)
        started = time.perf_counter()
        index.orb.sort()
        sort_s = time.perf_counter() - started
        index.search_pdq(index.pdq[:1], 0)  # loads the PDQ rows into the search table
        pdq_times, orb_times = [], []
        for _ in range(5):
            queries = rng.integers(0, 256, (24, 32), dtype=np.uint8)  # 3 PDQ hashes × 8
            started = time.perf_counter()
            index.search_pdq(queries, 64)
            pdq_times.append(time.perf_counter() - started)
            # A query brings 300 spread descriptors per orientation, 2-4 orientations.
            descriptors = index.orb.codes[rng.integers(0, len(index.orb), 600)].copy()
            flips = rng.random(descriptors.shape) < 0.05
            descriptors ^= (flips * rng.integers(1, 256, descriptors.shape)).astype(np.uint8)
            started = time.perf_counter()
            index.vote_orb(descriptors, 40, 0.8)
            orb_times.append(time.perf_counter() - started)
        pdq_ms = float(np.median(pdq_times)) * 1000
        orb_ms = float(np.median(orb_times)) * 1000
        rows = f"{len(index.pdq):,} | {len(index.orb):,}"
        add_ms = np.median([add_one(index, rng) for _ in range(50)]) * 1000
        print(f"| {n:,} | {rows} | {sort_s:.2f} | {pdq_ms:.0f} | {orb_ms:.0f} | {add_ms:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
