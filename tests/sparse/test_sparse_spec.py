"""The sparse spec written by hand (arch `sparse:`, layer `sparsity:`), its invariants, its errors,
and the split in the JSON report."""
from __future__ import annotations

import json

import pytest

import accelsim
from accelsim.report.serialize import result_dict

# One buffer in front of the MACs; the tests add its bandwidths, energies and sparse: block.
BUFFER = """
name: dot
technology: {node: 45nm, energy_table: horowitz_45nm, nominal_voltage: 0.9V}
operating_point: {voltage: 0.9V, frequency: 1GHz}
counting: timeloop
levels:
- memory:
    name: Buffer
    class: regfile
    word_bits: 8
    keeps: [weights, inputs, outputs]
    size: unlimited
"""
ARCH = BUFFER + """    read_bandwidth: 4 words/cycle
    write_bandwidth: 3 words/cycle
    energy: {read: 0.58pJ, write: 0.51pJ}
    sparse:
      formats: {weights: [CP]}
      OPTIMIZATION:
      - {target: inputs, condition_on: [weights]}
      - {target: outputs, condition_on: [weights]}
      metadata_word_bits: 4
      metadata_width_bits: 4
      energy: {metadata_read: 0.19pJ, gated_read: 0.05pJ, skipped_read: 0pJ}
- compute: {name: mac, format: int8, energy: {mac: 0.315pJ}}
"""

WORKLOAD = """
name: dot
layers:
- name: dot
  einsum: {expression: "O[m] += I[k] * W[k]", dims: {k: 16, m: 1}}
  sparsity:
    weights: {distribution: fixed_structured, density: 0.25}
"""

MAPPING = "layers: {dot: {Buffer: {temporal: {k: 16}}}}\n"


def run(tmp_path, arch=ARCH, workload=WORKLOAD, optimization="skipping"):
    (tmp_path / "a.yaml").write_text(arch.replace("OPTIMIZATION", optimization))
    (tmp_path / "w.yaml").write_text(workload)
    (tmp_path / "m.yaml").write_text(MAPPING)
    a, w = accelsim.load_arch(tmp_path / "a.yaml"), accelsim.load_workload(tmp_path / "w.yaml")
    return accelsim.simulate(a, w, mappings=accelsim.load_mapping_file(tmp_path / "m.yaml", a, w))


def test_gating_and_skipping_split_the_same_accesses(tmp_path):
    """Three of four weights are zero (fixed-structured 0.25 over K=16). Led by them, 12 of the 16
    input reads and output updates are cut, and 12 of the 15 output reads (a read-write tensor's
    first update has no read; Sparseloop rounds that cut up). Skipping frees the accesses' cycles,
    gating does not."""
    (tmp_path / "g").mkdir()
    (tmp_path / "s").mkdir()
    gated = run(tmp_path / "g", optimization="gating").layers[0]
    skipped = run(tmp_path / "s", optimization="skipping").layers[0]
    for layer, kind in ((gated, "gated"), (skipped, "skipped")):
        rec = layer.extra["sparse"]["levels"]["Buffer"]
        assert rec["inputs"]["actual"]["read"] == 4 and rec["inputs"][kind]["read"] == 12
        assert rec["outputs"]["actual"]["read"] == 3 and rec["outputs"][kind]["read"] == 12
        assert rec["outputs"]["actual"]["update"] == 4 and rec["outputs"][kind]["update"] == 12
        # the compressed weights: only their 4 non-zeros and 4 coordinates are read
        assert rec["weights"]["actual"]["read"] == 4 and rec["weights"]["capacity"] == 4
        assert rec["weights"]["metadata"]["random"]["read"] == [[4, 0]]
        assert layer.extra["sparse"]["computes"]["random_compute"] == 4
        for tensor in rec.values():   # conservation: every algorithmic access is in one class
            for op in ("read", "fill", "update"):
                total = sum(tensor[k][op] for k in ("actual", "gated", "skipped"))
                assert total <= tensor["algorithmic"][op]
    # gated reads take their slot: 4 weights + 2 words of metadata (4 × 4 bits) + 16 inputs +
    # 15 outputs = 37 reads at 4 per cycle → 10 cycles (16 updates at 3 per cycle need only 6)
    assert gated.cycles == 10
    assert skipped.cycles == 4       # the 4 actual MACs bound it
    # a gated read costs its gated_read energy, a skipped one its skipped_read (0 here; omitted, it
    # would fall back to gated_read, as Timeloop's ERT lookup does)
    assert gated.energy.dynamic_pj["Buffer"] == pytest.approx(skipped.energy.dynamic_pj["Buffer"] + 24 * 0.05)


def test_dense_run_is_unchanged_by_a_sparse_arch_without_sparsity(tmp_path):
    """No density model: every tensor dense, nothing cut; the counts equal the dense model's."""
    dense_wl = WORKLOAD.replace("  sparsity:\n    weights: {distribution: fixed_structured, density: 0.25}\n", "")
    layer = run(tmp_path, workload=dense_wl).layers[0]
    rec = layer.extra["sparse"]["levels"]["Buffer"]
    assert rec["inputs"]["actual"] == rec["inputs"]["algorithmic"]
    assert rec["weights"]["actual"]["read"] == 16
    assert layer.cycles == 16


def test_the_split_is_in_the_json_report(tmp_path):
    data = json.loads(json.dumps(result_dict(run(tmp_path))))
    layer = data["layers"][0]
    assert layer["sparse"]["levels"]["Buffer"]["inputs"]["skipped"]["read"] == 12
    assert layer["sparse"]["computes"] == {"random_compute": 4, "gated_compute": 0, "skipped_compute": 0,
                                           "algorithmic": 16}


@pytest.mark.parametrize("old, new, key, message", [
    ("formats: {weights: [CP]}", "formats: {weights: [CSR]}", "levels.0.memory.sparse.formats.weights.0",
     "CSR"),
    ("- {target: inputs, condition_on: [weights]}", "- {target: input, condition_on: [weights]}",
     "levels.0.memory.sparse.skipping.0.target", "input"),
])
def test_bad_arch_sparse_spec(tmp_path, old, new, key, message):
    with pytest.raises(accelsim.SpecError, match=message) as info:
        run(tmp_path, arch=ARCH.replace(old, new))
    assert info.value.problems[0].key_path.startswith(key)


@pytest.mark.parametrize("entry, key, message", [
    ("weights: {distribution: fixed_structured}", "layers.0.sparsity", "needs density"),
    ("bias: {distribution: fixed_structured, density: 0.5}", "layers.0.sparsity", "bias"),
    ("weights: {distribution: structured, n: 2, m: 4, axis: m}", "layers.0.sparsity", "axis 'm' is not a dim"),
    ("weights: {distribution: banded, density: 0.5}", "layers.0.sparsity", "banded"),
])
def test_bad_layer_sparsity(tmp_path, entry, key, message):
    wl = WORKLOAD.replace("weights: {distribution: fixed_structured, density: 0.25}", entry)
    with pytest.raises(accelsim.SpecError, match=message) as info:
        run(tmp_path, workload=wl)
    assert info.value.problems[0].key_path.startswith(key)


@pytest.mark.parametrize("entry, p_zero", [
    ("weights: {distribution: structured, n: 1, m: 4, axis: k}", 0.75),   # 1:4 along k
    ("weights: {distribution: structured, n: 2, m: 4, axis: k}", 0.5),
    ("weights: {distribution: measured, file: w.npy}", 10 / 16),
])
def test_structured_and_measured_weights_lead_skipping(tmp_path, entry, p_zero):
    """Uncompressed weights with an N:M or a measured density lead the skipping of inputs: a scalar
    weight is zero with probability 1 - N/M, or the measured tensor's zero fraction."""
    import numpy as np
    w = np.zeros(16)
    w[[0, 3, 5, 6, 9, 15]] = 1.0      # 6 non-zeros of 16
    np.save(tmp_path / "w.npy", w)
    arch = ARCH.replace("formats: {weights: [CP]}", "formats: {}")
    layer = run(tmp_path, arch=arch, workload=WORKLOAD.replace(
        "weights: {distribution: fixed_structured, density: 0.25}", entry)).layers[0]
    rec = layer.extra["sparse"]["levels"]["Buffer"]
    assert rec["inputs"]["skipped"]["read"] == int(16 * p_zero)
    assert rec["weights"]["actual"]["read"] == 16     # stored and read uncompressed


def test_compressing_a_structured_tensor_over_whole_groups_is_exact(tmp_path):
    """1:4 weights over K = 16 (four whole groups), CP-compressed: the tile holds exactly 4 and a
    scalar is empty with probability 3/4, as with fixed-structured 0.25: the same split
    (accelsim/sparse/nm_tiles.py). A tile that splits a group is a clear error."""
    nm = WORKLOAD.replace("weights: {distribution: fixed_structured, density: 0.25}",
                          "weights: {distribution: structured, n: 1, m: 4, axis: k}")
    a, b = run(tmp_path, workload=nm).layers[0], run(tmp_path).layers[0]
    assert a.extra["sparse"] == b.extra["sparse"] and a.cycles == b.cycles
    assert a.energy_pj == pytest.approx(b.energy_pj, rel=1e-12)
    split = nm.replace("k: 16", "k: 18")
    with pytest.raises(accelsim.SpecError, match="compressing the 1:4 weights at Buffer with a tile covering 18") as info:
        (tmp_path / "m.yaml").write_text(MAPPING.replace("16", "18"))
        (tmp_path / "w.yaml").write_text(split)
        arch = accelsim.load_arch(tmp_path / "a.yaml")
        w = accelsim.load_workload(tmp_path / "w.yaml")
        accelsim.simulate(arch, w, mappings=accelsim.load_mapping_file(tmp_path / "m.yaml", arch, w))
    assert info.value.problems[0].key_path == "layers.dot.sparsity.weights"


def test_an_unmodelled_optimization_is_located_in_the_arch_file(tmp_path):
    """Skipping inputs at a level that feeds another level keeping them (a condition-on tile, not
    a scalar) is not modelled: a SpecError at the optimization's key in the arch file."""
    arch = ARCH.replace("- compute:", "- memory: {name: R, class: regfile, word_bits: 8, size: 64b, "
                                      "keeps: [inputs]}\n- compute:")
    with pytest.raises(accelsim.SpecError, match="feeds another level keeping it") as info:
        run(tmp_path, arch=arch)
    problem = info.value.problems[0]
    assert problem.key_path == "levels.0.memory.sparse.skipping.0"
    assert problem.file.endswith("a.yaml") and problem.suggestion


def test_metadata_that_does_not_fit_is_a_mapping_error(tmp_path):
    arch = ARCH.replace("metadata_width_bits: 4\n", "metadata_width_bits: 4\n      metadata_depth: 3\n")
    with pytest.raises(accelsim.MappingError, match="metadata take 16 bits, more than its metadata storage"):
        run(tmp_path, arch=arch)


def test_cli_exit_2_on_a_bad_sparse_spec(tmp_path, capsys):
    from accelsim.cli import main
    (tmp_path / "a.yaml").write_text(ARCH.replace("OPTIMIZATION", "skipping").replace("[CP]", "[CSR]"))
    (tmp_path / "w.yaml").write_text(WORKLOAD)
    assert main(["run", str(tmp_path / "a.yaml"), str(tmp_path / "w.yaml")]) == 2
    assert "levels.0.memory.sparse.formats.weights.0" in capsys.readouterr().err


def test_sparsity_runs_with_the_cycle_model(tmp_path):
    """Sparse layers run with --model cycle (docs/sparsity.md, "The cycle model under sparsity"): this
    arch's Timeloop counting convention is refused by the cycle model for the convention, not for the
    sparsity; with accelsim's own counting the same sparse layer runs, with its pass's counts."""
    (tmp_path / "a.yaml").write_text(ARCH.replace("OPTIMIZATION", "skipping"))
    (tmp_path / "w.yaml").write_text(WORKLOAD)
    (tmp_path / "m.yaml").write_text(MAPPING)
    a, w = accelsim.load_arch(tmp_path / "a.yaml"), accelsim.load_workload(tmp_path / "w.yaml")
    with pytest.raises(accelsim.SpecError, match="counting convention 'timeloop'"):
        accelsim.simulate(a, w, accelsim.SimOptions(model="cycle"),
                          mappings=accelsim.load_mapping_file(tmp_path / "m.yaml", a, w))
    (tmp_path / "a.yaml").write_text(ARCH.replace("OPTIMIZATION", "skipping").replace("counting: timeloop\n", ""))
    a = accelsim.load_arch(tmp_path / "a.yaml")
    maps = accelsim.load_mapping_file(tmp_path / "m.yaml", a, w)
    analytical = accelsim.simulate(a, w, mappings=maps).layers[0]
    cycle = accelsim.simulate(a, w, accelsim.SimOptions(model="cycle"), mappings=maps).layers[0]
    assert cycle.counts == analytical.counts and cycle.extra["sparse"] == analytical.extra["sparse"]
    # 4 of 16 weights non-zero (fixed_structured, one PE): 4 MAC cycles, but every step's traffic
    # (reads at 4 words/cycle) still bounds it
    assert cycle.extra["cycle_model"]["compute_cycles_per_step"] == 4 and cycle.extra["load_imbalance"] == 1.0
    assert cycle.cycles >= analytical.counts.compute_cycles


@pytest.mark.parametrize("opts, formats, want", [
    # both operands compressed (a missing operand is "not existing"): K=16, weights 0.5, inputs 0.25
    # pairs: both non-zero 16·0.5·0.25 = 2; one missing 16·(0.5·0.75 + 0.5·0.25) = 8; both missing 6
    ("{skip_on_not_aligned_operands: true}", "{weights: [CP], inputs: [CP]}", (2, 0, 8)),
    ("{gate_on_zero_operand: true}", "{weights: [CP], inputs: [CP]}", (2, 8, 0)),
    ("{}", "{weights: [CP], inputs: [CP]}", (10, 0, 0)),          # the 8 one-missing pairs compute
    # uncompressed operands: zeros exist; gating takes every pair with a zero: 16 − 2
    ("{gate_on_zero_operand: true}", "{}", (2, 14, 0)),
    ("{skip_on_not_aligned_operands: true}", "{}", (16, 0, 0)),  # nothing is missing: nothing to skip
])
def test_compute_gating_and_skipping(tmp_path, opts, formats, want):
    """Sparseloop's compute split (compute-gs-analyzer.cpp, two operands): actual, gated, skipped;
    gated MACs keep their cycle, skipped ones do not; both cost gated_compute (skipped falls back)."""
    flags = opts[1:-1] + ", " if opts != "{}" else ""
    arch = BUFFER + f"""    energy: {{read: 0.58pJ, write: 0.51pJ}}
    sparse: {{formats: {formats}, metadata_word_bits: 4, metadata_width_bits: 4}}
- compute:
    name: mac
    format: int8
    energy: {{mac: 0.315pJ}}
    sparse: {{{flags}energy: {{gated_compute: 0.1pJ}}}}
"""
    wl = WORKLOAD.replace("weights: {distribution: fixed_structured, density: 0.25}",
                          "weights: {distribution: fixed_structured, density: 0.5}\n"
                          "    inputs: {distribution: fixed_structured, density: 0.25}")
    layer = run(tmp_path, arch=arch, workload=wl).layers[0]
    c = layer.extra["sparse"]["computes"]
    assert (c["random_compute"], c["gated_compute"], c["skipped_compute"]) == want
    assert layer.extra["sparse"]["compute_cycles"] == want[0] + want[1]
    assert layer.energy.dynamic_pj["mac"] == pytest.approx(want[0] * 0.315 + (want[1] + want[2]) * 0.1)


def test_one_sparse_arch_runs_layers_of_every_kind(tmp_path):
    """arch/eyeriss_v1_zeros.yaml's formats flatten every dim ('*') and its gating names weights:
    a pooling layer (one operand, no weights) computes every window, and a grouped convolution and
    a matmul (other dim names) compress their activations the same way."""
    import accelsim
    from conftest import ARCH_DIR

    path = tmp_path / "w.yaml"
    path.write_text("""name: kinds
layers:
  - {name: conv, conv2d: {n: 1, c: 8, k: 8, h: 8, w: 8, r: 3, s: 3, groups: 2},
     sparsity: {inputs: {distribution: hypergeometric, density: 0.5}}}
  - {name: pool, pool2d: {n: 1, c: 8, h: 6, w: 6, r: 2, s: 2, stride: 2},
     sparsity: {inputs: {distribution: hypergeometric, density: 0.5}}}
  - {name: fc, matmul: {m: 4, n: 8, k: 18}, sparsity: {inputs: {distribution: hypergeometric, density: 0.5}}}
""")
    result = accelsim.simulate(accelsim.load_arch(ARCH_DIR / "eyeriss_v1_zeros.yaml"), accelsim.load_workload(path))
    by_name = {l.name: l for l in result.layers}
    pool = by_name["pool"].extra["sparse"]["computes"]
    assert pool["random_compute"] == by_name["pool"].macs and pool["gated_compute"] == pool["skipped_compute"] == 0
    for layer in result.layers:
        dram = layer.extra["sparse"]["levels"]["DRAM"]["inputs"]
        assert dram["format"] == ["UOP", "RLE"] and dram["expected_density"] == pytest.approx(0.5, rel=0.01)


@pytest.mark.parametrize("model", ["{distribution: hypergeometric, density: 0.0}",
                                   "{distribution: fixed_structured, density: 0}",
                                   "{distribution: structured, n: 0, m: 4, axis: k}"])
def test_a_tensor_without_non_zeros_is_refused(tmp_path, model):
    import accelsim

    path = tmp_path / "w.yaml"
    path.write_text(f"name: w\nlayers:\n  - {{name: g, matmul: {{m: 4, n: 4, k: 8}}, sparsity: {{inputs: {model}}}}}\n")
    with pytest.raises(accelsim.SpecError, match="layers.0.sparsity.inputs.*no non-zeros"):
        accelsim.load_workload(path)


def test_a_compressed_level_with_an_unsupported_block_is_a_spec_error():
    import accelsim
    from conftest import ARCH_DIR, WORKLOAD_DIR

    arch = accelsim.load_arch(ARCH_DIR / "eyeriss_v1_zeros.yaml", ["levels.DRAM.width_bits=1024"])
    wl = accelsim.load_workload(WORKLOAD_DIR / "alexnet_eyeriss_zeros.yaml")
    wl = type(wl)(wl.name, wl.description, wl.layers[2:3], wl.phase, wl.parameters)  # conv2
    with pytest.raises(accelsim.SpecError, match=r"DRAM: block of 64 words.*levels.DRAM.width_bits"):
        accelsim.simulate(arch, wl)
