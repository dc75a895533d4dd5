"""Catalogue benchmark: open, look up, list (a case, everything) and add 1,000 items at growing N.

Synthetic items shaped like real ones (EXIF tags, PDQ with dihedral variants, sightings)
are folded into a catalogue through custody-style entries, written to disk, and then
timed through the same ``Catalog`` API the registry uses.

    python bench/catalog_scale.py                 # 1k, 10k, 100k
    python bench/catalog_scale.py --sizes 1000 10000
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import statistics
import tempfile
import time

from registry.store.catalog import Catalog

EXIF = {f"EXIF Tag{i:03d}": "x" * random.Random(i).randint(4, 60) for i in range(60)}


def _sha(i: int) -> str:
    return hashlib.sha256(i.to_bytes(8, "big")).hexdigest()


def _entries(start: int, count: int, seq: int):
    rnd = random.Random(start)
    for i in range(start, start + count):
        sha = _sha(i)
        seq += 1
        yield {
            "seq": seq,
            "time": "2026-01-01T00:00:00+00:00",
            "actor": "bench",
            "action": "item.stored",
            "sha256": sha,
            "details": {
                "sha1": sha[:40],
                "md5": sha[:32],
                "size": 1000 + i,
                "media_type": "image",
                "mime": "image/jpeg",
                "format": "jpeg",
                "vault": f"vault/{sha[:2]}/{sha[2:4]}/{sha}",
            },
        }
        seq += 1
        hexes = [hashlib.sha256(f"{i}-{k}".encode()).hexdigest() for k in range(8)]
        yield {
            "seq": seq,
            "time": "2026-01-01T00:00:00+00:00",
            "actor": "bench",
            "action": "metadata.extracted",
            "sha256": sha,
            "details": {
                "width": 4000,
                "height": 3000,
                "duration_s": None,
                "metadata": {
                    "captured_at": "2022-03-16T10:41:07",
                    "make": "Canon",
                    "model": "EOS",
                    "gps": None,
                },
                "exif": EXIF,
                "hashes": [
                    {"alg": "pdq", "v": 1, "hex": hexes[0], "quality": 90, "dihedral": hexes},
                    {"alg": "phash", "v": 1, "hex": sha[:16], "quality": None},
                ],
                "warnings": [],
                "tools": {},
            },
        }
        seq += 1
        yield {
            "seq": seq,
            "time": "2026-01-01T00:00:00+00:00",
            "actor": "bench",
            "action": "sighting.added",
            "sha256": sha,
            "details": {
                "case": f"case-{rnd.randint(0, 99)}",
                "source_url": None,
                "posted_at": None,
                "original_name": f"IMG_{i}.jpg",
            },
        }


def _fill(cat: Catalog, start: int, count: int) -> None:
    seq = cat.log_seq
    for entry in _entries(start, count, seq):
        cat.apply(entry, entry_hash="0" * 64, end_offset=entry["seq"])


def bench(n: int, folder: str) -> dict[str, float]:
    path = os.path.join(folder, f"catalog-{n}")
    cat = Catalog(path)
    for start in range(0, n, 10_000):
        _fill(cat, start, min(10_000, n - start))
        cat.flush()
    size_mb = sum(e.stat().st_size for e in os.scandir(path)) / 1e6
    del cat
    t0 = time.perf_counter()
    cat = Catalog(path)
    t_open = time.perf_counter() - t0
    rnd = random.Random(1)
    resolves, gets = [], []
    for _ in range(1000):
        sha = _sha(rnd.randrange(n))
        t0 = time.perf_counter()
        full = cat.resolve(sha[:10])
        t1 = time.perf_counter()
        cat.get(full)
        t2 = time.perf_counter()
        resolves.append(t1 - t0)
        gets.append(t2 - t1)
    t0 = time.perf_counter()
    listed = sum(1 for _ in cat.iter_items("case-7"))
    t_list = time.perf_counter() - t0
    t0 = time.perf_counter()
    everything = sum(1 for _ in cat.iter_items())
    t_all = time.perf_counter() - t0
    t0 = time.perf_counter()
    sorted_all = sum(1 for _ in cat.iter_items(order="sha256"))
    t_sorted = time.perf_counter() - t0
    assert everything == sorted_all == n
    t0 = time.perf_counter()
    _fill(cat, n, 1000)
    cat.flush()
    t_add = time.perf_counter() - t0
    return {
        "n": n,
        "file_mb": size_mb,
        "open_s": t_open,
        "resolve_p50_ms": statistics.median(resolves) * 1e3,
        "resolve_p99_ms": sorted(resolves)[int(len(resolves) * 0.99)] * 1e3,
        "get_p50_ms": statistics.median(gets) * 1e3,
        "get_p99_ms": sorted(gets)[int(len(gets) * 0.99)] * 1e3,
        "list_case_s": t_list,
        "listed": listed,
        "list_all_s": t_all,
        "list_sorted_s": t_sorted,
        "add_1000_s": t_add,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="catbench-")
    try:
        print(
            f"{'items':>8} {'disk MB':>8} {'open s':>7} {'prefix p50/p99 ms':>18} "
            f"{'get p50/p99 ms':>15} {'list case s':>12} {'list all s':>11} "
            f"{'by sha256 s':>12} {'add 1,000 s':>12}"
        )
        for n in args.sizes:
            r = bench(n, folder)
            prefix = f"{r['resolve_p50_ms']:.3f}/{r['resolve_p99_ms']:.3f}"
            get = f"{r['get_p50_ms']:.2f}/{r['get_p99_ms']:.2f}"
            print(
                f"{r['n']:>8,} {r['file_mb']:>8.1f} {r['open_s']:>7.2f} {prefix:>18} "
                f"{get:>15} {r['list_case_s']:>12.3f} {r['list_all_s']:>11.2f} "
                f"{r['list_sorted_s']:>12.2f} {r['add_1000_s']:>12.2f}",
                flush=True,
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
