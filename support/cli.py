"""The ``evidence`` CLI in a subprocess, run from this source tree."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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


def spawn_cli(*args: str, registry: Path, output: int | None = subprocess.PIPE) -> subprocess.Popen:
    """Start ``python -m registry`` in its own session, so that killing the session's
    process group also kills its extraction workers (used by the kill -9 loops)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "registry", "--registry", str(registry), *args],
        stdout=output,
        stderr=output,
        stdin=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
