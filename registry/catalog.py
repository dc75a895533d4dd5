"""The catalogue: one document per item, a view folded from the custody log.

Stored in TinyDB (``catalog.json``) through ``AtomicJSONStorage``. TinyDB rewrites its
whole table on every insert or update, so changes are staged in memory and applied in
one ``insert_multiple`` and one ``update`` per batch, then written once. Lookups go
through in-memory indexes (sha256 -> document id, a sorted list for prefixes, case ->
items) built when the catalogue is opened.

Every change comes from a custody entry through ``apply``; ``rebuild`` replays the
whole log into an empty catalogue, which is how ``verify`` checks that the two agree.
"""

from __future__ import annotations

import bisect
import copy
from collections.abc import Iterable, Iterator
from typing import Any

from tinydb import TinyDB

from ingest.errors import AmbiguousPrefix, ItemNotFound

from .storage import AtomicJSONStorage
from .timeutil import parse_instant

ITEM_FIELDS_FROM_STORED = ("sha1", "md5", "size", "media_type", "mime", "format", "vault")
ITEM_FIELDS_FROM_METADATA = (
    "width",
    "height",
    "duration_s",
    "metadata",
    "exif",
    "hashes",
    "warnings",
    "tools",
)
SIGHTING_FIELDS = (
    "case",
    "source_url",
    "posted_at",
    "forwarded_from",
    "note",
    "original_name",
    "original_path",
    "file_mtime",
    "file_ctime",
)


class Catalog:
    """The item catalogue (``path=None`` keeps it in memory only)."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.storage = AtomicJSONStorage(path)
        self.db = TinyDB(storage=_Reuse(self.storage))
        self.items = self.db.table("items", cache_size=0)
        self.meta_table = self.db.table("meta", cache_size=0)
        self._ids: dict[str, int] = {}
        self._sorted: list[str] = []
        self._cases: dict[str, set[str]] = {}
        self._new: dict[str, dict[str, Any]] = {}
        self._changed: dict[int, dict[str, Any]] = {}
        self._meta: dict[str, Any] = dict(self.meta_table.get(doc_id=1) or {})
        for doc in self.items:
            self._index(doc["sha256"], doc.doc_id, doc)
        self._sorted = sorted(self._ids)

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
        return len(self._ids) + len(self._new)

    def __contains__(self, sha256: str) -> bool:
        return sha256 in self._ids or sha256 in self._new

    # --- lookups ------------------------------------------------------------------------

    def get(self, sha256: str) -> dict[str, Any] | None:
        """The item document, or None."""
        if sha256 in self._new:
            return self._new[sha256]
        doc_id = self._ids.get(sha256)
        if doc_id is None:
            return None
        if doc_id in self._changed:
            return self._changed[doc_id]
        doc = self.items.get(doc_id=doc_id)
        return dict(doc) if doc is not None else None

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
        out = []
        i = bisect.bisect_left(self._sorted, prefix)
        while i < len(self._sorted) and self._sorted[i].startswith(prefix):
            out.append(self._sorted[i])
            if limit is not None and len(out) >= limit:
                break
            i += 1
        out.extend(s for s in self._new if s.startswith(prefix) and s not in out)
        return out[:limit] if limit is not None else out

    def shas(self, case: str | None = None) -> list[str]:
        """Item ids, sorted; only those sighted in ``case`` when given."""
        if case is None:
            return sorted(set(self._sorted) | set(self._new))
        return sorted(self._cases.get(case, ()))

    def iter_items(self, case: str | None = None) -> Iterator[dict[str, Any]]:
        for sha in self.shas(case):
            doc = self.get(sha)
            if doc is not None:
                yield doc

    # --- changes ------------------------------------------------------------------------

    def apply(self, entry: dict[str, Any], *, entry_hash: str, end_offset: int) -> None:
        """Fold one custody entry into the catalogue (staged until ``flush``)."""
        action, sha = entry.get("action"), entry.get("sha256")
        details = entry.get("details") or {}
        if action == "item.stored" and sha and sha not in self:
            doc = {"sha256": sha, **{k: details.get(k) for k in ITEM_FIELDS_FROM_STORED}}
            doc.update(
                {
                    "stored_at": entry["time"],
                    "stored_seq": entry["seq"],
                    "width": None,
                    "height": None,
                    "duration_s": None,
                    "metadata": {},
                    "exif": {},
                    "hashes": [],
                    "warnings": [],
                    "tools": {},
                    "sightings": [],
                    "near_duplicates": [],
                    "cases": [],
                    "first_seen": first_seen([], {}),
                }
            )
            self._put(doc)
        elif action == "metadata.extracted" and sha in self:
            doc = self._editable(sha)
            doc.update({k: details.get(k, doc.get(k)) for k in ITEM_FIELDS_FROM_METADATA})
            doc["first_seen"] = first_seen(doc["sightings"], doc["metadata"])
            self._put(doc)
        elif action == "sighting.added" and sha in self:
            doc = self._editable(sha)
            sighting = {
                "seq": entry["seq"],
                "observed_at": entry["time"],
                "observed_by": entry["actor"],
                **{k: details.get(k) for k in SIGHTING_FIELDS},
            }
            doc["sightings"].append(sighting)
            case = sighting["case"]
            if case and case not in doc["cases"]:
                doc["cases"].append(case)
                self._cases.setdefault(case, set()).add(sha)
            doc["first_seen"] = first_seen(doc["sightings"], doc["metadata"])
            self._put(doc)
        elif action == "neardup.found" and sha in self:
            self._fold_neardup(entry)
        elif action == "hashes.updated" and sha in self:
            doc = self._editable(sha)
            doc["hashes"] = details.get("hashes") or []
            doc["tools"] = {**(doc.get("tools") or {}), **(details.get("tools") or {})}
            self._put(doc)
        # The near-duplicate index is stale when items or their hashes change.
        hash_seq = self.hash_seq
        if action in ("metadata.extracted", "hashes.updated") and sha in self:
            hash_seq = entry["seq"]
        self._meta = {
            "log_seq": entry["seq"],
            "log_hash": entry_hash,
            "log_offset": end_offset,
            "hash_seq": hash_seq,
        }

    def _fold_neardup(self, entry: dict[str, Any]) -> None:
        """Record a near-duplicate pair on both items (``as`` says which side this item
        was: the ``query`` that was being matched, or the ``match`` it was found to be)."""
        details = entry.get("details") or {}
        query, match = entry["sha256"], details.get("match")
        common = {k: v for k, v in details.items() if k != "match"}
        common.update({"seq": entry["seq"], "found_at": entry["time"]})
        for this, other, role in ((query, match, "query"), (match, query, "match")):
            if not other or this not in self or this == other:
                continue
            doc = self._editable(this)
            pairs = [p for p in doc.get("near_duplicates") or [] if p["sha256"] != other]
            pairs.append({"sha256": other, "as": role, **common})
            doc["near_duplicates"] = pairs
            self._put(doc)

    def _editable(self, sha: str) -> dict[str, Any]:
        doc = self.get(sha)
        if doc is None:
            raise ItemNotFound(sha)
        return copy.deepcopy(doc) if sha not in self._new else doc

    def _put(self, doc: dict[str, Any]) -> None:
        sha = doc["sha256"]
        doc_id = self._ids.get(sha)
        if doc_id is None:
            self._new[sha] = doc
        else:
            self._changed[doc_id] = doc

    def flush(self) -> None:
        """Write every staged change with one table update and one file write."""
        if self._new:
            docs = list(self._new.values())
            ids = self.items.insert_multiple(docs)
            for doc, doc_id in zip(docs, ids, strict=True):
                self._index(doc["sha256"], doc_id, doc)
                bisect.insort(self._sorted, doc["sha256"])
            self._new.clear()
        if self._changed:
            by_sha = {doc["sha256"]: doc for doc in self._changed.values()}

            def replace(doc: dict[str, Any]) -> None:
                new = by_sha[doc["sha256"]]
                doc.clear()
                doc.update(new)

            self.items.update(replace, doc_ids=list(self._changed))
            self._changed = {}
        self.meta_table.upsert(_with_id(self._meta), cond=None)  # type: ignore[arg-type]
        self.storage.flush()

    def discard(self) -> None:
        """Drop staged changes (after a failed batch); reopen to be safe."""
        self._new.clear()
        self._changed.clear()

    def _index(self, sha: str, doc_id: int, doc: dict[str, Any]) -> None:
        self._ids[sha] = doc_id
        for case in doc.get("cases") or ():
            self._cases.setdefault(case, set()).add(sha)


def rebuild(entries: Iterable[tuple[dict[str, Any], str, int]], path: str | None) -> Catalog:
    """A catalogue folded from ``(entry, entry_hash, end_offset)`` triples."""
    catalog = Catalog(path)
    for entry, digest, end in entries:
        catalog.apply(entry, entry_hash=digest, end_offset=end)
    return catalog


def first_seen(sightings: list[dict[str, Any]], metadata: dict[str, Any]) -> dict[str, Any]:
    """Earliest observation and earliest claim, kept apart.

    ``observed_*`` is what the registry itself saw (when it received the file, from
    whom); ``claimed_*`` is what a submitter asserted (when and where it was posted);
    ``captured_at`` is what the file says of itself. In court these are different kinds
    of evidence, so they are never merged.
    """
    observed = min(sightings, key=lambda s: s["observed_at"], default=None)
    claims = [s for s in sightings if s.get("posted_at")]
    claimed = min(claims, key=lambda s: parse_instant(s["posted_at"]), default=None)
    return {
        "observed_at": observed["observed_at"] if observed else None,
        "observed_by": observed["observed_by"] if observed else None,
        "claimed_posted_at": claimed["posted_at"] if claimed else None,
        "claimed_source_url": claimed.get("source_url") if claimed else None,
        "captured_at": (metadata or {}).get("captured_at"),
    }


def _with_id(meta: dict[str, Any]) -> Any:
    from tinydb.table import Document

    return Document(meta, doc_id=1)


class _Reuse:
    """Lets TinyDB 'construct' a storage object that already exists."""

    def __init__(self, storage: AtomicJSONStorage) -> None:
        self.storage = storage

    def __call__(self) -> AtomicJSONStorage:
        return self.storage
