"""Commands about the chain of custody: ``custody``, ``verify``, ``rebuild``, ``key``
(``create``, ``list``), ``note``, ``checkpoint`` and ``prove``."""

from __future__ import annotations

import json
import sys

import click

from registry.cli.base import _dump, _open, actor_option, cli, handle_errors, json_option
from registry.custody import (
    add_note,
    create_actor_key,
    list_keys,
    make_checkpoint,
    prove_consistency,
    prove_item,
    summarize,
)


@cli.command()
@click.argument("ref", required=False)
@json_option
@click.pass_context
@handle_errors
def custody(ctx: click.Context, ref: str | None, as_json: bool) -> None:
    """Print the chain-of-custody log, or the entries about one item.

    Example: evidence custody 3f2a9c --json
    """
    for entry in _open(ctx).custody(ref):
        if as_json:
            click.echo(_dump(entry))
        else:
            sha = (entry.get("sha256") or "")[:12]
            click.echo(
                f"{entry['seq']:>6}  {entry['time'][:19]}  {entry['actor']:<12} "
                f"{entry['action']:<20} {sha:<12} {summarize(entry)}"
            )


@cli.command()
@actor_option
@json_option
@click.pass_context
@handle_errors
def verify(ctx: click.Context, actor: str, as_json: bool) -> None:
    """Verify the custody chain, signatures, vault fixity and catalogue.

    Exit code 0 only when everything checks out; otherwise 1 and every problem listed.

    Example: evidence verify --json
    """
    report = _open(ctx).verify(actor=actor)
    if as_json:
        click.echo(_dump(report.to_dict()))
    else:
        status = "OK" if report.ok else f"FAILED: {len(report.problems)} problem(s)"
        click.echo(
            f"{status} - {report.entries} custody entries, {report.items} items, "
            f"{report.vault_files} vault files re-hashed ({report.bytes_hashed:,} bytes)"
        )
        for problem in report.problems:
            click.echo(f"  {problem.code}: {problem.message}")
        if not report.catalog_checked:
            click.echo("  (the catalogue was not compared with the damaged log)")
    if not report.ok:
        sys.exit(1)


@cli.command()
@click.option(
    "--catalog",
    "catalog_url",
    metavar="URL",
    help="Rebuild the PostgreSQL catalogue at this URL (postgresql://...) instead of the "
    "one the group's --catalog names (default: the registry's own).",
)
@actor_option
@json_option
@click.pass_context
@handle_errors
def rebuild(ctx: click.Context, catalog_url: str | None, actor: str, as_json: bool) -> None:
    """Rebuild the catalogue from the custody log (the log is the source of truth).

    With --catalog, the PostgreSQL catalogue there is filled (or replaced) from the log;
    the registry's own catalogue is left as it is.

    Example: evidence rebuild --catalog postgresql://evidence@db.internal/evidence
    """
    items = _open(ctx, catalog=catalog_url).rebuild(actor=actor)
    click.echo(_dump({"items": items}) if as_json else f"catalogue rebuilt: {items} items")


@cli.group()
def key() -> None:
    """Signing keys: the installation key and actors' own keys.

    Example: evidence key create --actor alice
    """


@key.command("create")
@click.option("--actor", required=True, help="Whose key it is (their entries are signed with it).")
@json_option
@click.pass_context
@handle_errors
def key_create(ctx: click.Context, actor: str, as_json: bool) -> None:
    """Make an actor's own Ed25519 key (private key 0600; public key published and logged).

    Example: evidence key create --actor alice
    """
    try:
        made = create_actor_key(_open(ctx), actor)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--actor") from exc
    if as_json:
        click.echo(_dump(made))
    else:
        click.echo(f"key {made['key_id']} for {actor} (logged as entry {made['seq']})")
        click.echo(f"private key {made['private_key_file']} (keep it secret)")


@key.command("list")
@json_option
@click.pass_context
@handle_errors
def key_list(ctx: click.Context, as_json: bool) -> None:
    """List the keys that sign this registry's custody entries.

    Example: evidence key list --json
    """
    for info in list_keys(_open(ctx)):
        if as_json:
            click.echo(_dump(info))
        else:
            flags = ("published" if info["published"] else "NOT PUBLISHED") + (
                ", private key here" if info["private_key_here"] else ""
            )
            click.echo(
                f"{info['key_id']}  {info['actor'] or '?':<16} "
                f"{(info['created_at'] or '-')[:19]}  {flags}"
            )


@cli.command()
@click.argument("ref")
@click.argument("text")
@click.option("--case", help="The case the note belongs to (team server users see their cases').")
@actor_option
@json_option
@click.pass_context
@handle_errors
def note(
    ctx: click.Context, ref: str, text: str, case: str | None, actor: str, as_json: bool
) -> None:
    """Add a note to an item (logged as note.added; shown in the item's notes).

    Example: evidence note 3f2a9c "Geolocated to Irpin bridge" --actor alice
    """
    try:
        entry = add_note(_open(ctx), ref, text, actor=actor, case=case)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="TEXT") from exc
    click.echo(_dump(entry) if as_json else f"note logged as entry {entry['seq']}")


@cli.command()
@actor_option
@json_option
@click.pass_context
@handle_errors
def checkpoint(ctx: click.Context, actor: str, as_json: bool) -> None:
    """Sign the custody log's Merkle tree head; print it to publish or e-mail.

    Keep the printed root somewhere the registry's operators cannot change (send it to
    counsel, publish it): later proofs are checked against it.

    Example: evidence checkpoint
    """
    cp = make_checkpoint(_open(ctx), actor=actor)
    click.echo(_dump({**cp.to_dict(), "file": cp.file}) if as_json else cp.text())


@cli.command()
@click.argument("ref", required=False)
@click.option(
    "--consistency",
    nargs=2,
    metavar="OLD NEW",
    help="Prove the log of checkpoint NEW grew from that of OLD (sizes; NEW may be 'latest').",
)
@json_option
@click.pass_context
@handle_errors
def prove(
    ctx: click.Context, ref: str | None, consistency: tuple[str, str] | None, as_json: bool
) -> None:
    """Print Merkle proofs against the latest checkpoint.

    With an item (SHA-256 or prefix): the inclusion proof of each log entry about it.
    With --consistency OLD NEW: the proof that the log only grew between two checkpoints.
    Check either offline with verify_bag.py --proof/--consistency (in every BagIt export).

    Example: evidence prove 3f2a9c --json > proof.json
    """
    if (ref is None) == (consistency is None):
        raise click.UsageError("give an item, or --consistency OLD NEW")
    reg = _open(ctx)
    if consistency:
        old, new = consistency
        bundle = prove_consistency(reg, old, None if new == "latest" else new)
        if as_json:
            click.echo(json.dumps(bundle, indent=2))
            return
        click.echo(f"old  size {bundle['old']['size']:>8}  root {bundle['old']['root']}")
        click.echo(f"new  size {bundle['new']['size']:>8}  root {bundle['new']['root']}")
        click.echo("consistency path")
        for h in bundle["consistency_path"]:
            click.echo(f"  {h}")
        return
    bundle = prove_item(reg, str(ref))
    if as_json:
        click.echo(json.dumps(bundle, indent=2, ensure_ascii=False))
        return
    cp = bundle["checkpoint"]
    click.echo(f"item        {bundle['sha256']}")
    click.echo(f"checkpoint  size {cp['size']}  root {cp['root']}")
    for proof in bundle["proofs"]:
        action = json.loads(proof["entry"]).get("action")
        click.echo(f"entry {proof['seq']:>6} {action:<20} leaf {proof['leaf_hash']}")
        for h in proof["audit_path"]:
            click.echo(f"    {h}")
    if bundle["not_covered"]:
        seqs = ", ".join(str(s) for s in bundle["not_covered"])
        click.echo(f"entries {seqs} came after the checkpoint; run `evidence checkpoint`")
