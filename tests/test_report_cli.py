"""`planner report` through the real entry point: formats, --out, and errors as exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from planner.cli.main import main
from planner.schemas.plan import PLAN_SCHEMA_VERSION

FIXTURES = Path(__file__).parent / "fixtures" / "report"
CHATBOT = str(FIXTURES / "chatbot.plan.json")


def test_markdown_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", CHATBOT]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Capacity plan: chatbot\n")
    assert out == (FIXTURES / "chatbot.md").read_text(encoding="utf-8")


def test_html_to_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report.html"
    assert main(["report", CHATBOT, "--format", "html", "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert "wrote" in capsys.readouterr().err


def test_json_specs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", CHATBOT, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["num_gpus"] == 16


def test_missing_plan_is_an_input_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path / "nope.json")]) == 1
    assert capsys.readouterr().err.startswith("Error: ")


def test_corrupt_plan_is_an_input_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "plan.json"
    bad.write_text("{not json", encoding="utf-8")
    assert main(["report", str(bad)]) == 1
    assert "not valid JSON" in capsys.readouterr().err


def test_plan_without_site_keys_names_every_missing_key(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads(Path(CHATBOT).read_text(encoding="utf-8"))
    data["site"] = {"pue": 1.3}
    data["finance"] = {}
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    assert main(["report", str(path), "--format", "md"]) == 1
    err = capsys.readouterr().err
    for key in ("site.electricity_usd_per_kwh", "site.feeds", "site.carbon_source",
                "finance.amortization_years"):
        assert key in err
    assert "Traceback" not in err


def test_unknown_format_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", CHATBOT, "--format", "pdf"]) == 1
    assert "pdf" in capsys.readouterr().err


PLANS_1X = Path(__file__).parent / "fixtures" / "plans-1.x"


@pytest.mark.parametrize("fmt", ["md", "html", "json"])
def test_a_1x_plan_renders_with_one_migration_note(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    plan = PLANS_1X / "multi-model-1mw.json"
    assert main(["report", str(plan), "--format", fmt]) == 0
    captured = capsys.readouterr()
    assert captured.err == (f"Note: {plan}: schema 1.1.0, migrated on read to {PLAN_SCHEMA_VERSION}; "
                            f"re-solve to write {PLAN_SCHEMA_VERSION}\n")
    assert captured.out.strip()


def test_a_1x_plan_renders_as_its_1x_report(capsys: pytest.CaptureFixture[str]) -> None:
    """Migration changes no figure: the report of a 1.1 plan names its schema and shows its what-if results."""
    assert main(["report", str(PLANS_1X / "chatbot.json")]) == 0
    out = capsys.readouterr().out
    assert "| Planner / plan schema | 0.1.0 / 1.1.0 |" in out
    assert "were not computed for this plan" not in out


def test_a_2_0_plan_renders_without_a_note(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", CHATBOT]) == 0
    assert capsys.readouterr().err == ""
