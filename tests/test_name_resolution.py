"""Names resolved once: a GPU- or model-keyed mapping has the same effect under any name the catalog
resolves (id, alias, vendor spelling), in validate and in solve (issue 9, "What to build" 3)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from planner.catalog import load_catalog
from planner.cli.main import main
from planner.errors import InputError
from planner.optimize.solve import solve_scenario
from planner.scenario.load import load_scenario
from planner.scenario.names import check_names, resolve_names

ALIAS = "H100 80GB"  # a vendor spelling the catalog resolves to h100-sxm, but not one of its listed aliases

BASE = {
    "name": "names",
    "workloads": [{"name": "chat", "model": "Llama-3.1-8B-Instruct",
                   "traffic": {"peak_requests_per_s": 30, "input_tokens": 1000, "output_tokens": 200},
                   "slo": {"ttft_p95_ms": 1000, "itl_p95_ms": 40}, "precisions": ["bf16"]}],
    "hardware": {"gpus": ["h100-sxm", "NVIDIA H200"]},
    "site": {"power_cap_kw": 100},
    "objective": "min_tco",
}


def _doc(**patch: dict) -> dict:
    doc = copy.deepcopy(BASE)
    for section, values in patch.items():
        doc.setdefault(section, {}).update(values)
    return doc


def _write(tmp_path: Path, doc: dict, name: str = "s.yaml") -> Path:
    p = tmp_path / name
    p.write_text(yaml.safe_dump(doc, sort_keys=False))
    return p


def _decisions(tmp_path: Path, doc: dict, name: str) -> tuple:
    plan = solve_scenario(_write(tmp_path, doc, name), analysis=False)
    return (tuple((d.gpu, d.precision, d.tp, d.pp, d.batch_size, d.replicas) for d in plan.deployments),
            tuple((s.gpu, s.servers, s.gpus_per_server) for s in plan.servers), plan.totals.capex_usd)


def test_resolve_names_keys_every_mapping_by_catalog_id() -> None:
    doc = _doc(hardware={"inventory": {ALIAS: 16}, "servers": {"h200-sxm": {"gpus_per_server": 4}}},
               finance={"gpu_prices_usd": {"nvidia h100 sxm5 80gb": 1.0}, "server_prices_usd": {"H200 141GB": 2.0}})
    from planner.schemas.scenario import Scenario

    names = resolve_names(Scenario.model_validate(doc), load_catalog())
    assert names.gpu_ids == ("h100-sxm", "h200")
    assert dict(names.inventory_gpus) == {"h100-sxm": 16}
    assert names.servers["h200"].gpus_per_server == 4
    assert dict(names.gpu_prices_usd) == {"h100-sxm": 1.0}
    assert dict(names.server_prices_usd) == {"h200": 2.0}
    assert dict(names.models) == {"chat": "llama-3.1-8b"}


def test_resolve_names_raises_one_error_listing_every_problem() -> None:
    from planner.schemas.scenario import Scenario

    doc = _doc(finance={"gpu_prices_usd": {"h100-sxm": 1.0, ALIAS: 2.0, "nonesuch-gpu": 3.0}})
    doc["workloads"][0]["model"] = "no-such-model-xyz"
    with pytest.raises(InputError) as err:
        resolve_names(Scenario.model_validate(doc), load_catalog(), file="s.yaml")
    lines = str(err.value).splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("s.yaml: workloads[0].model: unknown model 'no-such-model-xyz'")
    assert lines[1] == (f"s.yaml: finance.gpu_prices_usd.{ALIAS}: names GPU h100-sxm, as does key 'h100-sxm' "
                        "(keep one of the two keys)")
    assert lines[2].startswith("s.yaml: finance.gpu_prices_usd.nonesuch-gpu: unknown GPU 'nonesuch-gpu'")


def test_check_names_returns_the_resolution(tmp_path: Path) -> None:
    names = check_names(load_scenario(_write(tmp_path, _doc(hardware={"inventory": {ALIAS: 8}}))), load_catalog())
    assert dict(names.inventory_gpus) == {"h100-sxm": 8}


@pytest.mark.parametrize("section,mapping_key,value", [
    ("finance", "gpu_prices_usd", 1.0),
    ("finance", "server_prices_usd", 1.0),
    ("hardware", "inventory", 0),
    ("hardware", "servers", {"gpus_per_server": 4, "price_usd": 1.0}),
])
def test_a_mapping_keyed_by_an_alias_acts_as_keyed_by_the_id(tmp_path: Path, section: str, mapping_key: str,
                                                              value: object) -> None:
    by_id = _decisions(tmp_path, _doc(**{section: {mapping_key: {"h100-sxm": value}}}), "id.yaml")
    by_alias = _decisions(tmp_path, _doc(**{section: {mapping_key: {ALIAS: value}}}), "alias.yaml")
    without = _decisions(tmp_path, _doc(), "none.yaml")
    assert by_alias == by_id
    assert by_id != without, "the mapping must change the plan, or this test proves nothing"


def test_a_price_keyed_by_an_alias_sets_the_capex(tmp_path: Path) -> None:
    doc = _doc(hardware={"gpus": ["h100-sxm"]}, finance={"gpu_prices_usd": {ALIAS: 1.0}})
    plan = solve_scenario(_write(tmp_path, doc), analysis=False)
    catalog = load_catalog()
    server = catalog.gpu("h100-sxm").server
    (sg,) = plan.servers
    t = plan.totals
    gpus_and_servers_usd = t.capex_usd - t.network_capex_usd - t.storage_capex_usd - t.rack_capex_usd
    assert sg.gpu_price_usd == 1.0
    assert gpus_and_servers_usd == pytest.approx(sg.servers * (sg.gpus_per_server * 1.0 + server.price_usd))
    (row,) = [a for a in plan.assumptions if a["name"] == "h100-sxm price"]
    assert (row["value"], row["source"]) == ("1", "scenario finance.gpu_prices_usd")


def test_validate_and_solve_take_a_price_by_alias_for_a_gpu_without_catalog_price(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    catalog = load_catalog()
    no_price = next(g for g, s in catalog.gpus.items() if s.price is None)
    vendor_name = f"Tesla {no_price.upper()} GPU"  # not a listed alias: resolved by the catalog lookup only
    assert catalog.gpu(vendor_name).id == no_price
    doc = _doc(hardware={"gpus": [no_price]}, finance={"gpu_prices_usd": {vendor_name: 1000.0}})
    path = _write(tmp_path, doc)
    assert main(["validate", str(path)]) == 0
    plan = solve_scenario(path, analysis=False)
    assert {s.gpu for s in plan.servers} == {no_price}


def test_what_if_relaxes_an_inventory_keyed_by_an_alias(tmp_path: Path) -> None:
    # the inventory binds: the what-if "+1 server of inventory" must re-solve, whatever the key's spelling
    def what_if(key: str) -> list:
        doc = _doc(hardware={"gpus": ["h100-sxm"], "inventory": {key: 8}})
        doc["workloads"][0]["traffic"]["peak_requests_per_s"] = 60
        plan = solve_scenario(_write(tmp_path, doc, f"{len(key)}.yaml"))
        return [w for w in plan.what_if if str(w["limit"]).startswith("inventory_")]

    by_id, by_alias = what_if("h100-sxm"), what_if(ALIAS)
    assert by_id and by_alias == by_id


def test_check_agrees_with_solve_on_an_inventory_keyed_by_an_alias(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture) -> None:
    doc = _doc(hardware={"inventory": {ALIAS: 0}})
    path = _write(tmp_path, doc)
    out = tmp_path / "plan"
    assert main(["solve", str(path), "--out", str(out), "--no-analysis"]) == 0
    plan = yaml.safe_load((out / "plan.json").read_text())
    assert {s["gpu"] for s in plan["servers"]} == {"h200"}, "solve must honour the inventory of 0 H100s"
    capsys.readouterr()
    assert main(["check", str(path), "--plan", str(out / "plan.json")]) == 0, capsys.readouterr().out
