"""The vault: the original bytes of every item, content-addressed and write-once.

An item's bytes live at ``vault/<aa>/<bb>/<sha256>``, read-only. A copy is first made in
``vault/.staging/`` while being hashed, fsynced, and re-read and re-hashed from disk; only
a copy whose SHA-256 is the id the ingest computed is accepted. It is moved into place
after the custody log has recorded it, so the vault never holds bytes the log does not
vouch for (``recover`` finishes moves that a crash interrupted).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
from collections.abc import Iterator

from ingest import (
    CHUNK,
    Digests,
    FileChanged,
    MultiHasher,
    UnreadableFile,
    read_chunks,
    sha256_file,
)
from registry.errors import VaultError
from registry.fsutil import fsync_dir
from registry.store.runs import dead_runs, is_run_entry, release_run

STAGING = ".staging"


class Vault:
    """The vault folder of one registry. Writers must hold the registry lock."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.staging = os.path.join(root, STAGING)

    def relpath(self, sha256: str) -> str:
        return os.path.join("vault", sha256[:2], sha256[2:4], sha256)

    def path(self, sha256: str) -> str:
        return os.path.join(self.root, sha256[:2], sha256[2:4], sha256)

    def has(self, sha256: str) -> bool:
        return os.path.exists(self.path(sha256))

    def staged_path(self, sha256: str) -> str:
        return os.path.join(self.staging, sha256)

    def stage(self, source: str, sha256: str) -> str:
        """Copy ``source`` into staging, checking that its bytes hash to ``sha256``
        (``copy_verified``)."""
        os.makedirs(self.staging, exist_ok=True)
        final = self.staged_path(sha256)
        if os.path.exists(final) and sha256_file(final) == sha256:
            return final
        return copy_verified(source, sha256, final)

    def commit(self, sha256: str, staged: str | None = None) -> str:
        """Move a staged copy (``staged``, default the one in staging proper) to its
        place in the vault (idempotent)."""
        dest = self.path(sha256)
        staged = staged or self.staged_path(sha256)
        if os.path.exists(dest):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(staged)
            return dest
        folder = os.path.dirname(dest)
        os.makedirs(folder, exist_ok=True)
        os.replace(staged, dest)
        os.chmod(dest, 0o444)
        fsync_dir(folder)
        return dest

    def staged(self) -> list[tuple[str, str]]:
        """``(sha256, path)`` of complete staged copies: in staging proper, and in the
        folders of ingest runs that ended without cleaning up (``runs.RunStaging``; a
        live run's copies are its own). ``.part`` files are unfinished."""
        try:
            names = os.listdir(self.staging)
        except FileNotFoundError:
            return []
        found = [(n, os.path.join(self.staging, n)) for n in names if _complete(n, exact=True)]
        for folder in dead_runs(self.staging):
            try:
                inner = sorted(os.listdir(folder))
            except FileNotFoundError:
                continue
            for name in inner:
                if _complete(name, exact=False):
                    found.append((name[:64], os.path.join(folder, name)))
        return found

    def clear_staging(self, keep: set[str] = frozenset()) -> list[str]:
        """Delete staged copies and partial copies not in ``keep``, and the folders of
        ended runs; returns their names. A live run's folder is left alone."""
        removed = []
        try:
            names = os.listdir(self.staging)
        except FileNotFoundError:
            return removed
        dead = set(dead_runs(self.staging))
        for name in names:
            path = os.path.join(self.staging, name)
            if name in keep or (is_run_entry(name) and path not in dead):
                continue
            if path in dead:
                for inner in sorted(os.listdir(path)) if os.path.isdir(path) else ():
                    with contextlib.suppress(OSError):
                        os.unlink(os.path.join(path, inner))
                        removed.append(f"{name}/{inner}")
                release_run(path)
                continue
            with contextlib.suppress(OSError):
                os.chmod(path, 0o644)
                os.unlink(path)
                removed.append(name)
        return removed

    def iter_ids(self) -> Iterator[tuple[str, str]]:
        """``(name, path)`` of every file in the vault proper (not staging)."""
        for a in sorted(os.listdir(self.root)) if os.path.isdir(self.root) else ():
            if a == STAGING:
                continue
            pa = os.path.join(self.root, a)
            if not os.path.isdir(pa):
                yield a, pa
                continue
            for b in sorted(os.listdir(pa)):
                pb = os.path.join(pa, b)
                if not os.path.isdir(pb):
                    yield b, pb
                    continue
                for name in sorted(os.listdir(pb)):
                    yield name, os.path.join(pb, name)

    def digests(self, sha256: str) -> Digests:
        """Re-hash a vault file with every algorithm."""
        return _digests(self.path(sha256))


def copy_verified(source: str, sha256: str, final: str) -> str:
    """Copy ``source`` to ``final`` (fsynced, read back), checking that its bytes hash
    to ``sha256``.

    Raises:
        FileChanged: The source's bytes now hash to something else.
        UnreadableFile: The source cannot be read any more.
        VaultError: The copy cannot be written or does not read back intact.
    """
    tmp = f"{final}.{os.getpid()}.part"
    # SHA-256 alone decides: it is the id, and SHA-1/MD5 were taken from the same
    # bytes by the ingest pass (verify re-checks all three).
    hasher = hashlib.sha256()
    try:
        src = open(source, "rb")  # noqa: SIM115 - two files, one with-block below
    except OSError as exc:
        raise UnreadableFile(exc.strerror or str(exc)) from exc
    try:
        with src, open(tmp, "wb") as dst:
            if not stat.S_ISREG(os.fstat(src.fileno()).st_mode):
                raise UnreadableFile("no longer a regular file")
            try:
                chunks = read_chunks(src, CHUNK)
                for chunk in chunks:
                    hasher.update(chunk)
                    dst.write(chunk)
            except OSError as exc:
                if exc.filename == tmp or "No space" in str(exc):
                    raise VaultError(f"cannot write the copy: {exc.strerror or exc}") from exc
                raise UnreadableFile(f"read failed: {exc.strerror or exc}") from exc
            dst.flush()
            os.fsync(dst.fileno())
        copied = hasher.hexdigest()
        if copied != sha256:
            raise FileChanged(f"it hashed to {sha256[:16]}… when read, {copied[:16]}… now")
        reread = sha256_file(tmp)
        if reread != sha256:
            raise VaultError(f"the copy on disk reads back as {reread[:16]}…, not {sha256[:16]}…")
        os.chmod(tmp, 0o444)
        os.replace(tmp, final)
    except OSError as exc:
        raise VaultError(f"cannot write the copy: {exc.strerror or exc}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return final


def _complete(name: str, *, exact: bool) -> bool:
    """A complete copy's name: the sha256 alone (staging proper) or followed by a
    suffix (a run's folder); ``.part`` files are unfinished."""
    if exact:
        return len(name) == 64 and "." not in name
    return len(name) > 65 and name[64] == "." and not name.endswith(".part")


def _digests(path: str) -> Digests:
    hasher = MultiHasher()
    with open(path, "rb") as fh:
        for chunk in read_chunks(fh):
            hasher.update(chunk)
    return hasher.digests()
