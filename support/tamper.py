"""Tampering with a registry: the registry the tamper tests and ``bench/tamper_report.py``
damage, reading and rewriting the custody log's lines and head, flipping a byte in a
chosen part of an entry, re-signing the whole log, and replacing a public key."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from registry import Registry, Submission
from registry.custody.actors import create_actor_key
from registry.custody.checkpoint import make_checkpoint
from registry.custody.log import canonical, entry_hash, signed_message
from registry.custody.notes import add_note
from registry.store.catalog import rebuild as rebuild_catalog
from support.media import write_jpeg


def build_registry(base: Path) -> Registry:
    """A registry at ``base/reg`` of three photos written to ``base/media``. Its log:
    1 registry.created, 2 key.created (alice), 3-11 three photos (item.stored,
    metadata.extracted, sighting.added each), 12 a second sighting, 13 a note, 14 the
    checkpoint of entries 1-13, 15 another note."""
    media = base / "media"
    for i, name in enumerate(("a.jpg", "b.jpg", "c.jpg"), start=1):
        write_jpeg(media / name, i, size=(160, 120))
    reg = Registry.open(str(base / "reg"), create=True, actor="alice")
    create_actor_key(reg, "alice")
    reg.ingest([str(media)], Submission(actor="alice", case="C1"))
    reg.ingest([str(media / "a.jpg")], Submission(actor="bob", case="C2"))
    sha = reg.catalog.shas()[0]
    add_note(reg, sha, "first note", actor="bob")
    make_checkpoint(reg, actor="alice")
    add_note(reg, sha, "second note", actor="carol")
    return reg


def log_lines(reg: Registry) -> list[bytes]:
    """The custody log's lines, without their newlines."""
    with open(reg.log.path, "rb") as fh:
        return fh.read().splitlines()


def write_lines(reg: Registry, lines: list[bytes]) -> None:
    """Replace the custody log with ``lines`` (each followed by a newline)."""
    with open(reg.log.path, "wb") as fh:
        fh.write(b"".join(line + b"\n" for line in lines))


def flip(line: bytes, where: str) -> bytes:
    """``line`` with one byte changed in the part ``where`` names: "details",
    "signature", "sequence", "previous hash", "actor", "structure" (no longer a JSON
    object) or "non-utf8" (a byte that is not UTF-8)."""
    if where == "structure":
        return b"[" + line[1:]
    if where == "non-utf8":
        return line[:40] + b"\xff" + line[41:]
    marker = {
        "details": b'"details":{',
        "signature": b'"sig":"',
        "sequence": b'"seq":',
        "previous hash": b'"prev":"',
        "actor": b'"actor":"',
    }[where]
    at = line.index(marker) + len(marker)
    if where == "details":
        at = line.index(b'"', at + 1) + 1  # inside the first key's value
    old = line[at : at + 1]
    new = b"7" if old != b"7" else b"8"
    if where == "actor":
        new = b"m" if old != b"m" else b"n"
    return line[:at] + new + line[at + 1 :]


def write_head(reg: Registry, lines: list[bytes]) -> None:
    """Rewrite the head file to vouch for the last of ``lines`` (as the whole log)."""
    head = {"seq": len(lines), "hash": entry_hash(lines[-1]), "offset": reg.log.size()}
    Path(reg.log.head_path).write_bytes(canonical(head) + b"\n")


def resign_log(reg: Registry, entries: list[dict[str, Any]]) -> None:
    """Make ``entries`` the whole log, chained afresh and signed with the installation
    key, and rewrite the head file and the catalogue to match: what whoever holds that
    key can do, so that chain, signatures and head all check out."""
    signer = reg.keys.signer()
    prev, lines = "0" * 64, []
    for entry in entries:
        entry["prev"] = prev
        entry["key"] = signer.id
        entry.pop("sig")
        entry["sig"] = signer.sign(signed_message(entry))
        lines.append(canonical(entry))
        prev = entry_hash(lines[-1])
    write_lines(reg, lines)
    write_head(reg, lines)
    fresh = rebuild_catalog(
        ((json.loads(line), entry_hash(line), 0) for line in lines), reg.catalog_path + ".new"
    )
    fresh.flush()
    shutil.rmtree(reg.catalog_path)
    os.replace(reg.catalog_path + ".new", reg.catalog_path)


def replace_public_key(reg: Registry, kid: str) -> None:
    """Overwrite the published public key file of ``kid`` with a new, unrelated key."""
    pem = (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    Path(reg.keys.public_folder, f"{kid}.pem").write_bytes(pem)
