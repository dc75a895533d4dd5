"""Supervised workers: a file that hangs, crashes or exhausts memory costs only itself."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest import extraction
from ingest.batch import supervised_extract
from ingest.walk import walk
from support.media import write_jpeg

real_extract = extraction.extract


def misbehaving_extract(path, **kwargs):
    name = os.path.basename(path)
    if name.startswith("hang"):
        time.sleep(60)
    if name.startswith("crash"):
        os.kill(os.getpid(), signal.SIGSEGV)
    if name.startswith("hog"):
        _ = bytearray(3 * 1024**3)  # over the memory limit
    return real_extract(path, **kwargs)


@pytest.fixture
def files(tmp_path: Path) -> Path:
    for name in ("a.jpg", "crash.jpg", "hang.jpg", "hog.jpg", "z.jpg"):
        write_jpeg(tmp_path / name, len(name), size=(64, 48))
    return tmp_path


SCRIPT = """
import json, sys
from ingest import batch
from ingest.batch import Limits, supervised_extract
from ingest.walk import walk
from tests.test_supervisor import misbehaving_extract
batch.JOBS["extract"] = misbehaving_extract  # workers are forked: they inherit it
limits = Limits(seconds=10, bytes_per_second=1e12, memory_bytes=2 * 1024**3)
out = list(supervised_extract(walk([sys.argv[1]]), workers=2, limits=limits))
print(json.dumps([[r.name, r.error["code"] if r.error else None] for r in out]))
"""


def test_bad_files_cost_only_themselves(files: Path) -> None:
    # In a fresh interpreter, as `evidence` runs it: a process that has run hundreds of
    # tests (threads, pools) is not what a user's workers are forked from. The limit
    # only has to stop the file that never ends; the others take milliseconds (workers
    # load their decoders before they are handed a file).
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(files)],
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    by_name = dict(json.loads(proc.stdout.strip().splitlines()[-1]))
    assert list(by_name) == ["a.jpg", "crash.jpg", "hang.jpg", "hog.jpg", "z.jpg"]
    assert by_name["a.jpg"] is None and by_name["z.jpg"] is None
    assert by_name["crash.jpg"] == "WorkerCrashed"
    assert by_name["hang.jpg"] == "TimeLimit"
    assert by_name["hog.jpg"] in {"TooLarge", "WorkerCrashed"}


def test_same_records_as_in_process(files: Path) -> None:
    keep = [files / "a.jpg", files / "z.jpg"]
    serial = [extraction.extract(p) for p in keep]
    parallel = list(supervised_extract(walk(keep), workers=2))
    assert [r.to_dict() for r in parallel] == [r.to_dict() for r in serial]
