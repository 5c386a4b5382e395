"""Energy and FLOPs by phase and cause in plans and reports (issue 14 item 1): each deployment of a solved
plan carries them, on the basis its docstring states (GPU only, the deployment's batch with every slot
busy), equal to `planner.estimate` at the same configuration; the report shows them, escaped."""

from __future__ import annotations

from pathlib import Path

import pytest

import planner
from planner.plan import load_plan
from planner.report import render_report
from planner.schemas.plan import Plan
from planner.units import J_PER_KWH

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
CAUSES = ("static", "memory", "compute", "communication")


@pytest.fixture(scope="module")
def chatbot() -> Plan:
    return planner.solve(str(ROOT / "scenarios/chatbot.yaml"))


def test_each_deployment_carries_consistent_phase_figures(chatbot: Plan) -> None:
    for d in chatbot.deployments:
        parts = d.energy_breakdown_j_per_token
        assert parts is not None and all(getattr(parts, c) >= 0 for c in CAUSES)
        total_j = sum(getattr(parts, c) for c in CAUSES)
        assert d.kwh_per_million_output_tokens == pytest.approx(total_j * 1e6 / J_PER_KWH, rel=1e-9)
        assert d.output_tokens_per_s_per_w == pytest.approx(1.0 / total_j, rel=1e-6)  # W / (tok/s) = J/token
        assert d.prefill_flops is not None and d.decode_flops_per_token is not None
        assert d.prefill_flops > d.decode_flops_per_token > 0
        assert d.prefill_energy_j is not None and d.prefill_energy_j > 0
        # GPU only: below the plan's IT energy per token, which adds the servers' share
        assert total_j < d.energy_per_output_token_j


def test_phase_figures_equal_the_estimate_of_the_same_configuration(chatbot: Plan) -> None:
    for d in chatbot.deployments:
        w = next(w for w in chatbot.workloads if w.name == d.workload)
        e = planner.estimate(d.model, d.gpu, precision=d.precision, tp=d.tp, pp=d.pp, batch_size=d.batch_size,
                             input_tokens=w.input_tokens_mean, output_tokens=w.output_tokens_mean, engine=d.engine,
                             prefill_chunk_tokens=d.prefill_chunk_tokens,
                             power_limit_w=getattr(d, "power_limit_w", None))
        parts = d.energy_breakdown_j_per_token
        assert parts is not None
        for c in CAUSES:
            assert getattr(parts, c) == pytest.approx(e.energy_breakdown_j_per_token[c], rel=1e-9, abs=1e-12)
        assert d.prefill_flops == pytest.approx(e.prefill_flops, rel=1e-9)
        assert d.decode_flops_per_token == pytest.approx(e.decode_flops_per_token, rel=1e-9)
        assert d.decode_energy_per_token_j == pytest.approx(e.decode_energy_per_token_j, rel=1e-9)
        assert d.output_tokens_per_s_per_w == pytest.approx(e.output_tokens_per_s_per_w, rel=1e-9)


def test_reports_show_the_section_and_escape_names(chatbot: Plan) -> None:
    hostile = chatbot.model_copy(update={"deployments": [
        d.model_copy(update={"workload": "<script>alert(1)</script>|x"}) for d in chatbot.deployments]})
    md = render_report(hostile, "md")
    html = render_report(hostile, "html")
    assert "### Energy and FLOPs by phase and cause" in md and "<h3>Energy and FLOPs by phase and cause</h3>" in html
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;|x on" in html
    assert "\\|x on" in md  # a pipe in a name does not break the Markdown table


def test_a_plan_written_before_the_figures_has_no_section() -> None:
    plan = load_plan(ROOT / "tests/fixtures/report/chatbot.plan.json")
    assert all(d.energy_breakdown_j_per_token is None for d in plan.deployments)
    assert "Energy and FLOPs by phase" not in render_report(plan, "md")
    assert "Energy and FLOPs by phase" not in render_report(plan, "html")
