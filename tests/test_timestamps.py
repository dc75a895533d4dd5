"""RFC 3161 timestamps on checkpoints, against a real authority (``openssl ts -reply``
behind a local HTTP server, ``support/tsa.py``) and authorities that misbehave."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from registry import Registry
from registry.custody.checkpoint import checkpoints
from registry.custody.timestamps import Authority, check_logged, checkpoint_with_timestamps
from registry.custody.tsa import TrustAnchor, build_request, post, token_problems


@pytest.fixture
def reg(two_photos: Registry) -> Registry:
    return two_photos


@pytest.fixture
def anchor(tsa) -> TrustAnchor:
    return TrustAnchor.from_pem(tsa.pki.ca_file.read_bytes())


def _stamp(reg: Registry, tsa, anchor: TrustAnchor, *kinds: str, timeout: float = 30.0):
    auths = [Authority(tsa.url(k), anchor) for k in kinds]
    return checkpoint_with_timestamps(reg, auths, actor="alice", timeout=timeout)


def _entries(reg: Registry, action: str) -> list[dict]:
    return [e for e in reg.log.entries() if e["action"] == action]


def _openssl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", *args], capture_output=True, text=True)


def test_a_good_authority_gives_a_token_kept_logged_and_verified(reg, tsa, anchor):
    cp, [outcome] = _stamp(reg, tsa, anchor, "good")
    assert outcome.ok, outcome.details
    d = outcome.details
    assert d["file"] == "checkpoints/0000000007.1.tsr"
    assert d["checkpoint"] == cp.file == "checkpoints/0000000007.json"
    token = Path(reg.root, d["file"]).read_bytes()
    assert d["sha256"] == hashlib.sha256(token).hexdigest()
    # The imprint is the SHA-256 of the signed checkpoint as canonical JSON.
    on_disk = json.loads(Path(reg.root, cp.file).read_text())
    canonical = json.dumps(on_disk, sort_keys=True, separators=(",", ":")).encode()
    assert d["imprint"] == hashlib.sha256(canonical).hexdigest()
    assert d["tsa"] == tsa.url("good") and d["policy"] == "1.3.6.1.4.1.55555.1.1"
    assert d["tsa_name"] == d["signer"] == "CN=Evidence Test TSA"
    assert abs(
        dt.datetime.fromisoformat(d["gen_time"]) - dt.datetime.fromisoformat(cp.time)
    ) < dt.timedelta(seconds=300)
    # The trust anchor is kept in the registry, under its digest, and logged.
    ca = tsa.pki.ca_file.read_bytes()
    assert d["trust_anchor"]["sha256"] == hashlib.sha256(ca).hexdigest()
    assert Path(reg.root, d["trust_anchor"]["file"]).read_bytes() == ca
    [entry] = _entries(reg, "checkpoint.timestamped")
    assert entry["details"] == d and entry["seq"] == outcome.seq
    # OpenSSL reads the file, and checks it against the checkpoint and the anchor.
    text = _openssl("ts", "-reply", "-in", str(Path(reg.root, d["file"])), "-text")
    assert text.returncode == 0 and "Status: Granted." in text.stdout
    assert d["imprint"][:2] in text.stdout.replace(" ", "").lower()
    checked = _openssl(
        "ts", "-verify", "-digest", d["imprint"], "-in", str(Path(reg.root, d["file"])),
        "-CAfile", str(Path(reg.root, d["trust_anchor"]["file"])),
    )  # fmt: skip
    assert checked.returncode == 0 and "Verification: OK" in checked.stdout
    report = reg.verify(actor="alice")
    assert report.ok, [p.message for p in report.problems]
    [summary] = report.timestamps
    assert summary["status"] == "ok" and summary["gen_time"] == d["gen_time"]
    assert summary["tsa"] == tsa.url("good") and summary["file"] == d["file"]


FAILURES = {
    "wrong-imprint": "imprint",
    "wrong-nonce": "nonce",
    "bad-signature": "signature",
    "expired": "certificate",
    "untrusted": "certificate",
    "noncritical-eku": "eku",
    "reject": "status",
    "http-error": "http",
    "redirect": "http",
    "garbage": "reply",
}


@pytest.mark.parametrize("kind", sorted(FAILURES))
def test_a_bad_answer_is_logged_and_not_kept_and_the_checkpoint_stands(reg, tsa, anchor, kind):
    cp, [outcome] = _stamp(reg, tsa, anchor, kind)
    assert not outcome.ok
    assert outcome.details["failed"] == FAILURES[kind], outcome.details["error"]
    assert [c.size for c in checkpoints(reg)] == [cp.size]
    folder = Path(reg.root, "checkpoints")
    assert not list(folder.glob("*.tsr")) and not list(folder.glob(".*.tmp"))
    [entry] = _entries(reg, "checkpoint.timestamp_failed")
    assert entry["details"]["tsa"] == tsa.url(kind) and entry["details"]["size"] == cp.size
    report = reg.verify(actor="alice")
    assert report.ok and report.timestamps == []


def test_a_redirect_is_not_followed(reg, tsa, anchor):
    before = list(tsa.requests)
    _, [outcome] = _stamp(reg, tsa, anchor, "redirect")
    assert "not followed" in outcome.details["error"]
    assert tsa.requests[len(before) :] == ["redirect"]


def test_an_authority_that_never_answers_times_out(reg, tsa, anchor):
    _, [outcome] = _stamp(reg, tsa, anchor, "hang", timeout=0.3)
    assert outcome.details["failed"] == "timeout" and "0.3 s" in outcome.details["error"]
    assert _entries(reg, "checkpoint.timestamp_failed")[0]["details"]["failed"] == "timeout"
    assert reg.verify(actor="alice").ok


def test_nobody_listening_is_unreachable(reg, anchor):
    with socket.socket() as s:  # a port that was free a moment ago, now closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    auths = [Authority(f"http://127.0.0.1:{port}/tsr", anchor)]
    _, [outcome] = checkpoint_with_timestamps(reg, auths, actor="alice", timeout=5)
    assert outcome.details["failed"] == "unreachable"


def test_several_authorities_each_answer_for_themselves(reg, tsa, anchor):
    _, outcomes = _stamp(reg, tsa, anchor, "good", "bad-signature", "good")
    assert [o.ok for o in outcomes] == [True, False, True]
    assert [o.details.get("file") for o in outcomes] == [
        "checkpoints/0000000007.1.tsr",
        None,
        "checkpoints/0000000007.2.tsr",
    ]
    assert len(list(Path(reg.root, "checkpoints", "tsa-ca").iterdir())) == 1
    report = reg.verify(actor="alice")
    assert report.ok and [t["status"] for t in report.timestamps] == ["ok", "ok"]


def test_the_anchor_last_logged_for_an_authority_is_used_again(reg, tsa, anchor):
    _stamp(reg, tsa, anchor, "good")
    cp, outcomes = checkpoint_with_timestamps(
        reg, [Authority(tsa.url("good")), Authority(tsa.url("expired"))], actor="alice"
    )
    assert outcomes[0].ok and outcomes[0].details["file"] == f"checkpoints/{cp.size:010d}.1.tsr"
    assert outcomes[1].details["failed"] == "anchor"  # never given one


def test_gen_time_must_be_near_the_checkpoint(tsa, anchor):
    message = b"a checkpoint"
    query, nonce = build_request(message)
    der = post(tsa.url("good"), query, 30)
    long_ago = dt.datetime(2001, 1, 1, tzinfo=dt.UTC)
    token, problems = token_problems(
        der, message, anchor, nonce=nonce, around=long_ago, tolerance=300
    )
    assert token is not None and [p.check for p in problems] == ["gen_time"]
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    _, problems = token_problems(der, message, anchor, not_before=later, tolerance=300)
    assert [p.check for p in problems] == ["gen_time"]
    assert token_problems(der, message, anchor, not_before=long_ago, tolerance=300)[1] == []
    other = TrustAnchor.from_pem((tsa.pki.folder / "other-ca.pem").read_bytes())
    assert [p.check for p in token_problems(der, message, other)[1]] == ["certificate"]


def test_nonces_are_random():
    assert len({build_request(b"x")[1] for _ in range(5)}) == 5


@pytest.mark.parametrize(
    "kind", ["wrong-imprint", "bad-signature", "expired", "noncritical-eku", "untrusted"]
)
def test_verify_checks_a_stored_token_offline(reg, tsa, anchor, kind):
    """What ``verify`` finds in a token the log vouches for but that does not hold."""
    cp, [outcome] = _stamp(reg, tsa, anchor, "good")
    query, _ = build_request(cp.timestamp_message())
    bad = post(tsa.url(kind), query, 30)
    Path(reg.root, outcome.details["file"]).write_bytes(bad)
    details = {**outcome.details, "sha256": hashlib.sha256(bad).hexdigest()}
    _, failures = check_logged(reg.root, details, cp)
    want = {"wrong-imprint": ["imprint"], "noncritical-eku": ["eku", "certificate"]}
    assert [f.check for f in failures] == want.get(kind, [FAILURES[kind]])


def _problems(reg: Registry) -> list[tuple[str, str]]:
    report = reg.verify(actor="alice")
    return [(p.code, getattr(p, "failed", "")) for p in report.problems]


def test_a_changed_token_is_found(reg, tsa, anchor):
    _, [outcome] = _stamp(reg, tsa, anchor, "good")
    path = Path(reg.root, outcome.details["file"])
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01
    path.write_bytes(bytes(data))
    found = _problems(reg)
    assert ("TimestampInvalid", "file") in found
    assert {code for code, _ in found} == {"TimestampInvalid"}
    path.unlink()
    assert _problems(reg) == [("TimestampInvalid", "file")]


def test_a_replaced_anchor_is_found(reg, tsa, anchor):
    _, [outcome] = _stamp(reg, tsa, anchor, "good")
    shutil.copy(
        tsa.pki.folder / "other-ca.pem", Path(reg.root, outcome.details["trust_anchor"]["file"])
    )
    assert _problems(reg) == [("TimestampInvalid", "anchor")]


def test_an_edited_checkpoint_no_longer_matches_its_token(reg, tsa, anchor):
    cp, _ = _stamp(reg, tsa, anchor, "good")
    path = Path(reg.root, cp.file)
    data = json.loads(path.read_text())
    data["time"] = "2001-01-01T00:00:00+00:00"
    path.write_text(json.dumps(data))
    found = _problems(reg)
    assert ("TimestampInvalid", "imprint") in found
    assert ("BadCheckpointSignature", "") in found


def test_an_unlogged_token_file_is_listed_not_trusted(reg, tsa, anchor):
    _, [outcome] = _stamp(reg, tsa, anchor, "good")
    shutil.copy(
        Path(reg.root, outcome.details["file"]), Path(reg.root, "checkpoints", "0000000007.9.tsr")
    )
    report = reg.verify(actor="alice")
    assert report.ok
    assert {"file": "checkpoints/0000000007.9.tsr", "status": "not logged"} in report.timestamps
