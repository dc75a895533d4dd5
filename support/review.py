"""A registry for the review UI's browser tests, screenshots and benchmark: two cases of
generated media (the project's samples, made by ``samples/make_samples.py``), people
with passwords, and helpers to drive Chromium through Playwright.

* ``UA-031``: the samples: the original photo, its Telegram re-post (an identity copy,
  confirmed by the system), a mirrored and cropped copy with a logo (waiting), another
  scene, and a video with a 4-second letterboxed clip of it (waiting);
* ``UA-077``: another team's case: the original photo again (shared by content) and a
  photo of its own, with its own source URL.

People: ``alice`` (editor in UA-031), ``maria`` (manager in UA-031), ``bob`` (owner of
UA-077 only); password ``PASSWORD`` for all.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from registry import Registry, Submission, init_registry
from registry.accounts import add_user, grant
from support.cli import ROOT
from support.media import write_jpeg

CASE, OTHER = "UA-031", "UA-077"
PASSWORD = "correct horse battery"
CHROMIUM = "/usr/bin/chromium"
OTHER_URL = "https://t.me/ua077_private/9"
SAMPLES = ROOT / "samples" / "media"


@dataclass
class Review:
    root: Path
    items: dict[str, str] = field(default_factory=dict)  # sample file stem -> sha256

    def reg(self) -> Registry:
        return Registry.open(str(self.root))


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build(tmp: Path) -> Review:
    """The registry of the module docstring in ``tmp/reg``."""
    reg = init_registry(str(tmp / "reg"), actor="operator")
    media = tmp / "media"
    shutil.copytree(SAMPLES, media / "samples")
    ua031 = Submission(
        actor="collector",
        case=CASE,
        source_url="https://t.me/example_channel/4521",
        posted_at="2022-03-16T11:02:00+02:00",
    )
    for result in reg.ingest([media / "samples"], ua031, workers=1):
        assert result.status == "new", result.to_dict()
    own = write_jpeg(media / "ua077" / "checkpoint.jpg", 77, gps=(46.6, 32.6, 10.0))
    ua077 = Submission(actor="collector77", case=OTHER, source_url=OTHER_URL)
    shared = media / "samples" / "photo_original.jpg"
    for result in reg.ingest([own, shared], ua077, workers=1):
        assert result.status in ("new", "known"), result.to_dict()
    review = Review(tmp / "reg")
    review.items = {p.stem: _sha(p) for p in (media / "samples").iterdir()}
    review.items["checkpoint"] = _sha(own)
    for name, case, role in (
        ("alice", CASE, "editor"),
        ("maria", CASE, "manager"),
        ("bob", OTHER, "owner"),
    ):
        add_user(reg, name, PASSWORD, actor="operator")
        grant(reg, name, case, role, actor="operator")
    return review


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install '.[dev]')"
    if not os.path.exists(CHROMIUM):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    return None


def login(page, base: str, name: str, password: str = PASSWORD) -> None:
    """Sign in through the login form and wait for the cases page."""
    page.goto(f"{base}/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", password)
    page.click("form.login button[type=submit]")
    page.wait_for_selector("h1:has-text('Your cases')")
