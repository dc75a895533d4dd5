"""The ``evidence`` CLI in a subprocess, run from this source tree; and ``kill_at``, which
kills it with SIGKILL at a named commit point (``registry.fsutil.pause_point``)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

#: The project root (the source tree whose code the subprocesses run).
ROOT = Path(__file__).resolve().parents[1]


def run_cli(
    *args: str,
    registry: Path | None = None,
    check: bool = False,
    env: dict[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess:
    """Run ``python -m registry`` in a subprocess, as a user would run ``evidence``."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    cmd = [sys.executable, "-m", "registry"]
    if registry is not None:
        cmd += ["--registry", str(registry)]
    proc = subprocess.run(
        cmd + list(args),
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def spawn_cli(
    *args: str,
    registry: Path,
    output: int | IO[Any] | None = subprocess.PIPE,
    env: dict[str, str] | None = None,
) -> subprocess.Popen:
    """Start ``python -m registry`` in its own session, so that killing the session's
    process group also kills its extraction workers (used by the kill -9 loops)."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "registry", "--registry", str(registry), *args],
        stdout=output,
        stderr=output,
        stdin=subprocess.DEVNULL,
        env=full_env,
        start_new_session=True,
    )


#: The commit points (``registry.fsutil.pause_point``) that every run of each command
#: passes once at least, whatever the registry holds (export: at least one item) and
#: however the ingest's records fall into batches.
PAUSE_POINTS: dict[str, tuple[str, ...]] = {
    "ingest": (
        "commit.staged",
        "commit.logged",
        "commit.vaulted",
        "commit.saved",
        "custody.appended",
    ),
    "rebuild": ("rebuild.built", "rebuild.between_renames", "rebuild.renamed", "custody.appended"),
    "checkpoint": (
        "checkpoint.signed",
        "checkpoint.written",
        "checkpoint.logged",
        "custody.appended",
    ),
    "export": ("export.payload", "export.written", "custody.appended"),
    "verify": ("custody.appended",),  # the recovery's entry, or else the verify.run one
}


def kill_at(
    argv: Sequence[str], point: str, *, registry: Path, work: Path, timeout: float = 120.0
) -> str:
    """Run ``evidence <argv>`` until it stops at the pause point ``point`` (``name`` or
    ``name:n``), then kill -9 its whole process group; returns what the pause file says.

    The kill is decided by what the process has done, never by a delay: ``timeout`` only
    bounds a process that never gets there (then, or when it exits first, this fails
    with its output). ``work`` holds the pause file and the output.
    """
    flag, log = work / "paused", work / "output.txt"
    flag.unlink(missing_ok=True)
    with open(log, "wb") as out:
        proc = spawn_cli(
            *argv,
            registry=registry,
            output=out,
            env={"EVIDENCE_PAUSE_AT": point, "EVIDENCE_PAUSE_FILE": str(flag)},
        )
    try:
        deadline = time.monotonic() + timeout
        while not flag.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                what = f"exited with {proc.returncode}" if proc.poll() is not None else "hangs"
                text = log.read_text(errors="replace")[-3000:]
                raise AssertionError(f"{' '.join(argv)} {what} before {point}:\n{text}")
            time.sleep(0.01)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.returncode
    return flag.read_text().strip()
