"""The catalogue in PostgreSQL (``--catalog postgresql://...``), through psycopg 3.

The same view as the TinyDB catalogue, folded from the custody log by the same folds
(``CatalogBase.apply``), for teams whose registry outgrows files in a folder. Tables:
``registry.store.pgschema``.

Changes are staged in memory, as in the TinyDB catalogue, and ``flush`` writes them in
one transaction together with the log position they reach: a crash leaves the old
catalogue or the new one, and its position says exactly where the replay from the log
(``Registry.recover``) starts. Reads run outside any transaction (autocommit), so a
reader never holds a lock a writer waits for; every read sees what was last committed,
with this process's staged changes on top. Lists are read a page at a time (keyset
pagination), so memory stays bounded however large the catalogue.
"""

from __future__ import annotations

import contextlib
import heapq
import json
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import psycopg

from registry.custody import REGISTRY_CREATED
from registry.fsutil import pause_point
from registry.store.base import (
    ORDERS,
    CatalogBase,
    CatalogStore,
    CatalogUnavailable,
    Triple,
    redact,
)
from registry.store.pgschema import (
    DDL,
    FORMAT,
    ITEM_COLUMNS,
    ITEMS,
    POSITION,
    VIEWS,
    item_row,
    table_problems,
)
from registry.store.pgviews import PgAccounts, PgViews

#: Rows read per page when listing.
PAGE = 500
#: Item documents kept parsed in memory (besides staged ones).
CACHED_DOCS = 2048
#: Staged documents written (not committed) during a rebuild before the next are folded.
REBUILD_BATCH = 5000
_POSITION_FIELDS = ("registry_id", "log_seq", "log_offset", "log_hash", "hash_seq")
_UPSERT = (
    f"INSERT INTO {ITEMS} ({', '.join(ITEM_COLUMNS)}) VALUES (%s, %s, %s, %s, %s, %s::jsonb) "
    "ON CONFLICT (sha256) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in ITEM_COLUMNS[1:])
)


class PgStore(CatalogStore):
    """A registry's catalogue in the PostgreSQL database ``url`` names.

    Args:
        url: A libpq connection URL (``postgresql://user@host:port/db``).
        registry_id: Returns the registry's id (None before ``init`` has written it).
    """

    def __init__(self, url: str, registry_id: Callable[[], str | None]) -> None:
        self.url = url
        self.where = redact(url)
        self._registry_id = registry_id
        self._conn: psycopg.Connection[Any] | None = None
        self._ready = False

    # --- the connection -----------------------------------------------------------------

    @contextlib.contextmanager
    def errors(self) -> Iterator[None]:
        """Database errors become ``CatalogUnavailable`` (the connection is made anew)."""
        try:
            yield
        except psycopg.Error as exc:
            if self._conn is not None and (self._conn.broken or self._conn.closed):
                self._conn = None
            reason = " ".join(str(exc).split())[:300] or type(exc).__name__
            raise CatalogUnavailable(f"{self.where}: {reason}") from exc

    def connection(self) -> psycopg.Connection[Any]:
        """The open connection (autocommit: a transaction is opened where one is needed)."""
        if self._conn is None or self._conn.closed or self._conn.broken:
            with self.errors():
                self._conn = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
            self._ready = False
        if not self._ready:
            self._create_tables()
        return self._conn

    def _create_tables(self) -> None:
        conn = self._conn
        assert conn is not None
        with self.errors():
            found = conn.execute("SELECT to_regclass(%s)", (POSITION,)).fetchone()
            if found is None or found[0] is None:
                with conn.transaction():
                    # Two processes opening a new database at once: one creates.
                    conn.execute("SELECT pg_advisory_xact_lock(hashtext('evidence catalog'))")
                    conn.execute(DDL)
            row = conn.execute(f"SELECT format FROM {POSITION} WHERE id = 1").fetchone()
        if row is None or int(row[0]) > FORMAT:
            raise CatalogUnavailable(
                f"{self.where}: its tables were written by a newer version of the tool"
            )
        self._ready = True

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
        self._conn = None

    def position(self) -> dict[str, Any]:
        """The committed row of ``evidence_position``."""
        conn = self.connection()
        with self.errors():
            cur = conn.execute(
                f"SELECT registry_id, log_seq, log_offset, log_hash, hash_seq, item_count, "
                f"generation FROM {POSITION} WHERE id = 1"
            )
            row = cur.fetchone()
        assert row is not None
        return dict(zip([d.name for d in cur.description or ()], row, strict=True))

    # --- CatalogStore -------------------------------------------------------------------

    def open(self) -> PgCatalog:
        position = self.position()
        self._check_owner(position.get("registry_id"))
        return PgCatalog(self, position)

    def _check_owner(self, holds: str | None) -> None:
        ours = self._registry_id()
        if holds and ours and holds != ours:
            raise CatalogUnavailable(
                f"{self.where} holds the catalogue of registry {holds}, not of this one "
                f"({ours}): give each registry a database (or schema) of its own"
            )

    def stamp(self) -> Any:
        conn = self.connection()
        with self.errors():
            row = conn.execute(f"SELECT generation FROM {POSITION} WHERE id = 1").fetchone()
        return None if row is None else int(row[0])

    def rebuild(self, triples: Iterable[Triple]) -> int:
        """Empties the tables and folds the log into them in one transaction: readers
        see the old catalogue until it commits, and a crash before leaves it as it was."""
        conn = self.connection()
        with self.errors(), conn.transaction():
            row = conn.execute(
                f"SELECT registry_id, generation FROM {POSITION} WHERE id = 1 FOR UPDATE"
            ).fetchone()
            assert row is not None
            self._check_owner(row[0])
            conn.execute(f"DELETE FROM {ITEMS}")
            conn.execute(f"DELETE FROM {VIEWS}")
            fresh = PgCatalog(
                self,
                {"generation": int(row[1]), "item_count": 0, "registry_id": None},
                fresh=True,
            )
            for n, (entry, digest, end) in enumerate(triples, start=1):
                fresh.apply(entry, entry_hash=digest, end_offset=end)
                if n % REBUILD_BATCH == 0:
                    fresh.write_rows()  # bounds memory; still uncommitted
            fresh.write_rows()
            fresh._views.write(fresh._many)
            fresh.write_position()
            pause_point("rebuild.built")
        fresh.committed()
        return len(fresh)

    def discard(self) -> None:
        """Nothing to forget: an init whose log is empty never folded an entry here (and
        a database that holds another registry's catalogue is not touched)."""


class PgCatalog(CatalogBase):
    """The catalogue as committed in PostgreSQL, with this process's staged changes.

    Use ``PgStore.open``. ``fresh``: the tables were emptied in the transaction this
    catalogue is being rebuilt in (what is there is only what it wrote).
    """

    def __init__(self, store: PgStore, position: dict[str, Any], *, fresh: bool = False) -> None:
        self._store = store
        self._meta = {k: position[k] for k in _POSITION_FIELDS[1:] if position.get(k) is not None}
        self._registry_id: str | None = position.get("registry_id")
        self._generation = int(position.get("generation") or 0)
        self._count = int(position.get("item_count") or 0)
        self._fresh = fresh
        self._written: set[str] = set()  # rows a rebuild has written, not yet committed
        self._staged: dict[str, dict[str, Any]] = {}
        self._new: dict[str, int] = {}  # staged items not in the tables: sha -> stored_seq
        self._absent: set[str] = set()  # ids looked up and not found since the last flush
        self._cache: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._views = PgViews(self._sql, fresh=fresh)
        self._dirty = False

    def _sql(self, query: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        conn = self._store.connection()
        with self._store.errors():
            return conn.execute(query, tuple(params)).fetchall()

    def _many(self, query: str, rows: list[tuple[Any, ...]]) -> None:
        conn = self._store.connection()
        with self._store.errors(), conn.cursor() as cur:
            cur.executemany(query, rows)

    # --- lookups ------------------------------------------------------------------------

    def __len__(self) -> int:
        return self._count + len(self._new)

    def __contains__(self, sha256: object) -> bool:
        if not isinstance(sha256, str):
            return False
        if sha256 in self._staged or sha256 in self._cache:
            return True
        return self._read(sha256) is not None

    def get(self, sha256: str) -> dict[str, Any] | None:
        """The item document (a copy of it, as TinyDB gives: callers may set its
        fields; staged documents are the fold's own, as in the TinyDB catalogue)."""
        doc = self._staged.get(sha256)
        if doc is not None:
            return doc
        doc = self._cache.get(sha256)
        if doc is not None:
            self._cache.move_to_end(sha256)
        else:
            doc = self._read(sha256)
        return dict(doc) if doc is not None else None

    def _read(self, sha256: str) -> dict[str, Any] | None:
        if sha256 in self._absent or (self._fresh and sha256 not in self._written):
            return None
        rows = self._sql(f"SELECT body FROM {ITEMS} WHERE sha256 = %s", (sha256,))
        if not rows:
            self._absent.add(sha256)
            return None
        doc = json.loads(rows[0][0])
        self._remember(sha256, doc)
        return doc

    def prefetch(self, shas: Iterable[str]) -> None:
        """One query for the items of a batch of entries: each is then cached, or known
        to be absent (a new item's fold looks it up first)."""
        wanted = {s for s in shas if s not in self._staged and s not in self._cache}
        wanted -= self._absent
        if not wanted or self._fresh:
            return
        found = self._sql(
            f"SELECT sha256, body FROM {ITEMS} WHERE sha256 = ANY(%s::text[])", (list(wanted),)
        )
        for sha, body in found:
            self._remember(sha, json.loads(body))
        self._absent |= wanted - {sha for sha, _ in found}

    def _remember(self, sha256: str, doc: dict[str, Any]) -> None:
        self._cache[sha256] = doc
        self._cache.move_to_end(sha256)
        while len(self._cache) > CACHED_DOCS:
            self._cache.popitem(last=False)

    def with_prefix(self, prefix: str, limit: int | None = None) -> list[str]:
        pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = f"SELECT sha256 FROM {ITEMS} WHERE sha256 LIKE %s ORDER BY sha256"
        if limit:
            rows = self._sql(query + " LIMIT %s", (pattern, limit))
        else:
            rows = self._sql(query, (pattern,))
        found = sorted({r[0] for r in rows} | {s for s in self._new if s.startswith(prefix)})
        return found[:limit] if limit else found

    def cases_of(self, sha256: str) -> list[str]:
        doc = self._staged.get(sha256) or self._cache.get(sha256)
        if doc is not None:
            return list(doc.get("cases") or [])
        if sha256 in self._absent or (self._fresh and sha256 not in self._written):
            return []
        rows = self._sql(f"SELECT cases FROM {ITEMS} WHERE sha256 = %s", (sha256,))
        return list(rows[0][0]) if rows else []

    def cases(self) -> list[str]:
        rows = self._sql(f"SELECT DISTINCT unnest(cases) FROM {ITEMS}")
        found = {r[0] for r in rows}
        found |= {c for d in self._staged.values() for c in d.get("cases") or []}
        if self._staged:  # a staged document is what its item's cases are now
            found = {c for c in found if self.shas(c)}
        return sorted(found)

    def view(self, name: str) -> dict[str, Any]:
        return self._views.view(name)

    @property
    def views(self) -> dict[str, dict[str, Any]]:
        return self._views.all()

    def accounts_view(self) -> PgAccounts:
        """The accounts, roles and tokens as the team server reads them: a row at a time
        from ``evidence_views`` (see ``registry.accounts.store.accounts_view``)."""
        return PgAccounts(self._views, self._sql)

    def shas(self, case: str | None = None) -> list[str]:
        if case is None:
            rows = self._sql(f"SELECT sha256 FROM {ITEMS}")
        else:
            query = f"SELECT sha256 FROM {ITEMS} WHERE cases @> ARRAY[%s]::text[]"
            rows = self._sql(query, (case,))
        found = {r[0] for r in rows} - self._staged.keys()
        found |= {s for s, d in self._staged.items() if case is None or case in d["cases"]}
        return sorted(found)

    def iter_items(
        self, case: str | None = None, order: str = "stored"
    ) -> Iterator[dict[str, Any]]:
        if order not in ORDERS:
            raise ValueError(f"unknown order {order!r} (stored or sha256)")
        return self._iter(case, order)

    def _iter(self, case: str | None, order: str) -> Iterator[dict[str, Any]]:
        def key(doc: dict[str, Any]) -> Any:
            if order == "stored":
                return (doc.get("stored_seq") or 0, doc["sha256"])
            return doc["sha256"]

        def wanted(doc: dict[str, Any]) -> bool:
            return case is None or case in (doc.get("cases") or [])

        staged = dict(self._staged)
        new = sorted((staged[s] for s in self._new if wanted(staged[s])), key=key)
        yield from heapq.merge(self._pages(case, order, staged, wanted), new, key=key)

    def _pages(
        self,
        case: str | None,
        order: str,
        staged: dict[str, dict[str, Any]],
        wanted: Callable[[dict[str, Any]], bool],
    ) -> Iterator[dict[str, Any]]:
        """Committed items (with their staged changes) in ``order``, a page at a time."""
        columns = "(stored_seq, sha256)" if order == "stored" else "sha256"
        last: Any = (-1, "") if order == "stored" else ""
        where = ""
        params: list[Any] = []
        if case is not None:  # staged changes may have added this case to a committed item
            where = " AND (cases @> ARRAY[%s]::text[] OR sha256 = ANY(%s::text[]))"
            params = [case, [s for s, d in staged.items() if wanted(d)]]
        while True:
            bound = "(%s, %s)" if order == "stored" else "%s"
            rows = self._sql(
                f"SELECT sha256, stored_seq, body FROM {ITEMS} WHERE {columns} > {bound}{where} "
                f"ORDER BY {columns} LIMIT {PAGE}",
                [*(last if order == "stored" else (last,)), *params],
            )
            for sha, _seq, body in rows:
                doc = staged.get(sha)
                if doc is None:
                    doc = json.loads(body)
                if wanted(doc):
                    yield doc
            if len(rows) < PAGE:
                return
            last = (rows[-1][1], rows[-1][0]) if order == "stored" else rows[-1][0]

    def inconsistencies(self) -> Iterator[tuple[str, str, str]]:
        """Rows whose indexed columns or JSONB copy differ from their document (``body``),
        and an item count that is not the number of rows (``pgschema.table_problems``)."""
        return table_problems(self._sql, self._count, PAGE)

    # --- changes ------------------------------------------------------------------------

    def apply(self, entry: dict[str, Any], *, entry_hash: str, end_offset: int) -> None:
        if entry.get("action") == REGISTRY_CREATED:
            made = str((entry.get("details") or {}).get("registry_id") or "") or None
            if self._registry_id and made and made != self._registry_id:
                raise CatalogUnavailable(
                    f"{self._store.where} holds the catalogue of registry "
                    f"{self._registry_id}, not of {made}"
                )
            self._registry_id = made
        super().apply(entry, entry_hash=entry_hash, end_offset=end_offset)

    def _set_meta(self, meta: dict[str, Any]) -> None:
        self._meta = meta
        self._dirty = True

    def put(self, doc: dict[str, Any]) -> None:
        sha = doc["sha256"]
        known = sha in self._staged or sha in self._new or sha in self._cache
        if not known and self._read(sha) is None:
            self._new[sha] = int(doc.get("stored_seq") or 0)
        self._staged[sha] = doc
        self._dirty = True

    def add_case(self, sha256: str, case: str) -> None:
        """Nothing more to note: the ``cases`` column is written from the document."""

    def flush(self) -> None:
        """One transaction: the staged rows and the position they reach. Refused when
        another writer committed since this catalogue was read (writers share a lock
        only when they share a registry folder)."""
        if not self._dirty:
            return
        conn = self._store.connection()
        with self._store.errors(), conn.transaction():
            row = conn.execute(
                f"SELECT generation FROM {POSITION} WHERE id = 1 FOR UPDATE"
            ).fetchone()
            if row is None or int(row[0]) != self._generation:
                raise CatalogUnavailable(
                    f"{self._store.where} was changed by another writer meanwhile (is it "
                    "shared by two copies of one registry?); nothing was written"
                )
            self.write_rows()
            self._views.write(self._many)
            self.write_position()
            pause_point("catalog.committing")
        self.committed()

    def write_rows(self) -> None:
        """Write the staged rows in the open transaction (not committed)."""
        if not self._staged:
            return
        conn = self._store.connection()
        rows = [item_row(doc) for doc in self._staged.values()]
        with self._store.errors():
            if self._fresh:
                fresh = [r for r in rows if r[0] not in self._written]
                again = [r for r in rows if r[0] in self._written]
                with conn.cursor() as cur:
                    if fresh:
                        with cur.copy(f"COPY {ITEMS} ({', '.join(ITEM_COLUMNS)}) FROM STDIN") as cp:
                            for r in fresh:
                                cp.write_row(r)
                    if again:
                        cur.executemany(_UPSERT, again)
                self._written.update(r[0] for r in fresh)
            else:
                with conn.cursor() as cur:
                    cur.executemany(_UPSERT, rows)
        self._count += len(self._new)
        for sha, doc in self._staged.items():
            self._remember(sha, doc)
        self._staged.clear()
        self._new.clear()
        self._absent.clear()

    def write_position(self) -> None:
        """Write the log position (and the item count) in the open transaction."""
        conn = self._store.connection()
        m = self._meta
        with self._store.errors():
            conn.execute(
                f"UPDATE {POSITION} SET registry_id = %s, log_seq = %s, log_offset = %s, "
                "log_hash = %s, hash_seq = %s, item_count = %s, generation = generation + 1 "
                "WHERE id = 1",
                (
                    self._registry_id,
                    self.log_seq,
                    self.log_offset,
                    m.get("log_hash"),
                    self.hash_seq,
                    self._count,
                ),
            )

    def committed(self) -> None:
        """The transaction committed: what was staged is now the committed state."""
        self._generation += 1
        self._fresh = False
        self._written.clear()
        self._dirty = False
