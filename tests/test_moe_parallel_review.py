"""A MoE deployment of attention data-parallel ranks (dp) with its experts over ep GPUs, where a plan is read:
`planner check` re-derives it to what the plan builder wrote and names the deployment and the field of a
tampered ep or dp; `planner diff` words a layout change ("dp 2 -> 8, ep 2 -> 8"); the report, the solve
summary and ``Plan.frames()`` show the layout only where a deployment has one."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import yaml
from check_helpers import check_plan, fails, tampered

import planner.api
from planner.catalog import load_catalog
from planner.cli.solve_cmd import _summary
from planner.gitops.check import violations
from planner.gitops.diff import diff_plans, keyed_deployments
from planner.gitops.rederive import _moe_parallel_problems
from planner.gitops.render import render
from planner.plan.io import dump_plan
from planner.report.sections.workloads import config_table, workload_view
from planner.roadmap.check import _deployment_lines
from planner.schemas.plan import Plan, RoadmapPeriod

pytestmark = pytest.mark.integration

KEY = "agents-oss/h100-sxm/fp4/tp1"
SCENARIO: dict[str, Any] = {
    "name": "moe-dp-check", "objective": "min_tco",
    "hardware": {"gpus": ["h100-sxm", "a100-sxm-80gb"]},
    "workloads": [{"name": "agents-oss", "model": "gpt-oss-120b", "precisions": ["fp4", "fp8", "bf16"],
                   "traffic": {"peak_requests_per_s": 60, "average_requests_per_s": 24,
                               "input_tokens": {"mean": 2000, "p95": 6000},
                               "output_tokens": {"mean": 800, "p95": 2500}},
                   "slo": {"ttft_p95_ms": 2000, "itl_p95_ms": 40}, "max_tp": 1, "redundancy": 1}],
    "site": {"power_cap_kw": 400, "racks": 12, "rack_power_cap_kw": 50, "cooling": "liquid", "pue": 1.25,
             "electricity_usd_per_kwh": 0.1},
    "finance": {"amortization_years": 4, "colocation_usd_per_kw_month": 150}}
"""One gpt-oss-120b workload on H100/A100 at tp 1 (max_tp) in one N+1 pool (one deployment), for which the
optimizer picks dp 2 (asserted below) rather than more replicas of one GPU."""


@pytest.fixture(scope="module")
def solved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("moe-dp")
    scenario = folder / "scenario.yaml"
    scenario.write_text(yaml.safe_dump(SCENARIO), encoding="utf-8")
    plan = planner.api.solve(scenario)
    doc = json.loads(dump_plan(plan))
    d = doc["deployments"][0]
    assert len(doc["deployments"]) == 1 and d.get("dp") == 2 and d["ep"] == 2, d  # the fixture: a dp-2 plan
    return scenario, doc


def _plan(doc: dict[str, Any]) -> Plan:
    return Plan.model_validate(doc)




def _core_sees_the_layout() -> bool:
    """planner.candidates.generate.evaluate_configurations passes ep/dp on to the core (a dp-2 replica holds
    twice the GPUs of its tp-1 rank, so its num_gpus differs); requested of the lead in notes/requests-from-H18."""
    from planner.candidates.generate import evaluate_configurations
    from planner.problem.build import resolve_problem
    from planner.scenario.load import loaded_from_document

    raw = yaml.safe_dump(SCENARIO).encode()
    p = resolve_problem(loaded_from_document(SCENARIO, raw, Path("moe.yaml")), load_catalog())
    one = {"gpu": np.array(["h100-sxm"]), "precision": np.array(["fp4"]), "tp": np.ones(1), "pp": np.ones(1),
           "batch_size": np.array([8.0]), "prefill_chunk_tokens": np.array([2048.0])}
    two = {**one, "ep": np.array([2.0]), "dp": np.array([2.0])}
    a, b = (evaluate_configurations(p, p.workloads[0], c).mean["num_gpus"][0] for c in (one, two))
    return bool(a != b)


# -- check -------------------------------------------------------------------------------------------

def test_a_solved_data_parallel_plan_passes_check(capsys, tmp_path, solved):
    if not _core_sees_the_layout():
        pytest.xfail("evaluate_configurations drops ep/dp (planner/candidates/generate.py, requested of the lead)")
    scenario, doc = solved
    code, out = check_plan(capsys, scenario, doc, tmp_path)
    assert code == 0, out
    assert "EP/DP where recorded" in out


def test_the_plans_own_numbers_count_a_replica_as_tp_x_pp_x_dp(solved):
    _, doc = solved
    assert violations(_plan(doc)) == []
    wrong = tampered(doc, lambda d: d.update(gpus=d["replicas"] * d["tp"]))
    assert any(KEY in v and "x dp2" in v for v in violations(_plan(wrong)))


@pytest.mark.parametrize("edit", [lambda d: d.update(ep=1), lambda d: d.pop("ep")], ids=["ep-1", "ep-absent"])
def test_a_tampered_ep_fails_naming_the_deployment_and_the_field(capsys, tmp_path, solved, edit):
    scenario, doc = solved
    code, out = check_plan(capsys, scenario, tampered(doc, edit), tmp_path)
    assert code == 1
    assert fails(out, KEY, "ep 1 is not the expert parallelism of tp 1 x dp 2", "(ep 2"), out


def test_a_tampered_dp_fails_naming_the_deployment_and_the_field(capsys, tmp_path, solved):
    scenario, doc = solved
    code, out = check_plan(capsys, scenario, tampered(doc, lambda d: d.update(dp=4)), tmp_path)
    assert code == 1
    assert fails(out, KEY, "x dp4") and fails(out, KEY, "ep 2 is not", "dp 4"), out
    odd = tampered(doc, lambda d: d.update(dp=3, ep=3, gpus=d["replicas"] * 3))
    code, out = check_plan(capsys, scenario, odd, tmp_path)
    assert code == 1 and fails(out, KEY, "dp 3 is not a data parallelism candidate generation tries"), out


def test_a_plan_without_its_data_parallel_ranks_fails(capsys, tmp_path, solved):
    """The same batch on one tp-1 rank does not fit memory: the layout is what makes the plan hold."""
    scenario, doc = solved

    def plain(d: dict[str, Any]) -> None:
        d.pop("ep"), d.pop("dp")
        d["gpus"] = d["replicas"] * d["tp"]
    code, out = check_plan(capsys, scenario, tampered(doc, plain), tmp_path)
    assert code == 1 and fails(out, KEY, "batch_size"), out


def test_the_layout_rules_of_candidate_generation():
    catalog = load_catalog()
    moe, dense = catalog.model("gpt-oss-120b"), catalog.model("llama-3.1-8b")
    w = SimpleNamespace(speculative=None)
    base = dict(workload="w", model="gpt-oss-120b", gpu="h100-sxm", precision="fp4", tp=2, pp=1, batch_size=64,
                role=None)

    def problems(model: Any, **kw: Any) -> list[str]:
        return _moe_parallel_problems(SimpleNamespace(**{**base, **kw}), w, model, 8)  # type: ignore[arg-type]
    assert problems(moe, ep=None, dp=None) == [] and problems(moe, ep=8, dp=4) == []
    assert "no routed experts" in problems(dense, ep=4, dp=2)[0]
    assert "exceed one h100-sxm server's 8" in problems(moe, ep=16, dp=8)[0]
    assert "single-stage" in problems(moe, ep=4, dp=2, pp=2)[0]
    assert "without a sequence" in problems(moe, ep=16, dp=8, tp=1, batch_size=4)[0]
    assert "a decode pool" in problems(moe, ep=4, dp=2, role="decode")[0]
    assert "ep 8 is not" in problems(moe, ep=8, dp=None)[0]  # experts spread without dp: not a grid layout


def test_roadmap_periods_count_a_replica_as_tp_x_pp_x_dp(solved):
    _, doc = solved
    d = _plan(doc).deployments[0]
    period = RoadmapPeriod.model_construct(label="Q1", deployments=[d])
    assert _deployment_lines("Q1", period) == []
    wrong = RoadmapPeriod.model_construct(label="Q1", deployments=[d.model_copy(update={"dp": 4})])
    assert any(KEY in line and "x dp4" in line for line in _deployment_lines("Q1", wrong))


# -- diff --------------------------------------------------------------------------------------------

def test_diff_words_a_layout_change_in_every_format(solved):
    _, doc = solved
    base = _plan(doc)
    wider = _plan(tampered(doc, lambda d: d.update(dp=8, ep=8, gpus=d["replicas"] * 8)))
    diff = diff_plans(base, wider)
    assert [c.action for c in diff.deployments] == ["change"]
    added = doc["deployments"][0]["replicas"] * 6
    for fmt in ("text", "md", "github-comment"):
        assert f"~ {KEY}: dp 2 -> 8, ep 2 -> 8 (+{added} GPUs)" in render(diff, fmt), fmt
    plain = _plan(tampered(doc, lambda d: [d.pop("dp"), d.pop("ep"), d.update(gpus=d["replicas"])]))
    assert "dp 2 -> 1, ep 2 -> 1" in render(diff_plans(base, plain), "text")
    assert json.loads(render(diff, "json"))["deployments"][0]["changes"]["dp"] == {"before": 2, "after": 8}
    n = doc["deployments"][0]["replicas"]
    assert f"{n} replicas ({2 * n} GPUs), dp 2, ep 2, batch" in render(diff_plans(None, base), "text")


def test_diff_reads_no_layout_as_one(solved):
    _, doc = solved
    ones = tampered(doc, lambda d: d.update(ep=1, dp=1, gpus=d["replicas"]))
    absent = tampered(doc, lambda d: [d.pop("ep"), d.pop("dp"), d.update(gpus=d["replicas"])])
    assert not diff_plans(_plan(ones), _plan(absent)).changed


def test_one_configuration_at_two_layouts_keeps_two_keys(solved):
    _, doc = solved
    two = json.loads(json.dumps(doc))
    plain = {k: v for k, v in two["deployments"][0].items() if k not in ("ep", "dp")}
    two["deployments"].append({**plain, "gpus": plain["replicas"]})
    keys = sorted(keyed_deployments(_plan(two)))  # same batch and power limit: /bs and /pl do not tell them apart
    assert len(keys) == 2 and [k.rsplit("/", 1)[1] for k in keys] == ["dp1", "dp2"]


# -- report, solve summary, frames -------------------------------------------------------------------

def test_report_shows_the_layout_only_where_a_deployment_has_one(solved):
    _, doc = solved
    plan = _plan(doc)
    layout = config_table(plan, [0])
    assert layout.columns[5:7] == ["DP", "EP"] and [c.text for c in layout.rows[0][5:7]] == ["2", "2"]
    view = workload_view(plan, "agents-oss")
    assert "2 attention data-parallel ranks of tp 1, experts over 2 GPUs (ep 2)" in view["deployments"][0]["title"]
    plain = _plan(tampered(doc, lambda d: [d.pop("ep"), d.pop("dp")]))
    assert "DP" not in config_table(plain, [0]).columns
    assert "data-parallel" not in workload_view(plain, "agents-oss")["deployments"][0]["title"]


def test_solve_summary_has_a_dp_ep_column_only_when_needed(solved):
    _, doc = solved
    lines = _summary(_plan(doc)).splitlines()
    header = next(line for line in lines if line.startswith("workload"))
    row = next(line for line in lines if line.startswith("agents-oss"))
    assert header.split()[5] == "dp/ep" and row.split()[5] == "2/2"
    plain = _plan(tampered(doc, lambda d: [d.pop("ep"), d.pop("dp")]))
    assert "dp/ep" not in _summary(plain)


def test_frames_carry_ep_and_dp(solved):
    _, doc = solved
    frame = _plan(doc).frames()["deployments"]
    assert frame.loc[0, "dp"] == 2 and frame.loc[0, "ep"] == 2
    assert frame.loc[0, "gpus"] == frame.loc[0, "replicas"] * frame.loc[0, "tp"] * frame.loc[0, "dp"]
