"""The pipeline runs on any concurrent.futures Executor (a process pool here; a Dask or
Ray client's executor on a cluster) and gives the same registry as in-process ingest."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import pytest

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


def test_a_local_dask_cluster_gives_the_same_registry(tmp_path: Path, media: Path) -> None:
    # Worker processes of a real (local) Dask cluster: records travel back serialised,
    # writes stay in this process.
    distributed = pytest.importorskip("distributed")
    baseline = init_registry(str(tmp_path / "serial"))
    baseline.ingest([media], Submission(actor="a"))
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        reg = init_registry(str(tmp_path / "dask"))
        results = reg.ingest(
            [media], Submission(actor="a"), executor=client.get_executor(), in_flight=3
        )
    assert [r.status for r in results] == ["new", "new", "error", "new"]
    assert _summary(reg) == _summary(baseline)
    assert reg.verify().ok
