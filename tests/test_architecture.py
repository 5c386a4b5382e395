"""docs/architecture.md is kept true: the real import graph of planner (read with `ast`, see
tests/architecture.py) has no cycle, and every import between two rows of the document's table
"module -> what it owns -> what it may import" is one that table allows, and every allowance is used.

The table is parsed from the markdown, so the document and this test cannot drift apart.
"""

from __future__ import annotations

import re

import pytest
from architecture import ROOT, Graph, cycle_edges, cycles, graph_of_sources, import_graph, source_files

pytestmark = pytest.mark.unit

DOC = ROOT / "docs" / "architecture.md"
NOTHING = {"nothing", "-", ""}
ROOT_PACKAGE = "planner"


def parse_table(text: str) -> dict[str, frozenset[str]]:
    """Row name -> what it may import, from the table whose header starts ``| module``."""
    rows: dict[str, frozenset[str]] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if line.lstrip().lower().startswith("| module"):
            break
    for line in lines:
        if not line.lstrip().startswith("|"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if set(cells[0]) <= set("-: "):
            continue  # the header's separator line
        names = re.findall(r"`([^`]+)`", cells[0])
        assert len(names) == 1, f"docs/architecture.md: a row must name one module in backticks: {line}"
        allowed = re.findall(r"`([^`]+)`", cells[-1])
        assert allowed or cells[-1].lower() in NOTHING, f"docs/architecture.md: {names[0]}: name modules in backticks"
        assert names[0] not in rows, f"docs/architecture.md: {names[0]} has two rows"
        rows[names[0]] = frozenset(allowed)
    return rows


def covers(entry: str, module: str) -> bool:
    """``entry`` is ``module`` or one of its packages (``planner`` stands for its ``__init__`` alone)."""
    return module == entry or (entry != ROOT_PACKAGE and module.startswith(entry + "."))


def row_of(module: str, rows: dict[str, frozenset[str]]) -> str | None:
    """The most specific row that holds ``module``."""
    return max((r for r in rows if covers(r, module)), key=len, default=None)


def cross_row_edges(graph: Graph, rows: dict[str, frozenset[str]]) -> list[tuple[str, str, str, str]]:
    """(module, imported module, its row, the imported module's row) for imports between two rows."""
    out = []
    for a in sorted(graph):
        for b in sorted(graph[a]):
            ra, rb = row_of(a, rows), row_of(b, rows)
            if ra is not None and rb is not None and ra != rb:
                out.append((a, b, ra, rb))
    return out


@pytest.fixture(scope="module")
def graph() -> Graph:
    return import_graph()


@pytest.fixture(scope="module")
def rows() -> dict[str, frozenset[str]]:
    return parse_table(DOC.read_text(encoding="utf-8"))


def test_no_import_cycle_between_any_two_modules(graph: Graph) -> None:
    found = cycles(graph)
    assert found == [], "import cycles (module -> module it imports):\n" + "\n".join(
        f"  {', '.join(c)}: " + "; ".join(f"{a} -> {b}" for a, b in cycle_edges(graph, c)) for c in found)


def test_every_module_has_a_row_and_every_row_a_module(graph: Graph, rows: dict[str, frozenset[str]]) -> None:
    assert [m for m in sorted(graph) if row_of(m, rows) is None] == [], "modules docs/architecture.md does not list"
    assert [r for r in sorted(rows) if not any(covers(r, m) for m in graph)] == [], "rows naming no module"
    named = sorted({e for allowed in rows.values() for e in allowed if not any(covers(e, m) for m in graph)})
    assert named == [], "'may import' entries naming no module"


def test_every_import_is_one_the_table_allows(graph: Graph, rows: dict[str, frozenset[str]]) -> None:
    bad = [f"{a} -> {b} (row {ra} may import: {', '.join(sorted(rows[ra])) or 'nothing'})"
           for a, b, ra, rb in cross_row_edges(graph, rows) if not any(covers(e, b) for e in rows[ra])]
    assert bad == [], "imports docs/architecture.md does not allow:\n  " + "\n  ".join(bad)


def test_every_allowance_is_used(graph: Graph, rows: dict[str, frozenset[str]]) -> None:
    edges = cross_row_edges(graph, rows)
    unused = [f"{r} may import {e}" for r, allowed in sorted(rows.items()) for e in sorted(allowed)
              if not any(ra == r and covers(e, b) for _, b, ra, _ in edges)]
    assert unused == [], "allowances no import uses (drop them from docs/architecture.md):\n  " + "\n  ".join(unused)


def test_the_table_is_a_layering(rows: dict[str, frozenset[str]]) -> None:
    """The rows are listed from the leaves up: a row may import only rows listed above it (so no two
    rows import each other, directly or through others)."""
    order = list(rows)

    def targets(entry: str) -> set[str]:
        return {t for t in rows if covers(entry, t)} | {row_of(entry, rows) or entry}

    late = [f"{r} may import {t}, listed below it" for i, r in enumerate(order) for e in sorted(rows[r])
            for t in sorted(targets(e)) if t != r and order.index(t) > i]
    assert late == []


def test_the_checker_counts_imports_inside_functions_and_not_type_checking_ones() -> None:
    sources = {"planner/__init__.py": "", "planner/sub/__init__.py": "", "planner/sub/leaf.py": "",
               "planner/typed.py": "",
               "planner/a.py": ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from planner import typed\n"
                                "def f():\n    from planner.sub import leaf\n"),
               "planner/b.py": "import planner.a\nfrom . import typed\nfrom planner.sub import Name\n",
               "planner/sub/rel.py": "from .leaf import x\nfrom .. import a\n"}
    graph = graph_of_sources(sources)
    assert graph["planner.a"] == {"planner.sub.leaf"}
    assert graph["planner.b"] == {"planner.a", "planner.typed", "planner.sub"}
    assert graph["planner.sub.rel"] == {"planner.sub.leaf", "planner.a"}
    assert cycles(graph) == []
    sources["planner/sub/leaf.py"] = "def g():\n    import planner.a\n"
    graph = graph_of_sources(sources)
    assert cycles(graph) == [["planner.a", "planner.sub.leaf"]]
    assert cycle_edges(graph, ["planner.a", "planner.sub.leaf"]) == [("planner.a", "planner.sub.leaf"),
                                                                     ("planner.sub.leaf", "planner.a")]


def test_every_planner_file_is_in_the_graph(graph: Graph) -> None:
    assert sorted(graph) == sorted(source_files())
