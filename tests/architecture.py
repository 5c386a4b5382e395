"""The import graph of planner, read from the source with `ast` (nothing is imported or run).

Every import of a planner module counts, wherever it is written (at the top of a file or inside a
function: both run, and both tie the two modules together); only imports under ``if TYPE_CHECKING:``
are left out (type checkers read them, Python never runs them). ``from planner.x import name``
imports the submodule ``planner.x.name`` when there is one, else the module ``planner.x``. Importing
``planner.x.y`` also runs ``planner/x/__init__.py``; that implicit edge is not counted (it holds for
every submodule alike and would tie each package's ``__init__`` to its re-exported modules).

Run ``python3 tests/architecture.py`` to print the cycles (strongly connected components with more
than one module) and the edges that hold them together, or ``--edges`` for the whole graph.
tests/test_architecture.py checks the graph against the table in docs/architecture.md.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIR = ROOT / "planner"

Graph = Mapping[str, frozenset[str]]


def module_name(path: Path, package_dir: Path = PACKAGE_DIR) -> str:
    """``planner/x/y.py`` -> ``planner.x.y``; ``planner/x/__init__.py`` -> ``planner.x``."""
    parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files(package_dir: Path = PACKAGE_DIR) -> dict[str, Path]:
    """Module name -> its file, for every ``.py`` file of the package."""
    return {module_name(p, package_dir): p for p in sorted(package_dir.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    """``TYPE_CHECKING``, ``typing.TYPE_CHECKING`` or an alias such as ``_TYPE_CHECKING``."""
    name = test.attr if isinstance(test, ast.Attribute) else test.id if isinstance(test, ast.Name) else ""
    return name.lstrip("_") == "TYPE_CHECKING"


def _import_nodes(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement under ``node``, except those only a type checker runs."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child
        elif isinstance(child, ast.If) and _is_type_checking(child.test):
            for branch in child.orelse:  # the `else:` of `if TYPE_CHECKING:` runs
                yield from _import_nodes(ast.Module(body=[branch], type_ignores=[]))
        else:
            yield from _import_nodes(child)


def _known(name: str, modules: frozenset[str]) -> str | None:
    """``name`` or its longest prefix that is a module of the package (None outside it)."""
    parts = name.split(".")
    for n in range(len(parts), 0, -1):
        if (candidate := ".".join(parts[:n])) in modules:
            return candidate
    return None


def _from_base(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module a ``from ... import`` reads from (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    package = module.split(".")
    package = package if is_package else package[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(source: str, module: str, modules: frozenset[str], *, is_package: bool = False) -> set[str]:
    """The package modules that ``source`` (the text of module ``module``) imports."""
    found: set[str] = set()
    for node in _import_nodes(ast.parse(source, filename=module)):
        if isinstance(node, ast.Import):
            found |= {m for a in node.names if (m := _known(a.name, modules))}
            continue
        base = _from_base(node, module, is_package)
        for alias in node.names:
            target = _known(f"{base}.{alias.name}", modules) if alias.name != "*" else None
            target = target if target == f"{base}.{alias.name}" else _known(base, modules)
            if target:
                found.add(target)
    found.discard(module)
    return found


def graph_of_sources(sources: Mapping[str, str]) -> dict[str, frozenset[str]]:
    """Module -> the modules it imports, from ``{"planner/x/y.py": source text}``."""
    names = {path: module_name(Path(path), Path("planner")) for path in sources}
    modules = frozenset(names.values())
    return {names[path]: frozenset(imports_of(text, names[path], modules, is_package=path.endswith("__init__.py")))
            for path, text in sources.items()}


def import_graph(package_dir: Path = PACKAGE_DIR) -> dict[str, frozenset[str]]:
    """Module -> the package modules it imports, for every module of the package."""
    return graph_of_sources({p.relative_to(package_dir.parent).as_posix(): p.read_text(encoding="utf-8")
                             for p in source_files(package_dir).values()})


def strongly_connected(graph: Graph) -> list[list[str]]:
    """Tarjan's strongly connected components (iterative), each sorted, in a stable order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                out.append(sorted(component))
    return sorted(out)


def cycles(graph: Graph) -> list[list[str]]:
    """Groups of modules that import each other, directly or through one another (each sorted)."""
    return [c for c in strongly_connected(graph) if len(c) > 1]


def cycle_edges(graph: Graph, component: list[str]) -> list[tuple[str, str]]:
    """The imports that hold one cycle together (both ends in ``component``)."""
    members = set(component)
    return sorted((a, b) for a in component for b in graph.get(a, ()) if b in members)


def main(argv: list[str]) -> int:
    graph = import_graph()
    if "--edges" in argv:
        for a in sorted(graph):
            for b in sorted(graph[a]):
                print(f"{a} -> {b}")
        return 0
    found = cycles(graph)
    for component in found:
        print("cycle: " + ", ".join(component))
        for a, b in cycle_edges(graph, component):
            print(f"  {a} -> {b}")
    print(f"{len(found)} cycle{'' if len(found) == 1 else 's'} among {len(graph)} modules")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
