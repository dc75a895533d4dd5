"""The ``export`` command: items and their chain of custody as tables, an HTML report,
a BagIt package or CASE/UCO JSON-LD."""

from __future__ import annotations

import sys

import click

from registry.cli.base import _dump, _open, actor_option, cli, handle_errors, json_option
from registry.export import FORMATS, export


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
    for w in result.warnings:  # a step that failed on one item: exit code 1 below
        click.echo(f"warning: {w['sha256'][:16]} {w['step']}: {w['message']}", err=True)
    if as_json:
        click.echo(_dump(result.to_dict()))
    else:
        click.echo(f"{len(result.items)} items, {len(result.files)} files -> {result.out}")
        if result.checkpoint:
            cp = result.checkpoint
            click.echo(f"checkpoint size {cp['size']} root {cp['root']}")
        click.echo(f"logged as entry {result.seq}", err=True)
    sys.stdout.flush()
    if result.warnings:
        sys.exit(1)
