"""``evidence --catalog postgresql://...``: every command on a PostgreSQL catalogue, as a
user runs them (a subprocess), against a real server (``support.postgres``); and kill -9
in the middle of its transactions."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from support.cli import kill_at, run_cli
from support.media import write_jpeg


def _json(proc) -> dict:
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout.splitlines()[0])


@pytest.fixture
def session(pg_url: str, tmp_path: Path) -> dict:
    """A registry whose only catalogue use so far is PostgreSQL's: three photos (one with
    GPS) and a file that is not media, ingested."""
    media = tmp_path / "media"
    write_jpeg(media / "a.jpg", 1, gps=(50.4501, 30.5234, 179.0), offset="+02:00")
    write_jpeg(media / "sub" / "b.jpg", 2, make="NIKON", model="COOLPIX P6000")
    write_jpeg(media / "c.jpg", 3, size=(160, 120))
    (media / "note.txt").write_text("not media\n")
    reg = tmp_path / "reg"
    proc = run_cli(
        "--catalog", pg_url, "ingest", str(media), "--case", "UA-031", "--workers", "1",
        "--json", registry=reg,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr  # note.txt is not media
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    stored = sorted(r["sha256"] for r in results if r["status"] == "new")
    assert len(stored) == 3
    return {"reg": reg, "url": pg_url, "stored": stored}


def test_every_command_on_a_postgres_catalogue(session: dict) -> None:
    reg, url, stored = session["reg"], session["url"], session["stored"]
    item = _json(run_cli("--catalog", url, "show", stored[0][:10], "--json", registry=reg))
    assert item["sha256"] == stored[0] and item["cases"] == ["UA-031"]
    listed = run_cli("--catalog", url, "list", "--case", "UA-031", "--json", registry=reg)
    assert sorted(json.loads(x)["sha256"] for x in listed.stdout.splitlines()) == stored
    dupes = _json(run_cli("--catalog", url, "dupes", "--json", registry=reg))
    assert "clusters" in dupes
    note = run_cli("--catalog", url, "note", stored[1][:12], "seen in Irpin", registry=reg)
    assert note.returncode == 0, note.stderr
    verified = run_cli("--catalog", url, "verify", registry=reg)
    assert verified.returncode == 0 and verified.stdout.startswith("OK - "), verified.stdout
    # Rows, not files: the registry's own catalogue was never written after init.
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT sha256, cases FROM evidence_items ORDER BY 1").fetchall()
    assert rows == [(sha, ["UA-031"]) for sha in stored]
    own = run_cli("show", stored[0], registry=reg)
    assert own.returncode == 1 and "No item matches" in own.stderr
    # Its own catalogue catches up from the log (any writing command does; rebuild too),
    # and then both say the same, to the byte.
    assert run_cli("rebuild", registry=reg).returncode == 0
    assert run_cli("--catalog", url, "rebuild", registry=reg).returncode == 0
    for sha in stored:
        mine = run_cli("show", sha, "--json", registry=reg)
        theirs = run_cli("show", sha, "--json", registry=reg, env={"EVIDENCE_CATALOG": url})
        assert mine.stdout == theirs.stdout and mine.returncode == 0
    noted = _json(run_cli("show", stored[1], "--json", registry=reg))
    assert [n["text"] for n in noted["notes"]] == ["seen in Irpin"]


def test_rebuild_catalog_repairs_a_tampered_row(session: dict) -> None:
    reg, url, stored = session["reg"], session["url"], session["stored"]
    with psycopg.connect(url) as conn:
        conn.execute(
            "UPDATE evidence_items SET cases = ARRAY['OTHER'] WHERE sha256 = %s", (stored[2],)
        )
    broken = run_cli("--catalog", url, "verify", "--json", registry=reg)
    assert broken.returncode == 1
    problems = json.loads(broken.stdout)["problems"]
    assert [(p["code"], p["sha256"], p["field"]) for p in problems] == [
        ("CatalogMismatch", stored[2], "cases")
    ]
    rebuilt = run_cli("rebuild", "--catalog", url, "--json", registry=reg)
    assert _json(rebuilt) == {"items": 3}
    assert run_cli("--catalog", url, "verify", registry=reg).returncode == 0


def test_a_password_never_reaches_the_custody_log(session: dict) -> None:
    reg, url = session["reg"], session["url"]
    secret = url.replace("postgres@", "postgres:hunter2@")  # trust auth: any password works
    assert run_cli("--catalog", secret, "verify", registry=reg).returncode == 0
    log = (reg / "custody.jsonl").read_text()
    assert "hunter2" not in log and "postgres:***@" in log


def test_an_unreachable_catalogue_is_a_clean_error(tmp_path: Path) -> None:
    url = "postgresql://ops:hunter2@127.0.0.1:9/evidence?connect_timeout=2"
    assert run_cli("init", registry=tmp_path / "reg").returncode == 0
    proc = run_cli("--catalog", url, "list", registry=tmp_path / "reg")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "Catalogue cannot be opened or written: postgresql://ops:***@127.0.0.1:9" in proc.stderr


@pytest.mark.parametrize(
    "argv,point",
    [
        (["note", "{sha}", "killed while committing"], "catalog.committing"),
        (["rebuild"], "rebuild.built"),
    ],
)
def test_kill_inside_a_postgres_transaction(session: dict, tmp_path: Path, argv, point) -> None:
    """kill -9 with the transaction open: PostgreSQL keeps the catalogue as it was, and
    the next command catches up from the position it committed with it."""
    reg, url, stored = session["reg"], session["url"], session["stored"]
    before = _json(run_cli("--catalog", url, "show", stored[0], "--json", registry=reg))
    argv = [a.replace("{sha}", stored[0]) for a in argv]
    kill_at(["--catalog", url, *argv], point, registry=reg, work=tmp_path)
    after = _json(run_cli("--catalog", url, "show", stored[0], "--json", registry=reg))
    assert after == before  # the old state, whole
    verified = run_cli("--catalog", url, "verify", "--json", registry=reg)
    assert _json(verified)["ok"] is True
    notes = _json(run_cli("--catalog", url, "show", stored[0], "--json", registry=reg))["notes"]
    assert [n["text"] for n in notes] == (["killed while committing"] if "note" in argv else [])
    again = run_cli("--catalog", url, "ingest", str(reg.parent / "media"), "--json", registry=reg)
    statuses = [json.loads(x)["status"] for x in again.stdout.splitlines()]
    assert statuses.count("known") == 3 and "new" not in statuses
