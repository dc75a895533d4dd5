"""Staging folders of ingest runs: where a run's worker processes copy new files into the
registry without holding the writer lock.

Copying a file into the vault (read, write, fsync, read back and re-hash) is most of the
cost of storing it; done by the coordinating process under the lock it would make that
process the bottleneck of every ingest. So each run has its own folder,
``vault/.staging/run-<token>/``, and a lock file beside it (``run-<token>.lock``) that the
run holds (``flock``) from start to end. Its workers copy each new file there under a
name of their own (``<sha256>.<pid>-<n>``: two workers may copy the same bytes); the
coordinator moves the copies of items it logged into the vault and deletes the others.

A run that dies leaves its folder behind with its lock released (the operating system
drops a dead process's locks). The next writer's recovery (``Registry.recover``) moves
the copies the custody log vouches for into the vault and deletes the rest, and never
touches the folder of a live run: it can tell by trying the run's lock.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
import shutil
from collections.abc import Iterator
from typing import IO

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: runs are never taken for dead
    fcntl = None  # type: ignore[assignment]

RUN_PREFIX = "run-"
LOCK_SUFFIX = ".lock"

_counter = itertools.count()


def is_run_entry(name: str) -> bool:
    """Whether a name in staging is a run's folder or its lock file."""
    return name.startswith(RUN_PREFIX)


def _try_lock(lock_path: str, *, create: bool = True) -> IO[bytes] | None:
    """The lock file opened and locked, or None when a live run holds it (or, without
    ``create``, when there is no lock file)."""
    if fcntl is None:
        return None
    try:
        # A run creates its lock file before its folder, so a folder without one is an
        # ended run's: with create=False that is told apart by FileNotFoundError.
        fh = open(lock_path, "ab" if create else "rb")  # noqa: SIM115 - caller closes it
    except OSError:
        return None
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.close()
        return None
    return fh


def dead_runs(staging: str) -> Iterator[str]:
    """Folders of runs in ``staging`` whose process has ended (its lock is free)."""
    try:
        names = sorted(os.listdir(staging))
    except FileNotFoundError:
        return
    for name in names:
        path = os.path.join(staging, name)
        if not is_run_entry(name) or name.endswith(LOCK_SUFFIX) or not os.path.isdir(path):
            continue
        if not os.path.exists(path + LOCK_SUFFIX):
            yield path
            continue
        fh = _try_lock(path + LOCK_SUFFIX, create=False)
        if fh is not None:
            fh.close()
            yield path


def release_run(folder: str) -> None:
    """Delete an ended run's (emptied) folder and its lock file."""
    shutil.rmtree(folder, ignore_errors=True)
    with contextlib.suppress(OSError):
        os.unlink(folder + LOCK_SUFFIX)


class RunStaging:
    """The staging folder of one ingest run (see the module docstring).

    ``open()`` creates and locks it in the coordinating process; the object is then
    handed to workers (pickled: only the folder travels), which call ``stage``.
    """

    def __init__(self, staging: str, token: str | None = None) -> None:
        self.folder = os.path.join(staging, RUN_PREFIX + (token or secrets.token_hex(8)))
        self._lock: IO[bytes] | None = None

    def __getstate__(self) -> dict[str, object]:
        return {"folder": self.folder, "_lock": None}

    @property
    def live(self) -> bool:
        return self._lock is not None

    def open(self) -> RunStaging:
        """Create the folder and hold its lock until ``close``."""
        os.makedirs(os.path.dirname(self.folder), exist_ok=True)
        self._lock = _try_lock(self.folder + LOCK_SUFFIX)
        if self._lock is None:
            raise OSError(f"cannot lock the run's staging folder {self.folder}")
        os.makedirs(self.folder, exist_ok=True)
        return self

    def path_for(self, sha256: str) -> str:
        """A fresh name in the run's folder for a copy of ``sha256``."""
        return os.path.join(self.folder, f"{sha256}.{os.getpid()}-{next(_counter)}")

    def close(self) -> None:
        """Delete what is left in the folder (copies of items not stored) and unlock."""
        if self._lock is None:
            return
        shutil.rmtree(self.folder, ignore_errors=True)
        with contextlib.suppress(OSError):
            os.unlink(self.folder + LOCK_SUFFIX)
        self._lock.close()
        self._lock = None
