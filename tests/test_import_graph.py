"""The ``ecom_tasks`` package has no import cycles.

The graph is built statically with ``ast`` from every module's source, so it needs none of the
heavy dependencies and sees imports that a test run never executes. It counts every import of an
``ecom_tasks`` module wherever it is written: at module top, inside functions (lazy imports) and
under ``if TYPE_CHECKING:``. A lazy or type-only import never fails at import time, but it still
ties the two modules together: a cycle through one is a seam in the wrong place, and it turns into
an ImportError the day someone hoists the import to the top. Counting them is the strict choice.

Edges: ``import a.b.c`` and ``from a.b import c`` (``c`` a module) point at ``a.b.c``;
``from a.b import name`` (``name`` not a module) points at ``a.b``. That Python also runs the
parent packages' ``__init__`` files is not an edge: every submodule would then sit in a cycle with
a package that re-exports it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import ecom_tasks

PACKAGE = "ecom_tasks"


def module_files(package_dir: Path, package: str = PACKAGE) -> dict[str, tuple[Path, bool]]:
    """``{dotted module name: (file, is_package)}`` for every ``.py`` file under ``package_dir``."""
    out = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = [package, *path.relative_to(package_dir).with_suffix("").parts]
        is_package = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return out


def imported_modules(source: str, module: str, is_package: bool, known: Iterable[str]) -> set[str]:
    """The modules of ``known`` that ``source`` (the text of ``module``) imports, anywhere in it."""
    known = set(known)
    # What a relative import of level 1 is relative to: the package itself, or the module's package.
    here = module.split(".") if is_package else module.split(".")[:-1]

    def resolve(name: str) -> str | None:
        while name and name not in known:  # a name inside a module: the module it comes from
            name = name.rpartition(".")[0]
        return name or None

    found: set[str | None] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(resolve(alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(here[: len(here) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in known else resolve(base))
    return {m for m in found if m is not None and m != module}


def import_graph(package_dir: Path, package: str = PACKAGE) -> dict[str, set[str]]:
    """``{module: modules of the package it imports}`` for every module of the package."""
    files = module_files(package_dir, package)
    return {
        name: imported_modules(path.read_text(encoding="utf-8"), name, is_package, files)
        for name, (path, is_package) in files.items()
    }


def find_cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """One cycle per strongly connected component that has one, as ``[a, b, ..., a]``.

    Tarjan's algorithm finds the components (iteratively: no recursion limit); within each, a
    breadth-first search from its smallest module back to itself gives a shortest cycle to print.
    """
    edges = {v: sorted(set(ws)) for v, ws in graph.items()}
    for ws in list(edges.values()):
        for w in ws:
            edges.setdefault(w, [])
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, 0)]
        while work:
            v, i = work.pop()
            if i == 0:
                index[v] = low[v] = len(index)
                stack.append(v)
                on_stack.add(v)
            if i < len(edges[v]):
                work.append((v, i + 1))
                w = edges[v][i]
                if w not in index:
                    work.append((w, 0))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == v:
                        break
                if len(component) > 1 or v in edges[v]:
                    components.append(component)
            if work:  # v is done: its caller inherits its low link
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
    return [_shortest_cycle(edges, set(c)) for c in components]


def _shortest_cycle(edges: Mapping[str, list[str]], component: set[str]) -> list[str]:
    start = min(component)
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in edges[v]:
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [start, *reversed(path[:-1]), start] if v != start else [start, start]
                if w in component and w not in came_from:
                    came_from[w] = v
                    nxt.append(w)
        frontier = nxt
    raise AssertionError(f"no cycle through {start} in its own component")  # pragma: no cover


def test_find_cycles_finds_a_cycle_and_only_cycles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"d"}, "s": {"s"}}
    assert find_cycles(graph) == [["a", "b", "c", "a"], ["s", "s"]]
    assert find_cycles({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []  # a diamond is no cycle


def test_imports_are_resolved_relative_lazy_and_type_only() -> None:
    known = {"p", "p.a", "p.sub", "p.sub.b", "p.sub.c", "p.d"}
    source = (
        "import os\n"
        "from typing import TYPE_CHECKING\n"
        "from . import c\n"
        "from .. import d\n"
        "from p.a import thing\n"
        "if TYPE_CHECKING:\n"
        "    from p import sub\n"
        "def f():\n"
        "    import p.d.inner\n"
    )
    assert imported_modules(source, "p.sub.b", False, known) == {"p.sub.c", "p.d", "p.a", "p.sub"}
    assert imported_modules("from .b import x\nfrom . import c", "p.sub", True, known) == {
        "p.sub.b",
        "p.sub.c",
    }


def test_a_cycle_in_a_package_on_disk_is_reported(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from pkg.sub.x import X\n")
    (pkg / "sub" / "x.py").write_text("from pkg.sub import y\nX = 1\n")
    (pkg / "sub" / "y.py").write_text("def f():\n    from .x import X\n    return X\n")
    assert find_cycles(import_graph(pkg, "pkg")) == [["pkg.sub.x", "pkg.sub.y", "pkg.sub.x"]]


def test_ecom_tasks_has_no_import_cycle() -> None:
    graph = import_graph(Path(ecom_tasks.__file__).parent)
    assert len(graph) > 50 and any(graph.values())  # the walk found the package and its imports
    cycles = find_cycles(graph)
    assert not cycles, "import cycles in ecom_tasks:\n" + "\n".join(" -> ".join(c) for c in cycles)
