"""Inter-layer residency (accelsim/residency.py): which activations stay on chip, the counts and
cycles that change, the exact capacity check, the chain rule, and the errors."""
from __future__ import annotations

from dataclasses import replace

import pytest
from conftest import ARCH_DIR

from accelsim import SpecError, load_arch, load_workload, simulate
from accelsim.counting.rules import block_accesses
from accelsim.options import SimOptions
from accelsim.report.table import render_result
from accelsim.residency import (
    _level_cycles,
    apply_residency,
    held_words,
    resident_counts,
)
from accelsim.simulate import price_layer

TPU = ARCH_DIR / "tpu_v1.yaml"
CHAIN = """name: chain
parameters: {batch: 64}
layers:
  - {name: fc0, fully_connected: {n: batch, c_in: 512, c_out: 768}}
  - {name: fc1, fully_connected: {n: batch, c_in: 768, c_out: 512}}
  - {name: fc2, fully_connected: {n: batch, c_in: 512, c_out: 256}}
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    path = tmp_path_factory.mktemp("w") / "chain.yaml"
    path.write_text(CHAIN)
    workload = load_workload(path)
    on = simulate(load_arch(TPU), workload)
    off = simulate(load_arch(TPU, ["residency="]), workload)
    return workload, on, off


def _dram(layer):
    return next(lc for lc in layer.counts.levels if lc.name == "DRAM")


def _ub(layer):
    return next(lc for lc in layer.counts.levels if lc.name == "UnifiedBuffer")


def test_without_the_option_nothing_is_resident(runs):
    _, _, off = runs
    assert off.arch.residency_level is None
    assert all("residency" not in l.extra for l in off.layers)
    assert [_dram(l).tensors["inputs"].reads for l in off.layers] == [64 * 512, 64 * 768, 64 * 512]
    assert [_dram(l).tensors["outputs"].updates for l in off.layers] == [64 * 768, 64 * 512, 64 * 256]


def test_a_chain_keeps_its_activations_in_the_buffer(runs):
    _, on, off = runs
    flags = [(l.extra["residency"]["inputs_resident"], l.extra["residency"]["outputs_resident"]) for l in on.layers]
    assert flags == [(False, True), (True, True), (True, False)]
    assert on.layers[0].extra["residency"]["note"] == "inputs: first layer"
    assert on.layers[2].extra["residency"]["note"] == "outputs: last layer"
    # DRAM moves the weights, the first layer's inputs and the last layer's outputs, nothing else
    dram_words = sum(c.reads + c.fills + c.updates for l in on.layers for c in _dram(l).tensors.values())
    weights = 512 * 768 + 768 * 512 + 512 * 256
    assert dram_words == weights + 64 * 512 + 64 * 256
    for l_on, l_off, (i, o) in zip(on.layers, off.layers, flags):
        assert _ub(l_on).tensors["inputs"].fills == (0 if i else _ub(l_off).tensors["inputs"].fills)
        assert _ub(l_on).tensors["inputs"].reads == _ub(l_off).tensors["inputs"].reads  # what the array reads
        assert _dram(l_on).tensors["weights"] == _dram(l_off).tensors["weights"]
        assert l_on.counts.compute_cycles == l_off.counts.compute_cycles
        # cycles: the largest of compute steps and each level's traffic over its bandwidth
        dram = on.arch.level("DRAM")
        traffic = sum(c.reads + c.fills + c.updates for c in _dram(l_on).tensors.values())
        fifo = on.arch.level("WeightFIFO")
        shift = -(-sum(c.reads for c in next(lc for lc in l_on.counts.levels if lc.name == "WeightFIFO")
                       .tensors.values()) // int(fifo.read_bw_words))
        bound = max(l_on.counts.compute_cycles, -(-traffic * 7 * 10 ** 8 // 34 // 10 ** 9), shift)
        assert dram.shared_bw_words == pytest.approx(34e9 / 700e6)
        assert l_on.cycles == pytest.approx(bound, abs=1)
        assert l_on.cycles < l_off.cycles


def test_energy_drops_by_the_dram_and_fill_accesses_removed(runs):
    _, on, off = runs
    arch, energies = on.layers[1].energies
    layer_on, layer_off = on.layers[1], off.layers[1]  # inputs and outputs resident
    dram, ub = arch.level("DRAM"), arch.level("UnifiedBuffer")
    saved = (block_accesses(64 * 768, dram.block_words) * energies.read_pj["DRAM"]
             + block_accesses(64 * 512, dram.block_words) * energies.update_pj["DRAM"]
             + block_accesses(64 * 768, ub.block_words) * energies.write_pj["UnifiedBuffer"])
    leak_off = sum(layer_off.energy.leakage_pj.values())
    leak_on = sum(layer_on.energy.leakage_pj.values())
    dynamic_off, dynamic_on = (sum(l.energy.dynamic_pj.values()) for l in (layer_off, layer_on))
    assert dynamic_off - dynamic_on == pytest.approx(saved, rel=1e-12)
    assert leak_on <= leak_off


def test_the_kernels_level_cycles_are_reproduced(runs):
    _, _, off = runs
    arch = off.arch
    for layer in off.layers:
        for lc in layer.counts.levels:
            assert _level_cycles(arch, arch.level(lc.name), lc) == lc.cycles
        assert resident_counts(arch, layer.counts, "UnifiedBuffer", set()) == layer.counts


def test_capacity_is_exact(runs):
    workload, _, off = runs
    layers, results = list(workload.layers), list(off.layers)
    # fc0 keeps its outputs iff fc0 (inputs tile + whole outputs) and fc1 (whole inputs + outputs
    # tile) fit; the words are the whole tensors plus the mapping's own tiles
    ub0, ub1 = _ub(results[0]).tensors, _ub(results[1]).tensors
    need0 = ub0["inputs"].tile_elements + 64 * 768
    need1 = 64 * 768 + ub1["outputs"].tile_elements
    assert held_words(layers[0], results[0].counts, "UnifiedBuffer", False, True) == need0
    assert held_words(layers[1], results[1].counts, "UnifiedBuffer", True, False) == need1
    need = max(need0, need1, held_words(layers[1], results[1].counts, "UnifiedBuffer", True, True),
               held_words(layers[2], results[2].counts, "UnifiedBuffer", True, False))

    def with_buffer(words):
        levels = tuple(replace(l, size_bits=words * 8) if l.name == "UnifiedBuffer" else l for l in off.arch.levels)
        arch = replace(off.arch, levels=levels, residency_level="UnifiedBuffer")
        ran = [replace(r, energies=(arch, r.energies[1])) for r in results]  # the layers ran on it
        return [r.extra["residency"] for r in apply_residency(arch, layers, ran, price_layer)]

    assert [r["outputs_resident"] for r in with_buffer(need)] == [True, True, False]
    tight = with_buffer(need - 1)
    assert not all(r["outputs_resident"] for r in tight[:2])
    assert any("fit" in r["note"] for r in tight)
    assert all(r["held_words"] <= need - 1 for r in tight if r["inputs_resident"] or r["outputs_resident"])


def test_only_chained_single_layers_are_resident(write):
    path = write("w.yaml", """name: mixed
layers:
  - {name: a, conv2d: {n: 2, c: 8, k: 16, h: 10, w: 10, r: 3, s: 3, padding: 1}}
  - {name: b, conv2d: {n: 2, c: 16, k: 16, h: 10, w: 10, r: 3, s: 3, padding: 1}}
  - {name: c, fully_connected: {n: 2, c_in: 999, c_out: 16}}
  - {name: d, fully_connected: {n: 2, c_in: 16, c_out: 16}, count: 3}
  - {name: e, fully_connected: {n: 2, c_in: 16, c_out: 16}}
""")
    result = simulate(load_arch(TPU), load_workload(path))
    r = {l.name: l.extra["residency"] for l in result.layers}
    assert r["b"]["inputs_resident"]  # a padded convolution reads the unpadded map the layer before wrote
    assert not r["b"]["outputs_resident"] and "does not read them" in r["b"]["note"]
    assert not r["c"]["inputs_resident"] and "not the previous layer's outputs" in r["c"]["note"]
    assert r["d"]["note"] == "runs 3 copies: never resident"
    assert not r["e"]["inputs_resident"]


def test_a_strided_layer_holds_all_the_previous_layer_wrote():
    from conftest import WORKLOAD_DIR
    workload = load_workload(WORKLOAD_DIR / "conv_tiny.yaml")  # 3x3 conv, then 1x1 stride 2 reading 1 in 4
    result = simulate(load_arch(TPU), workload)
    second = result.layers[1]
    assert second.extra["residency"]["inputs_resident"]
    assert workload.layers[1].einsum.tensor_size("inputs") == 32 * 8 * 8
    tile = _ub(second).tensors["outputs"].tile_elements
    assert second.extra["residency"]["held_words"] == 32 * 16 * 16 + tile


@pytest.mark.parametrize("level, message", [
    ("Nowhere", "is not a memory level"),
    ("DRAM", "is the outermost memory"),
    ("WeightFIFO", "does not keep ['inputs', 'outputs']"),
])
def test_bad_residency_level_is_a_spec_error(level, message):
    with pytest.raises(SpecError) as exc:
        load_arch(TPU, [f"residency.level={level}"])
    assert message in str(exc.value) and "residency.level" in str(exc.value)


def test_other_models_refuse_residency(runs):
    workload, _, _ = runs
    with pytest.raises(SpecError, match="--model analytical"):
        simulate(load_arch(TPU), workload, SimOptions(model="cycle"))


def test_the_table_says_what_was_resident(runs):
    _, on, off = runs
    text = render_result(on)
    assert "resident in UnifiedBuffer" in text and "in+out" in text
    assert "resident" not in render_result(off)
