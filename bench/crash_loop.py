"""Crash loop: kill -9 real `evidence` processes at random moments, then check that the
registry opens and verifies after every kill and that every file ends up stored exactly
once with its sightings.

    python bench/crash_loop.py --rounds 40
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from support.cli import run_cli, spawn_cli  # noqa: E402
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
        counts = {"ingest": 0, "rebuild": 0, "verify": 0, "checkpoint": 0, "export": 0}
        kills = {k: 0 for k in counts}
        failures = []
        for n in range(args.rounds):
            ready = (reg / "REGISTRY.json").exists()
            kind = rng.choice(
                ["ingest"] * 4 + (["rebuild", "verify", "checkpoint", "export"] if ready else [])
            )
            argv = {
                "ingest": ["ingest", str(inbox), "--workers", "2", "--actor", f"run{n}"],
                "rebuild": ["rebuild"],
                "verify": ["verify"],
                "checkpoint": ["checkpoint"],
                "export": ["export", "--format", "bagit", "--out", str(work / f"bag{n}")],
            }[kind]
            counts[kind] += 1
            proc = spawn_cli(*argv, registry=reg, output=subprocess.DEVNULL)
            # The other operations finish within a second or two of start-up.
            time.sleep(rng.uniform(0.2, 3.0) if kind == "ingest" else rng.uniform(0.4, 1.3))
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                kills[kind] += 1
            proc.wait()
            if (reg / "REGISTRY.json").exists():
                check = run_cli("verify", "--json", registry=reg)
                if check.returncode != 0:
                    failures.append((n, kind, check.stdout[-500:] + check.stderr[-500:]))
        final = run_cli("ingest", str(inbox), "--json", "--actor", "final", registry=reg)
        items = [
            json.loads(line) for line in run_cli("list", "--json", registry=reg).stdout.splitlines()
        ]
        expected = {hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
        got = [i["sha256"] for i in items]
        vault = [p for p in (reg / "vault").rglob("*") if p.is_file() and ".staging" not in p.parts]
        verify = run_cli("verify", registry=reg)
        print("| operation | runs | killed |\n|---|---|---|")
        for k in counts:
            print(f"| {k} | {counts[k]} | {kills[k]} |")
        print(f"\nkills: {sum(kills.values())}; verify failures after a kill: {len(failures)}")
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
