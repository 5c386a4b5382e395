"""Where shipped data lives: the repository's top-level folders, or their copy inside the wheel."""

from __future__ import annotations

import os
import stat
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


def private_cache_folder(folder: Path) -> bool:
    """Create ``folder`` (mode 0700) and say whether it is this user's and writable by no one else: the
    caches under cache_root hold compiled templates (code that is run) and marshal data trusted to be
    what planner wrote, so a folder another user can write to is not used."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = folder.stat()
    except OSError:
        return False
    own = not hasattr(os, "getuid") or st.st_uid == os.getuid()
    return stat.S_ISDIR(st.st_mode) and own and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
