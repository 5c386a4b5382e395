"""The public API: what `planner` exports, and that importing it (or running `planner estimate`)
stays light. Nothing beyond ``__all__`` leaks from the package (httpx-style)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import planner

PUBLIC = ["Catalog", "Estimate", "__version__", "compare", "errors", "estimate", "estimate_table", "load_catalog",
          "solve"]
HEAVY = ("pandas", "scipy", "pulp", "matplotlib", "highspy")


def _python(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout


def test_all_is_the_public_api():
    assert sorted(planner.__all__) == PUBLIC
    assert planner.__all__ == sorted(planner.__all__)


def test_nothing_else_leaks_from_a_fresh_import():
    names = json.loads(_python("import json, planner; print(json.dumps(sorted(vars(planner))))"))
    public = [n for n in names if not n.startswith("_")]
    assert public == []  # every public name is resolved lazily from __all__
    assert "__version__" in names


def test_dir_shows_exactly_all():
    assert dir(planner) == sorted(planner.__all__)


def test_every_exported_name_resolves_to_the_real_object():
    from planner import errors
    from planner.catalog.loader import Catalog, load_catalog
    from planner.estimation import Estimate, estimate, estimate_table

    assert planner.estimate is estimate and planner.estimate_table is estimate_table
    assert planner.Estimate is Estimate and planner.Catalog is Catalog and planner.load_catalog is load_catalog
    assert planner.errors is errors and issubclass(planner.errors.DoesNotFitError, planner.errors.PlannerError)
    assert isinstance(planner.__version__, str)


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = planner.nope  # type: ignore[attr-defined]


def test_the_api_works_through_the_package():
    e = planner.estimate("llama-3.1-8b", "h100-sxm", batch_size=8, input_tokens=1000, output_tokens=100)
    assert isinstance(e, planner.Estimate) and e.fits_memory
    with pytest.raises(planner.errors.UnknownNameError):
        planner.estimate("nope", "h100-sxm", input_tokens=1, output_tokens=1)


def test_import_planner_loads_no_numeric_or_schema_library():
    loaded = json.loads(_python("import json, sys, planner; print(json.dumps(sorted(sys.modules)))"))
    assert not {"numpy", "pydantic", "yaml", *HEAVY} & set(loaded)


def test_estimate_command_imports_no_heavy_library():
    code = ("import json, sys, io, contextlib\nfrom planner.cli.main import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    rc = main(['estimate', '--model', 'llama-3.1-70b', '--gpu', 'h100-sxm', '--tp', '4',"
            " '--batch-size', '8', '--input-tokens', '4096', '--output-tokens', '512'])\n"
            "print(json.dumps([rc, sorted(sys.modules)]))")
    rc, loaded = json.loads(_python(code).splitlines()[-1])
    assert rc == 0
    assert not set(HEAVY) & set(loaded), set(HEAVY) & set(loaded)


def test_compare_stays_the_function_after_its_module_is_imported():
    out = _python("import planner.comparison, planner; print(callable(planner.compare), "
                  "planner.compare is planner.comparison.compare)")
    assert out.split() == ["True", "True"]


def test_estimate_stays_the_function_after_its_module_is_imported():
    """The module holding the API is not named ``estimate``: importing it must not shadow the function."""
    out = _python("import planner.estimation, planner; print(callable(planner.estimate), "
                  "planner.estimate is planner.estimation.estimate)")
    assert out.split() == ["True", "True"]


def test_latency_under_load_through_the_package():
    e = planner.estimate("llama-3.1-8b", "h100-sxm", batch_size=64, input_tokens=256, output_tokens=256,
                         arrival_requests_per_s=5.0)
    assert e.saturated is False and 0 < e.ttft_p50_s <= e.ttft_p95_s <= e.ttft_p99_s and e.batch_size < 64
    keys = {"arrival_requests_per_s", "concurrency_cap", "saturated", "ttft_mean_s", "ttft_p50_s", "ttft_p95_s",
            "ttft_p99_s", "itl_mean_s", "prefix_cache_hit_rate"}
    assert keys <= set(e.to_dict())
