"""Test tiers (every test gets exactly one of unit / integration / e2e) and the fixtures shared by the
calibration and accuracy tests: the shipped catalog and measurements."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from planner.calibration.measurements import load_measurements
from planner.catalog import load_catalog

SHIPPED_MEASUREMENTS = Path(__file__).resolve().parent.parent / "planner" / "data" / "measurements" / \
    "calibration-h100-a100.csv"


TIERS = ("unit", "integration", "e2e")


def pytest_configure(config: pytest.Config) -> None:
    """The suite's per-user cache (compiled templates, parsed catalogs; planner.paths.cache_root) goes
    to a fresh folder of this run, inherited by the CLI subprocesses, never the user's ~/.cache."""
    os.environ["PLANNER_CACHE_DIR"] = tempfile.mkdtemp(prefix="planner-test-cache-")

# The tier of each flat tests/test_*.py file, measured with `pytest --durations=0` (a file whose tests
# are mixed is `integration`). A file may instead mark itself with `pytestmark = pytest.mark.<tier>`
# (tests/unit/ files do), or each of its tests (test_sweep.py); a tier given in the file wins.
# unit: pure, in-process, seconds for the whole tier, no subprocess, no solve beyond a tiny one;
# integration: solves, the CLI in-process, files; e2e: subprocesses, git, a browser.
FILE_TIERS: dict[str, str] = {
    "test_accuracy.py": "integration",
    "test_architecture.py": "unit",
    "test_calibration_fit.py": "integration",
    "test_calibration_importers.py": "integration",
    "test_calibration_measurements.py": "integration",
    "test_calibration_shipped.py": "integration",
    "test_catalog_cli.py": "integration",
    "test_catalog_generic.py": "unit",
    "test_catalog_hf_import.py": "integration",
    "test_catalog_lookup_names.py": "unit",
    "test_check_rederive.py": "integration",
    "test_cli_estimate.py": "integration",
    "test_cli_help.py": "integration",
    "test_committed_plans.py": "integration",
    "test_constants_doc.py": "unit",
    "test_core_memory.py": "unit",
    "test_core_moe.py": "unit",
    "test_core_power.py": "unit",
    "test_core_precision.py": "unit",
    "test_core_properties.py": "unit",
    "test_core_table.py": "unit",
    "test_estimate_semantics.py": "integration",
    "test_gitops_check.py": "unit",
    "test_gitops_cli.py": "integration",
    "test_gitops_diff.py": "unit",
    "test_gitops_e2e.py": "e2e",
    "test_gitops_git.py": "e2e",
    "test_gitops_policy.py": "integration",
    "test_gitops_workflow.py": "e2e",
    "test_gpu_segment.py": "integration",
    "test_hardening_calibration.py": "integration",
    "test_hardening_catalog.py": "integration",
    "test_hardening_cli.py": "integration",
    "test_hardening_estimate.py": "integration",
    "test_hardening_late_findings.py": "integration",
    "test_hardening_plan.py": "integration",
    "test_hardening_scenario.py": "integration",
    "test_lock.py": "integration",
    "test_name_resolution.py": "integration",
    "test_optimize.py": "integration",
    "test_plan_io.py": "integration",
    "test_properties_inputs.py": "integration",
    "test_public_api.py": "e2e",
    "test_queueing_vs_simulation.py": "integration",
    "test_readme.py": "integration",
    "test_report_api.py": "unit",
    "test_report_appendix.py": "integration",
    "test_report_browser.py": "e2e",
    "test_report_charts.py": "unit",
    "test_report_cli.py": "integration",
    "test_report_determinism.py": "unit",
    "test_report_escaping.py": "unit",
    "test_report_figures.py": "integration",
    "test_report_golden.py": "unit",
    "test_report_layout.py": "e2e",
    "test_core_import_purity.py": "e2e",
    "test_report_psu.py": "unit",
    "test_report_specs.py": "unit",
    "test_scenario_input.py": "integration",
    "test_solver_quiet.py": "e2e",
    "test_tie_break.py": "integration",
}

# Single tests that leave their file's tier: those that start a Python subprocess.
TEST_TIERS: dict[str, str] = {
    "test_accuracy.py::test_readme_section_is_up_to_date": "e2e",
    "test_calibration_measurements.py::test_cli_subprocess_has_no_traceback": "e2e",
    "test_cli_help.py::test_help_imports_no_command_module": "e2e",
    "test_constants_doc.py::test_constants_doc_is_current": "e2e",
    "test_gitops_cli.py::test_diff_through_python_m_planner": "e2e",
    "test_gitops_cli.py::test_check_through_python_m_planner": "e2e",
    "test_hardening_scenario.py::test_alias_bomb_of_the_issue_answers_fast": "e2e",
    "test_report_charts.py::test_charts_are_the_same_bytes_every_time_and_need_no_plotting_library": "e2e",
    "test_report_determinism.py::test_same_bytes_in_another_process_with_another_hash_seed": "e2e",
    "test_report_determinism.py::test_markdown_does_not_import_matplotlib": "e2e",
}

TESTS_DIR = Path(__file__).resolve().parent


def _table_tier(item: pytest.Item) -> str | None:
    path = Path(str(item.path)).resolve()
    if path.parent != TESTS_DIR:
        return None
    name = getattr(item, "originalname", item.name)
    return TEST_TIERS.get(f"{path.name}::{name}") or FILE_TIERS.get(path.name)


def _stale_entries() -> list[str]:
    files = set(FILE_TIERS) | {key.split("::")[0] for key in TEST_TIERS}
    return sorted(f for f in files if not (TESTS_DIR / f).is_file())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Give every flat tests/test_*.py item its tier from the tables above; refuse to run when a
    test has no tier or two, or when a table names a file that no longer exists."""
    problems: list[str] = []
    for item in items:
        own = [m.name for m in item.iter_markers() if m.name in TIERS]
        table = _table_tier(item)
        if table is not None and not own:  # a tier the test or its file gives itself wins over the table
            item.add_marker(getattr(pytest.mark, table))
            own.append(table)
        if len(set(own)) != 1:
            rel = Path(str(item.path)).resolve().relative_to(TESTS_DIR.parent)
            what = "has no test tier" if not own else f"{item.name} has two tiers {sorted(set(own))}"
            problems.append(f"{rel}: {what}: give the file exactly one, either `pytestmark = "
                            f"pytest.mark.<tier>` in it or an entry in FILE_TIERS in tests/conftest.py "
                            f"(tiers: {', '.join(TIERS)}; see the README, Development)")
    problems = sorted(set(problems)) + [f"tests/conftest.py: FILE_TIERS or TEST_TIERS names tests/{f}, which "
                                        "does not exist (remove the entry)" for f in _stale_entries()]
    if problems:
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise pytest.UsageError("test tiers:\n  " + "\n  ".join(problems[:20]) + more)


@pytest.fixture(scope="module")
def catalog():
    """The shipped catalogs (loaded once per test module)."""
    return load_catalog()


@pytest.fixture(scope="module")
def calibration():
    """The shipped calibration (loaded once per test module)."""
    from planner.calibration.coefficients import load_calibration

    return load_calibration()[0]


@pytest.fixture(scope="module")
def measurements(catalog):
    """The shipped measurement file, validated and resolved against ``catalog``."""
    return load_measurements(SHIPPED_MEASUREMENTS, catalog)
