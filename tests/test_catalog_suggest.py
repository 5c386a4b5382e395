"""An unknown GPU that is a well-known one the catalog lacks is answered by specification: the
catalog GPUs nearest in memory, bandwidth and power, and how to add it (issue 14 item 4)."""

from __future__ import annotations

import pytest

from planner.catalog.loader import _gpu_keys, load_catalog
from planner.catalog.suggest import find_reference, nearest_by_spec, reference_gpus
from planner.cli.main import main
from planner.errors import UnknownNameError

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def cat():
    return load_catalog()


def test_a6000_suggests_48_gb_cards_not_a100s(cat) -> None:
    with pytest.raises(UnknownNameError) as info:
        cat.gpu("A6000")
    fix = info.value.fix or ""
    near = fix.split("nearest in specification: ")[1].split(". ")[0]
    assert "a100" not in fix  # close by name, far by specification (48 GB GDDR6 at 300 W)
    assert all(cat.gpus[i].memory_gib == 48 for i in nearest_by_spec(find_reference("A6000", _gpu_keys), cat))
    assert near.startswith("l40 (48 GiB") and "--catalog DIR" in fix
    assert "only planner solve needs its `server:` block" in fix


@pytest.mark.parametrize("name", ["NVIDIA RTX A6000", "rtx-a6000", "Gaudi 3", "MI210", "rtx 5090"])
def test_vendor_spellings_find_the_reference(name) -> None:
    assert find_reference(name, _gpu_keys) is not None


def test_nearest_is_by_ratio_of_every_figure(cat) -> None:
    h800 = find_reference("h800", _gpu_keys)
    assert nearest_by_spec(h800, cat)[0] == "h100-sxm"  # the export H100: same memory, bandwidth, TDP


def test_no_reference_gpu_shadows_a_catalog_one(cat) -> None:
    for ref in reference_gpus():
        for name in [ref.name, *ref.aliases]:
            assert not cat.has_gpu(name), (ref.name, name)
        assert ref.source


def test_a_typo_of_a_catalog_gpu_still_suggests_by_name(cat) -> None:
    with pytest.raises(UnknownNameError, match="h100-sx") as info:
        cat.gpu("h100-sx")
    assert (info.value.fix or "").startswith("did you mean h100-sxm")


def test_the_command_line_shows_the_suggestion(capsys) -> None:
    code = main(["estimate", "-m", "llama-3.1-8b", "-g", "a6000", "--batch-size", "1", "--input-tokens", "10",
                 "--output-tokens", "10"])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("Error: unknown GPU 'a6000' (NVIDIA RTX A6000 (48 GiB, 0.768 TB/s, 300 W)")
