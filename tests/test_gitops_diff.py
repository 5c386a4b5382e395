"""`planner diff` logic and renderings: keys, +/-/~ lines, total deltas, binding constraints, goldens.

Goldens live in tests/fixtures/gitops/golden/; rewrite them with UPDATE_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
from pathlib import Path

import pytest

import planner.gitops
from planner.gitops.diff import diff_plans, keyed_deployments
from planner.gitops.render import COMMENT_MARKER, MAX_COMMENT_LINES, deployment_line, render
from planner.plan.io import dump_plan, load_plan

FIXTURES = Path(__file__).parent / "fixtures" / "gitops"
GOLDEN = FIXTURES / "golden"


def _plan(name: str):
    return load_plan(FIXTURES / f"{name}.json")


@pytest.fixture
def base():
    return _plan("chatbot-base")


@pytest.fixture
def head():
    return _plan("chatbot-head")


def _with_deployments(plan, deployments):
    return plan.model_copy(update={"deployments": deployments})


def test_fixture_plans_are_what_their_generator_writes():
    spec = importlib.util.spec_from_file_location("make_plans", FIXTURES / "make_plans.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    hint = "the plan schema changed: run `python tests/fixtures/gitops/make_plans.py` and review the diff"
    for name in module.PLANS:
        committed = (FIXTURES / f"{name}.json").read_text(encoding="utf-8")
        assert dump_plan(module.build_plan(name)) == committed, hint


def test_a_plan_against_itself_has_no_changes(base):
    diff = diff_plans(base, base)
    assert not diff.changed and diff.deployments == ()
    assert "No changes" in render(diff, "text")
    assert "no changes" in render(diff, "md")
    assert json.loads(render(diff, "json"))["changed"] is False


def test_doubled_traffic_adds_gpus_and_kw(base):
    diff = diff_plans(base, _plan("chatbot-doubled"))
    [change] = diff.deployments
    assert deployment_line(change).startswith("~ chat/h100-sxm/fp8/tp4: replicas 6 -> 12 (+24 GPUs)")
    assert diff.total("gpus").delta == 24 and diff.total("racks").delta == 1
    # chat 48 x (560 + 240 x 20/30) W - 24 x (560 + 240 x 10/15) W = 34,560 W - 17,280 W
    assert diff.total("it_power_max_w").delta == pytest.approx(17_280.0, rel=1e-5)
    assert diff.binding_appeared == ("rack_power_h100-sxm-r02",) and diff.binding_gone == ()


def test_added_removed_and_changed_deployments(base, head):
    diff = diff_plans(base, head)
    lines = [deployment_line(c) for c in diff.deployments]
    assert lines == [
        "~ chat/h100-sxm/fp8/tp4: replicas 6 -> 8 (+8 GPUs), demand 10 req/s -> 13.5 req/s, "
        "TTFT p95 620 ms -> 640 ms, max power 17.3 kW -> 23.1 kW",
        "+ code/h100-sxm/fp8/tp2: qwen2.5-32b, 2 replicas (4 GPUs), batch 16, max power 3.0 kW",
        "+ summarize/h100-sxm/bf16/tp1: llama-3.1-8b, 5 replicas (5 GPUs), batch 64, max power 3.8 kW",
        "- summarize/h100-sxm/fp8/tp1: llama-3.1-8b, 4 replicas (4 GPUs), batch 64, max power 3.0 kW",
    ]
    assert (diff.count("add"), diff.count("change"), diff.count("remove")) == (2, 1, 1)
    assert sum(c.gpus_delta for c in diff.deployments) == diff.total("gpus").delta == 13


def test_total_deltas_and_percentages(base, head):
    capex = diff_plans(base, head).total("capex_usd")
    assert (capex.before, capex.after, capex.delta) == (1_240_000.0, 1_830_000.0, 590_000.0)
    assert capex.delta_pct == pytest.approx(47.58, abs=0.01)


def test_key_has_pp_only_when_pipelined_and_batch_only_when_needed(base):
    chat = base.deployments[0]
    plan = _with_deployments(base, [chat, chat.model_copy(update={"batch_size": 16}),
                                    chat.model_copy(update={"pp": 2, "gpus": 48})])
    assert sorted(keyed_deployments(plan)) == ["chat/h100-sxm/fp8/tp4/bs16", "chat/h100-sxm/fp8/tp4/bs32",
                                               "chat/h100-sxm/fp8/tp4/pp2"]


def test_a_change_below_file_rounding_is_no_change(base):
    chat = base.deployments[0]
    noisy = chat.model_copy(update={"power_max_w": chat.power_max_w * (1 + 1e-12)})
    assert not diff_plans(base, _with_deployments(base, [noisy, *base.deployments[1:]])).changed


def test_a_change_in_other_figures_is_still_shown(base):
    chat = base.deployments[0]
    hotter = chat.model_copy(update={"energy_per_output_token_j": 6.0})
    [change] = diff_plans(base, _with_deployments(base, [hotter, *base.deployments[1:]])).deployments
    assert deployment_line(change) == "~ chat/h100-sxm/fp8/tp4: energy_per_output_token_j 4.94 J -> 6 J"


def test_no_base_plan_is_all_additions_and_no_new_plan_all_removals(base):
    added, removed = diff_plans(None, base), diff_plans(base, None)
    assert {c.action for c in added.deployments} == {"add"} and added.total("gpus").delta == 28
    assert {c.action for c in removed.deployments} == {"remove"} and removed.total("gpus").delta == -28
    assert added.total("capex_usd").delta_pct is None


def test_changed_inputs_alone_are_context_not_a_change(base):
    hashes = base.input_sha256.model_copy(update={"scenario": "0" * 64})
    diff = diff_plans(base, base.model_copy(update={"input_sha256": hashes}))
    assert not diff.changed and diff.inputs_changed == ("scenario",)
    assert "Inputs changed: scenario" in render(diff, "text")


def test_status_change_is_a_change(base):
    worse = base.model_copy(update={"status": "feasible"})
    diff = diff_plans(base, worse)
    assert diff.changed and "Status: optimal -> feasible" in render(diff, "text")


def test_peak_rows_say_expected_peak_and_nameplate_is_shown(base, head):
    text = render(diff_plans(base, head), "text")
    assert "IT power, max" not in text and "Heat at max" not in text

    def row(label: str) -> list[str]:
        [line] = [line for line in text.splitlines() if line.startswith(f"  {label}  ")]
        return line[len(label) + 2:].split()

    assert row("IT power, expected peak")[:2] == ["20.3", "kW"]  # totals.it_power_max_w
    assert row("IT power, nameplate") == ["40.8", "kW", "61.2", "kW", "+20.4", "kW", "(+50.0%)"]
    assert row("Heat at expected peak")[:2] == ["69.3k", "BTU/hr"]
    assert "| IT power, nameplate | 40.8 kW | 61.2 kW | **+20.4 kW (+50.0%)** |" in render(diff_plans(base, head), "md")


def test_markdown_leads_with_the_totals(base, head):
    md = render(diff_plans(base, head), "md")
    assert md.startswith("### Capacity plan `chatbot`: 2 to add, 1 to change, 1 to remove")
    assert md.index("| GPUs | 28 | 41 | **+13 (+46.4%)** |") < md.index("```diff")


def test_github_comment_has_the_marker_and_caps_long_lists(base):
    chat = base.deployments[0]
    many = _with_deployments(base, [chat.model_copy(update={"workload": f"w{i:03d}"}) for i in range(100)])
    comment = render(diff_plans(base, many), "github-comment")
    assert comment.startswith(COMMENT_MARKER + "\n")
    shown = [line for line in comment.splitlines() if line[:2] in ("+ ", "- ", "~ ")]
    assert len(shown) == MAX_COMMENT_LINES and "and 62 more" in comment
    assert len(comment) < 20_000


def test_json_is_deterministic_and_complete(base, head):
    text = render(diff_plans(base, head, base_label="a", new_label="b"), "json")
    data = json.loads(text)
    assert data["summary"] == {"add": 2, "change": 1, "remove": 1} and data["changed"] is True
    assert data["totals"]["gpus"] == {"before": 28, "after": 41, "delta": 13, "delta_pct": 46.4286}
    assert data["binding_constraints"] == {"appeared": ["rack_power_h100-sxm-r02"], "gone": []}
    chat = data["deployments"][0]
    assert chat["changes"]["replicas"] == {"before": 6, "after": 8} and chat["gpus_delta"] == 8
    assert text == render(diff_plans(base, head, base_label="a", new_label="b"), "json")


@pytest.mark.parametrize("fmt, suffix", [("text", "txt"), ("md", "md"), ("github-comment", "comment.md"),
                                         ("json", "json")])
def test_golden_renderings(base, head, fmt, suffix):
    text = render(diff_plans(base, head, base_label="main:plans/chatbot/plan.json",
                             new_label="plans/chatbot/plan.json"), fmt)
    golden = GOLDEN / f"base-to-head.{suffix}"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")


def test_public_api_is_only_what_all_lists():
    public = {n for n, v in vars(planner.gitops).items() if not n.startswith("_") and not inspect.ismodule(v)}
    assert public == set(planner.gitops.__all__)


# -- the serving decisions: speculative decoding, launch command, role, power limit ----------------

def _launched(d, **update):
    """``d`` changed by ``update`` with its launch spec derived as the plan builder does."""
    from planner.catalog import load_catalog
    from planner.export.launch import launch_for

    catalog = load_catalog()
    d = d.model_copy(update=update)
    return d.model_copy(update={"launch": launch_for(d, catalog.model(d.model), catalog.gpu(d.gpu), 8)})


def _one_change(base, before, after):
    [change] = diff_plans(_with_deployments(base, [before]), _with_deployments(base, [after])).deployments
    return change


def test_a_changed_speculative_setting_and_launch_are_worded_compactly(base):
    from planner.schemas.speculative import Speculative

    eagle = Speculative(method="eagle", tokens=4).resolved()
    before = _launched(base.deployments[0], speculative=eagle)
    after = _launched(base.deployments[0], speculative=eagle.model_copy(update={"tokens": 3}), batch_size=24)
    line = deployment_line(_one_change(base, before, after))
    assert "batch 32 -> 24" in line and "speculative eagle k=4 -> k=3" in line
    assert "launch: --max-num-seqs 32 -> 24, --speculative-config " in line
    assert '--speculative-config …num_speculative_tokens":4} -> …num_speculative_tokens":3}' in line
    [added] = diff_plans(None, _with_deployments(base, [before])).deployments
    assert deployment_line(added).endswith(", speculative eagle k=4")  # a new deployment says it speculates
    off = deployment_line(_one_change(base, before, _launched(base.deployments[0])))
    assert "speculative eagle k=4 a=0.75 -> off" in off and "- --speculative-config" in off


def test_a_changed_role_and_power_limit_are_shown_in_every_format(base):
    d = base.deployments[0]
    before = _launched(d, power_limit_w=700.0)
    after = _launched(d, power_limit_w=490.0)
    change = _one_change(base, before, after)
    line = deployment_line(change)
    assert line.startswith("~ chat/h100-sxm/fp8/tp4: power limit 700 W -> 490 W, launch: ")
    assert "power limit TDP -> 490 W" in line  # the nvidia-smi command appears: 700 W is the H100's TDP
    diff = diff_plans(_with_deployments(base, [before]), _with_deployments(base, [after]))
    for fmt in ("text", "md", "github-comment"):
        assert "power limit 700 W -> 490 W" in render(diff, fmt)
    data = json.loads(render(diff, "json"))["deployments"][0]["changes"]
    assert data["power_limit_w"] == {"before": 700.0, "after": 490.0}
    assert data["launch"]["after"]["power_limit_w"] == 490.0  # the launch spec as its JSON object
    from planner.gitops.serving import serving_change
    assert serving_change("role", "aggregated", "prefill") == "role aggregated -> prefill"
    if "role" in type(d).model_fields:  # role: aggregated, prefill or decode (disaggregated serving)
        decode = _one_change(base, d, d.model_copy(update={"role": "decode"}))
        assert deployment_line(decode) == "~ chat/h100-sxm/fp8/tp4: role aggregated -> decode"


def test_plans_without_the_new_fields_are_no_change(base):
    d = base.deployments[0]
    launched = _launched(d, power_limit_w=700.0)
    assert diff_plans(_with_deployments(base, [d]), _with_deployments(base, [launched])).deployments == ()
    assert diff_plans(_with_deployments(base, [launched]), _with_deployments(base, [d])).deployments == ()


def test_a_sizing_margin_in_the_totals_diffs_in_every_format(base, head):
    """A sizing_confidence plan's totals carry a section (sizing_margin), not a figure: diff and policy metrics
    skip it (its GPUs show in totals.gpus) instead of subtracting two sections."""
    from planner.gitops.metrics import all_metric_names, evaluate_metric
    from planner.schemas.plan import SizingMarginTotals

    margin = SizingMarginTotals(gpus_at_point_estimate=head.totals.gpus - 8, gpus_added=8,
                                objective_at_point_estimate=1.0)
    sized = head.model_copy(update={"totals": head.totals.model_copy(update={"sizing_margin": margin})})
    diff = diff_plans(base, sized)
    assert "sizing_margin" not in {t.field for t in diff.totals}
    for fmt in ("text", "md", "github-comment"):
        assert "GPUs" in render(diff, fmt)
    assert json.loads(render(diff, "json"))["totals"]["gpus"]["after"] == head.totals.gpus
    values = [evaluate_metric(name, sized, base) for name in all_metric_names()]  # none raises
    assert "totals.sizing_margin" not in all_metric_names() and len(values) == len(all_metric_names())
