"""Bad roadmap input gets one message naming the key path and the fix; labels and traffic per period."""

from __future__ import annotations

from pathlib import Path

import pytest
from roadmap_helpers import roadmap, scenario

from planner.errors import InputError
from planner.roadmap.problem import labels
from planner.schemas.roadmap import Horizon

pytestmark = pytest.mark.unit


def _message(tmp_path: Path, **changes: object) -> str:
    with pytest.raises(InputError) as exc:
        roadmap(tmp_path, scenario(**changes))
    return exc.value.render()


def test_site_changes_out_of_order_name_the_key_path(tmp_path: Path) -> None:
    site = [{"from_period": 3, "power_cap_kw": 300}, {"from_period": 2, "power_cap_kw": 400}]
    text = _message(tmp_path, horizon={"count": 3, "site": site})
    assert "horizon.site[1].from_period: periods out of order" in text
    assert "period order" in text


def test_a_growth_that_overflows_names_the_key_path(tmp_path: Path) -> None:
    text = _message(tmp_path, horizon={"count": 12, "traffic": {"chat": {"growth_per_period": 90}}})
    assert "horizon.traffic.chat.growth_per_period: a growth of 90 per period compounds to" in text
    assert "lower the growth" in text


def test_an_owned_gpu_not_in_the_catalog_names_the_key_path(tmp_path: Path) -> None:
    owned = [{"gpu": "h100-sxn", "servers": 1, "remaining_life_periods": 2}]
    text = _message(tmp_path, hardware={"gpus": ["h100-sxm"], "owned": owned})
    assert "hardware.owned[0].gpu: GPU 'h100-sxn' is not in the catalog" in text
    assert "h100-sxm" in text  # did you mean


def test_a_lead_time_longer_than_the_horizon_names_the_key_path(tmp_path: Path) -> None:
    text = _message(tmp_path, hardware={"gpus": ["h100-sxm"], "lead_time_periods": 3})
    assert "hardware.lead_time_periods: a lead time of 3 periods is not shorter than the horizon of 3" in text
    assert "use at most 2" in text


def test_explicit_traffic_of_the_wrong_length_names_the_key_path(tmp_path: Path) -> None:
    text = _message(tmp_path, horizon={"count": 3, "traffic": {"chat": {"peak_requests_per_s": [1, 2]}}})
    assert "horizon.traffic.chat.peak_requests_per_s: 2 values for 3 periods" in text


def test_traffic_of_an_unknown_workload_names_the_key_path(tmp_path: Path) -> None:
    text = _message(tmp_path, horizon={"count": 3, "traffic": {"chta": {"growth_per_period": 0.1}}})
    assert "horizon.traffic.chta: no enabled workload named 'chta'" in text


def test_growth_compounds_from_the_workload_start(tmp_path: Path) -> None:
    r = roadmap(tmp_path, scenario(horizon={"count": 3, "traffic": {"chat": {"growth_per_period": 0.5}}}))
    assert [p.problem.workload("chat").peak_requests_per_s for p in r.periods] == pytest.approx([20, 30, 45])
    ratio = [p.problem.workload("chat").average_to_peak for p in r.periods]
    assert ratio == pytest.approx([0.5] * 3)


def test_site_changes_and_prices_apply_from_their_period(tmp_path: Path) -> None:
    horizon = {"count": 3, "site": [{"from_period": 2, "power_cap_kw": 900}],
               "gpu_prices": {"h100-sxm": {"change_per_period": -0.1}}}
    r = roadmap(tmp_path, scenario(horizon=horizon))
    assert [p.problem.site.power_cap_w for p in r.periods] == [200e3, 900e3, 900e3]
    prices = [p.problem.gpu("h100-sxm").gpu_price_usd for p in r.periods]
    assert prices[1] == pytest.approx(prices[0] * 0.9) and prices[2] == pytest.approx(prices[0] * 0.81)


def test_discount_factors_fall_with_the_period(tmp_path: Path) -> None:
    r = roadmap(tmp_path, scenario(finance={"amortization_years": 4, "discount_rate_per_year": 0.1},
                                   horizon={"period": "quarter", "count": 5}))
    assert r.periods[0].discount == 1.0
    assert r.periods[4].discount == pytest.approx(1 / 1.1)


def test_labels_count_on_from_the_start() -> None:
    assert labels(Horizon(period="quarter", count=3, start="2027-Q3")) == ("2027-Q3", "2027-Q4", "2028-Q1")
    assert labels(Horizon(period="month", count=2, start="2027-12")) == ("2027-12", "2028-01")
    assert labels(Horizon(count=2)) == ("P1", "P2")


def test_owned_gpus_must_be_whole_servers(tmp_path: Path) -> None:
    owned = [{"gpu": "h100-sxm", "gpus": 12, "remaining_life_periods": 2}]
    text = _message(tmp_path, hardware={"gpus": ["h100-sxm"], "owned": owned})
    assert "hardware.owned[0].gpus: 12 GPUs are not whole" in text


def test_single_period_plans_keep_their_bytes() -> None:
    """The roadmap keys (plan periods, finance.discount_rate_per_year) are left out of a single-period plan."""
    from planner.plan.io import dump_plan, load_plan

    plans = sorted((Path(__file__).resolve().parents[1] / "plans").glob("*/plan.json"))
    assert plans
    for path in plans:
        text = path.read_text()
        assert dump_plan(load_plan(path), keep_solve_time=True) == text
        assert '"periods"' not in text and "discount_rate_per_year" not in text


def test_a_scenario_without_horizon_is_one_period(tmp_path: Path) -> None:
    from roadmap_helpers import write

    from planner.scenario.load import load_scenario

    doc = {k: v for k, v in scenario().items() if k != "horizon"}
    assert not load_scenario(write(tmp_path, doc)).is_roadmap
    assert load_scenario(write(tmp_path, scenario())).is_roadmap


def test_slo_changes_apply_from_their_period(tmp_path: Path) -> None:
    slo = [{"from_period": 2, "workload": "chat", "itl_p95_ms": 25}]
    r = roadmap(tmp_path, scenario(horizon={"count": 3, "slo": slo}))
    assert [p.problem.workload("chat").slo.itl_p95_s for p in r.periods] == pytest.approx([0.05, 0.025, 0.025])


def test_a_workload_that_stops_leaves_the_later_periods(tmp_path: Path) -> None:
    r = roadmap(tmp_path, scenario(workloads=[*scenario()["workloads"], {
        "name": "pilot", "model": "llama-3.1-8b", "precisions": ["fp8"],
        "traffic": {"peak_requests_per_s": 2, "input_tokens": 500, "output_tokens": 200}}],
        horizon={"count": 3, "traffic": {"pilot": {"stop_period": 1}}}))
    assert [[w.name for w in p.problem.workloads] for p in r.periods] == [["chat", "pilot"], ["chat"], ["chat"]]


DAY = [0.2] * 6 + [0.6] * 6 + [1.0] * 6 + [0.6] * 6  # a day whose mean is 0.6 of the peak


def test_a_daily_shape_sets_the_average_traffic_of_every_period(tmp_path: Path) -> None:
    r = roadmap(tmp_path, scenario(horizon={"count": 3, "traffic": {"chat": {"growth_per_period": 1.0,
                                                                              "daily_shape": DAY}}}))
    for period in r.periods:
        w = period.problem.workload("chat")
        assert w.average_requests_per_s == pytest.approx(0.6 * w.peak_requests_per_s)


@pytest.mark.parametrize(("shape", "problem"), [(DAY[:23], "23 factors, not one per hour"),
                                                ([0.8] * 24, "factors from 0.8 to 0.8"),
                                                ([*DAY[:23], 1.5], "factors from 0.2 to 1.5")])
def test_a_bad_daily_shape_names_the_key_path(tmp_path: Path, shape: list[float], problem: str) -> None:
    text = _message(tmp_path, horizon={"count": 2, "traffic": {"chat": {"daily_shape": shape}}})
    assert f"horizon.traffic.chat.daily_shape: {problem}" in text


def test_an_owned_gpu_without_a_server_block_names_the_block_to_add(tmp_path: Path) -> None:
    from roadmap_helpers import write

    from planner.catalog.loader import load_catalog
    from planner.roadmap.problem import resolve_roadmap
    from planner.scenario.load import load_scenario

    folder = tmp_path / "cat"
    folder.mkdir()
    (folder / "mine.yaml").write_text(
        "schema_version: 1\ngpus:\n  - id: my-card\n    name: My card\n    vendor: nvidia\n    architecture: ampere\n"
        "    segment: workstation\n    form_factor: pcie\n    memory_gib: 48\n    memory_bandwidth_tb_per_s: 0.768\n"
        "    peak_tflops: {bf16: 154.8, fp16: 154.8}\n    tdp_w: 300\n    idle_w: 25\n"
        "    interconnect: {kind: pcie4, bandwidth_gb_per_s: 32, latency_us: 20}\n    source: test\n",
        encoding="utf-8")
    owned = [{"gpu": "my-card", "gpus": 8, "remaining_life_periods": 2}]
    doc = scenario(hardware={"gpus": ["h100-sxm"], "owned": owned})
    with pytest.raises(InputError) as exc:
        resolve_roadmap(load_scenario(write(tmp_path, doc)), load_catalog([folder]))
    text = exc.value.render()
    assert "hardware.owned[0].gpu: my-card has no `server:` block" in text and "add `server:" in text
