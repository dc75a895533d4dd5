"""Diagnosis of the custody log: which lines the chain vouches for, and what happened to
the others.

Each entry names the hash of the entry before it (``prev``) and is signed, so every entry
with a valid signature vouches for the exact bytes of its predecessor; the head file
vouches for the last entry, and signed checkpoints for the log's length. From those
statements the diagnosis rebuilds which bytes belong in which slot (sequence number) and
compares them with the lines actually present:

* a slot whose vouched bytes are absent, with a line in its place → ``EditedEntry``;
* a slot whose vouched bytes are absent, with nothing in its place → ``DeletedEntries``,
  or ``TruncatedLog`` when the missing slots are the last ones;
* a line no slot vouches for, with no empty slot around it → ``InsertedEntry``;
* vouched lines standing out of sequence order → ``ReorderedEntries``.

Problems of keys (a replaced or unpublished public key) are reported once per key, not
per entry, and do not stop the entries they signed from vouching for their
predecessors: whether the key is good is a separate question from whether the log's
structure is intact.
"""

from __future__ import annotations

import bisect
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from registry.custody.keys import KeyRing
from registry.custody.log import (
    EMPTY_HEAD,
    GENESIS,
    CustodyLog,
    Head,
    entry_hash,
    signed_message,
)
from registry.custody.merkle import EMPTY_ROOT, RootBuilder, leaf_hash
from registry.errors import CustodyLogError
from registry.problems import (
    BadSignature,
    BrokenChain,
    DeletedEntries,
    EditedEntry,
    HeadMismatch,
    InsertedEntry,
    Problem,
    ReorderedEntries,
    ReplacedKey,
    SequenceError,
    TornEntry,
    TruncatedLog,
    UnknownKey,
)

OK, BAD_SIG, UNKNOWN_KEY, REPLACED_KEY, UNPARSEABLE = (
    "ok",
    "bad-signature",
    "unknown-key",
    "replaced-key",
    "unparseable",
)
#: Statuses whose entries still vouch for their predecessor: their signature is either
#: valid or cannot be checked because of a key problem, reported on its own.
_STRUCTURAL = (OK, UNKNOWN_KEY, REPLACED_KEY)
FORGED_TAIL = "forged tail"


@dataclass(slots=True)
class LineInfo:
    """What one physical line of the log says of itself (its bytes are not kept)."""

    number: int
    offset: int
    length: int
    digest: str
    seq: int | None
    prev: str | None
    key: str | None
    status: str

    @property
    def vouches(self) -> bool:
        return self.status in _STRUCTURAL


@dataclass
class LogAnalysis:
    """The outcome of ``analyse``."""

    problems: list[Problem] = field(default_factory=list)
    lines: int = 0
    genuine: dict[int, LineInfo] = field(default_factory=dict)
    #: Merkle roots of the physical log's prefixes of the sizes asked for.
    roots: dict[int, bytes] = field(default_factory=dict)
    #: The first physical line that is not where an intact log would have it (0: none).
    first_damage: int = 0

    @property
    def intact(self) -> bool:
        return self.first_damage == 0

    def entries(self, log: CustodyLog) -> Iterator[tuple[dict[str, Any], str, int]]:
        """``(entry, hash, end offset)`` of the vouched lines, in sequence order."""
        if not self.genuine:
            return
        with open(log.path, "rb") as fh:
            for slot in sorted(self.genuine):
                info = self.genuine[slot]
                fh.seek(info.offset)
                entry = json.loads(fh.read(info.length))
                yield entry, info.digest, info.offset + info.length + 1


#: A problem found in the log's structure, with the physical line where the damage starts.
_Finding = tuple[Problem, int]


def analyse(
    log: CustodyLog,
    keys: KeyRing,
    *,
    root_sizes: Iterable[int] = (),
    claimed_size: int = 0,
    claimed_by: str = "",
) -> LogAnalysis:
    """Diagnose the log.

    Args:
        log: The custody log.
        keys: Its published keys.
        root_sizes: Prefix sizes whose Merkle roots to compute on the way (checkpoints).
        claimed_size: A length that a signed statement (a checkpoint) says the log had.
        claimed_by: Who claims it, for the message.
    """
    out = LogAnalysis()
    problems = out.problems
    head, head_readable = _read_head(log, problems)
    replaced = {k: v for k, v in keys.published_files().items() if v != k}
    lines, torn = _scan(log, keys, replaced, set(root_sizes), out.roots)
    out.lines = len(lines)
    cut_short = log.size() < head.offset
    if torn is not None and not cut_short:
        problems.append(TornEntry(f"line {torn}", line=torn))

    vouched, head_only = _vouched_hashes(lines, head.seq, head.hash)
    genuine, strays = _place(lines, vouched, head_only)
    out.genuine = genuine
    length = max([*genuine, head.seq, claimed_size, 0])
    phys = sorted((g.number, s) for s, g in genuine.items())
    findings = _reordering(phys)
    missing = [s for s in range(1, length + 1) if s not in genuine]
    placed, taken = _stray_findings(strays, phys, missing, length, head_only)
    findings += placed
    truncated_by = "its head file" if length == head.seq else claimed_by or "a checkpoint"
    findings += _gap_findings(
        [m for m in missing if m not in taken],
        genuine,
        length=length,
        line_count=len(lines),
        truncated_by=truncated_by,
        cut_inside=torn is not None and cut_short,
    )
    problems.extend(problem for problem, _ in findings)
    damage = [line for _, line in findings]

    stale = _stale_head(head, genuine)
    if not damage and not cut_short and stale is not None and head_readable:
        problems.append(stale)
    problems.extend(_entry_problems(genuine, replaced))
    out.first_damage = min(damage, default=0)
    return out


def _read_head(log: CustodyLog, problems: list[Problem]) -> tuple[Head, bool]:
    """The log's head record and whether it could be read (if not, an empty head, and a
    ``HeadMismatch`` added to ``problems``)."""
    try:
        return log.read_head(), True
    except CustodyLogError as exc:
        problems.append(HeadMismatch(f"{exc.message}; the log is checked without it"))
        return EMPTY_HEAD, False


def _scan(
    log: CustodyLog,
    keys: KeyRing,
    replaced: dict[str, str | None],
    wanted: set[int],
    roots: dict[int, bytes],
) -> tuple[list[LineInfo], int | None]:
    """Inspect every complete line, filling ``roots`` with the Merkle roots of the prefix
    sizes in ``wanted``; return the lines and the number of a torn last line (or None)."""
    builder = RootBuilder()
    if 0 in wanted:
        roots[0] = EMPTY_ROOT
    lines: list[LineInfo] = []
    for number, raw in enumerate(log.lines(), start=1):
        if not raw.complete:
            return lines, number
        builder.append(leaf_hash(raw.line))
        if builder.size in wanted:
            roots[builder.size] = builder.root()
        lines.append(_inspect(number, raw.offset, raw.line, raw.entry, keys, replaced))
    return lines, None


def _reordering(phys: list[tuple[int, int]]) -> list[_Finding]:
    """``ReorderedEntries`` when the vouched lines, ``(line number, slot)`` in physical
    order, do not stand in slot order."""
    slots = [s for _, s in phys]
    if slots == sorted(slots):
        return []
    moved = [(n, s) for (n, s), w in zip(phys, sorted(slots), strict=True) if s != w]
    first, last = moved[0][0], moved[-1][0]
    problem = ReorderedEntries(
        f"lines {first}-{last} hold entries {', '.join(str(s) for _, s in moved)}",
        seqs=[s for _, s in moved],
        first_line=first,
        last_line=last,
    )
    return [(problem, first)]


def _stray_findings(
    strays: list[tuple[LineInfo, str]],
    phys: list[tuple[int, int]],
    missing: list[int],
    length: int,
    head_only: set[int],
) -> tuple[list[_Finding], set[int]]:
    """Say what each stray line is: an ``EditedEntry`` when a missing slot around it can
    be its place, an ``InsertedEntry`` otherwise. Also return the slots so accounted for."""
    numbers = [n for n, _ in phys]
    slots = [s for _, s in phys]
    findings: list[_Finding] = []
    taken: set[int] = set()
    for info, why in strays:
        at = bisect.bisect_left(numbers, info.number)
        before = slots[at - 1] if at > 0 else 0
        after = slots[at] if at < len(slots) else length + 1
        free = []
        for m in missing[bisect.bisect_right(missing, before) :]:
            if m >= after:
                break
            if m not in taken:
                free.append(m)
        slot = None
        if why == FORGED_TAIL:
            taken.update(head_only)  # the head vouches for this very line; nothing is lost
            why = "signature does not match; the head file was rewritten to vouch for it"
        elif free:
            slot = info.seq if info.seq in free else free[0]
        if slot is not None:
            taken.add(slot)
            problem: Problem = EditedEntry(
                f"entry {slot} (line {info.number}): {why}",
                seq=slot,
                line=info.number,
                reason=why,
            )
        else:
            problem = InsertedEntry(
                f"line {info.number}, after entry {before}: {why}",
                line=info.number,
                after_seq=before,
                claimed_seq=info.seq,
                reason=why,
            )
        findings.append((problem, info.number))
    return findings, taken


def _gap_findings(
    missing: list[int],
    genuine: dict[int, LineInfo],
    *,
    length: int,
    line_count: int,
    truncated_by: str,
    cut_inside: bool,
) -> list[_Finding]:
    """``TruncatedLog`` for missing slots at the end of the log, ``DeletedEntries`` for
    each other run of missing slots that no stray line accounts for."""
    findings: list[_Finding] = []
    last_present = max(genuine, default=0)
    for first, last in _runs(missing):
        if last == length and first > last_present:
            cut = f", cut inside entry {first}" if cut_inside else ""
            problem: Problem = TruncatedLog(
                f"{truncated_by} records {length} entries, the log ends after {first - 1}{cut}",
                head_seq=length,
                log_seq=first - 1,
            )
            findings.append((problem, line_count + 1))
            continue
        line = min((g.number for s, g in genuine.items() if s > last), default=line_count + 1)
        span = f"entry {first}" if first == last else f"entries {first}-{last}"
        problem = DeletedEntries(
            f"{span} (before line {line})",
            first_seq=first,
            last_seq=last,
            count=last - first + 1,
            line=line,
        )
        findings.append((problem, line))
    return findings


def _stale_head(head: Head, genuine: dict[int, LineInfo]) -> HeadMismatch | None:
    """``HeadMismatch`` when the head file names an earlier entry than the log's last, or
    another hash for its entry."""
    last_present = max(genuine, default=0)
    at_head = genuine.get(head.seq)
    if head.seq < last_present or (at_head is not None and at_head.digest != head.hash):
        return HeadMismatch(
            f"head says entry {head.seq}, log ends at {last_present}",
            head_seq=head.seq,
            log_seq=last_present,
        )
    return None


def _inspect(
    number: int,
    offset: int,
    line: bytes,
    entry: dict[str, Any] | None,
    keys: KeyRing,
    replaced: dict[str, str | None],
) -> LineInfo:
    digest = entry_hash(line)
    if entry is None or not isinstance(entry.get("seq"), int):
        return LineInfo(number, offset, len(line), digest, None, None, None, UNPARSEABLE)
    kid = entry.get("key")
    kid = kid if isinstance(kid, str) else None
    if kid is not None and kid in keys.public_keys():
        valid = keys.verify(kid, signed_message(entry), str(entry.get("sig", "")))
        status = OK if valid else BAD_SIG
    elif kid is not None and kid in replaced:
        status = REPLACED_KEY
    else:
        status = UNKNOWN_KEY
    prev = entry.get("prev")
    return LineInfo(
        number,
        offset,
        len(line),
        digest,
        entry["seq"],
        prev if isinstance(prev, str) else None,
        kid,
        status,
    )


def _vouched_hashes(
    lines: list[LineInfo], head_seq: int, head_hash: str
) -> tuple[dict[int, str], set[int]]:
    """The hash each slot must have, as its successor (or the head file) says."""
    vouched: dict[int, str] = {}
    # Entries with a valid signature speak first; those whose key cannot be checked
    # fill only what the signed ones leave open.
    for statuses in ((OK,), (UNKNOWN_KEY, REPLACED_KEY)):
        for info in lines:
            if info.status in statuses and info.seq and info.seq >= 2 and info.prev:
                vouched.setdefault(info.seq - 1, info.prev)
    head_only = set()
    if head_seq > 0 and head_seq not in vouched:
        vouched[head_seq] = head_hash
        head_only.add(head_seq)
    return vouched, head_only


def _place(
    lines: list[LineInfo], vouched: dict[int, str], head_only: set[int]
) -> tuple[dict[int, LineInfo], list[tuple[LineInfo, str]]]:
    """Give each slot its line; return the slots and the lines left over with why."""
    by_hash = {h: s for s, h in vouched.items()}
    candidates: dict[int, list[LineInfo]] = {}
    strays: list[tuple[LineInfo, str]] = []
    for info in lines:
        slot = by_hash.get(info.digest)
        if slot is not None and slot in head_only and not info.vouches:
            # Only the (unsigned) head file vouches for it, and its signature fails:
            # a forged entry appended with the head rewritten to match.
            strays.append((info, FORGED_TAIL))
        elif slot is not None:
            candidates.setdefault(slot, []).append(info)
        elif info.seq is not None and info.seq not in vouched and info.vouches:
            candidates.setdefault(info.seq, []).append(info)
        else:
            strays.append((info, _why(info, vouched)))
    genuine: dict[int, LineInfo] = {}
    numbers = {info.number: slot for slot, infos in candidates.items() for info in infos}
    for slot, infos in candidates.items():
        # A copied line: keep the copy that follows its predecessor.
        chosen = next((i for i in infos if numbers.get(i.number - 1) == slot - 1), infos[0])
        genuine[slot] = chosen
        strays.extend((i, f"copy of entry {slot}") for i in infos if i is not chosen)
    strays.sort(key=lambda pair: pair[0].number)
    return genuine, strays


def _why(info: LineInfo, vouched: dict[int, str]) -> str:
    if info.status == UNPARSEABLE:
        return "not a JSON entry"
    if info.status == BAD_SIG:
        return "its signature does not match its content"
    if info.status == UNKNOWN_KEY:
        return f"signed by unpublished key {info.key}"
    if info.status == REPLACED_KEY:
        return f"signed by key {info.key}, whose public key file was replaced"
    return "validly signed but not the entry the chain recorded (re-signed)"


def _runs(numbers: list[int]) -> Iterator[tuple[int, int]]:
    """Consecutive runs ``(first, last)`` of sorted numbers."""
    start = prev = None
    for n in numbers:
        if start is None:
            start = prev = n
        elif n == prev + 1:
            prev = n
        else:
            yield start, prev
            start = prev = n
    if start is not None:
        yield start, prev


def _entry_problems(
    genuine: dict[int, LineInfo], replaced: dict[str, str | None]
) -> Iterator[Problem]:
    """Sequence, chain and signature problems of the lines in their right slots."""
    unknown: dict[str, list[int]] = {}
    by_replaced: Counter[str] = Counter()
    for slot in sorted(genuine):
        info = genuine[slot]
        if info.seq != slot:
            yield SequenceError(
                f"line {info.number} has seq {info.seq}, expected {slot}",
                line=info.number,
                expected_seq=slot,
                found_seq=info.seq,
            )
        before = GENESIS if slot == 1 else getattr(genuine.get(slot - 1), "digest", None)
        if before is not None and info.prev != before:
            yield BrokenChain(f"entry {slot}", seq=slot)
        if info.status == BAD_SIG:
            yield BadSignature(f"entry {slot}", seq=slot, key=info.key)
        elif info.status == UNKNOWN_KEY:
            unknown.setdefault(str(info.key), []).append(slot)
        elif info.status == REPLACED_KEY:
            by_replaced[str(info.key)] += 1
    for kid, seqs in unknown.items():
        more = f" and {len(seqs) - 1} more" if len(seqs) > 1 else ""
        yield UnknownKey(f"entry {seqs[0]}{more}, key {kid}", seq=seqs[0], key=kid)
    for kid, found in replaced.items():
        holds = f"a key with id {found}" if found else "no Ed25519 key"
        n = by_replaced[kid]
        yield ReplacedKey(
            f"keys/public/{kid}.pem holds {holds}; {n} entries signed by {kid} cannot be checked",
            key=kid,
            found=found,
            entries=n,
        )
