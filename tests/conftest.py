"""Shared fixtures: the shared corpus (skipped when absent), generated photos and videos,
and a fresh registry. The helpers themselves live in ``support/`` (shared with bench/)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# Re-exported so that ``from conftest import write_jpeg`` and the like keep working.
from support.cli import PAUSE_POINTS as PAUSE_POINTS
from support.cli import ROOT as ROOT
from support.cli import kill_at as kill_at
from support.cli import run_cli as run_cli
from support.cli import spawn_cli as spawn_cli
from support.media import scene as scene
from support.media import write_jpeg, write_video

# In CI every property test draws the same examples on every run: a failure there is a
# real one, reproducible from its printed example, never the luck of the draw.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

# ../shared/corpus from the repository; git worktrees (wt/<name>) sit one level deeper.
CORPUS = next(
    (
        p
        for p in (ROOT.parent / "shared" / "corpus", ROOT.parents[1] / "shared" / "corpus")
        if p.is_dir()
    ),
    ROOT.parent / "shared" / "corpus",
)


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The shared corpus of real files; tests using it skip when it is absent."""
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is absent")
    return CORPUS


@pytest.fixture
def media(tmp_path: Path) -> Path:
    """A folder with two photos (one with GPS), a video, and a non-media file."""
    folder = tmp_path / "media"
    write_jpeg(folder / "a.jpg", 1, gps=(50.4501, 30.5234, 179.0), offset="+02:00")
    write_jpeg(folder / "sub" / "b.jpg", 2, make="NIKON", model="COOLPIX P6000")
    write_video(folder / "clip.mp4", 3)
    (folder / "note.txt").write_text("not media\n")
    return folder


@pytest.fixture
def registry_path(tmp_path: Path) -> Path:
    return tmp_path / "reg"


@pytest.fixture
def two_photos(tmp_path: Path):
    """A registry (actor alice) holding two photos of case C1."""
    from registry import Registry, Submission

    write_jpeg(tmp_path / "in" / "a.jpg", 1, size=(160, 120))
    write_jpeg(tmp_path / "in" / "b.jpg", 2, size=(160, 120))
    reg = Registry.open(str(tmp_path / "reg"), create=True, actor="alice")
    reg.ingest([str(tmp_path / "in")], Submission(actor="alice", case="C1"))
    return reg


@pytest.fixture(scope="session")
def tsa(tmp_path_factory: pytest.TempPathFactory):
    """A real RFC 3161 authority, ``openssl ts -reply`` behind a local HTTP server, and
    the misbehaving ones of ``support.tsa.KINDS`` (``tsa.url(kind)``; the trust anchor
    is ``tsa.pki.ca_file``)."""
    from support.tsa import OPENSSL, TestPki, TsaServer

    if OPENSSL is None:
        pytest.skip("the openssl command is absent (bash .ci/run installs it with apt-get)")
    server = TsaServer(TestPki(tmp_path_factory.mktemp("pki")))
    yield server
    server.close()
