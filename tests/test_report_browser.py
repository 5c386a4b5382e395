"""Open the HTML report in headless Chromium: it renders with no console message, makes no network
request, shows the key numbers, and leaves a screenshot.

Needs Debian's ``chromium`` on PATH (``.ci/run`` installs it); skipped with a reason otherwise.
Set REPORT_SCREENSHOT_DIR to keep the screenshot (for example as a CI artifact).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from planner.plan import load_plan
from planner.report import format as f
from planner.report import render_report
from planner.schemas.plan import Plan

FIXTURES = Path(__file__).parent / "fixtures" / "report"
SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
CHROMIUM = shutil.which("chromium")
TIMEOUT_S = 180
BASE_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--enable-logging=stderr", "--v=0"]

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not on PATH; CI installs Debian's "
                                "`chromium` package in .ci/run (apt-get install chromium)")


def run_chromium(tmp_path: Path, page: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
    command = [str(CHROMIUM), *BASE_FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()]
    return subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)


def console_problems(stderr: str) -> list[str]:
    """Console output of the page: the report has no script, so any message is unexpected."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


def page_requests(net_log: Path) -> list[str]:
    """URLs the page itself requested (the browser's own update/account checks are not the page's)."""
    log = json.loads(net_log.read_text(encoding="utf-8"))
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [event["params"]["url"] for event in log["events"]
            if event["type"] == start_job and "url" in event.get("params", {})
            and event["params"].get("initiator") != "not an origin"]


def solved_chatbot() -> Plan:
    from planner.optimize import solve_scenario

    return solve_scenario(SCENARIOS / "chatbot.yaml")


SOURCES = {"scenario": solved_chatbot, "fixture": lambda: load_plan(FIXTURES / "chatbot.plan.json")}


@pytest.fixture(scope="module", params=sorted(SOURCES))
def report(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Plan, Path]:
    """The chatbot report: of ``scenarios/chatbot.yaml`` as solved now, and of the hand-made fixture."""
    plan = SOURCES[request.param]()
    path = tmp_path_factory.mktemp(f"report-{request.param}") / "report.html"
    path.write_text(render_report(plan, "html"), encoding="utf-8")
    return plan, path


def key_numbers(plan: Plan) -> list[str]:
    t = plan.totals
    return [f.number_text(t.capex_usd, f.USD), f.number_text(t.it_power_nameplate_w, f.KW_FROM_W),
            f.number_text(t.it_power_max_w, f.KW_FROM_W), f.number_text(t.it_power_avg_w, f.KW_FROM_W),
            f.number_text(t.heat_btu_per_hr, f.BTU_PER_HR), f.number_text(t.cooling_tons, f.COOLING_TONS),
            f.number_text(t.co2e_t_per_year, f.TCO2E_PER_YEAR),
            f.number_text(t.usd_per_million_tokens, f.USD_CENTS)]


def test_screenshot_without_console_errors_or_requests(report: tuple[Plan, Path], tmp_path: Path) -> None:
    plan, page = report
    screenshot = tmp_path / "report.png"
    net_log = tmp_path / "net.json"
    result = run_chromium(tmp_path, page, f"--screenshot={screenshot}", "--window-size=1280,2000",
                          f"--log-net-log={net_log}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert screenshot.stat().st_size > 20_000
    assert console_problems(result.stderr) == []
    assert page_requests(net_log) == []
    keep = os.environ.get("REPORT_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(screenshot, Path(keep) / f"{plan.scenario.name}-{page.parent.name}.png")


def test_key_numbers_are_in_the_rendered_dom(report: tuple[Plan, Path], tmp_path: Path) -> None:
    plan, page = report
    result = run_chromium(tmp_path, page, "--dump-dom")
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    assert f'<span id="scenario-name">{plan.scenario.name}</span>' in dom
    for text in [*key_numbers(plan), "<svg"]:
        assert text in dom, text
    assert console_problems(result.stderr) == []
