"""Trusted timestamps on checkpoints: time that does not rest on the registry's word.

A checkpoint is signed with the registry's own key, which proves order, not time. An
RFC 3161 token from a time-stamping authority over a checkpoint proves that the
checkpoint, and so every entry before it, existed at the token's genTime.

``checkpoint_with_timestamps`` makes a checkpoint and asks each authority for a token
over it (``tsa.py``: the message is ``Checkpoint.timestamp_message()``, the canonical
JSON of the signed checkpoint, and the imprint its SHA-256). A token that checks out is
kept as ``checkpoints/<size>.<n>.tsr`` (the DER ``TimeStampResp``, as ``openssl ts
-reply -in`` reads it; ``<size>`` spelled as in ``<size>.json``, ``n`` counting from 1)
and logged as ``checkpoint.timestamped``; the trust anchor it was checked against is
kept as ``checkpoints/tsa-ca/<sha256>.pem``. An authority that fails is logged as
``checkpoint.timestamp_failed`` and nothing of its answer is kept; the checkpoint
stands either way.

``check_logged`` re-checks a stored token offline for ``verify``; ``stored_tokens``
hands them to the exports.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from registry.custody.checkpoint import FOLDER, Checkpoint, make_checkpoint
from registry.custody.events import (
    CHECKPOINT_TIMESTAMP_FAILED,
    CHECKPOINT_TIMESTAMPED,
    checkpoint_timestamp_failed,
    checkpoint_timestamped,
)
from registry.custody.tsa import Failure, Token, TrustAnchor, build_request, post, token_problems
from registry.fsutil import atomic_write, pause_point
from registry.timeutil import parse_instant

if TYPE_CHECKING:
    from registry.session import Session

ANCHOR_FOLDER = f"{FOLDER}/tsa-ca"
#: Seconds to wait for an authority's answer.
DEFAULT_TIMEOUT = 30.0
#: Seconds genTime may differ from the checkpoint's time (clocks, a slow network).
DEFAULT_TOLERANCE = 300.0
_TOKEN_NAME = re.compile(r"^(\d+)\.(\d+)\.tsr$")


@dataclass(frozen=True)
class Authority:
    """A TSA to ask, and its trust anchor (``None``: the one last logged for ``url``)."""

    url: str
    anchor: TrustAnchor | None = None


@dataclass
class Outcome:
    """One authority's answer, as logged (``details`` of the entry)."""

    ok: bool
    details: dict[str, Any]
    seq: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "seq": self.seq, **self.details}


def checkpoint_with_timestamps(
    reg: Session,
    authorities: list[Authority],
    *,
    actor: str,
    timeout: float = DEFAULT_TIMEOUT,
    tolerance: float = DEFAULT_TOLERANCE,
) -> tuple[Checkpoint, list[Outcome]]:
    """Make a checkpoint, then a timestamp of it by each authority (see the module)."""
    cp = make_checkpoint(reg, actor=actor)
    if not authorities:
        return cp, []
    return cp, timestamp_checkpoint(
        reg, cp, authorities, actor=actor, timeout=timeout, tolerance=tolerance
    )


def timestamp_checkpoint(
    reg: Session,
    cp: Checkpoint,
    authorities: list[Authority],
    *,
    actor: str,
    timeout: float = DEFAULT_TIMEOUT,
    tolerance: float = DEFAULT_TOLERANCE,
) -> list[Outcome]:
    """Ask each authority for a token over ``cp``; keep and log those that check out,
    log the failures. The network is used outside the writer lock."""
    message = cp.timestamp_message()
    logged = _logged_anchors(reg)
    answers: list[tuple[Authority, TrustAnchor | None, Token | None, list[Failure], str]] = []
    for auth in authorities:
        anchor = auth.anchor or logged.get(auth.url)
        token, problems, reply = None, [], ""
        if anchor is None:
            problems = [Failure("anchor", "no trust anchor for this authority; give --tsa-ca")]
        else:
            try:
                query, nonce = build_request(message)
                der = post(auth.url, query, timeout)
                reply = hashlib.sha256(der).hexdigest()
                token, problems = token_problems(
                    der,
                    message,
                    anchor,
                    nonce=nonce,
                    around=parse_instant(cp.time),
                    tolerance=tolerance,
                )
            except Failure as exc:
                problems = [exc]
        answers.append((auth, anchor, token, problems, reply))
    outcomes: list[Outcome] = []
    events = []
    with reg.writing(actor):
        base = {"checkpoint": cp.file, "size": cp.size, "root": cp.root}
        for auth, anchor, token, problems, reply in answers:
            details: dict[str, Any] = {**base, "tsa": auth.url}
            if anchor is not None:
                details["trust_anchor"] = _keep_anchor(reg.root, anchor)
            if token is not None and not problems:
                rel = _next_token_name(reg.root, cp.size)
                atomic_write(os.path.join(reg.root, rel), token.der)
                details.update(file=rel, sha256=hashlib.sha256(token.der).hexdigest())
                details.update(token.to_dict(), tolerance_s=tolerance)
                events.append(checkpoint_timestamped(actor, details))
                outcomes.append(Outcome(True, details))
            else:
                details["failed"] = problems[0].check
                # One failure is named by "failed"; several are each named in "error".
                one = len(problems) == 1
                details["error"] = "; ".join(p.message if one else str(p) for p in problems)
                if reply:
                    details["reply_sha256"] = reply
                events.append(checkpoint_timestamp_failed(actor, details))
                outcomes.append(Outcome(False, details))
        pause_point("timestamp.written")
        for outcome, entry in zip(outcomes, reg.record(events), strict=True):
            outcome.seq = int(entry["seq"])
        reg.save()
    return outcomes


def token_name(size: int, n: int) -> str:
    return f"{FOLDER}/{size:010d}.{n}.tsr"


def token_files(root: str) -> list[str]:
    """Every ``checkpoints/*.tsr`` (relative paths), by name."""
    try:
        names = sorted(os.listdir(os.path.join(root, FOLDER)))
    except FileNotFoundError:
        return []
    return [f"{FOLDER}/{name}" for name in names if _TOKEN_NAME.match(name)]


def _next_token_name(root: str, size: int) -> str:
    taken = [
        int(m.group(2))
        for rel in token_files(root)
        if (m := _TOKEN_NAME.match(os.path.basename(rel))) and int(m.group(1)) == size
    ]
    return token_name(size, max(taken, default=0) + 1)


def _keep_anchor(root: str, anchor: TrustAnchor) -> dict[str, Any]:
    """Copy the anchor into the registry (once: the name is its digest); its record."""
    rel = f"{ANCHOR_FOLDER}/{anchor.sha256}.pem"
    path = os.path.join(root, rel)
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        atomic_write(path, anchor.pem)
    return {"file": rel, "sha256": anchor.sha256, "subjects": anchor.subjects}


def read_anchor(root: str, record: dict[str, Any]) -> TrustAnchor:
    """The stored anchor an entry names.

    Raises:
        Failure: ``anchor``: gone, changed, or not certificates.
    """
    rel = str(record.get("file") or "")
    try:
        with open(os.path.join(root, rel), "rb") as fh:
            pem = fh.read()
    except OSError as exc:
        raise Failure("anchor", f"{rel or '?'} cannot be read: {exc.strerror or exc}") from None
    if hashlib.sha256(pem).hexdigest() != record.get("sha256"):
        raise Failure("anchor", f"{rel} is not the file logged (SHA-256 differs)")
    try:
        return TrustAnchor.from_pem(pem)
    except ValueError as exc:
        raise Failure("anchor", f"{rel}: {exc}") from None


def _logged_anchors(reg: Session) -> dict[str, TrustAnchor]:
    """The trust anchor last logged for each authority's URL (that can still be read)."""
    records: dict[str, dict[str, Any]] = {}
    for entry in reg.log.entries():
        if entry.get("action") in (CHECKPOINT_TIMESTAMPED, CHECKPOINT_TIMESTAMP_FAILED):
            details = entry.get("details") or {}
            if isinstance(details.get("trust_anchor"), dict):
                records[str(details.get("tsa"))] = details["trust_anchor"]
    anchors = {}
    for url, record in records.items():
        try:
            anchors[url] = read_anchor(reg.root, record)
        except Failure:
            continue  # verify reports it; this authority then needs --tsa-ca again
    return anchors


def check_logged(
    root: str, details: dict[str, Any], cp: Checkpoint | None
) -> tuple[dict[str, Any], list[Failure]]:
    """Re-check one logged token offline: its file is the one logged, it covers ``cp``
    (the checkpoint the entry names, as it is on disk), its signature and chain to its
    logged trust anchor hold at genTime, its signer may stamp time, and genTime is not
    before the checkpoint's time minus the tolerance logged with it."""
    rel = str(details.get("file") or "")
    tolerance = float(details.get("tolerance_s") or DEFAULT_TOLERANCE)
    summary = {
        "file": rel,
        "checkpoint": details.get("checkpoint"),
        "size": details.get("size"),
        "tsa": details.get("tsa"),
        "gen_time": details.get("gen_time"),
        "serial": details.get("serial"),
        "policy": details.get("policy"),
        "trust_anchor": (details.get("trust_anchor") or {}).get("file"),
        "tolerance_s": tolerance,
    }
    problems: list[Failure] = []
    try:
        with open(os.path.join(root, rel), "rb") as fh:
            der = fh.read()
    except OSError as exc:
        return summary, [Failure("file", f"cannot be read: {exc.strerror or exc}")]
    if hashlib.sha256(der).hexdigest() != details.get("sha256"):
        problems.append(Failure("file", "its SHA-256 is not the one logged"))
    if cp is None:
        return summary, [*problems, Failure("checkpoint", "its checkpoint file is gone")]
    try:
        anchor = read_anchor(root, details.get("trust_anchor") or {})
    except Failure as exc:
        return summary, [*problems, exc]
    token, found = token_problems(
        der,
        cp.timestamp_message(),
        anchor,
        not_before=parse_instant(cp.time),
        tolerance=tolerance,
    )
    if token is not None:
        summary.update(gen_time=token.gen_time, serial=token.serial, policy=token.policy)
    return summary, problems + found


def stored_tokens(root: str, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The tokens that logged ``entries`` name, with their bytes, checkpoint and anchor
    (for exports): ``{"details", "der", "checkpoint", "anchor_pem"}``; those whose files
    cannot be read are left out (``verify`` reports them)."""
    out = []
    for entry in entries:
        details = entry.get("details") or {}
        try:
            with open(os.path.join(root, str(details["file"])), "rb") as fh:
                der = fh.read()
            with open(os.path.join(root, str(details["checkpoint"])), "rb") as fh:
                checkpoint = fh.read()
            anchor = read_anchor(root, details.get("trust_anchor") or {})
        except (OSError, KeyError, Failure):
            continue
        out.append(
            {"details": details, "der": der, "checkpoint": checkpoint, "anchor_pem": anchor.pem}
        )
    return out
