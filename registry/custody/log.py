"""The chain-of-custody log: append-only JSON Lines, hash-chained and signed.

Each line is one event::

    {"seq": 7, "time": "2026-11-26T12:00:00.123456+00:00", "actor": "alice",
     "action": "sighting.added", "sha256": "<item>", "details": {...},
     "tool": {"name": "evidence-registry", "version": "0.1.0"}, "host": "laptop-3",
     "args": ["ingest", "x.jpg", "--case", "UA-031"],
     "prev": "<SHA-256 of the previous line>", "key": "<key id>", "sig": "<Ed25519, base64>"}

``args`` (present on entries written by the command line) is the invocation that caused
the entry, after the program name. An entry is signed with its actor's own key when the
actor has one (``evidence key create``), else with the installation key; ``key`` says
which.

The signature covers the canonical JSON of the entry without ``sig``; ``prev`` is the
SHA-256 of the previous line's bytes (without its newline), so editing, inserting,
deleting or reordering any line breaks the chain after it. The head (last sequence
number, entry hash and byte length) is also kept in ``custody.head.json``, so cutting
lines off the end is noticed too. The log is the source of truth: the catalogue is
rebuilt from it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from registry.custody.keys import KeyRing, Signer
from registry.errors import CustodyLogError
from registry.fsutil import append_durable, atomic_write, pause_point
from registry.version import TOOL_NAME, __version__

GENESIS = "0" * 64


@functools.cache
def _host() -> str:
    import socket  # on first use: reading commands write no entry

    return socket.gethostname()


#: Arguments recorded per entry are cut to this many characters in all (an ingest of a
#: shell glob can name thousands of files; each entry need not repeat them all).
MAX_ARGS_CHARS = 4096
_INVOCATION: ContextVar[list[str] | None] = ContextVar("invocation", default=None)


def set_invocation(args: Sequence[str] | None) -> None:
    """Record the command-line arguments of this process in the entries it appends."""
    if args is None:
        _INVOCATION.set(None)
        return
    kept: list[str] = []
    used = 0
    for i, arg in enumerate(args):
        text = str(arg).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        if used + len(text) > MAX_ARGS_CHARS:
            kept.append(f"… ({len(args) - i} more arguments)")
            break
        kept.append(text)
        used += len(text)
    _INVOCATION.set(kept)


def invocation() -> list[str] | None:
    """The arguments set by ``set_invocation`` (``None`` outside the command line)."""
    return _INVOCATION.get()


def canonical(obj: Any) -> bytes:
    """The one JSON serialisation used for hashing and signing."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def entry_hash(line: bytes) -> str:
    return hashlib.sha256(line).hexdigest()


def signed_message(entry: dict[str, Any]) -> bytes:
    return canonical({k: v for k, v in entry.items() if k != "sig"})


def utc_now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass(frozen=True)
class Head:
    """The last entry of the log: sequence number, its hash, and the log's length."""

    seq: int
    hash: str
    offset: int

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "hash": self.hash, "offset": self.offset}


EMPTY_HEAD = Head(0, GENESIS, 0)


#: The log and its head file, in the registry folder.
LOG_FILE = "custody.jsonl"
HEAD_FILE = "custody.head.json"


@dataclass(frozen=True)
class RawLine:
    """One line of the log as stored: where it starts, its bytes, and its parse."""

    offset: int
    line: bytes
    entry: dict[str, Any] | None
    complete: bool = True

    @property
    def end(self) -> int:
        """Where the next line starts (past this one's newline)."""
        return self.offset + len(self.line) + 1


class CustodyLog:
    """The custody log of one registry. Writers must hold the registry lock."""

    def __init__(self, path: str, head_path: str, keys: KeyRing) -> None:
        self.path = path
        self.head_path = head_path
        self.keys = keys

    # --- reading ------------------------------------------------------------------------

    def read_head(self) -> Head:
        """The head as recorded in the head file (``EMPTY_HEAD`` before the first entry)."""
        try:
            with open(self.head_path, "rb") as fh:
                data = json.loads(fh.read())
            return Head(int(data["seq"]), str(data["hash"]), int(data["offset"]))
        except FileNotFoundError:
            return EMPTY_HEAD
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CustodyLogError(f"head file unreadable: {exc}") from exc

    def lines(self, start: int = 0) -> Iterator[RawLine]:
        """Every line from byte offset ``start``; a last line without a newline is
        yielded with ``complete=False`` (an append cut short by a crash)."""
        try:
            fh = open(self.path, "rb")  # noqa: SIM115 - a generator owns it below
        except FileNotFoundError:
            return
        with fh:
            fh.seek(start)
            offset = start
            for line in fh:
                complete = line.endswith(b"\n")
                body = line[:-1] if complete else line
                try:
                    entry = json.loads(body)
                    if not isinstance(entry, dict):
                        entry = None
                except ValueError:
                    entry = None
                yield RawLine(offset, body, entry, complete)
                offset += len(line)

    def entries(self, start: int = 0) -> Iterator[dict[str, Any]]:
        """Parsed entries from byte offset ``start`` (unparseable lines are skipped;
        ``verify`` reports them)."""
        for raw in self.lines(start):
            if raw.entry is not None and raw.complete:
                yield raw.entry

    def size(self) -> int:
        try:
            return os.path.getsize(self.path)
        except FileNotFoundError:
            return 0

    # --- recovery -----------------------------------------------------------------------

    def recover(self) -> list[dict[str, Any]]:
        """Bring the head file in line with a log that a crash interrupted.

        A torn last line (no newline: the append never completed, so nothing relied on
        it) is cut off; entries that reached the log before the head file was updated
        are taken into the head. A log shorter than its head is not repaired: that is
        loss or tampering, and ``verify`` reports it.

        Returns:
            Notes on what was repaired, to be logged by the caller.
        """
        head = self.read_head()
        size = self.size()
        notes: list[dict[str, Any]] = []
        if size < head.offset:
            raise CustodyLogError(
                f"log has {size} bytes but its head says {head.offset}: it was truncated; "
                "run verify and restore the log from a copy"
            )
        if size == head.offset:
            return notes
        last = head
        for raw in self.lines(head.offset):
            if not raw.complete:
                notes.append(
                    {
                        "repair": "cut a torn last line left by an interrupted append",
                        "bytes": len(raw.line),
                        "sha256": entry_hash(raw.line),
                    }
                )
                with open(self.path, "r+b") as fh:
                    fh.truncate(raw.offset)
                    os.fsync(fh.fileno())
                break
            entry = raw.entry
            if entry is None or entry.get("seq") != last.seq + 1 or entry.get("prev") != last.hash:
                raise CustodyLogError(
                    f"log continues past its head with an entry that does not chain at byte "
                    f"{raw.offset}; run verify"
                )
            last = Head(last.seq + 1, entry_hash(raw.line), raw.end)
        if last != head:
            notes.append(
                {
                    "repair": "head advanced over entries written before a crash",
                    "from_seq": head.seq,
                    "to_seq": last.seq,
                }
            )
            self._write_head(last)
        return notes

    # --- writing ------------------------------------------------------------------------

    def append(
        self, events: list[dict[str, Any]], signer: Signer
    ) -> list[tuple[dict[str, Any], str, int]]:
        """Chain, sign and durably append events, then move the head.

        Args:
            events: Each ``{"actor", "action", "sha256", "details"}``.
            signer: The key that signs events whose actor has no key of their own.

        Returns:
            ``(entry, entry_hash, end_offset)`` for each entry as written.
        """
        if not events:
            return []
        head = self.read_head()
        if self.size() != head.offset:
            raise CustodyLogError("log and head disagree; the registry must be recovered first")
        out: list[tuple[dict[str, Any], str, int]] = []
        lines: list[bytes] = []
        end = head.offset
        seq, prev, time = head.seq, head.hash, utc_now()
        args = invocation()
        signers: dict[str, Signer] = {}
        for event in events:
            seq += 1
            actor = event["actor"]
            if actor not in signers:
                signers[actor] = self.keys.actor_signer(actor) or signer
            by = signers[actor]
            entry = {
                "seq": seq,
                "time": event.get("time") or time,
                "actor": actor,
                "action": event["action"],
                "sha256": event.get("sha256"),
                "details": event.get("details") or {},
                "tool": {"name": TOOL_NAME, "version": __version__},
                "host": _host(),
                **({"args": args} if args is not None else {}),
                "prev": prev,
                "key": by.id,
            }
            entry["sig"] = by.sign(signed_message(entry))
            line = canonical(entry)
            lines.append(line)
            prev = entry_hash(line)
            end += len(line) + 1
            out.append((entry, prev, end))
        payload = b"".join(line + b"\n" for line in lines)
        try:
            append_durable(self.path, payload)
        except OSError as exc:
            self._undo_partial_append(head.offset)
            raise CustodyLogError(f"cannot append to the log: {exc.strerror or exc}") from exc
        pause_point("custody.appended")
        try:
            self._write_head(Head(seq, prev, head.offset + len(payload)))
        except OSError as exc:
            # The entries are durable; ``recover`` adopts them into the head next time.
            raise CustodyLogError(f"cannot update the head: {exc.strerror or exc}") from exc
        return out

    def _undo_partial_append(self, offset: int) -> None:
        # Disk full can leave part of the batch written; cut it so the log ends on the
        # last entry the head vouches for.
        try:
            with open(self.path, "r+b") as fh:
                fh.truncate(offset)
                os.fsync(fh.fileno())
        except OSError:
            pass  # ``recover`` cuts a torn line on the next open.

    def _write_head(self, head: Head) -> None:
        atomic_write(self.head_path, canonical(head.to_dict()) + b"\n")
