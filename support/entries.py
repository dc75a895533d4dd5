"""Synthetic custody entries for catalogue tests: items stored and sighted in two cases."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any


def sha_of(i: int) -> str:
    return hashlib.sha256(str(i).encode()).hexdigest()


def stored_entries(n: int, start_seq: int = 1, first: int = 0) -> Iterator[dict[str, Any]]:
    """``item.stored`` then ``sighting.added`` (case C1 for odd items, C2 for even) for
    items ``first..first+n-1``, numbered from ``start_seq``."""
    seq = start_seq
    for i in range(first, first + n):
        sha = sha_of(i)
        yield {
            "seq": seq,
            "time": f"2026-01-01T00:00:{i % 60:02d}+00:00",
            "actor": "a",
            "action": "item.stored",
            "sha256": sha,
            "details": {"sha1": "1" * 40, "md5": "2" * 32, "size": i, "media_type": "image"},
        }
        seq += 1
        yield {
            "seq": seq,
            "time": "2026-01-02T00:00:00+00:00",
            "actor": "b",
            "action": "sighting.added",
            "sha256": sha,
            "details": {"case": "C1" if i % 2 else "C2", "posted_at": None},
        }
        seq += 1
