"""Layering, checked over the source with ``ast`` (every import, module level or lazy; those
under ``if TYPE_CHECKING:`` are annotations only and do not count):

* no import cycle between modules of ``uts``;
* ``uts.ontology`` imports nothing else of ``uts`` (everything builds on it);
* no library module imports ``uts.cli`` (the CLI only parses and prints);
* an import inside a function says why it is lazy (``# lazy: ...`` on its line, or directly
  above it or above the run of imports it belongs to), so lazy imports cannot regrow silently.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

PKG = Path(__file__).resolve().parents[1] / "uts"


def _module(path: Path) -> str:
    parts = path.relative_to(PKG.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The ``uts`` modules ``path`` imports (``from .x import y`` resolved; a name that is a
    submodule counts as that submodule)."""
    name = _module(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for block in ast.walk(tree):  # `if TYPE_CHECKING:` imports never run: not a dependency
        if isinstance(block, ast.If) and ast.unparse(block.test).endswith("TYPE_CHECKING"):
            block.body = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        out.update(t for t in targets if t in modules and t != name)
    return out


def _graph() -> nx.DiGraph:
    files = sorted(PKG.rglob("*.py"))
    modules = {_module(f) for f in files}
    g = nx.DiGraph()
    g.add_nodes_from(modules)
    for f in files:
        g.add_edges_from((_module(f), t) for t in _imports(f, modules))
    return g


def _package_edges(g: nx.DiGraph) -> nx.DiGraph:
    """Edges between modules, without a package's own ``__init__`` re-exports (importing a
    package's name from its ``__init__`` is not a dependency of the package on itself)."""
    return nx.DiGraph((a, b) for a, b in g.edges if not b == a.rpartition(".")[0])


def test_no_import_cycles():
    cycles = list(nx.simple_cycles(_package_edges(_graph())))
    assert not cycles, f"import cycles: {cycles[:5]}"


def test_ontology_imports_nothing_else_of_uts():
    bad = [(a, b) for a, b in _graph().edges
           if a.startswith("uts.ontology") and not b.startswith("uts.ontology") and b != "uts"]
    assert not bad, bad


def test_library_never_imports_the_cli():
    bad = [(a, b) for a, b in _graph().edges
           if not a.startswith("uts.cli") and b.startswith("uts.cli")]
    assert not bad, bad


def test_the_check_sees_a_cycle(tmp_path, monkeypatch):
    """The checker itself works: a planted cycle is found."""
    pkg = tmp_path / "uts"
    (pkg / "a").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a" / "__init__.py").write_text("")
    (pkg / "a" / "x.py").write_text("from . import y\n")
    (pkg / "a" / "y.py").write_text("def f():\n    from uts.a.x import g\n")
    monkeypatch.setattr(__import__(__name__), "PKG", pkg)
    assert list(nx.simple_cycles(_package_edges(_graph())))


def test_the_cli_holds_at_most_ten_loops():
    """The CLI parses and prints; loops mean logic that belongs in the library."""
    loops = (ast.For, ast.While, ast.AsyncFor, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
    found = [f"{p.name}:{n.lineno}" for p in sorted((PKG / "cli").glob("*.py"))
             for n in ast.walk(ast.parse(p.read_text(encoding="utf-8"))) if isinstance(n, loops)]
    assert len(found) <= 10, found


def _unexplained_lazy_imports(path: Path) -> list[str]:
    """Imports inside functions with no ``# lazy:`` comment on their lines, on the line directly
    above them or above the run of import statements they belong to, or on the comment lines
    over that."""
    lines = path.read_text(encoding="utf-8").splitlines()

    def explained(first: int, last: int) -> bool:  # 1-based line numbers of the run
        if any("# lazy:" in lines[i - 1] for i in range(first, last + 1)):
            return True
        i = first - 1  # the line above (`try:  # lazy: ...` too), then the comment lines above that
        while i >= 1 and (i == first - 1 or lines[i - 1].strip().startswith("#")):
            if "# lazy:" in lines[i - 1]:
                return True
            i -= 1
        return False

    found = []
    for fn in ast.walk(ast.parse("\n".join(lines))):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for block in ast.walk(fn):
            for field in ("body", "orelse", "finalbody", "handlers"):
                stmts = getattr(block, field, None)
                if not isinstance(stmts, list):
                    continue
                run_start = None
                for s in stmts:
                    if not isinstance(s, (ast.Import, ast.ImportFrom)):
                        run_start = None
                        continue
                    run_start = run_start or s
                    if not (explained(s.lineno, s.end_lineno) or explained(run_start.lineno, s.end_lineno)):
                        found.append(f"{path.name}:{s.lineno}: {ast.unparse(s)}")
    return sorted(set(found))


def test_every_lazy_import_says_why():
    """Imports belong at the top of a module; one inside a function (an optional or heavy
    dependency kept off ``uts --help``) carries ``# lazy: <why>``."""
    found = [f"{p.parent.relative_to(PKG.parent)}/{f}" for p in sorted(PKG.rglob("*.py"))
             for f in _unexplained_lazy_imports(p)]
    assert not found, "imports inside functions without a '# lazy: <why>' comment:\n" + "\n".join(found)


def test_the_lazy_check_sees_an_unexplained_import(tmp_path):
    """The checker itself works: only the unexplained imports of a planted module are reported."""
    src = tmp_path / "m.py"
    src.write_text(
        "import json\n"
        "def a():\n"
        "    import torch  # lazy: heavy\n"
        "def b():\n"
        "    # lazy: heavy, and the comment covers the whole run below it\n"
        "    import torch\n"
        "    from transformers import (\n"
        "        AutoModel,\n"
        "    )\n"
        "def c():\n"
        "    x = 1\n"
        "    import numpy\n"
        "    if x:\n"
        "        from . import sibling\n"
        "    class K:\n"
        "        def m(self):\n"
        "            import yaml  # not lazy: a plain comment\n"
        "def d():\n"
        "    # lazy: explains only the run right below it\n"
        "    import scipy\n"
        "    y = 2\n"
        "    import polars\n"
        "def e():\n"
        "    try:  # lazy: the line above counts too\n"
        "        import vllm\n"
        "    except ImportError:\n"
        "        pass\n")
    assert _unexplained_lazy_imports(src) == [
        "m.py:12: import numpy", "m.py:14: from . import sibling", "m.py:17: import yaml",
        "m.py:22: import polars"]
