"""Partial sums wider than a word (compute psum_bits): a level holding outputs that are still being
reduced stores and moves each in ceil(psum_bits / word_bits) words; finished outputs take one. The
counts stay in elements; capacity, bandwidth and energy are in words."""
from dataclasses import replace

import pytest

from accelsim.energy.model import action_energies, layer_energy
from accelsim.errors import MappingError
from accelsim.ir.einsum import parse_einsum
from accelsim.mapping.lower import lower
from accelsim.mapping.mapping import LevelMapping, Loop, Mapping
from accelsim.model.analytical import analyze

ARCH = """
name: psum
technology: {{node: 45nm, energy_table: horowitz_45nm}}
operating_point: {{voltage: 0.9V, frequency: 1GHz}}
levels:
  - memory: {{name: DRAM, class: dram, size: unlimited, word_bits: 8, keeps: [weights, inputs, outputs],
             write_bandwidth: 1 words/cycle}}
  - memory: {{name: ACC, class: regfile, size: {acc_bits}b, word_bits: 8, keeps: [outputs]}}
  - compute: {{name: MAC, format: int8{psum}}}
"""
GEMM = parse_einsum("O[m,n] += A[m,k] * B[k,n]", {"m": 2, "n": 2, "k": 4})
K_AT_DRAM = Mapping((LevelMapping("DRAM", (Loop("k", 4),)), LevelMapping("ACC", (Loop("m", 2), Loop("n", 2)))))
K_OUTER = Mapping((LevelMapping("DRAM", (Loop("k", 4), Loop("m", 2))), LevelMapping("ACC", (Loop("n", 2),))))
K_IN_ACC = Mapping((LevelMapping("DRAM", (Loop("m", 2), Loop("n", 2))), LevelMapping("ACC", (Loop("k", 4),))))


def _run(arch, mapping):
    counts = analyze(arch, GEMM, lower(arch, GEMM, mapping))
    energy = layer_energy(arch, counts, action_energies(arch), 1e-9, counts.cycles)
    return counts, energy


@pytest.mark.parametrize("mapping, dram_words, acc_words", [(K_AT_DRAM, 1, 3), (K_IN_ACC, 1, 3), (K_OUTER, 3, 3)])
def test_partial_sums_take_psum_words_where_they_are_partial(arch_from_text, mapping, dram_words, acc_words):
    """ACC accumulates in every mapping (partial sums, 3 words each). DRAM receives each output
    once, finished (1 word), while ACC keeps its outputs across k: k innermost at DRAM, or inside
    ACC. With k outside m at DRAM, ACC's outputs change within each k: DRAM round-trips partial sums."""
    wide = arch_from_text(ARCH.format(acc_bits=96, psum=", psum_bits: 24"))
    narrow = arch_from_text(ARCH.format(acc_bits=96, psum=""))
    (c_wide, e_wide), (c_narrow, e_narrow) = _run(wide, mapping), _run(narrow, mapping)
    dram, acc = c_wide.levels
    assert (dram.output_words, acc.output_words) == (dram_words, acc_words)
    assert all(level.output_words == 1 for level in c_narrow.levels)
    for a, b in zip(c_wide.levels, c_narrow.levels):  # the counts are elements either way (block accesses: words)
        assert {r: replace(c, blocks=None) for r, c in a.tensors.items()} == \
            {r: replace(c, blocks=None) for r, c in b.tensors.items()}
    for name, words in (("DRAM", dram_words), ("ACC", acc_words)):
        assert e_wide.by_tensor_pj[name]["outputs"] == pytest.approx(words * e_narrow.by_tensor_pj[name]["outputs"])
    # DRAM's write port (1 word/cycle; it writes only outputs) takes a cycle per word
    dram_narrow = c_narrow.levels[0]
    assert dram.cycles == dram_words * (dram_narrow.tensors["outputs"].fills + dram_narrow.tensors["outputs"].updates)
    assert dram_narrow.tensors["outputs"].updates == (4 if dram_words == 1 else 16)


def test_capacity_counts_partial_sums_in_words(arch_from_text):
    """4 outputs fit a 4-word accumulator as finished values but not as 24-bit partial sums."""
    with pytest.raises(MappingError, match=r"ACC: the tiles need 12 words \(outputs 12\) but it holds 4 words"):
        analyze(*_args(arch_from_text(ARCH.format(acc_bits=32, psum=", psum_bits: 24"))))
    analyze(*_args(arch_from_text(ARCH.format(acc_bits=32, psum=""))))


def _args(arch):
    return arch, GEMM, lower(arch, GEMM, K_AT_DRAM)


def test_the_cycle_model_moves_partial_sums_in_words(arch_from_text):
    """DRAM's write port (1 word/cycle) takes three cycles per 24-bit partial sum in the walk too."""
    from accelsim.model.cycle import simulate_cycles

    wide = arch_from_text(ARCH.format(acc_bits=96, psum=", psum_bits: 24"))
    narrow = arch_from_text(ARCH.format(acc_bits=96, psum=""))
    walked = {}
    for name, arch in (("wide", wide), ("narrow", narrow)):
        nest = lower(arch, GEMM, K_OUTER)
        walked[name] = simulate_cycles(arch, GEMM, nest)
        assert walked[name].cycles >= analyze(arch, GEMM, nest).cycles
    assert walked["wide"].traffic == walked["narrow"].traffic  # elements either way
    assert walked["wide"].stall_cycles["DRAM"] > walked["narrow"].stall_cycles["DRAM"]


def test_a_sparse_run_with_wide_partial_sums_is_refused(arch_from_text, tmp_path):
    """The sparse pass prices elements as one word each: wide partial sums are an error there."""
    import accelsim
    from accelsim.errors import SpecError
    from accelsim.options import SimOptions

    wide = arch_from_text(ARCH.format(acc_bits=96, psum=", psum_bits: 24"))
    path = tmp_path / "w.yaml"
    path.write_text("name: w\nlayers:\n  - name: g\n    matmul: {m: 2, n: 2, k: 4}\n"
                    "    sparsity: {inputs: {distribution: hypergeometric, density: 0.5}}\n")
    with pytest.raises(SpecError, match="psum_bits"):
        accelsim.simulate(wide, accelsim.load_workload(path), SimOptions(dataflow="search"))


RESIDENT = """
name: res_psum
dataflow: ws
residency: {level: GLB}
technology: {node: 45nm, energy_table: horowitz_45nm}
operating_point: {voltage: 0.9V, frequency: 1GHz}
levels:
  - memory: {name: DRAM, class: dram, size: unlimited, word_bits: 16, width_bits: 64, keeps: [weights, inputs, outputs],
             read_bandwidth: 8 words/cycle, write_bandwidth: 8 words/cycle}
  - memory: {name: GLB, class: sram, size: 128KiB, word_bits: 16, width_bits: 64, keeps: [weights, inputs, outputs],
             read_bandwidth: 1 words/cycle, write_bandwidth: 1 words/cycle}
  - compute: {name: MAC, format: int16, psum_bits: 64}
"""


def test_residency_keeps_partial_sums_in_words(arch_from_text, tmp_path):
    """The residency pass re-derives a level's cycles and its held words: in words, as the counts
    are priced (a 64-bit partial sum takes four 16-bit words), for resident tensors too."""
    import accelsim

    path = tmp_path / "w.yaml"
    path.write_text("name: w\nlayers:\n  - {name: a, matmul: {m: 16, n: 16, k: 16}}\n"
                    "  - {name: b, matmul: {m: 16, n: 16, k: 16}}\n")
    result = accelsim.simulate(arch_from_text(RESIDENT), accelsim.load_workload(path))
    for layer in result.layers:
        glb = {lc.name: lc for lc in layer.counts.levels}["GLB"]
        assert glb.output_words == 4
        # 1 word/cycle each way, in whole 4-word blocks (docs/energy.md#port-time): a step's one weight
        # costs a block; the resident partial sums, their words
        blocks = [c.blocks for c in glb.tensors.values()]
        reads = max(glb.read_words, 4 * sum(b[0] for b in blocks))
        writes = max(glb.write_words, 4 * sum(b[1] + b[2] for b in blocks))
        assert glb.cycles == max(reads, writes) > max(glb.read_words, glb.write_words)
        assert layer.extra["residency"]["held_words"] == sum(
            256 * glb.words_per_element(role) for role in ("inputs", "weights", "outputs"))


def test_the_roofline_counts_partial_sums_in_words(arch_from_text, tmp_path):
    """plot roofline's ops per word use the words a level's ports move, output_words included: a
    layer bound by its GLB lands on that level's roof, not below it."""
    import accelsim
    from accelsim.dse.plot import roofline_points
    from accelsim.report.serialize import result_dict

    path = tmp_path / "w.yaml"
    path.write_text("name: w\nlayers:\n  - {name: a, matmul: {m: 16, n: 16, k: 16}}\n")
    arch = arch_from_text(RESIDENT.replace("residency: {level: GLB}\n", ""))
    data = result_dict(accelsim.simulate(arch, accelsim.load_workload(path)))
    glb = roofline_points(data)["GLB"]
    layer = data["layers"][0]
    assert layer["levels"]["GLB"]["output_words"] == 4
    (_, ops_per_word, ops_per_s), = glb["points"]
    moved = layer["levels"]["GLB"]
    words = sum((t["reads"] + t["fills"] + t["updates"]) * (4 if r == "outputs" else 1)
                for r, t in moved["tensors"].items())
    assert ops_per_word == pytest.approx(2 * layer["macs"] / words)
