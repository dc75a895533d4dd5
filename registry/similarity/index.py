"""The near-duplicate index: every stored perceptual hash as a row, searched by Hamming
distance, rebuilt from the catalogue.

Two tables, both of 256-bit codes packed as 32 bytes:

- ``pdq``: one row per whole-image, content-box or video-frame PDQ hash of every item
  (``kind`` says which; ``t`` is the frame time in seconds, NaN for photos). Searched
  exhaustively and exactly, with faiss's binary flat index (SIMD popcount): a query is a
  few dozen hashes (8 rotations/mirrors of each of its hashes) searched within 64 bits
  of 256, a radius at which no sub-linear exact method prunes anything, and a scan of
  1M rows takes about 40 ms on one core (numpy's popcount took 340 ms).
- ``orb``: the stored local-feature descriptors of every item (a few dozen per item).
  A query brings hundreds of descriptors, too many for an exhaustive search at scale,
  so this table is a multi-index hash (Norouzi et al.): each 256-bit code is split into
  16 chunks of 16 bits, each chunk kept sorted; two codes within ~30 bits almost surely
  share one chunk exactly, so a lookup per chunk finds the near neighbours, whose exact
  distance is then taken. Descriptors of pictures crowd some chunk values (flat and
  smooth patches), and every bucket grows with the table, so within a chunk value rows
  are sorted by the code's next byte, and a bucket over ``BUCKET_TARGET`` rows is
  narrowed to the rows that also share that byte's first bits (as many as it takes):
  the key is longer where, and only where, the rows are many. Rows added since the last
  sort are searched exhaustively.

The index is a view: ``from_catalog`` rebuilds it from item documents, and ``save`` /
``load`` keep a cache next to the catalogue, stamped with the custody-log hash it
reflects so a stale cache is never used.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from registry.fsutil import atomic_write

CODE_BYTES = 32
#: Bump when the layout of the cache file changes.
CACHE_VERSION = 3
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

KINDS = ("whole", "border", "band", "frame")
#: Video frames below this PDQ quality are not indexed.
FRAME_MIN_QUALITY = 50


def parse_hex(value: str) -> np.ndarray:
    """A hex string of one or more 32-byte codes as an N×32 uint8 array."""
    raw = bytes.fromhex(value)
    if len(raw) % CODE_BYTES:
        raise ValueError(f"{len(raw)} bytes is not a whole number of 256-bit codes")
    return np.frombuffer(raw, np.uint8).reshape(-1, CODE_BYTES)


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


@dataclass
class PdqHit:
    """The closest stored PDQ row of one item for a query."""

    owner: int
    distance: int
    query: int  # index of the query hash
    row: int  # index of the stored row


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


class NearDupIndex:
    """Every item's perceptual hashes, as rows of two searchable tables."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.position: dict[str, int] = {}
        self._pdq = Columns(
            code=np.zeros((0, CODE_BYTES), np.uint8),
            owner=np.zeros(0, np.int32),
            kind=np.zeros(0, np.int8),
            t=np.zeros(0, np.float32),
            quality=np.zeros(0, np.int16),
        )
        self._flat: Any = None  # faiss.IndexBinaryFlat over the PDQ rows, built lazily
        self.orb = MultiIndex()
        self.stamp: str | None = None

    def __len__(self) -> int:
        return len(self.items)

    # PDQ rows: code, owning item, kind (index into KINDS), frame time, quality.
    @property
    def pdq(self) -> np.ndarray:
        return self._pdq.get("code")

    @property
    def pdq_owner(self) -> np.ndarray:
        return self._pdq.get("owner")

    @property
    def pdq_kind(self) -> np.ndarray:
        return self._pdq.get("kind")

    @property
    def pdq_t(self) -> np.ndarray:
        return self._pdq.get("t")

    @property
    def pdq_quality(self) -> np.ndarray:
        return self._pdq.get("quality")

    def set_pdq(
        self,
        code: np.ndarray,
        owner: np.ndarray,
        kind: np.ndarray,
        t: np.ndarray,
        quality: np.ndarray,
    ) -> None:
        """Set every PDQ row at once (loading a cache, benchmarks)."""
        self._pdq.set(code=code, owner=owner, kind=kind, t=t, quality=quality)
        self._flat = None

    def __contains__(self, sha256: str) -> bool:
        return sha256 in self.position

    # --- building -----------------------------------------------------------------------

    def add(self, sha256: str, hashes: Iterable[dict[str, Any]]) -> None:
        """Add one item's stored hashes (an item already present is left alone)."""
        if sha256 in self.position:
            return
        owner = len(self.items)
        pdq_rows, kinds, times, quality, orb_rows = [], [], [], [], []
        for h in hashes:
            try:
                if h.get("alg") == "pdq" and h.get("hex"):
                    t = h.get("t")
                    if t is not None and int(h.get("quality") or 0) < FRAME_MIN_QUALITY:
                        continue  # black, flat or faded frames must never start a match
                    pdq_rows.append(parse_hex(h["hex"])[0])
                    kinds.append(
                        KINDS.index("frame" if t is not None else h.get("region", "whole"))
                    )
                    times.append(np.nan if t is None else float(t))
                    quality.append(int(h.get("quality") or 0))
                elif h.get("alg") == "orb" and h.get("hex"):
                    orb_rows.append(parse_hex(h["hex"]))
            except (ValueError, TypeError):
                continue  # a malformed stored hash is skipped, not fatal to the index
        if not pdq_rows and not orb_rows:
            return
        self.items.append(sha256)
        self.position[sha256] = owner
        if pdq_rows:
            self._pdq.append(
                code=np.array(pdq_rows, np.uint8),
                owner=np.full(len(pdq_rows), owner, np.int32),
                kind=np.array(kinds, np.int8),
                t=np.array(times, np.float32),
                quality=np.array(quality, np.int16),
            )
        if orb_rows:
            codes = np.concatenate(orb_rows)
            self.orb.add(codes, np.full(len(codes), owner, np.int32))

    @classmethod
    def from_catalog(cls, docs: Iterable[dict[str, Any]], stamp: str | None = None) -> NearDupIndex:
        index = cls()
        for doc in docs:
            index.add(doc["sha256"], doc.get("hashes") or [])
        index.orb.sort()
        index.stamp = stamp
        return index

    # --- searching ----------------------------------------------------------------------

    def _pdq_flat(self) -> Any:
        """The faiss index of the PDQ rows, brought up to date with rows added since."""
        import faiss

        if self._flat is None or self._flat.ntotal > len(self.pdq):
            # One thread: ingest workers already keep the cores busy, and one core is
            # fast enough for an interactive query (see bench/match_latency.py).
            faiss.omp_set_num_threads(1)
            self._flat = faiss.IndexBinaryFlat(CODE_BYTES * 8)
        if self._flat.ntotal < len(self.pdq):
            self._flat.add(np.ascontiguousarray(self.pdq[self._flat.ntotal :]))
        return self._flat

    def search_pdq(self, queries: np.ndarray, max_distance: int) -> list[PdqHit]:
        """Per item, the closest row to any query code, when within ``max_distance``."""
        if len(queries) == 0 or len(self.pdq) == 0:
            return []
        # faiss's radius is exclusive.
        lims, dist, rows = self._pdq_flat().range_search(
            np.ascontiguousarray(queries, np.uint8), max_distance + 1
        )
        if len(rows) == 0:
            return []
        query = np.repeat(np.arange(len(queries)), np.diff(lims.astype(np.int64)))
        owners = self.pdq_owner[rows]
        # Per owner the closest row, ties to the lowest row and then the lowest query.
        order = np.lexsort((query, rows, dist, owners))
        query, rows, dist, owners = query[order], rows[order], dist[order], owners[order]
        first = np.ones(len(rows), bool)
        first[1:] = owners[1:] != owners[:-1]
        hits = [
            PdqHit(int(o), int(d), int(q), int(r))
            for o, d, q, r in zip(
                owners[first], dist[first], query[first], rows[first], strict=True
            )
        ]
        return sorted(hits, key=lambda h: (h.distance, h.owner))

    def pdq_distance(self, queries: np.ndarray, owner: int) -> PdqHit | None:
        """The closest row of one item to any query code (None when it has no PDQ)."""
        rows = np.nonzero(self.pdq_owner == owner)[0]
        if len(rows) == 0 or len(queries) == 0:
            return None
        dist = distances(queries, self.pdq[rows])
        q, r = np.unravel_index(int(dist.argmin()), dist.shape)
        return PdqHit(owner, int(dist[q, r]), int(q), int(rows[r]))

    def vote_orb(self, queries: np.ndarray, max_distance: int, ratio: float) -> dict[int, int]:
        """Votes per item: query descriptors whose nearest stored descriptor belongs to it,
        is within ``max_distance`` and clearly nearer than the next (Lowe's ratio)."""
        qi, ri, dist = self.orb.near(queries, max_distance)
        if len(qi) == 0:
            return {}
        order = np.lexsort((dist, qi))
        qi, ri, dist = qi[order], ri[order], dist[order]
        first = np.ones(len(qi), bool)
        first[1:] = qi[1:] != qi[:-1]
        votes: dict[int, int] = {}
        starts = [*np.nonzero(first)[0].tolist(), len(qi)]
        owners = self.orb.owners
        for a, b in itertools.pairwise(starts):
            owner = int(owners[ri[a]])
            # The runner-up from another item must be clearly farther.
            rival = next((int(dist[k]) for k in range(a + 1, b) if owners[ri[k]] != owner), None)
            if rival is not None and dist[a] >= ratio * rival:
                continue
            votes[owner] = votes.get(owner, 0) + 1
        return votes

    # --- cache --------------------------------------------------------------------------

    def save(self, path: str) -> None:
        """Write the index to ``path`` (atomically)."""
        import io

        order, starts, following = self.orb.tables()
        buf = io.BytesIO()
        np.savez(
            buf,
            version=np.array([CACHE_VERSION]),
            stamp=np.array([self.stamp or ""]),
            items=np.array(self.items, dtype="U64"),
            pdq=self.pdq,
            pdq_owner=self.pdq_owner,
            pdq_kind=self.pdq_kind,
            pdq_t=self.pdq_t,
            pdq_quality=self.pdq_quality,
            orb=self.orb.codes,
            # Sorting is most of the cost of opening a large index; saving the tables
            # triples the cache but opens a 100k-item index in a fraction of the time.
            orb_order=order,
            orb_starts=starts,
            orb_next=following,
            orb_owner=self.orb.owners,
        )
        os.makedirs(os.path.dirname(path), exist_ok=True)
        atomic_write(path, buf.getvalue())

    @classmethod
    def load(cls, path: str, stamp: str | None) -> NearDupIndex | None:
        """The cached index, or None when absent, unreadable or not for ``stamp``."""
        with (
            contextlib.suppress(OSError, ValueError, KeyError),
            np.load(path, allow_pickle=False) as data,
        ):
            version, saved = int(data["version"][0]), str(data["stamp"][0])
            if version != CACHE_VERSION or saved != (stamp or ""):
                return None
            index = cls()
            index.items = [str(s) for s in data["items"]]
            index.position = {s: i for i, s in enumerate(index.items)}
            index.set_pdq(
                data["pdq"], data["pdq_owner"], data["pdq_kind"], data["pdq_t"], data["pdq_quality"]
            )
            index.orb.replace(
                data["orb"],
                data["orb_owner"],
                (data["orb_order"], data["orb_starts"], data["orb_next"]),
            )
            index.stamp = stamp
            return index
        return None
