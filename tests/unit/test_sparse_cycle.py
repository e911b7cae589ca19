"""The cycle model under sparsity (model/sparse_walk.py, sparse/imbalance.py; docs/sparsity.md,
"The cycle model under sparsity"): the closed-form E[max] against enumeration, the walk against the
slow reference (tests/kernels/naive_tile_events.py) with the same real compute per step and demand
per word, dense and N:M cases that must show no imbalance, the invariants, and the refusals."""
from __future__ import annotations

from itertools import product

import numpy as np
import pytest
from naive_tile_events import naive_tile_events

import accelsim
from accelsim.mapping.lower import lower
from accelsim.model.cycle import simulate_cycles
from accelsim.model.sparse_walk import FIXED_POINT, simulate_sparse_cycles
from accelsim.sparse.analysis import analyze_sparse
from accelsim.sparse.costs import demand_factors
from accelsim.sparse.density import Hypergeometric, StructuredNM
from accelsim.sparse.imbalance import expected_max, occupancy_pmf, step_imbalance

ARCH = """
name: skip_array
technology: {node: 45nm, energy_table: horowitz_45nm}
operating_point: {voltage: 0.9V, frequency: 1GHz}
levels:
  - memory: {name: DRAM, class: dram, size: unlimited, word_bits: 8, keeps: [weights, inputs, outputs],
             read_bandwidth: 8 words/cycle, write_bandwidth: 8 words/cycle}
  - memory:
      name: GLB
      class: sram
      size: 1MiB
      word_bits: 8
      keeps: [weights, inputs, outputs]
      read_bandwidth: 16 words/cycle
      write_bandwidth: 16 words/cycle
      FORMATS
  - spatial: {name: PE, x: PEX, y: 4}
  - memory:
      name: RF
      class: regfile
      size: 64KiB
      word_bits: 8
      keeps: [weights, inputs, outputs]
      sparse:
        skipping: [SKIPPING]
  - compute: {name: MAC, format: int8}
"""
SKIP_ON_WEIGHTS = "{target: inputs, condition_on: [weights]}"
CP_WEIGHTS = ("sparse: {formats: {weights: [{format: UOP, flatten: ['*']}, {format: CP, flatten: ['*']}]}, "
              "metadata_word_bits: 4, metadata_width_bits: 32}")
MAPPING = """
layers:
  g:
    DRAM: {temporal: {m: 4}}
    GLB: {temporal: {k: 4, n: 4}}
    PE: {spatial: {x: {n: 8}, y: {k: 4}}}
    RF: {temporal: {k: 4, m: 8}}
"""


SMALL = (MAPPING.replace("{m: 4}", "{m: 2}").replace("{k: 4, n: 4}", "{k: 2, n: 2}"), "{m: 16, n: 16, k: 32}")


def setup(tmp_path, weights="{distribution: hypergeometric, density: 0.3}", formats="", skipping=SKIP_ON_WEIGHTS,
          mapping=MAPPING, pex=8, extra_arch=(), dims="{m: 32, n: 32, k: 64}"):
    (tmp_path / "a.yaml").write_text(ARCH.replace("FORMATS", formats).replace("SKIPPING", skipping)
                                     .replace("PEX", str(pex)))
    sparsity = f"  sparsity: {{weights: {weights}}}\n" if weights else ""
    (tmp_path / "w.yaml").write_text(f"name: g\nlayers:\n- name: g\n  matmul: {dims}\n{sparsity}")
    (tmp_path / "m.yaml").write_text(mapping)
    arch = accelsim.load_arch(tmp_path / "a.yaml", list(extra_arch))
    wl = accelsim.load_workload(tmp_path / "w.yaml")
    return arch, wl, accelsim.load_mapping_file(tmp_path / "m.yaml", arch, wl)


def run(arch, wl, mappings, model="cycle"):
    return accelsim.simulate(arch, wl, accelsim.SimOptions(model=model), mappings=mappings).layers[0]


# ------------------------------------------------------------------ the closed form

@pytest.mark.parametrize("values, probs", [([0, 1, 3], [0.2, 0.5, 0.3]), ([2, 5], [0.9, 0.1]), ([4], [1.0])])
@pytest.mark.parametrize("pes", [1, 2, 3, 4])
def test_expected_max_is_the_enumerated_max(values, probs, pes):
    """Σ_k v_k (F_k^p − F_{k−1}^p) against every outcome of p independent draws."""
    want = sum(max(values[i] for i in pick) * np.prod([probs[i] for i in pick])
               for pick in product(range(len(values)), repeat=pes))
    assert expected_max(np.array(values, float), np.array(probs), pes) == pytest.approx(want, rel=1e-12)


def test_expected_max_keeps_tiny_tails_over_many_pes():
    """A tail of 1e-9 over 10^6 PEs: P(max = top) = 1 − (1 − 1e-9)^(10^6) ≈ 1e-3, not lost to 1 − F rounding."""
    got = expected_max(np.array([0.0, 1.0]), np.array([1 - 1e-9, 1e-9]), 10**6)
    assert got == pytest.approx(-np.expm1(10**6 * np.log1p(-1e-9)), rel=1e-9)


def test_structured_nm_tiles_of_whole_groups_are_balanced():
    assert step_imbalance(StructuredNM(2, 4, "k"), "weights", 16, 1024, axis_extent=8).factor == 1.0
    assert step_imbalance(StructuredNM(1, 8, "k"), "weights", 64, 7, axis_extent=16).factor == 1.0
    # a tile of 2 positions of a 2:4 group holds 0, 1 or 2: the max over PEs is above the mean
    assert step_imbalance(StructuredNM(2, 4, "k"), "weights", 2, 16, axis_extent=2).factor > 1.0


def test_one_pe_has_no_imbalance_and_more_pes_more():
    model = Hypergeometric(0.3, 4096)
    factors = [step_imbalance(model, "weights", 16, p).factor for p in (1, 4, 64, 4096)]
    assert factors[0] == 1.0 and factors == sorted(factors) and factors[-1] <= 16 / (0.3 * 16)
    v, p = occupancy_pmf(model, 16)
    assert float(np.dot(v, p)) == pytest.approx(16 * round(0.3 * 4096) / 4096)


# ------------------------------------------------------------------ the walk

@pytest.mark.parametrize("formats", ["", CP_WEIGHTS])
@pytest.mark.parametrize("size", ["small", pytest.param("full", marks=pytest.mark.slow)])
def test_walk_equals_the_slow_reference(tmp_path, formats, size):
    """The walk at a real compute per step with the pass's demand per word (fixed point) against the
    naive walk (every step enumerated, dicts, real busy time): cycles and stalls per level."""
    mapping, dims = SMALL if size == "small" else (MAPPING, "{m: 32, n: 32, k: 64}")
    arch, wl, maps = setup(tmp_path, formats=formats, mapping=mapping, dims=dims)
    layer = wl.layers[0]
    mapping = maps[layer.name]
    nest = lower(arch, layer.run_einsum, mapping)
    counts = accelsim.simulate(arch, wl, mappings=maps).layers[0]
    from accelsim.model.analytical import analyze
    dense = analyze(arch, layer.run_einsum, nest)
    result = analyze_sparse(arch, layer.run_einsum, nest, dense, dict(layer.sparsity), layer.name)
    stats = simulate_sparse_cycles(arch, layer, nest, dense, result)
    factors = {(result.level_names[s], role): demand_factors(arch.level(result.level_names[s]), rec)
               for (s, role), rec in result.records.items() if result.level_names[s]}

    def demand(level, role, kind):  # the walk's fixed-point words per dense word
        f = factors.get((level, role), {}).get({"reads": "read", "fills": "fill", "updates": "update"}[kind], 1.0)
        return round(f * FIXED_POINT) / FIXED_POINT

    want = naive_tile_events(arch, layer.run_einsum, nest, busy_compute=stats.per_step, demand=demand)
    assert stats.exact_cycles == pytest.approx(want["cycles"], rel=1e-12)
    for name, s in want["stall"].items():
        assert stats.stall_cycles[name] == pytest.approx(s, rel=1e-12, abs=1e-9)
    assert stats.load_imbalance > 1.0 and counts.cycles > 0
    if formats:  # compressed weights: the GLB's weight reads carry the non-zeros plus metadata
        f = factors[("GLB", "weights")]["read"]
        assert 0.3 < f < 1.0


def test_a_dense_tensor_reproduces_the_dense_cycle_model(tmp_path):
    """No sparsity on a sparse arch: every demand factor is 1 and every MAC takes its slot; the sparse
    walk (fixed-point ports, interpolation) must give the dense walk's cycles and stalls exactly."""
    arch, wl, maps = setup(tmp_path, weights=None)
    layer = wl.layers[0]
    got = run(arch, wl, maps)
    dense = simulate_cycles(arch, layer.run_einsum, lower(arch, layer.run_einsum, maps[layer.name]))
    assert got.cycles == dense.cycles and got.extra["load_imbalance"] == 1.0
    assert got.extra["cycle_model"]["stall_cycles"] == dense.stall_cycles
    # stored with metadata, the same dense weights only add words to the GLB's ports
    arch, wl, maps = setup(tmp_path, weights=None, formats=CP_WEIGHTS)
    assert run(arch, wl, maps).cycles > dense.cycles


def test_shipped_sparse_arch_with_dense_layers_reproduces_the_dense_walk():
    from conftest import ARCH_DIR, WORKLOAD_DIR
    arch = accelsim.load_arch(ARCH_DIR / "sparse_tc_like.yaml")
    wl = accelsim.load_workload(WORKLOAD_DIR / "gemm_small.yaml")
    result = accelsim.simulate(arch, wl, accelsim.SimOptions(model="cycle"))
    for lr, layer in zip(result.layers, wl.layers):
        dense = simulate_cycles(arch, layer.run_einsum, lower(arch, layer.run_einsum, lr.mapping))
        assert "sparse" in lr.extra and lr.cycles == dense.cycles


@pytest.mark.parametrize("axis_loops", ["RF: {temporal: {k: 4, m: 8}}", "RF: {temporal: {m: 8, k: 4}}"])
def test_structured_nm_equals_the_balanced_walk(tmp_path, axis_loops):
    """2:4 along k, each PE's box covering a whole group of 4: every PE holds exactly 2 of 4."""
    mapping = MAPPING.replace("RF: {temporal: {k: 4, m: 8}}", axis_loops)
    arch, wl, maps = setup(tmp_path, weights="{distribution: structured, n: 2, m: 4, axis: k}", mapping=mapping)
    got = run(arch, wl, maps)
    assert got.extra["load_imbalance"] == 1.0
    assert got.cycles == got.extra["cycle_model"]["balanced_cycles"]
    assert got.extra["cycle_model"]["compute_cycles_per_step"] == 32 * 0.5


def test_sparse_tc_like_2of4_is_balanced_across_its_lanes():
    """sparse_tc_like's PE holds one weight; 2:4 hardware compacts each group of 4 reduction lanes."""
    from conftest import ARCH_DIR, WORKLOAD_DIR
    arch = accelsim.load_arch(ARCH_DIR / "sparse_tc_like.yaml")
    wl = accelsim.load_workload(WORKLOAD_DIR / "bert_base_2of4.yaml")
    wl = type(wl)(**{**wl.__dict__, "layers": tuple(l for l in wl.layers if l.name == "attn_q")})
    lr = accelsim.simulate(arch, wl, accelsim.SimOptions(model="cycle")).layers[0]
    assert lr.extra["load_imbalance"] == 1.0
    assert lr.extra["cycle_model"]["compute_cycles_per_step"] == lr.extra["cycle_model"][
        "dense_compute_cycles_per_step"] / 2


def test_invariants_balanced_at_most_imbalanced_at_most_dense(tmp_path):
    arch, wl, maps = setup(tmp_path)
    sparse = run(arch, wl, maps)
    arch_d, wl_d, maps_d = setup(tmp_path, weights=None)
    dense = run(arch_d, wl_d, maps_d)
    cm = sparse.extra["cycle_model"]
    assert cm["balanced_cycles"] <= sparse.cycles <= dense.cycles
    assert cm["balanced_compute_cycles_per_step"] <= cm["compute_cycles_per_step"] <= cm[
        "dense_compute_cycles_per_step"]
    assert sparse.extra["load_imbalance"] > 1.0


def test_one_pe_per_leader_tile_equals_the_balanced_walk(tmp_path):
    """No spatial loop over the weights' dims (the PEs share one weight tile: P = 1)."""
    mapping = ("layers:\n  g:\n    DRAM: {temporal: {k: 16, n: 32}}\n    PE: {spatial: {y: {m: 4}}}\n"
               "    RF: {temporal: {k: 4, m: 8}}\n")
    arch, wl, maps = setup(tmp_path, mapping=mapping, pex=1)
    got = run(arch, wl, maps)
    assert got.extra["cycle_model"]["imbalance"]["pes"] == 1
    assert got.extra["load_imbalance"] == 1.0 and got.cycles == got.extra["cycle_model"]["balanced_cycles"]


def test_analytical_sparse_run_is_unchanged_by_the_cycle_model(tmp_path):
    arch, wl, maps = setup(tmp_path)
    a, c = run(arch, wl, maps, "analytical"), run(arch, wl, maps)
    assert a.counts.levels == c.counts.levels and a.extra["sparse"] == c.extra["sparse"]
    assert "load_imbalance" not in a.extra and c.cycles != a.cycles


def test_two_leaders_and_measured_leaders_are_refused(tmp_path):
    arch, wl, maps = setup(tmp_path, skipping=SKIP_ON_WEIGHTS + ", {target: weights, condition_on: [inputs]}",
                           weights="{distribution: hypergeometric, density: 0.3}, "
                                   "inputs: {distribution: hypergeometric, density: 0.5}")
    with pytest.raises(accelsim.SpecError, match="one operand's zeros"):
        run(arch, wl, maps)
    run(arch, wl, maps, "analytical")  # the analytical model runs it
    np.save(tmp_path / "w.npy", (np.arange(64 * 32).reshape(64, 32) % 3 == 0).astype(np.int8))
    arch, wl, maps = setup(tmp_path, weights="{distribution: measured, file: w.npy}")
    with pytest.raises(accelsim.SpecError, match="measured"):
        run(arch, wl, maps)


def test_the_reports_carry_the_load_imbalance(tmp_path, capsys):
    import json

    from accelsim.cli import main
    setup(tmp_path)
    assert main(["run", str(tmp_path / "a.yaml"), str(tmp_path / "w.yaml"), "--mapping", str(tmp_path / "m.yaml"),
                 "--model", "cycle", "--json", str(tmp_path / "r.json")]) == 0
    out = capsys.readouterr().out
    layers = json.loads((tmp_path / "r.json").read_text())["layers"]
    layer = layers[0] if isinstance(layers, list) else next(iter(layers.values()))
    factor = layer["load_imbalance"]
    assert factor > 1.0 and "imbalance" in out and f"{factor:.3f}" in out
