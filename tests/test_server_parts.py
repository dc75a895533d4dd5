"""The team server's parts, one by one: upload names, the streamed multipart spool and
its limit, the rate limiter, and the group-committed access log."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry import Registry, init_registry
from registry.custody import access
from registry.server.accesslog import AccessLog
from registry.server.config import Registries, ServerConfig
from registry.server.limits import RateLimiter
from registry.server.uploads import BadForm, TooLarge, Upload, safe_name
from support.server import together


@given(st.text(max_size=300))
def test_an_upload_name_is_one_harmless_path_component(name: str) -> None:
    safe = safe_name(name)
    assert safe and "/" not in safe and "\\" not in safe and "\x00" not in safe
    assert safe not in (".", "..") and not safe.startswith(".") and len(safe) <= 200


def test_upload_names() -> None:
    assert safe_name("../../etc/passwd") == "passwd"
    assert safe_name("C:\\Users\\x\\photo.jpg") == "photo.jpg"
    assert safe_name(".hidden.jpg") == "_hidden.jpg"
    assert safe_name("") == safe_name("..") == "upload"


class _Request:
    """What ``Upload.receive`` reads of a Starlette request."""

    def __init__(self, body: bytes, boundary: str = "XyZ", chunk: int = 7) -> None:
        self.headers = {"content-type": f"multipart/form-data; boundary={boundary}"}
        self._chunks = [body[i : i + chunk] for i in range(0, len(body), chunk)]

    async def stream(self):
        for c in self._chunks:
            yield c


def _form(parts: list[tuple[str, str | None, bytes]], boundary: str = "XyZ") -> bytes:
    out = b""
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += (
            f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n"
        )
    return out + f"--{boundary}--\r\n".encode()


def test_a_form_is_spooled_file_by_file(tmp_path: Path) -> None:
    body = _form(
        [
            ("files", "a.jpg", b"\xff\xd8" + b"a" * 1000),
            ("note", None, b"witness"),
            ("files", "../a.jpg", b"second file, same name"),
        ]
    )
    with Upload(str(tmp_path / "uploads"), max_bytes=10_000) as up:
        asyncio.run(up.receive(_Request(body)))
        assert up.fields == {"note": "witness"}
        assert [(f.name, f.size) for f in up.files] == [("a.jpg", 1002), ("a.jpg", 22)]
        assert Path(up.files[1].path).read_bytes() == b"second file, same name"
        folder = Path(up.folder)
        assert folder.is_dir()
    assert not folder.exists()  # the spool ends with the request


def test_over_the_limit_or_not_a_form(tmp_path: Path) -> None:
    body = _form([("files", "big.jpg", b"x" * 5000)])
    with Upload(str(tmp_path / "uploads"), max_bytes=1000) as up, pytest.raises(TooLarge):
        asyncio.run(up.receive(_Request(body)))
    with Upload(str(tmp_path / "uploads"), max_bytes=10_000) as up, pytest.raises(BadForm):
        asyncio.run(up.receive(_Request(_form([("other", "x.jpg", b"x")]))))
    assert list((tmp_path / "uploads").iterdir()) == []


def test_rate_limiter() -> None:
    limiter = RateLimiter(rate=2)  # bursts of 4
    assert [limiter.allow("t", now=0.0) for _ in range(5)] == [True] * 4 + [False]
    assert limiter.allow("other", now=0.0)
    assert limiter.allow("t", now=0.5) and not limiter.allow("t", now=0.5)  # 1 refilled


def test_the_access_log_commits_every_request_once(tmp_path: Path) -> None:
    root = str(tmp_path / "reg")
    init_registry(root, actor="operator")
    log = AccessLog(Registries(ServerConfig(registry=root)))
    got: list[int] = []

    def request(i: int) -> None:
        [entry] = log.record([access(f"user{i % 4}", "access.viewed", {"case": "C", "n": i})])
        got.append(entry["details"]["n"])

    threads = [threading.Thread(target=request, args=(i,)) for i in range(40)]
    together(threads, timeout=120)
    assert sorted(got) == list(range(40))
    entries = [e for e in Registry.open(root).custody() if e["action"] == "access.viewed"]
    assert sorted(e["details"]["n"] for e in entries) == list(range(40))
    assert all(e["actor"] == f"user{e['details']['n'] % 4}" for e in entries)
    assert 1 <= log.commits <= 40 and log.logged == 40
    assert Registry.open(root).verify().ok
