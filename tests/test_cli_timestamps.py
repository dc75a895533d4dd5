"""``evidence checkpoint --tsa`` and ``evidence verify`` with trusted timestamps, through
the command line, against the test authority (``support/tsa.py``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support.cli import kill_at, run_cli
from support.media import write_jpeg


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    write_jpeg(tmp_path / "in" / "a.jpg", 1, size=(160, 120))
    reg = tmp_path / "reg"
    run_cli("ingest", str(tmp_path / "in"), registry=reg, check=True)
    return reg


def test_checkpoint_with_a_good_and_a_silent_authority(registry: Path, tsa):
    ca = str(tsa.pki.ca_file)
    proc = run_cli(
        "checkpoint", "--tsa", tsa.url("good"), "--tsa", tsa.url("hang"), "--tsa-ca", ca,
        "--tsa-timeout", "0.3", registry=registry,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert "evidence-registry checkpoint" in proc.stdout
    assert f"timestamp  {tsa.url('good')}  genTime " in proc.stdout
    assert "-> checkpoints/0000000004.1.tsr" in proc.stdout
    assert f"error: timestamp from {tsa.url('hang')} failed (timeout)" in proc.stderr
    custody = run_cli("custody", registry=registry, check=True).stdout
    assert "checkpoint.timestamped" in custody and "checkpoint.timestamp_failed" in custody
    report = run_cli("verify", "--json", registry=registry)
    assert report.returncode == 0, report.stdout
    [token] = json.loads(report.stdout)["timestamps"]
    assert token["tsa"] == tsa.url("good") and token["gen_time"] and token["status"] == "ok"
    text = run_cli("verify", registry=registry).stdout
    assert f"timestamp checkpoints/0000000004.1.tsr by {tsa.url('good')} at " in text


def test_the_anchor_is_remembered_and_a_bad_token_fails_the_command(registry: Path, tsa):
    run_cli(
        "checkpoint", "--tsa", tsa.url("good"), "--tsa-ca", str(tsa.pki.ca_file),
        registry=registry, check=True,
    )  # fmt: skip
    again = run_cli("checkpoint", "--json", "--tsa", tsa.url("good"), registry=registry)
    assert again.returncode == 0, again.stderr
    [outcome] = json.loads(again.stdout)["timestamps"]
    assert outcome["ok"] and outcome["file"].endswith(".1.tsr")
    bad = run_cli(
        "checkpoint", "--tsa", tsa.url("wrong-imprint"), "--tsa-ca", str(tsa.pki.ca_file),
        registry=registry,
    )  # fmt: skip
    assert bad.returncode == 1 and "failed (imprint): token covers" in bad.stderr
    assert run_cli("verify", registry=registry).returncode == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tsa-ca", "{ca}"], "--tsa-ca needs --tsa"),
        (["--tsa", "file:///etc/passwd", "--tsa-ca", "{ca}"], "is not an http(s) URL"),
        (
            [
                "--tsa",
                "http://a/",
                "--tsa",
                "http://b/",
                "--tsa-ca",
                "{ca}",
                "--tsa-ca",
                "{ca}",
                "--tsa-ca",
                "{ca}",
            ],
            "once per --tsa",
        ),
        (["--tsa", "http://a/", "--tsa-ca", "{notpem}"], "not a PEM certificate file"),
    ],
)
def test_usage_errors_make_no_checkpoint(registry: Path, tmp_path: Path, args, message):
    notpem = tmp_path / "not.pem"
    notpem.write_text("hello\n")
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    filled = [a.format(ca=ca, notpem=notpem) for a in args]  # (checked before ca is read)
    proc = run_cli("checkpoint", *filled, registry=registry)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert not (registry / "checkpoints").exists()


def test_killed_between_keeping_the_token_and_logging_it(registry: Path, tsa, tmp_path: Path):
    """kill -9 after the token is written and before it is logged: the checkpoint is
    logged and verifies, the token file is listed as not logged, nothing is half-written."""
    argv = ["checkpoint", "--tsa", tsa.url("good"), "--tsa-ca", str(tsa.pki.ca_file)]
    assert kill_at(argv, "timestamp.written", registry=registry, work=tmp_path) == (
        "timestamp.written:1"
    )
    folder = registry / "checkpoints"
    assert sorted(p.name for p in folder.glob("*.tsr")) == ["0000000004.1.tsr"]
    assert not list(folder.glob(".*.tmp"))
    report = run_cli("verify", "--json", registry=registry)
    assert report.returncode == 0, report.stdout
    listed = json.loads(report.stdout)["timestamps"]
    assert listed == [{"file": "checkpoints/0000000004.1.tsr", "status": "not logged"}]
    again = run_cli(*argv, "--json", registry=registry)
    assert again.returncode == 0, again.stderr
    [outcome] = json.loads(again.stdout)["timestamps"]
    assert outcome["file"] == f"checkpoints/{json.loads(again.stdout)['size']:010d}.1.tsr"
