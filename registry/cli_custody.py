"""Command-line commands for custody and exports: ``key``, ``note``, ``checkpoint``,
``prove`` and ``export``. Thin Click wrappers like those in ``cli.py``, which imports
this module to add them to the ``evidence`` group.
"""

from __future__ import annotations

import json
import sys

import click

from registry.cli import _dump, _open, actor_option, cli, handle_errors, json_option
from registry.custody.actors import create_actor_key, list_keys
from registry.custody.checkpoint import make_checkpoint
from registry.custody.notes import add_note
from registry.custody.proofs import prove_consistency, prove_item
from registry.export import FORMATS, export


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
@actor_option
@json_option
@click.pass_context
@handle_errors
def note(ctx: click.Context, ref: str, text: str, actor: str, as_json: bool) -> None:
    """Add a note to an item (logged as note.added; shown in the item's notes).

    Example: evidence note 3f2a9c "Geolocated to Irpin bridge" --actor alice
    """
    try:
        entry = add_note(_open(ctx), ref, text, actor=actor)
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


@cli.command("export")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(list(FORMATS)),
    required=True,
    help="jsonl/csv tables, html report, bagit package, or CASE/UCO JSON-LD.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder to write (absent or empty); nothing is written outside it.",
)
@click.option("--case", help="Only the items of this case.")
@click.argument("refs", nargs=-1)
@actor_option
@json_option
@click.pass_context
@handle_errors
def export_(
    ctx: click.Context,
    fmt: str,
    out: str,
    case: str | None,
    refs: tuple[str, ...],
    actor: str,
    as_json: bool,
) -> None:
    """Export items (all, a case's, or those named) with their chain of custody.

    Example: evidence export --format bagit --out ua031-bag --case UA-031
    """
    result = export(_open(ctx), fmt, out, refs=refs, case=case, actor=actor)
    if as_json:
        click.echo(_dump(result.to_dict()))
        return
    click.echo(f"{len(result.items)} items, {len(result.files)} files -> {result.out}")
    if result.checkpoint:
        click.echo(f"checkpoint size {result.checkpoint['size']} root {result.checkpoint['root']}")
    click.echo(f"logged as entry {result.seq}", err=True)
    sys.stdout.flush()
