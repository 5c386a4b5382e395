"""Number formatting: one place decides the scale, decimals and unit every figure is shown with.

SI values come in (W, s, J, USD); each ``Unit`` says how it is shown (W as kW with two decimals,
seconds as milliseconds, ...). Tests parse the text back and compare with the plan within half
of the last shown digit.
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.report.tables import Cell


@dataclass(frozen=True)
class Unit:
    scale: float
    """Multiplies the SI value (W -> kW: 1e-3)."""
    decimals: int
    suffix: str


KW_FROM_W = Unit(1e-3, 2, "kW")
W = Unit(1.0, 0, "W")
KW = Unit(1.0, 2, "kW")
KWH = Unit(1.0, 0, "kWh")
USD = Unit(1.0, 0, "USD")
USD_PER_YEAR = Unit(1.0, 0, "USD/yr")
USD_CENTS = Unit(1.0, 3, "USD")
USD_PER_KWH = Unit(1.0, 3, "USD/kWh")
USD_PER_KW_MONTH = Unit(1.0, 2, "USD/kW-month")
BTU_PER_HR = Unit(1.0, 0, "BTU/hr")
COOLING_TONS = Unit(1.0, 2, "tons")
TCO2E_PER_YEAR = Unit(1.0, 1, "tCO2e/yr")
G_PER_KWH = Unit(1.0, 0, "gCO2e/kWh")
MS_FROM_S = Unit(1e3, 1, "ms")
MS = Unit(1.0, 1, "ms")
PERCENT = Unit(100.0, 1, "%")
REQ_PER_S = Unit(1.0, 2, "req/s")
TOKENS_PER_S = Unit(1.0, 0, "tok/s")
TOKENS_PER_S_PER_KW = Unit(1.0, 1, "tok/s per kW")
J_PER_TOKEN = Unit(1.0, 3, "J/token")
BILLION_TOKENS_PER_YEAR = Unit(1e-9, 2, "billion tok/yr")
YEARS = Unit(1.0, 1, "years")
AMPS = Unit(1.0, 1, "A")
RATIO = Unit(1.0, 2, "")
COUNT = Unit(1.0, 0, "")
VOLTS = Unit(1.0, 0, "V")

# Key-name suffix -> unit, for plan mappings whose keys carry their unit (site, finance, what_if).
# Longest suffixes first: the first match wins.
SUFFIX_UNITS: tuple[tuple[str, Unit], ...] = (
    ("_usd_per_kwh", USD_PER_KWH),
    ("_usd_per_kw_month", USD_PER_KW_MONTH),
    ("_usd_per_year", USD_PER_YEAR),
    ("_kwh_per_year", Unit(1.0, 0, "kWh/yr")),
    ("_t_co2e_per_year", TCO2E_PER_YEAR),
    ("_delta_gpus", Unit(1.0, 0, "GPUs")),
    ("_usd_per_million_tokens", USD_CENTS),
    ("_g_per_kwh", G_PER_KWH),
    ("_t_per_year", TCO2E_PER_YEAR),
    ("_btu_per_hr", BTU_PER_HR),
    ("_requests_per_s", REQ_PER_S),
    ("_tokens_per_s", TOKENS_PER_S),
    ("_usd", USD),
    ("_kwh", KWH),
    ("_kw", KW),
    ("_w", KW_FROM_W),
    ("_ms", MS),
    ("_s", MS_FROM_S),
    ("_years", YEARS),
    ("_v", VOLTS),
)


def number_text(value: float, unit: Unit) -> str:
    """``value`` (SI) in ``unit``: thousands separators, fixed decimals, the unit after a space."""
    scaled = value * unit.scale
    body = f"{scaled:,.{unit.decimals}f}"
    if body.startswith("-") and float(body.replace(",", "")) == 0.0:
        body = body[1:]  # never show "-0.00"
    return f"{body} {unit.suffix}" if unit.suffix else body


def plain_number_text(value: float) -> str:
    """A number with no known unit: up to four decimals, trailing zeros dropped."""
    if float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.4f}".rstrip("0").rstrip(".")


# Keys whose whole-number values name something (a year, a version, an id) rather than count it:
# shown without thousands separators ("2022", never "2,022").
IDENTIFIER_KEYS = frozenset({"year", "version", "id", "seed"})
IDENTIFIER_SUFFIXES = ("_year", "_version", "_id", "_seed")
NOT_IDENTIFIER_SUFFIXES = ("_per_year",)


def is_identifier_key(key: str) -> bool:
    """Whether ``key`` holds an identifier-like number (``carbon_year``, ``schema_version``, ``id``)."""
    name = key.lower()
    if name.endswith(NOT_IDENTIFIER_SUFFIXES):
        return False
    return name in IDENTIFIER_KEYS or name.endswith(IDENTIFIER_SUFFIXES)


def identifier_text(value: float) -> str:
    """An identifier-like number as written: no thousands separators, no ".0" on a whole number."""
    return str(int(value)) if float(value).is_integer() else str(value)


def fig(value: float | None, unit: Unit, src: str, *, flag: bool = False) -> Cell:
    """A numeric cell traced to ``src`` (a plan key path or ``derived:<what>``); None shows n/a."""
    if value is None:
        return Cell("n/a", src, flag, number=True)
    return Cell(number_text(value, unit), src, flag, number=True)


def unit_for_key(key: str) -> Unit | None:
    for suffix, unit in SUFFIX_UNITS:
        if key.endswith(suffix):
            return unit
    return None


def value_cell(key: str, value: float | int | str | None, src: str) -> Cell:
    """A cell for one value of a plan mapping, shown in the unit its key name carries."""
    if value is None:
        return Cell("n/a")
    if isinstance(value, bool | str):
        return Cell(str(value), src)
    if is_identifier_key(key):
        return Cell(identifier_text(value), src, number=True)
    unit = unit_for_key(key)
    if unit is None:
        return Cell(plain_number_text(value), src, number=True)
    return fig(value, unit, src)


# Unit names the plan writes beside a value (objective.unit, constraints[].unit), lower-cased.
NAMED_UNITS: dict[str, Unit] = {
    "w": KW_FROM_W, "kw": KW, "s": MS_FROM_S, "ms": MS, "usd": USD, "usd_per_year": USD_PER_YEAR,
    "usd/year": USD_PER_YEAR, "kwh/year": Unit(1.0, 0, "kWh/yr"), "tco2e/year": TCO2E_PER_YEAR,
    "requests/s": REQ_PER_S, "requests_per_s": REQ_PER_S, "gpus": Unit(1.0, 0, "GPUs"),
    "servers": Unit(1.0, 0, "servers"), "racks": Unit(1.0, 0, "racks"),
}


def unit_named(name: object) -> Unit:
    """The unit of a plan unit name (``W``, ``USD``, ``requests/s``, ``usd_per_year``); else shown as is."""
    if not isinstance(name, str):
        return Unit(1.0, 2, "")
    known = NAMED_UNITS.get(name.lower()) or unit_for_key(f"_{name.lower()}")
    return known if known is not None else Unit(1.0, 2, name)


def yes_no(value: bool | None) -> str:
    return "n/a" if value is None else ("yes" if value else "no")
