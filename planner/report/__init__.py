"""Procurement reports rendered from a plan: Markdown (PR comments), self-contained HTML, JSON specs.

Both functions are pure and deterministic: the same plan gives the same bytes, no file is read
except the templates, none is written.
"""

from __future__ import annotations

from planner.report.render import render_report
from planner.report.specs import deployment_specs

__all__ = ["deployment_specs", "render_report"]
