"""Reliability: kill -9 at random moments, concurrent writers and readers, hostile files,
disk full. Nothing stored is ever lost or duplicated, and the registry always verifies."""

from __future__ import annotations

import errno
import json
import os
import random
import threading
from pathlib import Path

import pytest

from registry import Registry, RegistryError, Submission, init_registry
from support.cli import PAUSE_POINTS, kill_at, run_cli, spawn_cli
from support.media import write_jpeg, write_video


def _jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _files(folder: Path, photos: int, videos: int, seed: int = 100) -> list[Path]:
    out = [write_jpeg(folder / f"p{i:02d}.jpg", seed + i, size=(320, 240)) for i in range(photos)]
    out += [write_video(folder / f"v{i}.mp4", seed + 50 + i, seconds=1.5) for i in range(videos)]
    return out


@pytest.mark.slow
def test_kill_9_loop_during_ingest_rebuild_checkpoint_export(tmp_path: Path) -> None:
    """Each round stops a command at one of its commit points (``pause_point``) and
    kills it there with SIGKILL: every round is a kill mid-way, on any machine."""
    inbox, reg = tmp_path / "in", tmp_path / "reg"
    run_cli("init", registry=reg, check=True)
    rng = random.Random(20261126)
    plan = [(cmd, point) for cmd, points in PAUSE_POINTS.items() for point in points]
    rng.shuffle(plan)
    # First an ingest killed once its batch is logged, so that there are items to export.
    plan.insert(0, ("ingest", "commit.logged"))
    files: list[Path] = []

    def ingest(round_: int) -> tuple[str, ...]:
        # Only files new to the registry: whichever of them the first batch holds, the
        # kill leaves new items half-stored (staged, logged, or in the vault).
        folder = inbox / f"r{round_:02d}"
        files.extend(_files(folder, photos=3, videos=1, seed=100 + 10 * round_))
        return ("ingest", str(folder), "--workers", "2", "--json", "--actor", f"run{round_}")

    for round_, (cmd, point) in enumerate(plan):
        if cmd == "ingest":
            argv = ingest(round_)
        elif cmd == "export":
            argv = ("export", "--format", "bagit", "--out", str(tmp_path / f"bag{round_}"))
        elif cmd == "verify":
            # Leave the catalogue behind the log, so that verify's first append is the
            # entry of its recovery: a kill while recovering from a kill.
            kill_at(ingest(round_), "commit.logged", registry=reg, work=tmp_path)
            argv = ("verify", "--json")
        else:
            argv = (cmd,)
        assert kill_at(argv, point, registry=reg, work=tmp_path) == f"{point}:1"
        if cmd == "verify":
            last = json.loads((reg / "custody.jsonl").read_bytes().splitlines()[-1])
            assert last["action"] == "registry.recovered", last
        check = run_cli("verify", "--json", registry=reg)
        assert check.returncode == 0, (round_, cmd, point, check.stdout + check.stderr)
    final = run_cli("ingest", str(inbox), "--json", "--actor", "final", registry=reg)
    assert final.returncode == 0, final.stderr
    assert run_cli("verify", registry=reg).returncode == 0
    items = _jsonl(run_cli("list", "--json", registry=reg, check=True).stdout)
    import hashlib

    expected = {hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
    assert len(expected) == len(files)
    assert sorted(i["sha256"] for i in items) == sorted(expected)  # each exactly once
    for item in items:
        assert item["sightings"][-1]["observed_by"] == "final"
    vault_files = [p for p in (reg / "vault").rglob("*") if p.is_file()]
    assert len(vault_files) == len(files)


@pytest.mark.slow
def test_concurrent_ingests_and_readers(tmp_path: Path) -> None:
    a = _files(tmp_path / "a", photos=10, videos=1)
    b = _files(tmp_path / "b", photos=6, videos=0, seed=300)
    shared = tmp_path / "b" / "shared.jpg"
    shared.write_bytes(a[0].read_bytes())  # the same bytes submitted by both
    reg = tmp_path / "reg"
    run_cli("init", registry=reg, check=True)
    stop = threading.Event()
    reader_failures: list[str] = []
    reads = 0

    def read_loop() -> None:
        nonlocal reads
        while True:  # reads once at least, however soon the writers are done
            proc = run_cli("list", "--json", registry=reg)
            if proc.returncode != 0:
                reader_failures.append(proc.stderr)
            _jsonl(proc.stdout)  # always parseable: readers never see a torn file
            reads += 1
            if stop.is_set():
                break

    reader = threading.Thread(target=read_loop)
    reader.start()
    procs = [
        spawn_cli("ingest", str(tmp_path / "a"), "--json", "--actor", "alice", registry=reg),
        spawn_cli("ingest", str(tmp_path / "b"), "--json", "--actor", "bob", registry=reg),
        spawn_cli("ingest", str(tmp_path / "a"), "--json", "--actor", "carol", registry=reg),
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    stop.set()
    reader.join()
    assert [p.returncode for p in procs] == [0, 0, 0], [o[1] for o in outs]
    assert not reader_failures and reads >= 1
    items = {i["sha256"]: i for i in _jsonl(run_cli("list", "--json", registry=reg).stdout)}
    assert len(items) == len(a) + len(b)  # shared.jpg is a[0]'s bytes: no new item
    import hashlib

    first = items[hashlib.sha256(a[0].read_bytes()).hexdigest()]
    assert sorted(s["observed_by"] for s in first["sightings"]) == ["alice", "bob", "carol"]
    for item in items.values():
        actors = [s["observed_by"] for s in item["sightings"]]
        assert len(actors) == len(set(actors))  # nothing recorded twice
    assert run_cli("verify", registry=reg).returncode == 0


def _recursive_exif_jpeg(path: Path) -> Path:
    """A JPEG whose EXIF IFD0 'next IFD' offset points back at IFD0 (a loop), with an
    ExifIFD pointer to itself too."""
    import struct

    tiff = bytearray(b"II*\x00" + struct.pack("<I", 8))
    entries = [
        (0x010F, 2, 6, struct.unpack("<I", b"Loop\x00\x00"[:4])[0]),
        (0x8769, 4, 1, 8),
    ]  # ExifIFD -> IFD0 itself
    tiff += struct.pack("<H", len(entries))
    for tag, typ, count, value in entries:
        tiff += struct.pack("<HHII", tag, typ, count, value)
    tiff += struct.pack("<I", 8)  # next IFD -> IFD0 again
    app1 = b"Exif\x00\x00" + bytes(tiff)
    good = write_jpeg(
        path.with_suffix(".src.jpg"), 7, size=(64, 48), make=None, model=None, taken=None
    ).read_bytes()
    body = good[2:]
    path.write_bytes(b"\xff\xd8" + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + body)
    path.with_suffix(".src.jpg").unlink()
    return path


def _huge_tag_jpeg(path: Path) -> Path:
    from PIL import Image

    from support.media import scene

    exif = Image.Exif()
    exif[0x010E] = "A" * 60_000  # ImageDescription
    exif[0x010F] = "Canon"
    scene(9, 64, 48).save(path, "JPEG", exif=exif.tobytes())
    return path


def test_hostile_inputs_in_one_batch(tmp_path: Path) -> None:
    from PIL import Image

    bad = tmp_path / "bad"
    bad.mkdir()
    good = write_jpeg(bad / "good.jpg", 1, size=(64, 48))
    Image.new("1", (30000, 30000)).save(bad / "bomb.png")  # 900 Mpx in a few KB
    video = write_video(tmp_path / "v.mp4", 3, seconds=1)
    (bad / "truncated.mp4").write_bytes(video.read_bytes()[:300])
    (bad / "truncated.jpg").write_bytes(good.read_bytes()[:200])
    _recursive_exif_jpeg(bad / "loop_exif.jpg")
    _huge_tag_jpeg(bad / "huge_tag.jpg")
    (bad / "empty.jpg").write_bytes(b"")
    (bad / "text.jpg").write_text("not a photo")
    os.mkfifo(bad / "fifo.jpg")
    (bad / "loop").symlink_to(bad / "loop")
    (bad / "escape.jpg").symlink_to("/etc/hostname")
    weird = os.fsencode(bad) + b"/new\nline\xff.jpg"
    with open(weird, "wb") as fh:
        fh.write(write_jpeg(tmp_path / "w.jpg", 5, size=(64, 48)).read_bytes())
    reg = tmp_path / "reg"
    proc = run_cli(
        "ingest",
        str(bad),
        "/dev/zero",
        "--json",
        "--workers",
        "2",
        "--max-pixels",
        "100000000",
        registry=reg,
        timeout=120,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    rows = {Path(r["path"]).name: r for r in _jsonl(proc.stdout)}
    assert rows["good.jpg"]["status"] == "new"
    assert rows["huge_tag.jpg"]["status"] == "new"
    assert rows["loop_exif.jpg"]["status"] == "new"  # the picture is fine; the loop is cut
    assert rows["new\nline\\xff.jpg"]["status"] == "new"
    expected_errors = {
        "bomb.png": "TooLarge",
        "truncated.mp4": "CorruptMedia",
        "truncated.jpg": "CorruptMedia",
        "empty.jpg": "EmptyFile",
        "text.jpg": "UnsupportedType",
        "fifo.jpg": "NotAFile",
        "loop": "SymlinkRefused",
        "escape.jpg": "SymlinkRefused",
        "zero": "NotAFile",
    }
    for name, code in expected_errors.items():
        assert rows[name]["status"] == "error", (name, rows[name])
        assert rows[name]["error_code"] == code, (name, rows[name])
        assert rows[name]["error"] and "\n" not in rows[name]["error"]
    huge = json.loads(
        run_cli("show", rows["huge_tag.jpg"]["sha256"], "--json", registry=reg).stdout
    )
    assert max(len(v) for v in huge["exif"].values()) < 2100  # capped, not 60,000
    assert run_cli("verify", registry=reg).returncode == 0
    failures = [
        e
        for e in _jsonl(run_cli("custody", "--json", registry=reg).stdout)
        if e["action"] == "ingest.failed"
    ]
    assert len(failures) == len(expected_errors)


def test_disk_full_leaves_nothing_half_written(tmp_path: Path, monkeypatch) -> None:
    reg = init_registry(str(tmp_path / "reg"))
    reg.ingest([write_jpeg(tmp_path / "first.jpg", 1)])
    before = {p: p.read_bytes() for p in Path(reg.root).rglob("*") if p.is_file()}
    from registry import fsutil

    real_append = fsutil.append_durable

    def full_disk(path: str, data: bytes) -> None:
        # Half the batch reaches the disk, then the disk is full.
        real_append(path, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("registry.custody.log.append_durable", full_disk)
    with pytest.raises(RegistryError) as info:
        Registry.open(reg.root).ingest(
            [write_jpeg(tmp_path / "second.jpg", 2)], Submission(actor="x")
        )
    assert "No space left" in info.value.message
    monkeypatch.setattr("registry.custody.log.append_durable", real_append)
    after = {
        p: p.read_bytes()
        for p in Path(reg.root).rglob("*")
        if p.is_file() and ".staging" not in p.parts
    }
    for path, data in before.items():
        if path.name != ".lock":
            assert after[path] == data, path  # log cut back; nothing else touched
    again = Registry.open(reg.root)
    assert again.verify().ok
    assert [r.status for r in again.ingest([tmp_path / "second.jpg"])] == ["new"]


def test_read_only_registry_is_a_clear_error(tmp_path: Path, monkeypatch) -> None:
    reg = init_registry(str(tmp_path / "reg"))

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr("filelock.FileLock.acquire", read_only)
    proc_reg = Registry.open(reg.root)
    with pytest.raises(RegistryError, match="Read-only file system"):
        proc_reg.ingest([write_jpeg(tmp_path / "a.jpg", 1)])
    assert list(proc_reg.list_items()) == []  # readers still work


@pytest.mark.parametrize("point", ["custody.appended", "init.logged"])
def test_an_init_killed_midway_is_finished_by_the_next_run(tmp_path: Path, point: str) -> None:
    reg = tmp_path / "reg"
    photo = write_jpeg(tmp_path / "in" / "a.jpg", 1, size=(120, 90))
    work = tmp_path / "work"
    work.mkdir()
    assert kill_at(("init",), point, registry=reg, work=work) == f"{point}:1"
    assert not (reg / "REGISTRY.json").exists()
    proc = run_cli("ingest", str(photo), "--json", registry=reg)  # creates on first use
    assert proc.returncode == 0, proc.stderr
    assert run_cli("verify", registry=reg).returncode == 0
    opened = Registry.open(str(reg))
    actions = [e["action"] for e in opened.custody()]
    assert actions.count("registry.created") == 1  # the logged creation was kept
    assert opened.info["registry_id"] == next(iter(opened.custody()))["details"]["registry_id"]
