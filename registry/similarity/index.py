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
from typing import TYPE_CHECKING, Any

from ingest import lazy_import
from registry.fsutil import atomic_write
from registry.similarity.orb_index import (
    CODE_BYTES,
    Columns,
    MultiIndex,
    distances,
)

if TYPE_CHECKING:
    import numpy as np
else:
    np = lazy_import("numpy")

#: Bump when the layout of the cache file changes.
CACHE_VERSION = 3
KINDS = ("whole", "border", "band", "frame")
#: Video frames below this PDQ quality are not indexed.
FRAME_MIN_QUALITY = 50


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
