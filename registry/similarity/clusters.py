"""Clusters of near-duplicates, with the earliest sighting of any copy and what differs
between the copies.

Items linked by ``near_duplicates`` (in either direction) form one cluster; a pair a
person rejected (``decision: "rejected"``) links nothing. For each,
investigators need: when the picture was first seen at all (the earliest observation,
the earliest claimed posting and the earliest capture time over every copy, each with
the copy it comes from), and how the copies differ: which kept EXIF and GPS, whether
their capture times disagree, their sizes and encodings, and which copy carries the most
metadata (often the one closest to the original), and what each copy's Content
Credentials (C2PA) say: a copy whose manifest still validates is pointed out, and so is
one whose manifest no longer matches its content, and the copies that lost theirs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from registry.schema import instant_key, timeline
from registry.timeutil import parse_instant


class _Union:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def join(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _instant(value: str | None) -> Any:
    if not value:
        return None
    try:
        return parse_instant(value)
    except ValueError:
        return None


def _earliest(docs: list[dict[str, Any]], key: str) -> dict[str, Any] | None:
    """The copy whose ``first_seen[key]`` is earliest, with that value."""
    best = None
    for doc in docs:
        value = (doc.get("first_seen") or {}).get(key)
        when = _instant(value) if key != "captured_at" else (value or None)
        if when is None:
            continue
        rank = when if key != "captured_at" else str(value)
        if best is None or rank < best[0]:
            best = (rank, doc, value)
    if best is None:
        return None
    _, doc, value = best
    return {"at": value, "sha256": doc["sha256"]}


def copy_summary(doc: dict[str, Any]) -> dict[str, Any]:
    """What one copy keeps: metadata, size and encoding."""
    metadata = doc.get("metadata") or {}
    exif = doc.get("exif") or {}
    sightings = doc.get("sightings") or []
    # The metadata a copy kept (its Content Credentials are summed up apart).
    filled = [k for k, v in metadata.items() if v not in (None, "", {}, []) and k != "c2pa"]
    return {
        "sha256": doc["sha256"],
        "name": sightings[0].get("original_name") if sightings else None,
        "size": doc.get("size"),
        "format": doc.get("format"),
        "mime": doc.get("mime"),
        "width": doc.get("width"),
        "height": doc.get("height"),
        "has_exif": bool(exif),
        "exif_tags": len(exif),
        "has_gps": bool(metadata.get("gps")),
        "captured_at": metadata.get("captured_at"),
        "camera": " ".join(str(metadata.get(k)) for k in ("make", "model") if metadata.get(k))
        or None,
        "software": metadata.get("software"),
        "metadata_fields": len(filled),
        "first_observed_at": (doc.get("first_seen") or {}).get("observed_at"),
        "c2pa": _credentials(metadata.get("c2pa")),
    }


def _credentials(c2pa: Any) -> dict[str, Any] | None:
    """What a cluster needs of a copy's Content Credentials (None: never read)."""
    if not isinstance(c2pa, dict):
        return None
    signer = c2pa.get("signer") or {}
    return {
        "state": c2pa.get("state"),
        "altered": bool(c2pa.get("altered")),
        "trusted": bool(c2pa.get("trusted")),
        "codes": list(c2pa.get("codes") or []),
        "signer": signer.get("issuer"),
        "claim_generator": c2pa.get("claim_generator"),
        "signed_at": c2pa.get("signed_at"),
    }


def credentials_of(summaries: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Which copies of a cluster carry valid Content Credentials, which carry a
    manifest that no longer matches their content (``altered``) or is otherwise
    invalid, which point to a remote one, and which have none while another copy has
    (``lost_by``: credentials stripped on the way)."""
    states = {c["sha256"]: c.get("c2pa") for c in summaries}
    out: dict[str, list[str]] = {
        "valid": [s for s, c in states.items() if c and c["state"] == "valid"],
        "altered": [s for s, c in states.items() if c and c["state"] == "invalid" and c["altered"]],
        "invalid": [
            s for s, c in states.items() if c and c["state"] == "invalid" and not c["altered"]
        ],
        "remote": [s for s, c in states.items() if c and c["state"] == "remote"],
    }
    carried = any(out.values())
    out["lost_by"] = [s for s, c in states.items() if carried and c and c["state"] == "absent"]
    return out


def clusters(docs: Iterable[dict[str, Any]], *, case: str | None = None) -> list[dict[str, Any]]:
    """Clusters of near-duplicate items, largest first.

    Args:
        docs: Every item document of the catalogue.
        case: Only clusters with at least one copy sighted in this case.
    """
    by_sha: dict[str, dict[str, Any]] = {}
    union = _Union()
    links: dict[tuple[str, str], dict[str, Any]] = {}
    for doc in docs:
        pairs = [p for p in doc.get("near_duplicates") or [] if p.get("decision") != "rejected"]
        if not pairs:
            continue
        by_sha[doc["sha256"]] = doc
        for p in pairs:
            union.join(doc["sha256"], p["sha256"])
            query, match = (
                (doc["sha256"], p["sha256"])
                if p.get("as") == "query"
                else (p["sha256"], doc["sha256"])
            )
            links[(query, match)] = {
                "query": query,
                "match": match,
                "score": p.get("score"),
                "distance": p.get("distance"),
                "method": p.get("method"),
                "transform": p.get("transform"),
            }
    groups: dict[str, list[str]] = {}
    for sha in by_sha:
        groups.setdefault(union.find(sha), []).append(sha)
    out = []
    for members in groups.values():
        members.sort()  # the same clusters whatever order the catalogue is read in
        copies = [by_sha[s] for s in members if s in by_sha]
        if case is not None and not any(case in (d.get("cases") or []) for d in copies):
            continue
        out.append(_cluster(copies, links))
    out.sort(key=lambda c: (-len(c["members"]), c["members"][0]))
    return out


def _cluster(
    copies: list[dict[str, Any]], links: dict[tuple[str, str], dict[str, Any]]
) -> dict[str, Any]:
    summaries = [copy_summary(d) for d in copies]
    summaries.sort(key=lambda c: (c["first_observed_at"] or "", c["sha256"]))
    members = [c["sha256"] for c in summaries]
    captured = {c["sha256"]: c["captured_at"] for c in summaries if c["captured_at"]}
    richest = max(
        summaries,
        key=lambda c: (c["exif_tags"], c["metadata_fields"], c["has_gps"], c["size"] or 0),
    )
    observed = _earliest(copies, "observed_at")
    if observed is not None:
        doc = next(d for d in copies if d["sha256"] == observed["sha256"])
        observed["by"] = (doc.get("first_seen") or {}).get("observed_by")
    claimed = _earliest(copies, "claimed_posted_at")
    if claimed is not None:
        doc = next(d for d in copies if d["sha256"] == claimed["sha256"])
        claimed["source_url"] = (doc.get("first_seen") or {}).get("claimed_source_url")
    cluster_links = [v for (q, m), v in sorted(links.items()) if q in members and m in members]
    events = sorted(
        (
            e
            for d in copies
            for e in timeline(d.get("sightings") or [], d.get("metadata") or {}, d["sha256"])
        ),
        key=instant_key,
    )
    archived = next((e for e in events if e["event"] == "archived"), None)
    return {
        "members": members,
        "first_seen": {
            "observed": observed,
            "claimed_posted": claimed,
            "captured": _earliest(copies, "captured_at"),
            "archived": archived,
        },
        "timeline": events,
        "most_metadata": richest["sha256"]
        if richest["exif_tags"] or richest["metadata_fields"]
        else None,
        "differences": {
            "exif_kept_by": [c["sha256"] for c in summaries if c["has_exif"]],
            "exif_stripped_from": [c["sha256"] for c in summaries if not c["has_exif"]],
            "gps_kept_by": [c["sha256"] for c in summaries if c["has_gps"]],
            "captured_at": captured,
            "captured_at_disagree": len(set(captured.values())) > 1,
            "sizes": sorted({c["size"] for c in summaries if c["size"] is not None}),
            "dimensions": sorted({f"{c['width']}×{c['height']}" for c in summaries if c["width"]}),
            "formats": sorted({c["format"] for c in summaries if c["format"]}),
        },
        "credentials": credentials_of(summaries),
        "copies": summaries,
        "links": cluster_links,
    }
