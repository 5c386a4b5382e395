"""Markdown helpers for GitHub pull-request comments: escaping user text and pipe tables.

Only plain CommonMark/GFM is produced (headings, pipe tables, emphasis, fenced code), no HTML.
Plan text (scenario names, descriptions, reasons) is escaped so it shows as typed: ``<script>``
stays text, ``|`` cannot break a table, ``*``/``_`` cannot start emphasis, and ``$`` cannot start
GitHub math.
"""

from __future__ import annotations

import re

from planner.report.tables import Cell, Table

_SPECIAL = re.compile(r"([\\`*_\[\]<>|~#&!$])")
_WHITESPACE = re.compile(r"\s+")


class Verbatim(str):
    """Markdown that is already safe (tables, code blocks): the template's escaping skips it."""


def escape(value: object) -> str:
    """Plain text as Markdown that renders as the same text, on one line."""
    if isinstance(value, Verbatim):
        return value
    flat = _WHITESPACE.sub(" ", str(value)).strip()
    return _SPECIAL.sub(r"\\\1", flat)


def _cell(cell: Cell) -> str:
    body = escape(cell.text)
    return f"**{body}**" if cell.flag and body else body


def pipe_table(t: Table) -> Verbatim:
    """A GFM pipe table (numeric columns right-aligned), or the table's empty text."""
    if not t.rows:
        return Verbatim(escape(t.empty_text))
    header = "| " + " | ".join(escape(c) for c in t.columns) + " |"
    rule = "|" + "|".join("---:" if t.aligned_right(i) else "---" for i in range(len(t.columns))) + "|"
    body = ["| " + " | ".join(_cell(c) for c in row) + " |" for row in t.rows]
    return Verbatim("\n".join([header, rule, *body]))


def code_block(text: str, language: str) -> Verbatim:
    """A fenced block of ``text``: the fence is longer than any run of backticks in it, so no line of the
    text (a launch command from a hand-edited plan) can close it."""
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", text)), default=0))
    return Verbatim(f"{fence}{language}\n{text.rstrip()}\n{fence}")
