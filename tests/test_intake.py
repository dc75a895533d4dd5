"""The worker side of ingest: staging copies in a run's folder, matching in the worker
against its view of the registry, and the coordinator's window of what the worker did
not see."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from PIL import Image

from registry import Registry, Submission
from registry.ingesting import worker_run
from registry.intake import View, publish
from registry.similarity import MatchConfig, Window
from registry.store import RunStaging, Vault
from support.media import scene, write_jpeg


def _photos(folder: Path) -> dict[str, Path]:
    """An original, a crop of it, its mirror image, and an unrelated photo."""
    folder.mkdir(parents=True, exist_ok=True)
    original = scene(7, 640, 480)
    out = {"original": folder / "original.jpg"}
    original.save(out["original"], quality=92)
    out["crop"] = folder / "crop.jpg"
    original.crop((60, 40, 600, 440)).save(out["crop"], quality=85)
    out["mirror"] = folder / "mirror.jpg"
    original.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(out["mirror"], quality=85)
    out["other"] = write_jpeg(folder / "other.jpg", 99, size=(640, 480))
    return out


def _found(results: list) -> dict[str, set[str]]:
    return {
        Path(r.path).stem: {m["sha256"] for m in r.near_duplicates or []}
        for r in results
        if r.status == "new"
    }


def test_workers_find_what_one_process_finds_within_a_batch(tmp_path: Path) -> None:
    """Files of one batch are matched against each other (the coordinator's window)."""
    files = _photos(tmp_path / "in")
    one = Registry.open(str(tmp_path / "one"), create=True)
    two = Registry.open(str(tmp_path / "two"), create=True)
    alone = _found(list(one.ingest([str(tmp_path / "in")], Submission(actor="t"), workers=1)))
    together = _found(list(two.ingest([str(tmp_path / "in")], Submission(actor="t"), workers=2)))
    assert together == alone
    sha = {k: hashlib.sha256(p.read_bytes()).hexdigest() for k, p in files.items()}
    # Walked in name order: the original comes after its crop and its mirror image.
    assert {sha["crop"], sha["mirror"]} <= together["original"]
    assert not together["other"]
    assert os.listdir(two.vault.staging) == []  # the run's folder is gone


def test_worker_matches_against_its_view_and_stages_a_copy(tmp_path: Path) -> None:
    files = _photos(tmp_path / "in")
    reg = Registry.open(str(tmp_path / "reg"), create=True)
    [stored] = list(reg.ingest([str(files["original"])], Submission(actor="t")))
    with worker_run(reg, reg.near, Submission(actor="t"), MatchConfig()) as job:
        rec = job(str(files["crop"]), max_pixels=10**8)
        assert [m["sha256"] for m in rec.handover["matches"]] == [stored.sha256]
        assert rec.handover["seen"] == reg.catalog.log_offset
        assert rec.handover["query"].verifiable
        staged = rec.handover["staged"]
        assert os.path.dirname(staged) == job.staging.folder
        assert Path(staged).read_bytes() == files["crop"].read_bytes()
        known = job(str(files["original"]), max_pixels=10**8)
        assert "staged" not in known.handover and "matches" not in known.handover
    assert not os.path.exists(job.staging.folder)


def test_a_view_follows_the_log_as_far_as_it_is_published(tmp_path: Path) -> None:
    files = _photos(tmp_path / "in")
    reg = Registry.open(str(tmp_path / "reg"), create=True)
    with worker_run(reg, reg.near, Submission(actor="t"), MatchConfig()) as job:
        view = View(reg.root, job.stamp, job.start)
    assert view.index is not None and len(view.index) == 0
    list(reg.ingest([str(files["original"])], Submission(actor="t")))
    publish(reg.root, job.start)  # not yet published past the start: nothing new
    view.refresh()
    assert len(view.index) == 0
    publish(reg.root, reg.catalog.log_offset)
    view.refresh()
    assert len(view.index) == 1 and view.position == reg.catalog.log_offset


def test_a_view_of_a_replaced_cache_does_not_match(tmp_path: Path) -> None:
    reg = Registry.open(str(tmp_path / "reg"), create=True)
    view = View(reg.root, "not-the-stamp", 0)
    assert view.index is None


def test_window_tells_what_a_worker_has_not_seen() -> None:
    window = Window(100)
    window.add("a", [])
    window.committed(200)
    window.add("b", [])
    assert window.covers(100) and not window.covers(99)
    assert window.unseen(100) == {"a", "b"}
    assert window.unseen(200) == {"b"}
    window.committed(300)
    assert window.unseen(300) == set()
    window.restart()
    assert not window.covers(300)
    window.committed(400)
    assert window.covers(400) and window.unseen(400) == set()


def test_window_keeps_a_bounded_number_of_items() -> None:
    from registry.similarity.window import KEEP_ITEMS

    window = Window(0)
    for n in range(KEEP_ITEMS // 8 + 4):
        for k in range(8):
            window.add(f"{n}-{k}", [])
        window.committed(10 * (n + 1))
    assert len(window.unseen(window.start)) <= KEEP_ITEMS
    assert not window.covers(0)


def test_recovery_moves_a_dead_runs_logged_copy_and_spares_a_live_run(tmp_path: Path) -> None:
    files = _photos(tmp_path / "in")
    reg = Registry.open(str(tmp_path / "reg"), create=True)
    [stored] = list(reg.ingest([str(files["original"])], Submission(actor="t")))
    vault = reg.vault
    # The stored copy is taken out of the vault and left in a dead run's folder, as a
    # kill between the log append and the move into the vault leaves it.
    dead = RunStaging(vault.staging, "dead").open()
    copy = dead.path_for(stored.sha256)
    os.chmod(vault.path(stored.sha256), 0o644)
    os.replace(vault.path(stored.sha256), copy)
    stray = dead.path_for("f" * 64)
    Path(stray).write_bytes(b"never logged")
    dead._lock.close()  # the process died: its lock is released
    dead._lock = None
    live = RunStaging(vault.staging, "live").open()
    Path(live.path_for("e" * 64)).write_bytes(b"in flight")
    with reg.writing("t"):
        pass  # every writer recovers first
    assert vault.has(stored.sha256)
    assert not os.path.exists(dead.folder) and not os.path.exists(stray)
    assert len(os.listdir(live.folder)) == 1
    last = json.loads(Path(reg.root, "custody.jsonl").read_bytes().splitlines()[-1])
    assert last["action"] == "registry.recovered"
    live.close()
    assert Vault(vault.root).staged() == []
