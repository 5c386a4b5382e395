"""plan.json schema 2.0: every section typed and strict, counts as integers, the 1.x what-if key kept beside
objective_delta/objective_unit, and an analysis section that says whether the re-solves ran."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from planner.schemas.plan import (
    NUMBER_RANGES,
    OBJECTIVE_DELTA_UNITS,
    PLAN_SCHEMA_VERSION,
    Analysis,
    ObjectiveAlternative,
    Plan,
    PlanFinance,
    PlanSite,
    WhatIf,
    WorkloadRow,
)

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
PLAN_2 = FIXTURES / "report" / "fleet.plan.json"
SITE: dict[str, Any] = {
    "power_cap_kw": 200.0, "racks": 8, "rack_power_cap_kw": 40.0, "breaker_derating": 0.8, "rack_units": 42,
    "cooling": "air", "air_cooling_limit_kw": 35.0, "pue": 1.3, "electricity_usd_per_kwh": 0.12,
    "carbon_g_per_kwh": 390.0, "carbon_source": "EPA eGRID2022", "carbon_year": 2022, "feeds": "2N"}
ROW: dict[str, Any] = {
    "name": "chat", "model": "llama-3.3-70b", "peak_requests_per_s": 30.0, "average_requests_per_s": 12.0,
    "input_tokens_mean": 1200.0, "input_tokens_p95": 4000.0, "output_tokens_mean": 300.0, "output_tokens_p95": 800.0,
    "ttft_p95_ms": 1000.0, "itl_p95_ms": 50.0, "redundancy": 1, "headroom": 0.2, "precisions": "bf16,fp8"}
WHAT_IF_1X: dict[str, Any] = {"limit": "site_power", "constraint": "site_power", "change": "+10 % datacenter IT power",
                              "method": "re-solve", "objective_delta_usd_per_year": -91129.4}


def test_version_is_2_2_0_and_a_2_0_or_2_1_plan_reads_as_it_is() -> None:
    """2.1 and 2.2 only add optional keys (launch, power limits, roles, speculative, ep/dp, margins, energy
    by phase, roadmap periods; the solver's node limit): a 2.0 or 2.1 plan needs no migration, a newer
    minor (2.3) is read with its unknown keys dropped."""
    from planner.plan.migrate import needs_migration

    assert PLAN_SCHEMA_VERSION == "2.2.0"
    assert not needs_migration("2.0.0") and not needs_migration("2.1.0") and not needs_migration("2.2.0")
    assert needs_migration("2.3.0") and needs_migration("1.1.0")


def test_the_scenario_site_validates_with_every_key_typed() -> None:
    site = PlanSite.model_validate(SITE)
    assert isinstance(site.racks, int) and isinstance(site.rack_units, int) and isinstance(site.carbon_year, int)
    assert site.model_dump() == SITE  # report-only keys left out when not stated


def test_the_scenario_site_schema_and_the_plan_site_have_the_same_keys() -> None:
    from planner.schemas.scenario import Site

    assert set(Site.model_fields) <= set(PlanSite.model_fields)


@pytest.mark.parametrize(("key", "value"), [("racks", 8.0), ("rack_units", 42.0), ("carbon_year", 2022.0)])
def test_a_count_written_as_a_whole_float_reads_as_an_int(key: str, value: float) -> None:
    read = getattr(PlanSite.model_validate(SITE | {key: value}), key)
    assert read == int(value) and type(read) is int


@pytest.mark.parametrize(("key", "value", "message"), [
    ("racks", 8.5, "fractional part"), ("racks", True, "whole number"), ("racks", "8", "whole number"),
    ("pue", "1.3", "valid number"), ("pue", True, "valid number"), ("pue", [1.3], "valid number"),
    ("cooling", "water", "'air' or 'liquid'"), ("feeds", "3N", "'N' or '2N'")])
def test_text_bools_and_fractions_are_refused_where_numbers_or_choices_belong(key: str, value: object,
                                                                                message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        PlanSite.model_validate(SITE | {key: value})


@pytest.mark.parametrize("key", sorted(k for k in NUMBER_RANGES if k in PlanSite.model_fields))
def test_site_ranges_are_enforced(key: str) -> None:
    low, high = NUMBER_RANGES[key]
    for outside in (low - 1, high + 1):
        with pytest.raises(ValidationError, match=re.escape(f"must be between {low:g} and {high:g}")):
            PlanSite.model_validate(SITE | {key: outside})
    assert PlanSite.model_validate(SITE | {key: high}) is not None


def test_finance_range_and_nulls() -> None:
    finance = PlanFinance.model_validate({"amortization_years": 5.0, "colocation_usd_per_kw_month": None,
                                          "budget_usd": None})
    assert finance.budget_usd is None
    with pytest.raises(ValidationError, match="must be between 0.01 and 100"):
        PlanFinance.model_validate({"amortization_years": 0})


@pytest.mark.parametrize("model", [PlanSite, WorkloadRow, PlanFinance, WhatIf, ObjectiveAlternative, Analysis])
def test_unknown_keys_are_refused(model: type) -> None:
    sample = {PlanSite: SITE, WorkloadRow: ROW, PlanFinance: {"amortization_years": 4.0}, WhatIf: WHAT_IF_1X,
              ObjectiveAlternative: {"objective": "min_tco", "status": "optimal", "tco_per_year_usd": 1.0,
                                     "it_power_max_w": 1.0, "it_power_nameplate_w": 1.0, "co2e_t_per_year": 1.0,
                                     "gpus": 8},
              Analysis: {"what_if": "done", "objective_alternatives": "done"}}[model]
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        model.model_validate(sample | {"made_up_kw": 1.0})


def test_workload_redundancy_is_an_int() -> None:
    row = WorkloadRow.model_validate(ROW | {"redundancy": 1.0})
    assert type(row.redundancy) is int and row.model_dump()["redundancy"] == 1


def test_a_1x_what_if_entry_gains_objective_delta_and_unit() -> None:
    entry = WhatIf.model_validate(WHAT_IF_1X)
    assert (entry.objective_delta, entry.objective_unit) == (-91129.4, "usd_per_year")
    dumped = entry.model_dump()
    assert dumped["objective_delta_usd_per_year"] == dumped["objective_delta"] == -91129.4
    assert not [k for k in dumped if k.startswith("objective_delta_") and k != "objective_delta_usd_per_year"]


@pytest.mark.parametrize("unit", sorted(set(OBJECTIVE_DELTA_UNITS.values())))
def test_a_2_0_what_if_entry_writes_the_1x_key_of_its_unit(unit: str) -> None:
    entry = WhatIf(limit="racks_total", constraint="racks_total", change="+1 rack", method="re-solve",
                   objective_delta=-3.0, objective_unit=unit)  # type: ignore[arg-type]
    assert entry.model_dump()[f"objective_delta_{unit}"] == -3.0
    assert WhatIf.model_validate(entry.model_dump()) == entry


def test_a_re_solve_without_an_answer_is_null_in_both_forms() -> None:
    entry = WhatIf.model_validate(WHAT_IF_1X | {"objective_delta_usd_per_year": None})
    assert entry.objective_delta is None and entry.model_dump()["objective_delta_usd_per_year"] is None


@pytest.mark.parametrize("bad", [
    WHAT_IF_1X | {"objective_unit": "w"},  # the 1.x key names another unit
    WHAT_IF_1X | {"objective_unit": "usd_per_year", "objective_delta": 5.0},  # the two forms disagree
    {k: v for k, v in WHAT_IF_1X.items() if k != "objective_delta_usd_per_year"},  # no delta at all
])
def test_inconsistent_what_if_forms_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        WhatIf.model_validate(bad)


def test_objective_alternative_gpus_is_an_int_even_from_a_solver_value() -> None:
    row = {"objective": "min_power", "status": "optimal", "tco_per_year_usd": 1.0, "it_power_max_w": 1.0,
           "it_power_nameplate_w": 1.0, "co2e_t_per_year": 1.0}
    assert ObjectiveAlternative.model_validate(row | {"gpus": 727.9999999}).gpus == 728
    with pytest.raises(ValidationError, match="fractional part"):
        ObjectiveAlternative.model_validate(row | {"gpus": 727.5})


def _plan_data() -> dict[str, Any]:
    return json.loads(PLAN_2.read_text(encoding="utf-8"))


def test_analysis_states_and_reason() -> None:
    skipped = Analysis(what_if="skipped", objective_alternatives="skipped", skipped_reason="--no-analysis was given")
    assert skipped.skipped and not Analysis(what_if="done", objective_alternatives="done").skipped
    with pytest.raises(ValidationError):
        Analysis.model_validate({"what_if": "maybe", "objective_alternatives": "done"})


def test_a_plan_built_without_analysis_derives_it_and_leaves_it_unset() -> None:
    """A plan builder that does not pass ``analysis`` still gets a plan; plan.io re-derives it on write."""
    data = _plan_data()
    del data["analysis"]
    plan = Plan.model_validate(data)
    assert plan.analysis == Analysis(what_if="done", objective_alternatives="done")
    assert "analysis" not in plan.model_fields_set
    bare = Plan.model_validate(data | {"what_if": [], "objective_alternatives": []})
    assert bare.analysis.skipped and bare.analysis.skipped_reason is None


def test_sections_still_read_like_1x_maps() -> None:
    """Callers written for the 1.x dicts (``plan.objective["value"]``, ``row.get("name")``) keep working."""
    plan = Plan.model_validate(_plan_data())
    assert plan.objective["value"] == plan.objective.value
    assert plan.workloads[0].get("name") == plan.workloads[0].name
    assert plan.site.get("made_up", "absent") == "absent" and "pue" in plan.site
    assert dict(plan.finance.items()) == plan.finance.model_dump()


def test_the_json_schema_describes_every_section() -> None:
    schema = Plan.model_json_schema()
    for name in ("PlanSite", "PlanFinance", "Objective", "WorkloadRow", "Assumption", "WhatIf",
                 "ObjectiveAlternative", "Analysis"):
        assert name in schema["$defs"]
    assert schema["$defs"]["PlanSite"]["properties"]["racks"]["anyOf"][0] == {"type": "integer"}
    assert schema["$defs"]["PlanSite"]["additionalProperties"] is False
    assert "analysis" in schema["required"]


@pytest.mark.parametrize(("section", "key", "value"), [
    ("totals", "capex_usd", "440000"), ("totals", "gpus", "8"), ("totals", "racks", 1.5),
    ("solver", "mip_gap", "0"), ("racks", "liquid_cooling_required", "no"), ("constraints", "binding", 1),
    ("deployments", "replicas", True)])
def test_every_section_is_typed_not_only_the_2_0_ones(section: str, key: str, value: object) -> None:
    data = _plan_data()
    target = data[section][0] if isinstance(data[section], list) else data[section]
    target[key] = value
    with pytest.raises(ValidationError, match=key):
        Plan.model_validate(data)
