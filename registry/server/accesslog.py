"""Every access is evidence: the ``access.*`` custody entries of the server's requests,
logged before the answer leaves, in group commits.

Each request that reads evidence adds one entry (``registry.custody.access``) and waits
until it is in the log (fsynced). Requests that arrive while another thread holds the
commit share the next one: one lock hold, one log append and one catalogue write for
all of them, so reading stays fast under load while no answer leaves unlogged.
"""

from __future__ import annotations

import contextvars
import threading
from dataclasses import dataclass, field
from typing import Any

from registry.server.config import Registries


@dataclass
class _Ticket:
    events: list[dict[str, Any]]
    done: bool = False
    error: BaseException | None = None
    entries: list[dict[str, Any]] = field(default_factory=list)


class AccessLog:
    def __init__(self, registries: Registries) -> None:
        self._registries = registries
        self._pending: list[_Ticket] = []
        self._guard = threading.Lock()  # the pending list
        self._commit = threading.Lock()  # one committer in this process at a time
        #: Group commits made and entries they held (for the load benchmark).
        self.commits = 0
        self.logged = 0

    def record(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Log ``events`` durably (with whatever else is waiting); their entries.

        Raises:
            RegistryError: The log could not be written (the answer must not leave).
        """
        ticket = _Ticket(events)
        with self._guard:
            self._pending.append(ticket)
        with self._commit:
            if not ticket.done:
                with self._guard:
                    batch, self._pending = self._pending, []
                # A fresh context: the entries of many requests carry no one request's
                # arguments (their details say which request each was).
                contextvars.Context().run(self._write, batch)
        if ticket.error is not None:
            raise ticket.error
        return ticket.entries

    def _write(self, batch: list[_Ticket]) -> None:
        events = [e for t in batch for e in t.events]
        reg = self._registries.get()
        try:
            with reg.writing(events[0]["actor"]):
                entries = reg.record(events)
                reg.save()
        except Exception as exc:  # every waiting request fails with it
            for t in batch:
                t.error, t.done = exc, True
            return
        self.commits += 1
        self.logged += len(entries)
        for t in batch:
            t.entries, entries = entries[: len(t.events)], entries[len(t.events) :]
            t.done = True
