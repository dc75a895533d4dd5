"""Check the RFC 3161 timestamps in an evidence package, with nothing but Python.

Copied into every BagIt export next to ``verify_bag.py``, which runs it; like that
script it needs only the Python 3.8+ standard library. For each token listed in
``data/timestamps/timestamps.json`` it checks that the token is granted and that its
message imprint is the SHA-256 of the signed checkpoint it belongs to (that
checkpoint as canonical JSON, signature included); ``verify_bag.py`` checks that
checkpoint's signature and that the log the bag is proven against grew from it. The
token's own CMS signature and certificate chain are not checked here: for each token
this prints the ``openssl ts -verify`` command that checks them against the trust
anchor in ``data/timestamps/tsa-ca/``.

To read the imprint it walks the token's DER: definite lengths only, tags of one byte,
nothing but the path ``TimeStampResp.timeStampToken`` -> ``SignedData`` ->
``encapContentInfo`` -> ``TSTInfo`` -> ``messageImprint``, ``serialNumber``,
``genTime``.
"""

from __future__ import annotations

import calendar
import hashlib
import json
import os
import shlex
import time

SIGNED_DATA = bytes.fromhex("2a864886f70d010702")  # 1.2.840.113549.1.7.2
TST_INFO = bytes.fromhex("2a864886f70d0109100104")  # 1.2.840.113549.1.9.16.1.4
SHA256 = bytes.fromhex("608648016503040201")  # 2.16.840.1.101.3.4.2.1
_STATUS = {0: "granted", 1: "granted with modifications"}
_SEQUENCE, _SET, _INTEGER, _OCTETS, _OID, _GENTIME, _CONTEXT0 = (
    0x30,
    0x31,
    0x02,
    0x04,
    0x06,
    0x18,
    0xA0,
)


def _element(data, pos, end):
    """``(tag, start, end)`` of the DER element at ``pos`` (its value is start:end)."""
    if pos + 2 > end:
        raise ValueError("DER ends inside an element's header")
    tag, length = data[pos], data[pos + 1]
    if tag & 0x1F == 0x1F:
        raise ValueError("DER tag of more than one byte")
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        if not 1 <= count <= 4 or pos + count > end:
            raise ValueError("DER length is indefinite or too long")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if pos + length > end:
        raise ValueError("DER element runs past its end")
    return tag, pos, pos + length


def children(data, start=0, end=None, want=None):
    """The elements inside ``data[start:end]``; ``want``: the tags they must start with."""
    end = len(data) if end is None else end
    found, pos = [], start
    while pos < end:
        found.append(_element(data, pos, end))
        pos = found[-1][2]
    for i, tag in enumerate(want or ()):
        if i >= len(found) or found[i][0] != tag:
            raise ValueError(f"DER element {i} is not of tag {tag:#04x}")
    return found


def read_token(der):
    """``{"status", "imprint_sha256", "imprint", "serial", "gen_time"}`` of a DER
    ``TimeStampResp`` (``imprint`` is None when the token has none).

    Raises:
        ValueError: Not the DER of a time-stamp response.
    """
    [(_, start, end)] = children(der, want=[_SEQUENCE])
    parts = children(der, start, end, want=[_SEQUENCE])
    status = children(der, parts[0][1], parts[0][2], want=[_INTEGER])[0]
    out = {"status": int.from_bytes(der[status[1] : status[2]], "big", signed=True)}
    out.update(imprint=None, imprint_sha256=False, serial=None, gen_time=None)
    if len(parts) < 2:
        return out
    info = children(der, parts[1][1], parts[1][2], want=[_OID, _CONTEXT0])
    if der[info[0][1] : info[0][2]] != SIGNED_DATA:
        raise ValueError("the token is not CMS SignedData")
    [signed] = children(der, info[1][1], info[1][2], want=[_SEQUENCE])
    fields = children(der, signed[1], signed[2], want=[_INTEGER, _SET, _SEQUENCE])
    encap = children(der, fields[2][1], fields[2][2], want=[_OID, _CONTEXT0])
    if der[encap[0][1] : encap[0][2]] != TST_INFO:
        raise ValueError("the signed content is not a TSTInfo")
    [octets] = children(der, encap[1][1], encap[1][2], want=[_OCTETS])
    [tst] = children(der, octets[1], octets[2], want=[_SEQUENCE])
    want = [_INTEGER, _OID, _SEQUENCE, _INTEGER, _GENTIME]
    _, _, imprint, serial, gen_time = children(der, tst[1], tst[2], want=want)[:5]
    algorithm, message = children(der, imprint[1], imprint[2], want=[_SEQUENCE, _OCTETS])
    alg_oid = children(der, algorithm[1], algorithm[2], want=[_OID])[0]
    out["imprint_sha256"] = der[alg_oid[1] : alg_oid[2]] == SHA256
    out["imprint"] = der[message[1] : message[2]]
    out["serial"] = int.from_bytes(der[serial[1] : serial[2]], "big")
    out["gen_time"] = der[gen_time[1] : gen_time[2]].decode("ascii")
    return out


def epoch(gen_time):
    """Seconds since 1970 of a GeneralizedTime such as ``20250101120000Z`` or
    ``20250101120000.25Z`` (fractions dropped)."""
    return calendar.timegm(time.strptime(gen_time[:14], "%Y%m%d%H%M%S"))


def iso(gen_time):
    """A GeneralizedTime as ISO 8601 (UTC, whole seconds)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch(gen_time)))


def openssl_command(token, digest, anchor, gen_time):
    """The command that checks a token's signature and chain at its genTime."""
    args = ["openssl", "ts", "-verify", "-digest", digest, "-in", token, "-CAfile", anchor]
    args += ["-attime", str(epoch(gen_time))]
    return " ".join(shlex.quote(a) for a in args)


def _canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _inside(bag, rel):
    root = os.path.realpath(bag)
    return os.path.commonpath([root, os.path.realpath(os.path.join(bag, rel))]) == root


def check_timestamps(rep, bag, proven, checkpoint_ok, consistent):
    """Check each token of ``data/timestamps/`` (``rep``: verify_bag's Report;
    ``proven``: the checkpoint the bag is proven against; ``checkpoint_ok(cp)``:
    whether a checkpoint's signature holds; ``consistent``: the consistency check)."""
    index_path = os.path.join(bag, "data", "timestamps", "timestamps.json")
    if not os.path.isfile(index_path):
        print("      (no RFC 3161 timestamp in this package)")
        return
    with open(index_path, encoding="utf-8") as fh:
        tokens = json.load(fh)
    for token in tokens:
        files = [token["token"], token["checkpoint"], token["trust_anchor"]]
        outside = [f for f in files if not _inside(bag, f)]
        if not rep.check(not outside, f"token {token['token']} and its files are in the bag"):
            continue
        with open(os.path.join(bag, token["checkpoint"]), encoding="utf-8") as fh:
            cp = json.load(fh)
        with open(os.path.join(bag, token["token"]), "rb") as fh:
            der = fh.read()
        name = f"token {token['token']}"
        try:
            read = read_token(der)
        except ValueError as exc:
            rep.check(False, f"{name} can be read: {exc}")
            continue
        digest = hashlib.sha256(_canonical(cp)).digest()
        when = iso(read["gen_time"]) if read["gen_time"] else "none"
        status = _STATUS.get(read["status"], f"status {read['status']}, not granted")
        rep.check(
            read["status"] in _STATUS,
            f"{name} by {token.get('tsa')}: {status}, genTime {when}, serial {read['serial']}",
        )
        size = cp.get("size")
        rep.check(
            read["imprint_sha256"] and read["imprint"] == digest,
            f"{name} covers checkpoint {size}: its imprint is the SHA-256 of {token['checkpoint']}",
        )
        rep.check(checkpoint_ok(cp), f"checkpoint {size} is signed by key {cp.get('key')}")
        path = [bytes.fromhex(p) for p in token["consistency_path"]]
        roots = bytes.fromhex(cp["root"]), bytes.fromhex(proven["root"])
        rep.check(
            cp.get("registry_id") == proven.get("registry_id")
            and consistent(cp["size"], proven["size"], *roots, path),
            f"the package's log of {proven['size']} entries grew from checkpoint {size}: "
            f"its first {size} entries existed at {when}",
        )
        if read["gen_time"]:
            anchor = os.path.join(bag, token["trust_anchor"])
            command = openssl_command(
                os.path.join(bag, token["token"]), digest.hex(), anchor, read["gen_time"]
            )
            print(f"      its signature and chain: {command}")
