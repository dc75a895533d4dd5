"""The ``bagit`` export: a BagIt package (RFC 8493) that anyone can check offline.

Layout::

    bagit.txt  bag-info.txt  manifest-sha256.txt  manifest-sha512.txt
    tagmanifest-sha256.txt  tagmanifest-sha512.txt
    verify_bag.py            standalone checker, Python standard library only
    README.txt               what is in the bag and how to check it
    data/index.json          registry id, case, and for each item its files
    data/originals/<sha256>/<original name, made safe>   the vault's bytes
    data/items/<sha256>.json                              the item's metadata
    data/custody/custody.jsonl   every log entry about the items, byte for byte
    data/custody/checkpoint.json the signed tree head the entries are proven against
    data/custody/proofs.json     a Merkle inclusion proof for each entry
    data/keys/<key id>.pem, data/keys/keys.json          the public keys that signed
    verify_timestamps.py     its checker of RFC 3161 timestamps (also stdlib only)
    data/timestamps/timestamps.json   each RFC 3161 token of a checkpoint up to the
                             bag's: its files, what it says, and a consistency proof
                             from its checkpoint to the bag's
    data/timestamps/<size>.<n>.tsr, <size>.json, tsa-ca/<sha256>.pem
                             the tokens (DER TimeStampResp), their checkpoints, and
                             the trust anchors they were checked against

The custody entries are a slice of the log (entries about other items are left out, as
they may belong to other cases); the inclusion proofs show each is in the log whose
root the checkpoint signs, so the slice proves as much as the whole log would.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

from registry.custody import Checkpoint, KeyRing, MerkleTree, leaf_hash
from registry.export.gather import Selection
from registry.export.safepath import OutDir, Written, safe_name
from registry.fsutil import pause_point
from registry.version import TOOL_NAME, __version__

VERIFIER_NAME = "verify_bag.py"
TIMESTAMP_VERIFIER = "verify_timestamps.py"


def export_bag(
    sel: Selection,
    out: OutDir,
    *,
    vault_path: Any,
    keys: KeyRing,
    leaves: list[bytes],
    checkpoint: Checkpoint,
    actor: str,
    timestamps: list[dict[str, Any]] = (),  # type: ignore[assignment]
) -> list[Written]:
    """Write the bag. ``leaves`` are the leaf hashes of the checkpoint's log prefix;
    ``timestamps``: the stored tokens (``custody.timestamps.stored_tokens``)."""
    payload: list[Written] = []
    index_items = []
    for item in sel.items:
        sha = item["sha256"]
        name = _original_name(item)
        payload.append(out.copy(vault_path(sha), "data", "originals", sha, name))
        original = payload[-1].rel
        metadata = out.write("data", "items", f"{sha}.json", data=_json(item))
        payload.append(metadata)
        index_items.append({"sha256": sha, "original": original, "metadata": metadata.rel})

    tree = MerkleTree(leaves)
    if tree.root().hex() != checkpoint.root:
        raise ValueError("the log no longer matches the checkpoint")
    lines = [ll for ll in sel.lines if ll.index < checkpoint.size]
    log = "".join(ll.line + "\n" for ll in lines).encode("utf-8")
    payload.append(out.write("data", "custody", "custody.jsonl", data=log))
    proofs = [
        {
            "seq": ll.seq,
            "leaf_index": ll.index,
            "leaf_hash": leaf_hash(ll.line.encode("utf-8")).hex(),
            "audit_path": [p.hex() for p in tree.inclusion_proof(ll.index, checkpoint.size)],
        }
        for ll in lines
    ]
    cp = checkpoint.to_dict()
    payload.append(
        out.write(
            "data", "custody", "proofs.json", data=_json({"checkpoint": cp, "proofs": proofs})
        )
    )
    payload.append(out.write("data", "custody", "checkpoint.json", data=_json(cp)))
    payload.extend(_timestamps(out, timestamps, tree, checkpoint))

    keys_used = dict(sel.public_keys)
    if checkpoint.key not in keys_used:
        try:
            pem = keys.public_pem(checkpoint.key).decode("ascii")
            keys_used[checkpoint.key] = {"actor": "installation", "pem": pem}
        except KeyError:
            pass  # the verifier reports the checkpoint's key as absent
    key_index = {}
    for kid, key in sorted(keys_used.items()):
        payload.append(out.write("data", "keys", f"{kid}.pem", data=key["pem"].encode("ascii")))
        key_index[kid] = {"actor": key.get("actor"), "file": f"data/keys/{kid}.pem"}
    payload.append(out.write("data", "keys", "keys.json", data=_json(key_index)))

    now = datetime.now(UTC)
    index = {
        "format": "evidence-registry/bag",
        "version": 1,
        "registry_id": sel.registry_id,
        "case": sel.case,
        "exported_at": now.isoformat(),
        "exported_by": actor,
        "tool": {"name": TOOL_NAME, "version": __version__},
        "checkpoint": {"size": checkpoint.size, "root": checkpoint.root},
        "items": index_items,
    }
    payload.append(out.write("data", "index.json", data=_json(index)))
    pause_point("export.payload")

    tags = [
        out.write("bagit.txt", data=b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"),
        out.write("manifest-sha256.txt", data=_manifest(payload, "sha256")),
        out.write("manifest-sha512.txt", data=_manifest(payload, "sha512")),
    ]
    info = {
        "Bag-Software-Agent": f"{TOOL_NAME} {__version__}",
        "Bagging-Date": now.date().isoformat(),
        "External-Identifier": sel.registry_id,
        "External-Description": "Evidence items with their signed chain of custody; "
        f"run `python3 {VERIFIER_NAME}` to check them",
        "Internal-Sender-Identifier": sel.case or "all items",
        "Payload-Oxum": f"{sum(w.size for w in payload)}.{len(payload)}",
        "Evidence-Items": str(len(sel.items)),
        "Evidence-Checkpoint-Size": str(checkpoint.size),
        "Evidence-Checkpoint-Root": checkpoint.root,
        "Evidence-Exported-By": actor,
    }
    tags.append(out.write("bag-info.txt", data=_bag_info(info)))
    for source, name in (("verifier.py", VERIFIER_NAME), (TIMESTAMP_VERIFIER, TIMESTAMP_VERIFIER)):
        with open(os.path.join(os.path.dirname(__file__), source), "rb") as fh:
            tags.append(out.write(name, data=fh.read()))
    tags.append(out.write("README.txt", data=_readme(sel, checkpoint).encode("utf-8")))
    tags.append(out.write("tagmanifest-sha256.txt", data=_manifest(tags, "sha256")))
    tags.append(out.write("tagmanifest-sha512.txt", data=_manifest(tags[:-1], "sha512")))
    return payload + tags


def _timestamps(
    out: OutDir, tokens: list[dict[str, Any]], tree: MerkleTree, checkpoint: Checkpoint
) -> list[Written]:
    """The tokens of checkpoints the bag's checkpoint grew from (a token on an earlier
    checkpoint dates the entries before it), each with a consistency proof to it."""
    written: dict[str, Written] = {}
    index = []
    for token in tokens:
        d = token["details"]
        size = d.get("size")
        if (
            not isinstance(size, int)
            or size > checkpoint.size
            or tree.root(size).hex() != d.get("root")
        ):
            continue  # a later checkpoint, or one the log no longer matches (verify says)
        names = {
            "token": os.path.basename(str(d["file"])),
            "checkpoint": os.path.basename(str(d["checkpoint"])),
            "trust_anchor": f"tsa-ca/{d['trust_anchor']['sha256']}.pem",
        }
        for key, data in (
            ("token", token["der"]),
            ("checkpoint", token["checkpoint"]),
            ("trust_anchor", token["anchor_pem"]),
        ):
            if names[key] not in written:
                written[names[key]] = out.write(
                    "data", "timestamps", *names[key].split("/"), data=data
                )
        proof = tree.consistency_proof(size, checkpoint.size)
        fields = ("tsa", "gen_time", "serial", "policy", "imprint", "size", "root", "tsa_name")
        index.append(
            {
                **{k: f"data/timestamps/{v}" for k, v in names.items()},
                **{k: d.get(k) for k in fields},
                "consistency_path": [p.hex() for p in proof],
            }
        )
    if not index:
        return []
    listing = out.write("data", "timestamps", "timestamps.json", data=_json(index))
    return [*written.values(), listing]


def _original_name(item: dict[str, Any]) -> str:
    for s in item.get("sightings") or []:
        if s.get("original_name"):
            return safe_name(str(s["original_name"]), default="original")
    return "original"


def _manifest(files: list[Written], algorithm: str) -> bytes:
    lines = sorted(f"{getattr(w, algorithm)}  {_encode_path(w.rel)}\n" for w in files)
    return "".join(lines).encode("utf-8")


def _encode_path(rel: str) -> str:
    # RFC 8493 §2.1.3 (safe names never hold these; the encoding is kept for safety).
    return rel.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _bag_info(info: dict[str, str]) -> bytes:
    lines = []
    for key, value in info.items():
        flat = " ".join(str(value).split())  # a case id from outside may hold newlines
        lines.append(f"{key}: {flat}\n")
    return "".join(lines).encode("utf-8")


def _json(obj: Any) -> bytes:
    return (json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8")


def _readme(sel: Selection, cp: Checkpoint) -> str:
    return f"""Evidence package from evidence-registry {__version__}

Registry:   {sel.registry_id}
Case:       {" ".join((sel.case or "all items").split())}
Items:      {len(sel.items)}
Checkpoint: size {cp.size}, root {cp.root}

data/originals/  the original files, byte for byte as received (folder = SHA-256)
data/items/      what the registry recorded about each (metadata, Content Credentials
                 (C2PA) as read at ingest with their manifest store, sightings, notes)
data/custody/    every chain-of-custody entry about the items, signed (Ed25519),
                 with a Merkle inclusion proof of each in the signed checkpoint
data/keys/       the public keys that made the signatures
data/timestamps/ RFC 3161 timestamps of checkpoints by time-stamping authorities, if
                 any: each proves the entries before its checkpoint existed at its
                 genTime ({TIMESTAMP_VERIFIER} prints the openssl command that checks
                 each token's signature)

To check this package you need Python 3.8 or later and nothing else:

    python3 {VERIFIER_NAME}

To also check that the checkpoint is the one the registry published (for instance the
root it e-mailed you, or printed in a report), give that root:

    python3 {VERIFIER_NAME} --root {cp.root}

The package is a BagIt bag (RFC 8493); any BagIt tool can check its manifests too.
"""
