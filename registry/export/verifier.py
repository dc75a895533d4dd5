#!/usr/bin/env python3
"""Check an evidence package (or a proof) from evidence-registry, with nothing but Python.

This file is copied into every BagIt export as ``verify_bag.py``. It needs only the
Python 3.8+ standard library, so whoever receives a package can check it without
installing or trusting the tool that made it:

    python3 verify_bag.py                  # the bag this script is in
    python3 verify_bag.py path/to/bag --root <64 hex digits published earlier>
    python3 verify_bag.py --proof proof.json [--root HEX]        # `evidence prove --json`
    python3 verify_bag.py --consistency proof.json               # `evidence prove --consistency`

For a bag it checks: the BagIt structure and Payload-Oxum; every payload file against
the SHA-256 and SHA-512 manifests (and that no file is unlisted); the tag manifests;
that each original's bytes hash to its item id and match the sizes and digests logged
when it was stored; that every custody entry is signed (Ed25519, RFC 8032, implemented
below) and hash-chained to the one before; that every entry is in the signed
checkpoint by its Merkle inclusion proof (RFC 6962 / RFC 9162); the checkpoint's own
signature; with ``--root``, that the checkpoint is the one whose root you were given;
and each RFC 3161 timestamp's imprint (``verify_timestamps.py``, next to this file).

Exit code 0 when every check passes, 1 otherwise; each check prints one line.
"""

# ruff: noqa: B905 - runs on Python 3.8+, where zip() has no strict=
from __future__ import annotations

import argparse
import base64
import hashlib
import importlib.util
import json
import os
import sys

# --- Ed25519 verification (RFC 8032 §5.1.7), for the signatures -----------------------

_P = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, _P - 2, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)


def _recover_x(y, sign):
    if y >= _P:
        return None
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P) % _P
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P:
        x = x * _SQRT_M1 % _P
    if (x * x - x2) % _P:
        return None
    if (x & 1) != sign:
        x = _P - x
    return x


def _add(a, b):
    # Extended coordinates (X, Y, Z, T), x = X/Z, y = Y/Z, x*y = T/Z.
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    aa = (y1 - x1) * (y2 - x2) % _P
    bb = (y1 + x1) * (y2 + x2) % _P
    cc = 2 * t1 * t2 * _D % _P
    dd = 2 * z1 * z2 % _P
    e, f, g, h = bb - aa, dd - cc, dd + cc, bb + aa
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _mul(s, point):
    result = (0, 1, 1, 0)
    while s:
        if s & 1:
            result = _add(result, point)
        point = _add(point, point)
        s >>= 1
    return result


def _equal(a, b):
    return (a[0] * b[2] - b[0] * a[2]) % _P == 0 and (a[1] * b[2] - b[1] * a[2]) % _P == 0


def _decompress(data):
    if len(data) != 32:
        return None
    y = int.from_bytes(data, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = _recover_x(y, sign)
    if x is None:
        return None
    return (x, y, 1, x * y % _P)


_GY = 4 * pow(5, _P - 2, _P) % _P
_G = (_recover_x(_GY, 0), _GY, 1, _recover_x(_GY, 0) * _GY % _P)


def ed25519_verify(public, message, signature):
    """True when ``signature`` (64 bytes) is ``public``'s (32 bytes) over ``message``."""
    if len(public) != 32 or len(signature) != 64:
        return False
    a = _decompress(public)
    r = _decompress(signature[:32])
    if a is None or r is None:
        return False
    s = int.from_bytes(signature[32:], "little")
    if s >= _L:
        return False
    k = int.from_bytes(hashlib.sha512(signature[:32] + public + message).digest(), "little") % _L
    return _equal(_mul(s, _G), _add(r, _mul(k, a)))


# --- Merkle proofs (RFC 9162 §2.1.3.2 and §2.1.4.2) ----------------------------------


def leaf_hash(data):
    return hashlib.sha256(b"\x00" + data).digest()


def _node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def inclusion_root(leaf, index, size, path):
    """The root an inclusion proof leads to, or None when the proof is malformed."""
    if not 0 <= index < size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = _node(p, r)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = _node(r, p)
        fn, sn = fn >> 1, sn >> 1
    return r if sn == 0 else None


def consistent(old_size, new_size, old_root, new_root, path):
    """True when ``path`` proves the tree ``old_root`` is a prefix of ``new_root``."""
    if not 0 <= old_size <= new_size:
        return False
    if old_size == new_size:
        return not path and old_root == new_root
    if old_size == 0:
        return not path
    if not path:
        return False
    path = list(path)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = _node(c, fr), _node(c, sr)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = _node(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == old_root and sr == new_root


# --- the registry's formats -------------------------------------------------------------


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def raw_key_from_pem(pem):
    """The 32 raw bytes of an Ed25519 public key in SubjectPublicKeyInfo PEM."""
    body = "".join(line for line in pem.strip().splitlines() if not line.startswith("-----"))
    der = base64.b64decode(body)
    # SPKI for Ed25519 is a fixed 12-byte prefix followed by the 32-byte key.
    if len(der) != 44 or der[:12] != bytes.fromhex("302a300506032b6570032100"):
        raise ValueError("not an Ed25519 public key")
    return der[12:]


def key_id(raw):
    return hashlib.sha256(raw).hexdigest()[:16]


def checkpoint_body(cp):
    keys = ("format", "version", "registry_id", "size", "root", "hash", "time", "key")
    return {k: cp.get(k) for k in keys}


class Report:
    def __init__(self):
        self.failures = self.passes = 0

    def check(self, ok, text):
        print(("ok    " if ok else "FAIL  ") + text)
        self.passes, self.failures = self.passes + bool(ok), self.failures + (not ok)
        return ok

    def check_none(self, found, text, label, shown=None):
        """Pass when nothing was ``found``; else name ``shown`` (the first ten) after ``label``."""
        shown = found[:10] if shown is None else shown
        return self.check(not found, text + (f"; {label} {shown}" if found else ""))


def _sig_ok(keys, kid, message, sig):
    """True when ``sig`` (base64) is key ``kid``'s Ed25519 signature of ``message``."""
    try:
        signature = base64.b64decode(sig, validate=True)
    except (ValueError, TypeError):  # not base64, or not text at all
        return False
    return kid in keys and ed25519_verify(keys[kid], message, signature)


def _signature_ok(entry, keys):
    message = canonical({k: v for k, v in entry.items() if k != "sig"})
    return _sig_ok(keys, entry.get("key"), message, entry.get("sig"))


def _signed(cp, keys):
    return _sig_ok(keys, cp.get("key"), canonical(checkpoint_body(cp)), cp.get("sig", ""))


def _checkpoint_ok(rep, cp, keys, root):
    size, key = cp.get("size"), cp.get("key")
    rep.check(_signed(cp, keys), f"checkpoint of size {size} is signed by key {key}")
    if root:
        rep.check(cp.get("root") == root.lower(), "checkpoint root is the one you were given")


def _keys_from_pems(pems):
    keys = {}
    for kid, pem in pems.items():
        raw = raw_key_from_pem(pem)
        if key_id(raw) == kid:
            keys[kid] = raw
    return keys


# --- bags -------------------------------------------------------------------------------


def _digest_file(path, algorithm):
    h = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _decode_manifest_path(text):
    # RFC 8493 §2.1.3: CR, LF and % in file paths are percent-encoded.
    return text.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")


def _read_manifest(path):
    entries = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.rstrip("\r\n")
            if line.strip():
                digest, _, name = line.partition(" ")
                entries[_decode_manifest_path(name.lstrip(" "))] = digest.lower()
    return entries


def _inside(bag, rel):
    full = os.path.realpath(os.path.join(bag, rel))
    return os.path.commonpath([os.path.realpath(bag), full]) == os.path.realpath(bag)


def _check_oxum(rep, bag):
    """Check bag-info.txt's Payload-Oxum against the payload files; return their paths."""
    payload = []
    for folder, _, files in os.walk(os.path.join(bag, "data")):
        for name in files:
            payload.append(os.path.relpath(os.path.join(folder, name), bag).replace(os.sep, "/"))
    info = {}
    if os.path.isfile(os.path.join(bag, "bag-info.txt")):
        with open(os.path.join(bag, "bag-info.txt"), encoding="utf-8") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                info[key.strip()] = value.strip()
    size = sum(os.path.getsize(os.path.join(bag, p)) for p in payload)
    oxum = info.get("Payload-Oxum")
    matches = f"Payload-Oxum {oxum} matches {size} bytes in {len(payload)} files"
    rep.check(oxum == f"{size}.{len(payload)}", matches)
    return payload


def _mismatched(bag, listed, algorithm):
    """The names in a manifest that are outside the bag, absent, or of another digest."""
    return [
        name
        for name, want in listed.items()
        if not _inside(bag, name)
        or not os.path.isfile(os.path.join(bag, name))
        or _digest_file(os.path.join(bag, name), algorithm) != want
    ]


def _check_manifests(rep, bag, payload):
    """Check the payload against the SHA-256 and SHA-512 manifests, tag files against theirs."""
    for algorithm in ("sha256", "sha512"):
        manifest = os.path.join(bag, f"manifest-{algorithm}.txt")
        if not rep.check(os.path.isfile(manifest), f"manifest-{algorithm}.txt is present"):
            continue
        listed = _read_manifest(manifest)
        bad = _mismatched(bag, listed, algorithm)
        matching = f"{len(listed) - len(bad)}/{len(listed)} payload files match their {algorithm}"
        rep.check_none(bad, matching, "wrong or missing:", ", ".join(bad[:5]))
        unlisted = sorted(set(payload) - set(listed))
        listing = f"every payload file is in manifest-{algorithm}.txt"
        rep.check_none(unlisted, listing, "unlisted:", ", ".join(unlisted[:5]))
        tagmanifest = os.path.join(bag, f"tagmanifest-{algorithm}.txt")
        if os.path.isfile(tagmanifest):
            bad = _mismatched(bag, _read_manifest(tagmanifest), algorithm)
            tags = f"tag files match tagmanifest-{algorithm}.txt"
            rep.check_none(bad, tags, "wrong:", ", ".join(bad))


def _load_json(path):
    """The JSON document in a UTF-8 file."""
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def _check_keys(rep, data):
    """Check that each public key matches its key id; return the good ones (raw, by id)."""
    key_index = _load_json(os.path.join(data, "keys", "keys.json"))
    pems = {}
    for kid in key_index:
        with open(os.path.join(data, "keys", f"{kid}.pem"), encoding="ascii") as fh:
            pems[kid] = fh.read()
    keys = _keys_from_pems(pems)
    matching = f"{len(keys)}/{len(key_index)} public keys match their key ids"
    rep.check(len(keys) == len(key_index), matching)
    return keys


def _check_signatures(rep, entries, keys):
    """Check that every custody entry carries a signature, and that it is valid."""
    unsigned = [e.get("seq") for e in entries if not e.get("sig") or not e.get("key")]
    rep.check_none(unsigned, f"all {len(entries)} custody entries carry a signature", "unsigned:")
    bad_sigs = [e.get("seq") for e in entries if not _signature_ok(e, keys)]
    valid = f"{len(entries) - len(bad_sigs)}/{len(entries)} signatures are valid"
    rep.check_none(bad_sigs, valid, "invalid:")


def _check_chain(rep, entries, lines):
    """Check that each entry names the hash of the one before it, in increasing order."""
    broken = []
    for (a, la), b in zip(zip(entries, lines), entries[1:]):
        if b.get("seq") == a.get("seq", 0) + 1 and b.get("prev") != hashlib.sha256(la).hexdigest():
            broken.append(b.get("seq"))
        if b.get("seq", 0) <= a.get("seq", 0):
            broken.append(b.get("seq"))
    rep.check_none(broken, "consecutive entries are hash-chained and in order", "broken at")


def _check_inclusion(rep, entries, lines, proofs, cp):
    """Check each entry's Merkle inclusion proof against the checkpoint's root."""
    cp_root, cp_size = bytes.fromhex(cp["root"]), cp["size"]
    unproven = []
    for entry, line in zip(entries, lines):
        proof = proofs.get(entry.get("seq"))
        ok = proof is not None and proof["leaf_index"] == entry.get("seq", 0) - 1
        if ok:
            path = [bytes.fromhex(p) for p in proof["audit_path"]]
            ok = inclusion_root(leaf_hash(line), proof["leaf_index"], cp_size, path) == cp_root
        if not ok:
            unproven.append(entry.get("seq"))
    proven = f"{len(entries) - len(unproven)}/{len(entries)} entries are in the checkpoint's"
    rep.check_none(unproven, proven + " Merkle tree", "not:")


def _check_originals(rep, bag, index, entries):
    """Check each original: present, hashing to its id, as its item.stored entry logged."""
    stored = {e.get("sha256"): e for e in entries if e.get("action") == "item.stored"}
    for item in index["items"]:
        sha, original = item["sha256"], item["original"]
        present = _inside(bag, original) and os.path.isfile(os.path.join(bag, original))
        if not rep.check(present, f"{sha[:16]}… original {original} is present"):
            continue
        path = os.path.join(bag, original)
        rep.check(_digest_file(path, "sha256") == sha, f"{sha[:16]}… original hashes to its id")
        logged = (stored.get(sha) or {}).get("details") or {}
        rep.check(
            bool(logged)
            and logged.get("size") == os.path.getsize(path)
            and logged.get("sha1") == _digest_file(path, "sha1")
            and logged.get("md5") == _digest_file(path, "md5"),
            f"{sha[:16]}… size, SHA-1 and MD5 match its logged item.stored entry",
        )


def verify_bag(bag, root=None):
    """Check a bag: BagIt files, keys, checkpoint, custody log, originals; return the Report."""
    rep = Report()
    bag = os.path.abspath(bag)
    rep.check(os.path.isfile(os.path.join(bag, "bagit.txt")), "bagit.txt is present")
    payload = _check_oxum(rep, bag)
    _check_manifests(rep, bag, payload)
    data = os.path.join(bag, "data")
    keys = _check_keys(rep, data)
    cp = _load_json(os.path.join(data, "custody", "checkpoint.json"))
    _checkpoint_ok(rep, cp, keys, root)
    proofs = _load_json(os.path.join(data, "custody", "proofs.json"))["proofs"]
    proofs = {p["seq"]: p for p in proofs}
    with open(os.path.join(data, "custody", "custody.jsonl"), "rb") as fh:
        lines = [line[:-1] if line.endswith(b"\n") else line for line in fh]
    entries = [json.loads(line) for line in lines]
    _check_signatures(rep, entries, keys)
    _check_chain(rep, entries, lines)
    _check_inclusion(rep, entries, lines, proofs, cp)
    _check_originals(rep, bag, _load_json(os.path.join(data, "index.json")), entries)
    _check_timestamps(rep, bag, cp, keys)
    return rep


def _check_timestamps(rep, bag, cp, keys):
    """The RFC 3161 tokens, by ``verify_timestamps.py`` (next to this script)."""
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "verify_timestamps.py")
    if rep.check(os.path.isfile(here), "verify_timestamps.py is next to this script"):
        spec = importlib.util.spec_from_file_location("verify_timestamps", here)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.check_timestamps(rep, bag, cp, lambda c: _signed(c, keys), consistent)


def verify_proof(path, root=None):
    rep = Report()
    bundle = _load_json(path)
    keys = _keys_from_pems(bundle.get("public_keys") or {})
    cp = bundle["checkpoint"]
    _checkpoint_ok(rep, cp, keys, root)
    for proof in bundle["proofs"]:
        line = proof["entry"].encode("utf-8")
        entry = json.loads(line)
        path_ = [bytes.fromhex(p) for p in proof["audit_path"]]
        got = inclusion_root(leaf_hash(line), proof["leaf_index"], cp["size"], path_)
        rep.check(
            got == bytes.fromhex(cp["root"]),
            f"entry {proof['seq']} ({entry.get('action')}) is in the checkpoint's tree",
        )
        rep.check(_signature_ok(entry, keys), f"entry {proof['seq']} signature is valid")
    return rep


def verify_consistency(path, root=None):
    rep = Report()
    bundle = _load_json(path)
    keys = _keys_from_pems(bundle.get("public_keys") or {})
    old, new = bundle["old"], bundle["new"]
    _checkpoint_ok(rep, old, keys, root)
    _checkpoint_ok(rep, new, keys, None)
    path_ = [bytes.fromhex(p) for p in bundle["consistency_path"]]
    roots = bytes.fromhex(old["root"]), bytes.fromhex(new["root"])
    rep.check(
        consistent(old["size"], new["size"], *roots, path_),
        f"the log of {new['size']} entries only grew from the one of {old['size']}",
    )
    return rep


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bag", nargs="?", default=os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("--proof", help="an inclusion proof from `evidence prove --json`")
    parser.add_argument("--consistency", help="a consistency proof from `evidence prove`")
    parser.add_argument("--root", help="the checkpoint root you were given (64 hex digits)")
    args = parser.parse_args(argv)
    try:
        if args.proof:
            rep = verify_proof(args.proof, args.root)
        elif args.consistency:
            rep = verify_consistency(args.consistency, args.root)
        else:
            rep = verify_bag(args.bag, args.root)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"FAIL  cannot read the package: {type(exc).__name__}: {exc}")
        return 1
    print(f"{'UN' if rep.failures else ''}VERIFIED: {rep.passes} passed, {rep.failures} failed")
    return 0 if not rep.failures else 1


if __name__ == "__main__":
    sys.exit(main())
