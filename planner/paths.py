"""Where shipped data lives: the repository's top-level folders, or their copy inside the wheel."""

from __future__ import annotations

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
