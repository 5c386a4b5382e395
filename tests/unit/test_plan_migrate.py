"""planner.plan.migrate: 1.x plans (real files committed before 2.0) become valid 2.0 plans without a key
renamed or a figure changed; newer-minor plans lose only the keys this version does not know."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from planner.plan.migrate import analysis_of_1x, drop_unknown_keys, from_1x, needs_migration, upgrade
from planner.schemas.plan import PLAN_SCHEMA_VERSION, Plan

pytestmark = pytest.mark.unit

PLANS_1X = sorted((Path(__file__).resolve().parent.parent / "fixtures" / "plans-1.x").glob("*.json"))
NO_ANALYSIS = "what-if values and objective alternatives were skipped: --no-analysis was given"


def _raw(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _leaves(data: Any, path: str = "") -> dict[str, Any]:
    """Every scalar of a JSON document by its key path."""
    if isinstance(data, dict):
        return {k: v for key, value in data.items() for k, v in _leaves(value, f"{path}.{key}").items()}
    if isinstance(data, list):
        return {k: v for i, value in enumerate(data) for k, v in _leaves(value, f"{path}[{i}]").items()}
    return {path: data}


def test_there_are_real_1x_fixtures() -> None:
    assert len(PLANS_1X) >= 3
    assert all(_raw(p)["schema_version"].startswith("1.") for p in PLANS_1X)


@pytest.mark.parametrize("path", PLANS_1X, ids=lambda p: p.stem)
def test_a_1x_plan_migrates_to_a_valid_plan(path: Path) -> None:
    plan = Plan.model_validate(upgrade(_raw(path)))
    assert plan.schema_version == _raw(path)["schema_version"]  # says which schema wrote the file
    assert plan.analysis.what_if == "done" and plan.analysis.skipped_reason is None
    assert all(type(w.redundancy) is int for w in plan.workloads)
    assert all(type(row.gpus) is int for row in plan.objective_alternatives)


@pytest.mark.parametrize("path", PLANS_1X, ids=lambda p: p.stem)
def test_migration_renames_nothing_and_changes_no_figure(path: Path) -> None:
    before = _leaves(_raw(path))
    after = _leaves(Plan.model_validate(upgrade(_raw(path))).model_dump(mode="json"))
    missing = sorted(set(before) - set(after))
    assert missing == []
    changed = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
    assert changed == {}  # 8.0 == 8: counts became ints, equal in value


@pytest.mark.parametrize("path", PLANS_1X, ids=lambda p: p.stem)
def test_what_if_entries_gain_the_2_0_fields(path: Path) -> None:
    data = _raw(path)
    migrated = from_1x(data)
    for old, new in zip(data["what_if"], migrated["what_if"], strict=True):
        key = next(k for k in old if k.startswith("objective_delta_"))
        assert new["objective_delta"] == old[key] and new["objective_unit"] == key.removeprefix("objective_delta_")


def test_migration_is_pure_and_idempotent() -> None:
    data = _raw(PLANS_1X[0])
    kept = copy.deepcopy(data)
    once = upgrade(data)
    assert data == kept
    assert upgrade(once) == once


def test_counts_written_as_floats_become_ints() -> None:
    data = _raw(PLANS_1X[0])
    assert isinstance(data["site"]["racks"], float) and isinstance(data["workloads"][0]["redundancy"], float)
    migrated = from_1x(data)
    assert type(migrated["site"]["racks"]) is int and type(migrated["site"]["carbon_year"]) is int
    assert type(migrated["workloads"][0]["redundancy"]) is int
    assert type(migrated["objective_alternatives"][0]["gpus"]) is int


def _without_analysis(note: str | None) -> dict[str, Any]:
    data = _raw(PLANS_1X[0]) | {"what_if": [], "objective_alternatives": []}
    if note is not None:
        data["assumptions"] = [*data["assumptions"],
                               {"name": "note", "value": note, "unit": "", "source": "planner", "range": ""}]
    return data


@pytest.mark.parametrize(("note", "reason"), [
    (NO_ANALYSIS, "--no-analysis was given"),
    ("612 candidates (over 400): the tie-break solve, what-if values and objective alternatives were skipped to "
     "keep the solve fast", "612 candidates (over 400): the tie-break solve, what-if values and objective "
                            "alternatives were skipped to keep the solve fast"),
])
def test_a_skipped_analysis_takes_its_reason_from_the_1x_note(note: str, reason: str) -> None:
    analysis = analysis_of_1x(_without_analysis(note), "1.1.0")
    assert analysis == {"what_if": "skipped", "objective_alternatives": "skipped", "skipped_reason": reason}


def test_a_1x_plan_with_no_results_and_no_note_says_the_reason_is_not_recorded() -> None:
    analysis = analysis_of_1x(_without_analysis(None), "1.0.0")
    assert analysis["what_if"] == "skipped" and "not recorded" in analysis["skipped_reason"]


def test_objective_alternatives_alone_mean_the_analysis_ran() -> None:
    """1.x ran both together: an empty what_if beside alternatives means no limit was binding."""
    data = _raw(PLANS_1X[0]) | {"what_if": []}
    assert analysis_of_1x(data, "1.1.0")["what_if"] == "done"


def test_a_1_0_plan_without_the_analysis_lists_migrates() -> None:
    data = {k: v for k, v in _raw(PLANS_1X[0]).items() if k not in ("what_if", "objective_alternatives")}
    plan = Plan.model_validate(upgrade(data | {"schema_version": "1.0.0"}))
    assert plan.what_if == [] and plan.analysis.skipped


def test_a_key_1_1_did_not_have_is_refused_as_an_edit() -> None:
    """1.1 planner wrote no other key: one in a 1.1 file was added by hand (planner check named it in 1.x)."""
    data = _raw(PLANS_1X[0])
    data["site"]["made_up_kw"] = 1.0
    with pytest.raises(ValidationError, match="made_up_kw"):
        Plan.model_validate(upgrade(data))


def test_keys_of_a_newer_1x_minor_are_dropped_as_1x_readers_ignored_them() -> None:
    data = _raw(PLANS_1X[0]) | {"schema_version": "1.5.0"}
    data["totals"]["water_l_per_year"] = 1.0
    data["workloads"][0]["slo_ttft_p99_ms"] = 900.0
    plan = Plan.model_validate(upgrade(data))
    assert "water_l_per_year" not in plan.totals.model_dump()


def test_needs_migration() -> None:
    major, minor, _ = (int(x) for x in PLAN_SCHEMA_VERSION.split("."))
    assert needs_migration("1.1.0") and needs_migration(f"{major}.{minor + 1}.0")
    assert not needs_migration(PLAN_SCHEMA_VERSION) and not needs_migration("not a version")


def test_drop_unknown_keys_walks_nested_models_and_lists() -> None:
    data = {"schema_version": "2.9.0", "future": 1, "totals": {"gpus": 1, "future_w": 2.0},
            "deployments": [{"workload": "a", "future": True}], "site": None}
    assert drop_unknown_keys(data, Plan) == {"schema_version": "2.9.0", "totals": {"gpus": 1},
                                             "deployments": [{"workload": "a"}], "site": None}
