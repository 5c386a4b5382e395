"""Hostile plan files (issue 9): non-finite numbers, deep nesting, huge lists and files.

Every command that reads a plan (report, diff, check) answers with one PlanFileError naming the
file and the key path, exit 1, no traceback, within seconds.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from planner.cli.main import main
from planner.errors import PlanFileError
from planner.plan import io as plan_io
from planner.schemas.plan import Totals

ROOT = Path(__file__).resolve().parent.parent
PLAN = ROOT / "plans" / "chatbot" / "plan.json"
SCENARIO = ROOT / "scenarios" / "chatbot.yaml"
NAMEPLATE = '"it_power_nameplate_w": '


def tampered(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "plan.json"
    p.write_text(text, encoding="utf-8")
    return p


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    start = time.monotonic()
    rc = main(list(args))
    out = capsys.readouterr()
    assert "Traceback" not in out.err and time.monotonic() - start < 5
    return rc, out.err


def commands(plan: Path) -> list[list[str]]:
    return [["report", str(plan)], ["diff", str(plan), str(plan)], ["diff", str(PLAN), str(plan)],
            ["check", str(SCENARIO), "--plan", str(plan)]]


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_numbers_are_refused_by_every_command(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                         token: str) -> None:
    text = PLAN.read_text(encoding="utf-8")
    plan = tampered(tmp_path, text.replace(NAMEPLATE, NAMEPLATE + token + ', "was": ', 1))
    for args in commands(plan):
        rc, err = run(capsys, *args)
        assert rc == 1, args
        assert f"{plan}: " in err and "is not a finite number" in err and "it_power_nameplate_w" in err


def test_non_finite_number_in_totals_names_its_key_path(tmp_path: Path) -> None:
    data = json.loads(PLAN.read_text(encoding="utf-8"))
    data["totals"]["it_power_nameplate_w"] = float("nan")
    plan = tampered(tmp_path, json.dumps(data))
    with pytest.raises(PlanFileError) as info:
        plan_io.load_plan(plan)
    assert info.value.key_path == "totals.it_power_nameplate_w"


def test_lone_surrogate_escape_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """JSON may escape a lone surrogate; printing or writing the report then raised UnicodeEncodeError."""
    data = json.loads(PLAN.read_text(encoding="utf-8"))
    data["scenario"]["description"] = "\ud800"
    plan = tampered(tmp_path, json.dumps(data))  # ASCII file: the surrogate is the escape \ud800
    rc, err = run(capsys, "report", str(plan), "--out", str(tmp_path / "r.md"))
    assert rc == 1 and "scenario.description: holds a lone surrogate" in err and not (tmp_path / "r.md").exists()


@pytest.mark.parametrize(("section", "key", "value"), [
    ("site", "power_cap_kw", "abc"), ("finance", "amortization_years", "4"), ("objective", "value", "x"),
    ("workloads", "peak_requests_per_s", [1]), ("objective_alternatives", "gpus", {"value": 1}),
    ("site", "carbon_year", "abc")])
def test_text_where_a_plan_holds_a_number_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     section: str, key: str, value: object) -> None:
    """The report printed "abc" as the site's power cap (fuzz finding F4)."""
    data = json.loads(PLAN.read_text(encoding="utf-8"))
    target = data[section][0] if isinstance(data[section], list) else data[section]
    target[key] = value
    where = f"{section}[0]" if isinstance(data[section], list) else section
    rc, err = run(capsys, "report", str(tampered(tmp_path, json.dumps(data))))
    assert rc == 1 and f"{where}" in err and key in err and "got" in err and err.count("\n") == 1


def test_plan_models_refuse_non_finite_numbers() -> None:
    totals = json.loads(PLAN.read_text(encoding="utf-8"))["totals"]
    with pytest.raises(ValidationError, match="finite"):
        Totals.model_validate({**totals, "it_power_nameplate_w": float("inf")})


@pytest.mark.parametrize("depth", [plan_io.MAX_PLAN_DEPTH + 1, 900, 100_000])
def test_deep_nesting_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], depth: int) -> None:
    plan = tampered(tmp_path, '{"schema_version": "1.1.0", "x": ' + "[" * depth + "]" * depth + "}")
    for args in commands(plan):
        rc, err = run(capsys, *args)
        assert rc == 1 and f"{plan}: " in err and f"nested deeper than {plan_io.MAX_PLAN_DEPTH}" in err


def test_brackets_inside_strings_do_not_count_as_nesting(tmp_path: Path) -> None:
    data = json.loads(PLAN.read_text(encoding="utf-8"))
    data["scenario"]["description"] = '[{"\\' * 100
    plan = tampered(tmp_path, json.dumps(data))
    assert plan_io.load_plan(plan).scenario.description == data["scenario"]["description"]


@pytest.mark.parametrize(("section", "key"), [("scenario", "description"), ("deployments", "workload")])
def test_huge_text_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], section: str, key: str) -> None:
    """A 10 MB description or name was printed whole by report, diff and check."""
    data = json.loads(PLAN.read_text(encoding="utf-8"))
    target = data[section][0] if isinstance(data[section], list) else data[section]
    target[key] = "x" * (plan_io.MAX_PLAN_STRING_CHARS + 1)
    plan = tampered(tmp_path, json.dumps(data))
    for args in commands(plan):
        rc, err = run(capsys, *args)
        assert rc == 1 and f".{key}: text of " in err and len(err) < 1000


def test_huge_list_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = tampered(tmp_path, '{"schema_version": "1.1.0", "deployments": [' + ",".join(["0"] * 1_000_000) + "]}")
    rc, err = run(capsys, "report", str(plan))
    assert rc == 1 and f"{plan}: deployments: 1,000,000 items" in err


def test_many_problems_give_a_bounded_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = tampered(tmp_path, '{"schema_version": "1.1.0", "deployments": [' + ",".join(["0"] * 5000) + "]}")
    rc, err = run(capsys, "report", str(plan))
    assert rc == 1 and "more problems" in err and len(err) < 5000


def test_file_over_the_byte_bound_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plan_io, "MAX_PLAN_BYTES", 1000)
    with pytest.raises(PlanFileError, match="more than the 1,000"):
        plan_io.load_plan(PLAN)


@pytest.mark.parametrize(("section", "key", "value"), [
    ("site", "breaker_derating", 0), ("site", "breaker_derating", 5e-324), ("site", "rack_power_cap_kw", -1),
    ("finance", "amortization_years", 0)])
def test_site_numbers_a_solve_never_writes_are_refused_by_report(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], section: str, key: str, value: float) -> None:
    """A zero breaker derating divided by zero while sizing circuits (traceback before)."""
    data = json.loads(PLAN.read_text(encoding="utf-8"))
    data[section][key] = value
    plan = tampered(tmp_path, json.dumps(data))
    for fmt in ("md", "html"):
        rc, err = run(capsys, "report", str(plan), "--format", fmt)
        # refused when the plan is read (naming the file), before the report needs the number
        assert rc == 1 and f"{plan}: " in err and f"{section}.{key}: must be between" in err


@pytest.mark.parametrize("fmt", ["text", "md", "github-comment"])
def test_names_in_a_plan_cannot_change_the_diff_layout(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       fmt: str) -> None:
    """A hand-edited workload name with a newline and a fence closed the comment's ```diff block
    and posted a fake heading; an escape sequence could restyle a terminal."""
    data = json.loads(PLAN.read_text(encoding="utf-8"))
    data["deployments"][0]["workload"] = "x\n```\n# No changes\x1b[2J"
    data["deployments"][0]["replicas"] += 1
    plan = tampered(tmp_path, json.dumps(data))
    rc = main(["diff", str(PLAN), str(plan), "--format", fmt])
    out = capsys.readouterr().out
    assert rc == 2 and "\x1b" not in out
    assert not any(line.startswith("# No changes") for line in out.splitlines())
    assert sum(line.startswith("```") for line in out.splitlines()) == (0 if fmt == "text" else 2)


def test_committed_plan_still_loads_and_diffs_clean(capsys: pytest.CaptureFixture[str]) -> None:
    rc, _ = run(capsys, "diff", str(PLAN), str(PLAN))
    assert rc == 0
