"""The log diagnosis over random tampering: one operation is named exactly, several are
never missed and never crash it."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry import Registry
from registry.core import init_registry
from registry.custody.chain import analyse

N = 24


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes, bytes]:
    root = tmp_path_factory.mktemp("chain") / "reg"
    reg = init_registry(str(root), actor="alice")
    with reg.writing("alice"):
        reg.record(
            [
                {"actor": "alice", "action": "test.event", "details": {"n": i, "text": "é" * i}}
                for i in range(N - 1)
            ]
        )
        reg.save()
    return root, Path(reg.log.path).read_bytes(), Path(reg.log.head_path).read_bytes()


def diagnose(root: Path, log: bytes, head: bytes) -> list:
    reg = Registry.open(str(root))
    Path(reg.log.path).write_bytes(log)
    Path(reg.log.head_path).write_bytes(head)
    return analyse(reg.log, reg.keys).problems


def _edit(lines: list[bytes], index: int, at: int, char: int) -> list[bytes]:
    line = bytearray(lines[index])
    at %= len(line)
    if line[at] == char:
        char = char + 1 if char < 126 else 33
    line[at] = char
    return [*lines[:index], bytes(line), *lines[index + 1 :]]


OPS = st.one_of(
    st.tuples(st.just("edit"), st.integers(0, N - 1), st.integers(0, 10_000), st.integers(33, 126)),
    st.tuples(st.just("delete"), st.integers(0, N - 1), st.integers(1, 4)),
    st.tuples(st.just("copy"), st.integers(0, N - 1), st.integers(0, N)),
    st.tuples(st.just("swap"), st.integers(0, N - 2)),
)


def apply(lines: list[bytes], op: tuple) -> list[bytes]:
    kind = op[0]
    if kind == "edit":
        return _edit(lines, op[1] % len(lines), op[2], op[3])
    if kind == "delete":
        start = op[1] % len(lines)
        return lines[:start] + lines[start + op[2] :]
    if kind == "copy":
        source = lines[op[1] % len(lines)]
        at = op[2] % (len(lines) + 1)
        return [*lines[:at], source, *lines[at:]]
    i = op[1] % (len(lines) - 1)
    if lines[i] == lines[i + 1]:
        return lines
    return [*lines[:i], lines[i + 1], lines[i], *lines[i + 2 :]]


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(op=OPS)
def test_one_tampering_is_named_exactly(template, op):
    root, log, head = template
    lines = log.splitlines()
    changed = apply(lines, op)
    found = diagnose(root, b"".join(x + b"\n" for x in changed), head)
    kinds = [p.code for p in found]
    if op[0] == "edit":
        assert kinds == ["EditedEntry"] and found[0].seq == op[1] + 1, found
    elif op[0] == "delete":
        start, count = op[1], min(op[2], N - op[1])
        if start + count == N:
            assert kinds == ["TruncatedLog"] and found[0].log_seq == start, found
        else:
            assert kinds == ["DeletedEntries"], found
            assert (found[0].first_seq, found[0].last_seq) == (start + 1, start + count)
    elif op[0] == "copy":
        assert kinds == ["InsertedEntry"], found
        assert found[0].reason == f"copy of entry {op[1] + 1}"
    else:
        assert kinds == ["ReorderedEntries"], found
        assert found[0].seqs == [op[1] + 2, op[1] + 1]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=st.lists(OPS, min_size=2, max_size=4))
def test_several_tamperings_are_never_missed(template, ops):
    root, log, head = template
    lines = log.splitlines()
    changed = lines
    for op in ops:
        if len(changed) < 3:
            break
        changed = apply(changed, op)
    if changed == lines:
        return
    found = diagnose(root, b"".join(x + b"\n" for x in changed), head)
    assert found, ops


def test_an_intact_log_has_no_problem(template):
    root, log, head = template
    assert diagnose(root, log, head) == []
