"""Per-case isolation of the review UI's pages, as ``test_server_isolation.py`` checks
the API: every page and form x every role of ALPHA (and a user with no role), on both
catalogue backends (TinyDB, PostgreSQL), against the registry where BRAVO shares a
photo with ALPHA and holds near-duplicates of its photos. Every page (and exported
package) is scanned for BRAVO's identifiers; whatever only BRAVO holds is a 404, with
the very page a thing that does not exist gets."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from registry.accounts import ROLES
from registry.server import ServerConfig, create_app
from registry.server.sessions import SESSION_COOKIE, csrf_of
from support import team

USERS = [*(f"alpha_{r}" for r in ROLES), "nobody"]
A = team.ALPHA
NOWHERE = "ab" * 32  # a SHA-256 no item has


@pytest.fixture(scope="module", params=["tinydb", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, backend: str) -> team.World:
    # One world per backend: pages change it (decisions, notes, access entries).
    return team.build(tmp_path_factory.mktemp("ui-isolation"))


@pytest.fixture(scope="module")
def app(request: pytest.FixtureRequest, world: team.World, backend: str):
    """The server over the registry's own catalogue, or a PostgreSQL one rebuilt from
    the same log."""
    with team.catalogue(request, world, backend) as url:
        config = ServerConfig(registry=str(world.root), catalog=url, workers=1, rate=10_000)
        yield create_app(config)


def _as(app, world: team.World, user: str) -> tuple[TestClient, str]:
    client = TestClient(app)
    client.cookies.set(SESSION_COOKIE, world.tokens[user])
    return client, csrf_of(world.tokens[user])


Call = Callable[[TestClient, team.World, str], object]


def _decide(a: str, b: str, decision: str = "confirmed") -> Call:
    return lambda c, w, t: c.post(
        "/decide",
        data={"a": w.items[a], "b": w.items[b], "decision": decision, "csrf": t},
        follow_redirects=False,
    )


def _bulk(case: str, a: str, b: str, decision: str) -> Call:
    return lambda c, w, t: c.post(
        f"/cases/{case}/queue",
        data={"pair": f"{w.items[a]}:{w.items[b]}", "decision": decision, "csrf": t},
        follow_redirects=False,
    )


# (name, the least ALPHA role it needs or None for "any", a call)
PAGES: list[tuple[str, str | None, Call]] = [
    ("cases", None, lambda c, w, t: c.get("/")),
    ("prefs", None, lambda c, w, t: c.get("/prefs")),
    ("gallery", "viewer", lambda c, w, t: c.get(f"/cases/{A}")),
    ("gallery search bravo url", "viewer", lambda c, w, t: c.get(f"/cases/{A}?q=bravo-source")),
    ("gallery search bravo note", "viewer", lambda c, w, t: c.get(f"/cases/{A}?q=mykola")),
    ("gallery unreviewed", "viewer", lambda c, w, t: c.get(f"/cases/{A}?unreviewed=on")),
    ("item shared", "viewer", lambda c, w, t: c.get(f"/items/{w.items['shared']}")),
    ("item cross", "viewer", lambda c, w, t: c.get(f"/items/{w.items['cross_alpha']}")),
    (
        "compare",
        "viewer",
        lambda c, w, t: c.get(f"/compare/{w.items['alpha1']}/{w.items['alpha_pair']}"),
    ),
    (
        "compare unpaired",
        "viewer",
        lambda c, w, t: c.get(f"/compare/{w.items['shared']}/{w.items['alpha2']}"),
    ),
    ("queue", "viewer", lambda c, w, t: c.get(f"/cases/{A}/queue")),
    ("next in queue", "viewer", lambda c, w, t: c.get(f"/cases/{A}/queue/next")),
    ("original", "viewer", lambda c, w, t: c.get(f"/media/{w.items['shared']}/original")),
    ("custody", "manager", lambda c, w, t: c.get(f"/cases/{A}/custody")),
    ("decide", "editor", _decide("alpha1", "alpha_pair")),
    ("bulk", "editor", _bulk(A, "alpha1", "alpha_pair", "rejected")),
    (
        "note",
        "editor",
        lambda c, w, t: c.post(
            f"/items/{w.items['shared']}/notes",
            data={"case": A, "text": "seen", "csrf": t},
            follow_redirects=False,
        ),
    ),
    ("verify", "manager", lambda c, w, t: c.post(f"/cases/{A}/verify", data={"csrf": t})),
    *[
        (
            f"export {fmt}",
            "manager",
            lambda c, w, t, fmt=fmt: c.post(f"/cases/{A}/export", data={"format": fmt, "csrf": t}),
        )
        for fmt in ("jsonl", "html", "case")
    ],
]
#: What only BRAVO holds (or nothing does): 404 for every ALPHA user, whatever the role.
HIDDEN: list[tuple[str, Call]] = [
    ("gallery bravo", lambda c, w, t: c.get(f"/cases/{team.BRAVO}")),
    ("gallery nowhere", lambda c, w, t: c.get("/cases/CASE-NOWHERE")),
    ("queue bravo", lambda c, w, t: c.get(f"/cases/{team.BRAVO}/queue")),
    ("next bravo", lambda c, w, t: c.get(f"/cases/{team.BRAVO}/queue/next")),
    ("custody bravo", lambda c, w, t: c.get(f"/cases/{team.BRAVO}/custody")),
    ("item bravo", lambda c, w, t: c.get(f"/items/{w.items['bravo1']}")),
    ("item cross bravo", lambda c, w, t: c.get(f"/items/{w.items['cross_bravo']}")),
    ("item nowhere", lambda c, w, t: c.get(f"/items/{NOWHERE}")),
    ("item not a sha", lambda c, w, t: c.get("/items/xyz")),
    (
        "compare cross",
        lambda c, w, t: c.get(f"/compare/{w.items['cross_alpha']}/{w.items['cross_bravo']}"),
    ),
    (
        "compare shared variant",
        lambda c, w, t: c.get(f"/compare/{w.items['shared']}/{w.items['shared_variant']}"),
    ),
    ("original bravo", lambda c, w, t: c.get(f"/media/{w.items['bravo1']}/original")),
    ("decide cross", _decide("cross_alpha", "cross_bravo", "rejected")),
    ("decide shared variant", _decide("shared", "shared_variant", "rejected")),
    ("bulk bravo", _bulk(team.BRAVO, "bravo1", "bravo_pair", "confirmed")),
    (
        "note bravo",
        lambda c, w, t: c.post(
            f"/items/{w.items['shared']}/notes", data={"case": team.BRAVO, "text": "x", "csrf": t}
        ),
    ),
    ("verify bravo", lambda c, w, t: c.post(f"/cases/{team.BRAVO}/verify", data={"csrf": t})),
    (
        "export bravo",
        lambda c, w, t: c.post(f"/cases/{team.BRAVO}/export", data={"format": "jsonl", "csrf": t}),
    ),
]


def _expected(user: str, needs: str | None) -> set[int]:
    if needs is None:
        return {200}
    if user == "nobody":
        return {404}
    role = user.removeprefix("alpha_")
    if ROLES.index(role) < ROLES.index(needs):
        return {403}
    return {200, 206, 303}


@pytest.mark.parametrize("user", USERS)
@pytest.mark.parametrize("name,needs,call", PAGES, ids=[p[0] for p in PAGES])
def test_no_page_mentions_another_case(app, world: team.World, user: str, name, needs, call):
    client, csrf = _as(app, world, user)
    response = call(client, world, csrf)
    assert response.status_code in _expected(user, needs), (name, response.text[:500])
    assert team.leaks(world, response) == [], (name, user, response.text[:2000])


@pytest.mark.parametrize("user", USERS)
@pytest.mark.parametrize("name,call", HIDDEN, ids=[h[0] for h in HIDDEN])
def test_what_only_another_case_holds_is_not_found(app, world: team.World, user, name, call):
    client, csrf = _as(app, world, user)
    response = call(client, world, csrf)
    assert response.status_code == 404, response.text[:500]
    assert team.leaks(world, response) == []
    # The same page as for an item that does not exist: nothing tells them apart.
    nowhere = client.get(f"/items/{NOWHERE}")
    assert response.text == nowhere.text


def test_the_page_scan_would_see_a_leak(app, world: team.World) -> None:
    """Not vacuous: BRAVO's owner finds BRAVO's identifiers on the same pages."""
    client, _ = _as(app, world, "bravo_owner")
    for url in (
        f"/cases/{team.BRAVO}",
        f"/items/{world.items['shared']}",
        f"/compare/{world.items['shared']}/{world.items['shared_variant']}",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert team.leaks(world, response), url


def test_without_a_session_every_page_asks_for_the_login(app, world: team.World) -> None:
    client = TestClient(app)
    for url in (f"/cases/{A}", f"/cases/{team.BRAVO}", f"/items/{world.items['bravo1']}", "/"):
        response = client.get(url, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login")
