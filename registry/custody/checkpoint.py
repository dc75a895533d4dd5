"""Checkpoints: signed tree heads of the custody log, and the proofs made against them.

A checkpoint states "the first ``size`` entries of registry ``registry_id`` have the
Merkle root ``root``" (``merkle.py``, RFC 6962 layout, one leaf per log line), signed
with the installation key. It is written to ``checkpoints/<size>.json`` and recorded in
the log as a ``checkpoint`` event. Its root is 64 hex digits: short enough to print,
e-mail or publish, so that whoever holds one can later ask for

* an inclusion proof that an entry is in the log it vouches for (``prove_item``), and
* a consistency proof that a later log only grew from it (``prove_consistency``),

and check either without the tool (``proofs.py`` makes them; ``export/verifier.py`` is a
stdlib-only checker).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from registry.custody.events import checkpoint_made
from registry.custody.keys import INSTALLATION, KeyRing
from registry.custody.log import canonical, utc_now
from registry.custody.merkle import MerkleTree, leaf_hash
from registry.errors import CustodyLogError, NoCheckpoint
from registry.fsutil import atomic_write, pause_point

if TYPE_CHECKING:
    from registry.session import Session

FOLDER = "checkpoints"
FORMAT = "evidence-registry/checkpoint"
VERSION = 1


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

    def timestamp_message(self) -> bytes:
        """The bytes a trusted timestamp covers (its message imprint is their SHA-256):
        the signed checkpoint as canonical JSON, ``canonical(to_dict())``, i.e. every
        field of ``checkpoints/<size>.json`` including ``sig``, keys sorted, no spaces,
        UTF-8. Covering the signature binds the token to this signed tree head."""
        return canonical(self.to_dict())

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


def checkpoints(reg: Session) -> list[Checkpoint]:
    """Every readable checkpoint with a valid signature, smallest first."""
    found = [cp for _, cp, _ in iter_checkpoint_files(reg.root) if cp is not None]
    return sorted((cp for cp in found if cp.verify(reg.keys)), key=lambda cp: cp.size)


def latest(reg: Session) -> Checkpoint:
    """The checkpoint of the largest size.

    Raises:
        NoCheckpoint: There is none with a valid signature.
    """
    valid = checkpoints(reg)
    if not valid:
        raise NoCheckpoint(reg.root)
    return valid[-1]


def find(reg: Session, ref: str) -> Checkpoint:
    """The checkpoint whose size is ``ref`` (or whose file name is ``ref``).

    Raises:
        NoCheckpoint: None matches.
    """
    for cp in checkpoints(reg):
        if ref in (str(cp.size), cp.file, os.path.basename(cp.file)):
            return cp
    raise NoCheckpoint(f"none of size or name {ref!r}")


def log_leaves(reg: Session, size: int | None = None) -> list[bytes]:
    """Leaf hashes of the log's lines (the first ``size`` of them)."""
    leaves: list[bytes] = []
    for raw in reg.log.lines():
        if size is not None and len(leaves) >= size:
            break
        if not raw.complete:
            break
        leaves.append(leaf_hash(raw.line))
    return leaves


def make_checkpoint(reg: Session, *, actor: str) -> Checkpoint:
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
        pause_point("checkpoint.signed")
        atomic_write(path, (json.dumps(signed.to_dict(), indent=2) + "\n").encode())
        pause_point("checkpoint.written")
        reg.record([checkpoint_made(actor, {**signed.to_dict(), "file": rel})])
        pause_point("checkpoint.logged")
        reg.save()
    return signed
