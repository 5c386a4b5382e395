"""Render a plan as Markdown or HTML through the Jinja2 templates in ``templates/``.

Both environments use StrictUndefined, so a template naming a missing value fails loudly. HTML is
autoescaped; Markdown escapes every interpolated string (``markdown.escape``) unless it is already
Markdown (``Verbatim``). Plan text is data passed to templates, never template source, so Jinja
syntax in a scenario description is shown, not evaluated.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import jinja2
from markupsafe import Markup

from planner.errors import InputError
from planner.paths import templates_dir
from planner.report import markdown
from planner.report.bytecode_cache import template_cache
from planner.report.specs import deployment_specs
from planner.report.view import build_charts, build_view
from planner.schemas.plan import Plan

FORMATS = ("md", "html", "json", "comment")


def _finalize_markdown(value: Any) -> Any:
    return value if isinstance(value, int | float) else markdown.escape(value)


@lru_cache(maxsize=1)
def _markdown_env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(templates_dir()), autoescape=False,
                             undefined=jinja2.StrictUndefined, finalize=_finalize_markdown,
                             keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    env.filters["table"] = markdown.pipe_table
    env.filters["code"] = markdown.code_block
    env.bytecode_cache = template_cache(env)
    return env


@lru_cache(maxsize=1)
def _html_env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(templates_dir()), autoescape=True,
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             trim_blocks=True, lstrip_blocks=True)
    env.bytecode_cache = template_cache(env)
    return env


_LAST_VIEW: list[tuple[Plan, dict[str, Any]]] = []  # the last plan's view: `solve` renders it twice (md, html)


def _view(plan: Plan) -> dict[str, Any]:
    """``build_view(plan)``, built once for both reports of the same plan object (plans are frozen,
    and templates only read the view)."""
    if _LAST_VIEW and _LAST_VIEW[0][0] is plan:
        return _LAST_VIEW[0][1]
    view = build_view(plan)
    _LAST_VIEW[:] = [(plan, view)]
    return view


def render_markdown(plan: Plan) -> str:
    return _markdown_env().get_template("report.md.j2").render(**_view(plan))


def render_html(plan: Plan) -> str:
    charts = {name: None if svg is None else Markup(svg) for name, svg in build_charts(plan).items()}
    return _html_env().get_template("report.html.j2").render(**_view(plan), charts=charts)


def render_json(plan: Plan) -> str:
    return json.dumps(deployment_specs(plan), indent=2, ensure_ascii=False) + "\n"


def _render_comment(plan: Plan, plan_file: str | None, changes: str | None) -> str:
    from planner.report.comment import render_comment  # only `planner report --format comment` needs it

    return render_comment(plan, plan_file, changes)


def render_report(plan: Plan, fmt: str, *, plan_file: str | None = None, changes: str | None = None) -> str:
    """The report of ``plan`` as text: ``fmt`` is md, html, json (the deployment specs) or comment
    (the pull-request form, under 60,000 characters, pointing to the full report next to ``plan_file``,
    with ``changes``, the Markdown diff against a base plan, when given)."""
    renderers = {"md": render_markdown, "html": render_html, "json": render_json,
                 "comment": lambda p: _render_comment(p, plan_file, changes)}
    if fmt not in renderers:
        raise InputError(f"unknown report format {fmt!r}", fix=f"use one of {', '.join(FORMATS)}")
    return renderers[fmt](plan)
