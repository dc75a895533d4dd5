"""Accounts, roles and tokens: the rules, the secrets, the custody entries and the view
they fold into (rebuilt by ``rebuild``, checked by ``verify``), and the commands."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from registry import Registry, init_registry
from registry.accounts import (
    ROLES,
    AccountExists,
    UnknownAccount,
    accounts_view,
    add_user,
    allows,
    authenticate,
    create_token,
    grant,
    list_users,
    login,
    may_grant,
    may_revoke,
    revoke,
    revoke_token,
)
from registry.accounts.secrets import digest, new_token, secret_matches, split_token
from registry.cli import cli


@pytest.fixture
def reg(tmp_path: Path) -> Registry:
    return init_registry(str(tmp_path / "reg"), actor="operator")


def test_what_each_role_allows() -> None:
    table = {
        r: [a for a in ("read", "ingest", "note", "decide", "grant", "export") if allows(r, a)]
        for r in ROLES
    }
    assert table == {
        "viewer": ["read"],
        "editor": ["read", "ingest", "note", "decide"],
        "manager": ["read", "ingest", "note", "decide", "grant", "export"],
        "owner": ["read", "ingest", "note", "decide", "grant", "export"],
    }
    assert not allows(None, "read")


def test_who_grants_and_revokes_what() -> None:
    assert may_grant("manager", "manager", None) and not may_grant("manager", "owner", None)
    assert may_grant("owner", "owner", None) and not may_grant("editor", "viewer", None)
    assert not may_grant("manager", "viewer", "manager")  # a demotion revokes a manager
    assert may_grant("owner", "viewer", "manager")
    assert not may_grant("owner", "viewer", "owner")
    assert may_revoke("manager", "editor") and not may_revoke("manager", "manager")
    assert may_revoke("owner", "manager") and not may_revoke("owner", "owner")
    assert not may_revoke("editor", "viewer")


def test_tokens_are_random_and_only_their_digest_is_kept() -> None:
    token_id, token, stored = new_token()
    other = new_token()
    assert token != other[1] and token_id != other[0]
    parts = split_token(token)
    assert parts is not None and parts[0] == token_id
    assert stored == digest(parts[1]) and parts[1] not in stored
    assert secret_matches({"sha256": stored}, parts[1])
    assert not secret_matches(
        {"sha256": stored}, parts[1][:-1] + ("A" if parts[1][-1] != "A" else "B")
    )
    assert split_token("evd_short_x") is None and split_token(token + "x") is None


def test_account_changes_are_custody_entries_folded_into_the_view(reg: Registry) -> None:
    add_user(reg, "alice", "correct horse", actor="operator")
    with pytest.raises(AccountExists):
        add_user(reg, "alice", None, actor="operator")
    with pytest.raises(ValueError):
        add_user(reg, "../alice", None, actor="operator")
    grant(reg, "alice", "UA-031", "editor", actor="operator")
    grant(reg, "alice", "UA-032", "viewer", actor="operator")
    made = create_token(reg, "alice", actor="operator", read_only=True, expires_days=30)
    revoke(reg, "alice", "UA-032", actor="operator")
    with pytest.raises(UnknownAccount):
        grant(reg, "bob", "UA-031", "viewer", actor="operator")
    entries = [
        e for e in reg.custody() if e["action"].split(".")[0] in ("account", "role", "token")
    ]
    assert [e["action"] for e in entries] == [
        "account.created",
        "role.granted",
        "role.granted",
        "token.created",
        "role.revoked",
    ]
    log = (Path(reg.root) / "custody.jsonl").read_text()
    assert made["token"] not in log and made["token"].split("_")[2] not in log
    assert "correct horse" not in log
    assert entries[0]["details"]["password"].startswith("$argon2id$")
    view = accounts_view(reg.catalog)
    assert view.roles("alice") == {"UA-031": "editor"}
    assert view.members("UA-031") == {"alice": "editor"}
    assert login(view, "alice", "correct horse") and not login(view, "alice", "wrong")
    assert not login(view, "nobody", "correct horse")
    [listed] = list_users(reg)
    assert listed["roles"] == {"UA-031": "editor"} and listed["password"] is True
    assert [t["id"] for t in listed["tokens"]] == [made["id"]]
    assert "sha256" not in json.dumps(listed)
    before = reg.catalog.view("accounts")
    reg.rebuild()
    assert Registry.open(reg.root).catalog.view("accounts") == before
    assert reg.verify().ok


def test_authenticate_checks_expiry_revocation_and_caps_read_only(reg: Registry) -> None:
    add_user(reg, "alice", None, actor="operator")
    grant(reg, "alice", "C", "owner", actor="operator")
    ro = create_token(reg, "alice", actor="operator", read_only=True, expires_days=1)
    rw = create_token(reg, "alice", actor="operator")
    view = accounts_view(reg.catalog)
    who = authenticate(view, ro["token"])
    assert who is not None and who.roles == {"C": "viewer"} and who.read_only
    assert authenticate(view, rw["token"]).roles == {"C": "owner"}
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    assert authenticate(view, ro["token"], now=later) is None
    assert authenticate(view, rw["token"], now=later) is not None
    revoke_token(reg, rw["id"], actor="operator")
    assert authenticate(accounts_view(reg.catalog), rw["token"]) is None
    with pytest.raises(UnknownAccount):
        revoke_token(reg, rw["id"], actor="operator")


def test_verify_notices_an_accounts_view_that_is_not_the_logs(reg: Registry) -> None:
    add_user(reg, "alice", None, actor="operator")
    grant(reg, "alice", "C", "viewer", actor="operator")
    index = Path(reg.root) / "catalog" / "index.json"
    data = json.loads(index.read_text())
    data["views"]["accounts"]["roles"]["alice"]["C"]["role"] = "owner"  # a quiet promotion
    index.write_text(json.dumps(data))
    report = Registry.open(reg.root).verify()
    assert [(p.code, p.field) for p in report.problems] == [("CatalogMismatch", "accounts")]
    Registry.open(reg.root).rebuild()
    assert Registry.open(reg.root).verify().ok
    assert accounts_view(Registry.open(reg.root).catalog).roles("alice") == {"C": "viewer"}


def test_user_and_token_commands(tmp_path: Path) -> None:
    runner = CliRunner()
    root = str(tmp_path / "reg")
    init_registry(root, actor="operator")

    def run(*args: str, stdin: str | None = None):
        return runner.invoke(cli, ["--registry", root, *args], input=stdin)

    assert run("user", "add", "alice", "--password-stdin", stdin="s3cret\n").exit_code == 0
    assert run("user", "add", "alice").exit_code == 1
    assert run("user", "grant", "alice", "--case", "UA-031", "--role", "manager").exit_code == 0
    assert run("user", "grant", "alice", "--case", "UA-031", "--role", "boss").exit_code == 2
    made = run("token", "create", "alice", "--read-only", "--expires-days", "7", "--json")
    assert made.exit_code == 0, made.output
    token = json.loads(made.output)
    assert set(token) == {"id", "token"} and token["token"].startswith(f"evd_{token['id']}_")
    listed = json.loads(run("user", "list", "--json").output)
    assert listed["roles"] == {"UA-031": "manager"}
    assert listed["tokens"][0]["read_only"] is True and listed["tokens"][0]["expires_at"]
    assert run("token", "revoke", token["id"]).exit_code == 0
    assert run("token", "revoke", token["id"]).exit_code == 1
    assert run("user", "revoke", "alice", "--case", "UA-031").exit_code == 0
    assert run("user", "revoke", "alice", "--case", "UA-031").exit_code == 1
    assert "alice" in run("user", "list").output
    reg = Registry.open(root)
    assert login(accounts_view(reg.catalog), "alice", "s3cret")
    assert reg.verify().ok


def test_serve_refuses_a_catalogue_this_build_cannot_use(tmp_path: Path) -> None:
    root = str(tmp_path / "reg")
    init_registry(root, actor="operator")
    result = CliRunner().invoke(cli, ["--registry", root, "serve", "--catalog", "postgresql://x/y"])
    from registry.server import takes_catalog

    if takes_catalog():
        pytest.skip("this build has a PostgreSQL catalogue")
    assert result.exit_code == 2
    assert "postgresql:// catalogues are not supported by this build" in result.output


def test_the_command_line_imports_no_server_library() -> None:
    import subprocess
    import sys

    from support.cli import ROOT

    probe = (
        "import json, sys, registry.cli\n"
        "print(json.dumps([m for m in ('fastapi', 'uvicorn', 'starlette', 'argon2', "
        "'python_multipart', 'psycopg') if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(ROOT)},
        cwd=ROOT,
    )
    assert json.loads(out.stdout) == []
