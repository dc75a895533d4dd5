"""Crash loop: kill -9 real `evidence` processes at their commit points, then check that
the registry opens and verifies after every kill and that every file ends up stored
exactly once with its sightings.

Each round runs one command with ``EVIDENCE_PAUSE_AT`` set to one of the commit points
it passes (``registry.fsutil.pause_point``, chosen at random) and kills it once it stops
there, so every round is a kill mid-way, however fast the machine.

    python bench/crash_loop.py --rounds 40
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from support.cli import PAUSE_POINTS, kill_at, run_cli  # noqa: E402
from support.media import write_jpeg, write_video  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--photos", type=int, default=24)
    parser.add_argument("--videos", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="crashloop-"))
    try:
        inbox = work / "in"
        files = [
            write_jpeg(inbox / f"p{i:03d}.jpg", 500 + i, size=(480, 360))
            for i in range(args.photos)
        ]
        files += [write_video(inbox / f"v{i}.mp4", 900 + i, seconds=2) for i in range(args.videos)]
        reg = work / "reg"
        run_cli("init", registry=reg, check=True)
        kills = {k: {p: 0 for p in points} for k, points in PAUSE_POINTS.items()}
        failures = []
        for n in range(args.rounds):
            # Export needs an item; after a verify, every logged item is in the vault.
            ready = any(p.is_file() for p in (reg / "vault").glob("[0-9a-f]*/*/*"))
            kind = rng.choice(
                ["ingest"] * 4 + (["rebuild", "verify", "checkpoint", "export"] if ready else [])
            )
            point = rng.choice(PAUSE_POINTS[kind])
            argv = {
                "ingest": ["ingest", str(inbox), "--workers", "2", "--actor", f"run{n}"],
                "rebuild": ["rebuild"],
                "verify": ["verify"],
                "checkpoint": ["checkpoint"],
                "export": ["export", "--format", "bagit", "--out", str(work / f"bag{n}")],
            }[kind]
            kill_at(argv, point, registry=reg, work=work)
            kills[kind][point] += 1
            check = run_cli("verify", "--json", registry=reg)
            if check.returncode != 0:
                failures.append(
                    (n, f"{kind} at {point}", check.stdout[-500:] + check.stderr[-500:])
                )
        final = run_cli("ingest", str(inbox), "--json", "--actor", "final", registry=reg)
        items = [
            json.loads(line) for line in run_cli("list", "--json", registry=reg).stdout.splitlines()
        ]
        expected = {hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
        got = [i["sha256"] for i in items]
        vault = [p for p in (reg / "vault").rglob("*") if p.is_file() and ".staging" not in p.parts]
        verify = run_cli("verify", registry=reg)
        print("| operation | killed at | kills |\n|---|---|---|")
        for kind, points in kills.items():
            for point, count in points.items():
                print(f"| {kind} | {point} | {count} |")
        total = sum(sum(points.values()) for points in kills.values())
        print(f"\nkills: {total} of {args.rounds} rounds; verify failures: {len(failures)}")
        print(
            f"final ingest exit code: {final.returncode}; items: {len(got)} "
            f"(expected {len(expected)}, duplicates {len(got) - len(set(got))}, "
            f"missing {len(expected - set(got))}); vault files: {len(vault)}; "
            f"final verify exit code: {verify.returncode}"
        )
        sightings = sum(len(i["sightings"]) for i in items)
        print(
            f"sightings recorded: {sum(1 for i in items if i['sightings'])} items with "
            f"sightings, {sightings} sightings in all"
        )
        for n, kind, text in failures[:5]:
            print(f"round {n} ({kind}): {text}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
