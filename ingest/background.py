"""Running an iterator ahead of its consumer, in a thread.

Supervised extraction hands a worker its next file only when the iterator is advanced;
while the registry commits a batch (vault copies, near-duplicate search, custody log) the
iterator would sit still and the workers idle. ``ahead`` keeps advancing it in a
background thread into a bounded queue, so the workers keep working during commits and
memory stays bounded.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")

#: Seconds the consumer waits for the producer to notice it was stopped.
STOP_WAIT = 10.0


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
