"""The PDQ multi-index with one-bit probes: every PDQ row found by any of its 16 chunks of
16 bits, where the query's chunk may differ from the row's in at most one bit.

Two codes within 31 bits of each other differ in at most one bit in at least one of
their 16 chunks (otherwise they would differ in 2 × 16 = 32 bits or more), so a lookup
of each query chunk and its 16 one-bit neighbours finds *every* row within 31 bits, the
hash-only match distance, exactly. Rows farther than that are found when some chunk
differs in at most a bit, as near-duplicates mostly do (at 48 bits about 95 % of rows,
at 64 bits about 65 %). A lookup costs 24 query codes × 16 chunks × 17 probes of
buckets of N / 65,536 rows: sub-linear, against the exhaustive scan's N.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ingest import lazy_import
from registry.similarity.orb_index import BUCKETS, CODE_BYTES, pair_distances

if TYPE_CHECKING:
    import numpy as np
else:
    np = lazy_import("numpy")

CHUNKS = 16
#: The one-bit neighbours of a chunk value (and the value itself).
PROBES = (0, *(1 << b for b in range(16)))
#: Every row within this distance is found (see module doc).
GUARANTEED = 2 * CHUNKS - 1


@dataclass
class FlipIndex:
    """Per chunk, the row numbers sorted by the chunk's value and the bucket offsets."""

    order: np.ndarray  # CHUNKS × n int32
    starts: np.ndarray  # CHUNKS × (BUCKETS + 1) int32

    @property
    def n(self) -> int:
        return self.order.shape[1]

    @classmethod
    def build(cls, codes: np.ndarray) -> FlipIndex:
        chunks = np.ascontiguousarray(codes).view(np.uint16)
        order = np.empty((CHUNKS, len(codes)), np.int32)
        starts = np.zeros((CHUNKS, BUCKETS + 1), np.int32)
        for c in range(CHUNKS):
            column = np.ascontiguousarray(chunks[:, c])
            order[c] = np.argsort(column, kind="stable")  # a radix sort for 16 bits
            np.cumsum(np.bincount(column, minlength=BUCKETS), out=starts[c, 1:])
        return cls(order, starts)

    def near(
        self, codes: np.ndarray, queries: np.ndarray, max_distance: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Pairs (query, row, distance) within ``max_distance`` among the first ``n``
        rows of ``codes``, each once: all of them up to ``GUARANTEED`` bits."""
        value = np.ascontiguousarray(queries).view(np.uint16).astype(np.int64)
        probe = value[:, :, None] ^ np.array(PROBES, np.int64)  # Q × 16 × 17
        chunk = np.arange(CHUNKS)[None, :, None]
        lo = self.starts[chunk, probe].astype(np.int64)
        count = (self.starts[chunk, probe + 1] - lo).ravel()
        lo = (lo + chunk * self.n).ravel()
        total = int(count.sum())
        if not total:
            empty = np.zeros(0, np.int64)
            return empty, empty, empty
        qi = np.repeat(np.arange(len(queries)).repeat(CHUNKS * len(PROBES)), count)
        starts = np.repeat(lo - np.cumsum(count) + count, count)
        ri = self.order.ravel()[starts + np.arange(total)].astype(np.int64)
        q64 = np.ascontiguousarray(queries, np.uint8).view(np.uint64)
        r64 = np.ascontiguousarray(codes[: self.n]).view(np.uint64).reshape(-1, CODE_BYTES // 8)
        dist = pair_distances(q64, r64, qi, ri)
        keep = dist <= max_distance
        qi, ri, dist = qi[keep], ri[keep], dist[keep]
        _, first = np.unique(qi * self.n + ri, return_index=True)
        return qi[first], ri[first], dist[first]
