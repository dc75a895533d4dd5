"""Extracting many files: in this process, in supervised worker processes, or on an
executor, always yielding records in input order.

A hostile or broken file can make a decoder loop, allocate without bound, or crash in C
code. ``supervised_extract`` runs extraction in worker processes and watches each file: a
worker that runs past the file's time limit is killed, one that dies (segfault, OOM kill)
is noticed, and either way that file gets a named error and a fresh worker takes the next
file. The batch always goes on.

Supervised workers are handed their next file only when the iterator is advanced; while
the registry commits a batch the iterator would sit still and the workers idle, so
``ahead`` keeps advancing it in a background thread into a bounded queue.
"""

from __future__ import annotations

import contextlib
import faulthandler
import itertools
import os
import queue
import resource
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from ingest.errors import EvidenceError, TimeLimit, WorkerCrashed
from ingest.extraction import extract, rehash_image, rehash_video, reread_credentials, warm_up
from ingest.photo import MAX_PIXELS
from ingest.record import Extracted, display_path
from ingest.walk import WalkEntry

if TYPE_CHECKING:
    from concurrent.futures import Executor, Future
    from multiprocessing.connection import Connection


@dataclass(frozen=True)
class Limits:
    """Per-file limits. ``seconds`` grows with the file: ``seconds + size / bytes_per_second``."""

    seconds: float = 120.0
    bytes_per_second: float = 4 * 1024 * 1024
    memory_bytes: int | None = 4 * 1024**3
    max_pixels: int = 200_000_000

    def time_for(self, size: int) -> float:
        return self.seconds + size / self.bytes_per_second


def _rehash_image(path: str, *, max_pixels: int) -> Extracted:
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        rec = Extracted(path=display_path(path))
        rec.error = {"code": "UnreadableFile", "message": f"File cannot be read: {exc}"}
        return rec
    return rehash_image(data, max_pixels=max_pixels)


def _rehash_video(path: str, *, max_pixels: int) -> Extracted:
    return rehash_video(path)


def _read_credentials(path: str, *, max_pixels: int) -> Extracted:
    return reread_credentials(path)


#: What a worker can do with one file, by name: extract it (ingest, match), hash a
#: stored photo or video again with the current hashers, or read its Content
#: Credentials again (reindex).
JOBS: dict[str, Callable[..., Extracted]] = {
    "extract": extract,
    "rehash_image": _rehash_image,
    "rehash_video": _rehash_video,
    "read_credentials": _read_credentials,
}
#: The jobs that never read Content Credentials: their workers need not load the reader.
_NO_CREDENTIALS = frozenset({"rehash_image", "rehash_video"})

#: A job: a ``JOBS`` name, or any picklable callable ``job(path, *, max_pixels)`` that
#: returns a record (the registry's ingest job extracts, stages a copy and matches).
Job = str | Callable[..., Extracted]


def _warm(job: Job) -> None:
    """Load what extracting (and the job, if it says: ``job.warm_up``) needs. A failure
    here is only a slower first file: it surfaces there, as that file's error."""
    with contextlib.suppress(Exception):
        warm_up(credentials=not (isinstance(job, str) and job in _NO_CREDENTIALS))
        getattr(job, "warm_up", lambda: None)()


def _run(job: Job, path: str, max_pixels: int) -> Extracted:
    fn = JOBS[job] if isinstance(job, str) else job
    return fn(path, max_pixels=max_pixels)


def _worker(conn: Connection, limits: Limits, job: Job) -> None:
    # A decoder crash is reported as WorkerCrashed by the parent; no C stack dumps.
    faulthandler.disable()
    if limits.memory_bytes:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    # Load the decoders before the first file, so that their import is not counted
    # against that file's time limit (the parent waits for this "ready"). Forked, the
    # worker has them from the parent already (``_warm`` ran there).
    _warm(job)
    with contextlib.suppress(OSError):
        conn.send("ready")
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        rec = _run(job, task, limits.max_pixels)
        conn.send(rec)


#: Seconds a new worker may take to load its decoders before it is handed files anyway.
READY_WAIT = 120.0


class _Slot:
    """One worker process and the file it is working on."""

    def __init__(self, ctx: Any, limits: Limits, job: Job, *, wait: bool = True) -> None:
        parent, child = ctx.Pipe()
        self.conn: Connection = parent
        self.proc = ctx.Process(target=_worker, args=(child, limits, job), daemon=True)
        self.proc.start()
        child.close()
        self.task: tuple[int, WalkEntry] | None = None
        self.deadline = 0.0
        self.allowed = 0.0
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout: float = READY_WAIT) -> None:
        """Wait until the worker has loaded its decoders (or died, or ``timeout``): a
        file's time limit counts from when it is handed over, so not their import."""
        with contextlib.suppress(EOFError, OSError):
            if self.conn.poll(timeout):
                self.conn.recv()

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
    entries: Iterable[WalkEntry],
    *,
    workers: int,
    limits: Limits | None = None,
    job: Job = "extract",
) -> Iterator[Extracted]:
    """Extract files in ``workers`` supervised processes, yielding records in input order.

    Memory stays bounded: at most a few files per worker are read ahead.
    """
    import multiprocessing as mp
    from multiprocessing.connection import wait

    limits = limits or Limits()
    source = enumerate(entries)
    first = next(source, None)
    if first is None:
        return  # nothing to extract: no decoders loaded, no workers started
    source = itertools.chain([first], source)
    ctx = mp.get_context("fork" if hasattr(os, "fork") else "spawn")
    # Load here, before forking, what the job needs: a child that had to import a module
    # that another thread of this process was importing at the fork would deadlock.
    _warm(job)
    # Started together, so that they are ready side by side.
    slots = [_Slot(ctx, limits, job, wait=False) for _ in range(max(1, workers))]
    for slot in slots:
        slot.wait_ready()
    done: dict[int, Extracted] = {}
    queue: list[tuple[int, WalkEntry]] = []
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
                        slots[i] = slot = _Slot(ctx, limits, job)
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
                slots[i] = _Slot(ctx, limits, job)
    finally:
        for slot in slots:
            with contextlib.suppress(Exception):
                if slot.task is None:
                    slot.conn.send(None)
            slot.kill()


# --- many files ----------------------------------------------------------------------------


def _extract_entry(entry: WalkEntry, max_pixels: int, job: Job = "extract") -> Extracted:
    if entry.error is not None:
        name = display_path(os.path.basename(entry.path))
        rec = Extracted(path=display_path(entry.path), name=name)
        rec.error = {"code": entry.error.code, "message": entry.error.message}
        return rec
    return _run(job, entry.path, max_pixels)


def extract_all(
    entries: Iterable[WalkEntry],
    *,
    workers: int = 1,
    executor: Executor | None = None,
    in_flight: int = 16,
    max_pixels: int = MAX_PIXELS,
    isolate: bool = False,
    limits: Limits | None = None,
    job: Job = "extract",
) -> Iterator[Extracted]:
    """Extract many files, yielding records in input order.

    Memory stays bounded however long the input is: only a few files per worker are in
    flight.

    Args:
        entries: What ``walk`` yields.
        workers: Worker processes. With ``workers > 1`` or ``isolate``, files are
            extracted in supervised processes with per-file time and memory limits
            (``supervised_extract``); ``workers=1`` without ``isolate`` runs in this process.
        executor: Any ``concurrent.futures.Executor`` instead (a process pool, or a Dask or
            Ray client's executor, to run extraction on a cluster). Limits are then the
            executor's business.
        in_flight: Files submitted to ``executor`` and not yet yielded, at most.
        max_pixels: Refuse images with more pixels than this.
        isolate: Use supervised worker processes even for one worker.
        limits: Per-file limits for supervised workers.
        job: What to do with each file: a ``JOBS`` name (default: extract it) or a
            picklable callable (``Job``).
    """
    if executor is not None:
        yield from _on_executor(entries, executor, max_pixels, max(1, in_flight), job)
    elif workers > 1 or isolate:
        limits = limits or Limits(max_pixels=max_pixels)
        # Ahead of the consumer, so workers keep extracting while it commits a batch.
        records = supervised_extract(entries, workers=workers, limits=limits, job=job)
        yield from ahead(records, maxsize=AHEAD)
    else:
        for entry in entries:
            yield _extract_entry(entry, max_pixels, job)


def _on_executor(
    entries: Iterable[WalkEntry], executor: Executor, max_pixels: int, window: int, job: Job
) -> Iterator[Extracted]:
    work = partial(_extract_entry, max_pixels=max_pixels, job=job)
    pending: deque[Future[Extracted]] = deque()
    try:
        for entry in entries:
            pending.append(executor.submit(work, entry))
            while len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for fut in pending:
            fut.cancel()


# --- reading ahead -------------------------------------------------------------------------


#: Records extracted ahead of a consumer that is busy (e.g. committing a batch).
AHEAD = 32
#: Seconds the consumer waits for the producer to notice it was stopped.
STOP_WAIT = 10.0

T = TypeVar("T")


class _End:
    """Put on the queue after the last item (with the producer's exception, if any)."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


def ahead(items: Iterator[T], maxsize: int) -> Iterator[T]:
    """Yield what ``items`` yields, computing up to ``maxsize`` items in advance.

    An exception raised by ``items`` is raised here, after the items before it. When the
    consumer stops early, the producer stops at its next item and ``items`` is closed in
    its own thread (so a generator's ``finally`` runs: workers are shut down).
    """
    buffer: queue.Queue[T | _End] = queue.Queue(max(1, maxsize))
    stop = threading.Event()

    def put(value: T | _End) -> bool:
        while not stop.is_set():
            try:
                buffer.put(value, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        end = _End()
        try:
            for item in items:
                if not put(item):
                    break
        except BaseException as exc:  # handed to the consumer, raised there
            end = _End(exc)
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()
            put(end)

    thread = threading.Thread(target=produce, name="extract-ahead", daemon=True)
    thread.start()
    try:
        while True:
            value = buffer.get()
            if isinstance(value, _End):
                if value.error is not None:
                    raise value.error
                return
            yield value
    finally:
        stop.set()
        thread.join(STOP_WAIT)
