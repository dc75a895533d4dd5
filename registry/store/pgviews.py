"""The views folded beside the items, in PostgreSQL's ``evidence_views`` table
(``registry.store.pgschema``), and the accounts view the team server reads from it.

A view is read whole when a fold or ``verify`` asks for it (``PgViews.view``), changed
in place by the folds, and written back row by row in the catalogue's transaction: only
the rows that changed (``PgViews.write``). The team server never reads it whole: its
``AccountsView`` (``PgAccounts``, see ``registry.accounts.store``) looks up one account,
token or role row by its key, so authenticating a request is one indexed query however
many tokens there are.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from registry.custody import ACCOUNTS_VIEW
from registry.store.pgschema import VIEWS, view_of, view_rows

Rows = list[tuple[Any, ...]]
#: Runs one query (``sql(query, params)``) and returns its rows.
Query = Callable[[str, tuple[Any, ...]], Rows]


class PgViews:
    """The views of one ``PgCatalog``: those read, as changed by its folds.

    ``fresh``: the table was emptied in the transaction being written (a rebuild), so
    nothing is read from it.
    """

    def __init__(self, sql: Query, *, fresh: bool = False) -> None:
        self._sql = sql
        self._fresh = fresh
        self._views: dict[str, dict[str, Any]] = {}
        self._rows: dict[str, dict[tuple[str, bool, str], tuple[str, str]]] = {}

    def loaded(self, name: str) -> dict[str, Any] | None:
        """The view ``name`` if it was read (and perhaps changed), else None."""
        return self._views.get(name)

    def view(self, name: str) -> dict[str, Any]:
        if name not in self._views:
            rows = [] if self._fresh else self._select(name)
            self._views[name] = view_of(rows)
            self._rows[name] = view_rows(self._views[name])
        return self._views[name]

    def all(self) -> dict[str, dict[str, Any]]:
        names = set(self._views)
        if not self._fresh:
            names |= {r[0] for r in self._sql(f"SELECT DISTINCT name FROM {VIEWS}", ())}
        return {n: v for n in sorted(names) if (v := self.view(n))}

    def _select(self, name: str) -> Rows:
        return self._sql(f"SELECT part, whole, key, body FROM {VIEWS} WHERE name = %s", (name,))

    def write(self, execute: Callable[[str, list[tuple[Any, ...]]], None]) -> None:
        """Write the rows of every read view that changed (``execute(query, rows)`` runs
        a statement once per row, in the open transaction)."""
        for name, view in self._views.items():
            now, before = view_rows(view), self._rows.get(name, {})
            gone = [(name, *k) for k in before if k not in now]
            changed = [(name, *k, *v) for k, v in now.items() if before.get(k) != v]
            if gone:
                execute(
                    f"DELETE FROM {VIEWS} WHERE name = %s AND part = %s AND whole = %s "
                    "AND key = %s",
                    gone,
                )
            if changed:
                execute(
                    f"INSERT INTO {VIEWS} (name, part, whole, key, body, doc) "
                    "VALUES (%s, %s, %s, %s, %s, %s::jsonb) ON CONFLICT (name, part, whole, key) "
                    "DO UPDATE SET body = EXCLUDED.body, doc = EXCLUDED.doc",
                    changed,
                )
            self._rows[name] = now
        self._fresh = False


class PgAccounts:
    """The ``AccountsView`` of a PostgreSQL catalogue (``registry.accounts.store``):
    from the view in memory when this catalogue has read it (its folds may have changed
    it), else one indexed query per question."""

    def __init__(self, views: PgViews, sql: Query) -> None:
        self._views = views
        self._sql = sql

    def _row(self, part: str, key: str) -> Any:
        state = self._views.loaded(ACCOUNTS_VIEW)
        if state is not None:
            return (state.get(part) or {}).get(key)
        rows = self._sql(
            f"SELECT body FROM {VIEWS} WHERE name = %s AND part = %s AND NOT whole AND key = %s",
            (ACCOUNTS_VIEW, part, key),
        )
        return json.loads(rows[0][0]) if rows else None

    def _part(self, part: str) -> dict[str, Any]:
        state = self._views.loaded(ACCOUNTS_VIEW)
        if state is not None:
            return dict(state.get(part) or {})
        rows = self._sql(
            f"SELECT part, whole, key, body FROM {VIEWS} WHERE name = %s AND part = %s",
            (ACCOUNTS_VIEW, part),
        )
        return view_of(rows).get(part) or {}

    def account(self, name: str) -> dict[str, Any] | None:
        found = self._row("accounts", name)
        return dict(found) if found is not None else None

    def names(self) -> list[str]:
        return sorted(self._part("accounts"))

    def roles(self, name: str) -> dict[str, str]:
        return {case: r["role"] for case, r in (self._row("roles", name) or {}).items()}

    def members(self, case: str) -> dict[str, str]:
        held = self._part("roles")
        return {name: cases[case]["role"] for name, cases in held.items() if case in cases}

    def token(self, token_id: str) -> dict[str, Any] | None:
        found = self._row("tokens", token_id)
        return dict(found) if found is not None else None

    def tokens(self, name: str) -> dict[str, dict[str, Any]]:
        return {k: dict(t) for k, t in self._part("tokens").items() if t.get("name") == name}
