"""The house rules of the code base (docs/architecture.md), checked from the source so
that they cannot quietly come back: ``ingest`` imports nothing from ``registry``; no
import cycle anywhere (imports inside functions and under TYPE_CHECKING count);
``registry.similarity`` imports nothing from the store, the custody log, ``core`` or the
CLI; at most 12 modules at the top of ``registry/``; no module over 500 lines and no
function over 120; every wing's ``__init__`` states its public names in ``__all__``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("ingest", "registry")
WINGS = (
    "ingest",
    "ingest.photo",
    "ingest.video",
    "registry",
    "registry.store",
    "registry.custody",
    "registry.similarity",
    "registry.export",
    "registry.cli",
    "registry.accounts",
    "registry.server",
)
SIMILARITY_MAY_NOT_IMPORT = ("registry.store", "registry.custody", "registry.core", "registry.cli")


def _modules() -> dict[str, Path]:
    mods = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            rel = path.relative_to(ROOT).with_suffix("")
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            mods[".".join(parts)] = path
    return mods


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Every module of ours that ``name`` imports, wherever the import statement is."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            candidates = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join([*parts, base] if base else parts)
            candidates = [base, *(f"{base}.{a.name}" for a in node.names)]
        else:
            continue
        for candidate in candidates:
            while candidate and candidate not in MODULES:
                candidate = candidate.rpartition(".")[0]
            if candidate and candidate != name:
                found.add(candidate)
    return found


GRAPH = {
    name: {d for d in _imports(name, path) if not d.startswith(name + ".")}
    for name, path in MODULES.items()
}


def test_the_checker_sees_the_code() -> None:
    assert {"registry.core", "registry.similarity.photo", "ingest.extraction"} <= set(MODULES)
    assert {"registry.ingesting", "registry.custody"} <= GRAPH["registry.core"]
    assert "ingest.extraction" in GRAPH["ingest.batch"]


def test_ingest_imports_nothing_from_registry() -> None:
    bad = sorted(
        f"{name} imports {dep}"
        for name, deps in GRAPH.items()
        if name.startswith("ingest")
        for dep in deps
        if dep.startswith("registry")
    )
    assert bad == []


def test_no_import_cycles() -> None:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    assert cycles == []


def test_similarity_stays_out_of_store_custody_core_and_cli() -> None:
    bad = sorted(
        f"{name} imports {dep}"
        for name, deps in GRAPH.items()
        if name.startswith("registry.similarity")
        for dep in deps
        if dep.startswith(SIMILARITY_MAY_NOT_IMPORT)
    )
    assert bad == []


def test_registry_keeps_at_most_twelve_top_level_modules() -> None:
    top = [
        p.name
        for p in (ROOT / "registry").glob("*.py")
        if p.name not in ("__init__.py", "__main__.py")
    ]
    assert len(top) <= 12, sorted(top)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_and_functions_stay_small(name: str) -> None:
    path = MODULES[name]
    text = path.read_text()
    assert text.count("\n") + 1 <= 500, f"{path} has {text.count(chr(10)) + 1} lines"
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            assert length <= 120, f"{path}:{node.lineno} {node.name}() is {length} lines"


@pytest.mark.parametrize("wing", WINGS)
def test_every_wing_states_its_public_face(wing: str) -> None:
    tree = ast.parse(MODULES[wing].read_text())
    names = [
        t.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for t in node.targets
        if isinstance(t, ast.Name)
    ]
    assert "__all__" in names, f"{wing}/__init__.py has no __all__"
