"""The import graph of ``src/fairvision``: no cycles (function-level imports included) and layering.

Every module is parsed with ``ast``; every ``import``/``from ... import`` anywhere in it
(module level or inside a function) that names a ``fairvision`` module is an edge, resolved
to the module or package it loads.  Importing ``fairvision.a.b`` from outside package
``fairvision.a`` also runs ``fairvision/a/__init__.py``, so that is an edge too; a module
importing a sibling through its own package is not (the package is already importing).
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

#: Shared foundations: they import nothing else of fairvision.
BASE = {"fairvision", "errors", "registry", "config", "_io", "_compat", "_extras", "_progress"}
#: What each part of the package may import (besides itself): data -> models -> train -> search -> prune,
#: report (tables and figures of metrics) under train; demo and the CLI on top.
ALLOWED = {
    **{name: BASE for name in BASE},
    "data": BASE,
    "metrics": BASE,
    "models": BASE | {"data"},
    "report": BASE | {"metrics"},
    "train": BASE | {"data", "metrics", "models", "report"},
    "search": BASE | {"data", "metrics", "models", "report", "train"},
    # pruning plugs into training (fairvision.train.plugins imports it by name, like an entry point);
    # its sparsity sweeps run on the search driver
    "prune": BASE | {"data", "metrics", "models", "report", "train", "search"},
    # bias mitigation plugs into training the same way (fairvision.train.plugins imports it by name)
    "mitigate": BASE | {"data", "metrics", "models", "report", "train"},
    # the HTML report's sources (fairvision report): detect and load runs, stores, pruning studies; render via report
    "sources": BASE | {"data", "metrics", "models", "report", "train", "search", "prune", "mitigate"},
    "demo": BASE | {"data", "metrics", "models", "report", "train", "search", "prune", "mitigate", "sources"},
    "cli": BASE | {"data", "metrics", "models", "report", "train", "search", "prune", "mitigate", "demo", "sources"},
}
#: Optional dependencies of the ``search`` extra (pip install 'fairvision[search]').
SEARCH_EXTRA = ("smac", "ConfigSpace", "optuna", "dask", "distributed", "sqlalchemy", "scipy")


def find_modules(src: Path, top: str = "fairvision") -> dict[str, tuple[Path, bool]]:
    """``{dotted name: (path, is_package)}`` of every module under ``src/top``."""
    out = {}
    for path in sorted((src / top).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return out


def _imported_names(tree: ast.AST, package: str, modules: dict) -> list[str]:
    names = []
    for node in ast.walk(tree):  # every import, however deeply nested in functions
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            names += [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
    return names


def import_graph(src: Path, top: str = "fairvision") -> dict[str, set[str]]:
    """``{module: modules it imports}`` restricted to ``top``'s own modules (see the module docstring)."""
    modules = find_modules(src, top)
    graph: dict[str, set[str]] = {}
    for name, (path, is_package) in modules.items():
        package = name if is_package else name.rpartition(".")[0]
        targets: set[str] = set()
        for imported in _imported_names(ast.parse(path.read_text(), str(path)), package, modules):
            if imported.split(".")[0] != top:
                continue
            while imported not in modules:  # "fairvision.models.create_model" -> "fairvision.models"
                imported = imported.rpartition(".")[0]
            parents = [".".join(imported.split(".")[:i]) for i in range(1, imported.count(".") + 1)]
            targets |= {p for p in parents if not (name + ".").startswith(p + ".")} | {imported}
        graph[name] = targets - {name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as ``[a, b, ..., a]``, or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def part(module: str) -> str:
    """``fairvision.train.engine`` -> ``train``; ``fairvision`` -> ``fairvision``."""
    return module.split(".")[1] if "." in module else module


def test_checker_sees_cycles_hidden_in_functions(tmp_path):
    pkg = tmp_path / "demo_pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from demo_pkg.sub.a import f\n")
    (pkg / "sub" / "a.py").write_text("def f():\n    from . import b\n    return b\n")
    (pkg / "sub" / "b.py").write_text("from demo_pkg.sub.a import f\n")
    (pkg / "c.py").write_text("import demo_pkg.sub.b\n")
    graph = import_graph(tmp_path, "demo_pkg")
    assert graph["demo_pkg.sub.a"] == {"demo_pkg.sub.b"}  # the function-level relative import
    assert graph["demo_pkg.c"] == {"demo_pkg.sub", "demo_pkg.sub.b"}  # the package's __init__ runs too
    assert find_cycle(graph) == ["demo_pkg.sub.a", "demo_pkg.sub.b", "demo_pkg.sub.a"]


def test_no_import_cycles():
    cycle = find_cycle(import_graph(SRC))
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_layering():
    graph = import_graph(SRC)
    assert set(ALLOWED) == {part(m) for m in graph}, "a new part of the package: give it a place in ALLOWED"
    bad = sorted(
        f"{module} imports {target}"
        for module, targets in graph.items()
        for target in targets
        if part(target) != part(module) and part(target) not in ALLOWED[part(module)]
    )
    assert not bad, "layering violated:\n" + "\n".join(bad)


def test_core_imports_without_the_search_extra():
    """fairvision, its metrics, models, data, training, reports, demo and CLI import with the search extra's
    packages missing; the search package then fails with one line naming the pip command."""
    code = textwrap.dedent(
        f"""
        import importlib.abc, sys
        BLOCKED = {SEARCH_EXTRA!r}

        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in BLOCKED:
                    raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)

        sys.meta_path.insert(0, Block())
        import fairvision, fairvision.metrics, fairvision.models, fairvision.data, fairvision.train
        import fairvision.report, fairvision.report.plots, fairvision.report.search_plots, fairvision.demo
        import fairvision.cli
        assert not [m for m in sys.modules if m.split(".")[0] in BLOCKED]
        from fairvision._extras import require_extra
        try:
            require_extra("search")
        except ImportError as exc:
            print(exc)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines() == [
        "the search needs optional packages (missing: smac, ConfigSpace, optuna, dask, distributed, sqlalchemy, "
        "scipy): pip install 'fairvision[search]'"
    ]


@pytest.mark.parametrize("module", ["smac", "sqlalchemy"])
def test_require_extra_names_the_missing_module(monkeypatch, module):
    from fairvision._extras import require_extra
    from fairvision.errors import FairvisionError

    require_extra("search")  # installed in the test environment
    monkeypatch.setitem(sys.modules, module, None)  # makes the module unimportable
    with pytest.raises(FairvisionError, match=rf"missing: {module}\): pip install 'fairvision\[search\]'") as info:
        require_extra("search")
    assert isinstance(info.value, ImportError) and "\n" not in str(info.value)
