"""Every kind of custody entry, in one place: its action name, the function that builds
it, how the catalogue folds it, and its one-line summary.

A custody event is ``{"actor", "action", "sha256", "details"}`` (``registry.custody.log``
adds sequence, time, chain and signature). The catalogue is a view folded from the log:
``fold`` applies one entry through ``FOLDS``, a dict keyed by action, so adding a kind of
event is one constant, one builder and one entry in ``ACTIONS``. Actions without a fold
(runs of verify, exports, checkpoints...) change no item.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from registry.custody.views import (
    DECISIONS,
    fold_account,
    fold_decision,
    fold_grant,
    fold_revoke,
    fold_token,
    fold_token_revoked,
    kept_decision,
)
from registry.schema import METADATA_FIELDS, SIGHTING_FIELDS, SOURCE_FIELDS, first_seen, new_item

Event = dict[str, Any]

REGISTRY_CREATED = "registry.created"
REGISTRY_RECOVERED = "registry.recovered"
ITEM_STORED = "item.stored"
METADATA_EXTRACTED = "metadata.extracted"
SIGHTING_ADDED = "sighting.added"
INGEST_FAILED = "ingest.failed"
NEARDUP_FOUND = "neardup.found"
HASHES_UPDATED = "hashes.updated"
CREDENTIALS_READ = "credentials.read"
REINDEX_RUN = "reindex.run"
NOTE_ADDED = "note.added"
KEY_CREATED = "key.created"
CHECKPOINT = "checkpoint"
CHECKPOINT_TIMESTAMPED = "checkpoint.timestamped"
CHECKPOINT_TIMESTAMP_FAILED = "checkpoint.timestamp_failed"
VERIFY_RUN = "verify.run"
CATALOG_REBUILT = "catalog.rebuilt"
EXPORT = "export"
SIGHTING_MISSING = "sighting.missing"
IMPORT_RUN = "import.run"
# The team server (issue 15): accounts, roles, tokens, decisions and every access.
ACCOUNT_CREATED = "account.created"
ROLE_GRANTED = "role.granted"
ROLE_REVOKED = "role.revoked"
TOKEN_CREATED = "token.created"
TOKEN_REVOKED = "token.revoked"
NEARDUP_CONFIRMED = "neardup.confirmed"
NEARDUP_REJECTED = "neardup.rejected"
ACCESS_VIEWED = "access.viewed"
ACCESS_DOWNLOADED = "access.downloaded"
ACCESS_SEARCHED = "access.searched"
ACCESS_EXPORTED = "access.exported"
#: The access actions (one entry per request, the user as actor).
ACCESS_ACTIONS = (ACCESS_VIEWED, ACCESS_DOWNLOADED, ACCESS_SEARCHED, ACCESS_EXPORTED)


def event(actor: str, action: str, details: dict[str, Any], sha256: str | None = None) -> Event:
    """One custody event, as ``CustodyLog.append`` takes it."""
    out: Event = {"actor": actor, "action": action}
    if sha256 is not None:
        out["sha256"] = sha256
    out["details"] = details
    return out


# --- builders -------------------------------------------------------------------------------


def registry_created(actor: str, registry_id: str, fmt: str, version: int, key: str) -> Event:
    details = {
        "registry_id": registry_id,
        "format": fmt,
        "format_version": version,
        "installation_key": key,
    }
    return event(actor, REGISTRY_CREATED, details)


def registry_recovered(actor: str, repairs: list[dict[str, Any]]) -> Event:
    return event(actor, REGISTRY_RECOVERED, {"repairs": repairs})


def item_stored(actor: str, sha256: str, stored: dict[str, Any]) -> Event:
    """``stored``: the ``registry.schema.STORED_FIELDS`` of the new item."""
    return event(actor, ITEM_STORED, stored, sha256)


def metadata_extracted(actor: str, sha256: str, metadata: dict[str, Any]) -> Event:
    """``metadata``: the ``registry.schema.METADATA_FIELDS`` (plus record version)."""
    return event(actor, METADATA_EXTRACTED, metadata, sha256)


def sighting_added(actor: str, sha256: str, sighting: dict[str, Any]) -> Event:
    """``sighting``: the ``registry.schema.SIGHTING_FIELDS`` of one submission."""
    return event(actor, SIGHTING_ADDED, sighting, sha256)


def ingest_failed(actor: str, sha256: str | None, details: dict[str, Any]) -> Event:
    return {"actor": actor, "action": INGEST_FAILED, "sha256": sha256, "details": details}


def neardup_found(actor: str, sha256: str, match: dict[str, Any]) -> Event:
    """One near-duplicate pair: ``sha256`` (the query) is a near-duplicate of
    ``match["sha256"]``, stored as ``details["match"]``."""
    details = dict(match)
    details["match"] = details.pop("sha256")
    return event(actor, NEARDUP_FOUND, details, sha256)


def hashes_updated(actor: str, sha256: str, details: dict[str, Any]) -> Event:
    return event(actor, HASHES_UPDATED, details, sha256)


def credentials_read(actor: str, sha256: str, details: dict[str, Any]) -> Event:
    """The Content Credentials of a stored item, read (again) from the vault:
    ``details``: ``c2pa`` (the ``metadata["c2pa"]`` summary), ``manifest_store``,
    ``warnings`` (of the ``c2pa`` step), ``tools`` and ``reason``."""
    return event(actor, CREDENTIALS_READ, details, sha256)


def reindex_run(actor: str, details: dict[str, Any]) -> Event:
    return event(actor, REINDEX_RUN, details)


def note_added(actor: str, sha256: str, text: str, case: str | None = None) -> Event:
    """``case``: the case the note was written in (team server users see the notes of
    their own cases only); None for a note of the registry's operator."""
    details: dict[str, Any] = {"text": text}
    if case is not None:
        details["case"] = case
    return event(actor, NOTE_ADDED, details, sha256)


def key_created(actor: str, details: dict[str, Any]) -> Event:
    return event(actor, KEY_CREATED, details)


def checkpoint_made(actor: str, details: dict[str, Any]) -> Event:
    return event(actor, CHECKPOINT, details)


def checkpoint_timestamped(actor: str, details: dict[str, Any]) -> Event:
    """A trusted timestamp kept for a checkpoint: ``details`` name the checkpoint
    (``checkpoint``, ``size``, ``root``), the authority (``tsa``), the token's file and
    its SHA-256, what the token says (``gen_time``, ``serial``, ``policy``, ``nonce``,
    ``imprint``, ``tsa_name``, ``signer``), the ``trust_anchor`` it was checked against
    and the ``tolerance_s`` on genTime."""
    return event(actor, CHECKPOINT_TIMESTAMPED, details)


def checkpoint_timestamp_failed(actor: str, details: dict[str, Any]) -> Event:
    """An authority gave no token that checks out: ``failed`` names the check
    (``timeout``, ``http``, ``imprint``, ``signature``, ``certificate``...), ``error``
    says what happened; nothing was kept."""
    return event(actor, CHECKPOINT_TIMESTAMP_FAILED, details)


def verify_run(actor: str, details: dict[str, Any]) -> Event:
    return event(actor, VERIFY_RUN, details)


def catalog_rebuilt(actor: str, items: int) -> Event:
    return event(actor, CATALOG_REBUILT, {"items": items})


def export_made(actor: str, details: dict[str, Any]) -> Event:
    return event(actor, EXPORT, details)


def sighting_missing(actor: str, details: dict[str, Any]) -> Event:
    """A post an imported export names whose media file it does not hold: the post
    existed (its sighting facts and provenance), but there is no item to attach it to."""
    return event(actor, SIGHTING_MISSING, details)


def import_run(actor: str, details: dict[str, Any]) -> Event:
    return event(actor, IMPORT_RUN, details)


def account_created(actor: str, name: str, password_hash: str | None) -> Event:
    """``password_hash``: an Argon2 hash (``registry.accounts``), never a password."""
    return event(actor, ACCOUNT_CREATED, {"name": name, "password": password_hash})


def role_granted(actor: str, name: str, case: str, role: str) -> Event:
    return event(actor, ROLE_GRANTED, {"name": name, "case": case, "role": role})


def role_revoked(actor: str, name: str, case: str, role: str | None) -> Event:
    return event(actor, ROLE_REVOKED, {"name": name, "case": case, "role": role})


def token_created(
    actor: str, name: str, token_id: str, digest: str, read_only: bool, expires_at: str | None
) -> Event:
    """``digest``: the SHA-256 of the token's secret (the secret is shown once, never
    logged)."""
    details = {
        "name": name,
        "token_id": token_id,
        "token_sha256": digest,
        "read_only": read_only,
        "expires_at": expires_at,
    }
    return event(actor, TOKEN_CREATED, details)


def token_revoked(actor: str, name: str, token_id: str) -> Event:
    return event(actor, TOKEN_REVOKED, {"name": name, "token_id": token_id})


def neardup_decided(
    actor: str, a: str, b: str, decision: str, case: str, reason: str | None
) -> Event:
    """A person's verdict on the near-duplicate pair ``a``, ``b`` in ``case``:
    ``"confirmed"`` (the same picture) or ``"rejected"`` (not: ``dupes`` no longer links
    them)."""
    action = {v: k for k, v in DECISIONS.items()}.get(decision)
    if action is None:
        raise ValueError(f"decision {decision!r} is not one of {', '.join(DECISIONS.values())}")
    return event(actor, action, {"match": b, "case": case, "reason": reason}, a)


def access(actor: str, action: str, details: dict[str, Any], sha256: str | None = None) -> Event:
    """One request of a team server user that read evidence (``ACCESS_ACTIONS``):
    ``details`` name the case(s), the request and the items it returned."""
    if action not in ACCESS_ACTIONS:
        raise ValueError(f"{action!r} is not an access action")
    return event(actor, action, details, sha256)


# --- folds ----------------------------------------------------------------------------------


class Folding(Protocol):
    """What a fold needs of the catalogue."""

    def __contains__(self, sha256: object) -> bool: ...

    def get(self, sha256: str) -> dict[str, Any] | None: ...

    def put(self, doc: dict[str, Any]) -> None: ...

    def add_case(self, sha256: str, case: str) -> None: ...

    def view(self, name: str) -> dict[str, Any]:
        """A named view folded beside the items (plain JSON, e.g. ``accounts``)."""
        ...


def _editable(catalog: Folding, sha256: str) -> dict[str, Any]:
    return copy.deepcopy(catalog.get(sha256) or {})


def _fold_stored(catalog: Folding, entry: dict[str, Any]) -> None:
    sha = entry.get("sha256")
    if sha and sha not in catalog:
        details = entry.get("details") or {}
        catalog.put(new_item(sha, details, time=entry["time"], seq=entry["seq"]))


def _fold_note(catalog: Folding, entry: dict[str, Any]) -> None:
    doc = _editable(catalog, entry["sha256"])
    details = entry.get("details") or {}
    note = {
        "seq": entry["seq"],
        "time": entry["time"],
        "actor": entry["actor"],
        "text": details.get("text"),
    }
    if "case" in details:
        note["case"] = details["case"]
    doc.setdefault("notes", []).append(note)
    catalog.put(doc)


def _fold_metadata(catalog: Folding, entry: dict[str, Any]) -> None:
    doc = _editable(catalog, entry["sha256"])
    details = entry.get("details") or {}
    doc.update({k: details.get(k, doc.get(k)) for k in METADATA_FIELDS})
    doc["first_seen"] = first_seen(doc["sightings"], doc["metadata"])
    catalog.put(doc)


def _fold_sighting(catalog: Folding, entry: dict[str, Any]) -> None:
    sha = entry["sha256"]
    doc = _editable(catalog, sha)
    details = entry.get("details") or {}
    sighting = {
        "seq": entry["seq"],
        "observed_at": entry["time"],
        "observed_by": entry["actor"],
        **{k: details.get(k) for k in SIGHTING_FIELDS},
        **{k: details[k] for k in SOURCE_FIELDS if k in details},
    }
    doc["sightings"].append(sighting)
    case = sighting["case"]
    if case and case not in doc["cases"]:
        doc["cases"].append(case)
    doc["first_seen"] = first_seen(doc["sightings"], doc["metadata"])
    catalog.put(doc)
    if case:
        catalog.add_case(sha, case)


def _fold_neardup(catalog: Folding, entry: dict[str, Any]) -> None:
    """Record a near-duplicate pair on both items (``as`` says which side this item
    was: the ``query`` that was being matched, or the ``match`` it was found to be)."""
    details = entry.get("details") or {}
    query, match = entry["sha256"], details.get("match")
    common = {k: v for k, v in details.items() if k != "match"}
    common.update({"seq": entry["seq"], "found_at": entry["time"]})
    for this, other, role in ((query, match, "query"), (match, query, "match")):
        if not other or this not in catalog or this == other:
            continue
        doc = _editable(catalog, this)
        old = [p for p in doc.get("near_duplicates") or [] if p["sha256"] == other]
        pairs = [p for p in doc.get("near_duplicates") or [] if p["sha256"] != other]
        # Found again (a re-index): a person's decision on the pair stands.
        pairs.append(
            {"sha256": other, "as": role, **common, **kept_decision(old[0] if old else None)}
        )
        doc["near_duplicates"] = pairs
        catalog.put(doc)


def _fold_hashes(catalog: Folding, entry: dict[str, Any]) -> None:
    doc = _editable(catalog, entry["sha256"])
    details = entry.get("details") or {}
    doc["hashes"] = details.get("hashes") or []
    doc["tools"] = {**(doc.get("tools") or {}), **(details.get("tools") or {})}
    if details.get("frame_hashes"):  # a video's frames hashed anew
        doc["metadata"] = {**(doc.get("metadata") or {}), "frame_hashes": details["frame_hashes"]}
    catalog.put(doc)


def _fold_credentials(catalog: Folding, entry: dict[str, Any]) -> None:
    doc = _editable(catalog, entry["sha256"])
    details = entry.get("details") or {}
    doc["metadata"] = {**(doc.get("metadata") or {}), "c2pa": details.get("c2pa")}
    doc["manifest_store"] = details.get("manifest_store")
    # The warnings of this reading replace those of an earlier one; the others stay.
    kept = [w for w in doc.get("warnings") or [] if w.get("step") != "c2pa"]
    doc["warnings"] = kept + list(details.get("warnings") or [])
    doc["tools"] = {**(doc.get("tools") or {}), **(details.get("tools") or {})}
    catalog.put(doc)


# --- summaries ------------------------------------------------------------------------------


def _sighting_summary(d: dict[str, Any]) -> str:
    return " ".join(str(d[k]) for k in ("original_name", "case", "source_url") if d.get(k))


def _neardup_summary(d: dict[str, Any]) -> str:
    match = str(d.get("match") or "")[:12]
    return f"~ {match} {d.get('transform') or ''} {d.get('score')} ({d.get('method')})"


def _credentials_summary(c2pa: dict[str, Any]) -> str:
    return " ".join(str(v) for v in (c2pa.get("state"), *(c2pa.get("codes") or [])) if v)


def _decision_summary(d: dict[str, Any]) -> str:
    return f"~ {str(d.get('match') or '')[:12]} in {d.get('case')}: {d.get('reason') or ''}"


def _access_summary(d: dict[str, Any]) -> str:
    what = d.get("case") or ",".join(d.get("cases") or [])
    items = d.get("items")
    count = f" {len(items)} item(s)" if isinstance(items, list) else ""
    return f"{d.get('request') or ''} [{what}]{count}"


def _where(d: dict[str, Any]) -> str:
    return str(d.get("source_url") or d.get("original_path") or "")


@dataclass(frozen=True)
class Action:
    """How one kind of entry is folded (``None``: it changes no item; ``new`` folds apply
    to absent items too) and summed up in one line."""

    fold: Callable[[Folding, dict[str, Any]], None] | None = None
    summary: Callable[[dict[str, Any]], str] | None = None
    #: The fold applies even when the entry's item is not (yet) in the catalogue.
    new: bool = False
    #: Entries that set an item's perceptual hashes (the near-duplicate index is stale).
    sets_hashes: bool = False


ACTIONS: dict[str, Action] = {
    REGISTRY_CREATED: Action(),
    REGISTRY_RECOVERED: Action(),
    ITEM_STORED: Action(
        _fold_stored, lambda d: f"{d.get('media_type')} {d.get('size')} bytes", new=True
    ),
    METADATA_EXTRACTED: Action(_fold_metadata, sets_hashes=True),
    SIGHTING_ADDED: Action(_fold_sighting, _sighting_summary),
    INGEST_FAILED: Action(
        None, lambda d: f"{d.get('path')}: {(d.get('error') or {}).get('message')}"
    ),
    NEARDUP_FOUND: Action(_fold_neardup, _neardup_summary),
    HASHES_UPDATED: Action(_fold_hashes, sets_hashes=True),
    CREDENTIALS_READ: Action(
        _fold_credentials,
        lambda d: _credentials_summary(d.get("c2pa") or {}),
    ),
    REINDEX_RUN: Action(),
    NOTE_ADDED: Action(_fold_note, lambda d: str(d.get("text", ""))),
    KEY_CREATED: Action(None, lambda d: f"key {d.get('key_id')} for {d.get('for_actor')}"),
    CHECKPOINT: Action(None, lambda d: f"size {d.get('size')} root {d.get('root')}"),
    CHECKPOINT_TIMESTAMPED: Action(
        None, lambda d: f"size {d.get('size')} by {d.get('tsa')} at {d.get('gen_time')}"
    ),
    CHECKPOINT_TIMESTAMP_FAILED: Action(
        None, lambda d: f"size {d.get('size')} by {d.get('tsa')}: {d.get('failed')}"
    ),
    VERIFY_RUN: Action(
        None,
        lambda d: "ok" if d.get("ok") else f"{len(d.get('problems') or [])} problem(s)",
    ),
    CATALOG_REBUILT: Action(),
    EXPORT: Action(None, lambda d: f"{d.get('format')}, {len(d.get('items') or [])} items"),
    SIGHTING_MISSING: Action(
        None,
        lambda d: f"missing {d.get('source_url') or d.get('original_path')}: {d.get('reason')}",
    ),
    IMPORT_RUN: Action(
        None,
        lambda d: ", ".join(f"{v} {k}" for k, v in (d.get("counts") or {}).items()),
    ),
    ACCOUNT_CREATED: Action(fold_account, lambda d: f"account {d.get('name')}", new=True),
    ROLE_GRANTED: Action(
        fold_grant, lambda d: f"{d.get('name')} {d.get('role')} in {d.get('case')}", new=True
    ),
    ROLE_REVOKED: Action(
        fold_revoke,
        lambda d: f"{d.get('name')} no longer {d.get('role')} in {d.get('case')}",
        new=True,
    ),
    TOKEN_CREATED: Action(
        fold_token,
        lambda d: (
            f"token {d.get('token_id')} for {d.get('name')}"
            + (" (read-only)" if d.get("read_only") else "")
        ),
        new=True,
    ),
    TOKEN_REVOKED: Action(
        fold_token_revoked, lambda d: f"token {d.get('token_id')} of {d.get('name')}", new=True
    ),
    NEARDUP_CONFIRMED: Action(fold_decision, _decision_summary),
    NEARDUP_REJECTED: Action(fold_decision, _decision_summary),
    **{name: Action(None, _access_summary) for name in ACCESS_ACTIONS},
}
#: The folds by action (entries of other actions change no item).
FOLDS = {name: a.fold for name, a in ACTIONS.items() if a.fold is not None}


def fold(catalog: Folding, entry: dict[str, Any]) -> bool:
    """Fold one entry into the catalogue; True when it set an item's hashes."""
    action = ACTIONS.get(str(entry.get("action")))
    if action is None or action.fold is None:
        return False
    sha = entry.get("sha256")
    if not action.new and sha not in catalog:
        return False
    action.fold(catalog, entry)
    return action.sets_hashes


def summarize(entry: dict[str, Any]) -> str:
    """A one-line human summary of a custody entry (for `custody` and reports)."""
    action = ACTIONS.get(str(entry.get("action")))
    if action is None or action.summary is None:
        return ""
    return action.summary(entry.get("details") or {})
