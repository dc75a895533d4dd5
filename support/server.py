"""A real ``evidence serve`` in a subprocess (its own session, so that a kill -9 of the
group takes its extraction workers too), and the port it bound."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from support.cli import ROOT

_RUNNING = re.compile(r"Uvicorn running on (http://\S+)")


class ServerProcess:
    def __init__(self, registry: Path, *args: str, env: dict[str, str] | None = None) -> None:
        full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
        cmd = [
            sys.executable,
            "-m",
            "registry",
            "--registry",
            str(registry),
            "serve",
            "--port",
            "0",
        ]
        self.proc = subprocess.Popen(
            [*cmd, *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env=full_env,
            start_new_session=True,
            text=True,
        )
        self.lines: list[str] = []
        self.url: str | None = None
        self._started = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)
            found = _RUNNING.search(line)
            if found and self.url is None:
                self.url = found.group(1)
                self._started.set()
        self._started.set()

    def wait_started(self, timeout: float = 120.0) -> str:
        """The server's base URL, once it listens (``timeout``: a hang guard only)."""
        self._started.wait(timeout)
        if self.url is None:
            raise AssertionError("server did not start:\n" + "".join(self.lines[-40:]))
        return self.url

    def kill(self) -> None:
        """kill -9 of the server and its workers."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=60)

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()


@contextlib.contextmanager
def serving(
    registry: Path, *args: str, env: dict[str, str] | None = None
) -> Iterator[ServerProcess]:
    server = ServerProcess(registry, *args, env=env)
    try:
        server.wait_started()
        yield server
    finally:
        server.stop()


def wait_for(path: Path, server: ServerProcess, timeout: float = 120.0) -> None:
    """Until ``path`` exists (a pause point reached); fails if the server exits first.
    ``timeout`` only bounds a server that never gets there."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if server.proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError("no pause:\n" + "".join(server.lines[-40:]))
        time.sleep(0.01)


def together(threads: list[threading.Thread], timeout: float) -> None:
    """Start every thread, then wait for each (at most ``timeout`` seconds a thread: a
    hung one must not hang the suite; the test's own checks then fail)."""
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
