"""The item schema, written once: which fields an item has, where each comes from, and
how an item is shown to users and scripts.

An item is folded from custody entries (``registry.custody.events``): ``item.stored``
gives its ``STORED_FIELDS``, ``metadata.extracted`` its ``METADATA_FIELDS``, every
``sighting.added`` one sighting of ``SIGHTING_FIELDS``. ``present`` gives the
``ITEM_FIELDS`` that ``show``, ``list`` and the exports print, in that order.
"""

from __future__ import annotations

from typing import Any

from registry.timeutil import parse_instant

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
    """An item as shown to users and scripts (the ``show``/``list`` JSON)."""
    return {k: doc.get(k) for k in ITEM_FIELDS}


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
