"""The HTML report's charts: SVG drawn from the numbers alone, labels never cut or piled up."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from planner.report import charts
from planner.report.pareto import Point
from planner.schemas.plan import ObjectiveAlternative

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "report"


def test_nice_ticks_cover_the_range_on_a_1_2_2_5_5_step() -> None:
    assert charts.nice_ticks(37.0) == [0.0, 10.0, 20.0, 30.0, 40.0]
    assert charts.nice_ticks(1.1e6, 4, 0.9e6) == [900000.0, 950000.0, 1000000.0, 1050000.0, 1100000.0]
    assert charts.nice_ticks(0.0) == [0.0, 1.0]  # an empty chart still has an axis


def _texts(svg: str) -> list[tuple[float, str, str]]:
    return [(float(x), anchor, text) for x, anchor, text in
            re.findall(r'<text x="([-\d.]+)" y="[-\d.]+" text-anchor="(\w+)"[^>]*>([^<]*)</text>', svg)]


def test_many_long_rack_names_widen_the_chart_instead_of_being_cut() -> None:
    ids = [f"hall-a-row-{i:02d}-rack" for i in range(40)]
    svg = charts.rack_power_svg(ids, [30.0] * 40, [20.0] * 40, [10.0] * 40, [32.0] * 40, 25.0)
    width, height = map(float, re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', svg).groups())  # type: ignore[union-attr]
    assert width >= 40 * 26
    for name in ids:  # rotated labels: their bottom margin holds the longest name
        assert f">{name}</" in svg
    assert height - 300 >= 0 and "rotate(-90" in svg
    for x, anchor, text in _texts(svg):
        if anchor == "start" and "rotate" not in text:
            assert x + charts.text_width_px(text) <= width + 1e-6, text


def _point(objective: str, power_w: float, cost_usd_per_year: float) -> Point:
    row = ObjectiveAlternative(objective=objective, status="optimal", tco_per_year_usd=cost_usd_per_year,
                               it_power_max_w=power_w, it_power_nameplate_w=power_w, co2e_t_per_year=0.0, gpus=8)
    return Point(row, "objective_alternatives[0]")


def test_objectives_on_one_point_share_one_dot_and_one_label() -> None:
    same = [_point(o, 10e3, 1e5) for o in ("min_tco", "min_power", "min_gpus")]
    svg = charts.pareto_svg(same, [True, True, True], "min_tco")
    assert svg.count("<circle") == 1 + 2  # the point and two legend dots
    assert ">min_tco, min_power, min_gpus<" in svg


def test_labels_that_would_overlap_are_moved_apart() -> None:
    near = [_point("min_power", 100e3, 1.0e6), _point("min_carbon", 100.5e3, 1.001e6), _point("min_tco", 200e3, 0.5e6)]
    svg = charts.pareto_svg(near, [True, False, True], "min_tco")
    ys = {text: float(y) for y, text in re.findall(r'<text x="[-\d.]+" y="([-\d.]+)"[^>]*>(min_\w+)</text>', svg)}
    assert abs(ys["min_power"] - ys["min_carbon"]) >= charts.FONT_PX


def test_charts_are_the_same_bytes_every_time_and_need_no_plotting_library() -> None:
    code = ("import sys; from planner.plan import load_plan; from planner.report import render_report;"
            f"h = render_report(load_plan({str(FIXTURES / 'fleet.plan.json')!r}), 'html');"
            "print('matplotlib' in sys.modules, h.count('<svg '), hash(h) == hash(render_report("
            f"load_plan({str(FIXTURES / 'fleet.plan.json')!r}), 'html')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "3", "True"]


def test_a_pareto_chart_of_one_point_is_a_sentence_instead() -> None:
    """When every objective lands on the same cost and peak power the chart would be one dot: the
    report says so in a sentence and draws no chart; a plan with a real trade-off keeps its chart."""
    from planner.plan import load_plan
    from planner.report import render_report

    root = Path(__file__).resolve().parents[1]
    agreed = render_report(load_plan(root / "plans" / "chatbot" / "plan.json"), "html")
    assert 'id="pareto-note"' in agreed and "Every objective" in agreed
    assert "Yearly TCO against expected peak IT power" not in agreed
    assert "Every objective" in render_report(load_plan(root / "plans" / "chatbot" / "plan.json"), "md")
    traded = render_report(load_plan(root / "plans" / "multi-model-1mw" / "plan.json"), "html")
    assert 'id="pareto-note"' not in traded and "Yearly TCO against expected peak IT power" in traded
