"""Running extraction ahead of the consumer: order, errors, early stop, bounded memory."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from ingest.batch import ahead


def test_items_come_in_order() -> None:
    assert list(ahead(iter(range(100)), maxsize=3)) == list(range(100))


def test_the_producer_runs_while_the_consumer_is_busy() -> None:
    made: list[int] = []
    three = threading.Event()

    def counting() -> Iterator[int]:
        for i in range(10):
            made.append(i)
            if len(made) == 3:
                three.set()
            yield i

    items = ahead(counting(), maxsize=4)
    assert next(items) == 0
    # The consumer holds item 0 and asks for nothing more; items 1 and 2 are made anyway.
    assert three.wait(5)
    assert list(items) == list(range(1, 10))


def test_a_producer_error_is_raised_after_the_items_before_it() -> None:
    def failing() -> Iterator[int]:
        yield 1
        yield 2
        raise OSError("disk gone")

    got = []
    with pytest.raises(OSError, match="disk gone"):
        for item in ahead(failing(), maxsize=2):
            got.append(item)
    assert got == [1, 2]


def test_stopping_early_closes_the_producer_and_bounds_the_read_ahead() -> None:
    made: list[int] = []
    closed = threading.Event()

    def endless() -> Iterator[int]:
        try:
            i = 0
            while True:
                made.append(i)
                yield i
                i += 1
        finally:
            closed.set()  # e.g. supervised workers shut down

    items = ahead(endless(), maxsize=5)
    assert next(items) == 0
    time.sleep(0.2)
    assert len(made) <= 1 + 5 + 1  # taken, queued, and one waiting to be queued
    items.close()
    assert closed.wait(5)
