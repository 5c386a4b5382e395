"""The numeric core imports no file-reading module, checked in a fresh interpreter (a subprocess:
e2e tier; the in-process checks are in tests/unit/test_core_purity.py)."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import planner.core

CORE = sorted(f"planner.core.{m.name}" for m in pkgutil.iter_modules(planner.core.__path__))
FORBIDDEN = ("planner.calibration", "planner.catalog.loader", "planner.io")


def _forbidden(modules: list[str]) -> list[str]:
    return sorted(m for m in modules if any(m == f or m.startswith(f + ".") for f in FORBIDDEN))


def test_importing_the_core_loads_no_file_reading_module():
    code = ("import importlib, json, sys\n"
            f"for m in {CORE!r}: importlib.import_module(m)\n"
            "print(json.dumps(sorted(sys.modules)))")
    run = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    loaded = json.loads(run.stdout)
    assert "planner.core.inputs" in loaded  # the import really ran
    assert _forbidden(loaded) == []


