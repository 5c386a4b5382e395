"""Regression tests for fuzz findings fixed after the first hardening pass (F8, F9, F10)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from planner.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
CHATBOT = ROOT / "scenarios" / "chatbot.yaml"


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "0", "1e308"])
def test_solve_refuses_a_time_limit_that_is_not_a_finite_positive_number(value: str, capsys) -> None:
    assert main(["solve", str(CHATBOT), "--no-write", "--time-limit", value]) == 1
    err = capsys.readouterr().err
    assert "--time-limit" in err and "Traceback" not in err


@pytest.mark.parametrize(("section", "key", "value"), [("finance", "amortization_years", -5),
                                                        ("site", "breaker_derating", 0), ("site", "pue", 0.5)])
def test_a_plan_with_an_out_of_range_site_or_finance_number_is_refused_on_load(
        tmp_path: Path, section: str, key: str, value: float, capsys) -> None:
    doc = json.loads((ROOT / "plans" / "chatbot" / "plan.json").read_text(encoding="utf-8"))
    doc[section][key] = value
    bad = tmp_path / "plan.json"
    bad.write_text(json.dumps(doc), encoding="utf-8")
    for argv in (["report", str(bad), "--format", "md"], ["diff", str(bad), str(bad)]):
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert f"{bad}: " in err and key in err and "Traceback" not in err


def test_diff_of_scenarios_skips_the_analysis_it_never_shows(monkeypatch) -> None:
    import planner.optimize.solve as solve

    calls = []
    real = solve.solve_loaded  # diff loads the scenario first (to refuse a roadmap), then solves it

    def spy(*args, **kwargs):
        calls.append(kwargs.get("analysis", True))
        return real(*args, **kwargs)

    monkeypatch.setattr(solve, "solve_loaded", spy)
    assert main(["diff", str(CHATBOT), str(CHATBOT), "--format", "json"]) == 0
    assert calls == [False, False]


def test_a_model_level_error_does_not_end_in_got_a_mapping() -> None:
    from pydantic import BaseModel, ValidationError, model_validator

    from planner.io.files import describe_validation_error

    class Gpu(BaseModel):
        idle_w: float
        tdp_w: float

        @model_validator(mode="after")
        def idle_below_tdp(self) -> Gpu:
            if self.idle_w >= self.tdp_w:
                raise ValueError(f"idle_w ({self.idle_w}) must be below tdp_w ({self.tdp_w})")
            return self

    with pytest.raises(ValidationError) as info:
        Gpu.model_validate({"idle_w": 70.0, "tdp_w": 1e-300})
    text = describe_validation_error(info.value, "gpus.yaml")
    assert "must be below tdp_w (1e-300)" in text and "got a mapping" not in text


@pytest.mark.parametrize("kwargs", [{"input_tokens": 1e300}, {"output_tokens": 1e8}, {"batch_size": 10**22},
                                    {"pp": 1000}, {"power_limit_w": 1e300}, {"power_limit_w": float("nan")}])
def test_the_python_estimate_has_the_same_bounds_as_the_cli(kwargs: dict) -> None:
    import warnings

    import planner
    from planner.errors import InputError

    args = {"input_tokens": 512, "output_tokens": 128, **kwargs}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy overflow on the way to the message
        with pytest.raises(InputError) as info:
            planner.estimate("llama-3.1-8b", "h100-sxm", **args)
    assert next(iter(kwargs)) in str(info.value) and len(str(info.value)) < 200
