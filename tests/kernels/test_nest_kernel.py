"""The jitted closed-form model (model/nest_kernel.py) against its slow references: `analyze` +
`layer_energy` (which walk 2^K tile visits with explicit point sets) on random layers and
mappings, and the full-walk reference naive_reuse on the reuse rule itself."""
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import accelsim
from accelsim.energy.model import action_energies, layer_energy
from accelsim.errors import MappingError
from accelsim.mapping.lower import lower
from accelsim.model.analytical import analyze
from accelsim.model.nest_kernel import OK, OVER_CAPACITY
from accelsim.model.packed import evaluate_packed, pack_problem
from conftest import ARCH_DIR, WORKLOAD_DIR
from strategies import draw_conv1d, draw_mapping

# Small buffers (some random mappings overflow them), finite bandwidths, multicast but no spatial
# reduction, leakage: every term of the kernel's counts, cycles and energy is exercised.
ARCH_TEXT = """
name: t
technology: {node: 45nm, energy_table: horowitz_45nm}
operating_point: {voltage: 0.9V, frequency: 1GHz}
levels:
  - memory: {name: DRAM, class: dram, size: unlimited, word_bits: 8, width_bits: 64, keeps: [weights, inputs, outputs],
             read_bandwidth: 2 words/cycle, leakage_power: 1mW}
  - memory: {name: GLB, class: sram, size: 2KiB, word_bits: 8, width_bits: 32, keeps: [weights, inputs, outputs],
             write_bandwidth: 4 words/cycle, leakage_power: 10uW}
  - spatial: {name: PE, x: 8, reduction: false}
  - memory: {name: RF, class: regfile, size: 160b, word_bits: 8, keeps: [weights, inputs, outputs]}
  - compute: {name: MAC, format: int8}
"""


def _kernel_equals_python(arch, einsum, mapping):
    nest = lower(arch, einsum, mapping)
    energies = action_energies(arch)
    got = evaluate_packed(pack_problem(arch, einsum, energies), nest)
    try:
        counts = analyze(arch, einsum, nest)
    except MappingError:
        assert got.status == OVER_CAPACITY
        return
    assert got.status == OK
    assert got.cycles == counts.cycles
    energy = layer_energy(arch, counts, energies, counts.cycles / arch.frequency_hz, counts.cycles)
    assert abs(got.energy_pj - energy.total_pj) <= 1e-9 * energy.total_pj
    for level in counts.levels:
        i = arch.index(level.name)
        assert got.instances[i] == level.instances
        for role, c in level.tensors.items():
            t = einsum.roles.index(role)
            assert tuple(got.counts[i, t]) == (c.reads, c.fills, c.updates, c.tile_elements), (level.name, role)


@st.composite
def layer_and_mapping(draw):
    einsum = draw_conv1d(draw)
    return einsum, draw_mapping(draw, einsum)


@pytest.fixture(scope="module")
def arch(arch_from_text):
    return arch_from_text(ARCH_TEXT)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=layer_and_mapping())
def test_kernel_matches_analyze_on_random_mappings(arch, case):
    einsum, mapping = case
    _kernel_equals_python(arch, einsum, mapping)


def test_kernel_matches_analyze_on_shipped_templates():
    from accelsim.mapping.dataflows import map_layer
    for arch_file, workload in (("simba_like", "resnet50"), ("eyeriss_like", "alexnet"), ("tpu_like", "bert_base")):
        arch = accelsim.load_arch(ARCH_DIR / f"{arch_file}.yaml")
        for layer in accelsim.load_workload(WORKLOAD_DIR / f"{workload}.yaml").layers[:12]:
            for dataflow in ("ws", "os", "rs"):
                try:
                    mapping = map_layer(arch, layer.run_einsum, dataflow)
                except MappingError:
                    continue
                _kernel_equals_python(arch, layer.run_einsum, mapping)
