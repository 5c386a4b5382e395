"""Unit factors, defined once. Every conversion in planner uses these names.

A scenario is written in the units people use (kW, ms, USD per kW-month); the resolved problem
(planner.problem) converts each figure once, here-named, into SI units (W, s, J) and per-year
money. Reports convert back for display with the same factors.
"""

from __future__ import annotations

from typing import Any

W_PER_KW = 1e3
"""Watts per kilowatt."""
MS_PER_S = 1e3
"""Milliseconds per second."""
S_PER_HOUR = 3600.0
J_PER_KWH = 3.6e6
"""Joules per kilowatt-hour (1 kWh = 1000 W x 3600 s)."""
HOURS_PER_YEAR = 8760.0
"""365 days x 24 h, the convention of the plan's annual energy (EIA, llm-d-planner)."""
HOURS_PER_MONTH = HOURS_PER_YEAR / 12.0
"""730 h: the mean month of an 8760-hour year."""
MONTHS_PER_YEAR = 12.0
G_PER_TONNE = 1e6
"""Grams per metric tonne (gCO2e -> tCO2e)."""
BITS_PER_BYTE = 8.0
"""Bits per byte (pJ/bit energy figures -> J/byte)."""
TOKENS_PER_MILLION = 1e6
"""The million of 'kWh per million tokens' and 'USD per million tokens'."""
BTU_PER_HR_PER_W = 3.412142
"""International Table BTU (1055.05585 J): 1 W = 3.412142 BTU/hr (NIST SP 811, App. B)."""
BTU_PER_HR_PER_COOLING_TON = 12_000.0
"""One ton of refrigeration removes 12,000 BTU/hr (ASHRAE definition)."""


def kw_to_w(kw: float) -> float:
    return kw * W_PER_KW


def ms_to_s(ms: float | None) -> float | None:
    """Milliseconds as seconds; None (no promise) stays None."""
    return None if ms is None else ms / MS_PER_S


def s_to_ms(s: float) -> float:
    return s * MS_PER_S


def kwh_per_million_tokens(j_per_token: Any) -> Any:
    """Energy per token in joules as kWh per million tokens (the same basis: GPU, node or facility);
    a float, a numpy array or a pandas column."""
    return j_per_token * TOKENS_PER_MILLION / J_PER_KWH
