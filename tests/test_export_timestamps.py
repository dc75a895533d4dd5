"""RFC 3161 tokens in the exports: the BagIt bag carries them and its standalone checker
reads their imprints with the standard library and prints the OpenSSL command that
checks their signatures; the HTML report carries them too."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import bagit
import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry import Registry, Submission
from registry.custody.timestamps import Authority, checkpoint_with_timestamps
from registry.custody.tsa import TrustAnchor, build_request, parse, post
from registry.export import export
from registry.export import verify_timestamps as vt
from support.media import write_jpeg


@pytest.fixture
def reg(two_photos: Registry) -> Registry:
    return two_photos


def _stamp(reg: Registry, tsa, kind: str = "good"):
    anchor = TrustAnchor.from_pem(tsa.pki.ca_file.read_bytes())
    cp, [outcome] = checkpoint_with_timestamps(
        reg, [Authority(tsa.url(kind), anchor)], actor="alice"
    )
    assert outcome.ok, outcome.details
    return cp, outcome.details


def _verifier(bag: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-I", "-S", str(bag / "verify_bag.py")],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _openssl_commands(output: str) -> list[str]:
    return re.findall(r"its signature and chain: (openssl ts -verify .*)", output)


def test_the_bag_carries_its_checkpoints_tokens_and_the_printed_command_checks_them(
    reg, tsa, tmp_path
):
    cp, details = _stamp(reg, tsa)
    bag = tmp_path / "bag"
    result = export(reg, "bagit", bag, actor="carol")
    assert result.checkpoint["size"] == cp.size  # the timestamped checkpoint covers all
    bagit.Bag(str(bag)).validate()
    token = bag / "data" / "timestamps" / "0000000007.1.tsr"
    assert token.read_bytes() == Path(reg.root, details["file"]).read_bytes()
    anchor = bag / "data" / "timestamps" / "tsa-ca" / f"{details['trust_anchor']['sha256']}.pem"
    assert anchor.read_bytes() == tsa.pki.ca_file.read_bytes()
    proc = _verifier(bag)
    assert proc.returncode == 0, proc.stdout
    assert "ok    token data/timestamps/0000000007.1.tsr" in proc.stdout
    assert "covers checkpoint 7: its imprint is the SHA-256 of" in proc.stdout
    assert f"genTime {details['gen_time'][:19]}Z, serial {details['serial']}" in proc.stdout
    [command] = _openssl_commands(proc.stdout)
    assert details["imprint"] in command and "-attime" in command
    checked = subprocess.run(shlex.split(command), capture_output=True, text=True)
    assert checked.returncode == 0 and "Verification: OK" in checked.stdout, checked.stderr
    # The same command with another checkpoint's digest fails: it checks the imprint too.
    other = command.replace(details["imprint"], hashlib.sha256(b"other").hexdigest())
    assert subprocess.run(shlex.split(other), capture_output=True).returncode != 0


def test_a_token_on_an_earlier_checkpoint_dates_the_entries_before_it(reg, tsa, tmp_path):
    cp, _ = _stamp(reg, tsa)
    write_jpeg(tmp_path / "more" / "c.jpg", 3, size=(160, 120))
    reg.ingest([str(tmp_path / "more")], Submission(actor="bob", case="C1"))
    bag = tmp_path / "bag"
    result = export(reg, "bagit", bag, actor="carol")
    assert result.checkpoint["size"] > cp.size  # a new checkpoint was made for the bag
    proc = _verifier(bag)
    assert proc.returncode == 0, proc.stdout
    assert (
        f"ok    the package's log of {result.checkpoint['size']} entries grew from "
        f"checkpoint {cp.size}" in proc.stdout
    )
    assert len(_openssl_commands(proc.stdout)) == 1


def test_a_token_over_something_else_fails_in_the_bag(reg, tsa, tmp_path):
    cp, _ = _stamp(reg, tsa)
    bag = tmp_path / "bag"
    export(reg, "bagit", bag, actor="carol")
    query, _ = build_request(cp.timestamp_message())
    (bag / "data" / "timestamps" / "0000000007.1.tsr").write_bytes(
        post(tsa.url("wrong-imprint"), query, 30)
    )
    proc = _verifier(bag)
    assert proc.returncode == 1
    assert "FAIL  token data/timestamps/0000000007.1.tsr" in proc.stdout
    assert "covers checkpoint 7" in proc.stdout.split("FAIL  token", 1)[1].splitlines()[0]


def test_a_token_listed_outside_the_bag_is_not_read(reg, tsa, tmp_path):
    _stamp(reg, tsa)
    bag = tmp_path / "bag"
    export(reg, "bagit", bag, actor="carol")
    index = bag / "data" / "timestamps" / "timestamps.json"
    listed = json.loads(index.read_text())
    outside = tmp_path / "elsewhere.tsr"
    outside.write_bytes((bag / listed[0]["token"]).read_bytes())
    listed[0]["token"] = "../elsewhere.tsr"
    index.write_text(json.dumps(listed))
    proc = _verifier(bag)
    assert proc.returncode == 1
    assert "FAIL  token ../elsewhere.tsr and its files are in the bag" in proc.stdout
    assert "covers checkpoint" not in proc.stdout


def test_a_bag_without_timestamps_says_so(reg, tmp_path):
    bag = tmp_path / "bag"
    export(reg, "bagit", bag, actor="carol")
    proc = _verifier(bag)
    assert proc.returncode == 0 and "(no RFC 3161 timestamp in this package)" in proc.stdout
    assert not (bag / "data" / "timestamps").exists()


def test_the_html_report_carries_the_tokens_and_anchors(reg, tsa, tmp_path):
    _, details = _stamp(reg, tsa)
    export(reg, "html", tmp_path / "out", actor="carol")
    html = (tmp_path / "out" / "report.html").read_text("utf-8")
    assert "Trusted timestamps (RFC 3161)" in html and details["gen_time"] in html
    assert details["imprint"] in html and tsa.url("good") in html
    assert tsa.pki.ca_file.read_text().strip().splitlines()[1] in html
    b64 = re.search(r"<summary>token \(base64\)</summary><pre>([^<]*)</pre>", html).group(1)
    token = tmp_path / "token.tsr"
    token.write_bytes(base64.b64decode(b64))
    assert token.read_bytes() == Path(reg.root, details["file"]).read_bytes()
    checked = subprocess.run(
        ["openssl", "ts", "-verify", "-digest", details["imprint"], "-in", str(token),
         "-CAfile", str(tsa.pki.ca_file)],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert checked.returncode == 0 and "Verification: OK" in checked.stdout


# --- the standard-library DER reader of the bag's checker -------------------------------


@pytest.fixture(scope="module")
def token(tsa) -> bytes:
    query, _ = build_request(b"some bytes")
    return post(tsa.url("good"), query, 30)


def test_the_der_reader_agrees_with_rfc3161_client(token):
    read = vt.read_token(token)
    info = parse(token).tst_info
    assert read["status"] == 0 and read["imprint_sha256"]
    assert read["imprint"] == info.message_imprint.message == hashlib.sha256(b"some bytes").digest()
    assert read["serial"] == info.serial_number
    assert vt.epoch(read["gen_time"]) == int(info.gen_time.timestamp())


def test_the_der_reader_reads_a_rejection(tsa):
    query, _ = build_request(b"some bytes")
    read = vt.read_token(post(tsa.url("reject"), query, 30))
    assert read["status"] == 2 and read["imprint"] is None


def test_generalized_time_with_fractions():
    assert vt.epoch("20250101120000Z") == vt.epoch("20250101120000.25Z") == 1735732800


@given(data=st.data())
def test_the_der_reader_fails_only_with_value_error(token, data):
    cut = data.draw(st.integers(0, len(token)))
    flips = data.draw(st.lists(st.tuples(st.integers(0, len(token) - 1), st.integers(1, 255))))
    bent = bytearray(token[:cut] if data.draw(st.booleans()) else token)
    for at, mask in flips:
        if at < len(bent):
            bent[at] ^= mask
    try:
        read = vt.read_token(bytes(bent))
    except ValueError:
        return
    assert isinstance(read["status"], int)
