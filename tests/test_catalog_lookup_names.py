"""GPU names as measurement files and nvidia-smi spell them resolve to the right catalog entry."""

from __future__ import annotations

import pytest

from planner.catalog import load_catalog

CAT = load_catalog()


@pytest.mark.parametrize(("name", "gpu"), [
    ("B200-SXM", "b200"), ("B200-SXM-180GB", "b200"), ("NVIDIA B200", "b200"),
    ("NVIDIA H200 141GB HBM3e", "h200"), ("H200-SXM-141GB", "h200"), ("H200 NVL", "h200-nvl"),
    ("H100 80GB HBM3", "h100-sxm"), ("H100-SXM5-80GB", "h100-sxm"), ("H100-PCIe-80GB", "h100-pcie"),
    ("A100-SXM4-80GB", "a100-sxm-80gb"), ("A100 80GB", "a100-sxm-80gb"), ("A100-SXM4-40GB", "a100-sxm-40gb"),
    ("AMD Instinct MI300X", "mi300x"), ("L40S-48GB", "l40s"), ("Tesla T4", "t4"),
])
def test_gpu_spellings_resolve(name: str, gpu: str) -> None:
    assert CAT.gpu(name).id == gpu


def test_memory_size_is_not_dropped_before_it_is_tried() -> None:
    # the sized form decides between the 40 GB and 80 GB A100 before any size-less fallback
    assert CAT.gpu("NVIDIA A100-SXM4-80GB").id == "a100-sxm-80gb"
    assert CAT.gpu("NVIDIA A100-SXM4-40GB").id == "a100-sxm-40gb"
