"""fer_core's own imports: no cycles, and dependencies point one way between its layers; and its
shape: no folder of more than 15 modules, no module over 450 lines, no page over 300.

Read from the source with ``ast`` (every import, also those inside functions), so the check
needs no import of the code and sees lazy imports too. Imports under ``if TYPE_CHECKING:`` are
left out: they name types for annotations and never run (import-linter's
``exclude_type_checking_imports``), which lets ``media`` annotate an ``Answerer`` that the layer
above it defines.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO_ROOT

PACKAGE = REPO_ROOT / "fer_core"
# Lower layers never import higher ones (fer_core/__init__.py says the same in words).
LAYERS = [
    ("fer_core.labels", "fer_core.errors", "fer_core.options", "fer_core.fileio", "fer_core.settings",
     "fer_core.charts", "fer_core.run_files"),
    ("fer_core.faces",),
    ("fer_core.data",),
    ("fer_core.models",),
    ("fer_core.runtime",),
    ("fer_core.media",),
    ("fer_core.evaluation", "fer_core.export"),
    ("fer_core.answering",),
    ("fer_core.cluster",),
    ("fer_core.runs",),
    ("fer_core.training",),
    ("fer_core.app", "fer_core.serve"),
    ("fer_core.cli", "fer_core.__main__", "fer_core"),
]
MAX_MODULES_PER_FOLDER = 15
MAX_MODULE_LINES = 450
MAX_PAGE_LINES = 300


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Module -> the fer_core modules it imports (``from pkg import submodule`` counts as the submodule)."""
    modules = {module_name(p): p for p in package.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        type_only = {id(n) for block in ast.walk(tree) if _is_type_checking_block(block)
                     for stmt in block.body for n in ast.walk(stmt)}
        for node in ast.walk(tree):
            if id(node) in type_only:
                continue
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module
                           for alias in node.names]
            graph[name] |= {t for t in targets if t in modules and t != name}
    return graph


def _is_type_checking_block(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING"
                                         or isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


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


def test_an_upward_import_counts_unless_it_only_names_a_type(tmp_path):
    package = tmp_path / "fer_core"
    (package / "low").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "low" / "__init__.py").write_text("")
    (package / "high.py").write_text("X = 1\n")
    (package / "low" / "typed.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                              "    from fer_core.high import X\n")
    (package / "low" / "runs.py").write_text("def f():\n    from fer_core.high import X\n")
    import tests.test_layout as me

    original = me.REPO_ROOT
    me.REPO_ROOT = tmp_path
    try:
        graph = import_graph(package)
    finally:
        me.REPO_ROOT = original
    assert graph["fer_core.low.typed"] == set() and graph["fer_core.low.runs"] == {"fer_core.high"}


def test_each_package_says_what_lives_there_and_what_it_may_import():
    for init in PACKAGE.rglob("__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        if init.parent.name in ("readers",):  # a folder of one kind of module inside data
            continue
        assert doc and ("May import" in doc or init.parent == PACKAGE), init


def test_no_folder_holds_too_many_modules_and_no_module_or_page_is_too_long():
    folders = {p.parent for p in PACKAGE.rglob("*.py")}
    crowded = {str(f.relative_to(REPO_ROOT)): n for f in folders
               if (n := len([p for p in f.glob("*.py") if p.name != "__init__.py"])) > MAX_MODULES_PER_FOLDER}
    assert crowded == {}
    long_modules = {str(p.relative_to(REPO_ROOT)): n for p in PACKAGE.rglob("*.py")
                    if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    assert long_modules == {}
    long_pages = {p.name: n for p in (REPO_ROOT / "pages").glob("*.py") if (n := len(p.read_text().splitlines())) > MAX_PAGE_LINES}
    assert long_pages == {}
