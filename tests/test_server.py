"""The team server through its HTTP API (FastAPI's TestClient): authentication, the
status codes, every access logged once, decisions honoured by ``dupes``, limits,
roles, exports, and writers in concurrent threads."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from registry import Registry
from registry.accounts import create_token, revoke_token
from registry.custody import neardup_found
from registry.server import ServerConfig, create_app
from support import team
from support.media import write_jpeg
from support.server import together


@pytest.fixture
def world(tmp_path: Path) -> team.World:
    return team.build(tmp_path)


def _client(world: team.World, **options) -> TestClient:
    options.setdefault("workers", 1)
    options.setdefault("rate", 10_000)
    return TestClient(create_app(ServerConfig(registry=str(world.root), **options)))


def _h(world: team.World, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.tokens[user]}"}


def _upload(*paths: Path) -> list:
    return [("files", (p.name, p.read_bytes(), "image/jpeg")) for p in paths]


def _entries(world: team.World) -> list[dict]:
    return list(Registry.open(str(world.root)).custody())


def test_401_without_a_valid_token(world: team.World) -> None:
    client = _client(world)
    token = world.tokens["alpha_viewer"]
    token_id = world.token_ids["alpha_viewer"]
    forged = token[: -len("x" * 43)] + "A" * 43  # the right id, another secret
    for headers in (
        {},
        {"Authorization": "Bearer nonsense"},
        {"Authorization": f"Bearer {forged}"},
        {"Authorization": f"Basic {token}"},
    ):
        response = client.get("/api/v1/cases", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["www-authenticate"] == "Bearer"
    assert client.get("/api/v1/cases", headers=_h(world, "alpha_viewer")).status_code == 200
    revoke_token(Registry.open(str(world.root)), token_id, actor=team.OPERATOR)
    assert client.get("/api/v1/cases", headers=_h(world, "alpha_viewer")).status_code == 401


def test_a_read_only_token_acts_as_a_viewer(world: team.World) -> None:
    reg = Registry.open(str(world.root))
    made = create_token(reg, "alpha_owner", actor=team.OPERATOR, read_only=True)
    headers = {"Authorization": f"Bearer {made['token']}"}
    client = _client(world)
    cases = client.get("/api/v1/cases", headers=headers).json()["cases"]
    assert [(c["case"], c["role"]) for c in cases] == [(team.ALPHA, "viewer")]
    assert client.get(f"/api/v1/items?case={team.ALPHA}", headers=headers).status_code == 200
    photo = write_jpeg(world.root.parent / "new.jpg", 900)
    upload = client.post(f"/api/v1/ingest?case={team.ALPHA}", headers=headers, files=_upload(photo))
    assert upload.status_code == 403
    export = client.post(
        "/api/v1/exports", headers=headers, json={"format": "csv", "case": team.ALPHA}
    )
    assert export.status_code == 403


def test_every_read_is_one_access_entry_by_the_user(world: team.World) -> None:
    client = _client(world)
    h = _h(world, "alpha_manager")
    shared = world.items["shared"]
    calls = [
        ("access.viewed", lambda: client.get(f"/api/v1/items?case={team.ALPHA}", headers=h)),
        ("access.viewed", lambda: client.get(f"/api/v1/items/{shared}", headers=h)),
        ("access.downloaded", lambda: client.get(f"/api/v1/items/{shared}/original", headers=h)),
        ("access.viewed", lambda: client.get(f"/api/v1/dupes?case={team.ALPHA}", headers=h)),
        ("access.viewed", lambda: client.get(f"/api/v1/custody?sha256={shared}", headers=h)),
        (
            "access.searched",
            lambda: client.post("/api/v1/match", headers=h, files=_upload(world.files["alpha1"])),
        ),
    ]
    for action, call in calls:
        before = len(_entries(world))
        response = call()
        assert response.status_code == 200, response.text
        new = _entries(world)[before:]
        assert [(e["action"], e["actor"]) for e in new] == [(action, "alpha_manager")]
        assert new[0]["details"]["request"].startswith(("GET /api/v1/", "POST /api/v1/"))
    listing = next(e for e in _entries(world) if e["action"] == "access.viewed")
    assert sorted(listing["details"]["items"]) == sorted(world.reg.catalog.shas(team.ALPHA))
    before = len(_entries(world))
    exported = client.post("/api/v1/exports", headers=h, json={"format": "csv", "case": team.ALPHA})
    assert exported.status_code == 200
    actions = [e["action"] for e in _entries(world)[before:]]
    assert actions == ["export", "access.exported"]
    reg = Registry.open(str(world.root))
    assert reg.verify().ok
    reg.rebuild()
    assert reg.verify().ok


def test_an_item_is_shown_as_show_json_to_who_sees_all_its_cases(world: team.World) -> None:
    client = _client(world)
    for user, label in (("bravo_owner", "bravo1"), ("alpha_viewer", "alpha1")):
        sha = world.items[label]
        got = client.get(f"/api/v1/items/{sha}", headers=_h(world, user)).json()
        assert got == json.loads(json.dumps(Registry.open(str(world.root)).show(sha)))


def test_the_shared_item_shows_each_case_its_own(world: team.World) -> None:
    client = _client(world)
    sha = world.items["shared"]
    alpha = client.get(f"/api/v1/items/{sha}", headers=_h(world, "alpha_viewer")).json()
    bravo = client.get(f"/api/v1/items/{sha}", headers=_h(world, "bravo_owner")).json()
    assert alpha["cases"] == [team.ALPHA] and bravo["cases"] == [team.BRAVO]
    assert {s["observed_by"] for s in alpha["sightings"]} == {team.ALPHA_COLLECTOR}
    assert [n["text"] for n in alpha["notes"]] == [team.ALPHA_NOTE]
    assert [n["text"] for n in bravo["notes"]] == [team.BRAVO_NOTE]
    assert alpha["near_duplicates"] == []  # its copy is BRAVO's
    assert [p["sha256"] for p in bravo["near_duplicates"]] == [world.items["shared_variant"]]
    assert alpha["first_seen"]["observed_by"] == team.ALPHA_COLLECTOR


def test_originals_stream_with_ranges(world: team.World) -> None:
    client = _client(world)
    sha = world.items["alpha1"]
    data = world.files["alpha1"].read_bytes()
    full = client.get(f"/api/v1/items/{sha}/original", headers=_h(world, "alpha_viewer"))
    assert full.status_code == 200 and full.content == data
    assert full.headers["content-type"] == "image/jpeg"
    headers = {**_h(world, "alpha_viewer"), "Range": "bytes=10-19"}
    part = client.get(f"/api/v1/items/{sha}/original", headers=headers)
    assert part.status_code == 206 and part.content == data[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(data)}"


def test_decisions_are_logged_shown_and_honoured_by_dupes(world: team.World) -> None:
    client = _client(world)
    a, b = world.items["alpha1"], world.items["alpha_pair"]

    def cluster_of(user: str) -> list[list[str]]:
        clusters = client.get("/api/v1/dupes", headers=_h(world, user)).json()["clusters"]
        return [c["members"] for c in clusters if a in c["members"]]

    assert cluster_of("alpha_viewer") == [sorted([a, b])]
    body = {"a": a, "b": b, "decision": "rejected", "reason": "two different bridges"}
    assert (
        client.post(
            "/api/v1/neardups/decision", headers=_h(world, "alpha_viewer"), json=body
        ).status_code
        == 403
    )
    made = client.post("/api/v1/neardups/decision", headers=_h(world, "alpha_editor"), json=body)
    assert made.status_code == 200, made.text
    assert made.json()["pair"]["decision"] == "rejected"
    entry = _entries(world)[-1]
    assert (entry["action"], entry["actor"], entry["sha256"]) == (
        "neardup.rejected",
        "alpha_editor",
        a,
    )
    assert entry["details"] == {"match": b, "case": team.ALPHA, "reason": "two different bridges"}
    assert cluster_of("alpha_viewer") == []
    reg = Registry.open(str(world.root))
    assert a not in {m for c in reg.dupes() for m in c["members"]}
    pairs = {p["sha256"]: p["decision"] for p in reg.show(a)["near_duplicates"]}
    assert pairs == {b: "rejected"}
    assert all(
        p["decision"] in (None, "rejected")
        for p in reg.show(world.items["cross_alpha"])["near_duplicates"]
    )
    # The pair found again (as a re-index with other thresholds would log it).
    again = {"sha256": a, "score": 0.9, "distance": 10, "method": "orb+ransac", "transform": None}
    with reg.writing(team.OPERATOR):
        reg.record([neardup_found(team.OPERATOR, b, again)])
        reg.save()
    assert {p["sha256"]: p["decision"] for p in reg.show(a)["near_duplicates"]} == {b: "rejected"}
    assert reg.show(a)["near_duplicates"][0]["score"] == 0.9
    reg.rebuild()
    assert {p["sha256"]: p["decision"] for p in reg.show(a)["near_duplicates"]} == {b: "rejected"}
    assert reg.verify().ok
    body["decision"] = "confirmed"
    assert (
        client.post(
            "/api/v1/neardups/decision", headers=_h(world, "alpha_owner"), json=body
        ).status_code
        == 200
    )
    assert cluster_of("alpha_viewer") == [sorted([a, b])]


def test_a_decision_in_one_case_is_not_anothers(world: team.World) -> None:
    """BRAVO rejected bravo1 ~ bravo_pair: ALPHA, once it holds both, sees no decision."""
    client = _client(world)
    h = _h(world, "alpha_editor")
    pair = [world.files["bravo1"], world.files["bravo_pair"]]
    assert (
        client.post(
            f"/api/v1/ingest?case={team.ALPHA}", headers=h, files=_upload(*pair)
        ).status_code
        == 200
    )
    item = client.get(f"/api/v1/items/{world.items['bravo1']}", headers=h).json()
    assert [(p["sha256"], p["decision"]) for p in item["near_duplicates"]] == [
        (world.items["bravo_pair"], None)
    ]
    assert "decisions" not in item["near_duplicates"][0]


def test_uploading_another_cases_file_says_new_and_shows_only_your_case(world: team.World) -> None:
    client = _client(world)
    h = _h(world, "alpha_editor")
    response = client.post(
        f"/api/v1/ingest?case={team.ALPHA}",
        headers=h,
        files=_upload(world.files["cross_bravo"]),
        data={"source_url": f"{team.ALPHA_URL}/77", "posted_at": "2022-03-16T11:02:00+02:00"},
    )
    [result] = response.json()["results"]
    assert result["status"] == "new" and result["path"] == "cross-repost.jpg"
    item = client.get(f"/api/v1/items/{result['sha256']}", headers=h).json()
    assert [(s["case"], s["source_url"]) for s in item["sightings"]] == [
        (team.ALPHA, f"{team.ALPHA_URL}/77")
    ]
    assert item["notes"] == []  # BRAVO's note on it stays BRAVO's
    again = client.post(
        f"/api/v1/ingest?case={team.ALPHA}", headers=h, files=_upload(world.files["cross_bravo"])
    )
    assert again.json()["results"][0]["status"] == "known"
    assert Registry.open(str(world.root)).verify().ok


def test_limits_and_bad_fields(world: team.World) -> None:
    client = _client(world, max_upload=50_000)
    h = _h(world, "alpha_editor")
    big = write_jpeg(world.root.parent / "big.jpg", 901, size=(800, 600))
    assert big.stat().st_size > 50_000
    before = len(_entries(world))
    response = client.post(f"/api/v1/ingest?case={team.ALPHA}", headers=h, files=_upload(big))
    assert response.status_code == 413
    assert len(_entries(world)) == before
    assert list((world.root / "uploads").iterdir()) == []  # the spool is gone
    small = write_jpeg(world.root.parent / "small.jpg", 902, size=(64, 48))
    bad = [
        client.post(
            f"/api/v1/ingest?case={team.ALPHA}",
            headers=h,
            files=_upload(small),
            data={"posted_at": "last tuesday"},
        ),
        client.post("/api/v1/ingest", headers=h, files=_upload(small)),
        client.post(f"/api/v1/ingest?case={team.ALPHA}", headers=h, data={"note": "no file"}),
        client.get("/api/v1/items/not-a-hash", headers=h),
        client.post(
            "/api/v1/neardups/decision",
            headers=h,
            json={"a": "0" * 64, "b": "1" * 64, "decision": "maybe"},
        ),
        client.post("/api/v1/exports", headers=h, json={"format": "pdf", "case": team.ALPHA}),
    ]
    assert [r.status_code for r in bad] == [422] * len(bad), [r.text for r in bad]
    assert len(_entries(world)) == before
    huge = client.post("/api/v1/exports", headers=h, content=b"{" + b" " * (2 << 20) + b"}")
    assert huge.status_code == 413


def test_rate_limit_per_token(world: team.World) -> None:
    client = _client(world, rate=1)  # bursts of 2
    client.app.state.server.limiter.clock = lambda: 0.0  # no refill, however slow the run
    codes = [
        client.get("/api/v1/cases", headers=_h(world, "alpha_viewer")).status_code for _ in range(3)
    ]
    assert codes[:2] == [200, 200] and codes[2] == 429
    assert client.get("/api/v1/cases", headers=_h(world, "alpha_owner")).status_code == 200


def test_roles_through_the_api(world: team.World) -> None:
    client = _client(world)
    url = f"/api/v1/cases/{team.ALPHA}/roles"

    def grant(by: str, role: str) -> int:
        return client.post(
            url, headers=_h(world, by), json={"name": "newcomer", "role": role}
        ).status_code

    def revoke(by: str) -> int:
        return client.delete(f"{url}/newcomer", headers=_h(world, by)).status_code

    assert grant("alpha_editor", "viewer") == 403
    assert grant("alpha_manager", "editor") == 200
    assert grant("alpha_manager", "owner") == 403
    assert grant("alpha_owner", "manager") == 200
    assert revoke("alpha_manager") == 403  # managers are revoked by owners
    assert grant("alpha_manager", "viewer") == 403  # which a demotion would be
    assert revoke("alpha_owner") == 200
    assert revoke("alpha_owner") == 404
    assert (
        client.post(
            url, headers=_h(world, "alpha_owner"), json={"name": "ghost", "role": "viewer"}
        ).status_code
        == 404
    )
    granted = [e for e in _entries(world) if e["action"] in ("role.granted", "role.revoked")]
    assert [(e["action"], e["actor"], e["details"]["role"]) for e in granted[-3:]] == [
        ("role.granted", "alpha_manager", "editor"),
        ("role.granted", "alpha_owner", "manager"),
        ("role.revoked", "alpha_owner", "manager"),
    ]
    cross = client.post(
        url,
        headers={**_h(world, "alpha_owner"), "Origin": "https://evil.example"},
        json={"name": "newcomer", "role": "viewer"},
    )
    assert cross.status_code == 403


def test_a_case_bag_exported_through_the_api_verifies(world: team.World, tmp_path: Path) -> None:
    client = _client(world)
    response = client.post(
        "/api/v1/exports",
        headers=_h(world, "alpha_manager"),
        json={"format": "bagit", "case": team.ALPHA},
    )
    assert response.status_code == 200
    bag = tmp_path / "bag"
    with zipfile.ZipFile(io.BytesIO(response.content)) as zf:
        zf.extractall(bag)
    checked = subprocess.run(
        [sys.executable, "-I", "-S", str(bag / "verify_bag.py"), str(bag)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    originals = sorted(p.name for p in (bag / "data" / "originals").rglob("*") if p.is_file())
    assert len(originals) == len(world.reg.catalog.shas(team.ALPHA))


def test_writers_in_concurrent_threads(world: team.World, tmp_path: Path) -> None:
    """Uploads, decisions and reads at once, from threads (as the server's pool runs
    them): the file lock serialises the writers; nothing is lost or stored twice."""
    photos = [write_jpeg(tmp_path / "up" / f"t{i}.jpg", 950 + i, size=(200, 150)) for i in range(6)]
    errors: list[str] = []
    with _client(world) as client:

        def upload(chunk: list[Path]) -> None:
            for p in chunk:
                r = client.post(
                    f"/api/v1/ingest?case={team.ALPHA}",
                    headers=_h(world, "alpha_editor"),
                    files=_upload(p),
                )
                if r.status_code != 200 or r.json()["results"][0]["status"] != "new":
                    errors.append(r.text)

        def read() -> None:
            for _ in range(15):
                for url in (f"/api/v1/items?case={team.ALPHA}", "/api/v1/dupes", "/api/v1/cases"):
                    r = client.get(url, headers=_h(world, "alpha_viewer"))
                    if r.status_code != 200:
                        errors.append(f"{url} {r.status_code} {r.text}")

        threads = [threading.Thread(target=upload, args=(photos[i::2],)) for i in range(2)]
        threads += [threading.Thread(target=read) for _ in range(4)]
        together(threads, timeout=600)
    assert errors == []
    reg = Registry.open(str(world.root))
    report = reg.verify()
    assert report.ok, report.problems
    listed = [i["sha256"] for i in reg.list_items(team.ALPHA)]
    assert len(listed) == len(set(listed)) == 5 + len(photos)
    reads = [
        e for e in reg.custody() if e["action"] == "access.viewed" and e["actor"] == "alpha_viewer"
    ]
    assert len(reads) == 4 * 15 * 2  # items and dupes each logged once per request


def test_login_with_a_password_gives_a_token(tmp_path: Path) -> None:
    from registry import init_registry
    from registry.accounts import add_user, grant

    reg = init_registry(str(tmp_path / "reg"), actor="operator")
    add_user(reg, "alice", "correct horse", actor="operator")
    grant(reg, "alice", "C", "viewer", actor="operator")
    client = TestClient(create_app(ServerConfig(registry=reg.root)))
    client.app.state.server.logins.clock = lambda: 0.0  # no refill, however slow the run
    wrong = client.post("/api/v1/login", json={"name": "alice", "password": "wrong"})
    assert wrong.status_code == 401
    made = client.post("/api/v1/login", json={"name": "alice", "password": "correct horse"})
    assert made.status_code == 200
    headers = {"Authorization": f"Bearer {made.json()['token']}"}
    assert client.get("/api/v1/cases", headers=headers).json()["cases"][0]["case"] == "C"
    codes = [
        client.post("/api/v1/login", json={"name": "alice", "password": "x"}).status_code
        for _ in range(4)
    ]
    assert codes == [401, 401, 401, 429]  # 5 attempts, then no more
    entry = [e for e in reg.custody() if e["action"] == "token.created"][-1]
    assert entry["actor"] == "alice" and entry["details"]["expires_at"]
