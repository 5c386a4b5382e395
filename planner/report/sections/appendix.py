"""Section 7, assumptions appendix: the plan's assumptions, its site and finance inputs, the
constants this report uses to derive figures, and the plan's provenance."""

from __future__ import annotations

from typing import Any

from planner.report import constants as k
from planner.report import format as f
from planner.report.labels import label
from planner.report.psu import EIGHTY_PLUS_230V_INTERNAL_REDUNDANT
from planner.report.site import SiteFacts
from planner.report.tables import Cell, Table, key_value_table, table
from planner.schemas.plan import Plan

_LEADING_KEYS = ("name", "value", "unit", "source")


def assumptions_table(plan: Plan) -> Table:
    keys = list(dict.fromkeys(key for a in plan.assumptions for key in a))
    columns = [c for c in _LEADING_KEYS if c in keys] + [c for c in keys if c not in _LEADING_KEYS]
    rows = [[Cell(a[c], f"assumptions[{i}].{c}") if c in a else Cell("") for c in columns]
            for i, a in enumerate(plan.assumptions)]
    return table([label(c) for c in columns], rows, empty_text="The plan lists no assumptions.")


def mapping_table(mapping: dict[str, Any], prefix: str, header: tuple[str, str]) -> Table:
    rows = [(label(key), f.value_cell(key, value, f"{prefix}.{key}")) for key, value in mapping.items()]
    return key_value_table(rows, header=header)


def _circuit_source(facts: SiteFacts, key: str, default_source: str) -> str:
    return f"default: {default_source}" if key in facts.circuit_defaults else "from the plan's site"


def _constant_rows(facts: SiteFacts) -> list[tuple[str, str, str, str]]:
    """(name, value text, source, id) of every constant the report derives figures with."""
    c = facts.circuit
    return [
        ("Heat from power", f"1 W = {k.BTU_PER_HR_PER_W} BTU/hr",
         "NIST SP 811, App. B (International Table BTU)", "btu_per_hr_per_w"),
        ("Cooling ton", f.number_text(k.BTU_PER_HR_PER_COOLING_TON, f.BTU_PER_HR),
         "ASHRAE definition of a ton of refrigeration", "btu_per_hr_per_cooling_ton"),
        ("Hours per year", f"{k.HOURS_PER_YEAR:,.0f} h", "365 x 24 h (EIA, llm-d-planner convention)",
         "hours_per_year"),
        ("Continuous-load rule", f"load <= {k.NEC_CONTINUOUS_LOAD_FACTOR * 100:.0f} % of the breaker rating",
         "NEC 210.19(A)(1), 210.20(A), 215.2/215.3 (the plan's site.breaker_derating is applied)",
         "nec_continuous_load_factor"),
        ("2N feeds", "each feed carries 100 % of the rack load", "Uptime Institute Tier standard",
         "feeds_2n"),
        ("Standard breaker sizes", f"{k.NEC_STANDARD_BREAKER_A[0]} to {k.NEC_STANDARD_BREAKER_A[-1]} A",
         "NEC 240.6(A)", "nec_standard_breaker_a"),
        ("Three-phase power", "P = sqrt(3) x V_LL x I x PF", "IEEE 141 / NEC Annex D", "three_phase"),
        ("Circuit voltage", f.number_text(c.voltage_v, f.VOLTS),
         _circuit_source(facts, "circuit_voltage_v", "415/240 V three-phase rack feed (North America)"),
         "circuit_voltage_v"),
        ("Circuit phases", str(c.phases), _circuit_source(facts, "circuit_phases", "three-phase"),
         "circuit_phases"),
        ("Power factor", f.number_text(c.power_factor, f.RATIO),
         _circuit_source(facts, "power_factor", "80 PLUS Titanium requires PF >= 0.95 at 20-100 % load"),
         "power_factor"),
    ] + [(f"80 PLUS {tier} (230 V internal redundant)",
          ", ".join(f"{share * 100:.0f} % load: {eff * 100:.0f} %" for share, eff in points),
          "CLEAResult 80 PLUS programme; linear between test points", f"eighty_plus_{tier}")
         for tier, points in EIGHTY_PLUS_230V_INTERNAL_REDUNDANT.items()]


def constants_table(facts: SiteFacts) -> Table:
    rows = [[Cell(name), Cell(value, f"constant:{ident}"), Cell(source)]
            for name, value, source, ident in _constant_rows(facts)]
    return table(["Constant", "Value", "Source"], rows)


def hashes_table(plan: Plan) -> Table:
    h = plan.input_sha256
    return key_value_table([("Scenario", Cell(h.scenario)), ("Catalog", Cell(h.catalog)),
                            ("Calibration", Cell(h.calibration)), ("Combined", Cell(h.combined))],
                           header=("Input", "SHA-256"))


def build(plan: Plan, facts: SiteFacts) -> dict[str, Any]:
    return {
        "assumptions": assumptions_table(plan),
        "site": mapping_table(plan.site, "site", ("Site input", "Value")),
        "finance": mapping_table(plan.finance, "finance", ("Finance input", "Value")),
        "constants": constants_table(facts),
        "hashes": hashes_table(plan),
    }
