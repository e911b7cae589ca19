"""Every shipped architecture runs every shipped workload, with every dataflow template."""
import pytest

import accelsim
from accelsim.errors import MappingError
from accelsim.sparse.run import is_sparse
from conftest import ARCH_DIR, WORKLOAD_DIR

ARCHS = sorted(p.name for p in ARCH_DIR.glob("*.yaml"))
WORKLOADS = sorted(p.name for p in WORKLOAD_DIR.glob("*.yaml"))


def load_pair(arch_name, workload_name):
    """The pair, or a skip when the workload asks for number formats the arch does not run
    (after checking that simulating it is a clear SpecError naming the layer)."""
    arch = accelsim.load_arch(ARCH_DIR / arch_name)
    wl = accelsim.load_workload(WORKLOAD_DIR / workload_name)
    unsupported = [l.name for l in wl.layers if l.precision and not arch.compute.supports(l.precision)]
    if unsupported:
        with pytest.raises(accelsim.SpecError, match=f"layer '{unsupported[0]}'"):
            accelsim.simulate(arch, wl)
        pytest.skip(f"{arch.name} does not run the precision of layer {unsupported[0]} (a SpecError, checked)")
    if arch.residency_level and sparse(arch, wl):
        with pytest.raises(accelsim.SpecError, match="residency.*sparsity"):
            accelsim.simulate(arch, wl)
        pytest.skip(f"{arch.name}'s inter-layer residency and sparsity are not modelled together (a SpecError, "
                    f"checked)")
    return arch, wl


def sparse(arch, wl) -> bool:
    return any(is_sparse(arch, layer) for layer in wl.layers)


@pytest.mark.slow
@pytest.mark.parametrize("arch_name", ARCHS)
@pytest.mark.parametrize("workload_name", WORKLOADS)
def test_every_pair_runs(arch_name, workload_name):
    arch, wl = load_pair(arch_name, workload_name)
    result = accelsim.simulate(arch, wl)
    assert result.macs == wl.macs
    assert result.energy_pj > 0
    if not sparse(arch, wl):
        assert 0 < result.utilization <= 1
        return
    # skipped MACs take no slot, so the algorithmic MACs may exceed the peak: the MACs the units
    # actually perform (computed + gated) may not
    done = sum((l.extra["sparse"]["computes"]["random_compute"] + l.extra["sparse"]["computes"]["gated_compute"]
                if "sparse" in l.extra else l.macs) * l.count for l in result.layers)
    assert 0 < done <= sum(l.cycles * l.count * l.peak_macs_per_cycle for l in result.layers)


@pytest.mark.parametrize("arch_name", ARCHS)
@pytest.mark.parametrize("dataflow", ["ws", "os", "is", "rs"])
def test_every_dataflow_maps_a_small_network(arch_name, dataflow):
    """Every template maps every shipped arch, or, where the arch declares that its hardware cannot
    run that dataflow (its constraints: block), is refused with the breach named."""
    arch = accelsim.load_arch(ARCH_DIR / arch_name)
    wl = accelsim.load_workload(WORKLOAD_DIR / "conv_tiny.yaml")
    try:
        result = accelsim.simulate(arch, wl, accelsim.SimOptions(dataflow=dataflow))
    except MappingError as exc:
        assert arch.constraints and "hardware cannot" in str(exc), exc
        return
    assert all(l.mapping.dataflow == dataflow for l in result.layers)


@pytest.mark.slow
@pytest.mark.parametrize("arch_name", ARCHS)
@pytest.mark.parametrize("workload_name", WORKLOADS)
def test_every_pair_runs_with_the_cycle_model(arch_name, workload_name):
    arch, wl = load_pair(arch_name, workload_name)
    if arch.residency_level:  # the cycle model refuses inter-layer residency: checked, then compared without
        with pytest.raises(accelsim.SpecError, match="residency"):
            accelsim.simulate(arch, wl, accelsim.SimOptions(model="cycle"))
        arch = accelsim.load_arch(ARCH_DIR / arch_name, ["residency="])
    cycle = accelsim.simulate(arch, wl, accelsim.SimOptions(model="cycle"))
    # the same mappings: the analytical model's own may be a ragged candidate the walk refuses (a window
    # tile with holes, a window merged over two of its dims for the MACs, copies over a window dim),
    # which the cycle run passes over
    analytical = accelsim.simulate(arch, wl, mappings={l.name: l.mapping for l in cycle.layers})
    for a, c in zip(analytical.layers, cycle.layers):
        assert c.counts == a.counts  # the cycle model reports the same action counts (a sparse layer's: the pass's)
        assert c.cycles >= a.counts.compute_cycles
        cm = c.extra["cycle_model"]
        stalls = sum(cm["stall_cycles"].values())
        if "sparse" in c.extra:  # expected cycles (real), rounded up: busiest-PE compute per step + skew + stalls
            assert cm["balanced_cycles"] <= c.cycles and c.extra["load_imbalance"] >= 1.0
            exact = cm["steps"] * cm["compute_cycles_per_step"] + cm["skew_cycles"] + stalls
            assert c.cycles - 1 < exact <= c.cycles + 1e-6
        else:
            assert c.cycles == a.counts.compute_cycles + cm["skew_cycles"] + stalls
