"""The sweep file's schema, key paths, the seeded variants, the table's text and the report: pure, no solve."""

from __future__ import annotations

import copy
import itertools
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from planner.sweep import report
from planner.sweep.keys import key_path_problem, merge, overlapping, patch_of
from planner.sweep.spec import MAX_VARIANTS, SweepSpec
from planner.sweep.table import cell, to_csv
from planner.sweep.variants import expand

pytestmark = pytest.mark.unit

DOC: dict[str, Any] = {
    "name": "s", "workloads": [{"name": "chat", "model": "m", "traffic": {"peak_requests_per_s": 30}},
                               {"name": "code", "model": "m", "traffic": {"peak_requests_per_s": 5}}],
    "site": {"pue": 1.3}}


def spec(**kw: Any) -> SweepSpec:
    return SweepSpec.model_validate({"scenario": "s.yaml", **kw})


def errors(data: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as exc:
        SweepSpec.model_validate({"scenario": "s.yaml", **data})
    return str(exc.value)


# --- schema -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("data", "says"), [
    ({}, "nothing varies"),
    ({"grid": {"site.pue": []}}, "has no values"),
    ({"grid": {"site.pue": [1.2]}, "sample": {"n": 2, "seed": 1, "vary": {"site.pue": {"normal": {"mean": 1.3,
                                                                                                   "sd": 0.1}}}}},
     "both in grid and in sample.vary"),
    ({"sample": {"n": 2, "seed": 1, "vary": {"site.pue": {}}}}, "exactly one of"),
    ({"sample": {"n": 2, "seed": 1, "vary": {"site.pue": {"uniform": {"low": 1, "high": 2},
                                                           "normal": {"mean": 1, "sd": 1}}}}}, "got uniform, normal"),
    ({"sample": {"n": 2, "seed": 1, "vary": {"site.pue": {"uniform": {"low": 2, "high": 1}}}}}, "must be above low"),
    ({"sample": {"n": 2, "seed": 1, "vary": {"site.pue": {"normal": {"mean": 1, "sd": 0}}}}}, "greater than 0"),
    ({"sample": {"n": 2, "seed": 1, "vary": {"site.pue": {"triangular": {"low": 1, "mode": 3, "high": 2}}}}},
     "low <= mode <= high"),
    ({"sample": {"n": 2, "seed": 1, "vary": {"hardware.gpus": {"choice": {"values": [["h100"]], "weights": [1, 2]}}}}},
     "2 weights for 1 values"),
    ({"sample": {"n": 2, "vary": {"site.pue": {"normal": {"mean": 1, "sd": 1}}}}}, "seed"),
    ({"grid": {"site.pue": [1.2]}, "smaple": {}}, "Extra inputs are not permitted"),
    ({"grid": {f"site.k{i}": list(range(10)) for i in range(6)}}, f"more than the {MAX_VARIANTS:,}"),
])
def test_bad_sweep_files_are_refused_with_the_reason(data: dict[str, Any], says: str) -> None:
    assert says in errors(data)


def test_key_paths_are_the_grid_then_the_sampled_ones_as_written() -> None:
    s = spec(grid={"site.pue": [1.2], "finance.amortization_years": [3, 5]},
             sample={"n": 4, "seed": 0, "vary": {"site.electricity_usd_per_kwh": {"uniform": {"low": 0, "high": 1}}}})
    assert s.key_paths == ["site.pue", "finance.amortization_years", "site.electricity_usd_per_kwh"]
    assert s.variant_count == 8


# --- key paths ----------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["site.pue", "site.electricity_usd_per_kwh",
                                  "workloads.chat.traffic.peak_requests_per_s", "workloads.code.slo.itl_p95_ms",
                                  "finance.gpu_prices_usd.b200", "hardware.gpus",
                                  "hardware.inventory.h100-sxm", "hardware.servers.h200.price_usd", "objective",
                                  "workloads.chat"])
def test_key_paths_that_address_the_scenario(path: str) -> None:
    assert key_path_problem(path, DOC) is None


@pytest.mark.parametrize(("path", "says"), [
    ("site.puee", "did you mean `pue`?"),
    ("sit.pue", "did you mean `site`?"),
    ("workloads.chta.traffic.peak_requests_per_s", "no workload named 'chta' in the scenario (did you mean `chat`?"),
    ("site.pue.value", "site.pue is a value"),
    ("hardware.gpus.0", "hardware.gpus is a value"),
    ("overrides.x.site", "cannot vary `overrides`"),
    ("site..pue", "empty segment"),
    ("workloads.chat.traffic.peak_request_per_s", "did you mean `peak_requests_per_s`?"),
])
def test_bad_key_paths_say_what_is_wrong_and_how_to_fix_it(path: str, says: str) -> None:
    problem = key_path_problem(path, DOC)
    assert problem is not None and says in problem


def test_a_key_path_inside_another_is_found() -> None:
    assert overlapping(["site", "finance.budget_usd", "site.pue"]) == ("site", "site.pue")
    assert overlapping(["site.pue", "site.pue_category"]) is None


def test_values_merge_as_an_override_does_and_leave_the_base_untouched() -> None:
    base = copy.deepcopy(DOC)
    doc = merge(base, patch_of({"workloads.code.traffic.peak_requests_per_s": 9, "site.pue": 1.5,
                                "finance.gpu_prices_usd.b200": 40000}))
    assert base == DOC
    assert doc["workloads"][1]["traffic"] == {"peak_requests_per_s": 9}
    assert doc["workloads"][0] == DOC["workloads"][0]
    assert doc["site"] == {"pue": 1.5}
    assert doc["finance"] == {"gpu_prices_usd": {"b200": 40000}}


# --- variants -----------------------------------------------------------------------------------

SAMPLED = {"n": 5, "seed": 7, "vary": {"finance.gpu_prices_usd.b200": {"lognormal": {"median": 38000, "sigma": 0.15}},
                                       "site.pue": {"triangular": {"low": 1.1, "mode": 1.3, "high": 1.6}}}}


def test_variants_are_every_grid_combination_times_the_draws_in_a_stable_order() -> None:
    s = spec(grid={"site.electricity_usd_per_kwh": [0.08, 0.2], "objective": ["min_tco", "min_power"]},
             sample=SAMPLED)
    vs = expand(s)
    assert [v.index for v in vs] == list(range(20))
    grid = [(v.as_dict["site.electricity_usd_per_kwh"], v.as_dict["objective"]) for v in vs[::5]]
    assert grid == [(0.08, "min_tco"), (0.08, "min_power"), (0.2, "min_tco"), (0.2, "min_power")]
    assert [list(v.as_dict) for v in vs[:1]] == [s.key_paths]


def test_the_same_seed_gives_the_same_draws_and_another_seed_others() -> None:
    a, b = expand(spec(sample=SAMPLED)), expand(spec(sample=SAMPLED))
    assert [v.values for v in a] == [v.values for v in b]
    other = expand(spec(sample={**SAMPLED, "seed": 8}))
    assert [v.values for v in a] != [v.values for v in other]


def test_every_grid_point_gets_the_same_draws() -> None:
    vs = expand(spec(grid={"site.electricity_usd_per_kwh": [0.08, 0.2]}, sample=SAMPLED))
    prices = [v.as_dict["finance.gpu_prices_usd.b200"] for v in vs]
    assert prices[:5] == prices[5:]
    assert len(set(prices[:5])) == 5


def test_adding_a_sampled_key_path_keeps_the_draws_before_it() -> None:
    one = {**SAMPLED, "vary": {"finance.gpu_prices_usd.b200": SAMPLED["vary"]["finance.gpu_prices_usd.b200"]}}
    first = [v.as_dict["finance.gpu_prices_usd.b200"] for v in expand(spec(sample=one))]
    both = [v.as_dict["finance.gpu_prices_usd.b200"] for v in expand(spec(sample=SAMPLED))]
    assert first == both


def test_draws_stay_in_their_support_and_are_rounded_as_plans_write_numbers() -> None:
    s = spec(sample={"n": 400, "seed": 3, "vary": {
        "site.pue": {"triangular": {"low": 1.1, "mode": 1.3, "high": 1.6}},
        "site.electricity_usd_per_kwh": {"uniform": {"low": 0.05, "high": 0.3}},
        "finance.gpu_prices_usd.b200": {"lognormal": {"median": 38000, "sigma": 0.15}}}})
    vs = expand(s)
    pue = [v.as_dict["site.pue"] for v in vs]
    usd = [v.as_dict["site.electricity_usd_per_kwh"] for v in vs]
    price = sorted(v.as_dict["finance.gpu_prices_usd.b200"] for v in vs)
    assert min(pue) >= 1.1 and max(pue) <= 1.6
    assert min(usd) >= 0.05 and max(usd) <= 0.3
    assert 30000 < price[len(price) // 2] < 46000  # the median of a lognormal is its `median`
    assert all(float(f"{x:.6g}") == x for x in pue + usd + price)


def test_choice_follows_its_weights_and_keeps_the_values_as_written() -> None:
    gpus = {"choice": {"values": [["h100-sxm"], ["b200", "h200"]], "weights": [0, 1]}}
    s = spec(sample={"n": 50, "seed": 1, "vary": {"hardware.gpus": gpus}})
    assert {tuple(v.as_dict["hardware.gpus"]) for v in expand(s)} == {("b200", "h200")}
    s = spec(sample={"n": 200, "seed": 1, "vary": {"objective": {"choice": {"values": ["min_tco", "min_power"]}}}})
    assert {v.as_dict["objective"] for v in expand(s)} == {"min_tco", "min_power"}


# --- table and report -----------------------------------------------------------------------------

def record(i: int, status: str = "optimal", **figures: Any) -> dict[str, Any]:
    planned = status == "optimal"
    f = {"gpus_by_type": {"b200": 8 + i} if planned else {}, "gpus": 8 + i, "servers": 1, "racks": 1,
         "it_power_nameplate_w": 14300.0, "it_power_max_w": 6674.96 + i, "capex_usd": 396585.0,
         "tco_per_year_usd": 105051.0 + 1000 * i, "joules_per_output_token": 1.11249,
         "usd_per_million_tokens": 0.925319, "configurations": "chat:b200/fp8/tp1pp1/b96x5", **figures}
    return {"variant": i, "values": {"site.pue": 1.2 + i / 10, "hardware.gpus": ["b200"]}, "status": status,
            "reason": "" if planned else "scenario 's' is infeasible\nsite power cap 1 kW <b>|too low|</b>",
            "figures": f if planned else {}, "input_sha256": "0" * 64, "plan_sha256": None}


def test_cells_are_the_same_text_everywhere() -> None:
    assert [cell(None), cell(True), cell(3), cell(0.1 + 0.2), cell(123456789.0), cell("a,b"), cell(["x", "y"])] == \
        ["", "true", "3", "0.3", "123457000.0", "a,b", '["x","y"]']


def test_csv_has_one_row_per_variant_in_order_with_empty_cells_where_no_plan() -> None:
    text = to_csv(["site.pue", "hardware.gpus"], [record(0), record(1, "infeasible"), record(2)])
    lines = text.splitlines()
    assert lines[0].startswith("variant,site.pue,hardware.gpus,status,gpus_b200,gpus,servers,racks,")
    assert [line.split(",")[0] for line in lines[1:4]] == ["0", "1", "2"]
    assert ',"[""b200""]",infeasible,,,,,' in lines[2]
    assert lines[2].endswith(",scenario 's' is infeasible; site power cap 1 kW <b>|too low|</b>")
    assert len(lines) == 4
    assert text == to_csv(["site.pue", "hardware.gpus"], [record(0), record(1, "infeasible"), record(2)])


def test_report_bands_counts_and_reasons_are_escaped_and_stable() -> None:
    s = spec(grid={"site.pue": [1.2, 1.3, 1.4]})
    records = [record(i) for i in range(10)] + [record(10, "infeasible")]
    md = report.render(s, "x.yaml", records, "md")
    html = report.render(s, "x.yaml", records, "html")
    assert md == report.render(s, "x.yaml", records, "md") and html == report.render(s, "x.yaml", records, "html")
    assert "| GPUs | 9 | 12 | 16 | 8 | 17 |" in md  # P10/P50/P90 of 8..17 by linear interpolation
    assert "| b200 | 10 | 100.0 % | 12 |" in md
    assert "| chat:b200/fp8/tp1pp1/b96 | 10 | 100.0 % |" in md
    assert "<b>" not in html and "&lt;b&gt;|too low|&lt;/b&gt;" in html
    assert "\\<b\\>\\|too low\\|\\</b\\>" in md


@settings(max_examples=40, deadline=None)
@given(grid=st.dictionaries(st.sampled_from(["site.pue", "site.racks", "objective", "finance.budget_usd"]),
                            st.lists(st.integers(0, 9), min_size=1, max_size=4), min_size=0, max_size=3),
       n=st.integers(1, 5), seed=st.integers(0, 2**32))
def test_variants_are_the_grid_product_times_n_each_seeded_draw_once(grid: dict[str, list[int]], n: int,
                                                                     seed: int) -> None:
    sample = {"n": n, "seed": seed, "vary": {"site.electricity_usd_per_kwh": {"uniform": {"low": 0.05, "high": 0.3}}}}
    s = spec(grid=grid, sample=sample)
    vs = expand(s)
    assert len(vs) == s.variant_count == math.prod(len(v) for v in grid.values()) * n
    assert [v.index for v in vs] == list(range(len(vs)))
    combos = list(itertools.product(*grid.values()))
    assert [tuple(dict(v.values)[k] for k in grid) for v in vs[::n]] == combos
    draws = [v.as_dict["site.electricity_usd_per_kwh"] for v in vs]
    assert draws == draws[:n] * len(combos)
    assert [v.values for v in expand(s)] == [v.values for v in vs]
