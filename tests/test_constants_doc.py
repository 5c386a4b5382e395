"""docs/constants.md lists every constant with its current value, range and source."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from planner.core.constants import COEFFICIENTS, FIXED

ROOT = Path(__file__).resolve().parents[1]


def test_constants_doc_is_current() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "constants_doc.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr + " (run python3 scripts/constants_doc.py)"


def test_every_constant_has_a_source_and_a_range_holding_its_value() -> None:
    for c in [*COEFFICIENTS.values(), *FIXED.values()]:
        assert c.source.strip() and c.unit.strip(), c.name
        assert c.low <= c.value <= c.high, c.name
