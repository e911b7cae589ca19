"""The rs template beside the mapper on the networks it is meant for (docs/dataflows.md, "How far the
templates are from the mapper"; benchmarks/template_gap.py prints the whole table): eyeriss_like's
template within 10 % of the mapper's energy (EDP objective, the arch's own constraints, analytical
model) on AlexNet and VGG-16. Slow: the mapper searches every layer shape."""
import pytest

import accelsim
from accelsim.options import SimOptions
from conftest import ARCH_DIR, WORKLOAD_DIR


@pytest.mark.slow
@pytest.mark.parametrize("workload", ["alexnet", "vgg16"])
def test_rs_within_ten_percent_of_the_mapper(workload):
    arch = accelsim.load_arch(ARCH_DIR / "eyeriss_like.yaml")
    wl = accelsim.load_workload(WORKLOAD_DIR / f"{workload}.yaml")
    template = accelsim.simulate(arch, wl, SimOptions(dataflow="rs"))
    mapper = accelsim.simulate(arch, wl, SimOptions(dataflow="search"))
    assert template.energy_pj <= 1.10 * mapper.energy_pj
