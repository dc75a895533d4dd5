"""Per-case isolation, the part that must never fail: every endpoint x every role of
ALPHA (and a user with no role), against a registry where BRAVO shares a photo with
ALPHA, holds near-duplicates of ALPHA's photos, notes, decisions and its own people.
Every response body (inside exported packages too) is scanned for BRAVO's identifiers:
its items' SHA-256s (and their 16-digit prefixes), its case id, URLs, people and notes.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from registry.accounts import ROLES
from registry.server import ServerConfig, create_app
from support import team

USERS = [*(f"alpha_{r}" for r in ROLES), "nobody"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> team.World:
    return team.build(tmp_path_factory.mktemp("isolation"))


@pytest.fixture(scope="module")
def client(world: team.World) -> TestClient:
    app = create_app(ServerConfig(registry=str(world.root), workers=1, rate=10_000))
    with TestClient(app) as c:
        yield c


def _bodies(response) -> list[str]:
    """The response body as text, or every file of a zip package."""
    if response.headers.get("content-type") == "application/zip":
        with zipfile.ZipFile(io.BytesIO(response.content)) as zf:
            return [zf.read(n).decode("utf-8", "replace") for n in zf.namelist()]
    return [response.content.decode("utf-8", "replace")]


def _leaks(world: team.World, response, own: tuple[str, ...] = ()) -> list[str]:
    """BRAVO's identifiers in the response; ``own``: labels of the files the request
    uploaded, whose own SHA-256 the answer may repeat (the client has the bytes)."""
    allowed = {world.items[k] for k in own} | {world.items[k][:16] for k in own}
    found = []
    for body in _bodies(response):
        found += [i for i in world.bravo_identifiers() if i in body and i not in allowed]
    return sorted(set(found))


#: The files each request uploads, by label (see ``_leaks``).
OWN = {"match exact bravo": ("bravo1",), "match cross": ("cross_bravo",)}


def _upload(path: Path) -> list:
    return [("files", (path.name, path.read_bytes(), "image/jpeg"))]


# Each request: (name, the least ALPHA role it needs or None for "any role", a call).
Call = Callable[[TestClient, team.World, dict[str, str], Path], object]


def _variant_of_bravo(world: team.World, tmp: Path) -> Path:
    """New bytes (each call) that are near-duplicates of a BRAVO-only photo."""
    n = len(list(tmp.glob("*.jpg")))
    return team.variant(202, tmp / f"bravo2-copy-{n}.jpg", 0.05 + 0.01 * n)


REQUESTS: list[tuple[str, str | None, Call]] = [
    ("cases", None, lambda c, w, h, t: c.get("/api/v1/cases", headers=h)),
    ("items", "viewer", lambda c, w, h, t: c.get(f"/api/v1/items?case={team.ALPHA}", headers=h)),
    (
        "item shared",
        "viewer",
        lambda c, w, h, t: c.get(f"/api/v1/items/{w.items['shared']}", headers=h),
    ),
    (
        "item cross",
        "viewer",
        lambda c, w, h, t: c.get(f"/api/v1/items/{w.items['cross_alpha']}", headers=h),
    ),
    (
        "original",
        "viewer",
        lambda c, w, h, t: c.get(f"/api/v1/items/{w.items['shared']}/original", headers=h),
    ),
    ("dupes", "viewer", lambda c, w, h, t: c.get("/api/v1/dupes", headers=h)),
    (
        "dupes case",
        "viewer",
        lambda c, w, h, t: c.get(f"/api/v1/dupes?case={team.ALPHA}", headers=h),
    ),
    (
        "custody item",
        "viewer",
        lambda c, w, h, t: c.get(f"/api/v1/custody?sha256={w.items['shared']}", headers=h),
    ),
    (
        "custody cross",
        "viewer",
        lambda c, w, h, t: c.get(f"/api/v1/custody?sha256={w.items['cross_alpha']}", headers=h),
    ),
    ("custody all", "viewer", lambda c, w, h, t: c.get("/api/v1/custody", headers=h)),
    ("verify", "viewer", lambda c, w, h, t: c.get("/api/v1/verify", headers=h)),
    (
        "match exact bravo",
        "viewer",
        lambda c, w, h, t: c.post("/api/v1/match", headers=h, files=_upload(w.files["bravo1"])),
    ),
    (
        "match cross",
        "viewer",
        lambda c, w, h, t: c.post(
            "/api/v1/match", headers=h, files=_upload(w.files["cross_bravo"])
        ),
    ),
    (
        "match shared",
        "viewer",
        lambda c, w, h, t: c.post("/api/v1/match", headers=h, files=_upload(w.files["shared"])),
    ),
    (
        "ingest",
        "editor",
        lambda c, w, h, t: c.post(
            f"/api/v1/ingest?case={team.ALPHA}",
            headers=h,
            files=_upload(_variant_of_bravo(w, t)),
            data={"source_url": f"{team.ALPHA_URL}/9"},
        ),
    ),
    (
        "note",
        "editor",
        lambda c, w, h, t: c.post(
            f"/api/v1/items/{w.items['shared']}/notes",
            headers=h,
            json={"case": team.ALPHA, "text": "seen"},
        ),
    ),
    (
        "decide",
        "editor",
        lambda c, w, h, t: c.post(
            "/api/v1/neardups/decision",
            headers=h,
            json={
                "a": w.items["alpha1"],
                "b": w.items["alpha_pair"],
                "decision": "confirmed",
                "reason": "same",
            },
        ),
    ),
    (
        "grant",
        "manager",
        lambda c, w, h, t: c.post(
            f"/api/v1/cases/{team.ALPHA}/roles",
            headers=h,
            json={"name": "newcomer", "role": "viewer"},
        ),
    ),
    *[
        (
            f"export {fmt}",
            "manager",
            lambda c, w, h, t, fmt=fmt: c.post(
                "/api/v1/exports", headers=h, json={"format": fmt, "case": team.ALPHA}
            ),
        )
        for fmt in ("jsonl", "csv", "html", "bagit", "case")
    ],
]
#: Requests about what only BRAVO holds: 404 for every ALPHA user, whatever the role.
HIDDEN: list[tuple[str, Call]] = [
    ("items bravo", lambda c, w, h, t: c.get(f"/api/v1/items?case={team.BRAVO}", headers=h)),
    ("item bravo", lambda c, w, h, t: c.get(f"/api/v1/items/{w.items['cross_bravo']}", headers=h)),
    (
        "original bravo",
        lambda c, w, h, t: c.get(f"/api/v1/items/{w.items['bravo1']}/original", headers=h),
    ),
    ("dupes bravo", lambda c, w, h, t: c.get(f"/api/v1/dupes?case={team.BRAVO}", headers=h)),
    (
        "custody bravo",
        lambda c, w, h, t: c.get(f"/api/v1/custody?sha256={w.items['bravo1']}", headers=h),
    ),
    (
        "ingest bravo",
        lambda c, w, h, t: c.post(
            f"/api/v1/ingest?case={team.BRAVO}", headers=h, files=_upload(w.files["alpha1"])
        ),
    ),
    (
        "match bravo",
        lambda c, w, h, t: c.post(
            f"/api/v1/match?case={team.BRAVO}", headers=h, files=_upload(w.files["bravo1"])
        ),
    ),
    (
        "note bravo",
        lambda c, w, h, t: c.post(
            f"/api/v1/items/{w.items['shared']}/notes",
            headers=h,
            json={"case": team.BRAVO, "text": "x"},
        ),
    ),
    (
        "decide cross",
        lambda c, w, h, t: c.post(
            "/api/v1/neardups/decision",
            headers=h,
            json={"a": w.items["cross_alpha"], "b": w.items["cross_bravo"], "decision": "rejected"},
        ),
    ),
    (
        "decide shared variant",
        lambda c, w, h, t: c.post(
            "/api/v1/neardups/decision",
            headers=h,
            json={"a": w.items["shared"], "b": w.items["shared_variant"], "decision": "rejected"},
        ),
    ),
    (
        "export bravo",
        lambda c, w, h, t: c.post(
            "/api/v1/exports", headers=h, json={"format": "jsonl", "case": team.BRAVO}
        ),
    ),
    (
        "grant bravo",
        lambda c, w, h, t: c.post(
            f"/api/v1/cases/{team.BRAVO}/roles",
            headers=h,
            json={"name": "newcomer", "role": "owner"},
        ),
    ),
    (
        "revoke bravo",
        lambda c, w, h, t: c.delete(f"/api/v1/cases/{team.BRAVO}/roles/bravo_owner", headers=h),
    ),
]


def _expected(user: str, needs: str | None, name: str) -> int:
    if needs is None:
        return 200
    if user == "nobody":  # no case: nothing to see, anywhere
        return 404
    role = user.removeprefix("alpha_")
    return 200 if ROLES.index(role) >= ROLES.index(needs) else 403


@pytest.mark.parametrize("user", USERS)
@pytest.mark.parametrize("name,needs,call", REQUESTS, ids=[r[0] for r in REQUESTS])
def test_no_response_mentions_another_case(
    client: TestClient, world: team.World, tmp_path: Path, user: str, name: str, needs, call
) -> None:
    headers = {"Authorization": f"Bearer {world.tokens[user]}"}
    response = call(client, world, headers, tmp_path)
    assert response.status_code == _expected(user, needs, name), response.text[:500]
    assert _leaks(world, response, OWN.get(name, ())) == [], (name, user, response.text[:2000])


@pytest.mark.parametrize("user", USERS)
@pytest.mark.parametrize("name,call", HIDDEN, ids=[h[0] for h in HIDDEN])
def test_what_only_another_case_holds_is_not_found(
    client: TestClient, world: team.World, tmp_path: Path, user: str, name: str, call
) -> None:
    headers = {"Authorization": f"Bearer {world.tokens[user]}"}
    response = call(client, world, headers, tmp_path)
    assert response.status_code == 404, response.text[:500]
    assert response.json() == {"detail": "Not found"}


def test_the_scan_would_see_a_leak(client: TestClient, world: team.World) -> None:
    """The scan is not vacuous: BRAVO's owner sees BRAVO's identifiers in the same
    answers (items, the shared item's sightings and notes, clusters, custody)."""
    headers = {"Authorization": f"Bearer {world.tokens['bravo_owner']}"}
    for url in (
        f"/api/v1/items?case={team.BRAVO}",
        f"/api/v1/items/{world.items['shared']}",
        f"/api/v1/custody?sha256={world.items['shared']}",
    ):
        response = client.get(url, headers=headers)
        assert response.status_code == 200
        assert _leaks(world, response), url
    exported = client.post(
        "/api/v1/exports", headers=headers, json={"format": "jsonl", "case": team.BRAVO}
    )
    assert exported.status_code == 200 and _leaks(world, exported)


def test_match_answers_only_about_visible_items(client: TestClient, world: team.World) -> None:
    headers = {"Authorization": f"Bearer {world.tokens['alpha_viewer']}"}
    files = [*_upload(world.files["bravo1"]), *_upload(world.files["cross_bravo"])]
    files += _upload(world.files["shared"])
    results = client.post("/api/v1/match", headers=headers, files=files).json()["results"]
    by_name = {r["path"]: r for r in results}
    assert by_name["bravo1.jpg"]["exact"] is False and by_name["bravo1.jpg"]["matches"] == []
    assert by_name["cross-repost.jpg"]["exact"] is False
    assert [m["sha256"] for m in by_name["cross-repost.jpg"]["matches"]] == [
        world.items["cross_alpha"]
    ]
    assert by_name["shared.jpg"]["exact"] is True
    # BRAVO's owner gets the same files' answers in full.
    owner = {"Authorization": f"Bearer {world.tokens['bravo_owner']}"}
    full = client.post("/api/v1/match", headers=owner, files=_upload(world.files["bravo1"]))
    assert full.json()["results"][0]["exact"] is True
