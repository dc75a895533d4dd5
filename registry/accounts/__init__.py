"""Accounts of the team server (issue 15): people, their roles per case, bearer
tokens, near-duplicate decisions, and the permission filter every read passes through.

* ``store``: the ``AccountsView`` interface (and ``FoldedAccounts``, over the view the
  custody log folds), ``authenticate``, and the changes, each one custody entry
  (``account.created``, ``role.granted``, ``role.revoked``, ``token.created``,
  ``token.revoked``);
* ``roles``: owner, manager, editor, viewer and what each allows;
* ``secrets``: Argon2 password hashes; tokens kept as the SHA-256 of their secret;
* ``decisions``: ``neardup.confirmed`` / ``neardup.rejected``;
* ``scope``: ``Scope``, the one permission filter (see its docstring).

Nothing here imports argon2 until a password is hashed or checked.
"""

from registry.accounts.decisions import decide
from registry.accounts.roles import NEEDS, ROLES, allows, may_grant, may_revoke
from registry.accounts.scope import NotVisible, Scope, mentioned
from registry.accounts.store import (
    AccountError,
    AccountExists,
    AccountsView,
    FoldedAccounts,
    Identity,
    NotPermitted,
    UnknownAccount,
    accounts_view,
    add_user,
    authenticate,
    create_token,
    grant,
    list_users,
    login,
    revoke,
    revoke_token,
)

__all__ = [
    "NEEDS",
    "ROLES",
    "AccountError",
    "AccountExists",
    "AccountsView",
    "FoldedAccounts",
    "Identity",
    "NotPermitted",
    "NotVisible",
    "Scope",
    "UnknownAccount",
    "accounts_view",
    "add_user",
    "allows",
    "authenticate",
    "create_token",
    "decide",
    "grant",
    "list_users",
    "login",
    "may_grant",
    "may_revoke",
    "mentioned",
    "revoke",
    "revoke_token",
]
