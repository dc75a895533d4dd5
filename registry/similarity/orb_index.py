"""The ORB multi-index: every stored ORB descriptor as a row, found by any of its 16-bit
chunks (a descriptor within 15 bits of a query shares at least one chunk with it).

Rows are kept in *segments* of up to ``SEGMENT_ROWS`` rows. Per segment and chunk, the
segment's row numbers are sorted by the chunk's value and then the code's next byte,
with where each of the 65,536 values starts (a counting sort's bucket offsets). A row
number within a segment fits 3 bytes, so a row costs 32 bytes of code and 16 × 3 bytes
of tables; which item owns a row is kept as runs (an item's rows are added together),
12 bytes per item instead of 4 per row. A bucket over ``BUCKET_TARGET`` rows is narrowed
to the rows that also share the next byte's first bits with the query (as many bits as
bring it to about that size), read from the codes themselves. Rows added since the last
sort are searched exhaustively. ``Columns`` are the growable arrays both tables of the
near-duplicate index use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ingest import lazy_import

if TYPE_CHECKING:
    import numpy as np
else:
    np = lazy_import("numpy")


CODE_BYTES = 32
#: Rows compared per numpy step in the exhaustive search (bounds temporary memory).
CHUNK_ROWS = 1 << 15
#: ORB rows kept unsorted (searched exhaustively) before they become a sorted segment
#: of their own: ingest adds an item at a time, and a query must not scan many rows.
PENDING_LIMIT = 1 << 12
#: Values of a 16-bit chunk of the ORB multi-index.
BUCKETS = 1 << 16
#: A bucket of the ORB multi-index up to this size is scanned whole; a larger one is
#: narrowed by as many bits of the next byte of the code as bring it to about this size
#: (at most 8): a lookup costs about the same however many rows the index holds.
BUCKET_TARGET = 32
#: Rows that share a chunk value and its next byte beyond this are uninformative (flat
#: patches, where every descriptor looks alike) and skipped, like a stop word.
MAX_BUCKET = 512
#: Rows per sorted segment: a row's number within its segment fits 3 bytes.
SEGMENT_ROWS = 1 << 24
CHUNKS = 16


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


def flat_near(
    queries: np.ndarray, rows: np.ndarray, max_distance: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (query, row, distance) within ``max_distance``, by exhaustive search with
    faiss (SIMD popcount, several times numpy's speed)."""
    import faiss

    faiss.omp_set_num_threads(1)
    flat = faiss.IndexBinaryFlat(CODE_BYTES * 8)
    flat.add(np.ascontiguousarray(rows, np.uint8))
    # faiss's radius is exclusive.
    lims, dist, found = flat.range_search(np.ascontiguousarray(queries, np.uint8), max_distance + 1)
    qi = np.repeat(np.arange(len(queries)), np.diff(lims.astype(np.int64)))
    return qi.astype(np.int64), found.astype(np.int64), dist.astype(np.int64)


def pair_distances(q64: np.ndarray, r64: np.ndarray, qi: np.ndarray, ri: np.ndarray) -> np.ndarray:
    """Hamming distance of each pair (query ``qi``, row ``ri``), codes viewed as 4 uint64."""
    x = np.take(q64, qi, axis=0)
    x ^= np.take(r64, ri, axis=0)
    return np.bitwise_count(x).sum(axis=1, dtype=np.int64)


def pack24(rows: np.ndarray) -> np.ndarray:
    """Row numbers below 2**24 as N×3 bytes (little-endian)."""
    return np.ascontiguousarray(rows.astype("<u4").view(np.uint8).reshape(-1, 4)[:, :3])


def unpack24(packed: np.ndarray) -> np.ndarray:
    """The row numbers ``pack24`` packed."""
    p = packed.astype(np.int64)
    return p[:, 0] | (p[:, 1] << 8) | (p[:, 2] << 16)


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
        """Replace every column (all of the same length). Arrays are used as given (a
        read-only memory map stays one: the first append copies it)."""
        lengths = {len(v) for v in columns.values()}
        if len(lengths) != 1 or set(columns) != set(self._data):
            raise ValueError("columns must all be given, with one length")
        self._data = dict(columns)
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


class Runs:
    """Which item owns each row, as runs: an item's rows are consecutive."""

    def __init__(self) -> None:
        self.runs = Columns(first=np.zeros(0, np.int64), owner=np.zeros(0, np.int32))

    def add(self, before: int, owners: np.ndarray) -> None:
        """Rows ``before..before+len(owners)`` belong to ``owners``."""
        if len(owners) == 0:
            return
        change = np.ones(len(owners), bool)
        change[1:] = owners[1:] != owners[:-1]
        last = self.runs.get("owner")
        if len(last) and last[-1] == owners[0]:
            change[0] = False  # the same item goes on
        at = np.nonzero(change)[0]
        self.runs.append(first=at + before, owner=owners[at].astype(np.int32))

    def of(self, rows: np.ndarray) -> np.ndarray:
        """The owner of each row."""
        first = self.runs.get("first")
        return self.runs.get("owner")[np.searchsorted(first, rows, side="right") - 1]

    def expand(self, n: int) -> np.ndarray:
        """The owner of every row, ``n`` rows in all."""
        first = self.runs.get("first")
        return np.repeat(self.runs.get("owner"), np.diff(np.append(first, n)))


@dataclass
class Segment:
    """The chunk tables of rows ``base..base+n``: per chunk, the rows' numbers within the
    segment (3 bytes each) sorted by chunk value and next byte, and the bucket offsets."""

    base: int
    order: np.ndarray  # CHUNKS × n × 3 uint8
    starts: np.ndarray  # CHUNKS × (BUCKETS + 1) int32

    @property
    def n(self) -> int:
        return self.order.shape[1]

    @classmethod
    def build(cls, codes: np.ndarray, base: int) -> Segment:
        """Sort rows ``codes`` (numbered from ``base``) into chunk tables."""
        chunks = codes.view(np.uint16)  # N×16
        order = np.empty((CHUNKS, len(codes), 3), np.uint8)
        starts = np.zeros((CHUNKS, BUCKETS + 1), np.int32)
        for c in range(CHUNKS):
            column = np.ascontiguousarray(chunks[:, c])
            following = codes[:, (2 * c + 2) % CODE_BYTES]
            # Two stable radix sorts (8 and 16 bits): several times faster than
            # sorting a 24-bit key.
            order[c] = pack24(np.lexsort((following, column)))
            np.cumsum(np.bincount(column, minlength=BUCKETS), out=starts[c, 1:])
        return cls(base, order, starts)

    def rows(self, chunk: int, lo: int, hi: int) -> np.ndarray:
        """Row numbers at positions ``lo..hi`` of ``chunk``'s sorted order."""
        return unpack24(self.order[chunk, lo:hi]) + self.base


class MultiIndex:
    """Near-neighbour search of 256-bit codes by multi-index hashing (see module doc)."""

    CHUNKS = CHUNKS

    def __init__(self) -> None:
        self._rows = Columns(code=np.zeros((0, CODE_BYTES), np.uint8))
        self._owners = Runs()
        self._segments: list[Segment] = []

    def __len__(self) -> int:
        return len(self._rows)

    @property
    def codes(self) -> np.ndarray:
        return self._rows.get("code")

    @property
    def owners(self) -> np.ndarray:
        """The owner of every row (built on demand: the index keeps runs)."""
        return self._owners.expand(len(self))

    def owner_of(self, rows: np.ndarray) -> np.ndarray:
        return self._owners.of(rows)

    @property
    def sorted_n(self) -> int:
        """Rows in sorted segments (the rest are searched exhaustively)."""
        return self._segments[-1].base + self._segments[-1].n if self._segments else 0

    def nbytes(self) -> int:
        """Bytes of state: codes, owner runs and chunk tables."""
        tables = sum(s.order.nbytes + s.starts.nbytes for s in self._segments)
        return len(self) * CODE_BYTES + len(self._owners.runs) * 12 + tables

    def add(self, codes: np.ndarray, owners: np.ndarray) -> None:
        """Append rows; an item's rows must be added together."""
        before = len(self)
        self._rows.append(code=codes.astype(np.uint8))
        self._owners.add(before, np.asarray(owners, np.int32))
        if len(self) - self.sorted_n > PENDING_LIMIT:
            self.sort()

    def replace(
        self,
        codes: np.ndarray,
        owners: np.ndarray | tuple[np.ndarray, np.ndarray],
        segments: list[Segment] | None = None,
    ) -> None:
        """Set every row at once (loading a cache): the owner of each row, or its runs
        (first rows, owners), and the segments ``segments()`` gave, or sorted anew."""
        self._rows.set(code=codes)
        self._owners = Runs()
        if isinstance(owners, tuple):
            self._owners.runs.set(first=owners[0], owner=owners[1])
        else:
            self._owners.add(0, np.asarray(owners, np.int32))
        covered = sum(s.n for s in segments or [])
        if segments and covered == len(codes):
            self._segments = list(segments)
            return
        self._segments = []
        self.sort()

    def owner_runs(self) -> tuple[np.ndarray, np.ndarray]:
        return self._owners.runs.get("first"), self._owners.runs.get("owner")

    def segments(self) -> list[Segment]:
        """The sorted segments, sorted first if rows are pending (to save with the rows)."""
        if self.sorted_n != len(self):
            self.sort()
        return self._segments

    def sort(self) -> None:
        """Sort the pending rows into a segment of their own, then merge the last
        segments while the newer is as large as the one before it (a binary counter:
        about log2(rows / PENDING_LIMIT) segments, each row re-sorted as often). Adding
        rows one item at a time so costs O(log N) per row, not a re-sort of the index."""
        if self.sorted_n == len(self) and (self._segments or not len(self)):
            return
        codes = self.codes
        for base in range(self.sorted_n, len(codes), SEGMENT_ROWS):
            part = np.ascontiguousarray(codes[base : base + SEGMENT_ROWS])
            self._segments.append(Segment.build(part, base))
        segs = self._segments
        while (
            len(segs) >= 2 and segs[-2].n <= segs[-1].n and segs[-2].n + segs[-1].n <= SEGMENT_ROWS
        ):
            last, before = segs.pop(), segs.pop()
            rows = np.ascontiguousarray(codes[before.base : last.base + last.n])
            segs.append(Segment.build(rows, before.base))

    def buckets(self, segment: Segment, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per query and chunk (Q×16), the range ``lo..hi`` of positions in that chunk's
        sorted order to compare: the rows sharing the chunk's value, narrowed when they
        are more than ``BUCKET_TARGET`` to those whose next byte also shares its first
        bits with the query's (as many bits as bring the bucket to about that size)."""
        chunk = np.arange(self.CHUNKS)
        value = np.ascontiguousarray(queries).view(np.uint16).astype(np.int64)
        lo = segment.starts[chunk, value].astype(np.int64)
        hi = segment.starts[chunk, value + 1].astype(np.int64)
        big = np.nonzero((hi - lo).ravel() > BUCKET_TARGET)[0]
        if len(big) == 0:
            return lo, hi
        lo, hi = lo.ravel(), hi.ravel()
        bits = np.minimum(np.ceil(np.log2((hi[big] - lo[big]) / BUCKET_TARGET)), 8)
        free = (1 << (8 - bits.astype(np.int64))) - 1  # the low bits that may differ
        byte = (2 * (big % self.CHUNKS) + 2) % CODE_BYTES
        want = queries[big // self.CHUNKS, byte].astype(np.int64)
        # Flat positions in the 16 sorted orders laid end to end.
        offset = big % self.CHUNKS * segment.n
        order = segment.order.reshape(-1, 3)
        codes = self.codes
        # Binary search within every bucket at once for the first position whose byte
        # is >= target: targets are the lowest and one past the highest wanted byte.
        target = np.concatenate([want & ~free, (want | free) + 1])
        column = np.tile(byte, 2)
        left = np.concatenate([lo[big], lo[big]]) + np.tile(offset, 2)
        right = np.concatenate([hi[big], hi[big]]) + np.tile(offset, 2)
        while True:
            active = np.nonzero(left < right)[0]
            if len(active) == 0:
                break
            mid = (left[active] + right[active]) // 2
            row = unpack24(order[mid]) + segment.base
            below = codes[row, column[active]] < target[active]
            left[active[below]] = mid[below] + 1
            right[active[~below]] = mid[~below]
        left -= np.tile(offset, 2)
        lo, hi = lo.copy(), hi.copy()
        lo[big], hi[big] = left[: len(big)], left[len(big) :]
        return lo.reshape(-1, self.CHUNKS), hi.reshape(-1, self.CHUNKS)

    def _segment_pairs(
        self, segment: Segment, queries: np.ndarray, max_distance: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Pairs within ``max_distance`` found in one segment (a pair may repeat)."""
        lows, highs = self.buckets(segment, queries)
        count = highs - lows
        count[count > MAX_BUCKET] = 0
        count = count.ravel()
        total = int(count.sum())
        if not total:
            empty = np.zeros(0, np.int64)
            return empty, empty, empty
        # Positions lo..hi-1 of each (query, chunk), in the 16 orders laid end to end.
        lo = (lows + np.arange(self.CHUNKS) * segment.n).ravel()
        qi = np.repeat(np.arange(len(queries)).repeat(self.CHUNKS), count)
        starts = np.repeat(lo - np.cumsum(count) + count, count)
        ri = unpack24(segment.order.reshape(-1, 3)[starts + np.arange(total)]) + segment.base
        # Distances first: most bucket-mates are far, and deduplicating the few
        # near pairs is much cheaper than deduplicating every bucket-mate.
        q64 = np.ascontiguousarray(queries).view(np.uint64)
        dist = pair_distances(q64, self.codes.view(np.uint64), qi, ri)
        keep = dist <= max_distance
        return qi[keep], ri[keep], dist[keep]

    def near(self, queries: np.ndarray, max_distance: int) -> tuple[np.ndarray, ...]:
        """Pairs (query index, row index, distance) within ``max_distance``."""
        empty = np.zeros(0, np.int64)
        if len(queries) == 0 or len(self.codes) == 0:
            return empty, empty, empty
        parts = [self._segment_pairs(s, queries, max_distance) for s in self._segments]
        sorted_n = self.sorted_n
        if len(self.codes) > sorted_n:  # recent rows (at most PENDING_LIMIT): exhaustive
            qi, ri, dist = flat_near(queries, self.codes[sorted_n:], max_distance)
            parts.append((qi, ri + sorted_n, dist))
        if not parts:
            return empty, empty, empty
        qi = np.concatenate([p[0] for p in parts]).astype(np.int64)
        ri = np.concatenate([p[1] for p in parts]).astype(np.int64)
        dist = np.concatenate([p[2] for p in parts]).astype(np.int64)
        # A pair found through several chunks is kept once.
        _, first = np.unique(qi * len(self.codes) + ri, return_index=True)
        return qi[first], ri[first], dist[first]
