"""Content Credentials (C2PA) read at ingest (``ingest.credentials``): the state, codes,
signer, actions and ingredients of real fixtures of the C2PA Rust SDK (the shared
corpus, skipped when absent) and of files signed here with a throw-away certificate;
pixels changed after signing; and proof that reading never contacts a URL the file
names (a remote manifest, an OCSP responder), by a local server that counts its
visitors and by tracing the process's ``connect`` calls."""

from __future__ import annotations

import http.server
import io
import json
import shutil
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from conftest import ROOT, scene
from ingest import CREDENTIAL_STATES, extract
from ingest import credentials as creds
from support.credentials import alter_pixels, make_signer, sign_jpeg

c2pa = pytest.importorskip("c2pa")


def _jpeg(seed: int = 5, quality: int = 92) -> bytes:
    buf = io.BytesIO()
    scene(seed, 320, 240).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


@pytest.fixture(scope="module")
def signer():
    return make_signer()


@pytest.fixture(scope="module")
def signed(signer) -> bytes:
    return sign_jpeg(_jpeg(), signer, title="capture.jpg")[0]


def _extract(tmp_path: Path, data: bytes, name: str = "f.jpg"):
    path = tmp_path / name
    path.write_bytes(data)
    rec = extract(path)
    assert rec.ok, rec.error
    return rec


# --- the shared corpus: fixtures of the C2PA Rust SDK ----------------------------------

CORPUS_CASES = {
    "C.jpg": ("valid", ["signingCredential.untrusted"], 1),
    "CA.jpg": ("valid", ["signingCredential.untrusted"], 1),
    "E-sig-CA.jpg": ("invalid", ["signingCredential.untrusted", "claimSignature.mismatch"], 1),
    "video1.mp4": ("valid", ["signingCredential.untrusted"], 2),
}


@pytest.mark.parametrize("name", sorted(CORPUS_CASES))
def test_corpus_files_with_a_manifest(corpus: Path, name: str) -> None:
    path = corpus / "c2pa" / name
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    state, codes, manifests = CORPUS_CASES[name]
    rec = extract(path)
    assert rec.ok and rec.warnings == []
    found = rec.metadata["c2pa"]
    assert (found["present"], found["state"], found["codes"]) == (True, state, codes)
    assert found["manifests"] == manifests
    assert found["altered"] is False  # a broken signature is not changed content
    assert found["signer"]["issuer"] == "C2PA Test Signing Cert"
    assert found["claim_generator"]
    assert found["actions"] and all(a["action"].startswith("c2pa.") for a in found["actions"])
    # The store as the library renders it, with the manifest the summary describes.
    assert found["active_manifest"] in rec.manifest_store["manifests"]
    assert rec.tools["c2pa-python"] != "absent"


def test_corpus_details_signing_time_ingredients_and_video(corpus: Path) -> None:
    folder = corpus / "c2pa"
    if not (folder / "CA.jpg").is_file() or not (folder / "video1.mp4").is_file():
        pytest.skip("c2pa corpus files are absent")
    ca = extract(folder / "CA.jpg").metadata["c2pa"]
    assert ca["signed_at"] == "2024-08-06T21:53:37+00:00"
    assert [(i["title"], i["relationship"]) for i in ca["ingredients"]] == [("A.jpg", "parentOf")]
    assert [a["action"] for a in ca["actions"]] == ["c2pa.opened", "c2pa.color_adjustments"]
    broken = extract(folder / "E-sig-CA.jpg").metadata["c2pa"]
    assert broken["signed_at"] is None  # its timestamp does not match the broken claim
    video = extract(folder / "video1.mp4")
    assert video.media_type == "video" and video.metadata["c2pa"]["ingredients"][0]["manifest"]


def test_corpus_remote_manifest_is_not_fetched_and_no_manifest_is_absent(corpus: Path) -> None:
    cloud, plain = corpus / "c2pa" / "cloud.jpg", corpus / "c2pa" / "no_manifest.jpg"
    if not cloud.is_file() or not plain.is_file():
        pytest.skip("c2pa corpus files are absent")
    remote = extract(cloud)
    assert remote.ok and remote.metadata["c2pa"]["state"] == "remote"
    assert remote.metadata["c2pa"]["remote_url"].startswith("https://cai-manifests.adobe.com/")
    assert remote.manifest_store is None and remote.warnings == []
    absent = extract(plain)
    assert absent.metadata["c2pa"] == {"present": False, "state": "absent"}
    assert absent.manifest_store is None


# --- files signed here ------------------------------------------------------------------


def test_a_file_signed_here_is_valid_with_its_signer_and_action(tmp_path, signed) -> None:
    rec = _extract(tmp_path, signed)
    found = rec.metadata["c2pa"]
    assert (found["state"], found["validation_state"], found["trusted"]) == (
        "valid",
        "Valid",
        False,
    )
    # No trust anchor knows the throw-away CA: valid, and said to be untrusted.
    assert found["codes"] == ["signingCredential.untrusted"]
    assert found["signer"]["issuer"] == "Evidence Test Lab"
    assert found["signer"]["common_name"] == "Evidence Test Camera"
    assert found["claim_generator"] == "evidence-tests 1.0"
    assert found["actions"][0]["action"] == "c2pa.created"
    assert found["actions"][0]["digital_source_type"].endswith("digitalCapture")
    assert found["manifests"] == 1 and found["title"] == "capture.jpg"
    assert rec.manifest_store["active_manifest"] == found["active_manifest"]
    assert rec.width == 320 and rec.hashes  # the photo itself is extracted as always


def test_changed_pixels_make_the_manifest_invalid_with_a_hash_mismatch(tmp_path, signed):
    altered = alter_pixels(signed)
    before = Image.open(io.BytesIO(signed)).convert("RGB")
    after = Image.open(io.BytesIO(altered)).convert("RGB")
    assert before.tobytes() != after.tobytes()  # the picture changed, and still decodes
    rec = _extract(tmp_path, altered)
    found = rec.metadata["c2pa"]
    assert found["state"] == "invalid" and found["altered"] is True
    assert "assertion.dataHash.mismatch" in found["codes"]
    # The signature over the claim still holds: only the content moved.
    assert "claimSignature.mismatch" not in found["codes"]


def test_a_re_encoded_copy_has_lost_its_credentials(tmp_path, signed) -> None:
    buf = io.BytesIO()
    Image.open(io.BytesIO(signed)).save(buf, "JPEG", quality=80)
    rec = _extract(tmp_path, buf.getvalue())
    assert rec.metadata["c2pa"] == {"present": False, "state": "absent"}


def test_formats_the_library_cannot_read_are_unsupported(tmp_path) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 20, 30)).save(buf, "BMP")
    rec = _extract(tmp_path, buf.getvalue(), "f.bmp")
    assert rec.metadata["c2pa"]["state"] == "unsupported" and rec.warnings == []


# --- what cannot be read is a warning, never a failed file ------------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_a_damaged_manifest_store_is_at_most_a_warning(signed, data) -> None:
    start, end = signed.index(b"\xff\xeb"), signed.index(b"\xff\xda")  # APP11 .. scan
    damaged = bytearray(signed)
    for _ in range(data.draw(st.integers(1, 4))):
        damaged[data.draw(st.integers(start + 4, end - 1))] = data.draw(st.integers(0, 255))
    summary, store, problems = creds.read_credentials(bytes(damaged), None, "image/jpeg")
    assert summary["state"] in CREDENTIAL_STATES
    if summary["state"] == "unreadable":
        assert [p.code for p in problems] == ["CredentialsUnreadable"] and store is None
    else:
        assert problems == []


def test_a_damaged_store_is_a_warning_on_the_item(tmp_path, signed) -> None:
    start = signed.index(b"\xff\xeb")
    damaged = signed[: start + 60] + b"\x00" * 64 + signed[start + 124 :]
    rec = _extract(tmp_path, damaged)
    assert rec.metadata["c2pa"]["state"] == "unreadable"
    assert [(w["step"], w["code"]) for w in rec.warnings] == [("c2pa", "CredentialsUnreadable")]
    assert rec.hashes  # everything else was extracted


def test_a_library_failure_is_a_warning(tmp_path, signed, monkeypatch) -> None:
    class Broken:
        def __init__(self, *args, **kwargs):
            raise RuntimeError("native library exploded")

    monkeypatch.setattr(creds.c2pa, "Reader", Broken)
    rec = _extract(tmp_path, signed)
    assert rec.metadata["c2pa"] == {"present": None, "state": "unreadable"}
    assert rec.warnings[0]["code"] == "CredentialsUnreadable"
    assert "native library exploded" in rec.warnings[0]["message"]


def test_a_store_over_the_limit_is_summed_up_not_kept(tmp_path, signed, monkeypatch) -> None:
    monkeypatch.setattr(creds, "MAX_STORE_BYTES", 100)
    rec = _extract(tmp_path, signed)
    assert rec.metadata["c2pa"]["state"] == "valid" and rec.manifest_store is None
    assert rec.warnings[0]["code"] == "ManifestStoreTooLarge"


# --- nothing is ever fetched ----------------------------------------------------------


class _Counting(http.server.ThreadingHTTPServer):
    """A local server that answers every request with ``body`` and counts them."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        self.body = b""
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Length", str(len(outer.body)))
                self.end_headers()
                self.wfile.write(outer.body)

            do_POST = do_GET

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"


@pytest.fixture
def server() -> Iterator[_Counting]:
    srv = _Counting()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _read_with(settings: dict, data: bytes) -> None:
    with (
        c2pa.Context.from_dict(settings) as ctx,
        c2pa.Reader("image/jpeg", io.BytesIO(data), context=ctx) as reader,
    ):
        reader.json()


@pytest.fixture
def remote_file(server, signer) -> bytes:
    url = f"{server.url}/manifests/m.c2pa"
    data, store = sign_jpeg(_jpeg(7), signer, remote_url=url)
    server.body = store
    return data


def test_a_remote_manifest_is_never_fetched(tmp_path, server, remote_file) -> None:
    # The control: the library's own defaults fetch it from the URL in the file.
    _read_with({}, remote_file)
    assert server.hits == ["/manifests/m.c2pa"]
    server.hits.clear()
    rec = _extract(tmp_path, remote_file)
    assert server.hits == []
    found = rec.metadata["c2pa"]
    assert (found["present"], found["state"]) == (True, "remote")
    assert found["remote_url"] == f"{server.url}/manifests/m.c2pa"
    assert rec.manifest_store is None


def test_the_signers_ocsp_responder_is_never_asked(tmp_path, server) -> None:
    signer = make_signer(ocsp_url=f"{server.url}/ocsp")
    data, _ = sign_jpeg(_jpeg(8), signer)
    _read_with({"verify": {"ocsp_fetch": True}}, data)  # the control: it would ask
    assert len(server.hits) == 1
    server.hits.clear()
    rec = _extract(tmp_path, data)
    assert server.hits == [] and rec.metadata["c2pa"]["state"] == "valid"


def test_even_if_a_fetch_setting_were_missed_no_host_is_allowed(server, remote_file) -> None:
    # ``core.allowed_network_hosts`` is empty: with fetching switched back on, the
    # library still refuses to contact anything.
    settings = json.loads(json.dumps(creds.READER_SETTINGS))
    settings["verify"].update(remote_manifest_fetch=True, ocsp_fetch=True)
    with pytest.raises(c2pa.C2paError, match="not permitted"):
        _read_with(settings, remote_file)
    assert server.hits == []


_TRACED = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    {setup}
    for path in sys.argv[1:]:
        {read}
    print("read", len(sys.argv) - 1)
    """
)


def _connects(tmp_path: Path, paths: list[Path], *, ours: bool) -> list[str]:
    """The ``connect`` calls to IP addresses a fresh process makes while it reads
    ``paths``: with ingest's reader (``ours``), or with the library's defaults."""
    if ours:
        code = _TRACED.format(
            setup="from ingest import extract",
            read="assert extract(path).ok",
        )
    else:
        code = _TRACED.format(
            setup="import c2pa, contextlib",
            read="with contextlib.suppress(Exception): c2pa.Reader(path).json()",
        )
    trace = tmp_path / f"trace-{ours}.txt"
    run = subprocess.run(
        ["strace", "-f", "-qq", "-e", "trace=connect", "-o", str(trace), sys.executable, "-c", code]
        + [str(p) for p in paths],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert f"read {len(paths)}" in run.stdout
    lines = trace.read_text().splitlines()
    return [ln for ln in lines if "AF_INET" in ln or "nscd" in ln]


def test_no_connect_at_all_while_reading_hostile_files(
    tmp_path, corpus_or_none, remote_file, server
):
    """Reading a remote-manifest file and one whose signer names an OCSP responder
    (and the corpus's cloud manifest) makes no ``connect`` to any address, traced by
    strace; the same files read with the library's defaults do (the control)."""
    if shutil.which("strace") is None:
        pytest.skip("strace is not installed (.ci/run installs it)")
    probe = subprocess.run(["strace", "-qq", "-e", "trace=none", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"strace cannot trace here: {probe.stderr.decode(errors='replace')[:200]}")
    remote = tmp_path / "remote.jpg"
    remote.write_bytes(remote_file)
    ocsp = tmp_path / "ocsp.jpg"
    ocsp.write_bytes(sign_jpeg(_jpeg(9), make_signer(ocsp_url=f"{server.url}/ocsp"))[0])
    paths = [remote, ocsp]
    if corpus_or_none is not None:
        paths += sorted(p for p in (corpus_or_none / "c2pa").glob("*") if p.is_file())
    assert _connects(tmp_path, paths, ours=False) != []  # the trace sees the library connect
    assert server.hits  # ... and the server was visited then
    server.hits.clear()
    assert _connects(tmp_path, paths, ours=True) == []
    assert server.hits == []


@pytest.fixture
def corpus_or_none() -> Path | None:
    from conftest import CORPUS

    folder = CORPUS / "c2pa"
    return CORPUS if folder.is_dir() else None
