"""``jsonl`` and ``csv`` exports: the audit log and the item table, for scripts and
spreadsheets.

``custody.jsonl`` holds the log lines byte for byte, so their signatures and hashes can
be checked; ``items.jsonl`` the items as ``evidence show --json`` prints them. The CSV
files flatten the same data. Text cells that a spreadsheet would run as a formula
(starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return) are prefixed with
``'``: names and URLs come from outside, and a file name like ``=HYPERLINK(...)`` must
stay text.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from registry.export.gather import Selection
from registry.export.safepath import OutDir, Written
from registry.schema import DESCRIPTION_FIELDS, FIRST_SEEN_FIELDS

CUSTODY_COLUMNS = (
    "seq",
    "time",
    "actor",
    "action",
    "sha256",
    "host",
    "tool",
    "tool_version",
    "args",
    "details",
    "prev",
    "key",
    "sig",
)
#: One row per item: its description, what the file says, what was seen and claimed first.
ITEM_COLUMNS = (
    *DESCRIPTION_FIELDS,
    "captured_at",
    "make",
    "model",
    "gps_lat",
    "gps_lon",
    "c2pa_state",
    "c2pa_codes",
    "c2pa_claim_generator",
    "c2pa_signer",
    "c2pa_signed_at",
    *FIRST_SEEN_FIELDS[:4],
    "cases",
    "original_names",
    "source_urls",
    "sightings",
    "notes",
    "near_duplicates",
    "stored_at",
)
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def export_jsonl(sel: Selection, out: OutDir) -> list[Written]:
    log = "".join(ll.line + "\n" for ll in sel.lines).encode("utf-8")
    items = "".join(_dump(item) + "\n" for item in sel.items).encode("utf-8")
    return [out.write("custody.jsonl", data=log), out.write("items.jsonl", data=items)]


def export_csv(sel: Selection, out: OutDir) -> list[Written]:
    return [
        out.write("custody.csv", data=_csv(CUSTODY_COLUMNS, map(custody_row, sel.lines))),
        out.write("items.csv", data=_csv(ITEM_COLUMNS, map(item_row, sel.items))),
    ]


def custody_row(ll: Any) -> dict[str, Any]:
    e = ll.entry
    tool = e.get("tool") or {}
    return {
        "seq": e.get("seq"),
        "time": e.get("time"),
        "actor": e.get("actor"),
        "action": e.get("action"),
        "sha256": e.get("sha256"),
        "host": e.get("host"),
        "tool": tool.get("name"),
        "tool_version": tool.get("version"),
        "args": _dump(e["args"]) if e.get("args") is not None else "",
        "details": _dump(e.get("details") or {}),
        "prev": e.get("prev"),
        "key": e.get("key"),
        "sig": e.get("sig"),
    }


def item_row(item: dict[str, Any]) -> dict[str, Any]:
    meta = item.get("metadata") or {}
    gps = meta.get("gps") or {}
    c2pa = meta.get("c2pa") or {}
    first = item.get("first_seen") or {}
    sightings = item.get("sightings") or []
    return {
        **{k: item.get(k) for k in DESCRIPTION_FIELDS},
        "captured_at": meta.get("captured_at"),
        "make": meta.get("make"),
        "model": meta.get("model"),
        "gps_lat": gps.get("lat") if isinstance(gps, dict) else None,
        "gps_lon": gps.get("lon") if isinstance(gps, dict) else None,
        "c2pa_state": c2pa.get("state"),
        "c2pa_codes": "; ".join(c2pa.get("codes") or []),
        "c2pa_claim_generator": c2pa.get("claim_generator"),
        "c2pa_signer": (c2pa.get("signer") or {}).get("issuer"),
        "c2pa_signed_at": c2pa.get("signed_at"),
        **{k: first.get(k) for k in FIRST_SEEN_FIELDS[:4]},
        "cases": "; ".join(item.get("cases") or []),
        "original_names": "; ".join(
            dict.fromkeys(str(s.get("original_name") or "") for s in sightings)
        ),
        "source_urls": "; ".join(
            dict.fromkeys(str(s["source_url"]) for s in sightings if s.get("source_url"))
        ),
        "sightings": len(sightings),
        "notes": len(item.get("notes") or []),
        "near_duplicates": len(item.get("near_duplicates") or []),
        "stored_at": item.get("stored_at"),
    }


def cell(value: Any) -> Any:
    """A value as a CSV cell that no spreadsheet will evaluate."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA):
        return "'" + value
    return value


def _csv(columns: tuple[str, ...], rows: Any) -> bytes:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: cell(row.get(k)) for k in columns})
    # A byte-order mark makes Excel read the file as UTF-8 (names are often Cyrillic).
    return b"\xef\xbb\xbf" + buf.getvalue().encode("utf-8")


def _dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), sort_keys=False)
