"""The review UI's pages through FastAPI's TestClient: login, sessions and their expiry,
CSRF, every page one access entry, decisions (one, and in bulk) as custody entries,
the gallery's filters, search, sort and paging, the thresholds, preferences, headers.
(The same pages in a real browser: ``test_ui_browser.py``; isolation:
``test_ui_isolation.py``.)"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from registry import Registry
from registry.accounts import create_token
from registry.server import ServerConfig, create_app
from registry.server.pages import link
from registry.server.sessions import LOGIN_COOKIE, SESSION_COOKIE, csrf_of
from registry.similarity import MatchConfig
from support import review
from support.media import write_jpeg


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> review.Review:
    return review.build(tmp_path_factory.mktemp("ui"))


@pytest.fixture
def world(built: review.Review, tmp_path: Path) -> review.Review:
    """A fresh copy of the registry for each test (they write decisions)."""
    import shutil

    shutil.copytree(built.root, tmp_path / "reg")
    return review.Review(tmp_path / "reg", dict(built.items))


def _client(world: review.Review, **options) -> TestClient:
    options.setdefault("workers", 1)
    options.setdefault("rate", 10_000)
    return TestClient(create_app(ServerConfig(registry=str(world.root), **options)))


def _signed_in(world: review.Review, name: str = "alice", **options) -> tuple[TestClient, str]:
    """A client with a session of ``name`` (a login token in the cookie), and its CSRF."""
    client = _client(world, **options)
    token = create_token(world.reg(), name, actor=name, expires_days=1)["token"]
    client.cookies.set(SESSION_COOKIE, token)
    return client, csrf_of(token)


def _entries(world: review.Review) -> list[dict]:
    return list(world.reg().custody())


def test_login_logout_and_the_session_cookie(world: review.Review) -> None:
    client = _client(world)
    page = client.get("/cases/UA-031", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/cases/UA-031"
    form = client.get("/login")
    assert form.status_code == 200 and 'name="username"' in form.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    assert client.cookies.get(LOGIN_COOKIE) == csrf  # double submit
    wrong = client.post(
        "/login", data={"username": "alice", "password": "nope", "csrf": csrf, "next": "/"}
    )
    assert wrong.status_code == 401 and "Wrong name or password" in wrong.text
    assert SESSION_COOKIE not in client.cookies
    no_csrf = client.post("/login", data={"username": "alice", "password": review.PASSWORD})
    assert no_csrf.status_code == 403
    before = len(_entries(world))
    ok = client.post(
        "/login",
        data={
            "username": "alice",
            "password": review.PASSWORD,
            "csrf": csrf,
            "next": "/cases/UA-031",
        },
        follow_redirects=False,
    )
    assert ok.status_code == 303 and ok.headers["location"] == "/cases/UA-031"
    cookie = next(c for c in ok.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=43200" in cookie
    [made] = [e for e in _entries(world)[before:] if e["action"] == "token.created"]
    assert made["actor"] == "alice" and made["details"]["expires_at"]
    token = client.cookies.get(SESSION_COOKIE)
    assert token.split("_")[-1] not in (world.root / "custody.jsonl").read_text()  # a digest only
    assert client.get("/cases/UA-031").status_code == 200
    # Logging out revokes the token: the cookie no longer opens anything.
    out = client.post("/logout", data={"csrf": csrf_of(token)}, follow_redirects=False)
    assert out.status_code == 303
    assert _entries(world)[-1]["action"] == "token.revoked"
    stale = TestClient(client.app)
    stale.cookies.set(SESSION_COOKIE, token)
    assert stale.get("/cases/UA-031", follow_redirects=False).status_code == 303


def test_an_expired_session_leads_to_the_login(world: review.Review) -> None:
    client = _client(world)
    # Expiry times are kept to the second, rounded down: this one is already past.
    token = create_token(world.reg(), "alice", actor="alice", expires_days=1e-9)["token"]
    client.cookies.set(SESSION_COOKIE, token)
    assert client.get("/", follow_redirects=False).headers["location"].startswith("/login")


def test_every_form_write_needs_the_csrf_token(world: review.Review) -> None:
    client, csrf = _signed_in(world)
    a, b = world.items["photo_original"], world.items["photo_mirrored_cropped"]
    fields = {"a": a, "b": b, "decision": "confirmed", "case": review.CASE}
    for extra, headers in (({}, {}), ({"csrf": "0" * 64}, {}), ({}, {"X-CSRF-Token": "bad"})):
        refused = client.post("/decide", data={**fields, **extra}, headers=headers)
        assert refused.status_code == 403, (extra, headers)
    # Another site's page posting with the user's cookie: refused before anything else.
    foreign = client.post(
        "/decide", data={**fields, "csrf": csrf}, headers={"Origin": "https://evil.example"}
    )
    assert foreign.status_code == 403
    assert not [e for e in _entries(world) if e["action"].startswith("neardup.c")]
    by_header = client.post(
        "/decide", data=fields, headers={"X-CSRF-Token": csrf, "Accept": "application/json"}
    )
    assert by_header.status_code == 200 and by_header.json()["decision"] == "confirmed"
    assert client.post("/prefs", data={"reveal": "on"}).status_code == 403


def test_every_page_is_one_access_entry_by_the_user(world: review.Review) -> None:
    client, _ = _signed_in(world, "maria")
    a, b = world.items["photo_original"], world.items["photo_mirrored_cropped"]
    pages = [
        (f"/cases/{review.CASE}", "access.viewed", None),
        (f"/items/{a}", "access.viewed", a),
        (f"/compare/{a}/{b}", "access.viewed", a),
        (f"/cases/{review.CASE}/queue", "access.viewed", None),
        (f"/cases/{review.CASE}/custody", "access.viewed", None),
        (f"/media/{a}/original", "access.downloaded", a),
    ]
    for url, action, sha in pages:
        before = len(_entries(world))
        response = client.get(url)
        assert response.status_code == 200, (url, response.text[:300])
        new = _entries(world)[before:]
        assert [(e["action"], e["actor"], e["sha256"]) for e in new] == [(action, "maria", sha)]
        assert new[0]["details"]["request"] == f"GET {url}"
    wanted = f"GET /cases/{review.CASE}"
    gallery = next(e for e in _entries(world) if e["details"].get("request") == wanted)
    assert sorted(gallery["details"]["items"]) == sorted(world.reg().catalog.shas(review.CASE))
    compare = next(e for e in _entries(world) if "/compare/" in e["details"].get("request", ""))
    assert compare["details"]["items"] == [a, b]
    # A range request of a video is a download too (the API's own endpoint is used).
    video = world.items["video_original"]
    part = client.get(f"/media/{video}/original", headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and len(part.content) == 100
    assert _entries(world)[-1]["details"]["range"] == "bytes=0-99"
    reg = Registry.open(str(world.root))
    assert reg.verify().ok


def test_decisions_from_the_pages_are_custody_entries_honoured_by_dupes(
    world: review.Review,
) -> None:
    client, csrf = _signed_in(world)
    photo, mirrored = world.items["photo_original"], world.items["photo_mirrored_cropped"]
    video, clip = world.items["video_original"], world.items["video_clip_repost"]
    confirm = client.post(
        "/decide",
        data={
            "a": photo,
            "b": mirrored,
            "decision": "confirmed",
            "reason": "same bridge",
            "csrf": csrf,
            "next": f"/items/{photo}",
        },
        follow_redirects=False,
    )
    assert confirm.status_code == 303 and confirm.headers["location"] == f"/items/{photo}"
    reject = client.post(
        "/decide",
        data={
            "a": video,
            "b": clip,
            "decision": "rejected",
            "reason": "other street",
            "csrf": csrf,
        },
        follow_redirects=False,
    )
    assert reject.status_code == 303
    decisions = ("neardup.confirmed", "neardup.rejected")
    decided = [e for e in _entries(world) if e["action"] in decisions]
    summary = [
        (e["action"], e["actor"], e["details"]["reason"], e["details"]["case"]) for e in decided
    ]
    assert summary == [
        ("neardup.confirmed", "alice", "same bridge", review.CASE),
        ("neardup.rejected", "alice", "other street", review.CASE),
    ]
    reg = world.reg()
    shown = {p["sha256"]: p["decision"] for p in reg.show(video)["near_duplicates"]}
    assert shown == {clip: "rejected"}
    clusters = reg.dupes()
    assert not any({video, clip} <= set(c["members"]) for c in clusters)
    assert any({photo, mirrored} <= set(c["members"]) for c in clusters)
    page = client.get(f"/items/{photo}").text
    row = page[page.index(f'data-sha256="{mirrored}"') :]
    assert "confirmed by alice" in row[: row.index("</tr>")]


def test_the_queue_lists_what_waits_and_decides_in_bulk(world: review.Review) -> None:
    client, csrf = _signed_in(world)
    config = MatchConfig()
    reg = world.reg()
    waiting = set()
    auto = set()
    for sha in reg.catalog.shas(review.CASE):
        for p in reg.show(sha)["near_duplicates"]:
            pair = tuple(sorted((sha, p["sha256"])))
            (auto if config.review(p) == "auto" else waiting).add(pair)
    assert auto and waiting  # the identity re-post is over auto_confirm, the others wait
    page = client.get(f"/cases/{review.CASE}/queue")
    listed = set(re.findall(r'name="pair" value="([0-9a-f]{64}):([0-9a-f]{64})"', page.text))
    assert listed == waiting
    assert f"{len(waiting)} pairs waiting" in page.text
    item = client.get(f"/items/{world.items['photo_original']}").text
    assert "confirmed by the system" in item and "waiting for review" in item
    pairs = [f"{a}:{b}" for a, b in sorted(waiting)]
    before = len(_entries(world))
    done = client.post(
        f"/cases/{review.CASE}/queue",
        data={"pair": pairs, "decision": "rejected", "reason": "bulk", "csrf": csrf},
        follow_redirects=False,
    )
    assert done.status_code == 303
    new = _entries(world)[before:]
    assert [e["action"] for e in new] == ["neardup.rejected"] * len(pairs)
    assert {(e["sha256"], e["details"]["match"]) for e in new} == waiting
    assert "Nothing waits for review" in client.get(f"/cases/{review.CASE}/queue").text
    # The thresholds are the server's: with auto-confirm at 1.0 the re-post waits too.
    strict, _ = _signed_in(world, match=MatchConfig(auto_confirm=1.0))
    assert "1 pair waiting" in strict.get(f"/cases/{review.CASE}/queue").text


def _gallery(client: TestClient, **params) -> list[str]:
    page = client.get(f"/cases/{review.CASE}", params=params)
    assert page.status_code == 200
    return re.findall(r'<li class="card"[^>]*data-sha256="([0-9a-f]{64})"', page.text)


def test_gallery_filters_search_sort_and_paging(world: review.Review) -> None:
    client, csrf = _signed_in(world)
    items = world.items
    everything = _gallery(client)
    assert len(everything) == 6
    assert set(_gallery(client, type="video")) == {
        items["video_original"],
        items["video_clip_repost"],
    }
    with_gps = {items["photo_original"], items["video_original"]}
    assert set(_gallery(client, gps="yes")) == with_gps
    assert set(_gallery(client, gps="no")) == set(everything) - with_gps
    assert _gallery(client, q=items["photo_other_scene"][:6]) == [items["photo_other_scene"]]
    assert set(_gallery(client, q="photo_repost")) == {items["photo_repost_telegram"]}
    assert len(_gallery(client, q="t.me/example_channel")) == 6
    assert _gallery(client, q=review.OTHER_URL) == []  # another case's URL finds nothing
    captured = _gallery(client, date_on="captured", **{"from": "2022-03-17", "to": "2022-03-17"})
    assert captured == [items["photo_other_scene"]]
    unreviewed = set(_gallery(client, unreviewed="on"))
    assert items["photo_other_scene"] not in unreviewed and items["video_original"] in unreviewed
    assert _gallery(client, sort="newest") == list(reversed(everything))
    pages = [_gallery(client, size=4, page=n) for n in (1, 2, 3)]
    assert pages[0] + pages[1] == everything and pages[2] == []
    # Rows follow the log: a decision takes the pair out of "unreviewed", a new item
    # appears at the end.
    video, clip = items["video_original"], items["video_clip_repost"]
    client.post("/decide", data={"a": video, "b": clip, "decision": "confirmed", "csrf": csrf})
    assert video not in _gallery(client, unreviewed="on")
    photo = write_jpeg(world.root.parent / "late.jpg", 901)
    from registry import Submission

    world.reg().ingest([photo], Submission(actor="collector", case=review.CASE))
    assert len(_gallery(client)) == 7


def test_pictures_are_blurred_unless_the_user_prefers_otherwise(world: review.Review) -> None:
    client, csrf = _signed_in(world)
    video = world.items["video_original"]
    page = client.get(f"/items/{video}").text
    [tag] = re.findall(r"<video[^>]*>", page)
    assert 'class="sensitive"' in tag and " muted" in tag and 'preload="none"' in tag
    assert "autoplay" not in page
    assert 'class="media revealed"' not in page
    imgs = re.findall(r"<img[^>]*>", client.get(f"/cases/{review.CASE}").text)
    assert imgs and all('class="sensitive"' in i for i in imgs)
    before = len(_entries(world))
    assert client.post("/prefs", data={"reveal": "on", "csrf": csrf}).status_code == 200
    assert len(_entries(world)) == before  # a preference is not a custody entry
    prefs = json.loads((world.root / "server" / "prefs.json").read_text())
    assert prefs == {"alice": {"reveal": True}}
    assert 'class="media revealed"' in client.get(f"/cases/{review.CASE}").text
    client.post("/prefs", data={"csrf": csrf})
    assert 'class="media revealed"' not in client.get(f"/cases/{review.CASE}").text


def test_pages_load_nothing_from_elsewhere_and_links_send_no_referrer(world: review.Review) -> None:
    client, _ = _signed_in(world, "maria")
    a = world.items["photo_original"]
    for url in ("/", f"/cases/{review.CASE}", f"/items/{a}", f"/cases/{review.CASE}/custody"):
        response = client.get(url)
        assert "default-src 'none'" in response.headers["content-security-policy"]
        assert response.headers["cache-control"] == "no-store"
        for attr in re.findall(r'(?<![\w-])(?:src|href|action|poster)="([^"]*)"', response.text):
            assert attr.startswith(("/", "data:image/jpeg", "?", "#", "https://t.me/")), attr
        for anchor in re.findall(r"<a [^>]*href='https?://[^>]*>", response.text):
            assert "rel='noreferrer noopener'" in anchor
    assert str(link("javascript:alert(1)")) == "<span class='url'>javascript:alert(1)</span>"
    assert "&lt;b&gt;" in str(link("https://x.example/<b>"))
    for name in ("review.css", "review.js"):
        assert client.get(f"/static/{name}").status_code == 200
