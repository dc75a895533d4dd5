"""Start-up: wall time of each ``evidence`` command, from a fresh process to its exit.

Every command runs in a new subprocess, several times; the table gives the median and
the fastest run. The registry is created in a temporary folder and holds one item, so
``list``, ``show`` and ``verify`` have something to read. ``ingest`` of an empty folder
stops before any decoder is needed; ``ingest`` of one tiny JPEG pays for importing them
(Pillow, NumPy, OpenCV, the hash libraries) and so shows what a decoder costs.

Python's bytecode cache matters as much as the imports: without it every project module
is compiled from source at every start. With ``--bytecode cached`` (the default, what an
installed package has) the cache is written to a temporary ``PYTHONPYCACHEPREFIX`` by a
warm-up run; ``--bytecode none`` compiles at every run (``PYTHONDONTWRITEBYTECODE``).

Then ``python -X importtime`` of the CLI lists the top offenders: the top-level packages
by their cumulative import time, and the modules by their own.

    python bench/startup.py                   # 9 runs per command
    python bench/startup.py --runs 5 --bytecode none
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
#: The start-up the issue asks every command to stay under.
TARGET_S = 0.3


def evidence_env(bytecode: str, cache: Path) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "EVIDENCE_ACTOR": "bench"}
    if bytecode == "cached":
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(cache)
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def run(args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Wall and CPU seconds (user + system, the process and its children) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"failed: {' '.join(args)}\n{proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def commands(folder: Path) -> list[tuple[str, list[str]]]:
    """(label, argv after ``python``) of each command timed."""
    reg = ["-m", "registry", "--registry", str(folder / "reg")]
    empty = folder / "empty"
    return [
        ("python -c pass (interpreter)", ["-c", "pass"]),
        ("python -c 'import registry.cli'", ["-c", "import registry.cli"]),
        ("evidence --help", ["-m", "registry", "--help"]),
        ("evidence ingest --help", ["-m", "registry", "ingest", "--help"]),
        ("evidence list", [*reg, "list"]),
        ("evidence show <id>", [*reg, "show", "{item}"]),
        ("evidence verify", [*reg, "verify"]),
        ("evidence custody", [*reg, "custody"]),
        ("evidence ingest <empty folder>", [*reg, "ingest", str(empty), "--workers", "1"]),
        ("evidence ingest <one 64x48 JPEG>", [*reg, "ingest", "{tiny}", "--workers", "1"]),
    ]


def prepare(folder: Path, env: dict[str, str]) -> dict[str, str]:
    """A registry with one item; returns the values the command templates need."""
    (folder / "empty").mkdir()
    seed = folder / "seed.jpg"
    Image.new("RGB", (64, 48), (90, 120, 30)).save(seed, "JPEG")
    reg = [sys.executable, "-m", "registry", "--registry", str(folder / "reg")]
    subprocess.run([*reg, "init"], env=env, check=True, capture_output=True)
    out = subprocess.run(
        [*reg, "ingest", str(seed), "--json"], env=env, check=True, capture_output=True, text=True
    ).stdout
    item = json.loads(out.splitlines()[0])["sha256"]
    return {"item": item, "tiny": str(seed)}


def fresh_tiny(folder: Path, n: int) -> str:
    """A tiny JPEG not stored yet (each ingest run stores a new file, not a duplicate)."""
    path = folder / f"tiny{n:03d}.jpg"
    Image.new("RGB", (64, 48), (n % 256, 120, 30)).save(path, "JPEG")
    return str(path)


def time_commands(
    folder: Path, env: dict[str, str], runs: int
) -> list[tuple[str, list[tuple[float, float]]]]:
    values = prepare(folder, env)
    out = []
    counter = 0
    for label, argv in commands(folder):
        times = []
        for _ in range(runs + 1):  # the first run warms caches and is not counted
            counter += 1
            vals = {**values, "tiny": fresh_tiny(folder, counter)}
            args = [sys.executable, *(a.format(**vals) for a in argv)]
            times.append(run(args, env, folder))
        out.append((label, times[1:]))
    return out


_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def import_offenders(env: dict[str, str], top: int) -> tuple[list, list]:
    """(top-level packages by cumulative µs, modules by own µs) of importing the CLI."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import registry.cli"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    rows = [m.groups() for m in map(_LINE.match, proc.stderr.splitlines()) if m]
    packages: dict[str, int] = {}
    for _, cumulative, _, name in rows:
        # A package's outermost import holds the time of every submodule it pulled in.
        root = name.split(".")[0]
        packages[root] = max(packages.get(root, 0), int(cumulative))
    by_own = sorted(((int(own), name) for own, _, _, name in rows), reverse=True)[:top]
    by_cum = sorted(((us, name) for name, us in packages.items()), reverse=True)[:top]
    return by_cum, by_own


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="Timed runs per command.")
    parser.add_argument("--bytecode", choices=("cached", "none"), default="cached")
    parser.add_argument("--top", type=int, default=12, help="Import offenders listed.")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="startupbench-"))
    try:
        env = evidence_env(args.bytecode, folder / "pycache")
        results = time_commands(folder, env, args.runs)
        print(
            f"{args.runs} runs per command, bytecode {args.bytecode}, {os.cpu_count()} cores; "
            f"target {TARGET_S} s\n"
        )
        print("| command | wall s, median | wall s, fastest | CPU s, median | under target |")
        print("|---|---:|---:|---:|---|")
        for label, times in results:
            median = statistics.median(wall for wall, _ in times)
            cpu = statistics.median(c for _, c in times)
            ok = "yes" if median < TARGET_S else "no"
            fastest = min(wall for wall, _ in times)
            print(f"| {label} | {median:.3f} | {fastest:.3f} | {cpu:.3f} | {ok} |")
        by_cum, by_own = import_offenders(env, args.top)
        print("\n`python -X importtime -c 'import registry.cli'`, top-level packages:\n")
        print("| package | cumulative ms |")
        print("|---|---:|")
        for us, name in by_cum:
            print(f"| {name} | {us / 1000:.1f} |")
        print("\nmodules by their own import time:\n")
        print("| module | own ms |")
        print("|---|---:|")
        for us, name in by_own:
            print(f"| {name} | {us / 1000:.1f} |")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
