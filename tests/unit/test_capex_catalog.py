"""Infrastructure figures in the catalog: every shipped server has them, each with its source and, as
an estimate, a plausible range around it; the scenario's finance values replace them; a user catalog
without them counts 0 and the plan says so."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from planner.catalog import load_catalog
from planner.problem.build import resolve_problem
from planner.scenario.load import LoadedScenario
from planner.schemas.catalog import ServerInfrastructure, SourcedFigure
from planner.schemas.scenario import DEFAULT_RACK_USD, Finance, Scenario

pytestmark = pytest.mark.unit

KEYS = ("network_usd_per_server", "storage_usd_per_server", "support_share_per_year")
DOC = {"name": "tiny", "hardware": {"gpus": ["h100-sxm", "l40s"]},
       "workloads": [{"name": "chat", "model": "llama-3.1-8b", "precisions": ["fp8"],
                      "traffic": {"peak_requests_per_s": 8, "input_tokens": 500, "output_tokens": 100},
                      "slo": {"ttft_p95_ms": 2000, "itl_p95_ms": 50}}]}


def _problem(doc: dict, catalog=None):  # type: ignore[no-untyped-def]
    loaded = LoadedScenario(Scenario.model_validate(doc), Path("tiny.yaml"), None, yaml.safe_dump(doc).encode())
    return resolve_problem(loaded, catalog or load_catalog())


def test_every_shipped_server_has_sourced_infrastructure_figures() -> None:
    for gpu in load_catalog().gpus.values():
        infra = gpu.server.infrastructure
        assert infra is not None, gpu.id
        for key in KEYS:
            figure: SourcedFigure = getattr(infra, key)
            assert figure.source.strip()
            if figure.estimate:
                assert figure.source.startswith("ESTIMATE") and figure.low <= figure.value <= figure.high


def test_an_estimate_needs_its_range_and_holds_its_value() -> None:
    with pytest.raises(ValidationError, match="needs its plausible range"):
        SourcedFigure(value=1.0, estimate=True, source="guess")
    with pytest.raises(ValidationError, match="outside its range"):
        SourcedFigure(value=10.0, low=1.0, high=5.0, estimate=True, source="guess")
    assert SourcedFigure(value=10.0, estimate=False, source="quote").low is None


def test_a_support_share_is_at_most_one() -> None:
    fig = {"value": 1.0, "estimate": False, "source": "x"}
    with pytest.raises(ValidationError, match="at most 1"):
        ServerInfrastructure(network_usd_per_server=fig, storage_usd_per_server=fig,  # type: ignore[arg-type]
                             support_share_per_year={"value": 1.5, "estimate": False, "source": "x"})


def test_the_problem_takes_the_catalogs_figures_per_server_model() -> None:
    p = _problem(DOC)
    catalog = load_catalog()
    for g in p.gpus:
        infra = catalog.gpus[g.id].server.infrastructure
        assert infra is not None
        assert g.network_usd_per_server == infra.network_usd_per_server.value
        assert g.storage_usd_per_server == infra.storage_usd_per_server.value
        assert g.support_share_per_year == infra.support_share_per_year.value
    assert p.gpu("h100-sxm").network_usd_per_server > p.gpu("l40s").network_usd_per_server  # HGX vs PCIe class
    assert p.money.rack_usd == DEFAULT_RACK_USD


def test_the_scenarios_finance_values_replace_the_catalogs() -> None:
    doc = copy.deepcopy(DOC)
    doc["finance"] = {"network_usd_per_server": 0, "storage_usd_per_server": 123, "rack_usd": 20_000,
                      "support_share_per_year": 0.2}
    p = _problem(doc)
    for g in p.gpus:
        assert (g.network_usd_per_server, g.storage_usd_per_server, g.support_share_per_year) == (0.0, 123.0, 0.2)
        assert g.server_hardware_usd == pytest.approx(g.server_capex_usd + 123.0)
    assert p.money.rack_usd == 20_000.0


def test_finance_refuses_a_share_above_one_and_negative_prices() -> None:
    with pytest.raises(ValidationError):
        Finance(support_share_per_year=1.5)
    with pytest.raises(ValidationError):
        Finance(rack_usd=-1)


def test_a_user_server_without_figures_counts_zero_and_the_plan_says_so(tmp_path: Path) -> None:
    shipped = yaml.safe_load((Path(__file__).resolve().parents[2] / "catalogs" / "gpus.yaml").read_text())
    entry = next(g for g in shipped["gpus"] if g["id"] == "l40s")
    entry = {**entry, "server": {k: v for k, v in entry["server"].items() if k != "infrastructure"}}
    (tmp_path / "mine.yaml").write_text(yaml.safe_dump({"gpus": [entry]}))
    p = _problem(DOC, load_catalog([tmp_path]))
    g = p.gpu("l40s")
    assert (g.network_usd_per_server, g.storage_usd_per_server, g.support_share_per_year) == (0.0, 0.0, 0.0)
    assert any(n.startswith("l40s: the catalog gives no network, storage or support figures") for n in p.notes)
    assert not any(n.startswith("h100-sxm:") for n in p.notes)


def test_assumption_rows_name_each_figure_with_its_source_and_range() -> None:
    from planner.plan.figures import infrastructure_assumptions

    rows = {r["name"]: r for r in infrastructure_assumptions(_problem(DOC))}
    infra = load_catalog().gpus["h100-sxm"].server.infrastructure
    assert infra is not None
    net = rows["h100-sxm network"]
    assert (net["value"], net["unit"], net["source"]) == ("8000", "USD per server", infra.network_usd_per_server.source)
    assert net["range"] == f"{infra.network_usd_per_server.low:g}-{infra.network_usd_per_server.high:g}"
    assert rows["rack with PDUs"]["source"].startswith("ESTIMATE") and rows["rack with PDUs"]["range"] == "4000-15000"
    doc = copy.deepcopy(DOC)
    doc["finance"] = {"network_usd_per_server": 100, "rack_usd": 9000}
    rows = {r["name"]: r for r in infrastructure_assumptions(_problem(doc))}
    net = rows["l40s network"]
    assert (net["value"], net["source"]) == ("100", "scenario finance.network_usd_per_server")
    l40s = load_catalog().gpus["l40s"].server.infrastructure
    assert l40s is not None and rows["l40s storage"]["source"] == l40s.storage_usd_per_server.source
    assert rows["rack with PDUs"]["source"] == "scenario finance.rack_usd" and rows["rack with PDUs"]["range"] == ""
