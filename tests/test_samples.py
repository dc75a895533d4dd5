"""The README demo: the project's own samples ingest cleanly with their ground truth."""

from __future__ import annotations

import json
from pathlib import Path

from support.cli import ROOT, run_cli

MEDIA = ROOT / "samples" / "media"


def test_demo_ingest_of_samples(tmp_path: Path) -> None:
    reg = tmp_path / "demo"
    proc = run_cli("ingest", str(MEDIA), "--case", "DEMO", "--json", registry=reg)
    assert proc.returncode == 0, proc.stderr
    rows = {Path(r["path"]).name: r for r in map(json.loads, proc.stdout.splitlines())}
    assert len(rows) == 6 and {r["status"] for r in rows.values()} == {"new"}
    photo = json.loads(
        run_cli("show", rows["photo_original.jpg"]["sha256"], "--json", registry=reg).stdout
    )
    meta = photo["metadata"]
    assert meta["captured_at"] == "2022-03-16T10:41:07.25+02:00"
    assert (meta["make"], meta["model"], meta["serial"]) == (
        "Canon",
        "Canon EOS 80D",
        "083021001234",
    )
    assert meta["gps"] == {"lat": 50.4501, "lon": 30.5234, "alt": 179.0}
    video = json.loads(
        run_cli("show", rows["video_original.mp4"]["sha256"], "--json", registry=reg).stdout
    )
    assert video["metadata"]["captured_at"] == "2022-03-16T10:45:00+00:00"
    assert video["metadata"]["gps"]["lat"] == 50.4501
    assert video["duration_s"] == 12.0 and video["metadata"]["frame_count"] == 300
    bad = run_cli("ingest", str(ROOT / "samples" / "not_media.txt"), registry=reg)
    assert bad.returncode == 1 and "not a supported photo or video format" in bad.stdout
    assert run_cli("verify", registry=reg).returncode == 0
