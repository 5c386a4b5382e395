"""Human formatting of plan figures, chosen by the unit in the field name (``_w``, ``_usd``, ...)."""

from __future__ import annotations

from collections.abc import Callable

from planner.units import MS_PER_S, W_PER_KW

KILO = 1e3
MEGA = 1e6
"""Display prefixes (k$, M$, k BTU/hr, MWh); unit conversions come from planner.units."""


def _usd(x: float) -> str:
    if abs(x) >= MEGA:
        return f"${x / MEGA:,.2f}M"
    if abs(x) >= KILO:
        return f"${x / KILO:,.1f}k"
    return f"${x:,.2f}" if 0 < abs(x) < 10 else f"${x:,.0f}"


def _kw(w: float) -> str:
    return f"{w / W_PER_KW:,.1f} kW"


def _btu(x: float) -> str:
    return f"{x / KILO:,.1f}k BTU/hr"


def _ms(s: float) -> str:
    ms = s * MS_PER_S
    return f"{ms:,.1f} ms" if abs(ms) < 100 else f"{ms:,.0f} ms"


def number(x: float) -> str:
    """A plain figure: whole numbers with separators, small ones with 3 significant digits."""
    if float(x).is_integer() or abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.3g}"


_SUFFIXES: tuple[tuple[str, Callable[[float], str]], ...] = (
    ("_usd", _usd),
    ("power_limit_w", lambda x: f"{x:,.0f} W"),  # one GPU's limit: watts, as nvidia-smi -pl takes it
    ("_w", _kw),
    ("btu_per_hr", _btu),
    ("_t_per_year", lambda x: f"{x:,.1f} tCO2e/yr"),
    ("_kwh", lambda x: f"{x / KILO:,.1f} MWh"),
    ("usd_per_million_tokens", lambda x: f"${x:,.3g}/M tokens"),
    ("_requests_per_s", lambda x: f"{number(x)} req/s"),
    ("_per_s", lambda x: f"{number(x)}/s"),
    ("_s", _ms),
    ("_j", lambda x: f"{x:.3g} J"),
    ("_pct", lambda x: f"{x:.1f}%"),
    ("utilization", lambda x: f"{x * 100:.1f}%"),
)


def quantity(field: str, value: float | int | str | None) -> str:
    """``value`` of the plan field ``field`` with its unit, e.g. ("power_max_w", 20800) -> "20.8 kW"."""
    if value is None:
        return "n/a"
    if isinstance(value, str):
        return value
    for suffix, fmt in _SUFFIXES:
        if field.endswith(suffix):
            return fmt(value)
    return number(value)


def signed(field: str, delta: float) -> str:
    """A change with its sign: "+20.8 kW", "-$412.0k", "±0"."""
    sign = "+" if delta > 0 else "-" if delta < 0 else "±"
    return sign + quantity(field, abs(delta))


def pct(delta_pct: float | None) -> str:
    return "" if delta_pct is None else f"{delta_pct:+.1f}%"
