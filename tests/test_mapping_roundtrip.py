"""A result's mappings run again give the same result: passed back to simulate, and through a
mapping file (save_mapping_file, then load_mapping_file). Ragged mappings (mapping/ragged.py) and
the rs template's padded layers are the cases that can break it: a padded layer's mapping must be
recognized as one (simulate._made_for), and a level's spatial axes keep their order in the file
(the order decides where a ragged dim on both axes may end)."""
import pytest

import accelsim
from accelsim.load import load_mapping_file
from accelsim.mapping.mapping_file import save_mapping_file
from conftest import ARCH_DIR, WORKLOAD_DIR
from test_examples import ARCHS, WORKLOADS, load_pair


def _round_trip(tmp_path, arch, wl):
    first = accelsim.simulate(arch, wl)
    mappings = {l.name: l.mapping for l in first.layers}
    again = accelsim.simulate(arch, wl, mappings=mappings)
    save_mapping_file(tmp_path / "m.yaml", mappings)
    from_file = accelsim.simulate(arch, wl, mappings=load_mapping_file(tmp_path / "m.yaml", arch, wl))
    for other in (again, from_file):
        assert [l.cycles for l in other.layers] == [l.cycles for l in first.layers]
        assert other.energy_pj == pytest.approx(first.energy_pj, rel=1e-12)
    return first


@pytest.mark.parametrize("arch_name, workload_name", [("eyeriss_like", "conv_tiny"), ("eyeriss_v1", "conv_tiny"),
                                                      ("eyeriss_like", "gemm_small")])
def test_ragged_and_padded_mappings_run_again_alike(tmp_path, arch_name, workload_name):
    arch = accelsim.load_arch(ARCH_DIR / f"{arch_name}.yaml")
    first = _round_trip(tmp_path, arch, accelsim.load_workload(WORKLOAD_DIR / f"{workload_name}.yaml"))
    assert any(l.counts.levels[0].totals is not None for l in first.layers)  # a ragged layer is among them


@pytest.mark.slow
@pytest.mark.parametrize("arch_name", ARCHS)
@pytest.mark.parametrize("workload_name", WORKLOADS)
def test_every_pair_runs_its_own_mappings_again(tmp_path, arch_name, workload_name):
    arch, wl = load_pair(arch_name, workload_name)
    _round_trip(tmp_path, arch, wl)
