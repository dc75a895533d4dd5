"""Start-up stays light: importing the CLI (or the library's faces) imports none of the
decoders and numeric libraries, which only the commands that decode pictures need
(``ingest.lazy``). Checked in a fresh interpreter, by what ``sys.modules`` holds; how long
start-up takes is measured by ``bench/startup.py``, not asserted here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ingest.lazy import lazy_import

ROOT = Path(__file__).resolve().parents[1]
#: Imported on first use only: each costs tens to hundreds of milliseconds.
HEAVY = (
    "cv2",
    "av",
    "scipy",
    "faiss",
    "numpy",
    "PIL",
    "pdqhash",
    "imagehash",
    "warcio",
    "rfc3161_client",
    "c2pa",
)


def _loaded_after(code: str) -> list[str]:
    probe = (
        f"{code}\nimport json, sys\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.splitlines()[-1])


@pytest.mark.parametrize("module", ["registry.cli", "registry", "ingest"])
def test_import_pulls_in_no_heavy_library(module: str) -> None:
    assert _loaded_after(f"import {module}") == []


def test_help_pulls_in_no_heavy_library() -> None:
    code = (
        "import contextlib, io\n"
        "from registry.cli import cli\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    cli(['ingest', '--help'], prog_name='evidence')"
    )
    assert _loaded_after(code) == []


def test_ingest_of_an_empty_folder_loads_nothing_heavy(tmp_path: Path) -> None:
    """No file, no run: no worker, no index opened, no numeric library imported."""
    (tmp_path / "empty").mkdir()
    code = (
        "import contextlib, io\n"
        "from registry.cli import cli\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        f"    cli(['--registry', {str(tmp_path / 'reg')!r}, 'ingest', "
        f"{str(tmp_path / 'empty')!r}], prog_name='evidence')"
    )
    assert _loaded_after(code) == []


def test_decoding_imports_them_when_needed() -> None:
    code = (
        "import io\n"
        "from ingest import decode_image\n"
        "import PIL.Image\n"
        "buf = io.BytesIO()\n"
        "PIL.Image.new('RGB', (64, 48)).save(buf, 'JPEG')\n"
        "from ingest.photo import hash_picture\n"
        "hash_picture(decode_image(buf.getvalue()).picture)"
    )
    loaded = _loaded_after(code)
    assert {"PIL", "numpy", "cv2", "pdqhash", "imagehash"} <= set(loaded)
    assert "av" not in loaded  # a photo needs no video decoder


def test_lazy_module_stands_for_the_module() -> None:
    colorsys = lazy_import("colorsys")  # a module nothing else imports in the tests
    assert "not imported yet" in repr(colorsys) or "colorsys" in sys.modules
    assert colorsys.rgb_to_hsv(1.0, 0.0, 0.0) == (0.0, 1.0, 1.0)
    assert "imported" in repr(colorsys)
    colorsys.ONE_THIRD, before = 0.5, colorsys.ONE_THIRD  # settings are the module's
    try:
        assert sys.modules["colorsys"].ONE_THIRD == 0.5
    finally:
        colorsys.ONE_THIRD = before
