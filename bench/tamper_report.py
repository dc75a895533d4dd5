"""What verify reports for each kind of tampering (the closing note of issue 5).

    PYTHONPATH=. python bench/tamper_report.py

Builds the registry of tests/test_tamper.py (``support.tamper.build_registry``: 15
entries, a checkpoint of the first 13), applies each tampering to a fresh copy, and
prints every problem verify reports.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from registry import Registry
from registry.custody.keys import Signer
from registry.custody.log import canonical, entry_hash, signed_message
from registry.verify import check
from support.tamper import (
    build_registry,
    flip,
    log_lines,
    replace_public_key,
    resign_log,
    write_head,
    write_lines,
)


def fresh(template):
    """A working copy of the template registry, replacing the previous one."""
    root = template.parent / "work"
    if root.exists():
        for p in root.rglob("*"):
            os.chmod(p, 0o755 if p.is_dir() else 0o644)
        shutil.rmtree(root)
    shutil.copytree(template, root)
    return Registry.open(str(root))


def t_flip(where, seq):
    def f(reg):
        lines = log_lines(reg)
        lines[seq - 1] = flip(lines[seq - 1], where)
        write_lines(reg, lines)

    return f


def t_delete(reg):
    lines = log_lines(reg)
    del lines[5]
    write_lines(reg, lines)


def t_delete3(reg):
    lines = log_lines(reg)
    del lines[2:5]
    write_lines(reg, lines)


def t_insert_copy(reg):
    lines = log_lines(reg)
    lines.insert(9, lines[4])
    write_lines(reg, lines)


def t_insert_forged(reg):
    lines = log_lines(reg)
    f = json.loads(lines[4])
    f["details"]["source_url"] = "https://example.org/fabricated"
    lines.insert(5, canonical(f))
    write_lines(reg, lines)


def t_insert_unknown_key(reg):
    lines = log_lines(reg)
    b = json.loads(lines[6])
    s = Signer("m", Ed25519PrivateKey.generate())
    f = {**b, "seq": 8, "actor": "mallory", "prev": entry_hash(lines[6]), "key": s.id}
    f.pop("sig")
    f["sig"] = s.sign(signed_message(f))
    lines.insert(7, canonical(f))
    write_lines(reg, lines)


def t_append(rewrite):
    def f(reg):
        lines = log_lines(reg)
        x = json.loads(lines[-1])
        x.update(seq=16, prev=entry_hash(lines[-1]))
        x["details"] = {"text": "planted"}
        lines.append(canonical(x))
        write_lines(reg, lines)
        if rewrite:
            write_head(reg, lines)

    return f


def t_swap(reg):
    lines = log_lines(reg)
    lines[6], lines[7] = lines[7], lines[6]
    write_lines(reg, lines)


def t_move(reg):
    lines = log_lines(reg)
    lines.append(lines.pop(2))
    write_lines(reg, lines)


def t_trunc(reg):
    write_lines(reg, log_lines(reg)[:-2])


def t_trunc_mid(reg):
    with open(reg.log.path, "r+b") as fh:
        fh.truncate(reg.log.size() - 100)


def t_trunc_head(reg):
    lines = log_lines(reg)[:11]
    write_lines(reg, lines)
    write_head(reg, lines)


def t_resign(reg):
    entries = [json.loads(line) for line in log_lines(reg)]
    entries[4]["details"]["source_url"] = "https://example.org/rewritten"
    resign_log(reg, entries)


def cpfile(reg):
    return Path(reg.root) / "checkpoints" / "0000000013.json"


def t_cp_edit(reg):
    p = cpfile(reg)
    d = json.loads(p.read_text())
    d["root"] = "0" * 64
    p.write_text(json.dumps(d))


def t_cp_delete(reg):
    cpfile(reg).unlink()


def t_key_alice(reg):
    replace_public_key(reg, list(reg.log.entries())[1]["details"]["key_id"])


def t_key_inst(reg):
    replace_public_key(reg, reg.info["installation_key"])


def t_key_delete(reg):
    Path(reg.keys.public_folder, reg.info["installation_key"] + ".pem").unlink()


def t_vault_flip(reg):
    p = reg.vault.path(reg.catalog.shas()[1])
    os.chmod(p, 0o644)
    d = bytearray(Path(p).read_bytes())
    d[len(d) // 2] ^= 1
    Path(p).write_bytes(bytes(d))


def t_vault_delete(reg):
    os.unlink(reg.vault.path(reg.catalog.shas()[2]))


def t_catalog(reg):
    shard = Path(reg.catalog_path) / "shard-000000.json"
    data = json.loads(shard.read_text())
    doc = next(iter(data["items"].values()))
    doc["size"] += 1
    shard.write_text(json.dumps(data))


def t_log_deleted(reg):
    os.unlink(reg.log.path)


def t_head_garbled(reg):
    Path(reg.log.head_path).write_text("not json")


CASES = [
    (f"flip a byte in entry {s} ({w})", t_flip(w, s))
    for s in (4, 14, 15)
    for w in ("details", "signature", "sequence", "previous hash", "actor", "structure", "non-utf8")
]
CASES += [
    ("delete entry 6", t_delete),
    ("delete entries 3-5", t_delete3),
    ("insert a copy of entry 5 after entry 9", t_insert_copy),
    ("insert a forged entry (changed copy of 5)", t_insert_forged),
    ("insert an entry signed by an unpublished key", t_insert_unknown_key),
    ("append a forged entry", t_append(False)),
    ("append a forged entry, rewrite head", t_append(True)),
    ("swap entries 7 and 8", t_swap),
    ("move entry 3 to the end", t_move),
    ("truncate: cut the last 2 entries", t_trunc),
    ("truncate inside the last entry", t_trunc_mid),
    ("truncate to 11 entries and rewrite the head", t_trunc_head),
    (
        "change entry 5, re-sign the log with the installation key, rewrite head + catalogue",
        t_resign,
    ),
    ("edit the checkpoint's root", t_cp_edit),
    ("delete the checkpoint file", t_cp_delete),
    ("replace alice's public key", t_key_alice),
    ("replace the installation public key", t_key_inst),
    ("delete the installation public key", t_key_delete),
    ("flip a byte of a vault file", t_vault_flip),
    ("delete a vault file", t_vault_delete),
    ("edit a catalogue record's size", t_catalog),
    ("delete the custody log", t_log_deleted),
    ("garble the head file", t_head_garbled),
]


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    base = Path(tempfile.mkdtemp())
    build_registry(base)
    template = base / "reg"
    for name, fn in CASES:
        r = fresh(template)
        fn(r)
        rep = check(r)
        print(f"### {name}")
        for p in rep.problems:
            print(f"  {p.code}: {p.message}")


if __name__ == "__main__":
    main()
