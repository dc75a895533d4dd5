"""Checkpoints: signed tree heads of the custody log, and the proofs made against them.

A checkpoint states "the first ``size`` entries of registry ``registry_id`` have the
Merkle root ``root``" (``merkle.py``, RFC 6962 layout, one leaf per log line), signed
with the installation key. It is written to ``checkpoints/<size>.json`` and recorded in
the log as a ``checkpoint`` event. Its root is 64 hex digits: short enough to print,
e-mail or publish, so that whoever holds one can later ask for

* an inclusion proof that an entry is in the log it vouches for (``prove_item``), and
* a consistency proof that a later log only grew from it (``prove_consistency``),

and check either without the tool (``export/verifier.py`` is a stdlib-only checker).
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ingest.errors import CustodyLogError, ItemNotFound, RegistryError

from .custody import canonical, utc_now
from .fsutil import atomic_write
from .keys import INSTALLATION, KeyRing
from .merkle import MerkleTree, leaf_hash, verify_consistency, verify_inclusion

if TYPE_CHECKING:
    from .core import Registry

FOLDER = "checkpoints"
FORMAT = "evidence-registry/checkpoint"
VERSION = 1


class NoCheckpoint(RegistryError):
    """No valid checkpoint; run `evidence checkpoint` first."""


class ProofError(RegistryError):
    """Cannot make the proof."""


@dataclass(frozen=True)
class Checkpoint:
    """A signed tree head."""

    registry_id: str
    size: int
    root: str
    time: str
    key: str
    sig: str = ""
    file: str = ""

    def body(self) -> dict[str, Any]:
        """What the signature covers."""
        return {
            "format": FORMAT,
            "version": VERSION,
            "registry_id": self.registry_id,
            "size": self.size,
            "root": self.root,
            "hash": "sha256",
            "time": self.time,
            "key": self.key,
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self.body(), "sig": self.sig}

    @classmethod
    def from_dict(cls, data: dict[str, Any], file: str = "") -> Checkpoint:
        """Parse a checkpoint.

        Raises:
            ValueError: Not a checkpoint of a known format.
        """
        if data.get("format") != FORMAT or data.get("hash") != "sha256":
            raise ValueError("not an evidence-registry checkpoint")
        size, root = data.get("size"), data.get("root")
        if not isinstance(size, int) or size < 0:
            raise ValueError("size is not a count")
        if not isinstance(root, str) or len(root) != 64:
            raise ValueError("root is not 64 hex digits")
        bytes.fromhex(root)
        fields = ("registry_id", "time", "key", "sig")
        if not all(isinstance(data.get(k), str) for k in fields):
            raise ValueError("a field is missing")
        return cls(data["registry_id"], size, root, data["time"], data["key"], data["sig"], file)

    def verify(self, keys: KeyRing) -> bool:
        """True when the signature is valid under a published key."""
        return keys.verify(self.key, canonical(self.body()), self.sig)

    def text(self) -> str:
        """The checkpoint as lines of text to print, e-mail or publish."""
        return "\n".join(
            [
                "evidence-registry checkpoint",
                f"registry   {self.registry_id}",
                f"size       {self.size}",
                f"root       {self.root}",
                f"time       {self.time}",
                f"key        {self.key}",
                f"signature  {self.sig}",
            ]
        )


def checkpoint_path(root: str, size: int) -> str:
    return os.path.join(root, FOLDER, f"{size:010d}.json")


def iter_checkpoint_files(root: str) -> Iterator[tuple[str, Checkpoint | None, str]]:
    """``(relative path, checkpoint or None, why not)`` for each file in
    ``checkpoints/``, by name."""
    folder = os.path.join(root, FOLDER)
    try:
        names = sorted(os.listdir(folder))
    except FileNotFoundError:
        return
    for name in names:
        if not name.endswith(".json") or name.startswith("."):
            continue
        rel = f"{FOLDER}/{name}"
        try:
            with open(os.path.join(folder, name), "rb") as fh:
                data = json.loads(fh.read())
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            yield rel, Checkpoint.from_dict(data, rel), ""
        except (OSError, ValueError) as exc:
            yield rel, None, str(exc)


def checkpoints(reg: Registry) -> list[Checkpoint]:
    """Every readable checkpoint with a valid signature, smallest first."""
    found = [cp for _, cp, _ in iter_checkpoint_files(reg.root) if cp is not None]
    return sorted((cp for cp in found if cp.verify(reg.keys)), key=lambda cp: cp.size)


def latest(reg: Registry) -> Checkpoint:
    """The checkpoint of the largest size.

    Raises:
        NoCheckpoint: There is none with a valid signature.
    """
    valid = checkpoints(reg)
    if not valid:
        raise NoCheckpoint(reg.root)
    return valid[-1]


def find(reg: Registry, ref: str) -> Checkpoint:
    """The checkpoint whose size is ``ref`` (or whose file name is ``ref``).

    Raises:
        NoCheckpoint: None matches.
    """
    for cp in checkpoints(reg):
        if ref in (str(cp.size), cp.file, os.path.basename(cp.file)):
            return cp
    raise NoCheckpoint(f"none of size or name {ref!r}")


def log_leaves(reg: Registry, size: int | None = None) -> list[bytes]:
    """Leaf hashes of the log's lines (the first ``size`` of them)."""
    leaves: list[bytes] = []
    for raw in reg.log.lines():
        if size is not None and len(leaves) >= size:
            break
        if not raw.complete:
            break
        leaves.append(leaf_hash(raw.line))
    return leaves


def make_checkpoint(reg: Registry, *, actor: str) -> Checkpoint:
    """Sign the log's current tree head, write it, and log a ``checkpoint`` event."""
    with reg.writing(actor):
        leaves = log_leaves(reg)
        head = reg.log.read_head()
        if len(leaves) != head.seq:
            raise CustodyLogError(
                f"log has {len(leaves)} lines, its head says {head.seq}; run verify"
            )
        signer = reg.keys.signer(INSTALLATION)
        tree = MerkleTree(leaves)
        cp = Checkpoint(
            registry_id=str(reg.info.get("registry_id", "")),
            size=len(leaves),
            root=tree.root().hex(),
            time=utc_now(),
            key=signer.id,
        )
        path = checkpoint_path(reg.root, cp.size)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        rel = os.path.relpath(path, reg.root).replace(os.sep, "/")
        signed = replace(cp, sig=signer.sign(canonical(cp.body())), file=rel)
        atomic_write(path, (json.dumps(signed.to_dict(), indent=2) + "\n").encode())
        reg.record(
            [
                {
                    "actor": actor,
                    "action": "checkpoint",
                    "details": {**signed.to_dict(), "file": rel},
                }
            ]
        )
        reg.save()
    return signed


def prove_item(reg: Registry, ref: str, checkpoint: Checkpoint | None = None) -> dict[str, Any]:
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


def prove_consistency(reg: Registry, old: str, new: str | None = None) -> dict[str, Any]:
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


def _tree_for(reg: Registry, cp: Checkpoint) -> MerkleTree:
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


def _public_keys(reg: Registry, ids: list[str]) -> dict[str, str]:
    """PEM text of each key, by id (so a proof carries what checks it)."""
    out = {}
    for kid in dict.fromkeys(ids):
        try:
            out[kid] = reg.keys.public_pem(kid).decode("ascii")
        except KeyError:
            continue
    return out


def raw_key_b64(pem: str) -> str:
    """The raw 32-byte Ed25519 key in base64, from its PEM (for stdlib verifiers)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    public = serialization.load_pem_public_key(pem.encode("ascii"))
    if not isinstance(public, Ed25519PublicKey):
        raise ValueError("not an Ed25519 key")
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")
