"""The PostgreSQL catalogue's tables, and how an item document becomes a row.

Tables (created in the connection's current schema, so ``options=-csearch_path=NAME``
in the URL gives each registry a schema of its own in a shared database):

``evidence_position``
    one row: whose registry's view this is, and how far into the custody log the fold
    has got (``log_seq``, ``log_offset``, ``log_hash``), written in the same
    transaction as the item rows it covers; ``generation`` counts the commits (a reader
    compares it to notice another writer's).
``evidence_views``
    the views folded beside the items (``CatalogBase.view``: ``accounts`` holds the team
    server's accounts, roles and tokens), one row per entry of each part
    (``('accounts', 'tokens', false, <token id>)``; a part that is empty or not an
    object is one ``whole`` row), ``body`` and ``doc`` as for items.
``evidence_items``
    one row per item: ``body`` is the document exactly as the fold made it (JSON text:
    key order, ``\\u0000`` and NaN kept); ``doc`` is the same document as JSONB for SQL
    queries (``doc->'metadata'->>'make'``), which PostgreSQL normalises (keys reordered;
    ``\\u0000``, lone surrogates and non-finite numbers cannot be stored, so there they
    become U+FFFD and null). ``sha256`` (btree, "C" collation: prefix lookups),
    ``cases`` (GIN), ``stored_seq`` (the listing order) and ``first_seen_at`` (the
    earliest observation) are indexed copies of the document's fields.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

#: The version of these tables; a newer one is refused.
FORMAT = 1
POSITION = "evidence_position"
ITEMS = "evidence_items"
VIEWS = "evidence_views"

DDL = f"""
CREATE TABLE IF NOT EXISTS {POSITION} (
    id smallint PRIMARY KEY CHECK (id = 1),
    format integer NOT NULL,
    registry_id text,
    log_seq bigint NOT NULL DEFAULT 0,
    log_offset bigint NOT NULL DEFAULT 0,
    log_hash text,
    hash_seq bigint NOT NULL DEFAULT 0,
    item_count bigint NOT NULL DEFAULT 0,
    generation bigint NOT NULL DEFAULT 0
);
INSERT INTO {POSITION} (id, format) VALUES (1, {FORMAT}) ON CONFLICT (id) DO NOTHING;
CREATE TABLE IF NOT EXISTS {ITEMS} (
    sha256 text COLLATE "C" PRIMARY KEY,
    stored_seq bigint NOT NULL,
    cases text[] NOT NULL DEFAULT '{{}}',
    first_seen_at timestamptz,
    body text NOT NULL,
    doc jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS {ITEMS}_stored ON {ITEMS} (stored_seq, sha256);
CREATE INDEX IF NOT EXISTS {ITEMS}_cases ON {ITEMS} USING gin (cases);
CREATE INDEX IF NOT EXISTS {ITEMS}_first_seen ON {ITEMS} (first_seen_at);
CREATE TABLE IF NOT EXISTS {VIEWS} (
    name text NOT NULL,
    part text NOT NULL,
    whole boolean NOT NULL,
    key text NOT NULL,
    body text NOT NULL,
    doc jsonb NOT NULL,
    PRIMARY KEY (name, part, whole, key)
);
"""
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
#: The columns of ``evidence_items``, in the order ``item_row`` gives them.
ITEM_COLUMNS = ("sha256", "stored_seq", "cases", "first_seen_at", "body", "doc")
#: The fields of ``evidence_position`` a fold moves.
META_FIELDS = ("log_seq", "log_offset", "log_hash", "hash_seq")


def encode(value: Any) -> tuple[str, str]:
    """``(body, doc)``: ``value`` as exact JSON text, and as text PostgreSQL's JSONB
    takes (the same text unless ``value`` holds what JSONB cannot store)."""
    try:
        body = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        body.encode("utf-8")
    except (ValueError, UnicodeEncodeError):
        body = json.dumps(value, ensure_ascii=True, separators=(",", ":"))
        return body, json.dumps(_storable(value), ensure_ascii=False, separators=(",", ":"))
    if "\\u0000" in body:
        return body, json.dumps(_storable(value), ensure_ascii=False, separators=(",", ":"))
    return body, body


def _storable(value: Any) -> Any:
    """``value`` with what JSONB refuses replaced: NUL and lone surrogates in strings
    (U+FFFD), NaN and infinities (null)."""
    if isinstance(value, str):
        return _UNSTORABLE.sub("\ufffd", value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {_storable(str(k)): _storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_storable(v) for v in value]
    return value


def queryable(value: Any) -> Any:
    """What ``doc`` holds for ``value``, numbers as ``Decimal`` (JSONB keeps them as
    numerics: ``1e300`` comes back as its 301 digits); compare with ``read_jsonb``."""
    return json.loads(encode(value)[1], parse_float=Decimal)


def read_jsonb(text: str) -> Any:
    """A JSONB value as PostgreSQL prints it, numbers as ``Decimal``."""
    return json.loads(text, parse_float=Decimal)


def first_seen_at(doc: dict[str, Any]) -> datetime | None:
    """The instant of the item's earliest observation (registry time, UTC), or None."""
    text = (doc.get("first_seen") or {}).get("observed_at")
    try:
        return datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        return None


def item_row(doc: dict[str, Any]) -> tuple[Any, ...]:
    """The ``ITEM_COLUMNS`` of an item document."""
    body, jsonb = encode(doc)
    cases = [str(c) for c in doc.get("cases") or []]
    return (doc["sha256"], int(doc.get("stored_seq") or 0), cases, first_seen_at(doc), body, jsonb)


def view_rows(view: dict[str, Any]) -> dict[tuple[str, bool, str], tuple[str, str]]:
    """The rows of a view: ``(part, whole, key) -> (body, doc)``."""
    rows = {}
    for part, value in view.items():
        if isinstance(value, dict) and value:
            for key, item in value.items():
                rows[(str(part), False, str(key))] = encode(item)
        else:
            rows[(str(part), True, "")] = encode(value)
    return rows


def view_of(rows: list[tuple[str, bool, str, str]]) -> dict[str, Any]:
    """A view from its ``(part, whole, key, body)`` rows (the inverse of ``view_rows``)."""
    view: dict[str, Any] = {}
    for part, whole, key, body in sorted(rows, key=lambda r: (r[0], r[2])):
        if whole:
            view[part] = json.loads(body)
        else:
            view.setdefault(part, {})[key] = json.loads(body)
    return view


def row_problems(
    sha: str, seq: int, cases: list[str], seen_at: Any, body: str, doc: str
) -> Iterator[tuple[str, str, str]]:
    """What differs between an ``evidence_items`` row's columns (``doc``: its JSONB
    copy as text) and its document, ``body``: ``(sha256, column, what)``."""
    try:
        item = json.loads(body)
    except ValueError:
        yield sha, "body", "is not JSON"
        return
    if not isinstance(item, dict):
        yield sha, "body", "is not a JSON object"
        return
    checks = (
        ("sha256", item.get("sha256") == sha, f"the document says {item.get('sha256')}"),
        ("stored_seq", int(item.get("stored_seq") or 0) == seq, f"the column says {seq}"),
        ("cases", list(cases) == list(item.get("cases") or []), f"the column says {cases}"),
        ("first_seen", first_seen_at(item) == seen_at, f"the column says {seen_at}"),
        ("doc", queryable(item) == read_jsonb(doc), "the JSONB copy differs from the document"),
    )
    for column, ok, what in checks:
        if not ok:
            yield sha, column, what


def table_problems(
    sql: Callable[[str, tuple[Any, ...]], list[tuple[Any, ...]]], item_count: int, page: int
) -> Iterator[tuple[str, str, str]]:
    """Every ``row_problems`` of ``evidence_items`` (read ``page`` rows at a time), view
    rows whose JSONB copy differs from their ``body``, and an ``item_count`` (what the
    position row says) that is not the number of rows."""
    last = ""
    rows_seen = 0
    while True:
        rows = sql(
            f"SELECT sha256, stored_seq, cases, first_seen_at, body, doc::text FROM {ITEMS} "
            f"WHERE sha256 > %s ORDER BY sha256 LIMIT {int(page)}",
            (last,),
        )
        for sha, seq, cases, seen_at, body, doc in rows:
            yield from row_problems(sha, seq, cases, seen_at, body, doc)
        rows_seen += len(rows)
        if len(rows) < page:
            break
        last = rows[-1][0]
    for name, part, whole, key, body, doc in sql(
        f"SELECT name, part, whole, key, body, doc::text FROM {VIEWS}", ()
    ):
        if queryable(json.loads(body)) != read_jsonb(doc):
            where = f"view {name}: {part}" + ("" if whole else f"[{key!r}]")
            yield "", "doc", f"{where}: the JSONB copy differs from the document"
    if rows_seen != item_count:
        yield "", "item_count", f"{POSITION} counts {item_count} items, {ITEMS} has {rows_seen}"
