"""Per-case roles and what each allows (issue 15).

``viewer`` reads its cases (items, sightings, custody, originals, match, dupes);
``editor`` also ingests and imports into them, adds notes and decides near-duplicate
suggestions; ``manager`` also grants roles in the case and exports; ``owner`` also
revokes managers. A read-only token acts as a viewer whatever its account's role.

Granting and revoking, in one case (the registry's operator, at the command line, may
do anything):

* a manager grants viewer, editor or manager, and revokes viewers and editors;
* an owner grants any role (owner too) and revokes viewers, editors and managers;
* changing someone's role takes the right to revoke the role they hold now; owners are
  revoked by the operator only, so a case never loses its last owner over the API.
"""

from __future__ import annotations

ROLES = ("viewer", "editor", "manager", "owner")
RANK = {name: rank for rank, name in enumerate(ROLES, start=1)}

#: The least role each action takes.
NEEDS = {
    "read": "viewer",
    "ingest": "editor",
    "import": "editor",
    "note": "editor",
    "decide": "editor",
    "grant": "manager",
    "export": "manager",
}


def allows(role: str | None, action: str) -> bool:
    """Whether ``role`` may do ``action`` (one of ``NEEDS``)."""
    if role not in RANK:
        return False
    return RANK[role] >= RANK[NEEDS[action]]


def capped(role: str, read_only: bool) -> str:
    """The role a token acts with: a read-only token is a viewer at most."""
    return "viewer" if read_only and RANK[role] > RANK["viewer"] else role


def may_grant(granter: str | None, role: str, current: str | None) -> bool:
    """Whether ``granter`` may give ``role`` to someone who holds ``current`` now."""
    if not allows(granter, "grant") or role not in RANK:
        return False
    if granter != "owner" and RANK[role] > RANK["manager"]:
        return False
    return current is None or current == role or may_revoke(granter, current)


def may_revoke(revoker: str | None, current: str) -> bool:
    """Whether ``revoker`` may take the role ``current`` away."""
    if revoker == "owner":
        return current != "owner"
    if revoker == "manager":
        return current in ("viewer", "editor")
    return False
