"""Actors' own signing keys: made on request, announced in the custody log.

``create_actor_key`` makes an Ed25519 key pair for a person, publishes the public key in
``keys/public/`` and logs a ``key.created`` event (signed by the installation key, so
the registry vouches that this key is that actor's) carrying the public key itself.
From then on the custody log signs that actor's entries with their key. ``list_keys``
lists every key the registry knows of, from the log and the public key folder.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from registry.custody.events import KEY_CREATED, REGISTRY_CREATED, key_created
from registry.custody.keys import Signer
from registry.errors import KeyExists

if TYPE_CHECKING:
    from registry.session import Session


def create_actor_key(reg: Session, actor: str) -> dict[str, Any]:
    """Make ``actor``'s key pair and log it.

    Returns:
        ``{"actor", "key_id", "public_key", "private_key_file", "seq"}``.

    Raises:
        KeyExists: The actor already has one.
        ValueError: ``actor`` is empty.
    """
    if not actor.strip():
        raise ValueError("actor name is empty")
    keys = reg.keys
    path = keys.actor_key_path(actor)
    with reg.writing(actor):
        if os.path.exists(path):
            raise KeyExists(actor)
        signer = Signer.generate(actor)
        keys.publish(signer)
        pem = keys.public_pem(signer.id).decode("ascii")
        # Logged before the private key is stored, so the installation key signs it.
        details = {
            "key_id": signer.id,
            "algorithm": "ed25519",
            "public_key": pem,
            "for_actor": actor,
        }
        [entry] = reg.record([key_created(actor, details)])
        keys.store(signer, path)
        reg.save()
    return {
        "actor": actor,
        "key_id": signer.id,
        "public_key": pem,
        "private_key_file": os.path.relpath(path, reg.root),
        "seq": entry["seq"],
    }


def list_keys(reg: Session) -> list[dict[str, Any]]:
    """Every key: the installation key, actors' keys, and any other published key.

    Each is ``{"key_id", "actor", "created_at", "seq", "published", "private_key_here"}``
    (``actor`` is ``"installation"`` for the registry's own key).
    """
    keys = reg.keys
    published = keys.public_keys()
    found: dict[str, dict[str, Any]] = {}
    for entry in reg.log.entries():
        details = entry.get("details") or {}
        if entry.get("action") == REGISTRY_CREATED and details.get("installation_key"):
            kid, actor = details["installation_key"], "installation"
        elif entry.get("action") == KEY_CREATED and details.get("key_id"):
            kid, actor = details["key_id"], details.get("for_actor") or entry.get("actor")
        else:
            continue
        found[kid] = {
            "key_id": kid,
            "actor": actor,
            "created_at": entry.get("time"),
            "seq": entry.get("seq"),
        }
    for kid in published:
        found.setdefault(kid, {"key_id": kid, "actor": None, "created_at": None, "seq": None})
    out = []
    for kid, info in found.items():
        actor = info["actor"]
        if actor == "installation":
            here = keys.has("installation")
        else:
            here = actor is not None and os.path.exists(keys.actor_key_path(actor))
        out.append({**info, "published": kid in published, "private_key_here": here})
    return sorted(out, key=lambda k: (k["seq"] is None, k["seq"] or 0, k["key_id"]))
