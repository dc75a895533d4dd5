"""The item schema, written once: which fields an item has, where each comes from, and
how an item is shown to users and scripts.

An item is folded from custody entries (``registry.custody.events``): ``item.stored``
gives its ``STORED_FIELDS``, ``metadata.extracted`` its ``METADATA_FIELDS``, every
``sighting.added`` one sighting of ``SIGHTING_FIELDS``. ``present`` gives the
``ITEM_FIELDS`` that ``show``, ``list`` and the exports print, in that order.
"""

from __future__ import annotations

from typing import Any

from registry.timeutil import parse_instant, parse_instant_strict

#: What identifies and describes a file (the first columns of every listing).
DESCRIPTION_FIELDS = (
    "sha256",
    "sha1",
    "md5",
    "size",
    "media_type",
    "mime",
    "format",
    "width",
    "height",
    "duration_s",
)
#: The details of an ``item.stored`` entry: the bytes as stored.
STORED_FIELDS = ("sha1", "md5", "size", "media_type", "mime", "format", "vault")
#: The details of a ``metadata.extracted`` entry: what extraction found.
METADATA_FIELDS = (
    "width",
    "height",
    "duration_s",
    "metadata",
    "exif",
    "hashes",
    "warnings",
    "tools",
    "manifest_store",
)
#: One sighting: what the submitter claimed and the file as found on their disk.
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
#: What an imported collection states about a post, besides the fields above; kept in a
#: sighting only when the source gives it (typed sightings never have them).
SOURCE_FIELDS = (
    "source_kind",
    "archived_at",
    "post_id",
    "channel",
    "author",
    "text",
    "edited",
    "page_url",
    "provenance",
)
#: What the registry saw first, what was claimed first, and what the file says.
FIRST_SEEN_FIELDS = (
    "observed_at",
    "observed_by",
    "claimed_posted_at",
    "claimed_source_url",
    "captured_at",
)
#: An item as ``show`` and ``list --json`` give it.
ITEM_FIELDS = (
    *DESCRIPTION_FIELDS,
    "metadata",
    "exif",
    "hashes",
    "manifest_store",
    "sightings",
    "near_duplicates",
    "first_seen",
    "cases",
    "notes",
    "warnings",
    "vault",
    "stored_at",
)


def new_item(sha256: str, stored: dict[str, Any], *, time: str, seq: int) -> dict[str, Any]:
    """The catalogue document of a freshly stored item (``stored``: the entry's details)."""
    doc: dict[str, Any] = {"sha256": sha256, **{k: stored.get(k) for k in STORED_FIELDS}}
    doc.update(
        {
            "stored_at": time,
            "stored_seq": seq,
            "width": None,
            "height": None,
            "duration_s": None,
            "metadata": {},
            "exif": {},
            "hashes": [],
            "manifest_store": None,
            "warnings": [],
            "tools": {},
            "sightings": [],
            "near_duplicates": [],
            "cases": [],
            "notes": [],
            "first_seen": first_seen([], {}),
        }
    )
    return doc


def present(doc: dict[str, Any]) -> dict[str, Any]:
    """An item as shown to users and scripts (the ``show``/``list`` JSON): its fields,
    and the ``timeline`` of its sightings."""
    out = {k: doc.get(k) for k in ITEM_FIELDS}
    # Every pair says whether a person decided it: "confirmed", "rejected" or None.
    out["near_duplicates"] = [
        {**p, "decision": p.get("decision")} for p in doc.get("near_duplicates") or []
    ]
    out["timeline"] = timeline(doc.get("sightings") or [], doc.get("metadata") or {})
    return out


def credentials_note(c2pa: dict[str, Any] | None) -> str:
    """One line on an item's Content Credentials (``metadata["c2pa"]``) for people:
    their state and what failed, e.g. ``invalid: the content no longer matches its
    manifest (assertion.dataHash.mismatch)``; ``not read`` for an item stored before
    they were read (``evidence reindex`` reads them)."""
    if not c2pa:
        return "not read (stored before Content Credentials were read; run evidence reindex)"
    state = c2pa.get("state")
    codes = ", ".join(c2pa.get("codes") or [])
    suffix = f" ({codes})" if codes else ""
    if state == "valid":
        return ("valid, trusted signer" if c2pa.get("trusted") else "valid") + suffix
    if state == "invalid":
        if c2pa.get("altered"):
            return f"invalid: the content no longer matches its manifest{suffix}"
        return f"invalid{suffix}"
    if state == "remote":
        return f"remote manifest, not fetched: {c2pa.get('remote_url') or '?'}"
    if state == "absent":
        return "none"
    if state == "unsupported":
        return "not readable in this format"
    return "unreadable (see warnings)"


#: The kinds of moment on a timeline, in the order they are listed for one sighting.
TIMELINE_EVENTS = (
    ("posted", "posted_at"),  # when the source says it was posted
    ("archived", "archived_at"),  # when a collecting tool captured it
    ("observed", "observed_at"),  # when the registry received it
)


def timeline(
    sightings: list[dict[str, Any]], metadata: dict[str, Any], sha256: str | None = None
) -> list[dict[str, Any]]:
    """Every moment the sightings and the file itself state, earliest first: posted
    (claimed by the source), archived (captured by a tool), observed (received by the
    registry), and captured (the file's own metadata), each with its source.

    Times without a UTC offset (a Telegram export's local ``date``, EXIF) and dates
    alone are shown as they are and ordered as if they were UTC, with a ``note``: they
    are never given an offset they did not have.
    """
    events: list[dict[str, Any]] = []
    for s in sightings:
        source = {
            "source_kind": s.get("source_kind"),
            "source_url": s.get("source_url"),
            "seq": s.get("seq"),
        }
        for kind, key in TIMELINE_EVENTS:
            if s.get(key):
                event = {"event": kind, "at": s[key], **source}
                if kind == "observed":
                    event["by"] = s.get("observed_by")
                events.append(event)
    if metadata.get("captured_at"):
        events.append({"event": "captured", "at": metadata["captured_at"], "source_kind": "file"})
    for event in events:
        if sha256 is not None:
            event["sha256"] = sha256
        note = _time_note(str(event["at"]))
        if note:
            event["note"] = note
    return sorted(events, key=instant_key)


def _time_note(text: str) -> str | None:
    if len(text) == 10 and text[4] == "-":
        return "date only: ordered at 00:00 UTC"
    try:
        value = parse_instant_strict(text)
    except ValueError:
        return "not a readable time: ordered last"
    if value.tzinfo is None:
        return "no UTC offset (local time where it was recorded): ordered as if UTC"
    return None


def instant_key(event: dict[str, Any]) -> tuple[int, float, str, str]:
    """How timeline events sort: by instant (no offset: as if UTC), unreadable ones last."""
    try:
        return (0, parse_instant(str(event["at"])).timestamp(), "", event["event"])
    except ValueError:
        return (1, 0.0, str(event["at"]), event["event"])


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
    values = (
        observed["observed_at"] if observed else None,
        observed["observed_by"] if observed else None,
        claimed["posted_at"] if claimed else None,
        claimed.get("source_url") if claimed else None,
        (metadata or {}).get("captured_at"),
    )
    return dict(zip(FIRST_SEEN_FIELDS, values, strict=True))
