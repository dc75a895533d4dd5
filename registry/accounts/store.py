"""Accounts, per-case roles and bearer tokens: the view they are read from, and the
operations that change them (each one signed custody entry, folded into the view).

The view is an ``AccountsView``: a small interface, so that another catalogue backend
(PostgreSQL) can answer the same questions from its own tables. ``accounts_view``
picks it: a catalogue that offers ``accounts_view()`` gives its own, any other is read
through ``FoldedAccounts``, over the ``accounts`` view that ``registry.custody.views``
folds from the log beside the items (rebuilt by ``rebuild``, compared by ``verify``).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from registry.accounts import roles as rules
from registry.accounts.secrets import (
    check_password,
    hash_password,
    new_token,
    secret_matches,
    split_token,
)
from registry.custody import (
    ACCOUNTS_VIEW,
    account_created,
    role_granted,
    role_revoked,
    token_created,
    token_revoked,
)
from registry.errors import RegistryError
from registry.timeutil import parse_instant

if TYPE_CHECKING:
    from registry.session import Session

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
#: Longest lifetime ``token create --expires-days`` gives (ten years).
MAX_EXPIRES_DAYS = 3650


class AccountError(RegistryError):
    """Account operation refused."""


class UnknownAccount(AccountError):
    """No such account."""


class AccountExists(AccountError):
    """An account of that name exists already."""


class NotPermitted(AccountError):
    """Your role in this case does not allow that."""


class AccountsView(Protocol):
    """What the server and the permission filter read of accounts, roles and tokens."""

    def account(self, name: str) -> dict[str, Any] | None:
        """``{"created_at", "created_by", "password"}`` of ``name``, or None."""
        ...

    def names(self) -> list[str]:
        """Every account, sorted."""
        ...

    def roles(self, name: str) -> dict[str, str]:
        """``{case: role}`` of one account."""
        ...

    def members(self, case: str) -> dict[str, str]:
        """``{name: role}`` of one case."""
        ...

    def token(self, token_id: str) -> dict[str, Any] | None:
        """``{"name", "sha256", "read_only", "expires_at", "created_at", "revoked_at"}``."""
        ...

    def tokens(self, name: str) -> dict[str, dict[str, Any]]:
        """The tokens of one account, by id."""
        ...


class FoldedAccounts:
    """An ``AccountsView`` over the catalogue's folded ``accounts`` view (read only)."""

    def __init__(self, state: dict[str, Any]) -> None:
        self._accounts: dict[str, Any] = state.get("accounts") or {}
        self._roles: dict[str, dict[str, Any]] = state.get("roles") or {}
        self._tokens: dict[str, dict[str, Any]] = state.get("tokens") or {}

    def account(self, name: str) -> dict[str, Any] | None:
        found = self._accounts.get(name)
        return dict(found) if found is not None else None

    def names(self) -> list[str]:
        return sorted(self._accounts)

    def roles(self, name: str) -> dict[str, str]:
        return {case: r["role"] for case, r in (self._roles.get(name) or {}).items()}

    def members(self, case: str) -> dict[str, str]:
        return {name: held[case]["role"] for name, held in self._roles.items() if case in held}

    def token(self, token_id: str) -> dict[str, Any] | None:
        found = self._tokens.get(token_id)
        return dict(found) if found is not None else None

    def tokens(self, name: str) -> dict[str, dict[str, Any]]:
        return {tid: dict(t) for tid, t in self._tokens.items() if t.get("name") == name}


def accounts_view(catalog: Any) -> AccountsView:
    """The accounts view of a catalogue (see the module docstring)."""
    own = getattr(catalog, "accounts_view", None)
    if callable(own):
        return own()
    return FoldedAccounts(catalog.view(ACCOUNTS_VIEW))


@dataclass(frozen=True)
class Identity:
    """Who a valid token speaks for, and the role it acts with in each case."""

    name: str
    token_id: str
    read_only: bool
    roles: dict[str, str] = field(default_factory=dict)

    def role(self, case: str) -> str | None:
        return self.roles.get(case)


def authenticate(view: AccountsView, token: str, now: dt.datetime | None = None) -> Identity | None:
    """The identity of a bearer token, or None when it is malformed, unknown, revoked,
    expired, or its account is gone. The secret is compared in constant time."""
    parts = split_token(token)
    if parts is None:
        return None
    token_id, secret = parts
    record = view.token(token_id)
    if record is None or not secret_matches(record, secret):
        return None
    if record.get("revoked_at") is not None:
        return None
    now = now or dt.datetime.now(dt.UTC)
    expires = record.get("expires_at")
    if expires and parse_instant(str(expires)) <= now:
        return None
    name = str(record.get("name"))
    if view.account(name) is None:
        return None
    read_only = bool(record.get("read_only"))
    held = {case: rules.capped(role, read_only) for case, role in view.roles(name).items()}
    return Identity(name, token_id, read_only, held)


def login(view: AccountsView, name: str, password: str) -> bool:
    """Whether ``password`` is ``name``'s (Argon2; False for an unknown account)."""
    account = view.account(name)
    return check_password(account.get("password") if account else None, password)


# --- changes (each one custody entry) --------------------------------------------------


def add_user(reg: Session, name: str, password: str | None, *, actor: str) -> dict[str, Any]:
    """Create the account ``name`` (with an Argon2 hash of ``password``, if given).

    Raises:
        ValueError: The name is not 1-64 letters, digits, ``.``, ``_``, ``@``, ``-``.
        AccountExists
    """
    if not NAME.match(name):
        raise ValueError(f"account name {name!r}: 1-64 letters, digits, '.', '_', '@', '-'")
    hashed = hash_password(password) if password else None  # slow: outside the lock
    with reg.writing(actor) as catalog:
        if accounts_view(catalog).account(name) is not None:
            raise AccountExists(name)
        [entry] = reg.record([account_created(actor, name, hashed)])
        reg.save()
    return entry


def grant(
    reg: Session, name: str, case: str, role: str, *, actor: str, as_role: str | None = None
) -> dict[str, Any]:
    """Give ``name`` the ``role`` in ``case`` (replacing the role held there).

    ``as_role``: the role in ``case`` of whoever grants (None: the registry's operator,
    who may do anything); see ``registry.accounts.roles``.

    Raises:
        ValueError: Unknown role or empty case.
        UnknownAccount, NotPermitted
    """
    if role not in rules.ROLES:
        raise ValueError(f"role {role!r} is not one of {', '.join(rules.ROLES)}")
    if not case:
        raise ValueError("the case is empty")
    with reg.writing(actor) as catalog:
        view = accounts_view(catalog)
        if view.account(name) is None:
            raise UnknownAccount(name)
        current = view.roles(name).get(case)
        if as_role is not None and not rules.may_grant(as_role, role, current):
            raise NotPermitted(f"a {as_role} cannot make a {current or 'non-member'} a {role}")
        [entry] = reg.record([role_granted(actor, name, case, role)])
        reg.save()
    return entry


def revoke(
    reg: Session, name: str, case: str, *, actor: str, as_role: str | None = None
) -> dict[str, Any]:
    """Take ``name``'s role in ``case`` away (``as_role`` as in ``grant``).

    Raises:
        UnknownAccount: No such account, or it has no role in the case.
        NotPermitted
    """
    with reg.writing(actor) as catalog:
        current = accounts_view(catalog).roles(name).get(case)
        if current is None:
            raise UnknownAccount(f"{name} has no role in {case}")
        if as_role is not None and not rules.may_revoke(as_role, current):
            raise NotPermitted(f"a {as_role} cannot revoke a {current}")
        [entry] = reg.record([role_revoked(actor, name, case, current)])
        reg.save()
    return entry


def create_token(
    reg: Session,
    name: str,
    *,
    actor: str,
    read_only: bool = False,
    expires_days: float | None = None,
) -> dict[str, Any]:
    """A new bearer token for ``name``: ``{"id", "token", "name", "read_only",
    "expires_at", "seq"}``. The token is in the result only; the log keeps its digest.

    Raises:
        ValueError: ``expires_days`` is not between 0 and ``MAX_EXPIRES_DAYS``.
        UnknownAccount
    """
    expires_at = None
    if expires_days is not None:
        if not 0 < expires_days <= MAX_EXPIRES_DAYS:
            raise ValueError(f"expires-days must be in (0, {MAX_EXPIRES_DAYS}]")
        when = dt.datetime.now(dt.UTC) + dt.timedelta(days=expires_days)
        expires_at = when.isoformat(timespec="seconds")
    token_id, token, digest = new_token()
    with reg.writing(actor) as catalog:
        if accounts_view(catalog).account(name) is None:
            raise UnknownAccount(name)
        [entry] = reg.record([token_created(actor, name, token_id, digest, read_only, expires_at)])
        reg.save()
    return {
        "id": token_id,
        "token": token,
        "name": name,
        "read_only": read_only,
        "expires_at": expires_at,
        "seq": entry["seq"],
    }


def revoke_token(reg: Session, token_id: str, *, actor: str) -> dict[str, Any]:
    """Revoke the token ``token_id`` (it stops working at once).

    Raises:
        UnknownAccount: No such token (or it is revoked already).
    """
    with reg.writing(actor) as catalog:
        record = accounts_view(catalog).token(token_id)
        if record is None or record.get("revoked_at") is not None:
            raise UnknownAccount(f"no live token {token_id}")
        [entry] = reg.record([token_revoked(actor, str(record.get("name")), token_id)])
        reg.save()
    return entry


def list_users(reg: Session) -> list[dict[str, Any]]:
    """Every account with its roles and tokens (never a hash)."""
    view = accounts_view(reg.catalog)
    out = []
    for name in view.names():
        account = view.account(name) or {}
        tokens = [
            {
                "id": tid,
                "read_only": t.get("read_only"),
                "expires_at": t.get("expires_at"),
                "created_at": t.get("created_at"),
                "revoked_at": t.get("revoked_at"),
            }
            for tid, t in sorted(view.tokens(name).items(), key=lambda kv: kv[1]["created_at"])
        ]
        out.append(
            {
                "name": name,
                "created_at": account.get("created_at"),
                "password": bool(account.get("password")),
                "roles": view.roles(name),
                "tokens": tokens,
            }
        )
    return out
