"""The import graph, read from the source (``ast``, nothing imported): the layers import
only downward, the results side reads run directories without the run side, and the
experiments modules import without a circle (CONTRIBUTING.md "Layers";
``experiments/__init__.py`` says where the run side ends and the results side begins).

Every import counts, including those inside functions and under ``TYPE_CHECKING``: a lazy
import is still a dependency, and a circle broken only by import order breaks again on
the next refactor.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("envs", "teachers", "students", "experiments")  # each may import only those before it
RUN_SIDE = "experiments.running"
RESULTS_SIDE = "experiments.reporting"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {}
    for top in LAYERS:
        for path in sorted((ROOT / top).rglob("*.py")):
            found[_module_name(path)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The absolute names ``path`` imports (``from a.b import c`` gives ``a.b`` and, when
    ``a.b.c`` is a module of ours, ``a.b.c`` too); relative imports are made absolute."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            out.add(module)
            out.update(f"{module}.{alias.name}" for alias in node.names if f"{module}.{alias.name}" in MODULES)
    return out


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _layer(module: str) -> int | None:
    top = module.split(".")[0]
    return LAYERS.index(top) if top in LAYERS else None


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_the_graph_sees_every_layer_and_both_sides():
    """The walk found the code it polices (an empty graph would pass everything below)."""
    assert {"envs.errors", "teachers.base", "students.build", "experiments.rundir"} <= set(GRAPH)
    assert any(_within(m, RUN_SIDE) for m in GRAPH) and any(_within(m, RESULTS_SIDE) for m in GRAPH)
    assert "experiments.rundir" in GRAPH["experiments.reporting.runs"]
    assert "students.build" in GRAPH["experiments.running.run"]


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_imports_go_only_downward(module):
    """envs <- teachers <- students <- experiments: nothing imports a layer above its own."""
    own = _layer(module)
    upward = sorted(i for i in GRAPH[module] if (_layer(i) or 0) > own)
    assert not upward, f"{module} imports a higher layer: {upward}"


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if _within(m, RESULTS_SIDE)))
def test_the_results_side_never_imports_the_run_side(module):
    """The leaderboard, analysis and report read run directories (experiments.rundir,
    experiments.reporting.runs), never the runner's internals."""
    leaks = sorted(i for i in GRAPH[module] if _within(i, RUN_SIDE))
    assert not leaks, f"{module} imports the run side: {leaks}"


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module, or a self-import (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
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
            if len(component) > 1 or v in graph.get(v, ()):
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _experiments_graph() -> dict[str, set[str]]:
    """Edges between experiments modules; importing a package (``from experiments.reporting
    import analysis``) is an edge to the module named, not to the package's ``__init__``."""
    nodes = {m for m in GRAPH if _within(m, "experiments")}
    return {m: {i for i in GRAPH[m] if i in nodes and i not in ("experiments", RUN_SIDE, RESULTS_SIDE)} for m in nodes}


def test_no_import_circle_among_experiments_modules():
    assert _cycles(_experiments_graph()) == []


def test_the_cycle_finder_finds_the_circle_the_split_removed():
    """The old circle analysis -> leaderboard -> report -> analysis, and a self-import,
    are found; a chain is not."""
    old = {"analysis": {"leaderboard"}, "leaderboard": {"report"}, "report": {"analysis", "leaderboard"},
           "rundir": set()}
    assert _cycles(old) == [["analysis", "leaderboard", "report"]]
    assert _cycles({"a": {"a"}}) == [["a"]]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []
