"""Where shipped data lives: the repository's top-level folders, or their copy inside the wheel."""

from __future__ import annotations

import os
from pathlib import Path

_PKG = Path(__file__).resolve().parent


def _shipped(name: str) -> Path:
    inside_wheel = _PKG / "_shipped" / name
    if inside_wheel.is_dir():
        return inside_wheel
    return _PKG.parent / name


def catalogs_dir() -> Path:
    return _shipped("catalogs")


def templates_dir() -> Path:
    return _shipped("templates")


def data_dir() -> Path:
    """The project's own data (measurements with provenance, default calibration)."""
    return _PKG / "data"


CACHE_ENV_VAR = "PLANNER_CACHE_DIR"
"""Set to a folder to move planner's per-user cache there; set to an empty string to use no cache."""


def cache_root() -> Path | None:
    """The user's planner cache folder (not created here), or None when caching is turned off: the
    compiled report templates (planner.report.bytecode_cache) and parsed catalog files
    (planner.catalog.parsed_cache) live under it."""
    chosen = os.environ.get(CACHE_ENV_VAR)
    if chosen is not None:
        return Path(chosen) if chosen.strip() else None
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if xdg.strip() and Path(xdg).is_absolute():  # the XDG spec: a relative path is to be ignored
        return Path(xdg) / "planner"
    try:
        return Path.home() / ".cache" / "planner"
    except (RuntimeError, KeyError):  # no home directory to be found
        return None
