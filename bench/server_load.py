"""Load on a real team server: 16 clients reading and 2 uploading at once.

Starts ``evidence serve`` in a subprocess over the two-case registry of
``support/team.py``, then for ``--seconds`` runs ``--readers`` client threads (each
with its own token, looping over the read endpoints, a match every tenth round) and
``--uploaders`` threads posting fresh photos to ``/ingest``. Prints a markdown table of
p50/p99 latency per endpoint, the server errors (5xx or broken connections), and checks
that nothing was lost: every uploaded file is in the registry once, every read is one
``access.*`` custody entry, and ``evidence verify`` passes.

    python bench/server_load.py                 # 60 s
    python bench/server_load.py --seconds 20
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from registry import Registry
from registry.accounts import create_token, grant
from support import team
from support.cli import run_cli
from support.media import write_jpeg
from support.server import serving


class Stats:
    def __init__(self) -> None:
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.codes: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        self.server_errors: list[str] = []
        self.logged: dict[str, int] = defaultdict(int)  # access entries expected, by actor
        self.uploaded: list[str] = []
        self.lock = threading.Lock()

    def note(
        self, name: str, started: float, response: httpx.Response | None, why: str = ""
    ) -> None:
        took = time.perf_counter() - started
        with self.lock:
            if response is None:
                self.server_errors.append(f"{name}: {why}")
                return
            self.latency[name].append(took)
            self.codes[name][response.status_code] += 1
            if response.status_code >= 500:
                self.server_errors.append(f"{name}: {response.status_code} {response.text[:200]}")


def _call(
    stats: Stats, client: httpx.Client, name: str, method: str, url: str, **kw
) -> httpx.Response | None:
    started = time.perf_counter()
    try:
        response = client.request(method, url, **kw)
    except httpx.HTTPError as exc:
        stats.note(name, started, None, repr(exc))
        return None
    stats.note(name, started, response)
    return response


def reader(stats: Stats, url: str, token: str, actor: str, world: team.World, until: float) -> None:
    shas = [world.items[k] for k in ("alpha1", "alpha2", "shared", "cross_alpha", "alpha_pair")]
    rounds = 0
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=300) as c:
        while time.monotonic() < until:
            sha = shas[rounds % len(shas)]
            calls = [
                ("GET /cases", "GET", "/api/v1/cases", False),
                ("GET /items?case", "GET", f"/api/v1/items?case={team.ALPHA}", True),
                ("GET /items/{sha}", "GET", f"/api/v1/items/{sha}", True),
                ("GET /items/{sha}/original", "GET", f"/api/v1/items/{sha}/original", True),
                ("GET /dupes?case", "GET", f"/api/v1/dupes?case={team.ALPHA}", True),
                ("GET /custody?sha256", "GET", f"/api/v1/custody?sha256={sha}", True),
            ]
            for name, method, path, logged in calls:
                r = _call(stats, c, name, method, path)
                if r is not None and r.status_code == 200 and logged:
                    with stats.lock:
                        stats.logged[actor] += 1
            if rounds % 10 == 9:
                photo = world.files["cross_bravo"]
                files = [("files", (photo.name, photo.read_bytes(), "image/jpeg"))]
                r = _call(stats, c, "POST /match", "POST", "/api/v1/match", files=files)
                if r is not None and r.status_code == 200:
                    with stats.lock:
                        stats.logged[actor] += 1
            rounds += 1


def uploader(stats: Stats, url: str, token: str, folder: Path, seed: int, until: float) -> None:
    n = 0
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=600) as c:
        while time.monotonic() < until:
            photo = write_jpeg(folder / f"u{seed}-{n}.jpg", seed * 10_000 + n, size=(320, 240))
            n += 1
            files = [("files", (photo.name, photo.read_bytes(), "image/jpeg"))]
            r = _call(
                stats, c, "POST /ingest", "POST", f"/api/v1/ingest?case={team.ALPHA}", files=files
            )
            if r is not None and r.status_code == 200:
                with stats.lock:
                    stats.uploaded.append(hashlib.sha256(photo.read_bytes()).hexdigest())


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(stats: Stats, seconds: float) -> str:
    lines = [
        "| endpoint | requests | req/s | p50 ms | p99 ms | status codes |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for name in sorted(stats.latency):
        values = stats.latency[name]
        codes = ", ".join(f"{k}: {v}" for k, v in sorted(stats.codes[name].items()))
        lines.append(
            f"| {name} | {len(values)} | {len(values) / seconds:.1f} | "
            f"{1000 * statistics.median(values):.0f} | {1000 * _pct(values, 0.99):.0f} | {codes} |"
        )
    return "\n".join(lines)


def check(world: team.World, stats: Stats, readers: list[str]) -> list[str]:
    """What was lost, if anything (an empty list: nothing)."""
    problems = []
    reg = Registry.open(str(world.root))
    for sha in stats.uploaded:
        doc = reg.catalog.get(sha)
        if doc is None or team.ALPHA not in doc["cases"]:
            problems.append(f"uploaded {sha[:16]} is not in the registry")
    vault = [
        p.name
        for p in (world.root / "vault").rglob("*")
        if p.is_file() and ".staging" not in p.parts
    ]
    if len(vault) != len(set(vault)) or not set(stats.uploaded) <= set(vault):
        problems.append("vault does not hold each uploaded file once")
    counts: dict[str, int] = defaultdict(int)
    for entry in reg.custody():
        if entry["action"].startswith("access.") and entry["actor"] in readers:
            counts[entry["actor"]] += 1
    for actor in readers:
        if counts[actor] != stats.logged[actor]:
            problems.append(f"{actor}: {stats.logged[actor]} reads, {counts[actor]} access entries")
    verified = run_cli("verify", "--json", registry=world.root)
    if verified.returncode != 0:
        problems.append("verify failed: " + verified.stdout[-500:])
    else:
        problems += [] if json.loads(verified.stdout)["ok"] else ["verify not ok"]
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--readers", type=int, default=16)
    parser.add_argument("--uploaders", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1, help="extraction processes per upload")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="server-load-") as tmp:
        world = team.build(Path(tmp))
        readers = [f"reader{i:02d}" for i in range(args.readers)]
        tokens = {}
        from registry.accounts import add_user

        for name in [*readers, *(f"uploader{i}" for i in range(args.uploaders))]:
            add_user(world.reg, name, None, actor=team.OPERATOR)
            role = "viewer" if name.startswith("reader") else "editor"
            grant(world.reg, name, team.ALPHA, role, actor=team.OPERATOR)
            tokens[name] = create_token(world.reg, name, actor=team.OPERATOR)["token"]
        stats = Stats()
        with serving(world.root, "--workers", str(args.workers), "--rate", "1000") as server:
            until = time.monotonic() + args.seconds
            threads = [
                threading.Thread(
                    target=reader, args=(stats, server.url, tokens[r], r, world, until)
                )
                for r in readers
            ]
            threads += [
                threading.Thread(
                    target=uploader,
                    args=(
                        stats,
                        server.url,
                        tokens[f"uploader{i}"],
                        Path(tmp) / "up",
                        i + 1,
                        until,
                    ),
                )
                for i in range(args.uploaders)
            ]
            started = time.monotonic()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.monotonic() - started
        print(
            f"{args.readers} readers, {args.uploaders} uploaders, {elapsed:.0f} s "
            f"(asked {args.seconds:.0f} s; uploads still running at the end are waited for)\n"
        )
        print(report(stats, elapsed))
        print(f"\nserver errors: {len(stats.server_errors)}")
        for e in stats.server_errors[:10]:
            print(f"  {e}")
        problems = check(world, stats, readers)
        print(
            f"uploaded and stored: {len(stats.uploaded)} files; access entries checked for "
            f"{sum(stats.logged.values())} reads"
        )
        print("nothing lost, verify OK" if not problems else "LOST: " + "; ".join(problems))
        if problems or stats.server_errors:
            sys.exit(1)


if __name__ == "__main__":
    main()
