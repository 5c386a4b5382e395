"""Section 7, assumptions appendix: the plan's assumptions (model constants, calibrated coefficients,
catalog figures, notes), its site and finance inputs, the constants this report uses to derive
figures, and the plan's provenance."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from planner import units
from planner.report import assumptions as a
from planner.report import constants as k
from planner.report import format as f
from planner.report.labels import label
from planner.report.psu import EIGHTY_PLUS_230V_INTERNAL_REDUNDANT
from planner.report.site import SiteFacts
from planner.report.tables import Cell, Table, key_value_table, table
from planner.schemas.plan import Plan

_LEADING_KEYS = ("name", "value", "unit", "range")
_TRAILING_KEYS = ("source",)
"""Source last: the last column wraps, so long source text does not widen the table."""
_HEADERS = {"range": "Plausible range"}


def _header(key: str) -> str:
    return _HEADERS.get(key, label(key))


def _text(row: a.Row, key: str) -> Cell:
    """``row.<key>`` as typed, traced to ``assumptions[<i>].<key>``."""
    return Cell(row.get(key), f"assumptions[{row.index}].{key}")


def constants_of_model_table(rows: list[a.Row]) -> Table:
    """Model constants: name/value/unit/range first and source last."""
    columns = ([c for c in _LEADING_KEYS if c in a.COLUMNS]
               + [c for c in a.COLUMNS if c not in _LEADING_KEYS + _TRAILING_KEYS] + list(_TRAILING_KEYS))
    return table([_header(c) for c in columns], [[_text(r, c) for c in columns] for r in rows],
                 empty_text="The plan lists no model constants.")


_POSITION_TEXT = {"within": "yes", "at bound": "at bound", "outside": "no, outside"}


def _range_cell(row: a.Row) -> Cell:
    position = a.range_position(row.get("value"), row.get("range"))
    if position is None:
        return Cell("n/a" if row.get("range") else "")
    return Cell(_POSITION_TEXT[position], "derived:coefficient_within_range", flag=position != "within")


def coefficients_table(rows: list[a.Row]) -> Table:
    """Calibrated coefficients: fitted value, plausible range, whether the fit stayed inside it, source."""
    body = [[_text(r, "name") if r.name == a.CALIBRATION_FILE else Cell(a.coefficient_name(r.name)),
             _text(r, "value"), _text(r, "unit"), _text(r, "range"), _range_cell(r), _text(r, "source")]
            for r in rows]
    return table(["Coefficient", "Value", "Unit", "Plausible range", "Within range", "Source"], body,
                 empty_text="The plan lists no calibrated coefficients.")


def catalog_table(rows: list[a.Row]) -> Table:
    """Catalog figures per GPU type: price, datasheet, server; sources marked ESTIMATE are flagged."""
    body = []
    for r in rows:
        gpu, figure = a.catalog_figure(r.name) or ("", r.name)
        estimate = a.is_estimate(r.get("source"))
        body.append([Cell(gpu), Cell(figure), _text(r, "value"), _text(r, "unit"),
                     Cell("estimate" if estimate else "", "derived:catalog_estimate" if estimate else None,
                          flag=estimate),
                     _text(r, "source")])
    return table(["GPU", "Figure", "Value", "Unit", "Estimate", "Source"], body,
                 empty_text="The plan lists no catalog figures.")


def notes_table(rows: list[a.Row]) -> Table:
    return table(["Note"], [[_text(r, "value")] for r in rows], empty_text="The plan carries no notes.")


def bought_rows(plan: Plan, rows: list[a.Row]) -> list[a.Row]:
    """The catalog figures of the GPU types the plan buys (and those of no GPU type, such as racks)."""
    bought = {g.gpu for g in plan.servers}
    return [r for r in rows if (a.catalog_figure(r.name) or ("", ""))[0] in bought | {""}]


def bought_gpus_text(plan: Plan, rows: list[a.Row]) -> str:
    bought = ", ".join(dict.fromkeys(g.gpu for g in plan.servers)) or "none"
    others = sorted({gpu for r in rows if (gpu := (a.catalog_figure(r.name) or ("", ""))[0])}
                    - {g.gpu for g in plan.servers})
    rest = (f" The figures of the other GPU types considered ({', '.join(others)}) are in plan.json's "
            "assumptions." if others else "")
    return (f"Figures of the GPU types the plan buys: {bought}.{rest} "
            f"A source marked {a.ESTIMATE_MARKER} in the catalog is flagged as an estimate.")


def inputs_table(section: BaseModel, prefix: str, header: tuple[str, str]) -> Table:
    """Every key a site or finance section states (as plan.json writes it), in key order."""
    stated = section.model_dump()
    rows = [(label(key), f.value_cell(key, stated[key], f"{prefix}.{key}")) for key in sorted(stated)]
    return key_value_table(rows, header=header)


def _circuit_source(facts: SiteFacts, key: str, default_source: str) -> str:
    return f"default: {default_source}" if key in facts.circuit_defaults else "from the plan's site"


def _constant_rows(facts: SiteFacts) -> list[tuple[str, str, str, str]]:
    """(name, value text, source, id) of every constant the report derives figures with."""
    c = facts.circuit
    return [
        ("Heat from power", f"1 W = {units.BTU_PER_HR_PER_W} BTU/hr",
         "NIST SP 811, App. B (International Table BTU)", "btu_per_hr_per_w"),
        ("Cooling ton", f.number_text(units.BTU_PER_HR_PER_COOLING_TON, f.BTU_PER_HR),
         "ASHRAE definition of a ton of refrigeration", "btu_per_hr_per_cooling_ton"),
        ("Hours per year", f"{units.HOURS_PER_YEAR:,.0f} h", "365 x 24 h (EIA, llm-d-planner convention)",
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
    groups = a.group(plan.assumptions, (g.gpu for g in plan.servers))
    return {
        "has_assumptions": bool(plan.assumptions),
        "model_constants": constants_of_model_table(groups.constants),
        "coefficients": coefficients_table(groups.coefficients),
        "coefficients_at_bound": any(a.range_position(r.get("value"), r.get("range")) == "at bound"
                                     for r in groups.coefficients),
        "catalog": catalog_table(bought_rows(plan, groups.catalog)),
        "catalog_note": bought_gpus_text(plan, groups.catalog),
        "notes": notes_table(groups.notes),
        "site": inputs_table(plan.site, "site", ("Site input", "Value")),
        "finance": inputs_table(plan.finance, "finance", ("Finance input", "Value")),
        "constants": constants_table(facts),
        "hashes": hashes_table(plan),
    }
