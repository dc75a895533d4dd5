"""Near-duplicate query latency: p50/p99 of the PDQ candidate search over N stored hashes.

Each query is what a photo brings: 3 PDQ hashes (whole picture, content box, spare) in
their 8 rotations/mirrors = 24 codes, searched within the candidate distance (64 bits).
Stored rows are random 256-bit codes (one per stored hash). Up to
``index.PDQ_EXACT_ROWS`` rows the search is exact and exhaustive (faiss binary flat
index, one thread); beyond, it goes through the one-bit-probe multi-index
(``pdq_index``, exact within 31 bits). "table load" is the one-off cost of copying the
rows into the flat index or sorting the multi-index when it is first searched.

    python bench/match_latency.py                      # 10k, 100k, 1M hashes
    python bench/match_latency.py --sizes 10000 --queries 20
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from registry.similarity.index import NearDupIndex


def build(n: int, rng: np.random.Generator) -> NearDupIndex:
    index = NearDupIndex()
    index.items = [f"{i:064x}" for i in range(n)]
    index.position = {s: i for i, s in enumerate(index.items)}
    index.set_pdq(
        rng.integers(0, 256, (n, 32), dtype=np.uint8),
        np.arange(n, dtype=np.int32),
        np.zeros(n, np.int8),
        np.full(n, np.nan, np.float32),
        np.full(n, 100, np.int16),
    )
    return index


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=30)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print("| stored hashes | queries | table load (s) | p50 ms | p99 ms | ms per 1k rows |")
    print("|---:|---:|---:|---:|---:|---:|")
    for n in args.sizes:
        index = build(n, rng)
        started = time.perf_counter()
        index.search_pdq(index.pdq[:1], 0)  # loads the rows into the search table
        load_s = time.perf_counter() - started
        times = []
        for _ in range(args.queries):
            # Half the queries are near copies of a stored code, as re-posts are.
            codes = rng.integers(0, 256, (24, 32), dtype=np.uint8)
            if rng.random() < 0.5:
                codes[0] = index.pdq[rng.integers(n)] ^ (rng.random(32) < 0.05).astype(np.uint8)
            started = time.perf_counter()
            index.search_pdq(codes, 64)
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        p50 = statistics.median(times)
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
        print(
            f"| {n:,} | {args.queries} | {load_s:.2f} | {p50:.1f} | {p99:.1f} "
            f"| {p50 / n * 1000:.4f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
