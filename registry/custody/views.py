"""Folds of the team entries: accounts, roles and tokens into the catalogue's
``accounts`` view, and near-duplicate decisions into the pairs of the two items.

The ``accounts`` view is plain JSON, kept beside the items (``Catalog.view``) and
folded from the log like them, so ``rebuild`` refolds it and ``verify`` compares it::

    {"accounts": {name: {"created_at", "created_seq", "created_by", "password"}},
     "roles":    {name: {case: {"role", "granted_at", "granted_by", "seq"}}},
     "tokens":   {token id: {"name", "sha256", "read_only", "expires_at",
                             "created_at", "created_seq", "revoked_at"}}}

``password`` is an Argon2 hash (or None); a token's ``sha256`` is the SHA-256 of its
secret, never the secret. Every fold here is idempotent: replaying an entry twice
leaves the view as once.

A decision (``neardup.confirmed`` / ``neardup.rejected``) is made in one case; each
pair keeps the latest decision per case (``decisions``) and the latest of all
(``decision``), which is what the command line shows. A user of the team server sees
the latest decision made in their own cases only (``registry.accounts.scope``).
"""

from __future__ import annotations

import copy
from typing import Any, Protocol

ACCOUNTS_VIEW = "accounts"
#: The decisions a near-duplicate pair can get, by the action that records them.
DECISIONS = {"neardup.confirmed": "confirmed", "neardup.rejected": "rejected"}


class Viewing(Protocol):
    """What these folds need of the catalogue."""

    def __contains__(self, sha256: object) -> bool: ...

    def get(self, sha256: str) -> dict[str, Any] | None: ...

    def put(self, doc: dict[str, Any]) -> None: ...

    def view(self, name: str) -> dict[str, Any]: ...


def _accounts(catalog: Viewing) -> dict[str, Any]:
    state = catalog.view(ACCOUNTS_VIEW)
    for key in ("accounts", "roles", "tokens"):
        state.setdefault(key, {})
    return state


def fold_account(catalog: Viewing, entry: dict[str, Any]) -> None:
    d = entry.get("details") or {}
    name = str(d.get("name") or "")
    if not name:
        return
    _accounts(catalog)["accounts"][name] = {
        "created_at": entry["time"],
        "created_seq": entry["seq"],
        "created_by": entry["actor"],
        "password": d.get("password"),
    }


def fold_grant(catalog: Viewing, entry: dict[str, Any]) -> None:
    d = entry.get("details") or {}
    name, case = str(d.get("name") or ""), str(d.get("case") or "")
    if not name or not case:
        return
    roles = _accounts(catalog)["roles"].setdefault(name, {})
    roles[case] = {
        "role": d.get("role"),
        "granted_at": entry["time"],
        "granted_by": entry["actor"],
        "seq": entry["seq"],
    }


def fold_revoke(catalog: Viewing, entry: dict[str, Any]) -> None:
    d = entry.get("details") or {}
    roles = _accounts(catalog)["roles"]
    name, case = str(d.get("name") or ""), str(d.get("case") or "")
    if name in roles:
        roles[name].pop(case, None)
        if not roles[name]:
            del roles[name]


def fold_token(catalog: Viewing, entry: dict[str, Any]) -> None:
    d = entry.get("details") or {}
    token_id = str(d.get("token_id") or "")
    if not token_id:
        return
    _accounts(catalog)["tokens"][token_id] = {
        "name": d.get("name"),
        "sha256": d.get("token_sha256"),
        "read_only": bool(d.get("read_only")),
        "expires_at": d.get("expires_at"),
        "created_at": entry["time"],
        "created_seq": entry["seq"],
        "revoked_at": None,
    }


def fold_token_revoked(catalog: Viewing, entry: dict[str, Any]) -> None:
    d = entry.get("details") or {}
    token = _accounts(catalog)["tokens"].get(str(d.get("token_id") or ""))
    if token is not None and token.get("revoked_at") is None:
        token["revoked_at"] = entry["time"]


def fold_decision(catalog: Viewing, entry: dict[str, Any]) -> None:
    """Mark the pair of ``sha256`` and ``details["match"]`` on both items."""
    d = entry.get("details") or {}
    decision = DECISIONS.get(str(entry.get("action")))
    a, b = entry.get("sha256"), d.get("match")
    made = {
        "decision": decision,
        "seq": entry["seq"],
        "at": entry["time"],
        "by": entry["actor"],
        "reason": d.get("reason"),
    }
    for this, other in ((a, b), (b, a)):
        if not isinstance(this, str) or this not in catalog:
            continue
        doc = copy.deepcopy(catalog.get(this) or {})
        pairs = doc.get("near_duplicates") or []
        for pair in pairs:
            if pair.get("sha256") == other:
                pair["decisions"] = {**(pair.get("decisions") or {}), str(d.get("case")): made}
                pair["decision"] = decision
        catalog.put(doc)


def kept_decision(old: dict[str, Any] | None) -> dict[str, Any]:
    """What a pair found again keeps of the pair it replaces: its decisions."""
    if not old:
        return {}
    return {k: old[k] for k in ("decision", "decisions") if k in old}
