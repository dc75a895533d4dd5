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
    prove_consistency,
    prove_item,
    summarize,
)
from registry.custody.timestamps import (
    DEFAULT_TIMEOUT,
    DEFAULT_TOLERANCE,
    Authority,
    checkpoint_with_timestamps,
)
from registry.custody.tsa import TrustAnchor, check_url


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
        for ts in report.timestamps:
            click.echo(
                f"  timestamp {ts['file']} by {ts.get('tsa') or '?'} at "
                f"{ts.get('gen_time') or '?'}: {ts['status']}"
            )
        for problem in report.problems:
            click.echo(f"  {problem.code}: {problem.message}")
        if not report.catalog_checked:
            click.echo("  (the catalogue was not compared with the damaged log)")
    if not report.ok:
        sys.exit(1)


@cli.command()
@actor_option
@json_option
@click.pass_context
@handle_errors
def rebuild(ctx: click.Context, actor: str, as_json: bool) -> None:
    """Rebuild the catalogue from the custody log (the log is the source of truth).

    Example: evidence rebuild
    """
    items = _open(ctx).rebuild(actor=actor)
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
@click.option(
    "--tsa",
    "tsas",
    multiple=True,
    metavar="URL",
    help="Also ask this RFC 3161 time-stamping authority for a token over the checkpoint "
    "(repeatable; only http(s), only this URL is contacted).",
)
@click.option(
    "--tsa-ca",
    "tsa_cas",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="The trust anchor (PEM) of the authorities: once for all, or once per --tsa in "
    "order; kept in the registry. Without it, the anchor last logged for that URL.",
)
@click.option(
    "--tsa-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULT_TIMEOUT,
    show_default=True,
    help="Seconds to wait for each authority's answer.",
)
@click.option(
    "--tsa-tolerance",
    type=click.FloatRange(min=0),
    default=DEFAULT_TOLERANCE,
    show_default=True,
    help="Seconds the token's genTime may differ from the checkpoint's time.",
)
@actor_option
@json_option
@click.pass_context
@handle_errors
def checkpoint(
    ctx: click.Context,
    tsas: tuple[str, ...],
    tsa_cas: tuple[str, ...],
    tsa_timeout: float,
    tsa_tolerance: float,
    actor: str,
    as_json: bool,
) -> None:
    """Sign the custody log's Merkle tree head; print it to publish or e-mail.

    Keep the printed root somewhere the registry's operators cannot change (send it to
    counsel, publish it): later proofs are checked against it. With --tsa, each
    authority's RFC 3161 token over the checkpoint is checked and kept
    (checkpoints/<size>.<n>.tsr); a failed one is reported and logged, the checkpoint
    stands, and the exit code is 1.

    Example: evidence checkpoint --tsa http://timestamp.example/tsr --tsa-ca tsa-root.pem
    """
    authorities = _authorities(tsas, tsa_cas)
    cp, outcomes = checkpoint_with_timestamps(
        _open(ctx), authorities, actor=actor, timeout=tsa_timeout, tolerance=tsa_tolerance
    )
    if as_json:
        body = {**cp.to_dict(), "file": cp.file, "timestamps": [o.to_dict() for o in outcomes]}
        click.echo(_dump(body))
    else:
        click.echo(cp.text())
        for o in outcomes:
            if o.ok:
                d = o.details
                click.echo(
                    f"timestamp  {d['tsa']}  genTime {d['gen_time']}  serial {d['serial']}"
                    f"  policy {d['policy']}  -> {d['file']}"
                )
    for o in outcomes:
        if not o.ok:
            d = o.details
            click.echo(
                f"error: timestamp from {d['tsa']} failed ({d['failed']}): {d['error']}", err=True
            )
    if any(not o.ok for o in outcomes):
        sys.exit(1)


def _authorities(urls: tuple[str, ...], anchors: tuple[str, ...]) -> list[Authority]:
    if anchors and not urls:
        raise click.UsageError("--tsa-ca needs --tsa")
    if len(anchors) not in (0, 1, len(urls)):
        raise click.UsageError("give --tsa-ca once for all authorities, or once per --tsa")
    for url in urls:
        try:
            check_url(url)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--tsa") from exc
    loaded: list[TrustAnchor] = []
    for path in anchors:
        try:
            with open(path, "rb") as fh:
                loaded.append(TrustAnchor.from_pem(fh.read()))
        except (OSError, ValueError) as exc:
            raise click.BadParameter(f"{path}: {exc}", param_hint="--tsa-ca") from exc
    if len(loaded) == 1:
        loaded *= len(urls)
    return [Authority(url, loaded[i] if loaded else None) for i, url in enumerate(urls)]


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
