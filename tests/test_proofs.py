"""Checkpoints and the proofs made against them, through the API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from registry import Registry, Submission
from registry.custody.checkpoint import checkpoints, make_checkpoint
from registry.custody.proofs import (
    check_consistency_proof,
    check_item_proof,
    prove_consistency,
    prove_item,
)
from registry.errors import NoCheckpoint, ProofError
from registry.export import verifier


@pytest.fixture
def reg(two_photos: Registry) -> Registry:
    return two_photos


def test_no_checkpoint_yet(reg: Registry):
    with pytest.raises(NoCheckpoint):
        prove_item(reg, reg.catalog.shas()[0])


def test_checkpoint_is_signed_written_and_logged(reg: Registry):
    cp = make_checkpoint(reg, actor="alice")
    assert cp.size == 7 and len(cp.root) == 64
    assert cp.verify(reg.keys)
    assert json.loads((Path(reg.root) / cp.file).read_text())["root"] == cp.root
    entry = list(reg.log.entries())[-1]
    assert entry["action"] == "checkpoint" and entry["details"]["root"] == cp.root
    assert [c.size for c in checkpoints(reg)] == [7]
    assert cp.root in cp.text()


def test_item_proof_checks_and_fails_when_bent(reg: Registry, tmp_path: Path):
    sha = next(
        i["sha256"] for i in reg.list_items() if i["sightings"][0]["original_name"] == "a.jpg"
    )
    make_checkpoint(reg, actor="alice")
    reg.ingest([str(tmp_path / "in" / "a.jpg")], Submission(actor="bob"))
    bundle = prove_item(reg, sha[:8])
    assert [p["seq"] for p in bundle["proofs"]] == sorted(p["seq"] for p in bundle["proofs"])
    assert len(bundle["proofs"]) == 3
    assert check_item_proof(bundle, reg.keys) == []
    assert bundle["not_covered"] == [9]  # bob's sighting came after checkpoint 7 (entry 8)
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(bundle))
    assert verifier.verify_proof(str(path), bundle["checkpoint"]["root"]).failures == 0
    bent = json.loads(json.dumps(bundle))
    bent["proofs"][0]["entry"] = bent["proofs"][0]["entry"].replace('"alice"', '"mallory"')
    assert check_item_proof(bent, reg.keys) == [
        f"entry {bent['proofs'][0]['seq']} is not in the checkpoint's tree"
    ]
    path.write_text(json.dumps(bent))
    assert verifier.verify_proof(str(path)).failures == 2  # not in the tree, bad signature


def test_consistency_proof_between_checkpoints(reg: Registry, tmp_path: Path):
    first = make_checkpoint(reg, actor="alice")
    reg.ingest([str(tmp_path / "in" / "b.jpg")], Submission(actor="bob"))
    second = make_checkpoint(reg, actor="alice")
    bundle = prove_consistency(reg, str(first.size))
    assert bundle["new"]["size"] == second.size
    assert check_consistency_proof(bundle, reg.keys) == []
    path = tmp_path / "c.json"
    path.write_text(json.dumps(bundle))
    assert verifier.verify_consistency(str(path), first.root).failures == 0
    bundle["old"]["root"] = second.root
    assert check_consistency_proof(bundle, reg.keys) != []


def test_no_proof_from_a_rewritten_log(reg: Registry):
    cp = make_checkpoint(reg, actor="alice")
    lines = Path(reg.log.path).read_bytes().splitlines()
    lines[3] = lines[3].replace(b'"C1"', b'"C9"')
    Path(reg.log.path).write_bytes(b"".join(x + b"\n" for x in lines))
    with pytest.raises(ProofError):
        prove_item(reg, reg.catalog.shas()[0])
    with pytest.raises(ProofError):
        prove_consistency(reg, str(cp.size))
