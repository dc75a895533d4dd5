"""The pipeline runs on any concurrent.futures Executor (a process pool here; a Dask or
Ray client's executor on a cluster) and gives the same registry as in-process ingest."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

from registry import Submission, init_registry


def _summary(reg) -> list[tuple]:
    return [
        (i["sha256"], i["metadata"].get("captured_at"), len(i["sightings"]))
        for i in reg.list_items()
    ]


def test_executors_give_the_same_registry(tmp_path: Path, media: Path) -> None:
    baseline = init_registry(str(tmp_path / "serial"))
    baseline.ingest([media], Submission(actor="a"))
    for name, executor in (("procs", ProcessPoolExecutor(2)), ("threads", ThreadPoolExecutor(2))):
        with executor:
            reg = init_registry(str(tmp_path / name))
            results = reg.ingest([media], Submission(actor="a"), executor=executor)
        assert [r.status for r in results] == ["new", "new", "error", "new"]
        assert _summary(reg) == _summary(baseline)
        assert reg.verify().ok
