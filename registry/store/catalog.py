"""The catalogue: one document per item, a view folded from the custody log.

Stored as TinyDB files (shards of ``SHARD_SIZE`` items) through ``AtomicJSONStorage``.
TinyDB rewrites a whole file on every insert or update, so changes are staged in memory
and each changed shard is written once per batch with one ``insert_multiple`` and one
``update``. Lookups go through in-memory indexes (sha256 -> shard, a sorted list for
prefixes, case -> items) read from ``index.json`` when the catalogue is opened.

Every change comes from a custody entry through ``apply`` (which folds it as
``registry.custody.events`` says); ``rebuild`` replays the
whole log into an empty catalogue, which is how ``verify`` checks that the two agree.
"""

from __future__ import annotations

import bisect
import contextlib
import json
import os
import tempfile
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import Any

from tinydb import TinyDB
from tinydb.table import Document, Table

from registry.custody import fold
from registry.errors import AmbiguousPrefix, ItemNotFound
from registry.fsutil import atomic_write
from registry.store.storage import AtomicJSONStorage

#: Items per shard file. Small shards keep a cold lookup and a batch write cheap.
SHARD_SIZE = 128
#: Shards kept parsed in memory (besides those with unwritten changes).
CACHED_SHARDS = 64
#: Items sorted in memory when listing by sha256; more are spilled to temporary files.
SORT_WINDOW = 8192


class _ItemTable(Table):
    """Items keyed by their sha256 instead of TinyDB's counter."""

    document_id_class = str  # type: ignore[assignment]

    def _get_next_id(self) -> Any:
        raise TypeError("catalogue items are always inserted with their sha256 as id")


class _ItemDB(TinyDB):
    table_class = _ItemTable


class _Shard:
    """One TinyDB file of up to ``SHARD_SIZE`` items, with staged changes."""

    def __init__(self, path: str | None) -> None:
        self.storage = AtomicJSONStorage(path)
        self.table = _ItemDB(storage=_Reuse(self.storage)).table("items", cache_size=0)
        self.staged: dict[str, dict[str, Any]] = {}

    def get(self, sha: str) -> dict[str, Any] | None:
        if sha in self.staged:
            return self.staged[sha]
        doc = self.table.get(doc_id=sha)
        return dict(doc) if doc is not None else None

    def flush(self) -> None:
        if not self.staged:
            return
        staged, self.staged = self.staged, {}
        existing = [sha for sha in staged if self.table.contains(doc_id=sha)]

        def replace(doc: dict[str, Any]) -> None:
            new = staged[doc["sha256"]]
            doc.clear()
            doc.update(new)

        if existing:  # one table rewrite for all updates
            self.table.update(replace, doc_ids=existing)
        fresh = [Document(doc, doc_id=sha) for sha, doc in staged.items() if sha not in existing]
        if fresh:
            self.table.insert_multiple(fresh)
        self.storage.flush()


class Catalog:
    """The item catalogue: a folder of shard files plus an index (``path=None``: memory).

    Layout: ``index.json`` maps every sha256 to its shard and cases and records how far
    into the custody log the fold has got; ``shard-NNNNNN.json`` are TinyDB files of up
    to ``SHARD_SIZE`` items in the order they were stored. Opening reads only the index;
    a shard is parsed when one of its items is needed. A batch rewrites the shards it
    changed and the index, each atomically, the index last: a crash in between leaves
    shard documents the index does not name, which the replay from the log overwrites.
    """

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.index_path = os.path.join(path, "index.json") if path else None
        index: dict[str, Any] = {}
        if self.index_path and os.path.exists(self.index_path):
            with open(self.index_path, "rb") as fh:
                index = json.loads(fh.read())
        self._meta: dict[str, Any] = dict(index.get("meta") or {})
        # Views folded beside the items (``view``): small, plain JSON, kept in the index.
        self._views: dict[str, dict[str, Any]] = dict(index.get("views") or {})
        # sha256 -> [shard number, [cases]]
        self._where: dict[str, list[Any]] = {k: list(v) for k, v in index.get("items", {}).items()}
        self._counts: dict[int, int] = {}
        self._cases: dict[str, set[str]] = {}
        for sha, (shard, cases) in self._where.items():
            self._counts[shard] = self._counts.get(shard, 0) + 1
            for case in cases:
                self._cases.setdefault(case, set()).add(sha)
        self._sorted = sorted(self._where)
        self._unsorted: set[str] = set()
        self._shards: OrderedDict[int, _Shard] = OrderedDict()
        self._dirty = False

    def _shard(self, number: int) -> _Shard:
        shard = self._shards.get(number)
        if shard is None:
            path = os.path.join(self.path, f"shard-{number:06d}.json") if self.path else None
            shard = self._shards[number] = _Shard(path)
            clean = [n for n, s in self._shards.items() if not s.staged and n != number]
            for n in clean[: max(0, len(self._shards) - CACHED_SHARDS)]:
                del self._shards[n]
        self._shards.move_to_end(number)
        return shard

    # --- state of the fold ---------------------------------------------------------------

    @property
    def log_seq(self) -> int:
        return int(self._meta.get("log_seq", 0))

    @property
    def log_offset(self) -> int:
        return int(self._meta.get("log_offset", 0))

    @property
    def log_hash(self) -> str | None:
        return self._meta.get("log_hash")

    @property
    def hash_seq(self) -> int:
        """Sequence number of the last entry that set an item's perceptual hashes."""
        return int(self._meta.get("hash_seq", 0))

    def __len__(self) -> int:
        return len(self._where)

    def __contains__(self, sha256: str) -> bool:
        return sha256 in self._where

    # --- lookups ------------------------------------------------------------------------

    def get(self, sha256: str) -> dict[str, Any] | None:
        """The item document, or None."""
        where = self._where.get(sha256)
        if where is None:
            return None
        return self._shard(where[0]).get(sha256)

    def resolve(self, prefix: str) -> str:
        """The full sha256 of the one item whose id starts with ``prefix``.

        Raises:
            ItemNotFound: No item starts with it.
            AmbiguousPrefix: More than one does.
        """
        prefix = prefix.strip().lower()
        if not prefix or any(c not in "0123456789abcdef" for c in prefix):
            raise ItemNotFound(f"{prefix!r} is not a hex SHA-256 or prefix")
        found = self.with_prefix(prefix, limit=2)
        if not found:
            raise ItemNotFound(prefix)
        if len(found) > 1:
            raise AmbiguousPrefix(f"{prefix} (e.g. {found[0][:16]}…, {found[1][:16]}…)")
        return found[0]

    def with_prefix(self, prefix: str, limit: int | None = None) -> list[str]:
        self._sort()
        out = []
        i = bisect.bisect_left(self._sorted, prefix)
        while i < len(self._sorted) and self._sorted[i].startswith(prefix):
            out.append(self._sorted[i])
            if limit is not None and len(out) >= limit:
                break
            i += 1
        return out

    def _sort(self) -> None:
        if self._unsorted:
            for sha in self._unsorted:
                bisect.insort(self._sorted, sha)
            self._unsorted.clear()

    def cases_of(self, sha256: str) -> list[str]:
        """The cases ``sha256`` was sighted in (from the index: no shard is read)."""
        where = self._where.get(sha256)
        return list(where[1]) if where is not None else []

    def cases(self) -> list[str]:
        """Every case some item was sighted in, sorted."""
        return sorted(c for c, shas in self._cases.items() if shas)

    def view(self, name: str) -> dict[str, Any]:
        """The named view folded beside the items (e.g. ``accounts``, see
        ``registry.custody.views``): plain JSON, written with the index. Folds change it
        in place; everyone else only reads it."""
        return self._views.setdefault(name, {})

    @property
    def views(self) -> dict[str, dict[str, Any]]:
        """Every view, by name (for ``verify``: compared with the log's fold)."""
        return {k: v for k, v in self._views.items() if v}

    def shas(self, case: str | None = None) -> list[str]:
        """Item ids, sorted; only those sighted in ``case`` when given."""
        if case is None:
            self._sort()
            return list(self._sorted)
        return sorted(self._cases.get(case, ()))

    def iter_items(
        self, case: str | None = None, order: str = "stored"
    ) -> Iterator[dict[str, Any]]:
        """Items (of one case), in the order they were first stored or by sha256.

        ``order="stored"`` streams shard by shard: each shard is parsed once and memory
        stays bounded however large the catalogue. ``order="sha256"`` does the same and
        sorts: up to ``SORT_WINDOW`` items in memory; beyond that, items are spilled to
        temporary files by their id's first hex digits (uniform, since ids are SHA-256)
        and each file is sorted in turn, so memory stays bounded there too.
        """
        if order not in ("stored", "sha256"):
            raise ValueError(f"unknown order {order!r} (stored or sha256)")
        wanted = None if case is None else self._cases.get(case, set())
        count = len(self._where) if wanted is None else len(wanted)
        if order == "stored":
            yield from self._stored_order(wanted)
        elif count <= SORT_WINDOW:
            yield from sorted(self._stored_order(wanted), key=lambda d: d["sha256"])
        else:
            yield from self._spill_sorted(wanted, count)

    def _stored_order(self, wanted: set[str] | None) -> Iterator[dict[str, Any]]:
        by_shard: dict[int, list[str]] = {}
        for sha, (shard, _) in self._where.items():
            if wanted is None or sha in wanted:
                by_shard.setdefault(shard, []).append(sha)
        for number in sorted(by_shard):
            shard = self._shard(number)
            for sha in by_shard[number]:
                doc = shard.get(sha)
                if doc is not None:
                    yield doc

    def _spill_sorted(self, wanted: set[str] | None, count: int) -> Iterator[dict[str, Any]]:
        digits = 1 if count <= 16 * SORT_WINDOW else 2
        with tempfile.TemporaryDirectory(prefix="evidence-sort-") as tmp:
            files: dict[str, Any] = {}
            with contextlib.ExitStack() as stack:
                for doc in self._stored_order(wanted):
                    key = doc["sha256"][:digits]
                    if key not in files:
                        path = os.path.join(tmp, key)
                        files[key] = stack.enter_context(open(path, "w", encoding="utf-8"))
                    files[key].write(json.dumps(doc, ensure_ascii=False) + "\n")
            for key in sorted(files):
                with open(os.path.join(tmp, key), encoding="utf-8") as fh:
                    docs = [json.loads(line) for line in fh]
                docs.sort(key=lambda d: d["sha256"])
                yield from docs

    # --- changes ------------------------------------------------------------------------

    def apply(self, entry: dict[str, Any], *, entry_hash: str, end_offset: int) -> None:
        """Fold one custody entry into the catalogue (staged until ``flush``); how each
        action changes items is ``registry.custody.events.ACTIONS``."""
        hash_seq = self.hash_seq
        if fold(self, entry):
            hash_seq = entry["seq"]  # the near-duplicate index is stale
        self._meta = {
            "log_seq": entry["seq"],
            "log_hash": entry_hash,
            "log_offset": end_offset,
            "hash_seq": hash_seq,
        }
        self._dirty = True

    def add_case(self, sha256: str, case: str) -> None:
        """Note in the case index that ``sha256`` was sighted in ``case``."""
        where = self._where[sha256]
        if case not in where[1]:
            where[1] = [*where[1], case]
        self._cases.setdefault(case, set()).add(sha256)

    def put(self, doc: dict[str, Any]) -> None:
        sha = doc["sha256"]
        where = self._where.get(sha)
        if where is None:
            last = max(self._counts, default=0)
            if self._counts.get(last, 0) >= SHARD_SIZE:
                last += 1
            self._counts[last] = self._counts.get(last, 0) + 1
            where = self._where[sha] = [last, list(doc.get("cases") or [])]
            self._unsorted.add(sha)
        self._shard(where[0]).staged[sha] = doc
        self._dirty = True

    def flush(self) -> None:
        """Write the changed shards, then the index: each file once, atomically."""
        if self.path is None:
            for shard in self._shards.values():
                shard.flush()
            self._dirty = False
            return
        if not self._dirty:
            return
        os.makedirs(self.path, exist_ok=True)
        for shard in self._shards.values():
            shard.flush()
        index = {"format": 1, "meta": self._meta, "items": self._where, "views": self._views}
        atomic_write(self.index_path, json.dumps(index, separators=(",", ":")).encode("utf-8"))
        self._dirty = False


def rebuild(entries: Iterable[tuple[dict[str, Any], str, int]], path: str | None) -> Catalog:
    """A catalogue folded from ``(entry, entry_hash, end_offset)`` triples."""
    catalog = Catalog(path)
    for n, (entry, digest, end) in enumerate(entries, start=1):
        catalog.apply(entry, entry_hash=digest, end_offset=end)
        if path is not None and n % 20_000 == 0:
            catalog.flush()  # bounds memory: written shards can leave the cache
    return catalog


class _Reuse:
    """Lets TinyDB 'construct' a storage object that already exists."""

    def __init__(self, storage: AtomicJSONStorage) -> None:
        self.storage = storage

    def __call__(self) -> AtomicJSONStorage:
        return self.storage
