"""`planner check` re-derives every claim of a plan: a plan edited by hand fails, naming the deployment and field.

Every committed plan passes against its scenario; each tampering below is derived from whatever the
committed plan holds (decisions may change when plans are re-solved), one field at a time.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml

from planner.catalog import load_catalog
from planner.cli.main import main
from planner.gitops.check import unchecked_slos
from planner.gitops.diff import deployment_key
from planner.gitops.rederive import check_context, non_finite
from planner.plan.io import load_plan
from planner.scenario.load import load_scenario
from planner.schemas.catalog import PRECISIONS
from planner.schemas.plan import PLAN_SCHEMA_VERSION, Deployment
from planner.schemas.scenario import Workload

ROOT = Path(__file__).resolve().parent.parent
PLANS = sorted((ROOT / "plans").glob("*/plan.json"))
CATALOG = load_catalog()


def _scenario_of(plan_path: Path) -> Path:
    return ROOT / "scenarios" / json.loads(plan_path.read_text(encoding="utf-8"))["scenario"]["file"]


def _check(capsys: pytest.CaptureFixture[str], scenario: Path, plan: Path) -> tuple[int, list[str]]:
    code = main(["check", str(scenario), "--plan", str(plan)])
    out, _ = capsys.readouterr()
    return code, out.splitlines()


def _workload(plan_path: Path, name: str) -> Workload:
    scenario = load_scenario(_scenario_of(plan_path), None).scenario
    return next(w for w in scenario.workloads if w.name == name)


@pytest.mark.parametrize("plan_path", PLANS, ids=lambda p: p.parent.name)
def test_every_committed_plan_passes_its_scenario(capsys, plan_path):
    code, lines = _check(capsys, _scenario_of(plan_path), plan_path)
    assert code == 0, "\n".join(lines)
    assert any(line.startswith("ok    re-derived from the scenario, the catalog and the estimation core")
               for line in lines)


# -- one field at a time ---------------------------------------------------------------------------

def _other_precision(d: Deployment, w: Workload, plan_path: Path) -> dict[str, Any]:
    return {"precision": next(p for p in ("int4", *PRECISIONS) if p not in w.precisions)}


def _other_gpu(d: Deployment, w: Workload, plan_path: Path) -> dict[str, Any]:
    loaded = load_scenario(_scenario_of(plan_path), None)
    allowed = sorted(set(check_context(loaded, CATALOG).gpus) - {d.gpu})
    if not allowed:
        pytest.skip(f"{plan_path.parent.name}: the scenario allows no other GPU")
    return {"gpu": allowed[0]}


def _invalid_tp(d: Deployment, w: Workload, plan_path: Path) -> dict[str, Any]:
    heads = CATALOG.model(w.model).attention_heads
    tp = next(t for t in range(2, heads + 2) if heads % t)
    return {"tp": tp, "gpus": d.replicas * tp * d.pp}


def _too_deep_pp(d: Deployment, w: Workload, plan_path: Path) -> dict[str, Any]:
    pp = CATALOG.model(w.model).layers + 1
    return {"pp": pp, "gpus": d.replicas * d.tp * pp}


def _other_engine(d: Deployment, w: Workload, plan_path: Path) -> dict[str, Any]:
    engines = get_args(Workload.model_fields["engine"].annotation)
    return {"engine": next(e for e in engines if e != d.engine)}


def _other_model(d: Deployment, w: Workload, plan_path: Path) -> dict[str, Any]:
    return {"model": next(m for m in sorted(CATALOG.models) if m != d.model)}


def _scaled(field: str, factor: float) -> Callable[[Deployment, Workload, Path], dict[str, Any]]:
    return lambda d, w, plan_path: {field: getattr(d, field) * factor}


TAMPERINGS: dict[str, tuple[Callable[[Deployment, Workload, Path], dict[str, Any]], str]] = {
    "precision-not-allowed": (_other_precision, "precision"),
    "precision-unknown": (lambda d, w, p: {"precision": "fp7-made-up"}, "precision"),
    "gpu-another-allowed": (_other_gpu, "gpu"),
    "tp-not-dividing-heads": (_invalid_tp, "tp"),
    "pp-beyond-layers": (_too_deep_pp, "pp"),
    "batch-beyond-memory": (lambda d, w, p: {"batch_size": 50_000}, "batch_size"),  # plan files allow <= 100,000
    "engine-another": (_other_engine, "engine"),
    "engine-unknown": (lambda d, w, p: {"engine": "made-up-engine"}, "engine"),
    "engine-empty": (lambda d, w, p: {"engine": ""}, "engine"),
    "model-another": (_other_model, "model"),
    "capacity-inflated": (_scaled("capacity_requests_per_s", 1.5), "capacity_requests_per_s"),
    "ttft-lowered": (_scaled("ttft_p95_s", 0.5), "ttft_p95_s"),
    "itl-lowered": (_scaled("itl_p95_s", 0.5), "itl_p95_s"),
    "replicas-lowered": (lambda d, w, p: {"replicas": d.replicas - 1}, "replicas"),
}


@pytest.mark.parametrize("tampering", sorted(TAMPERINGS))
@pytest.mark.parametrize("plan_path", PLANS, ids=lambda p: p.parent.name)
def test_a_tampered_deployment_fails_naming_it_and_the_field(capsys, tmp_path, plan_path, tampering):
    edit, field = TAMPERINGS[tampering]
    doc = json.loads(plan_path.read_text(encoding="utf-8"))
    deployments = load_plan(plan_path).deployments
    # replicas can only be lowered where there are two or more (a plan file holds no 0-replica deployment)
    i = next((j for j, d in enumerate(deployments) if d.replicas > 1), 0) if tampering == "replicas-lowered" else 0
    original = deployments[i]
    changes = edit(original, _workload(plan_path, original.workload), plan_path)
    assert all(getattr(original, k) != v for k, v in changes.items())  # the edit changes the plan
    doc["deployments"][i].update(changes)
    tampered = tmp_path / "plan.json"
    tampered.write_text(json.dumps(doc), encoding="utf-8")
    key = deployment_key(original.model_copy(update=changes))
    code, lines = _check(capsys, _scenario_of(plan_path), tampered)
    assert code == 1
    named = [line for line in lines if line.startswith("fail  ") and f"deployment {key}" in line and field in line]
    assert named, "\n".join(lines)


# -- servers, prices, names --------------------------------------------------------------------------

CHATBOT = ROOT / "plans" / "chatbot" / "plan.json"


def _scenario_copy(tmp_path: Path, **sections: dict[str, Any]) -> Path:
    doc = yaml.safe_load(_scenario_of(CHATBOT).read_text(encoding="utf-8"))
    assert "calibration" not in doc  # the copy resolves the same (default) calibration
    for section, values in sections.items():
        doc.setdefault(section, {}).update(values)
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def _plan_copy(tmp_path: Path, edit: Callable[[dict[str, Any]], None] | None = None) -> Path:
    doc = json.loads(CHATBOT.read_text(encoding="utf-8"))
    if edit is not None:
        edit(doc)
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_a_gpu_price_below_the_catalogs_fails(capsys, tmp_path):
    def cheaper(doc: dict[str, Any]) -> None:
        doc["servers"][0]["gpu_price_usd"] /= 2

    code, lines = _check(capsys, _scenario_of(CHATBOT), _plan_copy(tmp_path, cheaper))
    assert code == 1
    assert any(line.startswith("fail  servers[0]") and "gpu_price_usd" in line for line in lines), lines


def test_a_recorded_server_overhead_is_the_problems(capsys, tmp_path):
    """A plan may record each server's non-GPU power per GPU; check holds it to the resolved problem's."""
    from planner.gitops.rederive import check_context

    ctx = check_context(load_scenario(_scenario_of(CHATBOT), None), CATALOG)
    group = load_plan(CHATBOT).servers[0]
    overhead_w = ctx.problem.gpu(group.gpu).overhead_w_per_gpu

    def recorded(value: float) -> Callable[[dict[str, Any]], None]:
        return lambda doc: doc["servers"][0].update(server_overhead_w_per_gpu=value)

    code, lines = _check(capsys, _scenario_of(CHATBOT), _plan_copy(tmp_path, recorded(overhead_w)))
    assert code == 0, lines
    code, lines = _check(capsys, _scenario_of(CHATBOT), _plan_copy(tmp_path, recorded(overhead_w + 50)))
    assert code == 1
    assert any(line.startswith("fail  servers[0]") and "server_overhead_w_per_gpu" in line for line in lines), lines


def test_a_price_keyed_by_an_alias_is_the_one_check_uses(capsys, tmp_path):
    """finance.gpu_prices_usd keyed by a name the catalog resolves is the price check uses, as solve
    does: with it, the plan's servers cost more than a budget its catalog prices fit."""
    plan = load_plan(CHATBOT)
    group = plan.servers[0]
    alias = CATALOG.gpu(group.gpu).aliases[0]
    budget = plan.totals.capex_usd * 1.1  # fits the catalog price, not 1.5 x the GPU price
    assert plan.totals.capex_usd + group.servers * group.gpus_per_server * group.gpu_price_usd * 0.5 > budget
    scenario = _scenario_copy(tmp_path, finance={"gpu_prices_usd": {alias: group.gpu_price_usd * 1.5},
                                                 "budget_usd": budget})
    code, lines = _check(capsys, scenario, _plan_copy(tmp_path))
    assert code == 1
    assert any(line.startswith("fail  budget: capex") for line in lines), lines
    code, lines = _check(capsys, _scenario_copy(tmp_path, finance={"budget_usd": budget}), _plan_copy(tmp_path))
    assert code == 2, lines  # stale (the scenario changed), but within the budget at the catalog price


def test_inventory_keyed_by_an_alias_is_enforced(capsys, tmp_path):
    plan = load_plan(CHATBOT)
    group = plan.servers[0]
    alias = CATALOG.gpu(group.gpu).aliases[0]
    scenario = _scenario_copy(tmp_path, hardware={"inventory": {alias: group.gpus - 1}})
    code, lines = _check(capsys, scenario, _plan_copy(tmp_path))
    assert code == 1
    assert (f"fail  inventory {alias}: the plan buys {group.gpus} GPUs, above the scenario's hardware.inventory "
            f"{group.gpus - 1}") in lines


def test_budget_is_checked_with_the_recomputed_capex_not_the_written_one(capsys, tmp_path):
    """A plan that halves its prices and capex to fit a budget still fails: capex is recomputed."""
    capex = load_plan(CHATBOT).totals.capex_usd

    def cheaper(doc: dict[str, Any]) -> None:
        for group in doc["servers"]:
            group["gpu_price_usd"] /= 2
            group["server_price_usd"] /= 2
        doc["totals"]["capex_usd"] /= 2

    scenario = _scenario_copy(tmp_path, finance={"budget_usd": capex * 0.75})
    code, lines = _check(capsys, scenario, _plan_copy(tmp_path, cheaper))
    assert code == 1
    assert any(line.startswith("fail  budget: capex") for line in lines), lines


def test_capacity_is_checked_with_the_recomputed_figures(capsys, tmp_path):
    """Inflating capacity and the capacity constraint together still fails the scenario's demand when
    the replicas are too few: the capacity kept is recomputed from the configuration."""
    plan = load_plan(CHATBOT)
    d = plan.deployments[0]

    def fewer(doc: dict[str, Any]) -> None:
        dep = doc["deployments"][0]
        dep["replicas"], dep["gpus"] = 2, 2 * d.tp * d.pp

    code, lines = _check(capsys, _scenario_of(CHATBOT), _plan_copy(tmp_path, fewer))
    assert code == 1
    assert any(line.startswith(f"fail  capacity {d.workload}: the plan serves") for line in lines), lines


def test_non_finite_numbers_are_named_with_their_key_path():
    plan = load_plan(CHATBOT)
    d = plan.deployments[0].model_copy(update={"power_max_w": math.nan})
    bad = plan.model_copy(update={"deployments": [d], "totals": plan.totals.model_copy(
        update={"it_power_nameplate_w": math.inf})})
    assert non_finite(bad) == ["plan: deployments[0].power_max_w is nan, not a finite number",
                               "plan: totals.it_power_nameplate_w is inf, not a finite number"]
    assert non_finite(plan) == []


def _scale(section: str, index: int | None, field: str, factor: float) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        part = doc[section] if index is None else doc[section][index]
        part[field] *= factor
    return edit


FLEET_TAMPERINGS = {
    "totals.tco_usd": (_scale("totals", None, "tco_usd", 0.9), "tco_usd"),
    "totals.it_power_max_w": (_scale("totals", None, "it_power_max_w", 0.9), "it_power_max_w"),
    "constraints[0].value": (_scale("constraints", 0, "value", 2.0), "value"),
    "racks[0].power_max_w": (_scale("racks", 0, "power_max_w", 0.5), "power_max_w"),
    "servers[0].server_max_power_w": (_scale("servers", 0, "server_max_power_w", 0.5), "server_max_power_w"),
    "site.pue": (_scale("site", None, "pue", 1.1), "site.pue"),
    "workloads[0].peak_requests_per_s": (_scale("workloads", 0, "peak_requests_per_s", 0.5), "peak_requests_per_s"),
    "objective.value": (_scale("objective", None, "value", 0.5), "objective: value"),
}


@pytest.mark.parametrize("tampering", sorted(FLEET_TAMPERINGS))
def test_a_tampered_fleet_figure_fails_naming_it(capsys, tmp_path, tampering):
    edit, field = FLEET_TAMPERINGS[tampering]
    code, lines = _check(capsys, _scenario_of(CHATBOT), _plan_copy(tmp_path, edit))
    assert code == 1
    assert any(line.startswith("fail  ") and field in line for line in lines), lines


def test_a_scenario_edit_that_breaks_no_limit_makes_the_plan_stale_not_violated(capsys, tmp_path):
    """The plan's records of the old scenario no longer match, which is what stale says: exit 2."""
    pue = yaml.safe_load(_scenario_of(CHATBOT).read_text(encoding="utf-8"))["site"]["pue"]
    code, lines = _check(capsys, _scenario_copy(tmp_path, site={"pue": pue + 0.1}), _plan_copy(tmp_path))
    assert code == 2, lines
    assert not [line for line in lines if line.startswith("fail")]


def test_a_duplicated_constraint_fails(capsys, tmp_path):
    code, lines = _check(capsys, _scenario_of(CHATBOT), _plan_copy(tmp_path, lambda doc: doc["constraints"].append(
        doc["constraints"][0])))
    name = load_plan(CHATBOT).constraints[0].name
    assert code == 1
    assert any(line.startswith("fail  constraints") and f"{name} listed 2 times" in line for line in lines), lines


@pytest.mark.parametrize("where", ["deployments.0.replicas", "deployments.0.batch_size", "servers.0.servers",
                                  "racks.0.servers", "totals.gpus"])
def test_a_count_too_large_for_a_float_is_one_message_not_a_traceback(capsys, tmp_path, where):
    section, *rest = where.split(".")

    def huge(doc: dict[str, Any]) -> None:
        part = doc[section][int(rest[0])] if len(rest) == 2 else doc[section]
        part[rest[-1]] = 10**400

    code = main(["check", str(_scenario_of(CHATBOT)), "--plan", str(_plan_copy(tmp_path, huge))])
    out, err = capsys.readouterr()
    assert code == 1 and "Traceback" not in out + err
    path = where.replace(".0.", "[0].")
    assert path in out + err  # the check's own line, or plan loading's error if it bounds integers first


@pytest.mark.parametrize("slo", ["ttft_p50_ms", "ttft_p99_ms", "itl_p50_ms", "itl_p99_ms"])
def test_every_slo_quantile_is_checked_with_recomputed_latencies(capsys, tmp_path, slo):
    """p50/p99 SLOs the plan does not record are checked all the same, with the recomputed latencies."""
    key = deployment_key(load_plan(CHATBOT).deployments[0])
    doc = yaml.safe_load(_scenario_of(CHATBOT).read_text(encoding="utf-8"))
    doc["workloads"][0]["slo"][slo] = 0.001  # 1 microsecond: no configuration meets it
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(yaml.safe_dump(doc), encoding="utf-8")
    code, lines = _check(capsys, scenario, _plan_copy(tmp_path))
    assert code == 1
    assert any(line.startswith(f"fail  deployment {key}") and f"slo.{slo}" in line for line in lines), lines
    # so with the loaded scenario (what re-derivation checks against) there is nothing left unchecked
    assert unchecked_slos(load_scenario(scenario, None)) is None
    assert unchecked_slos(load_scenario(scenario, None).scenario) is not None  # the written figures alone


def test_key_paths_count_disabled_workloads_and_hold_for_a_stale_plan(capsys, tmp_path):
    """A deployment the scenario does not allow is a violation of the scenario as it is now, also when
    the plan is stale; its key path is the workload's position in the file, disabled ones included."""
    doc = yaml.safe_load(_scenario_of(CHATBOT).read_text(encoding="utf-8"))
    doc["workloads"].insert(0, {**doc["workloads"][0], "name": "retired", "enabled": False})
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(yaml.safe_dump(doc), encoding="utf-8")

    def int4(plan_doc: dict[str, Any]) -> None:
        plan_doc["deployments"][0]["precision"] = "int4"

    code, lines = _check(capsys, scenario, _plan_copy(tmp_path, int4))
    assert code == 1 and lines[0].startswith("stale ")
    assert any("precision 'int4'" in line and "workloads[1].precisions" in line for line in lines), lines


def _set(path: str, change: Callable[[Any], Any]) -> Callable[[dict[str, Any]], None]:
    """An edit of the plan document at ``path`` (dots; list indices as numbers)."""
    *parents, leaf = path.split(".")

    def edit(doc: dict[str, Any]) -> None:
        part: Any = doc
        for key in parents:
            part = part[int(key)] if key.isdigit() else part[key]
        part[leaf] = change(part[leaf])
    return edit


def _own_objective_row(field: str) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        row = next(r for r in doc["objective_alternatives"] if r["objective"] == doc["objective"]["name"])
        row[field] *= 2
    return edit


def _other_objective_row(doc: dict[str, Any]) -> None:
    row = next(r for r in doc["objective_alternatives"] if r["objective"] == "min_power" != doc["objective"]["name"])
    row["it_power_max_w"] = doc["totals"]["it_power_max_w"] * 2


RECORD_TAMPERINGS = {
    "scenario.name": (_set("scenario.name", lambda v: v + "x"), "scenario.name"),
    "scenario.objective": (_set("scenario.objective", lambda v: v + "x"), "scenario.objective"),
    "alternatives.gpu": (_set("alternatives.0.gpu", lambda v: v + "x"), "alternatives[0].gpu"),
    "alternatives.precision": (_set("alternatives.0.precision", lambda v: v + "x"), "alternatives[0].precision"),
    "alternatives.workload": (_set("alternatives.0.workload", lambda v: v + "x"), "alternatives[0].workload"),
    "alternatives.tp": (_set("alternatives.0.tp", lambda v: v * 2), "alternatives[0].tp"),
    "alternatives.replicas_needed": (_set("alternatives.0.replicas_needed", lambda v: v * 2),
                                     "alternatives[0].replicas_needed"),
    "alternatives.objective_delta": (_set("alternatives.0.objective_delta", lambda v: v * 2),
                                     "alternatives[0].objective_delta"),
    "objective_alternatives.own.gpus": (_own_objective_row("gpus"), ".gpus"),
    "objective_alternatives.own.co2e": (_own_objective_row("co2e_t_per_year"), ".co2e_t_per_year"),
    "objective_alternatives.min_power": (_other_objective_row, ".it_power_max_w"),
    "constraints.binding": (_set("constraints.0.binding", lambda v: not v), "binding"),
    "solver.mip_gap": (_set("solver.mip_gap", lambda v: -1.0), "solver.mip_gap"),
    "site.carbon_source": (lambda doc: doc["site"].update(carbon_source="made up"), "site.carbon_source"),
    "assumptions.constant": (lambda doc: _first_constant(doc).update(value="123456"), "fail  assumptions"),
    "assumptions.hours_per_year": (lambda doc: next(a for a in doc["assumptions"] if a["name"] == "hours per year")
                                   .update(value="8761"), "hours per year"),
    "assumptions.gpu_price": (lambda doc: next(a for a in doc["assumptions"]
                                               if a["name"] == f"{doc['servers'][0]['gpu']} price").update(value="1"),
                              "price"),
    "objective.unit": (_set("objective.unit", lambda v: v + "x"), "objective: unit"),
    "assumptions.calibration": (lambda doc: next(a for a in doc["assumptions"] if a["name"] == "calibration file")
                                .update(value="other.yaml"), "calibration file"),
}


def test_a_key_the_plan_schema_does_not_have_is_refused(capsys, tmp_path):
    """A plan's sections are typed (schema 2.0): a key added to one is refused when the plan is read,
    before any check, naming it (a 1.x plan's free-form site is migrated on read, see planner.plan.migrate)."""
    doc = load_plan(CHATBOT).model_dump(mode="json") | {"schema_version": PLAN_SCHEMA_VERSION}
    doc["site"]["made_up_kw"] = 1.0
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    code = main(["check", str(_scenario_of(CHATBOT)), "--plan", str(path)])
    assert code == 1
    assert "site.made_up_kw" in capsys.readouterr().err


def _first_constant(doc: dict[str, Any]) -> dict[str, Any]:
    from planner.core.constants import FIXED

    return next(a for a in doc["assumptions"] if a["name"] in FIXED)


@pytest.mark.parametrize("tampering", sorted(RECORD_TAMPERINGS))
def test_a_tampered_record_of_how_the_plan_was_chosen_fails(capsys, tmp_path, tampering):
    edit, field = RECORD_TAMPERINGS[tampering]
    code, lines = _check(capsys, _scenario_of(CHATBOT), _plan_copy(tmp_path, edit))
    assert code == 1
    assert any(line.startswith("fail  ") and field in line for line in lines), lines


def _dominated_variant() -> tuple[Path, dict[str, Any]] | None:
    """A committed plan and a variant of its first deployment (another step token budget or batch) that
    fits, meets the SLOs and the demand, yet is not an operating point candidate generation keeps."""
    from planner.candidates.generate import BATCH_GRID, BUDGET_GRID
    from planner.gitops.rederive import check_context, deployment_findings
    from planner.gitops.rederive_analysis import _candidates

    for plan_path in PLANS:
        plan = load_plan(plan_path)
        d = plan.deployments[0]
        ctx = check_context(load_scenario(_scenario_of(plan_path), plan.scenario.override), CATALOG)
        c = _candidates(ctx).columns
        kept = set(zip(c["workload"], c["gpu"], c["precision"], c["tp"], c["pp"], c["batch_size"],
                       c["prefill_chunk_tokens"], strict=True))
        for batch in BATCH_GRID:
            for budget in (b for b in BUDGET_GRID if b > batch):
                change = {"batch_size": batch, "prefill_chunk_tokens": budget}
                other = plan.model_copy(update={"deployments": [d.model_copy(update=change), *plan.deployments[1:]]})
                found = deployment_findings(other, ctx)
                key = (d.workload, d.gpu, d.precision, d.tp, d.pp, batch, budget)
                if found.problems or 0 not in found.recomputed or key in kept:
                    continue
                figures = found.recomputed[0].figures
                w = ctx.problem.workload(d.workload)  # the variant must still serve the demand
                if w.capacity_after_spares(figures["capacity_requests_per_s"], d.replicas) >= w.required_requests_per_s:
                    # the launch spec and the energy figures follow the batch: leave them out, as older plans do
                    return plan_path, {**change, **figures, **{k: None for k in VARIANT_DROPS}}
    return None


VARIANT_DROPS = ("launch", "energy_breakdown_j_per_token", "kwh_per_million_output_tokens",
                 "output_tokens_per_s_per_w", "prefill_flops", "decode_flops_per_token", "prefill_energy_j",
                 "decode_energy_per_token_j")


def test_a_deployment_solve_cannot_have_chosen_fails(capsys, tmp_path):
    """A configuration that fits and meets the SLOs and the demand but is not an operating point candidate
    generation keeps (dominated), with every figure of it rewritten to match, cannot come from solve."""
    variant = _dominated_variant()
    if variant is None:
        pytest.skip("no committed plan has a feasible, dominated variant of its first deployment")
    plan_path, change = variant
    doc = json.loads(plan_path.read_text(encoding="utf-8"))
    doc["deployments"][0].update({k: v for k, v in change.items() if v is not None})
    for k in (k for k, v in change.items() if v is None):
        doc["deployments"][0].pop(k, None)
    tampered = tmp_path / "plan.json"
    tampered.write_text(json.dumps(doc), encoding="utf-8")
    code, lines = _check(capsys, _scenario_of(plan_path), tampered)
    assert code == 1
    assert any("is not an operating point candidate generation keeps" in line for line in lines), lines


def test_a_gpu_whose_server_fits_no_rack_is_reported_even_when_the_racks_understate_their_power(capsys, tmp_path):
    plan = load_plan(CHATBOT)
    group = plan.servers[0]
    doc = yaml.safe_load(_scenario_of(CHATBOT).read_text(encoding="utf-8"))
    cap_kw = group.server_max_power_w / 1e3 / doc["site"].get("breaker_derating", 0.8) / 2  # half a server
    scenario = _scenario_copy(tmp_path, site={"rack_power_cap_kw": cap_kw, "air_cooling_limit_kw": cap_kw})

    def understated(plan_doc: dict[str, Any]) -> None:
        for rack in plan_doc["racks"]:
            rack["power_nameplate_w"] = 1.0

    code, lines = _check(capsys, scenario, _plan_copy(tmp_path, understated))
    assert code == 1
    assert any(line.startswith(f"fail  gpu {group.gpu}: ") and "rack" in line for line in lines), lines
    code, lines = _check(capsys, scenario, _plan_copy(tmp_path))  # honest racks: their power says it, once
    assert code == 1 and not any(line.startswith(f"fail  gpu {group.gpu}: ") for line in lines), lines
    assert any(line.startswith("fail  rack power: rack ") for line in lines), lines


def test_evaluate_configurations_gives_candidate_generation_s_own_figures():
    """Check recomputes with the code candidate generation runs: on the candidates' own configurations
    it returns their figures, and it names why any other configuration is not an operating point."""
    import numpy as np

    from planner.candidates.generate import evaluate_configurations
    from planner.gitops.rederive import check_context
    from planner.gitops.rederive_analysis import _candidates

    ctx = check_context(load_scenario(_scenario_of(CHATBOT), None), CATALOG)
    c = _candidates(ctx).columns
    w = ctx.problem.workloads[0]
    rows = c["workload"] == w.name
    configs = {k: c[k][rows] for k in ("gpu", "precision", "tp", "pp", "batch_size", "prefill_chunk_tokens")}
    ev = evaluate_configurations(ctx.problem, w, configs)
    assert (ev.why == "").all()
    for k in ("capacity_rps", "ttft_p95_s", "itl_p95_s", "power_base_w", "power_slope_w_per_rps", "peak_power_w"):
        np.testing.assert_allclose(ev.points[k], c[k][rows], rtol=1e-12, err_msg=k)
    beyond = {**{k: v[:1] for k, v in configs.items()}, "batch_size": np.array([100_000.0]),
              "prefill_chunk_tokens": np.array([200_000.0])}
    ev = evaluate_configurations(ctx.problem, w, beyond)
    assert list(ev.why) == ["batch"] and np.isnan(ev.points["capacity_rps"][0])


def test_check_reads_no_file_after_the_problem_is_resolved(monkeypatch):
    """`planner check` reads the scenario and the calibration once, into the resolved problem (as solve
    does); re-deriving every claim of the plan from it opens no file."""
    import builtins
    import io
    import os

    from planner.gitops.rederive import check_context, problem_violations

    plan = load_plan(CHATBOT)
    ctx = check_context(load_scenario(_scenario_of(CHATBOT), plan.scenario.override), CATALOG)
    assert problem_violations(plan, ctx) == []  # lazy imports (scipy.special, ...) read their own files once

    def refusing(real: Callable[..., Any]) -> Callable[..., Any]:
        def opener(*args: object, **kwargs: object) -> object:
            raise AssertionError(f"a file was opened after the problem was resolved: {args[:1]}")
        return opener

    for target, name in ((builtins, "open"), (io, "open"), (os, "open"), (Path, "open"), (Path, "read_bytes"),
                         (Path, "read_text")):
        monkeypatch.setattr(target, name, refusing(getattr(target, name)))
    tampered = plan.model_copy(update={"deployments": [plan.deployments[0].model_copy(update={"tp": 3})]})
    assert problem_violations(plan, ctx) == []
    assert any("tp 3 is not a valid tensor parallelism" in line for line in problem_violations(tampered, ctx))
