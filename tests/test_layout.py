"""fer_core's own imports: no cycles, and dependencies point one way between its layers.

Read from the source with ``ast`` (every import, also those inside functions), so the check
needs no import of the code and sees lazy imports too.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO_ROOT

PACKAGE = REPO_ROOT / "fer_core"
# Lower layers never import higher ones (fer_core/__init__.py says the same in words).
LAYERS = [
    ("fer_core.labels", "fer_core.errors", "fer_core.options", "fer_core.fileio", "fer_core.settings",
     "fer_core.charts"),
    ("fer_core.data",),
    ("fer_core.models",),
    ("fer_core.inference",),
    ("fer_core.training",),
    ("fer_core.app", "fer_core.serve"),
    ("fer_core.cli", "fer_core.__main__", "fer_core"),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Module -> the fer_core modules it imports (``from pkg import submodule`` counts as the submodule)."""
    modules = {module_name(p): p for p in package.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module
                           for alias in node.names]
            graph[name] |= {t for t in targets if t in modules and t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def layer(module: str) -> int:
    for rank, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes if p != "fer_core") or module == "fer_core" \
                and "fer_core" in prefixes:
            return rank
    raise AssertionError(f"{module} belongs to no layer: add it to LAYERS")


def test_no_import_cycles_inside_fer_core():
    assert cycles(import_graph()) == []


def test_dependencies_point_down_the_layers():
    upward = sorted(f"{a} -> {b}" for a, targets in import_graph().items() for b in targets if layer(b) > layer(a))
    assert upward == []


def test_the_cycle_finder_finds_a_planted_cycle(tmp_path):
    package = tmp_path / "fer_core"
    (package / "a").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "a" / "__init__.py").write_text("")
    (package / "a" / "x.py").write_text("def f():\n    from fer_core.b import g\n")
    (package / "b.py").write_text("from fer_core.a import x\n")
    import tests.test_layout as me

    original = me.REPO_ROOT
    me.REPO_ROOT = tmp_path
    try:
        assert cycles(import_graph(package)) == [["fer_core.a.x", "fer_core.b"]]
    finally:
        me.REPO_ROOT = original
