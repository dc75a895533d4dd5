"""Supervised workers: a file that hangs, crashes or exhausts memory costs only itself."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from ingest import batch, extraction
from ingest.batch import Limits, supervised_extract
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


def test_bad_files_cost_only_themselves(files: Path, monkeypatch) -> None:
    # Workers are forked, so they inherit the patched function.
    monkeypatch.setitem(batch.JOBS, "extract", misbehaving_extract)
    # The limit only has to stop the file that never ends: the others take milliseconds
    # (workers load their decoders before they are handed a file).
    limits = Limits(seconds=10, bytes_per_second=1e12, memory_bytes=2 * 1024**3)
    out = list(supervised_extract(walk([files]), workers=2, limits=limits))
    by_name = {r.name: r for r in out}
    assert [r.name for r in out] == ["a.jpg", "crash.jpg", "hang.jpg", "hog.jpg", "z.jpg"]
    assert by_name["a.jpg"].ok and by_name["z.jpg"].ok
    assert by_name["crash.jpg"].error["code"] == "WorkerCrashed"
    assert by_name["hang.jpg"].error["code"] == "TimeLimit"
    assert by_name["hog.jpg"].error["code"] in {"TooLarge", "WorkerCrashed"}


def test_same_records_as_in_process(files: Path) -> None:
    keep = [files / "a.jpg", files / "z.jpg"]
    serial = [extraction.extract(p) for p in keep]
    parallel = list(supervised_extract(walk(keep), workers=2))
    assert [r.to_dict() for r in parallel] == [r.to_dict() for r in serial]
