"""The permission filter: what one user of the team server may see, written once.

Every read of the server goes through a ``Scope`` (the user's roles per case, over the
catalogue as it is now). Items are shared by content across cases; what a user sees of
them is not:

* an item is visible only through a sighting in one of the user's cases
  (``sees``); anything else is ``NotVisible`` (HTTP 404: its existence is never
  revealed);
* of a visible item the user sees only their cases' sightings, notes and cases, the
  first sighting and timeline those give, near-duplicate pairs whose other item is
  visible too, and of each pair the latest decision made in their cases (``restrict``);
* a custody entry is visible when every item it names is visible and the cases it
  belongs to are all the user's (``sees_entry``). An entry states its case
  (``sighting.added``, ``note.added``, ``role.*``, ``neardup.confirmed``/``rejected``,
  ``access.*``, ``export``, ``ingest.failed``); ``item.stored`` and
  ``metadata.extracted`` belong to the case of the sighting they were logged with (the
  item's first), ``neardup.found`` to the case of its query's sighting by the same
  actor before it. Registry-wide entries (keys, checkpoints, verify runs, accounts,
  tokens, re-index runs) belong to no case and are never shown;
* ``match`` answers (``exact`` too), ingest results, clusters, exports and verify
  reports are cut to visible items the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from registry.accounts import roles as rules
from registry.accounts.store import NotPermitted
from registry.custody import ITEM_STORED, METADATA_EXTRACTED, NEARDUP_FOUND, SIGHTING_MISSING
from registry.errors import RegistryError
from registry.schema import first_seen, present
from registry.similarity import clusters


class NotVisible(RegistryError):
    """Not found."""


class Scope:
    """What a user with ``roles`` (``{case: role}``) may see of ``catalog``."""

    def __init__(self, catalog: Any, roles: dict[str, str]) -> None:
        self.catalog = catalog
        self.roles = dict(roles)
        self.cases = frozenset(self.roles)

    # --- cases and roles ----------------------------------------------------------------

    def require(self, case: str, action: str = "read") -> str:
        """The user's role in ``case`` when it allows ``action``.

        Raises:
            NotVisible: The user has no role in ``case`` (it may not even exist).
            NotPermitted: The user sees the case, but the role does not allow it.
        """
        role = self.roles.get(case)
        if role is None:
            raise NotVisible(f"case {case}")
        if not rules.allows(role, action):
            raise NotPermitted(f"{action} needs {rules.NEEDS[action]} in {case}; you are {role}")
        return role

    def cases_allowing(self, action: str) -> list[str]:
        return sorted(c for c, r in self.roles.items() if rules.allows(r, action))

    # --- items --------------------------------------------------------------------------

    def sees(self, sha256: str) -> bool:
        return bool(self.cases.intersection(self.catalog.cases_of(sha256)))

    def cases_of(self, sha256: str) -> list[str]:
        """The user's cases the item is sighted in."""
        return sorted(self.cases.intersection(self.catalog.cases_of(sha256)))

    def doc(self, sha256: str) -> dict[str, Any]:
        """The restricted catalogue document of a visible item.

        Raises:
            NotVisible
        """
        doc = self.catalog.get(sha256) if self.sees(sha256) else None
        if doc is None:
            raise NotVisible(sha256)
        return self.restrict(doc)

    def item(self, sha256: str) -> dict[str, Any]:
        """A visible item as ``show --json`` gives it, cut to the user's cases."""
        return present(self.doc(sha256))

    def restrict(self, doc: dict[str, Any]) -> dict[str, Any]:
        """``doc`` (a visible item's catalogue document) with only what the user may see."""
        everything = doc.get("sightings") or []
        sightings = [s for s in everything if s.get("case") in self.cases]
        out = {
            **doc,
            "sightings": sightings,
            "cases": [c for c in doc.get("cases") or [] if c in self.cases],
            "notes": [n for n in doc.get("notes") or [] if n.get("case") in self.cases],
            "near_duplicates": [
                self._pair(p) for p in doc.get("near_duplicates") or [] if self.sees(p["sha256"])
            ],
            "first_seen": first_seen(sightings, doc.get("metadata") or {}),
        }
        storing = min(everything, key=lambda s: s["seq"], default=None)
        if sightings and storing is not None and storing.get("case") not in self.cases:
            # Stored first for another case: for this user it arrived with their own.
            out["stored_at"] = min(sightings, key=lambda s: s["seq"])["observed_at"]
        return out

    def _pair(self, pair: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in pair.items() if k not in ("decision", "decisions")}
        mine = {c: d for c, d in (pair.get("decisions") or {}).items() if c in self.cases}
        latest = max(mine.values(), key=lambda d: d["seq"], default=None)
        out["decision"] = latest["decision"] if latest else None
        if mine:
            out["decisions"] = mine
        return out

    def shas(self, case: str | None = None) -> list[str]:
        """The visible items (of one of the user's cases), sorted."""
        if case is not None:
            return self.catalog.shas(case) if case in self.cases else []
        return sorted({sha for c in self.cases for sha in self.catalog.shas(c)})

    def items(self, case: str | None = None) -> Iterator[dict[str, Any]]:
        """The visible items (of one case) as ``list --json`` gives them."""
        for sha in self.shas(case):
            doc = self.catalog.get(sha)
            if doc is not None:
                yield present(self.restrict(doc))

    def clusters(self, case: str | None = None) -> list[dict[str, Any]]:
        """``dupes`` over the visible items only (rejected pairs link nothing)."""
        docs = (self.restrict(d) for d in map(self.catalog.get, self.shas()) if d is not None)
        return clusters(docs, case=case)

    # --- custody entries ----------------------------------------------------------------

    def sees_entry(self, entry: dict[str, Any]) -> bool:
        """Whether the user may see a custody entry (see the module docstring)."""
        for sha in mentioned(entry):
            if sha in self.catalog and not self.sees(sha):
                return False
        cases = self._entry_cases(entry)
        return bool(cases) and cases <= self.cases

    def entries(self, entries: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        return (e for e in entries if self.sees_entry(e))

    def _entry_cases(self, entry: dict[str, Any]) -> set[str]:
        details = entry.get("details") or {}
        if "case" in details:
            return {str(details["case"])} if details["case"] else set()
        if isinstance(details.get("cases"), list):
            return {str(c) for c in details["cases"]}
        action, sha = entry.get("action"), entry.get("sha256")
        doc = self.catalog.get(sha) if isinstance(sha, str) else None
        if doc is None:
            return set()
        sightings = doc.get("sightings") or []
        if action in (ITEM_STORED, METADATA_EXTRACTED):
            first = min(sightings, key=lambda s: s["seq"], default=None)
            return {first["case"]} if first and first.get("case") else set()
        if action == NEARDUP_FOUND:
            before = [
                s
                for s in sightings
                if s["seq"] < entry.get("seq", 0) and s.get("observed_by") == entry.get("actor")
            ]
            last = max(before, key=lambda s: s["seq"], default=None)
            return {last["case"]} if last and last.get("case") else set()
        return set()

    # --- answers cut to the visible ---------------------------------------------------

    def match_result(self, result: dict[str, Any], name: str) -> dict[str, Any]:
        """A ``match --json`` record with only visible items (``exact`` included)."""
        out = {**result, "path": name}
        sha = result.get("sha256")
        out["exact"] = bool(result.get("exact") and sha and self.sees(sha))
        out["matches"] = [m for m in result.get("matches") or [] if self.sees(m["sha256"])]
        return out

    def ingest_result(self, result: dict[str, Any], seen_before: bool) -> dict[str, Any]:
        """An ``ingest --json`` record as the user may see it: ``"known"`` only when the
        item was visible to them before (else it is ``"new"`` to their cases), and only
        visible near-duplicates."""
        out = dict(result)
        if out.get("status") == "known" and not seen_before:
            out["status"] = "new"
        if out.get("near_duplicates") is not None:
            out["near_duplicates"] = [m for m in out["near_duplicates"] if self.sees(m["sha256"])]
        return out

    def verify_report(self, report: Any) -> dict[str, Any]:
        """A verify report with the problems of visible items in full and a count of
        the others (which name what the user may not see)."""
        problems = [p.to_dict() for p in report.problems]
        mine = [p for p in problems if p.get("sha256") and self.sees(str(p["sha256"]))]
        return {
            "ok": report.ok,
            "entries": report.entries,
            "problems": mine,
            "other_problems": len(problems) - len(mine),
        }


def mentioned(entry: dict[str, Any]) -> set[str]:
    """The items a custody entry names: its own, the other side of a pair, a missing
    post's document, the items an access returned."""
    details = entry.get("details") or {}
    found = {entry["sha256"]} if isinstance(entry.get("sha256"), str) else set()
    if isinstance(details.get("match"), str):
        found.add(details["match"])
    provenance = details.get("provenance")
    if entry.get("action") == SIGHTING_MISSING and isinstance(provenance, dict):
        found.add(str(provenance.get("sha256")))
    items = details.get("items")
    if isinstance(items, list):
        found.update(str(s) for s in items)
    return found
