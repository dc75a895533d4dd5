"""The ORB multi-index: every stored ORB descriptor as a row, found by any of its 16-bit
chunks (a descriptor within 15 bits of a query shares at least one chunk with it), and
the vote of a query's descriptors for the items they resemble (``MultiIndex.vote``).
``Columns`` are the growable arrays both of the near-duplicate index's tables use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ingest import lazy_import

if TYPE_CHECKING:
    import numpy as np
else:
    np = lazy_import("numpy")


CODE_BYTES = 32
#: Rows compared per numpy step in the exhaustive search (bounds temporary memory).
CHUNK_ROWS = 1 << 15
#: ORB rows kept unsorted before they are merged into the multi-index.
PENDING_LIMIT = 1 << 16
#: Values of a 16-bit chunk of the ORB multi-index.
BUCKETS = 1 << 16
#: A bucket of the ORB multi-index up to this size is scanned whole; a larger one is
#: narrowed by as many bits of the next byte of the code as bring it to about this size
#: (at most 8): a lookup costs about the same however many rows the index holds.
BUCKET_TARGET = 32
#: Rows that share a chunk value and its next byte beyond this are uninformative (flat
#: patches, where every descriptor looks alike) and skipped, like a stop word.
MAX_BUCKET = 512


def distances(queries: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Hamming distances, Q×N, between two arrays of 32-byte codes."""
    q = np.ascontiguousarray(queries).view(np.uint64)
    out = np.empty((len(q), len(rows)), np.uint16)
    for start in range(0, len(rows), CHUNK_ROWS):
        r = np.ascontiguousarray(rows[start : start + CHUNK_ROWS]).view(np.uint64)
        # One 64-bit word at a time: 2-D temporaries only, several times faster than
        # popcounting a Q×N×4 block and summing its short last axis.
        acc = np.zeros((len(q), len(r)), np.uint16)
        for word in range(q.shape[1]):
            acc += np.bitwise_count(q[:, word, None] ^ r[None, :, word])
        out[:, start : start + len(r)] = acc
    return out


class Columns:
    """Numpy columns of equal length that grow by doubling, so adding items one at a
    time (as ingest does) costs amortised O(1) per row, not a copy of the table."""

    def __init__(self, **empty: np.ndarray) -> None:
        self._data = dict(empty)
        self.n = 0

    def __len__(self) -> int:
        return self.n

    def get(self, name: str) -> np.ndarray:
        return self._data[name][: self.n]

    def set(self, **columns: np.ndarray) -> None:
        """Replace every column (all of the same length)."""
        lengths = {len(v) for v in columns.values()}
        if len(lengths) != 1 or set(columns) != set(self._data):
            raise ValueError("columns must all be given, with one length")
        self._data = {k: np.ascontiguousarray(v) for k, v in columns.items()}
        self.n = lengths.pop()

    def append(self, **rows: np.ndarray) -> None:
        k = len(next(iter(rows.values())))
        need = self.n + k
        for name, column in self._data.items():
            if len(column) < need:
                grown = np.empty((max(need, 2 * len(column), 64), *column.shape[1:]), column.dtype)
                grown[: self.n] = column[: self.n]
                self._data[name] = column = grown
            column[self.n : need] = rows[name]
        self.n = need


class MultiIndex:
    """Near-neighbour search of 256-bit codes by multi-index hashing (see module doc)."""

    CHUNKS = 16

    def __init__(self) -> None:
        self._rows = Columns(code=np.zeros((0, CODE_BYTES), np.uint8), owner=np.zeros(0, np.int32))
        self._sorted_n = 0
        # Per chunk (a row each): row numbers sorted by the chunk's value and then the
        # next byte, where each of the 65,536 values starts in that order (a counting
        # sort's bucket offsets), and the next byte of each row in that order.
        self._order = np.zeros((self.CHUNKS, 0), np.int32)
        self._starts = np.zeros((self.CHUNKS, BUCKETS + 1), np.int64)
        self._next = np.zeros((self.CHUNKS, 0), np.uint8)

    def __len__(self) -> int:
        return len(self._rows)

    @property
    def codes(self) -> np.ndarray:
        return self._rows.get("code")

    @property
    def owners(self) -> np.ndarray:
        return self._rows.get("owner")

    def add(self, codes: np.ndarray, owners: np.ndarray) -> None:
        self._rows.append(code=codes.astype(np.uint8), owner=owners.astype(np.int32))
        if len(self) - self._sorted_n > PENDING_LIMIT:
            self.sort()

    def replace(
        self,
        codes: np.ndarray,
        owners: np.ndarray,
        tables: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    ) -> None:
        """Set every row at once (loading a cache), with the chunk tables ``tables()``
        gave for them, or sorted anew."""
        self._rows.set(code=codes.astype(np.uint8), owner=owners.astype(np.int32))
        n = len(self.codes)
        if tables is not None:
            order, starts, following = tables
            if (
                order.shape == (self.CHUNKS, n) == following.shape
                and starts.shape == self._starts.shape
            ):
                self._order = order.astype(np.int32, copy=False)
                self._starts = starts.astype(np.int64, copy=False)
                self._next = following.astype(np.uint8, copy=False)
                self._sorted_n = n
                return
        self.sort()

    def tables(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The chunk tables, sorted first if rows are pending (to save with the rows)."""
        if self._sorted_n != len(self.codes):
            self.sort()
        return self._order, self._starts, self._next

    def sort(self) -> None:
        """Merge every row into the sorted chunk tables."""
        chunks = self.codes.view(np.uint16)  # N×16
        # int32 row numbers: half the memory of int64, enough for 2**31 rows.
        self._order = np.empty((self.CHUNKS, len(chunks)), np.int32)
        self._starts = np.zeros((self.CHUNKS, BUCKETS + 1), np.int64)
        self._next = np.empty((self.CHUNKS, len(chunks)), np.uint8)
        for c in range(self.CHUNKS):
            column = np.ascontiguousarray(chunks[:, c])
            following = self.codes[:, (2 * c + 2) % CODE_BYTES]
            # Two stable radix sorts (8 and 16 bits): several times faster than
            # sorting a 24-bit key.
            self._order[c] = np.lexsort((following, column))
            self._next[c] = following[self._order[c]]
            np.cumsum(np.bincount(column, minlength=BUCKETS), out=self._starts[c, 1:])
        self._sorted_n = len(self.codes)

    def buckets(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per query and chunk (Q×16), the range ``lo..hi`` of positions in that chunk's
        sorted order to compare: the rows sharing the chunk's value, narrowed when they
        are more than ``BUCKET_TARGET`` to those whose next byte also shares its first
        bits with the query's (as many bits as bring the bucket to about that size)."""
        chunk = np.arange(self.CHUNKS)
        value = np.ascontiguousarray(queries).view(np.uint16).astype(np.int64)
        lo, hi = self._starts[chunk, value], self._starts[chunk, value + 1]
        big = np.nonzero((hi - lo).ravel() > BUCKET_TARGET)[0]
        if len(big) == 0:
            return lo, hi
        lo, hi = lo.ravel(), hi.ravel()
        bits = np.minimum(np.ceil(np.log2((hi[big] - lo[big]) / BUCKET_TARGET)), 8)
        free = (1 << (8 - bits.astype(np.int64))) - 1  # the low bits that may differ
        want = queries[:, (2 * chunk + 2) % CODE_BYTES].ravel()[big].astype(np.int64)
        # Flat positions in the 16 sorted orders laid end to end.
        offset = big % self.CHUNKS * self._sorted_n
        values = self._next.ravel()
        # Binary search within every bucket at once for the first position whose byte
        # is >= target: targets are the lowest and one past the highest wanted byte.
        target = np.concatenate([want & ~free, (want | free) + 1])
        left = np.concatenate([lo[big], lo[big]]) + np.tile(offset, 2)
        right = np.concatenate([hi[big], hi[big]]) + np.tile(offset, 2)
        while True:
            active = np.nonzero(left < right)[0]
            if len(active) == 0:
                break
            mid = (left[active] + right[active]) // 2
            below = values[mid] < target[active]
            left[active[below]] = mid[below] + 1
            right[active[~below]] = mid[~below]
        left -= np.tile(offset, 2)
        lo, hi = lo.copy(), hi.copy()
        lo[big], hi[big] = left[: len(big)], left[len(big) :]
        return lo.reshape(-1, self.CHUNKS), hi.reshape(-1, self.CHUNKS)

    def near(self, queries: np.ndarray, max_distance: int) -> tuple[np.ndarray, ...]:
        """Pairs (query index, row index, distance) within ``max_distance``."""
        if len(queries) == 0 or len(self.codes) == 0:
            empty = np.zeros(0, np.int64)
            return empty, empty, empty
        q64 = np.ascontiguousarray(queries).view(np.uint64)
        r64 = self.codes.view(np.uint64)
        pairs_q, pairs_r, pairs_d = [], [], []
        if self._sorted_n:
            lows, highs = self.buckets(queries)
        for c in range(self.CHUNKS if self._sorted_n else 0):
            order, lo = self._order[c], lows[:, c]
            count = highs[:, c] - lo
            count[count > MAX_BUCKET] = 0
            total = int(count.sum())
            if not total:
                continue
            qi = np.repeat(np.arange(len(queries)), count)
            # Positions lo..hi-1 of each query, laid end to end.
            starts = np.repeat(lo - np.cumsum(count) + count, count)
            ri = order[starts + np.arange(total)]
            # Distances first: most bucket-mates are far, and deduplicating the few
            # near pairs is much cheaper than deduplicating every bucket-mate.
            x = np.take(q64, qi, axis=0)
            x ^= np.take(r64, ri, axis=0)
            dist = np.bitwise_count(x).sum(axis=1, dtype=np.int64)
            keep = dist <= max_distance
            pairs_q.append(qi[keep])
            pairs_r.append(ri[keep])
            pairs_d.append(dist[keep])
        if len(self.codes) > self._sorted_n:  # recent rows: exhaustive
            tail = distances(queries, self.codes[self._sorted_n :])
            qi, ri = np.nonzero(tail <= max_distance)
            pairs_q.append(qi)
            pairs_r.append(ri + self._sorted_n)
            pairs_d.append(tail[qi, ri].astype(np.int64))
        if not pairs_q:
            empty = np.zeros(0, np.int64)
            return empty, empty, empty
        qi = np.concatenate(pairs_q).astype(np.int64)
        ri = np.concatenate(pairs_r).astype(np.int64)
        dist = np.concatenate(pairs_d)
        # A pair found through several chunks is kept once.
        _, first = np.unique(qi * len(self.codes) + ri, return_index=True)
        return qi[first], ri[first], dist[first]
