"""A real ``evidence serve`` in a subprocess: requests from concurrent clients, and a
kill -9 in the middle of an upload (stopped at a pause point, never by a delay) that
leaves a registry that verifies, after which uploading the same files stores each once.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from pathlib import Path

import httpx
import pytest

from registry import init_registry
from registry.accounts import add_user, create_token, grant
from support.cli import run_cli
from support.media import write_jpeg
from support.server import ServerProcess, serving, together, wait_for

CASE = "UA-031"


@pytest.fixture
def reg_with_alice(tmp_path: Path) -> tuple[Path, str]:
    root = tmp_path / "reg"
    reg = init_registry(str(root), actor="operator")
    add_user(reg, "alice", None, actor="operator")
    grant(reg, "alice", CASE, "editor", actor="operator")
    return root, create_token(reg, "alice", actor="operator")["token"]


def _photos(folder: Path, n: int, seed: int) -> list[Path]:
    return [write_jpeg(folder / f"p{seed + i}.jpg", seed + i, size=(240, 180)) for i in range(n)]


def _files(paths: list[Path]) -> list:
    return [("files", (p.name, p.read_bytes(), "image/jpeg")) for p in paths]


def _vault(root: Path) -> set[str]:
    return {
        p.name for p in (root / "vault").rglob("*") if p.is_file() and ".staging" not in p.parts
    }


def test_a_real_server_with_concurrent_clients(reg_with_alice, tmp_path: Path) -> None:
    root, token = reg_with_alice
    headers = {"Authorization": f"Bearer {token}"}
    photos = _photos(tmp_path / "in", 4, 300)
    errors: list[str] = []
    with serving(root, "--workers", "1") as server:
        url = server.url

        def upload(chunk: list[Path]) -> None:
            with httpx.Client(base_url=url, headers=headers, timeout=300) as c:
                r = c.post(f"/api/v1/ingest?case={CASE}", files=_files(chunk))
                if r.status_code != 200:
                    errors.append(r.text)

        def read() -> None:
            with httpx.Client(base_url=url, headers=headers, timeout=300) as c:
                for _ in range(10):
                    for path in (f"/api/v1/items?case={CASE}", "/api/v1/cases", "/api/v1/dupes"):
                        r = c.get(path)
                        if r.status_code != 200:
                            errors.append(f"{path}: {r.status_code}")

        threads = [threading.Thread(target=upload, args=(photos[i::2],)) for i in range(2)]
        threads += [threading.Thread(target=read) for _ in range(4)]
        together(threads, timeout=600)
        spec = httpx.get(f"{url}/api/v1/openapi.json").json()
        assert "/api/v1/neardups/decision" in spec["paths"]
        assert httpx.get(f"{url}/api/v1/cases").status_code == 401
    assert errors == []
    assert "Bearer" not in "".join(server.lines) and token not in "".join(server.lines)
    assert run_cli("verify", registry=root).returncode == 0
    listed = [json.loads(x) for x in run_cli("list", "--json", registry=root).stdout.splitlines()]
    assert sorted(i["sha256"] for i in listed) == sorted(
        hashlib.sha256(p.read_bytes()).hexdigest() for p in photos
    )


@pytest.mark.parametrize("point", ["upload.received", "commit.logged"])
def test_kill_9_during_an_upload(reg_with_alice, tmp_path: Path, point: str) -> None:
    """Killed while the body is still arriving (one file spooled, the rest not), or
    while the upload's batch is being committed (logged, not yet in the vault)."""
    root, token = reg_with_alice
    headers = {"Authorization": f"Bearer {token}"}
    photos = _photos(tmp_path / "in", 3, 400)
    flag = tmp_path / "paused"
    env = {"EVIDENCE_PAUSE_AT": point, "EVIDENCE_PAUSE_FILE": str(flag)}
    server = ServerProcess(root, "--workers", "1", env=env)
    url = server.wait_started()

    def doomed() -> None:
        with contextlib.suppress(httpx.HTTPError):  # the server dies under it
            httpx.post(
                f"{url}/api/v1/ingest?case={CASE}",
                headers=headers,
                files=_files(photos),
                timeout=300,
            )

    client = threading.Thread(target=doomed, daemon=True)
    client.start()
    try:
        wait_for(flag, server)
    finally:
        server.kill()
    client.join(timeout=60)
    assert flag.read_text().strip() == f"{point}:1"
    if point == "upload.received":
        assert [p.name for p in (root / "uploads").iterdir() if p.is_dir()]  # a dead spool
    check = run_cli("verify", "--json", registry=root)
    assert check.returncode == 0, check.stdout + check.stderr
    # What the killed server had logged is kept (recovered), nothing else.
    kept = len(run_cli("list", "--json", registry=root).stdout.splitlines())
    assert (kept >= 1) == (point == "commit.logged")
    with serving(root, "--workers", "1") as again:
        assert not [p for p in (root / "uploads").iterdir() if p.is_dir()]  # cleared
        r = httpx.post(
            f"{again.url}/api/v1/ingest?case={CASE}",
            headers=headers,
            files=_files(photos),
            timeout=300,
        )
        assert r.status_code == 200, r.text
        statuses = sorted(x["status"] for x in r.json()["results"])
    expected = {hashlib.sha256(p.read_bytes()).hexdigest() for p in photos}
    assert _vault(root) == expected  # each stored once
    assert statuses.count("known") == kept and statuses.count("new") == 3 - kept
    assert run_cli("verify", registry=root).returncode == 0
    listed = [json.loads(x) for x in run_cli("list", "--json", registry=root).stdout.splitlines()]
    assert sorted(i["sha256"] for i in listed) == sorted(expected)
