"""Import boundaries of docs/architecture.md, read from the source with ast (nothing is imported).

- cost_models/ and search_spaces/ import neither torch, Optuna nor dse (anywhere in a file,
  inside functions too): they take a Candidate and plain numbers, so they stay light and testable;
- nothing outside dse/cli/ imports dse.cli (the CLI sits on top; tests may import it);
- no import cycle among dse, cost_models and search_spaces, imports inside functions included;
- dse/ itself holds at most a handful of modules: the rest lives in its subpackages.

Every failure names the importing module, its file and line, and the import statement.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ("dse", "cost_models", "search_spaces")  # the packages whose modules form the import graph
PURE = ("cost_models", "search_spaces")
FORBIDDEN_IN_PURE = ("torch", "optuna", "dse")
CLI = "dse.cli"
CLI_CHECKED = ("dse", "cost_models", "search_spaces", "benchmarks")
MAX_MODULES_DIRECTLY_IN_DSE = 8


@dataclass(frozen=True)
class Import:
    """One imported name of one import statement (or importlib.import_module / __import__ call)."""

    importer: str  # dotted name of the module holding the statement
    path: Path
    lineno: int
    statement: str  # the statement's source text, on one line
    module: str  # what it imports: a project module when the name is one, else the dotted name as written
    type_checking: bool  # under `if TYPE_CHECKING:` (never runs; left out of the cycle graph only)

    def where(self) -> str:
        return f"{_shown_path(self.path)}:{self.lineno}: {self.statement}"


def _shown_path(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def python_files(root: Path, top: str) -> list[Path]:
    folder = root / top
    return sorted(p for p in folder.rglob("*.py")
                  if not any(part == "__pycache__" or part.startswith(".") for part in p.relative_to(root).parts))


def project_modules(root: Path, packages: tuple[str, ...] = PROJECT) -> dict[str, Path]:
    return {module_name(p, root): p for top in packages for p in python_files(root, top)}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _dynamic_import(node: ast.Call) -> str | None:
    """The module of importlib.import_module("x.y") / __import__("x.y") with a literal, absolute name."""
    func = node.func
    called = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
    if called not in ("import_module", "__import__") or not node.args:
        return None
    first = node.args[0]
    if isinstance(first, ast.Constant) and isinstance(first.value, str) and not first.value.startswith("."):
        return first.value
    return None


def imports_of(path: Path, root: Path, modules: dict[str, Path]) -> list[Import]:
    """Every import in the file, at any depth (functions, classes, try/if blocks)."""
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source, filename=str(path))
    lines = source.splitlines()
    importer = module_name(path, root)
    package = importer if path.name == "__init__.py" else importer.rpartition(".")[0]
    found: list[Import] = []

    def text(node: ast.stmt | ast.expr) -> str:
        segment = ast.get_source_segment(source, node) or lines[node.lineno - 1]
        return " ".join(segment.split())

    def add(node: ast.AST, module: str, type_checking: bool) -> None:
        found.append(Import(importer, path, node.lineno, text(node), module, type_checking))

    def visit(node: ast.AST, type_checking: bool) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(node, alias.name, type_checking)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".") if package else []
                base_parts = base_parts[: len(base_parts) - (node.level - 1)] if node.level > 1 else base_parts
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            if base == "__future__":
                return
            for alias in node.names:
                submodule = f"{base}.{alias.name}" if base else alias.name
                add(node, submodule if submodule in modules else base, type_checking)
        elif isinstance(node, ast.Call):
            dynamic = _dynamic_import(node)
            if dynamic:
                add(node, dynamic, type_checking)
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, True)
            for child in node.orelse:
                visit(child, type_checking)
            visit(node.test, type_checking)
            return
        for child in ast.iter_child_nodes(node):
            visit(child, type_checking)

    visit(tree, False)
    return found


def project_module_of(name: str, modules: dict[str, Path]) -> str | None:
    """The project module an imported name lands in: the longest module prefix (a.b.C -> a.b)."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def import_graph(root: Path, packages: tuple[str, ...] = PROJECT) -> dict[str, dict[str, list[Import]]]:
    """importer -> imported project module -> the imports making that edge.

    Python imports a module's parent packages first (dse.search.runner implies dse.search and dse):
    those implicit edges are not counted, and neither is a module's import of a package it lives in
    (that __init__ is already running or done when the module is imported).
    """
    modules = project_modules(root, packages)
    graph: dict[str, dict[str, list[Import]]] = {name: defaultdict(list) for name in modules}
    for name, path in modules.items():
        for imp in imports_of(path, root, modules):
            target = project_module_of(imp.module, modules)
            if imp.type_checking or target is None or target == name or name.startswith(target + "."):
                continue
            graph[name][target].append(imp)
    return graph


def strongly_connected(graph: dict[str, dict[str, list[Import]]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one module, each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
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
                components.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return sorted(components)


def shortest_cycle(graph: dict[str, dict[str, list[Import]]], component: list[str]) -> list[str]:
    """A shortest cycle through the component's first module, staying inside the component."""
    members = set(component)
    start = component[0]
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for v in frontier:
            for w in sorted(graph[v]):
                if w not in members:
                    continue
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if w not in previous:
                    previous[w] = v
                    following.append(w)
        frontier = following
    return [start]


def describe_cycles(graph: dict[str, dict[str, list[Import]]]) -> list[str]:
    out = []
    for component in strongly_connected(graph):
        members = set(component)
        lines = [f"import cycle among {len(component)} modules: {', '.join(component)}",
                 f"  e.g. {' -> '.join(shortest_cycle(graph, component))}"]
        for importer in component:
            for target in sorted(graph[importer]):
                if target in members:
                    for where in dict.fromkeys(imp.where() for imp in graph[importer][target]):
                        lines.append(f"  {importer} imports {target} at {where}")
        out.append("\n".join(lines))
    return out


# ---------------------------------------------------------------- the rules on this repository


def test_the_scan_sees_the_project():
    modules = project_modules(ROOT)
    assert {"dse", "dse.search.runner", "cost_models.report", "search_spaces.space"} <= set(modules)
    graph = import_graph(ROOT)
    assert "search_spaces.candidate" in graph["dse.search.runner"]  # a known edge: the scan reads imports


@pytest.mark.parametrize("package", PURE)
def test_pure_packages_import_neither_torch_optuna_nor_dse(package):
    modules = project_modules(ROOT)
    offending = [
        f"{imp.importer} imports {imp.module} at {imp.where()}"
        for path in python_files(ROOT, package)
        for imp in imports_of(path, ROOT, modules)
        if imp.module.split(".")[0] in FORBIDDEN_IN_PURE
    ]
    if offending:
        pytest.fail(f"{package}/ may not import {', '.join(FORBIDDEN_IN_PURE)} (docs/architecture.md, Boundaries):\n"
                    + "\n".join(offending), pytrace=False)


def test_nothing_outside_the_cli_imports_it():
    modules = project_modules(ROOT)
    offending = [
        f"{imp.importer} imports {imp.module} at {imp.where()}"
        for top in CLI_CHECKED
        for path in python_files(ROOT, top)
        if not (module_name(path, ROOT) == CLI or module_name(path, ROOT).startswith(CLI + "."))
        for imp in imports_of(path, ROOT, modules)
        if imp.module == CLI or imp.module.startswith(CLI + ".")
    ]
    if offending:
        pytest.fail("only dse/cli/ (and tests) may import dse.cli; the CLI sits on the library:\n"
                    + "\n".join(offending), pytrace=False)


def test_no_import_cycles_among_project_modules():
    cycles = describe_cycles(import_graph(ROOT))
    if cycles:
        pytest.fail(f"{len(cycles)} import cycle(s), imports inside functions counted:\n" + "\n".join(cycles),
                    pytrace=False)


def test_dse_keeps_its_modules_in_subpackages():
    direct = sorted(p.name for p in (ROOT / "dse").glob("*.py"))
    if len(direct) > MAX_MODULES_DIRECTLY_IN_DSE:
        pytest.fail(f"dse/ holds {len(direct)} modules directly, at most {MAX_MODULES_DIRECTLY_IN_DSE}: "
                    f"{', '.join(direct)}; move them into a subpackage (docs/architecture.md)", pytrace=False)


# ---------------------------------------------------------------- the scanner on a made-up project


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_scanner_finds_cycles_through_function_imports_and_from_imports(tmp_path):
    _write(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/sub/__init__.py": "from pkg.sub import a\n",  # package -> submodule: counted
        "pkg/sub/a.py": "import pkg.sub\nfrom pkg import sub\n\ndef f():\n    from ..b import thing\n",
        "pkg/b.py": "from pkg.sub import a as _a\n",
        "pkg/c.py": "import os\nfrom typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.d\n",
        "pkg/d.py": "import pkg.c\n",
        "pkg/e.py": "import importlib\nimportlib.import_module('pkg.f')\n",
        "pkg/f.py": "def g():\n    import pkg.e\n",
    })
    graph = import_graph(tmp_path, ("pkg",))
    # a -> pkg.sub and a -> pkg are imports of its own packages: not counted; `from ..b import thing` -> pkg.b
    assert set(graph["pkg.sub.a"]) == {"pkg.b"}
    assert set(graph["pkg.sub"]) == {"pkg.sub.a"}
    assert set(graph["pkg.c"]) == set()  # TYPE_CHECKING only
    assert strongly_connected(graph) == [["pkg.b", "pkg.sub.a"], ["pkg.e", "pkg.f"]]
    text = "\n".join(describe_cycles(graph))
    assert "pkg.sub.a imports pkg.b at" in text and "a.py:5: from ..b import thing" in text
    assert "pkg.e imports pkg.f at" in text and "importlib.import_module('pkg.f')" in text
    assert shortest_cycle(graph, ["pkg.b", "pkg.sub.a"]) == ["pkg.b", "pkg.sub.a", "pkg.b"]


def test_scanner_sees_forbidden_imports_anywhere_in_a_file(tmp_path):
    _write(tmp_path, {
        "cm/__init__.py": "",
        "cm/x.py": "class K:\n    def m(self):\n        try:\n            from torch import nn\n"
                   "        except ImportError:\n            pass\n",
    })
    imports = imports_of(tmp_path / "cm" / "x.py", tmp_path, project_modules(tmp_path, ("cm",)))
    assert [(i.module, i.lineno, i.statement) for i in imports] == [("torch", 4, "from torch import nn")]
