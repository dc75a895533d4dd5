"""Merkle proofs against checkpoints: that an item's log entries are in a signed tree
head (inclusion), and that a later tree head only added to an earlier one (consistency).

The proofs are RFC 6962 audit and consistency paths (``merkle.py``) bundled with the
checkpoints and public keys needed to check them, as ``evidence prove`` prints them;
``export/verifier.py`` checks them with the standard library alone.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from registry.custody.checkpoint import Checkpoint, find, latest, log_leaves
from registry.custody.keys import KeyRing
from registry.custody.merkle import MerkleTree, leaf_hash, verify_consistency, verify_inclusion
from registry.errors import ItemNotFound, ProofError

if TYPE_CHECKING:
    from registry.session import Session


def prove_item(reg: Session, ref: str, checkpoint: Checkpoint | None = None) -> dict[str, Any]:
    """Inclusion proofs, against a checkpoint (the latest by default), of every log entry
    about one item: its own entries and near-duplicate findings that name it.

    Raises:
        ItemNotFound, AmbiguousPrefix: ``ref`` names no single item.
        NoCheckpoint: There is no checkpoint yet.
        ProofError: The log no longer matches the checkpoint (run verify).
    """
    sha = reg.catalog.resolve(ref)
    cp = checkpoint or latest(reg)
    tree = _tree_for(reg, cp)
    proofs, later = [], []
    for index, raw in enumerate(reg.log.lines()):
        entry = raw.entry
        if entry is None or not raw.complete or not _about(entry, sha):
            continue
        if index >= cp.size:
            later.append(entry.get("seq"))
            continue
        path = tree.inclusion_proof(index, cp.size)
        proofs.append(
            {
                "seq": entry.get("seq"),
                "leaf_index": index,
                "leaf_hash": tree.leaves[index].hex(),
                "entry": raw.line.decode("utf-8"),
                "audit_path": [p.hex() for p in path],
            }
        )
    if not proofs and not later:
        raise ItemNotFound(f"{sha}: no log entry is about it")
    return {
        "sha256": sha,
        "checkpoint": cp.to_dict(),
        "public_keys": _public_keys(reg, [cp.key, *(_key_of(p["entry"]) for p in proofs)]),
        "proofs": proofs,
        "not_covered": later,
    }


def prove_consistency(reg: Session, old: str, new: str | None = None) -> dict[str, Any]:
    """A consistency proof between two checkpoints (``new``: the latest).

    Raises:
        NoCheckpoint: A checkpoint is not found.
        ProofError: The log no longer matches ``new``, or ``old`` is not older.
    """
    first = find(reg, old)
    second = find(reg, new) if new else latest(reg)
    if first.size > second.size:
        raise ProofError(f"checkpoint {first.size} is newer than {second.size}")
    tree = _tree_for(reg, second)
    if tree.root(first.size).hex() != first.root:
        raise ProofError(
            f"the log's first {first.size} entries no longer match checkpoint {first.file}: "
            "it was rewritten; run verify"
        )
    proof = tree.consistency_proof(first.size, second.size)
    return {
        "old": first.to_dict(),
        "new": second.to_dict(),
        "public_keys": _public_keys(reg, [first.key, second.key]),
        "consistency_path": [p.hex() for p in proof],
    }


def check_item_proof(bundle: dict[str, Any], keys: KeyRing) -> list[str]:
    """Everything wrong with an item proof as ``prove_item`` makes it (empty: valid)."""
    errors = []
    cp = Checkpoint.from_dict(bundle["checkpoint"])
    if not cp.verify(keys):
        errors.append("checkpoint signature is not valid")
    root = bytes.fromhex(cp.root)
    for proof in bundle["proofs"]:
        line = proof["entry"].encode("utf-8")
        path = [bytes.fromhex(p) for p in proof["audit_path"]]
        if not verify_inclusion(leaf_hash(line), proof["leaf_index"], cp.size, path, root):
            errors.append(f"entry {proof['seq']} is not in the checkpoint's tree")
    return errors


def check_consistency_proof(bundle: dict[str, Any], keys: KeyRing) -> list[str]:
    """Everything wrong with a consistency proof (empty: valid)."""
    errors = []
    old, new = Checkpoint.from_dict(bundle["old"]), Checkpoint.from_dict(bundle["new"])
    for cp in (old, new):
        if not cp.verify(keys):
            errors.append(f"checkpoint {cp.size} signature is not valid")
    path = [bytes.fromhex(p) for p in bundle["consistency_path"]]
    if not verify_consistency(
        old.size, new.size, bytes.fromhex(old.root), bytes.fromhex(new.root), path
    ):
        errors.append(f"the log of {new.size} entries did not grow from the one of {old.size}")
    return errors


def _tree_for(reg: Session, cp: Checkpoint) -> MerkleTree:
    leaves = log_leaves(reg, cp.size)
    if len(leaves) < cp.size:
        raise ProofError(f"the log has {len(leaves)} entries, checkpoint {cp.file} {cp.size}")
    tree = MerkleTree(leaves)
    if tree.root().hex() != cp.root:
        raise ProofError(f"the log no longer matches checkpoint {cp.file}; run verify")
    return tree


def _about(entry: dict[str, Any], sha: str) -> bool:
    if entry.get("sha256") == sha:
        return True
    details = entry.get("details")
    return isinstance(details, dict) and details.get("match") == sha


def _key_of(line: str) -> str:
    try:
        return str(json.loads(line).get("key"))
    except ValueError:
        return ""


def _public_keys(reg: Session, ids: list[str]) -> dict[str, str]:
    """PEM text of each key, by id (so a proof carries what checks it)."""
    out = {}
    for kid in dict.fromkeys(ids):
        try:
            out[kid] = reg.keys.public_pem(kid).decode("ascii")
        except KeyError:
            continue
    return out
