"""The CASE/UCO export of a registry with photos, a video, near-duplicates (a mirrored
and cropped re-post, a still from the video), notes and several sightings: node IRIs
end with UUIDs that stay the same from one export to the next, and case-utils'
``case_validate`` with its default settings (newest CASE release it ships, warnings and
informational results not allowed) finds it conformant."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import av
import pytest
from PIL import Image, ImageOps

from registry import Registry
from registry.export.case import node_id
from support.cli import run_cli
from support.media import write_jpeg, write_video

UUID_AT_END = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-5][0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE
)
HASH_NAMES = {"MD5", "SHA1", "SHA256"}


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("case")
    originals, reposts, reg = root / "originals", root / "reposts", root / "reg"
    bridge = write_jpeg(originals / "bridge.jpg", 31, gps=(50.4501, 30.5234, 179.0))
    write_jpeg(originals / "street.jpg", 32, make="NIKON", model="D70")
    clip = write_video(originals / "clip.mp4", 33, seconds=2.0, size=(320, 240))
    reposts.mkdir()
    picture = Image.open(bridge).convert("RGB")
    w, h = picture.size
    ImageOps.mirror(picture).crop((w // 10, h // 10, w - w // 10, h - h // 10)).save(
        reposts / "bridge_mirrored.jpg", quality=70
    )
    with av.open(str(clip)) as container:
        frame = next(f for i, f in enumerate(container.decode(video=0)) if i == 10)
        frame.to_image().save(reposts / "clip_still.jpg", quality=85)

    def cli(*args: str) -> str:
        return run_cli(*args, registry=reg, check=True).stdout

    cli("init", "--actor", "alice")
    cli("key", "create", "--actor", "alice")
    common = ("--case", "UA-1", "--workers", "1")
    cli("ingest", str(originals), *common, "--actor", "alice", "--source-url", "https://t.me/c/1")
    cli("ingest", str(reposts), *common, "--actor", "bob", "--source-url", "https://t.me/c/2")
    # The same photo seen again elsewhere: one more sighting of the known item.
    cli(
        "ingest",
        str(bridge),
        *common,
        "--actor",
        "bob",
        "--source-url",
        "https://t.me/c/3/77",
        "--posted-at",
        "2022-03-17T09:00:00+02:00",
        "--forwarded-from",
        "https://t.me/c/1/5",
        "--note",
        "re-posted with a caption",
    )
    items = [json.loads(line) for line in cli("list", "--json").splitlines()]
    for item in items[:2]:
        cli("note", item["sha256"][:12], "geolocated: Irpin bridge", "--actor", "carol")
    return reg


def _export(reg: Path, out: Path) -> dict[str, Any]:
    args = ("export", "--format", "case", "--out", str(out), "--case", "UA-1", "--actor", "dave")
    run_cli(*args, registry=reg, check=True)
    return json.loads((out / "case.jsonld").read_text("utf-8"))


@pytest.fixture(scope="module")
def exported(registry: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("case-out") / "out"
    _export(registry, out)
    return out / "case.jsonld"


def _nodes(value: Any) -> list[dict[str, Any]]:
    """Every node object in ``value``, nested ones (facets, hashes) included."""
    if isinstance(value, list):
        return [n for v in value for n in _nodes(v)]
    if not isinstance(value, dict):
        return []
    inner = [n for v in value.values() for n in _nodes(v)]
    return ([value] if "@type" in value and "@id" in value else []) + inner


def test_the_export_has_photos_a_video_near_duplicates_notes_and_sightings(exported: Path):
    graph = json.loads(exported.read_text("utf-8"))["@graph"]
    files = [n for n in graph if n["@type"] == "uco-observable:File"]
    mimes = sorted(
        facet["uco-observable:mimeType"]
        for f in files
        for facet in f["uco-core:hasFacet"]
        if facet["@type"] == "uco-observable:ContentDataFacet"
    )
    assert mimes == ["image/jpeg"] * 4 + ["video/mp4"]
    kinds = [n.get("uco-core:kindOfRelationship") for n in graph]
    assert kinds.count("Near_Duplicate_Of") == 2 and kinds.count("Mapped_Into") == 1
    actions = [n["uco-core:name"] for n in graph if n["@type"].endswith("InvestigativeAction")]
    assert actions.count("note.added") == 2
    assert actions.count("sighting.added") == 6  # five files, one of them seen twice
    assert "key.created" in actions


def test_node_iris_end_with_a_uuid_and_are_the_same_in_every_export(
    registry: Path, exported: Path, tmp_path: Path
):
    doc = json.loads(exported.read_text("utf-8"))
    nodes = _nodes(doc["@graph"])
    ids = [n["@id"] for n in nodes]
    assert [i for i in ids if not UUID_AT_END.search(i)] == []
    assert len(set(ids)) == len(ids)
    again = _nodes(_export(registry, tmp_path / "again")["@graph"])
    assert [n["@id"] for n in again] == ids
    registry_id = Registry.open(str(registry)).info["registry_id"]
    assert doc["@context"]["kb"] == f"urn:evidence-registry:{registry_id}:"
    for n in nodes:
        if n["@type"] == "uco-types:Hash":
            assert n["uco-types:hashMethod"] == {"@value": n["uco-types:hashMethod"]["@value"]}
            assert n["uco-types:hashMethod"]["@value"] in HASH_NAMES
            if n["uco-types:hashMethod"]["@value"] == "SHA256":
                sha = n["uco-types:hashValue"]["@value"]
                assert node_id(registry_id, "file", sha) in ids


def test_facet_and_hash_iris_use_case_utils_inherent_uuids(exported: Path):
    inherent = pytest.importorskip("case_utils.inherent_uuid")
    from rdflib import Literal, Namespace, URIRef
    from rdflib.namespace import XSD

    doc = json.loads(exported.read_text("utf-8"))
    kb = Namespace(doc["@context"]["kb"])

    def iri(compact: str) -> URIRef:
        prefix, local = compact.split(":", 1)
        return URIRef(doc["@context"][prefix] + local)

    checked = 0
    for owner in doc["@graph"]:
        for facet in owner.get("uco-core:hasFacet", []):
            want = inherent.get_facet_uriref(iri(owner["@id"]), iri(facet["@type"]), namespace=kb)
            assert facet["@id"][-36:] == str(want)[-36:]
            for h in facet.get("uco-observable:hash", []):
                method = Literal(h["uco-types:hashMethod"]["@value"])
                value = Literal(h["uco-types:hashValue"]["@value"], datatype=XSD.hexBinary)
                assert h["@id"][-36:] == str(inherent.hash_method_value_uuid(method, value))
                checked += 1
    assert checked == 15  # SHA-256, SHA-1 and MD5 of five files


def test_case_validate_with_its_default_settings_finds_the_export_conformant(exported: Path):
    pytest.importorskip("case_utils")  # a dev dependency; the export needs none
    from case_utils.ontology.version_info import CURRENT_CASE_VERSION

    tool = Path(sys.executable).parent / "case_validate"
    if not tool.exists():
        pytest.skip(f"{tool} is absent")
    # No options: the newest CASE release it ships, warnings and infos not allowed.
    proc = subprocess.run([str(tool), str(exported)], capture_output=True, text=True, timeout=1800)
    report = f"CASE {CURRENT_CASE_VERSION}\n{proc.stdout}\n{proc.stderr}"
    assert proc.returncode == 0, report
    assert "Conforms: True" in proc.stdout, report
    assert "Severity" not in proc.stdout and "Results (" not in proc.stdout, report
    assert "Warning" not in proc.stderr, report
