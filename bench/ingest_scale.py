"""Ingest at scale: does storing a photo cost more as the registry grows, and do more
workers take in more photos?

Three measurements, each printed as a table:

* **Registry size.** Unrelated 200x150 photos (``support.media.write_jpeg``, a scene
  each). A registry of ``--base`` photos is built by one ingest run (its cost per photo is
  reported: one run over many photos); then ``--add`` new photos are ingested with one
  worker into it and into an empty registry, and the two times are compared.
* **Workers.** ``--big`` 12-megapixel camera-like JPEGs (``bench.ingest_throughput``'s
  ``make_photo``) are ingested with 1 and with 2 worker processes, each in a fresh
  process. Start-up (until the first file is stored) is measured apart from the rate
  after it: the files after the first, per second of the time a run over all of them
  took beyond a run over the first alone.
* **Dask.** The same with a local Dask cluster (``distributed.LocalCluster``, one thread
  per worker process) of 1 and 2 workers, through ``Registry.ingest(executor=...)``.

    python bench/ingest_scale.py                       # base 2,000, add 300, 30 big
    python bench/ingest_scale.py --base 20000          # the issue's registry size
    python bench/ingest_scale.py --skip-dask --big 0   # registry size only
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from support.media import write_jpeg  # noqa: E402

RUN = """
import json, sys, time
t0 = time.perf_counter()
from registry import Registry, Submission
args = json.loads(sys.argv[1])
executor = cluster = client = None
if args.get("dask"):
    from distributed import Client, LocalCluster
    cluster = LocalCluster(n_workers=args["dask"], threads_per_worker=1, processes=True,
                           dashboard_address=None)
    client = Client(cluster)
    executor = client.get_executor()
reg = Registry.open(args["registry"], create=True)
times = []
opts = {"workers": args["workers"]}
if executor is not None:
    opts = {"executor": executor, "in_flight": 4 * args["dask"]}
for r in reg.ingest(args["paths"], Submission(actor="bench"), **opts):
    times.append(time.perf_counter() - t0)
    assert r.status == "new", (r.path, r.error)
print(json.dumps({"times": times, "total": time.perf_counter() - t0}))
if client is not None:
    client.close(); cluster.close()
"""


def run(registry: Path, paths: list[Path], workers: int = 1, dask: int = 0) -> dict:
    """Ingest ``paths`` in a fresh process; per-result times since it started."""
    args = {"registry": str(registry), "paths": [str(p) for p in paths], "workers": workers}
    args["dask"] = dask
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", RUN, json.dumps(args)], capture_output=True, text=True, env=env
    )
    if proc.returncode:
        raise SystemExit(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def small_photos(folder: Path, start: int, n: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [
        write_jpeg(folder / f"p{i:06d}.jpg", 100_000 + i, size=(200, 150), quality=85)
        for i in range(start, start + n)
    ]


def rate_after_startup(one: dict, many: dict, n: int) -> tuple[float, float]:
    """(start-up, photos/s after it), from a run over one file and one over ``n``:
    results come a batch at a time, so the run over one file is the start-up (and that
    file), and the other ``n - 1`` files took the difference."""
    return one["total"], (n - 1) / max(1e-9, many["total"] - one["total"])


def registry_size(work: Path, base: int, add: int) -> None:
    print(f"\n## Registry size: {add} new photos into an empty registry and into {base:,}\n")
    base_files = small_photos(work / "base", 0, base)
    new_files = small_photos(work / "new", base, add)
    big = run(work / "reg-big", base_files, workers=1)
    into_big = run(work / "reg-big", new_files, workers=1)
    into_empty = run(work / "reg-empty", new_files, workers=1)
    small_run = run(work / "reg-small", small_photos(work / "small", 10**6, add), workers=1)
    print("| run (one worker) | photos | seconds | ms per photo |")
    print("|---|---:|---:|---:|")
    rows = [
        (f"{base:,} photos into an empty registry (one run)", base, big["total"]),
        (f"{add} photos into an empty registry (one run)", add, small_run["total"]),
        (f"{add} new photos into the empty registry", add, into_empty["total"]),
        (f"{add} new photos into the registry of {base:,}", add, into_big["total"]),
    ]
    for name, n, seconds in rows:
        print(f"| {name} | {n:,} | {seconds:.1f} | {1000 * seconds / n:.1f} |")
    ratio = into_big["total"] / into_empty["total"]
    per_big, per_small = big["total"] / base, small_run["total"] / add
    print(f"\ninto {base:,} / into empty: {ratio:.2f}x (target <= 1.2x)")
    print(f"per photo, run of {base:,} / run of {add}: {per_big / per_small:.2f}x (target <= 1x)")


def workers(work: Path, big: int, dask: bool) -> None:
    from bench.ingest_throughput import make_photo

    folder = work / "big"
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(big):
        path = folder / f"IMG_{i:04d}.jpg"
        make_photo(path, 500 + i)
        files.append(path)
    print(f"\n## Workers: {big} 12-MP JPEGs, each run in a fresh process and registry\n")
    print("| pool | workers | start-up s | photos/s after start-up | total s |")
    print("|---|---:|---:|---:|---:|")
    rates = {}
    plan = [("processes", 1, 0), ("processes", 2, 0)]
    if dask:
        plan += [("dask", 1, 1), ("dask", 2, 2)]
    for pool, n, d in plan:
        one = run(work / f"reg-{pool}-{n}-one", files[:1], workers=n, dask=d)
        out = run(work / f"reg-{pool}-{n}", files, workers=n, dask=d)
        start, rate = rate_after_startup(one, out, len(files))
        rates[(pool, n)] = rate
        print(f"| {pool} | {n} | {start:.2f} | {rate:.2f} | {out['total']:.1f} |")
    print()
    for pool in ("processes", "dask"):
        if (pool, 2) in rates and rates[(pool, 1)]:
            target = 1.8 if pool == "processes" else 1.7
            speedup = rates[(pool, 2)] / rates[(pool, 1)]
            print(f"{pool}: 2 workers / 1 worker = {speedup:.2f}x (target >= {target}x)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--base", type=int, default=2000, help="photos in the large registry")
    ap.add_argument("--add", type=int, default=300, help="new photos added to it")
    ap.add_argument("--big", type=int, default=30, help="12-MP JPEGs for the workers table")
    ap.add_argument("--skip-size", action="store_true", help="no registry-size table")
    ap.add_argument("--skip-dask", action="store_true", help="no Dask rows")
    ap.add_argument("--keep", type=Path, help="work here and keep it (default: a temp dir)")
    args = ap.parse_args(argv)
    work = args.keep or Path(tempfile.mkdtemp(prefix="ingest-scale-"))
    started = time.perf_counter()
    try:
        print(f"cores: {os.cpu_count()}, python {sys.version.split()[0]}")
        if not args.skip_size:
            registry_size(work, args.base, args.add)
        if args.big:
            workers(work, args.big, not args.skip_dask)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\n(benchmark ran {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
