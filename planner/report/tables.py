"""Format-neutral tables: the report's content, rendered alike by the Markdown and HTML templates.

A cell's ``text`` is final (numbers already formatted), so both formats show the same figures.
A numeric cell names its source: a plan key path such as ``totals.it_power_max_w`` or
``derived:<what>`` for a presentation figure computed in ``planner.report``; the HTML keeps it in
a ``data-src`` attribute so tests (and readers) can trace every figure to the plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Cell:
    text: str
    src: str | None = None
    """Plan key path (or ``derived:``/``constant:`` name) of the value shown; None for labels."""
    flag: bool = False
    """Draws attention (a rack above the air-cooling limit, a binding constraint)."""
    number: bool = False
    """A figure (aligned right), as opposed to text copied from the plan."""

    @property
    def numeric(self) -> bool:
        return self.number


@dataclass(frozen=True)
class Table:
    columns: list[str]
    rows: list[list[Cell]]
    numeric_columns: frozenset[int] = field(default_factory=frozenset)
    """Column indices aligned right."""
    empty_text: str = "None."
    """Shown instead of the table when it has no rows."""

    def __post_init__(self) -> None:
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError(f"row of {len(row)} cells in a table of {len(self.columns)} columns")

    def aligned_right(self, index: int) -> bool:
        return index in self.numeric_columns


def text(value: object) -> Cell:
    return Cell("n/a" if value is None else str(value))


def table(columns: list[str], rows: list[list[Cell]], *, empty_text: str = "None.") -> Table:
    """A table whose columns holding numeric cells are aligned right."""
    numeric = frozenset(i for i in range(len(columns)) if any(r[i].numeric for r in rows))
    return Table(columns, rows, numeric, empty_text)


def key_value_table(rows: list[tuple[str, Cell]], *, header: tuple[str, str] = ("Item", "Value"),
                    empty_text: str = "None.") -> Table:
    return table(list(header), [[Cell(label), cell] for label, cell in rows], empty_text=empty_text)


def _alike_key(row: list[Cell]) -> tuple[tuple[str | bool, bool], ...]:
    """What a reader sees of a row but its first cell (sources differ by index and are not shown)."""
    shown: tuple[tuple[str | bool, bool], ...] = tuple((c.text, c.flag) for c in row[1:])
    return shown + ((row[0].flag, False),)


def group_alike(t: Table, noun: str) -> Table:
    """Runs of consecutive rows that show the same in every cell but the first as one row whose first cell
    names the run ("b200-r01 to b200-r16 (16 racks)"): a fleet of identical racks reads as a few lines,
    and every row is still named. Cells keep the first row's sources."""
    rows: list[list[Cell]] = []
    run: list[list[Cell]] = []
    for row in [*t.rows, []]:
        if run and row and _alike_key(row) == _alike_key(run[0]):
            run.append(row)
            continue
        if run:
            first = run[0][0]
            name = first.text if len(run) == 1 else f"{first.text} to {run[-1][0].text} ({len(run)} {noun})"
            rows.append([Cell(name, first.src, first.flag, first.number), *run[0][1:]])
        run = [row]
    return Table(t.columns, rows, t.numeric_columns, t.empty_text)
