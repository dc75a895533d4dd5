"""What an export holds: the chosen items and every custody entry about them.

``gather`` reads the catalogue and the custody log once (up to the head as it was when
the export began, so entries written meanwhile are left for the next export) and
returns a ``Selection``: the items as ``show`` presents them, the log lines about them
(their own entries, near-duplicate findings naming them) plus the registry-wide
entries a reader needs to check them (registry creation, key announcements), and the
near-duplicate pairs among them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from registry.custody import KEY_CREATED, NEARDUP_FOUND, REGISTRY_CREATED, SIGHTING_MISSING
from registry.errors import ItemNotFound, StepFailed
from registry.schema import present

if TYPE_CHECKING:
    from registry.session import Session

#: Registry-wide actions every export carries: who the registry and its keys are.
CONTEXT_ACTIONS = (REGISTRY_CREATED, KEY_CREATED)


class Filter(Protocol):
    """What one reader may see (``registry.accounts.Scope``); an export without one
    holds everything about its items."""

    def restrict(self, doc: dict[str, Any]) -> dict[str, Any]:
        """An item's document cut to what the reader may see."""
        ...

    def sees_entry(self, entry: dict[str, Any]) -> bool:
        """Whether the reader may see a custody entry."""
        ...


@dataclass
class LogLine:
    """One custody entry, with its exact bytes (what signatures and proofs cover)."""

    index: int
    line: str
    entry: dict[str, Any]

    @property
    def seq(self) -> int:
        return int(self.entry.get("seq") or 0)


@dataclass
class Selection:
    """The content of one export."""

    registry_id: str
    case: str | None
    items: list[dict[str, Any]]
    lines: list[LogLine]
    log_size: int
    neardups: list[dict[str, Any]] = field(default_factory=list)
    #: The keys that signed the lines: ``{key id: {"actor", "pem"}}``.
    public_keys: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Steps that failed on one item while writing (``{"sha256", "step", "message"}``):
    #: the export goes on without them and says so in its custody entry.
    warnings: list[dict[str, str]] = field(default_factory=list)

    def warn(self, sha256: str, step: str, exc: BaseException) -> None:
        message = StepFailed.because(exc).detail
        self.warnings.append({"sha256": sha256, "step": step, "message": message})

    @property
    def shas(self) -> list[str]:
        return [item["sha256"] for item in self.items]

    def entries_about(self, sha: str) -> list[dict[str, Any]]:
        return [ll.entry for ll in self.lines if _about(ll.entry, sha)]


def select_items(reg: Session, refs: list[str], case: str | None) -> list[str]:
    """The item ids an export covers: ``refs`` (SHA-256s or unique prefixes), the items
    of ``case``, both (then every ref must be in the case), or all.

    Raises:
        ItemNotFound, AmbiguousPrefix: A ref names no single item, or not one of the case.
    """
    catalog = reg.catalog
    in_case = set(catalog.shas(case)) if case else None
    if case and not in_case:
        raise ItemNotFound(f"no item is in case {case!r}")
    if not refs:
        return sorted(in_case) if in_case is not None else catalog.shas()
    chosen = []
    for ref in refs:
        sha = catalog.resolve(ref)
        if in_case is not None and sha not in in_case:
            raise ItemNotFound(f"{sha} is not in case {case!r}")
        if sha not in chosen:
            chosen.append(sha)
    return chosen


def gather(
    reg: Session,
    shas: list[str],
    case: str | None,
    upto: int | None = None,
    only: Filter | None = None,
) -> Selection:
    """Items ``shas`` and the log lines about them, from the first ``upto`` lines of
    the log (its head by default); with ``only``, just what that reader may see (and
    the keys of the lines kept)."""
    catalog = reg.catalog
    items = []
    for sha in shas:
        doc = catalog.get(sha)
        if doc is None:
            raise ItemNotFound(sha)
        doc = only.restrict(doc) if only is not None else doc
        items.append({**present(doc), "near_duplicates": doc.get("near_duplicates") or []})
    wanted = set(shas)
    size = reg.log.read_head().seq if upto is None else upto
    lines: list[LogLine] = []
    pairs: dict[tuple[str, str], dict[str, Any]] = {}
    for index, raw in enumerate(reg.log.lines()):
        if index >= size or not raw.complete:
            break
        entry = raw.entry
        if entry is None:
            continue
        about = entry.get("sha256") in wanted or bool(wanted & _also_about(entry))
        if about and only is not None and not only.sees_entry(entry):
            continue
        if about or entry.get("action") in CONTEXT_ACTIONS:
            lines.append(LogLine(index, raw.line.decode("utf-8"), entry))
        if about and entry.get("action") == NEARDUP_FOUND:
            _add_pair(pairs, entry)
    # The catalogue may know pairs found by other means (e.g. a re-index); keep both.
    for item in items:
        for nd in item["near_duplicates"]:
            if isinstance(nd, dict):
                other = nd.get("sha256") or nd.get("match")
                if isinstance(other, str):
                    fake = {"sha256": item["sha256"], "details": {**nd, "match": other}}
                    _add_pair(pairs, fake)
    if only is not None:
        lines = _context_of_kept(lines)
    return Selection(
        registry_id=str(reg.info.get("registry_id", "")),
        case=case,
        items=items,
        lines=lines,
        log_size=size,
        neardups=list(pairs.values()),
        public_keys=_public_keys(reg, lines),
    )


def _context_of_kept(lines: list[LogLine]) -> list[LogLine]:
    """Of the key announcements, those of keys that signed a kept line (an actor's key
    names its actor, who may belong to another case)."""
    used = {str(ll.entry.get("key")) for ll in lines if ll.entry.get("action") != KEY_CREATED}
    return [
        ll
        for ll in lines
        if ll.entry.get("action") != KEY_CREATED
        or str((ll.entry.get("details") or {}).get("key_id")) in used
    ]


def _public_keys(reg: Session, lines: list[LogLine]) -> dict[str, dict[str, Any]]:
    actors: dict[str, str] = {}
    for ll in lines:
        details = ll.entry.get("details") or {}
        if ll.entry.get("action") == REGISTRY_CREATED and details.get("installation_key"):
            actors[details["installation_key"]] = "installation"
        elif ll.entry.get("action") == KEY_CREATED and details.get("key_id"):
            actors[details["key_id"]] = details.get("for_actor") or ll.entry.get("actor")
    out = {}
    for kid in sorted({str(ll.entry.get("key")) for ll in lines}):
        try:
            pem = reg.keys.public_pem(kid).decode("ascii")
        except KeyError:
            continue  # verify reports the entries whose key is not published
        out[kid] = {"actor": actors.get(kid), "pem": pem}
    return out


def _add_pair(pairs: dict[tuple[str, str], dict[str, Any]], entry: dict[str, Any]) -> None:
    details = entry.get("details") or {}
    a, b = entry.get("sha256"), details.get("match")
    if not isinstance(a, str) or not isinstance(b, str) or a == b:
        return
    key = (min(a, b), max(a, b))
    if key in pairs:
        return
    segments = details.get("segments") if isinstance(details.get("segments"), list) else []
    pairs[key] = {
        "query": a,
        "match": b,
        "score": details.get("score"),
        "distance": details.get("distance"),
        "method": details.get("method"),
        "transform": details.get("transform"),
        "segments": [s for s in segments if isinstance(s, dict)],
        "seq": entry.get("seq"),
    }


def clusters(pairs: list[dict[str, Any]]) -> list[list[str]]:
    """Connected groups of near-duplicate items (union-find), largest first."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for pair in pairs:
        ra, rb = find(pair["query"]), find(pair["match"])
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[str, list[str]] = {}
    for x in parent:
        groups.setdefault(find(x), []).append(x)
    return sorted((sorted(g) for g in groups.values()), key=lambda g: (-len(g), g[0]))


def _about(entry: dict[str, Any], sha: str) -> bool:
    return entry.get("sha256") == sha or sha in _also_about(entry)


def _also_about(entry: dict[str, Any]) -> set[str]:
    """Items an entry concerns besides its own: the other side of a near-duplicate pair,
    and the export document a post without media was found in (``sighting.missing``)."""
    details = entry.get("details")
    if not isinstance(details, dict):
        return set()
    found = {details["match"]} if isinstance(details.get("match"), str) else set()
    provenance = details.get("provenance")
    if entry.get("action") == SIGHTING_MISSING and isinstance(provenance, dict):
        found.add(str(provenance.get("sha256")))
    return found
