"""The review UI in a real browser: headless Chromium (Debian's, at /usr/bin/chromium)
driven by Playwright against a real ``evidence serve`` subprocess over a generated
registry (``support.review``: two cases, photos with near-duplicates, a video pair).

An investigator logs in, opens the gallery (everything blurred), reveals one item,
confirms one match on an item page and rejects another on the compare page (keyboard),
reviews the queue with the keyboard and in bulk; the custody log and ``dupes`` are
checked afterwards through the command line. No page may request anything from a host
but the server. Every page is saved as a screenshot under ``test-artifacts/ui/``.
Waits are on selectors and conditions only (timeouts are hang guards).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from support import review
from support.cli import ROOT, run_cli
from support.server import serving

WHY = review.chromium_missing()
pytestmark = pytest.mark.skipif(WHY is not None, reason=f"browser tests: {WHY}")
ARTIFACTS = ROOT / "test-artifacts" / "ui"
BLURRED = "blur(24px) grayscale(1)"


@pytest.fixture
def world(tmp_path: Path) -> review.Review:
    return review.build(tmp_path)


@pytest.fixture
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=review.CHROMIUM)
        yield launched
        launched.close()


class Session:
    """A browser page on the server that records every URL it requests."""

    def __init__(self, browser, base: str) -> None:
        self.base = base
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.page.set_default_timeout(60_000)  # a hang guard on a loaded machine
        self.requested: list[str] = []
        self.context.on("request", lambda r: self.requested.append(r.url))

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    def foreign(self) -> list[str]:
        """Every request to anything but the server (data: URIs are not requests)."""
        host = urlsplit(self.base).netloc
        return [u for u in self.requested if urlsplit(u).netloc != host]

    def filter_of(self, selector: str) -> str:
        return self.page.eval_on_selector(selector, "e => getComputedStyle(e).filter")


def _cli_json(root: Path, *args: str) -> list:
    out = run_cli(*args, "--json", registry=root, check=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_an_investigator_reviews_a_case(world: review.Review, browser) -> None:
    items = world.items
    photo, mirrored = items["photo_original"], items["photo_mirrored_cropped"]
    video, clip = items["video_original"], items["video_clip_repost"]
    with serving(world.root, "--workers", "1") as server:
        s = Session(browser, server.url)
        page = s.page
        page.goto(f"{server.url}/cases/{review.CASE}")
        page.wait_for_selector("form.login")  # no session: the login first
        s.shot("login")
        review.login(page, server.url, "alice")
        s.shot("cases")
        page.click(f"a[href='/cases/{review.CASE}']")
        page.wait_for_selector("ul.gallery li.card")
        # Every thumbnail is blurred and greyscale; ids and facts are readable beside it.
        thumbs = page.query_selector_all("ul.gallery img")
        assert len(thumbs) == 6 and all("sensitive" in t.get_attribute("class") for t in thumbs)
        card = f"li.card[data-sha256='{photo}']"
        assert s.filter_of(f"{card} img.sensitive") == BLURRED
        assert photo[:16] in page.inner_text(card)
        s.shot("gallery")
        page.click(f"{card} [data-action=reveal]")
        page.wait_for_selector(f"{card} .media.revealed")
        assert s.filter_of(f"{card} img.sensitive") == "none"
        other = f"li.card[data-sha256='{mirrored}'] img.sensitive"
        assert s.filter_of(other) == BLURRED  # one item revealed, not the others
        s.shot("gallery-one-revealed")

        # Confirm a match on the item page, with a reason.
        page.click(f"{card} a.id")
        page.wait_for_selector("section#near tr.pair")
        assert page.eval_on_selector("main .media img", "e => e.classList.contains('sensitive')")
        row = f"tr.pair[data-sha256='{mirrored}']"
        page.fill(f"{row} input[name=reason]", "same street, mirrored and cropped")
        s.shot("item")
        page.click(f"{row} button[data-action=confirm]")
        page.wait_for_selector(f"{row}.decided")
        assert "confirmed" in page.inner_text(f"{row} .status")

        # Reject the video pair on the compare page, from the keyboard.
        page.goto(f"{server.url}/compare/{video}/{clip}?case={review.CASE}")
        page.wait_for_selector(".segments table.frames img.sensitive")
        assert page.eval_on_selector("video.sensitive", "v => v.paused && v.muted && !v.autoplay")
        page.fill(".page-decide input[name=reason]", "another street")
        page.keyboard.press("Escape")  # out of the reason field
        page.keyboard.press(" ")  # reveal both copies and their frames
        page.wait_for_selector(".segments .media.revealed")
        s.shot("compare-video")
        page.keyboard.press("r")
        page.wait_for_selector(".match .state-rejected")

        page.goto(f"{server.url}/compare/{items['photo_repost_telegram']}/{mirrored}")
        page.wait_for_selector(".overlay img.over")
        page.click(".overlay [data-action=reveal]")
        page.fill("input.fader", "70")
        s.shot("compare-photo")
        page.goto(f"{server.url}/cases/{review.CASE}/queue")
        page.wait_for_selector("table.queue")
        s.shot("queue")
        assert s.foreign() == [], s.foreign()

        review.login(page, server.url, "maria")  # a manager: custody and verify
        page.goto(f"{server.url}/cases/{review.CASE}/custody")
        page.wait_for_selector("table.custody tr.action-neardup-rejected")
        s.shot("custody")
        page.click("[data-action=verify]")
        page.wait_for_selector("#verify-result.ok")
        s.shot("verify")
        assert s.foreign() == [], s.foreign()
        s.context.close()

    entries = _cli_json(world.root, "custody")
    decisions = [e for e in entries if e["action"] in ("neardup.confirmed", "neardup.rejected")]
    assert [(e["action"], e["actor"], e["sha256"], e["details"]["match"]) for e in decisions] == [
        ("neardup.confirmed", "alice", photo, mirrored),
        ("neardup.rejected", "alice", video, clip),
    ]
    assert decisions[0]["details"]["reason"] == "same street, mirrored and cropped"
    assert decisions[1]["details"]["reason"] == "another street"
    viewed = [e for e in entries if e["action"] == "access.viewed" and e["actor"] == "alice"]
    assert any(e["details"]["request"] == f"GET /cases/{review.CASE}" for e in viewed)
    [dupes] = _cli_json(world.root, "dupes")
    members = [set(c["members"]) for c in dupes["clusters"]]
    assert not any({video, clip} <= m for m in members)
    assert any({photo, mirrored} <= m for m in members)
    [shown] = _cli_json(world.root, "show", video)
    assert [p["decision"] for p in shown["near_duplicates"]] == ["rejected"]


def test_the_queue_by_keyboard_and_in_bulk(world: review.Review, browser) -> None:
    with serving(world.root, "--workers", "1") as server:
        s = Session(browser, server.url)
        page = s.page
        review.login(page, server.url, "alice")
        page.goto(f"{server.url}/cases/{review.CASE}/queue")
        rows = page.query_selector_all("table.queue tr.pair")
        assert len(rows) == 3  # two photo pairs and the video pair wait
        first = rows[0].get_attribute("data-sha256")
        page.keyboard.press("j")
        page.keyboard.press("c")
        page.wait_for_selector(f"tr.pair.decided[data-sha256='{first}']")
        page.reload()
        page.wait_for_selector("table.queue")
        assert len(page.query_selector_all("table.queue tr.pair")) == 2
        page.check("input.select-all")
        page.fill(".bulk-bar input[name=reason]", "not the same scene")
        page.click("[data-action=bulk-reject]")
        page.wait_for_selector("text=Nothing waits for review")
        s.shot("queue-done")
        assert s.foreign() == []
        s.context.close()
    entries = _cli_json(world.root, "custody")
    actions = [
        e["action"] for e in entries if e["action"].startswith("neardup.") and e["actor"] == "alice"
    ]
    assert actions == ["neardup.confirmed", "neardup.rejected", "neardup.rejected"]


def test_reveal_by_default_is_a_preference_and_videos_never_play_alone(
    world: review.Review, browser
) -> None:
    video = world.items["video_original"]
    with serving(world.root, "--workers", "1") as server:
        s = Session(browser, server.url)
        page = s.page
        review.login(page, server.url, "alice")
        page.goto(f"{server.url}/prefs")
        page.check("input[name=reveal]")
        page.click("form[action='/prefs'] button[type=submit]")
        page.wait_for_selector("text=Saved.")
        page.goto(f"{server.url}/cases/{review.CASE}")
        page.wait_for_selector("ul.gallery .media.revealed")
        assert s.filter_of("ul.gallery img.sensitive") == "none"
        page.goto(f"{server.url}/items/{video}")
        page.wait_for_selector("video.sensitive")
        assert page.eval_on_selector("video", "v => v.paused && v.muted && v.readyState === 0")
        page.keyboard.press(" ")  # space blurs it again
        page.wait_for_selector("main .viewer .media:not(.revealed)")
        assert s.filter_of("video.sensitive") == BLURRED
        page.click("#logout")
        page.wait_for_selector("form.login")
        page.goto(f"{server.url}/cases/{review.CASE}")
        page.wait_for_selector("form.login")  # the session is gone
        assert s.foreign() == []
        s.context.close()
