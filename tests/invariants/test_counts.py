"""Physics and arithmetic that every result must obey, over every shipped arch × small workload
and over hypothesis-generated layers and mappings."""
from math import ceil, exp, prod

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import accelsim
from accelsim.counting.conventions import block_rounding_of
from accelsim.energy.model import action_energies
from accelsim.ir.arch import Memory, Spatial
from accelsim.ir.workload import Layer, Workload, pad_einsum
from accelsim.mapping.dataflows import template_padding
from conftest import ARCH_DIR, WORKLOAD_DIR
from strategies import draw_conv1d, draw_mapping

ARCHS = sorted(p.name for p in ARCH_DIR.glob("*.yaml"))
SMALL_WORKLOADS = ["conv_tiny.yaml", "gemm_small.yaml", "gemm_tiny.yaml", "mobilenet_v1.yaml"]
DATAFLOWS = ["ws", "os", "is", "rs"]


def run(arch_name, workload_name, dataflow=None):
    arch = accelsim.load_arch(ARCH_DIR / arch_name)
    wl = accelsim.load_workload(WORKLOAD_DIR / workload_name)
    return arch, wl, accelsim.simulate(arch, wl, accelsim.SimOptions(dataflow=dataflow))


def ran_einsum(arch, einsum, dataflow=None):
    """The layer the hardware runs: a template may pad dims for ragged strips (the rs template)."""
    padding = template_padding(arch, einsum, dataflow or arch.dataflow or "search")
    return pad_einsum(einsum, padding) or einsum


def irrelevant_spatial(arch, layer_result, einsum, parent_i, child_i, role):
    """Product of spatial factors between two levels over dims the tensor does not use."""
    factor = 1
    for m, level in zip(layer_result.mapping.levels[parent_i + 1:child_i], arch.levels[parent_i + 1:child_i]):
        if isinstance(level, Spatial):
            factor *= prod(l.bound for l in m.loops if l.dim not in einsum.tensor(role).dims)
    return factor


def spatial_window_between(arch, layer_result, einsum, parent_i, child_i, role) -> bool:
    tensor = einsum.tensor(role)
    window_dims = {t.dim for axis in tensor.axes if len(axis) > 1 for t in axis}
    return any(l.dim in window_dims
               for m, level in zip(layer_result.mapping.levels[parent_i + 1:child_i], arch.levels[parent_i + 1:child_i])
               if isinstance(level, Spatial) for l in m.loops)


def check_layer_invariants(arch, einsum, lr):
    counts = lr.counts
    assert counts.macs == prod(einsum.bounds)
    assert 0 < lr.utilization <= 1
    assert lr.cycles >= counts.compute_cycles
    if counts.levels[0].totals is None:  # every MAC busy every step
        assert counts.compute_cycles == counts.macs // counts.compute_instances
    else:  # ragged: the busiest MAC's steps bound every other's (equal if no fan-out is ragged)
        assert counts.compute_cycles * counts.compute_instances >= counts.macs
    levels = {l.name: l for l in counts.levels}
    mem_idx = [i for i, l in enumerate(arch.levels) if isinstance(l, Memory)]
    resident = lr.extra.get("residency", {})  # activations left on chip: that level is their home
    for role in einsum.roles:
        size = einsum.tensor_size(role)
        top = levels[resident["level"] if resident.get(f"{role}_resident") else arch.levels[0].name]
        if role == "outputs":
            # Every output reaches the outermost level, and nothing is read back before its first write.
            assert top.tensors[role].updates >= size
            assert top.tensors[role].updates - top.tensors[role].reads == size
        else:
            assert top.tensors[role].reads >= size  # every operand element leaves DRAM at least once
        keepers = [i for i in mem_idx if role in levels[arch.levels[i].name].tensors]
        for parent_i, child_i in zip(keepers, keepers[1:]):
            parent, child = levels[arch.levels[parent_i].name], levels[arch.levels[child_i].name]
            multicast = irrelevant_spatial(arch, lr, einsum, parent_i, child_i, role)
            # Fills of all children = parent's reads × how many children each read reaches;
            # when a sliding window is unrolled in space, neighbours share data and the
            # parent reads less than that.
            children_fills = child.total(role).fills
            parent_sends = parent.total(role).reads * multicast
            window = spatial_window_between(arch, lr, einsum, parent_i, child_i, role)
            if child.totals is not None:  # ragged: a multicast reaches the children with work, at least one
                assert children_fills >= parent.total(role).reads
                assert window or children_fills <= parent_sends
            elif window:
                assert children_fills >= parent_sends
            else:
                assert children_fills == parent_sends
    for level in arch.levels:
        if isinstance(level, Memory) and level.capacity_words is not None:
            used = sum(c.tile_elements for c in levels[level.name].tensors.values())
            assert used <= level.capacity_words


@pytest.mark.parametrize("arch_name", ARCHS)
@pytest.mark.parametrize("workload_name", SMALL_WORKLOADS)
def test_invariants_on_shipped_pairs(arch_name, workload_name):
    arch, wl, result = run(arch_name, workload_name)
    for layer, lr in zip(wl.layers, result.layers):
        check_layer_invariants(arch, ran_einsum(arch, layer.einsum), lr)
    assert result.macs == wl.macs
    assert result.utilization <= 1


@pytest.mark.parametrize("dataflow", DATAFLOWS)
def test_invariants_for_every_dataflow(dataflow):
    arch, wl, result = run("simple_ws.yaml", "conv_tiny.yaml", dataflow)
    for layer, lr in zip(wl.layers, result.layers):
        check_layer_invariants(arch, ran_einsum(arch, layer.einsum, dataflow), lr)


def recompute_energy(arch, lr) -> float:
    """Σ counts × per-action energy + leakage × time, written independently of energy/model.py."""
    e = action_energies(arch)
    total = lr.counts.macs * e.mac_pj
    for level in lr.counts.levels:
        for role in level.tensors:  # over every instance, priced per block of the average one (ragged: unequal)
            c, blocks = level.total(role), level.instances * level.block_words
            accesses = [ceil(x / blocks) for x in (c.reads, c.fills, c.updates)]
            if block_rounding_of(arch, arch.level(level.name)) == "transfer" and c.blocks is not None:
                # each transfer rounded on its own: the kernel's block accesses (checked against a walk
                # in tests/kernels/test_block_rounding.py); with instances alike, at least the layer rule's
                # (None: a pass changed the counts, residency zeroing a tensor: the layer rule)
                assert lr.counts.ragged or all(b >= a * level.instances for a, b in zip(accesses, c.blocks))
                accesses = [b / level.instances for b in c.blocks]
            total += level.instances * (accesses[0] * e.read_pj[level.name] + accesses[1] * e.write_pj[level.name]
                                        + accesses[2] * e.update_pj[level.name])
    for level in arch.levels:
        total += e.leakage_w.get(level.name, 0.0) * level.instances * lr.latency_s * 1e12
    for o in arch.overhead:  # per-cycle components (clock tree, control) and per-output ones (PPU)
        total += e.overhead_pj_per_cycle[o.name] * lr.cycles + e.leakage_w[o.name] * lr.latency_s * 1e12
        total += o.energy_per_output_pj * e.voltage_scale * lr.outputs
    if arch.compute.vector_scale_pj:  # dense data: one scale product per 64-element dot product (INT4-VSQ)
        assert lr.density.inputs == lr.density.weights == 1.0
        total += arch.compute.vector_scale_pj * e.voltage_scale * lr.counts.macs / 64
    for d in arch.domains:  # clock/voltage domains' background power (DRAM refresh, PHY), ∝ V like leakage
        v_nom = d.nominal_voltage_v or d.voltage_v
        scale = d.voltage_v / v_nom * (exp((d.voltage_v - v_nom) / d.leakage_efold_v) if d.leakage_efold_v else 1.0)
        total += d.background_power_w * scale * lr.latency_s * 1e12
    return total


@pytest.mark.parametrize("arch_name", ARCHS)
def test_energy_is_counts_times_table(arch_name):
    arch, _, result = run(arch_name, "conv_tiny.yaml")
    if any("sparse" in lr.extra for lr in result.layers):
        pytest.skip(f"{arch.name} is sparse: metadata, gated and skipped actions are priced by the sparse pass "
                    "(tests/sparse check its energy against Sparseloop's)")
    for lr in result.layers:
        assert lr.energy_pj == pytest.approx(recompute_energy(arch, lr), rel=1e-12)
    assert result.energy_pj == pytest.approx(sum(l.energy_pj * l.count for l in result.layers))


def test_dynamic_energy_scales_with_voltage_squared_and_leakage_linearly():
    path = ARCH_DIR / "eyeriss_like.yaml"
    wl = accelsim.load_workload(WORKLOAD_DIR / "conv_tiny.yaml")
    at_v = accelsim.load_arch(path, ["levels.GLB.leakage_power=1mW"])
    at_2v = accelsim.load_arch(path, ["levels.GLB.leakage_power=1mW", "operating_point.voltage=2.0V"])
    r1, r2 = accelsim.simulate(at_v, wl), accelsim.simulate(at_2v, wl)
    for l1, l2 in zip(r1.layers, r2.layers):
        assert l1.cycles == l2.cycles
        assert l1.off_chip == {"DRAM"}
        for comp in l1.energy.dynamic_pj:  # off-chip memory has its own supply: the core's V leaves it
            factor = 1 if comp in l1.off_chip else 4
            assert l2.energy.dynamic_pj[comp] == pytest.approx(factor * l1.energy.dynamic_pj[comp], rel=1e-12)
        assert l1.energy.leakage_pj["GLB"] > 0
        assert l2.energy.leakage_pj["GLB"] == pytest.approx(2 * l1.energy.leakage_pj["GLB"], rel=1e-12)


def test_tops_per_watt_is_ops_per_picojoule():
    _, wl, result = run("simba_like.yaml", "gemm_small.yaml")
    tpw = result.tops_per_watt()
    assert tpw["system"] == pytest.approx(2 * wl.macs / result.energy_pj)
    assert tpw["core"] >= tpw["chip"] >= tpw["system"] > 0
    power_w = result.energy_pj * 1e-12 / result.latency_s
    assert tpw["system"] == pytest.approx(result.tops / power_w)


# ------------------------------------------------------------------ random layers and mappings

@st.composite
def random_case(draw):
    """A conv1d-with-channels layer and a random legal mapping on a 3-level arch with a fan-out."""
    einsum = draw_conv1d(draw)
    return einsum, draw_mapping(draw, einsum)


ARCH_3L = """
name: t
technology: {node: 45nm, energy_table: horowitz_45nm}
operating_point: {voltage: 0.9V, frequency: 1GHz}
levels:
  - memory: {name: DRAM, class: dram, size: unlimited, word_bits: 8, width_bits: 64, keeps: [weights, inputs, outputs]}
  - memory: {name: GLB, class: sram, size: 1MiB, word_bits: 8, width_bits: 64, keeps: [weights, inputs, outputs]}
  - spatial: {name: PE, x: 8}
  - memory: {name: RF, class: regfile, size: 64KiB, word_bits: 8, keeps: [weights, inputs, outputs]}
  - compute: {name: MAC, format: int8}
"""


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(random_case())
def test_invariants_on_random_mappings(tmp_path_factory, case):
    einsum, mapping = case
    path = tmp_path_factory.mktemp("arch") / "a.yaml"
    path.write_text(ARCH_3L)
    arch = accelsim.load_arch(path)
    result = accelsim.simulate(arch, Workload("w", "", (Layer("l", einsum),)), mappings={"l": mapping})
    check_layer_invariants(arch, einsum, result.layers[0])
