"""Exports through the API: every format, hostile names, and the standalone verifier."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import bagit
import pytest

from ingest import extract
from registry import Registry, Submission
from registry.custody.notes import add_note
from registry.export import ExportError, export, safe_name
from registry.export.case import node_id
from registry.export.safepath import MAX_NAME_BYTES, OutDir
from registry.ingesting import commit
from registry.similarity import MatchConfig
from registry.verify import check
from support.media import write_jpeg, write_video

HOSTILE = {
    "newline": "line\nbreak.jpg",
    "not utf-8": os.fsdecode(b"bad\xffname.jpg"),
    "long": "x" * 240 + ".jpg",
    "formula": '=HYPERLINK("evil.example";"x").jpg',
}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("export")
    media = base / "media"
    for i, name in enumerate(HOSTILE.values(), start=1):
        write_jpeg(media / name, i, size=(200, 150), gps=(50.45, 30.52, 100.0) if i == 1 else None)
    write_video(media / "clip.mp4", 7, seconds=1.0)
    reg = Registry.open(str(base / "reg"), create=True, actor="alice")
    reg.ingest([str(media)], Submission(actor="alice", case="C1", source_url="https://t.me/c/1"))
    # A name from a scraper that took it from a URL: it must not steer where files go.
    write_jpeg(base / "plain.jpg", 20, size=(200, 150))
    rec = extract(base / "plain.jpg")
    rec.name = "../../escaped.jpg"
    commit(reg, reg.near, [rec], Submission(actor="bob", case="C2"), MatchConfig())
    shas = reg.catalog.shas()
    add_note(reg, shas[0], "<script>alert('x')</script> & more", actor="bob")
    video = next(i["sha256"] for i in reg.list_items() if i["media_type"] == "video")
    photo = next(i["sha256"] for i in reg.list_items() if i["media_type"] == "image")
    with reg.writing("alice"):
        reg.record(
            [
                {
                    "actor": "alice",
                    "action": "neardup.found",
                    "sha256": photo,
                    "details": {
                        "match": video,
                        "score": 0.91,
                        "distance": 12,
                        "method": "pdq",
                        "transform": "crop",
                        "segments": [
                            {
                                "query_start_s": 0.0,
                                "query_end_s": 0.0,
                                "match_start_s": 0.25,
                                "match_end_s": 0.75,
                            }
                        ],
                    },
                }
            ]
        )
        reg.save()
    return base / "reg"


@pytest.fixture
def reg(template: Path, tmp_path: Path) -> Registry:
    root = tmp_path / "reg"
    shutil.copytree(template, root)
    return Registry.open(str(root))


def all_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def assert_inside(folder: Path) -> None:
    real = os.path.realpath(folder)
    for path in folder.rglob("*"):
        assert os.path.realpath(path).startswith(real + os.sep)
        assert "\n" not in str(path) and "\\" not in str(path)
        assert len(path.name.encode()) <= MAX_NAME_BYTES


# --- names -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, want",
    [
        ("../../x", "_.._x"),
        ("a\nb.jpg", "a_b.jpg"),
        ("bad\\xffname.jpg", "bad_xffname.jpg"),
        ("..", "file"),
        ("", "file"),
        ("CON.txt", "_CON.txt"),
        (" .hidden", "hidden"),
        ("\udcff.jpg", "_.jpg"),
        ("Ірпінь міст.jpg", "Ірпінь міст.jpg"),
    ],
)
def test_safe_name(name: str, want: str):
    assert safe_name(name) == want


def test_safe_name_cuts_long_names_and_keeps_them_apart():
    a, b = safe_name("é" * 200 + "a.mp4"), safe_name("é" * 200 + "b.mp4")
    assert a != b
    assert a.endswith(".mp4") and len(a.encode()) <= MAX_NAME_BYTES


def test_out_dir_stays_inside(tmp_path: Path):
    out = OutDir(str(tmp_path / "out"))
    written = out.write("..", "..", "x", data=b"1")
    assert written.rel == "file/file/x"
    assert (tmp_path / "out" / "file" / "file" / "x").read_bytes() == b"1"
    with pytest.raises(ExportError):
        out.write("..", "..", "x", data=b"2")  # never overwrites
    os.symlink(tmp_path, tmp_path / "out" / "link")
    with pytest.raises(ExportError):
        out.write("link", "y", data=b"3")
    assert not (tmp_path / "y").exists()


def test_export_refuses_a_folder_that_is_not_empty(reg: Registry, tmp_path: Path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(ExportError, match="not empty"):
        export(reg, "jsonl", tmp_path / "full", actor="alice")
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"


# --- tables ------------------------------------------------------------------------------


def test_jsonl_holds_the_log_lines_byte_for_byte(reg: Registry, tmp_path: Path):
    result = export(reg, "jsonl", tmp_path / "out", case="C1", actor="alice")
    items = [json.loads(x) for x in (tmp_path / "out" / "items.jsonl").read_text().splitlines()]
    assert sorted(i["sha256"] for i in items) == sorted(reg.catalog.shas("C1")) == result.items
    log_lines = set(Path(reg.log.path).read_bytes().splitlines())
    exported = (tmp_path / "out" / "custody.jsonl").read_bytes().splitlines()
    assert exported and all(line in log_lines for line in exported)
    actions = {json.loads(line)["action"] for line in exported}
    assert {"registry.created", "item.stored", "metadata.extracted", "sighting.added"} <= actions
    keys = json.loads((tmp_path / "out" / "public_keys.json").read_text())
    assert set(keys) == {json.loads(line)["key"] for line in exported}
    assert keys[reg.info["installation_key"]]["actor"] == "installation"


def test_csv_cells_cannot_run_as_formulas(reg: Registry, tmp_path: Path):
    export(reg, "csv", tmp_path / "out", actor="alice")
    raw = (tmp_path / "out" / "items.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert len(rows) == len(reg.catalog.shas())
    names = " ".join(r["original_names"] for r in rows)
    assert "'=HYPERLINK" in names
    assert "line\nbreak.jpg" in names  # kept as text, quoted by the CSV writer
    custody = list(
        csv.DictReader(io.StringIO((tmp_path / "out" / "custody.csv").read_text("utf-8-sig")))
    )
    assert {r["action"] for r in custody} >= {"item.stored", "neardup.found"}
    assert all(r["sig"] and r["key"] for r in custody)


# --- html --------------------------------------------------------------------------------


def test_html_report_holds_every_item_and_loads_nothing(reg: Registry, tmp_path: Path):
    result = export(reg, "html", tmp_path / "out", actor="alice")
    html = (tmp_path / "out" / "report.html").read_text("utf-8")
    for sha in reg.catalog.shas():
        assert f'id="item-{sha}"' in html
    assert result.items == reg.catalog.shas()
    thumbs = re.findall(r'<img alt="thumbnail of [0-9a-f]+" src="data:image/jpeg;base64,', html)
    assert len(thumbs) >= len(result.items)  # one per item, more in the cluster view
    # Nothing external: no URL in any src or href, and a policy that forbids it.
    assert not re.search(r'(src|href)="(?!data:|#)', html)
    assert "default-src 'none'" in html
    assert "<script>alert" not in html and "&lt;script&gt;alert" in html
    assert "filter:blur" in html and 'id="show-all"' in html
    assert "line\nbreak.jpg" in html and "bad\\xffname.jpg" in html
    assert "Cluster 1: 2 items" in html and "crop" in html and "0.25" in html
    assert reg.info["installation_key"] in html and "BEGIN PUBLIC KEY" in html


def test_video_thumbnail_comes_from_a_frame(reg: Registry, tmp_path: Path):
    video = next(i for i in reg.list_items() if i["media_type"] == "video")
    export(reg, "html", tmp_path / "out", refs=[video["sha256"]], actor="alice")
    html = (tmp_path / "out" / "report.html").read_text("utf-8")
    assert 'src="data:image/jpeg;base64,' in html
    assert "no preview" not in html.split("Near-duplicate clusters")[0]


# --- bagit -------------------------------------------------------------------------------


def run_verifier(bag: Path, *args: str) -> subprocess.CompletedProcess:
    # -I -S: no site-packages, no environment; the verifier must need the stdlib only.
    return subprocess.run(
        [sys.executable, "-I", "-S", str(bag / "verify_bag.py"), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_bag_validates_with_bagit_python_and_the_standalone_verifier(reg: Registry, tmp_path: Path):
    bag_dir = tmp_path / "bag"
    result = export(reg, "bagit", bag_dir, case="C1", actor="carol")
    bag = bagit.Bag(str(bag_dir))
    bag.validate()
    assert set(bag.algorithms) == {"sha256", "sha512"}
    assert bag.info["Evidence-Checkpoint-Root"] == result.checkpoint["root"]
    originals = [p for p in bag.payload_files() if p.startswith("data/originals/")]
    assert len(originals) == len(result.items) == len(reg.catalog.shas("C1"))
    for rel in originals:
        sha = rel.split("/")[2]
        assert hashlib.sha256((bag_dir / rel).read_bytes()).hexdigest() == sha
    assert_inside(bag_dir)
    proc = run_verifier(bag_dir, "--root", result.checkpoint["root"])
    assert proc.returncode == 0, proc.stdout
    assert "VERIFIED:" in proc.stdout and "FAIL" not in proc.stdout
    assert run_verifier(bag_dir, "--root", "0" * 64).returncode == 1
    last = list(reg.log.entries())[-1]
    assert last["action"] == "export" and last["details"]["format"] == "bagit"
    assert (
        last["details"]["files"]["manifest-sha256.txt"]
        == hashlib.sha256((bag_dir / "manifest-sha256.txt").read_bytes()).hexdigest()
    )
    assert check(reg).ok


def test_bag_of_hostile_names_stays_inside(reg: Registry, tmp_path: Path):
    bag_dir = tmp_path / "bag"
    export(reg, "bagit", bag_dir, actor="carol")
    bagit.Bag(str(bag_dir)).validate()
    assert_inside(bag_dir)
    assert not (tmp_path / "escaped.jpg").exists()
    names = {p.name for p in (bag_dir / "data" / "originals").rglob("*") if p.is_file()}
    assert "_.._escaped.jpg" in names and "line_break.jpg" in names
    assert "bad_xffname.jpg" in names
    assert run_verifier(bag_dir).returncode == 0


def _rewrite_manifests(bag_dir: Path) -> None:
    """What a careful forger does after changing a payload file."""
    bag = bagit.Bag(str(bag_dir))
    bag.save(manifests=True)


def test_verifier_fails_after_tampering(reg: Registry, tmp_path: Path):
    bag_dir = tmp_path / "bag"
    export(reg, "bagit", bag_dir, case="C1", actor="carol")
    log = bag_dir / "data" / "custody" / "custody.jsonl"
    lines = log.read_bytes().splitlines()
    target = next(i for i, line in enumerate(lines) if b'"sighting.added"' in line)
    lines[target] = lines[target].replace(b"https://t.me/c/1", b"https://t.me/c/2")
    log.write_bytes(b"".join(line + b"\n" for line in lines))
    with pytest.raises(bagit.BagValidationError):
        bagit.Bag(str(bag_dir)).validate()
    assert run_verifier(bag_dir).returncode == 1
    # With the manifests recomputed, BagIt is satisfied; the signatures and proofs are not.
    _rewrite_manifests(bag_dir)
    bagit.Bag(str(bag_dir)).validate()
    proc = run_verifier(bag_dir)
    assert proc.returncode == 1
    failed = [line for line in proc.stdout.splitlines() if line.startswith("FAIL")]
    assert any("signatures are valid" in line for line in failed), proc.stdout
    assert any("in the checkpoint's Merkle tree" in line for line in failed), proc.stdout


def test_verifier_fails_on_a_swapped_original(reg: Registry, tmp_path: Path):
    bag_dir = tmp_path / "bag"
    export(reg, "bagit", bag_dir, case="C1", actor="carol")
    original = next((bag_dir / "data" / "originals").rglob("*.jpg"))
    original.chmod(0o644)
    original.write_bytes(original.read_bytes()[:-10])
    _rewrite_manifests(bag_dir)
    bagit.Bag(str(bag_dir)).validate()
    proc = run_verifier(bag_dir)
    assert proc.returncode == 1
    assert "original hashes to its id" in proc.stdout


# --- CASE --------------------------------------------------------------------------------


def test_case_export_is_json_ld_with_files_actions_and_investigation(reg: Registry, tmp_path: Path):
    result = export(reg, "case", tmp_path / "out", case="C1", actor="alice")
    doc = json.loads((tmp_path / "out" / "case.jsonld").read_text("utf-8"))
    assert doc["@context"]["uco-observable"].startswith("https://ontology.unifiedcyberontology")
    graph = doc["@graph"]
    by_type: dict[str, list] = {}
    for node in graph:
        by_type.setdefault(node["@type"], []).append(node)
    files = by_type["uco-observable:File"]
    file_ids = {node_id(reg.info["registry_id"], "file", sha): sha for sha in result.items}
    assert sorted(f["@id"] for f in files) == sorted(file_ids)
    for f in files:
        content = next(x for x in f["uco-core:hasFacet"] if x["@type"].endswith("ContentDataFacet"))
        values = {
            h["uco-types:hashMethod"]["@value"]: h["uco-types:hashValue"]["@value"]
            for h in content["uco-observable:hash"]
        }
        assert values["SHA256"] == file_ids[f["@id"]]
    assert len(by_type["case-investigation:InvestigativeAction"]) > len(files)
    assert len(by_type["case-investigation:ProvenanceRecord"]) == len(files)
    assert by_type["case-investigation:Investigation"][0]["uco-core:name"] == "C1"
    assert "uco-location:Location" in by_type
    ids = {node["@id"] for node in graph}
    assert len(ids) == len(graph)  # every node once
    for node in by_type["case-investigation:InvestigativeAction"]:
        assert node["uco-action:performer"]["@id"] in ids


def test_a_missing_original_stops_a_bag_with_a_clear_error(reg: Registry, tmp_path: Path):
    os.unlink(reg.vault.path(reg.catalog.shas()[0]))
    with pytest.raises(ExportError, match="run verify"):
        export(reg, "bagit", tmp_path / "bag", actor="carol")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # rdflib's own JSON-LD parser
def test_case_export_parses_as_rdf_and_answers_a_sparql_query(reg: Registry, tmp_path: Path):
    rdflib = pytest.importorskip("rdflib")  # a dev dependency; the export needs none
    export(reg, "case", tmp_path / "out", actor="alice")
    graph = rdflib.Graph()
    graph.parse(tmp_path / "out" / "case.jsonld", format="json-ld")
    rows = graph.query(
        """
        PREFIX uco-core: <https://ontology.unifiedcyberontology.org/uco/core/>
        PREFIX uco-observable: <https://ontology.unifiedcyberontology.org/uco/observable/>
        PREFIX uco-types: <https://ontology.unifiedcyberontology.org/uco/types/>
        PREFIX uco-vocabulary: <https://ontology.unifiedcyberontology.org/uco/vocabulary/>
        SELECT ?value WHERE {
            ?file a uco-observable:File ; uco-core:hasFacet ?facet .
            ?facet a uco-observable:ContentDataFacet ; uco-observable:hash ?hash .
            ?hash uco-types:hashMethod "SHA256" ;
                  uco-types:hashValue ?value .
        }
        """
    )
    found = sorted(bytes(row.value.toPython()).hex() for row in rows)
    assert found == reg.catalog.shas()
