"""The search of a video query's frame codes: which items have a PDQ row near them.

The near-duplicate index searches its PDQ rows exhaustively (``NearDupIndex.search_pdq``),
which is right for a photo's 24 codes but not for a video's hundreds against millions of
frame rows (10,000 videos are ~4M rows: ~1 s a query). Here the frame rows are found by
multi-index hashing (Norouzi et al.), as the ORB table is: each 256-bit code is split into
16 chunks of 16 bits, one sorted order per chunk, and a query code looks up the rows
that share a chunk with it. A row within 15 bits of a query code always shares one (16
chunks, at most 15 differing bits); farther rows are found with a probability that falls
with the distance (about 0.9 at 24 bits, 0.66 at 40, 0.4 at 50, per pair of codes), and
a copied clip brings many frame pairs, any one of which finds its item. Each item found
then gets its exact closest distance over all its frame rows, so found items rank as
the exhaustive search ranks them. Rows that are not frames (photos) are few by
comparison and searched exhaustively, as before.

Built from the index's public columns (``pdq``, ``pdq_owner``, ``pdq_kind``) the first
time an index is searched, and kept in step with rows appended since (searched
exhaustively until there are enough of them to sort in).
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

from ingest import lazy_import
from registry.similarity.index import KINDS, NearDupIndex
from registry.similarity.orb_index import BUCKETS, CHUNKS, distances

if TYPE_CHECKING:
    import numpy as np
else:
    np = lazy_import("numpy")

#: Rows appended since the last sort that are searched exhaustively before a re-sort.
PENDING_LIMIT = 1 << 14
#: Rows of video frames, whole and inside their content boxes.
FRAMES = (KINDS.index("frame"), KINDS.index("frame_box"))

_cache: weakref.WeakKeyDictionary[NearDupIndex, FrameIndex] = weakref.WeakKeyDictionary()


class FrameIndex:
    """A multi-index over one ``NearDupIndex``'s frame rows, plus its other rows."""

    def __init__(self, index: NearDupIndex) -> None:
        self.index = index
        self._reset()

    def _reset(self) -> None:
        self.synced = 0  # rows of the index taken in
        self.sorted_rows = np.zeros(0, np.int64)  # index rows in the chunk tables
        self.order = np.zeros((CHUNKS, 0), np.int32)  # per chunk: positions by value
        self.starts = np.zeros((CHUNKS, BUCKETS + 1), np.int64)
        self.pending = np.zeros(0, np.int64)  # frame rows not sorted in yet
        self.others = np.zeros(0, np.int64)  # rows that are not frames
        self.by_owner: dict[int, np.ndarray] = {}  # each item's frame rows
        self._flat: Any = None  # faiss index of the other rows
        self._flat_n = 0
        self._last = b""  # the last row taken in, to notice a replaced table

    @classmethod
    def of(cls, index: NearDupIndex) -> FrameIndex:
        """The frame index of ``index``, brought up to date."""
        found = _cache.get(index)
        if found is None:
            found = _cache[index] = cls(index)
        found.sync()
        return found

    def sync(self) -> None:
        """Take in the rows appended to the index since (all of them if replaced)."""
        pdq = self.index.pdq
        n = len(pdq)
        if n < self.synced or (self.synced and pdq[self.synced - 1].tobytes() != self._last):
            self._reset()  # the rows were replaced (``set_pdq``), not appended to
        if n == self.synced:
            return
        new = np.arange(self.synced, n)
        frame = np.isin(self.index.pdq_kind[self.synced :], FRAMES)
        self.pending = np.concatenate([self.pending, new[frame]])
        self.others = np.concatenate([self.others, new[~frame]])
        self._group(new[frame])
        self.synced = n
        self._last = pdq[n - 1].tobytes()
        if len(self.pending) > PENDING_LIMIT:
            self._sort()

    def _group(self, rows: np.ndarray) -> None:
        """Add frame rows to their items' lists."""
        if not len(rows):
            return
        owners = self.index.pdq_owner[rows]
        order = np.argsort(owners, kind="stable")
        keys, firsts = np.unique(owners[order], return_index=True)
        for owner, group in zip(keys.tolist(), np.split(rows[order], firsts[1:]), strict=True):
            had = self.by_owner.get(owner)
            self.by_owner[owner] = group if had is None else np.concatenate([had, group])

    def _sort(self) -> None:
        rows = np.concatenate([self.sorted_rows, self.pending])
        chunks = self.index.pdq[rows].view(np.uint16)  # rows x 16
        self.order = np.empty((CHUNKS, len(rows)), np.int32)
        self.starts = np.zeros((CHUNKS, BUCKETS + 1), np.int64)
        for c in range(CHUNKS):
            column = np.ascontiguousarray(chunks[:, c])
            self.order[c] = np.argsort(column, kind="stable")
            np.cumsum(np.bincount(column, minlength=BUCKETS), out=self.starts[c, 1:])
        self.sorted_rows = rows
        self.pending = np.zeros(0, np.int64)

    def nbytes(self) -> int:
        """Memory of the tables kept here (beyond the index's own rows)."""
        arrays = [self.sorted_rows, self.order, self.starts, self.pending, self.others]
        arrays += list(self.by_owner.values())
        return sum(a.nbytes for a in arrays) + 32 * self._flat_n

    def _frame_owners(self, codes: np.ndarray, reach: int) -> np.ndarray:
        """Items with a frame row within ``reach`` of a code that shares a chunk with it
        (or among the rows not sorted in yet)."""
        q64 = np.ascontiguousarray(codes).view(np.uint64)
        r64 = self.index.pdq.view(np.uint64)
        value = np.ascontiguousarray(codes).view(np.uint16).astype(np.int64)  # Q x 16
        found = []
        for c in range(CHUNKS if len(self.sorted_rows) else 0):
            lo = self.starts[c, value[:, c]]
            count = self.starts[c, value[:, c] + 1] - lo
            total = int(count.sum())
            if not total:
                continue
            qi = np.repeat(np.arange(len(codes)), count)
            at = np.repeat(lo - np.cumsum(count) + count, count) + np.arange(total)
            ri = self.sorted_rows[self.order[c, at]]
            x = np.take(q64, qi, axis=0)
            x ^= np.take(r64, ri, axis=0)
            found.append(ri[np.bitwise_count(x).sum(axis=1) <= reach])
        if len(self.pending):
            near = (distances(codes, self.index.pdq[self.pending]) <= reach).any(axis=0)
            found.append(self.pending[near])
        if not found:
            return np.zeros(0, np.int64)
        return np.unique(self.index.pdq_owner[np.concatenate(found)])

    def _other_owners(self, codes: np.ndarray, reach: int) -> dict[int, int]:
        """Closest distance per owner among the rows that are not frames (exhaustive)."""
        if not len(self.others):
            return {}
        import faiss

        if self._flat is None:
            faiss.omp_set_num_threads(1)  # as NearDupIndex: one core per query
            self._flat = faiss.IndexBinaryFlat(256)
        if self._flat_n < len(self.others):
            self._flat.add(np.ascontiguousarray(self.index.pdq[self.others[self._flat_n :]]))
            self._flat_n = len(self.others)
        _, dist, at = self._flat.range_search(np.ascontiguousarray(codes, np.uint8), reach + 1)
        best: dict[int, int] = {}
        owners = self.index.pdq_owner[self.others[at]]
        for o, d in zip(owners.tolist(), dist.tolist(), strict=True):
            if d < best.get(o, 1 << 30):
                best[o] = d
        return best

    def nearest(self, codes: np.ndarray, reach: int) -> dict[int, int]:
        """Per item found with a row within ``reach`` of a code, its closest distance."""
        if len(codes) == 0:
            return {}
        best = self._other_owners(codes, reach)
        # Each item found: its exact closest frame row to any code, as an exhaustive
        # search has it (the chunk that found it may not be its closest pair's).
        for owner in self._frame_owners(codes, reach).tolist():
            d = int(distances(codes, self.index.pdq[self.by_owner[owner]]).min())
            if d <= reach and d < best.get(owner, 1 << 30):
                best[owner] = d
        return best
