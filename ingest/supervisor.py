"""Supervised worker processes: each file is extracted under a time and memory limit.

A hostile or broken file can make a decoder loop, allocate without bound, or crash in C
code. ``SupervisedPool`` runs extraction in worker processes and watches each file: a
worker that runs past the file's time limit is killed, one that dies (segfault, OOM kill)
is noticed, and either way that file gets a named error and a fresh worker takes the next
file. The batch always goes on.
"""

from __future__ import annotations

import contextlib
import faulthandler
import multiprocessing as mp
import os
import resource
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from .errors import EvidenceError
from .record import Extracted, display_path
from .walk import WalkEntry


class TimeLimit(EvidenceError):
    """Extraction took longer than the per-file time limit; the worker was stopped."""


class WorkerCrashed(EvidenceError):
    """Extraction crashed the worker process (a decoder failed on this file)."""


@dataclass(frozen=True)
class Limits:
    """Per-file limits. ``seconds`` grows with the file: ``seconds + size / bytes_per_second``."""

    seconds: float = 120.0
    bytes_per_second: float = 4 * 1024 * 1024
    memory_bytes: int | None = 4 * 1024**3
    max_pixels: int = 200_000_000

    def time_for(self, size: int) -> float:
        return self.seconds + size / self.bytes_per_second


def _worker(conn: Connection, limits: Limits) -> None:
    from .pipeline import extract

    # A decoder crash is reported as WorkerCrashed by the parent; no C stack dumps.
    faulthandler.disable()
    if limits.memory_bytes:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        rec = extract(task, max_pixels=limits.max_pixels)
        conn.send(rec)


class _Slot:
    """One worker process and the file it is working on."""

    def __init__(self, ctx: Any, limits: Limits) -> None:
        parent, child = ctx.Pipe()
        self.conn: Connection = parent
        self.proc = ctx.Process(target=_worker, args=(child, limits), daemon=True)
        self.proc.start()
        child.close()
        self.task: tuple[int, WalkEntry] | None = None
        self.deadline = 0.0
        self.allowed = 0.0

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.proc.kill()
        self.proc.join(timeout=5)
        self.conn.close()


def _error_record(entry: WalkEntry, exc: EvidenceError) -> Extracted:
    rec = Extracted(path=display_path(entry.path), name=display_path(os.path.basename(entry.path)))
    rec.source = entry.path
    rec.error = {"code": exc.code, "message": exc.message}
    return rec


def supervised_extract(
    entries: Iterable[WalkEntry], *, workers: int, limits: Limits | None = None
) -> Iterator[Extracted]:
    """Extract files in ``workers`` supervised processes, yielding records in input order.

    Memory stays bounded: at most a few files per worker are read ahead.
    """
    limits = limits or Limits()
    ctx = mp.get_context("fork" if hasattr(os, "fork") else "spawn")
    slots = [_Slot(ctx, limits) for _ in range(max(1, workers))]
    done: dict[int, Extracted] = {}
    queue: list[tuple[int, WalkEntry]] = []
    source = enumerate(entries)
    exhausted = False
    next_out = 0
    window = max(4, 4 * len(slots))
    try:
        while True:
            # Keep a bounded read-ahead; walk errors need no worker.
            while not exhausted and len(queue) + len(done) + len(slots) < window:
                try:
                    index, entry = next(source)
                except StopIteration:
                    exhausted = True
                    break
                if entry.error is not None:
                    done[index] = _error_record(entry, entry.error)
                else:
                    queue.append((index, entry))
            for i, slot in enumerate(slots):
                if slot.task is None and queue:
                    index, entry = queue.pop(0)
                    try:
                        size = os.stat(entry.path).st_size
                    except OSError:
                        size = 0
                    try:
                        slot.conn.send(entry.path)
                    except (BrokenPipeError, OSError):
                        slot.kill()
                        slots[i] = slot = _Slot(ctx, limits)
                        slot.conn.send(entry.path)
                    slot.allowed = limits.time_for(size)
                    slot.task, slot.deadline = (index, entry), time.monotonic() + slot.allowed
            while next_out in done:
                yield done.pop(next_out)
                next_out += 1
            busy = [s for s in slots if s.task is not None]
            if not busy:
                if exhausted and not queue:
                    break
                continue
            timeout = max(0.0, min(s.deadline for s in busy) - time.monotonic())
            ready = wait([s.conn for s in busy], timeout=min(timeout, 1.0))
            now = time.monotonic()
            for i, slot in enumerate(slots):
                if slot.task is None:
                    continue
                index, entry = slot.task
                if slot.conn in ready:
                    try:
                        done[index] = slot.conn.recv()
                        slot.task = None
                        continue
                    except (EOFError, OSError):
                        code = slot.proc.exitcode
                        slot.kill()
                        why = f"exit code {code}" if code is not None else "no answer"
                        done[index] = _error_record(entry, WorkerCrashed(why))
                elif now >= slot.deadline:
                    slot.kill()
                    done[index] = _error_record(
                        entry, TimeLimit(f"stopped after {slot.allowed:.0f} s")
                    )
                else:
                    continue
                slots[i] = _Slot(ctx, limits)
    finally:
        for slot in slots:
            with contextlib.suppress(Exception):
                if slot.task is None:
                    slot.conn.send(None)
            slot.kill()
