"""Team commands (issue 15): ``user`` (add, grant, revoke, list), ``token`` (create,
revoke) and ``serve``. Whoever runs them is the registry's operator: they may do
anything; the API's users are held to their roles (``registry.accounts.roles``)."""

from __future__ import annotations

import sys

import click

from registry.accounts import (
    ROLES,
    add_user,
    create_token,
    grant,
    list_users,
    revoke,
    revoke_token,
)
from registry.cli.base import _dump, _open, actor_option, cli, handle_errors, json_option


@cli.group()
def user() -> None:
    """Accounts of the team server and their roles per case.

    Example: evidence user add alice --password-stdin
    """


@user.command("add")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read a password from standard input.")
@actor_option
@json_option
@click.pass_context
@handle_errors
def user_add(
    ctx: click.Context, name: str, password_stdin: bool, actor: str, as_json: bool
) -> None:
    """Create an account (logged as account.created; the password is kept as an Argon2
    hash).

    Example: evidence user add alice --password-stdin < alice.password
    """
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise click.BadParameter("no password on standard input", param_hint="--password-stdin")
    try:
        entry = add_user(_open(ctx), name, password, actor=actor)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="NAME") from exc
    click.echo(_dump({"name": name, "seq": entry["seq"]}) if as_json else f"account {name} created")


@user.command("grant")
@click.argument("name")
@click.option("--case", required=True, help="The case.")
@click.option("--role", required=True, type=click.Choice(ROLES), help="The role in the case.")
@actor_option
@json_option
@click.pass_context
@handle_errors
def user_grant(
    ctx: click.Context, name: str, case: str, role: str, actor: str, as_json: bool
) -> None:
    """Give an account a role in a case (replacing the one it held there).

    Example: evidence user grant alice --case UA-031 --role editor
    """
    entry = grant(_open(ctx), name, case, role, actor=actor)
    click.echo(_dump(entry) if as_json else f"{name} is {role} in {case}")


@user.command("revoke")
@click.argument("name")
@click.option("--case", required=True, help="The case.")
@actor_option
@json_option
@click.pass_context
@handle_errors
def user_revoke(ctx: click.Context, name: str, case: str, actor: str, as_json: bool) -> None:
    """Take an account's role in a case away.

    Example: evidence user revoke alice --case UA-031
    """
    entry = revoke(_open(ctx), name, case, actor=actor)
    click.echo(_dump(entry) if as_json else f"{name} has no role in {case} now")


@user.command("list")
@json_option
@click.pass_context
@handle_errors
def user_list(ctx: click.Context, as_json: bool) -> None:
    """List accounts, their roles and tokens (JSON Lines with --json).

    Example: evidence user list --json
    """
    for account in list_users(_open(ctx)):
        if as_json:
            click.echo(_dump(account))
            continue
        roles = ", ".join(f"{c}:{r}" for c, r in sorted(account["roles"].items())) or "-"
        live = sum(1 for t in account["tokens"] if not t["revoked_at"])
        click.echo(f"{account['name']:<16} {roles}  ({live} live token(s))")


@cli.group()
def token() -> None:
    """Bearer tokens of the team server's API.

    Example: evidence token create alice --read-only --expires-days 30
    """


@token.command("create")
@click.argument("name")
@click.option("--read-only", is_flag=True, help="The token may only read (a viewer at most).")
@click.option("--expires-days", type=click.FloatRange(0, min_open=True), help="Lifetime in days.")
@actor_option
@json_option
@click.pass_context
@handle_errors
def token_create(
    ctx: click.Context,
    name: str,
    read_only: bool,
    expires_days: float | None,
    actor: str,
    as_json: bool,
) -> None:
    """Make a bearer token for an account and print it once (only its hash is kept).

    Example: evidence token create alice --expires-days 90 --json
    """
    try:
        made = create_token(
            _open(ctx), name, actor=actor, read_only=read_only, expires_days=expires_days
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--expires-days") from exc
    if as_json:
        click.echo(_dump({"id": made["id"], "token": made["token"]}))
        return
    click.echo(made["token"])
    expiry = made["expires_at"] or "never"
    click.echo(f"token {made['id']} for {name}, expires {expiry}: shown once", err=True)


@token.command("revoke")
@click.argument("token_id", metavar="ID")
@actor_option
@json_option
@click.pass_context
@handle_errors
def token_revoke(ctx: click.Context, token_id: str, actor: str, as_json: bool) -> None:
    """Revoke a token by its id (it stops working at once).

    Example: evidence token revoke 3f2a9c0d11e4b577
    """
    entry = revoke_token(_open(ctx), token_id, actor=actor)
    click.echo(_dump(entry) if as_json else f"token {token_id} revoked")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--catalog",
    "catalog_url",
    help="Where the catalogue is kept (postgresql://...); default: the registry's own.",
)
@click.option(
    "--max-upload-mb",
    default=2048.0,
    show_default=True,
    type=click.FloatRange(0, min_open=True),
    help="Largest request body accepted (413 beyond).",
)
@click.option(
    "--rate",
    default=50.0,
    show_default=True,
    type=click.FloatRange(0, min_open=True),
    help="Requests per second per token (bursts of twice that; 429 beyond).",
)
@click.option(
    "--workers",
    default=2,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Extraction processes per upload.",
)
@click.pass_context
@handle_errors
def serve(
    ctx: click.Context,
    host: str,
    port: int,
    catalog_url: str | None,
    max_upload_mb: float,
    rate: float,
    workers: int,
) -> None:
    """Serve the registry to a team: a REST API under /api/v1 (FastAPI, uvicorn) with
    accounts, per-case roles, and every access logged in the custody log.

    Example: evidence serve --host 127.0.0.1 --port 8000
    """
    from registry.server import ServerConfig, run

    config = ServerConfig(
        registry=ctx.obj,
        catalog=catalog_url,
        max_upload=int(max_upload_mb * 1024 * 1024),
        rate=rate,
        workers=workers,
    )
    try:
        config.check()
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--catalog") from exc
    run(config, host=host, port=port)
