"""The case gallery's index: one small ``Row`` per item of a case, for filtering,
sorting, paging and the review queue, kept current from the custody log's tail.

A row is a summary of what a *viewer of that case alone* sees of the item
(``Scope(catalog, {case: "viewer"}).restrict``: the case's sightings, notes and
decisions, pairs whose other item is in the case), so it never holds another case's
facts and the same rows serve every user of the case. What a page shows of the items
it lists comes from the user's own ``Scope`` (``registry.accounts``), never from here.

Rows are built once per case and server (one pass over the case's documents, shard by
shard), then refreshed from the entries logged since: only the items those entries
name are read again (``access.*`` entries change no item and are skipped), so a page of
a 100,000-item case filters rows in memory and reads only the documents it shows.
"""

from __future__ import annotations

import bisect
import threading
from dataclasses import dataclass, field
from typing import Any

from registry.accounts import Scope
from registry.custody import ACCESS_ACTIONS
from registry.session import Session
from registry.similarity import MatchConfig
from registry.timeutil import parse_instant

#: Items per gallery page: the default and the most a request may ask for.
PAGE = 48
MAX_PAGE = 200
#: Filters whose results a case keeps for paging.
KEPT = 16
#: Sighting fields the text search looks in (besides the case's notes).
TEXT_FIELDS = (
    "source_url",
    "original_name",
    "forwarded_from",
    "note",
    "channel",
    "author",
    "text",
    "page_url",
    "post_id",
)
DATE_FIELDS = ("observed", "posted", "captured")


def _epoch(value: Any) -> float | None:
    if not value:
        return None
    try:
        return parse_instant(str(value)).timestamp()
    except ValueError:
        return None


@dataclass(slots=True)
class Row:
    sha256: str
    media_type: str
    observed: float  # first sighting in the case (the gallery's sort key)
    posted: float | None  # earliest posting claimed in the case
    captured: float | None  # what the file says
    gps: bool
    copies: int  # near-duplicates in the case not rejected there
    #: Pairs waiting for a person, listed on the side whose sha256 is smaller.
    waiting: tuple[tuple[str, float], ...]
    unreviewed: bool  # a pair of either side waits
    text: str  # lower case: what the text search looks in

    @property
    def key(self) -> tuple[float, str]:
        return (self.observed, self.sha256)


def row_of(doc: dict[str, Any], case: str, catalog: Any, config: MatchConfig) -> Row:
    """The row of a catalogue document (see the module docstring)."""
    seen = Scope(catalog, {case: "viewer"}).restrict(doc)
    first = seen.get("first_seen") or {}
    metadata = seen.get("metadata") or {}
    pairs = seen.get("near_duplicates") or []
    states = [(p, config.review(p)) for p in pairs]
    words = [str(s.get(k)) for s in seen["sightings"] for k in TEXT_FIELDS if s.get(k)]
    words += [str(n.get("text")) for n in seen.get("notes") or [] if n.get("text")]
    sha = seen["sha256"]
    return Row(
        sha256=sha,
        media_type=str(seen.get("media_type") or ""),
        observed=_epoch(first.get("observed_at")) or 0.0,
        posted=_epoch(first.get("claimed_posted_at")),
        captured=_epoch(metadata.get("captured_at")),
        gps=bool(metadata.get("gps")),
        copies=sum(1 for _, state in states if state != "rejected"),
        waiting=tuple(
            (p["sha256"], float(p.get("score") or 0.0))
            for p, state in states
            if state == "waiting" and sha < p["sha256"]
        ),
        unreviewed=any(state == "waiting" for _, state in states),
        text="\n".join(words).lower(),
    )


@dataclass
class Filter:
    """What a gallery request asks for (every field optional)."""

    media_type: str = ""  # "image" | "video"
    gps: str = ""  # "yes" | "no"
    date_on: str = "observed"  # DATE_FIELDS
    date_from: float | None = None
    date_to: float | None = None  # exclusive
    unreviewed: bool = False
    q: str = ""
    newest_first: bool = False

    def keeps(self, row: Row) -> bool:
        if self.media_type and row.media_type != self.media_type:
            return False
        if self.gps and row.gps != (self.gps == "yes"):
            return False
        if self.unreviewed and not row.unreviewed:
            return False
        if self.date_from is not None or self.date_to is not None:
            when = getattr(row, self.date_on)
            if when is None:
                return False
            if self.date_from is not None and when < self.date_from:
                return False
            if self.date_to is not None and when >= self.date_to:
                return False
        if self.q:
            q = self.q.lower()
            hexy = len(q) >= 4 and all(c in "0123456789abcdef" for c in q)
            if not (hexy and row.sha256.startswith(q)) and q not in row.text:
                return False
        return True


@dataclass
class Page:
    total: int
    shas: list[str]
    offset: int
    size: int

    @property
    def has_next(self) -> bool:
        return self.offset + self.size < self.total


@dataclass
class CaseRows:
    """The rows of one case (see the module docstring); thread-safe."""

    case: str
    config: MatchConfig
    rows: dict[str, Row] = field(default_factory=dict)
    order: list[tuple[float, str]] = field(default_factory=list)
    offset: int = -1  # how far into the log the rows are current (-1: not built)
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: The rows recent filters kept (by the filter), forgotten when a row changes.
    kept: dict[str, list[str]] = field(default_factory=dict)
    waiting_pairs: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    def refresh(self, reg: Session) -> None:
        catalog = reg.catalog
        with self.lock:
            if self.offset < 0:
                self._build(catalog)
            elif catalog.log_offset > self.offset:
                self._catch_up(reg, catalog)
            self.offset = max(self.offset, catalog.log_offset)

    def _build(self, catalog: Any) -> None:
        self.rows = {
            doc["sha256"]: row_of(doc, self.case, catalog, self.config)
            for doc in catalog.iter_items(self.case)
        }
        self.order = sorted(r.key for r in self.rows.values())

    def _catch_up(self, reg: Session, catalog: Any) -> None:
        touched: set[str] = set()
        for entry in reg.log.entries(self.offset):
            if entry.get("seq", 0) > catalog.log_seq:
                break  # logged after this catalogue was written: the next refresh
            if entry.get("action") in ACCESS_ACTIONS:
                continue
            details = entry.get("details") or {}
            for sha in (entry.get("sha256"), details.get("match")):
                if isinstance(sha, str):
                    touched.add(sha)
        if touched:
            self.kept.clear()
            self.waiting_pairs.clear()
        for sha in touched:
            old = self.rows.pop(sha, None)
            if old is not None:
                self.order.pop(bisect.bisect_left(self.order, old.key))
            doc = catalog.get(sha) if self.case in catalog.cases_of(sha) else None
            if doc is not None:
                row = self.rows[sha] = row_of(doc, self.case, catalog, self.config)
                bisect.insort(self.order, row.key)

    def select(self, wanted: Filter, offset: int = 0, size: int = PAGE) -> Page:
        """One page of the rows ``wanted`` keeps, by first sighting in the case.

        Without a filter a page is a slice of the order; with one, the rows kept are
        remembered (for ``KEPT`` filters, until a row changes), so paging through
        them filters once."""
        size = max(1, min(size, MAX_PAGE))
        offset = max(0, offset)
        with self.lock:
            if wanted == Filter(newest_first=wanted.newest_first):
                n = len(self.order)
                if wanted.newest_first:
                    keys = self.order[max(0, n - offset - size) : max(0, n - offset)][::-1]
                else:
                    keys = self.order[offset : offset + size]
                return Page(n, [sha for _, sha in keys], offset, size)
            key = repr(wanted)
            kept = self.kept.get(key)
            if kept is None:
                keys = reversed(self.order) if wanted.newest_first else iter(self.order)
                rows = self.rows
                kept = [sha for _, sha in keys if wanted.keeps(rows[sha])]
                self.kept[key] = kept
                while len(self.kept) > KEPT:
                    self.kept.pop(next(iter(self.kept)))
        return Page(len(kept), kept[offset : offset + size], offset, size)

    def waiting(self, offset: int = 0, size: int = PAGE) -> tuple[int, list[tuple[str, str]]]:
        """The pairs waiting for a person (``(a, b)``, ``a < b``), by the first
        sighting of ``a`` then score (highest first): how many, and one page."""
        size = max(1, min(size, MAX_PAGE))
        with self.lock:
            pairs = self.waiting_pairs.get("all")
            if pairs is None:
                pairs = self.waiting_pairs["all"] = [
                    (sha, other)
                    for _, sha in self.order
                    if self.rows[sha].waiting
                    for other, _ in sorted(self.rows[sha].waiting, key=lambda w: -w[1])
                ]
        return len(pairs), pairs[max(0, offset) : max(0, offset) + size]

    def row(self, sha256: str) -> Row | None:
        with self.lock:
            return self.rows.get(sha256)


@dataclass
class Galleries:
    """The rows of every case a server has been asked about."""

    config: MatchConfig
    cases: dict[str, CaseRows] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def of(self, reg: Session, case: str) -> CaseRows:
        """The current rows of ``case`` (the caller has checked the user's role)."""
        with self.lock:
            rows = self.cases.get(case)
            if rows is None:
                rows = self.cases[case] = CaseRows(case, self.config)
        rows.refresh(reg)
        return rows
