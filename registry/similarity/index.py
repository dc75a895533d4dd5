"""The near-duplicate index: every stored perceptual hash as a row, searched by Hamming
distance, rebuilt from the catalogue.

Two tables, both of 256-bit codes packed as 32 bytes:

- ``pdq``: one row per whole-image, content-box or video-frame PDQ hash of every item
  (``kind`` says which; ``t`` is the frame time in seconds, NaN for photos). A query is
  a few dozen hashes (8 rotations/mirrors of each of its hashes) searched within 64
  bits of 256. Up to ``PDQ_EXACT_ROWS`` rows the search is an exhaustive, exact scan
  with faiss's binary flat index (SIMD popcount, ~40 ms per 1M rows on one core).
  Beyond that the rows are also sorted into a multi-index with one-bit probes
  (``pdq_index.FlipIndex``) that finds every row within 31 bits (the hash-only match
  distance) exactly and nearer-than-64-bit near-duplicates mostly, in time that grows
  with N / 65,536; rows added since it was sorted are scanned exhaustively.
- ``orb``: the stored local-feature descriptors of every item (a few dozen per item),
  in a multi-index (``orb_index.MultiIndex``): 16 chunks of 16 bits, crowded buckets
  narrowed by the next byte, 80 bytes a row.

The index is a view: ``from_catalog`` rebuilds it from item documents, and ``save`` /
``load`` keep a cache next to the catalogue (``index_cache``: a folder of arrays opened
as memory maps, named by a manifest), stamped with the custody-log hash it reflects so
a stale cache is never used.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ingest import lazy_import
from registry.similarity import index_cache
from registry.similarity.orb_index import (
    CODE_BYTES,
    Columns,
    MultiIndex,
    Segment,
    distances,
)
from registry.similarity.pdq_index import FlipIndex

if TYPE_CHECKING:
    import numpy as np
else:
    np = lazy_import("numpy")

#: Bump when the layout of the cache changes.
CACHE_VERSION = 4
#: The cache's manifest, relative to the registry root (its arrays sit in a folder
#: next to it, ``neardup.json.<token>/``).
INDEX_FILE = os.path.join("index", "neardup.json")
#: What a PDQ row hashes: a photo whole or inside a content box
#: (``ingest.photo.regions``), a video frame, or a video frame's content box.
KINDS = ("whole", "border", "band", "frame", "chrome", "frame_box")
#: Video frames below this PDQ quality are not indexed.
FRAME_MIN_QUALITY = 50
#: Up to this many PDQ rows the search is an exhaustive scan only (a few ms).
PDQ_EXACT_ROWS = 1 << 17
#: PDQ rows added since the multi-index was sorted, searched exhaustively, before it is
#: sorted again.
PDQ_PENDING = 1 << 16
_PDQ_COLUMNS = ("code", "owner", "kind", "t", "quality")


def parse_hex(value: str) -> np.ndarray:
    """A hex string of one or more 32-byte codes as an N×32 uint8 array."""
    raw = bytes.fromhex(value)
    if len(raw) % CODE_BYTES:
        raise ValueError(f"{len(raw)} bytes is not a whole number of 256-bit codes")
    return np.frombuffer(raw, np.uint8).reshape(-1, CODE_BYTES)


@dataclass
class PdqHit:
    """The closest stored PDQ row of one item for a query."""

    owner: int
    distance: int
    query: int  # index of the query hash
    row: int  # index of the stored row


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
        self._flip: FlipIndex | None = None  # the PDQ multi-index, over the first rows
        self._flat: Any = None  # faiss.IndexBinaryFlat over the rows after those
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
        flip: FlipIndex | None = None,
    ) -> None:
        """Set every PDQ row at once (loading a cache, benchmarks), with the multi-index
        of its first rows when it was saved."""
        self._pdq.set(code=code, owner=owner, kind=kind, t=t, quality=quality)
        self._flip = flip if flip is not None and flip.n <= len(code) else None
        self._flat = None

    def nbytes(self) -> int:
        """Bytes of state of the tables (not of the ``items``/``position`` lookups)."""
        pdq = sum(self._pdq.get(c).nbytes for c in _PDQ_COLUMNS)
        flip = self._flip.order.nbytes + self._flip.starts.nbytes if self._flip else 0
        return pdq + flip + self.orb.nbytes()

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
                    region = h.get("region")
                    if t is not None:
                        kind = KINDS.index("frame_box" if region else "frame")
                    else:
                        kind = KINDS.index(region or "whole")
                    code = parse_hex(h["hex"])[0]
                    pdq_rows.append(code)
                    kinds.append(kind)
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
        index.sort()
        index.stamp = stamp
        return index

    def sort(self) -> None:
        """Bring both multi-indexes up to date with every row (``from_catalog`` does)."""
        self.orb.sort()
        if len(self.pdq) > PDQ_EXACT_ROWS:
            self._flip, self._flat = FlipIndex.build(self.pdq), None

    # --- searching ----------------------------------------------------------------------

    def _pdq_tail(self) -> tuple[Any, int]:
        """The faiss flat index of the PDQ rows the multi-index does not hold (brought up
        to date with rows added since), and the number of the first such row."""
        import faiss

        if len(self.pdq) > PDQ_EXACT_ROWS:
            held = self._flip.n if self._flip is not None else 0
            if len(self.pdq) - held > PDQ_PENDING:
                self.sort()
        start = self._flip.n if self._flip is not None else 0
        if self._flat is None or self._flat.ntotal > len(self.pdq) - start:
            # One thread: ingest workers already keep the cores busy, and one core is
            # fast enough for an interactive query (see bench/match_latency.py).
            faiss.omp_set_num_threads(1)
            self._flat = faiss.IndexBinaryFlat(CODE_BYTES * 8)
        done = start + self._flat.ntotal
        if done < len(self.pdq):
            self._flat.add(np.ascontiguousarray(self.pdq[done:]))
        return self._flat, start

    def search_pdq(self, queries: np.ndarray, max_distance: int) -> list[PdqHit]:
        """Per item, the closest row to any query code, when within ``max_distance``:
        exact up to ``PDQ_EXACT_ROWS`` rows, and within 31 bits always (module doc)."""
        if len(queries) == 0 or len(self.pdq) == 0:
            return []
        queries = np.ascontiguousarray(queries, np.uint8)
        flat, start = self._pdq_tail()
        parts = []
        if self._flip is not None:
            parts.append(self._flip.near(self.pdq, queries, max_distance))
        if flat.ntotal:
            # faiss's radius is exclusive.
            lims, dist, rows = flat.range_search(queries, max_distance + 1)
            query = np.repeat(np.arange(len(queries)), np.diff(lims.astype(np.int64)))
            parts.append((query, rows.astype(np.int64) + start, dist.astype(np.int64)))
        query = np.concatenate([p[0] for p in parts]).astype(np.int64)
        rows = np.concatenate([p[1] for p in parts]).astype(np.int64)
        dist = np.concatenate([p[2] for p in parts]).astype(np.int64)
        if len(rows) == 0:
            return []
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
        owners = self.pdq_owner
        # Rows are added item by item, so an item's rows are consecutive and owners
        # never decrease: a binary search, not a scan of every row.
        lo, hi = np.searchsorted(owners, [owner, owner + 1])
        rows = np.arange(lo, hi)
        if len(rows) == 0 or not (owners[rows] == owner).all():
            rows = np.nonzero(owners == owner)[0]  # owners set out of order (benchmarks)
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
        order = np.lexsort((ri, dist, qi))  # per query, nearest first, ties by row
        qi, dist = qi[order], dist[order]
        owners = self.orb.owner_of(ri[order])
        first = np.ones(len(qi), bool)
        first[1:] = qi[1:] != qi[:-1]
        heads = np.nonzero(first)[0]
        best = owners[heads]
        # The runner-up from another item must be clearly farther: the first pair of
        # each query's run whose owner differs from the nearest's.
        other = owners != np.repeat(best, np.diff(np.append(heads, len(qi))))
        position = np.where(other, np.arange(len(qi)), len(qi))
        rival = np.minimum.reduceat(position, heads)
        has_rival = rival < len(qi)
        rival_dist = dist[np.minimum(rival, len(qi) - 1)]
        keep = ~has_rival | (dist[heads] < ratio * rival_dist)
        owner, count = np.unique(best[keep], return_counts=True)
        return dict(zip(owner.tolist(), count.tolist(), strict=True))

    # --- cache --------------------------------------------------------------------------

    def save(self, path: str) -> None:
        """Write the cache: ``path`` is its manifest (``INDEX_FILE`` below a registry),
        replaced atomically once the new arrays are on disk (``index_cache``)."""
        arrays = {f"pdq_{c}": self._pdq.get(c) for c in _PDQ_COLUMNS}
        arrays["items"] = np.array(self.items, dtype="S").reshape(-1)
        if self._flip is not None:
            arrays["pdq_order"], arrays["pdq_starts"] = self._flip.order, self._flip.starts
        arrays["orb_code"] = self.orb.codes
        arrays["orb_first"], arrays["orb_owner"] = self.orb.owner_runs()
        segments = self.orb.segments()
        for i, seg in enumerate(segments):
            arrays[f"orb_order{i}"], arrays[f"orb_starts{i}"] = seg.order, seg.starts
        meta = {
            "version": CACHE_VERSION,
            "stamp": self.stamp or "",
            "orb_bases": [s.base for s in segments],
        }
        index_cache.write(path, meta, arrays)

    @classmethod
    def load(cls, path: str, stamp: str | None) -> NearDupIndex | None:
        """The cached index (arrays memory-mapped read-only), or None when absent,
        unreadable or not for ``stamp``."""
        found = index_cache.read(path)
        if found is None:
            return None
        meta, data = found
        if meta.get("version") != CACHE_VERSION or meta.get("stamp") != (stamp or ""):
            return None
        try:
            index = cls()
            index.items = [s.decode() for s in data["items"].tolist()]
            index.position = {s: i for i, s in enumerate(index.items)}
            flip = None
            if "pdq_order" in data:
                flip = FlipIndex(data["pdq_order"], data["pdq_starts"])
            index.set_pdq(*(data[f"pdq_{c}"] for c in _PDQ_COLUMNS), flip=flip)
            segments = [
                Segment(int(base), data[f"orb_order{i}"], data[f"orb_starts{i}"])
                for i, base in enumerate(meta.get("orb_bases", []))
            ]
            index.orb.replace(data["orb_code"], (data["orb_first"], data["orb_owner"]), segments)
        except (KeyError, ValueError, TypeError, UnicodeDecodeError):
            return None
        index.stamp = stamp
        return index
