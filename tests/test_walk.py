"""The walk: recursive, sorted, symlinks not followed out of the roots, specials refused."""

from __future__ import annotations

import os
from pathlib import Path

from ingest.walk import walk


def _names(entries) -> list[tuple[str, str | None]]:
    return [(os.path.basename(e.path), e.error.code if e.error else None) for e in entries]


def test_recursive_sorted(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "z.jpg").write_bytes(b"x")
    (tmp_path / "a.jpg").write_bytes(b"x")
    (tmp_path / "c.jpg").write_bytes(b"x")
    assert _names(walk([tmp_path])) == [("a.jpg", None), ("c.jpg", None), ("z.jpg", None)]


def test_symlinks(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.jpg").write_bytes(b"x")
    (root / "in.jpg").write_bytes(b"x")
    (root / "link_in.jpg").symlink_to(root / "in.jpg")
    (root / "link_out.jpg").symlink_to(outside / "secret.jpg")
    (root / "loop").symlink_to(root / "loop")
    (root / "dir_loop").symlink_to(root)
    (root / "dangling").symlink_to(tmp_path / "nothing")
    got = dict(_names(walk([root])))
    assert got["in.jpg"] is None
    assert "link_in.jpg" not in got  # its target is walked anyway
    assert "dir_loop" not in got
    assert got["link_out.jpg"] == "SymlinkRefused"
    assert got["loop"] == "SymlinkRefused"
    assert got["dangling"] == "SymlinkRefused"


def test_fifo_and_missing(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    got = dict(_names(walk([tmp_path, tmp_path / "absent.jpg"])))
    assert got == {"pipe": "NotAFile", "absent.jpg": "UnreadableFile"}


def test_unreadable_folder_is_reported_and_walk_goes_on(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "x.jpg").write_bytes(b"x")
    (tmp_path / "ok.jpg").write_bytes(b"x")
    locked.chmod(0)
    try:
        got = dict(_names(walk([tmp_path])))
    finally:
        locked.chmod(0o755)
    assert got["ok.jpg"] is None
    if os.geteuid() != 0:  # root reads anything
        assert got["locked"] == "UnreadableFile"


def test_undecodable_and_newline_names(tmp_path: Path) -> None:
    raw = os.fsencode(tmp_path) + b"/bad\xff\nname.jpg"
    with open(raw, "wb") as fh:
        fh.write(b"x")
    [entry] = list(walk([tmp_path]))
    assert entry.error is None
    assert os.path.exists(entry.path)
