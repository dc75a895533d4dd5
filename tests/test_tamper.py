"""Tampering with each kind of data, and what verify reports: exactly that, by name."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from registry import Registry
from registry.custody.keys import Signer
from registry.custody.log import canonical, entry_hash, signed_message
from registry.verify import check
from support.cli import run_cli
from support.tamper import (
    build_registry,
    flip,
    log_lines,
    replace_public_key,
    resign_log,
    write_head,
    write_lines,
)

#: The fixture's log (``support.tamper.build_registry``): 1 registry.created,
#: 2 key.created (alice), 3-11 three photos (item.stored, metadata.extracted,
#: sighting.added each), 12 a second sighting, 13 a note, 14 the checkpoint of entries
#: 1-13, 15 another note.
ENTRIES = 15
CHECKPOINT_SIZE = 13


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("tamper")
    reg = build_registry(base)
    assert reg.log.read_head().seq == ENTRIES
    return base / "reg"


@pytest.fixture
def reg(template: Path, tmp_path: Path) -> Registry:
    root = tmp_path / "reg"
    shutil.copytree(template, root)
    return Registry.open(str(root))


def problems(reg: Registry) -> list[tuple[str, dict]]:
    report = check(reg)
    return [(p.code, p.to_dict()) for p in report.problems]


def codes(reg: Registry) -> list[str]:
    return [code for code, _ in problems(reg)]


def test_untouched_registry_verifies(reg: Registry):
    report = check(reg)
    assert report.ok, report.to_dict()
    assert report.entries == ENTRIES
    assert report.checkpoints == [
        {
            "file": f"checkpoints/{CHECKPOINT_SIZE:010d}.json",
            "size": CHECKPOINT_SIZE,
            "root": report.checkpoints[0]["root"],
            "status": "ok",
        }
    ]


def test_entries_of_an_actor_with_a_key_are_signed_with_it(reg: Registry):
    entries = list(reg.log.entries())
    alice_key = entries[1]["details"]["key_id"]
    installation = reg.info["installation_key"]
    assert entries[1]["action"] == "key.created" and entries[1]["key"] == installation
    by_actor = {(e["actor"], e["key"]) for e in entries[2:]}
    assert ("alice", alice_key) in by_actor
    assert ("bob", installation) in by_actor
    assert all(k == alice_key for a, k in by_actor if a == "alice")


# --- the log ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "where", ["details", "signature", "sequence", "previous hash", "actor", "structure", "non-utf8"]
)
@pytest.mark.parametrize("seq", [4, 14, ENTRIES])
def test_a_flipped_byte_in_an_entry_is_an_edited_entry(reg: Registry, where: str, seq: int):
    lines = log_lines(reg)
    lines[seq - 1] = flip(lines[seq - 1], where)
    write_lines(reg, lines)
    found = problems(reg)
    assert [c for c, _ in found] == ["EditedEntry"], found
    assert found[0][1]["seq"] == seq
    assert found[0][1]["line"] == seq


def test_an_edit_that_keeps_the_length_is_found_through_the_api_and_cli(reg: Registry):
    lines = log_lines(reg)
    assert b'"case":"C1"' in lines[4]
    lines[4] = lines[4].replace(b'"case":"C1"', b'"case":"C9"')
    write_lines(reg, lines)
    proc = run_cli("verify", "--json", registry=Path(reg.root))
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    assert [p["code"] for p in report["problems"]] == ["EditedEntry"]
    assert report["problems"][0]["seq"] == 5
    assert report["catalog_checked"] is False
    assert "(see the problems above)" in report["checkpoints"][0]["status"]


def test_a_deleted_entry(reg: Registry):
    lines = log_lines(reg)
    del lines[5]
    write_lines(reg, lines)
    found = problems(reg)
    assert [c for c, _ in found] == ["DeletedEntries"], found
    assert found[0][1] | {"detail": "", "message": ""} == {
        "code": "DeletedEntries",
        "message": "",
        "detail": "",
        "first_seq": 6,
        "last_seq": 6,
        "count": 1,
        "line": 6,
    }


def test_several_deleted_entries(reg: Registry):
    lines = log_lines(reg)
    del lines[2:5]
    write_lines(reg, lines)
    found = problems(reg)
    assert [c for c, _ in found] == ["DeletedEntries"], found
    assert (found[0][1]["first_seq"], found[0][1]["last_seq"], found[0][1]["count"]) == (3, 5, 3)


def test_an_inserted_copy_of_an_entry(reg: Registry):
    lines = log_lines(reg)
    lines.insert(9, lines[4])  # entry 5 again, after entry 9
    write_lines(reg, lines)
    found = problems(reg)
    assert [c for c, _ in found] == ["InsertedEntry"], found
    assert found[0][1]["line"] == 10
    assert found[0][1]["after_seq"] == 9
    assert found[0][1]["reason"] == "copy of entry 5"


def test_an_inserted_forged_entry(reg: Registry):
    lines = log_lines(reg)
    forged = json.loads(lines[4])
    forged["details"]["source_url"] = "https://example.org/fabricated"
    lines.insert(5, canonical(forged))  # claims seq 5 again, with a signature that fails
    write_lines(reg, lines)
    found = problems(reg)
    assert [c for c, _ in found] == ["InsertedEntry"], found
    assert found[0][1]["after_seq"] == 5
    assert found[0][1]["claimed_seq"] == 5


def test_an_inserted_entry_signed_by_an_unpublished_key(reg: Registry):
    lines = log_lines(reg)
    before = json.loads(lines[6])
    forger = Signer("mallory", Ed25519PrivateKey.generate())
    forged = {**before, "seq": 8, "actor": "mallory", "prev": entry_hash(lines[6])}
    forged["key"] = forger.id
    forged["sig"] = forger.sign(signed_message(forged))
    lines.insert(7, canonical(forged))
    write_lines(reg, lines)
    found = problems(reg)
    assert [c for c, _ in found] == ["InsertedEntry"], found
    assert found[0][1]["after_seq"] == 7
    assert "unpublished key" in found[0][1]["reason"]


@pytest.mark.parametrize("rewrite_head", [False, True])
def test_an_appended_forged_entry(reg: Registry, rewrite_head: bool):
    lines = log_lines(reg)
    forged = json.loads(lines[-1])
    forged.update(seq=ENTRIES + 1, prev=entry_hash(lines[-1]))
    forged["details"] = {"text": "planted"}
    line = canonical(forged)
    lines.append(line)
    write_lines(reg, lines)
    if rewrite_head:
        write_head(reg, lines)
    found = problems(reg)
    assert [c for c, _ in found] == ["InsertedEntry"], found
    assert found[0][1]["after_seq"] == ENTRIES


def test_reordered_entries(reg: Registry):
    lines = log_lines(reg)
    lines[6], lines[7] = lines[7], lines[6]
    write_lines(reg, lines)
    found = problems(reg)
    assert [c for c, _ in found] == ["ReorderedEntries"], found
    assert found[0][1]["seqs"] == [8, 7]
    assert (found[0][1]["first_line"], found[0][1]["last_line"]) == (7, 8)


def test_an_entry_moved_to_the_end(reg: Registry):
    lines = log_lines(reg)
    lines.append(lines.pop(2))
    write_lines(reg, lines)
    found = problems(reg)
    assert [c for c, _ in found] == ["ReorderedEntries"], found
    assert found[0][1]["seqs"][-1] == 3


def test_a_truncated_log(reg: Registry):
    lines = log_lines(reg)
    write_lines(reg, lines[:-2])
    found = problems(reg)
    assert [c for c, _ in found] == ["TruncatedLog"], found
    assert (found[0][1]["head_seq"], found[0][1]["log_seq"]) == (ENTRIES, ENTRIES - 2)


def test_a_log_cut_inside_an_entry(reg: Registry):
    size = os.path.getsize(reg.log.path)
    with open(reg.log.path, "r+b") as fh:
        fh.truncate(size - 100)
    found = problems(reg)
    assert [c for c, _ in found] == ["TruncatedLog"], found
    assert "cut inside entry 15" in found[0][1]["detail"]


def test_truncation_hidden_by_a_rewritten_head_is_caught_by_the_checkpoint(reg: Registry):
    lines = log_lines(reg)[: CHECKPOINT_SIZE - 2]
    write_lines(reg, lines)
    write_head(reg, lines)
    found = problems(reg)
    assert [c for c, _ in found] == ["TruncatedLog"], found
    assert found[0][1]["head_seq"] == CHECKPOINT_SIZE
    assert "checkpoint" in found[0][1]["detail"]


def test_a_rewritten_and_resigned_log_is_caught_by_the_checkpoint(reg: Registry):
    """Whoever holds the installation key can re-sign a changed log so that its chain,
    signatures and head all check out; only the signed tree head remembers."""
    entries = [json.loads(line) for line in log_lines(reg)]
    entries[4]["details"]["source_url"] = "https://example.org/rewritten"
    resign_log(reg, entries)
    found = problems(reg)
    assert [c for c, _ in found] == ["CheckpointMismatch"], found
    assert found[0][1]["size"] == CHECKPOINT_SIZE


# --- checkpoints -----------------------------------------------------------------------


def _checkpoint_file(reg: Registry) -> Path:
    return Path(reg.root) / "checkpoints" / f"{CHECKPOINT_SIZE:010d}.json"


def test_an_edited_checkpoint(reg: Registry):
    path = _checkpoint_file(reg)
    data = json.loads(path.read_text())
    data["root"] = "0" * 64
    path.chmod(0o644)
    path.write_text(json.dumps(data))
    assert sorted(codes(reg)) == ["BadCheckpointSignature", "MissingCheckpoint"]


def test_a_deleted_checkpoint(reg: Registry):
    _checkpoint_file(reg).unlink()
    found = problems(reg)
    assert [c for c, _ in found] == ["MissingCheckpoint"], found
    assert found[0][1]["seq"] == CHECKPOINT_SIZE + 1


# --- keys ------------------------------------------------------------------------------


def test_a_replaced_actor_key(reg: Registry):
    alice = next(reg.log.entries(), None) and list(reg.log.entries())[1]["details"]["key_id"]
    replace_public_key(reg, alice)
    found = problems(reg)
    assert [c for c, _ in found] == ["ReplacedKey"], found
    assert found[0][1]["key"] == alice
    assert found[0][1]["entries"] == 10  # alice's ingest (9) and her checkpoint event


def test_a_replaced_installation_key(reg: Registry):
    kid = reg.info["installation_key"]
    replace_public_key(reg, kid)
    found = problems(reg)
    assert [c for c, _ in found] == ["ReplacedKey"], found
    assert found[0][1]["key"] == kid
    assert check(reg).checkpoints[0]["status"] == "key replaced"


def test_a_deleted_public_key(reg: Registry):
    kid = reg.info["installation_key"]
    Path(reg.keys.public_folder, f"{kid}.pem").unlink()
    assert sorted(codes(reg)) == ["BadCheckpointSignature", "UnknownKey"]


# --- vault and catalogue ---------------------------------------------------------------


def test_a_changed_vault_file(reg: Registry):
    sha = reg.catalog.shas()[1]
    path = reg.vault.path(sha)
    os.chmod(path, 0o644)
    data = bytearray(Path(path).read_bytes())
    data[len(data) // 2] ^= 0x01
    Path(path).write_bytes(bytes(data))
    found = problems(reg)
    assert [c for c, _ in found] == ["HashMismatch"], found
    assert (found[0][1]["sha256"], found[0][1]["algorithm"]) == (sha, "sha256")


def test_a_missing_vault_file(reg: Registry):
    sha = reg.catalog.shas()[2]
    os.unlink(reg.vault.path(sha))
    found = problems(reg)
    assert [c for c, _ in found] == ["MissingFile"], found
    assert found[0][1]["sha256"] == sha


def test_a_vault_change_is_found_even_when_the_log_is_damaged(reg: Registry):
    sha = reg.catalog.shas()[0]
    os.unlink(reg.vault.path(sha))
    lines = log_lines(reg)
    write_lines(reg, lines[:-1])
    assert sorted(codes(reg)) == ["MissingFile", "TruncatedLog"]


def test_an_edited_catalogue_record(reg: Registry):
    shard = Path(reg.catalog_path) / "shard-000000.json"
    data = json.loads(shard.read_text())
    doc = next(iter(data["items"].values()))
    doc["size"] += 1
    shard.write_text(json.dumps(data))
    found = problems(reg)
    assert [c for c, _ in found] == ["CatalogMismatch"], found
    assert (found[0][1]["sha256"], found[0][1]["field"]) == (doc["sha256"], "size")


def test_rebuild_repairs_an_edited_catalogue(reg: Registry):
    shard = Path(reg.catalog_path) / "shard-000000.json"
    data = json.loads(shard.read_text())
    doc = next(iter(data["items"].values()))
    doc["notes"] = [{"seq": 99, "text": "slipped in"}]
    shard.write_text(json.dumps(data))
    assert codes(reg) == ["CatalogMismatch"]
    reg.rebuild(actor="alice")
    assert check(reg).ok


def test_a_deleted_log(reg: Registry):
    os.unlink(reg.log.path)
    found = problems(reg)
    assert [c for c, _ in found] == ["TruncatedLog"], found
    assert (found[0][1]["head_seq"], found[0][1]["log_seq"]) == (ENTRIES, 0)


def test_a_garbled_head_file(reg: Registry):
    Path(reg.log.head_path).write_text("not json")
    assert codes(reg) == ["HeadMismatch"]
