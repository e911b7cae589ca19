"""Clustered memories (`cluster: N`): N instances share one width_bits-wide array, so each holds a
width / (N × word) block and one array access serves the cluster; dynamic energy is charged per
utilized cluster. Checked against the unclustered arch by the ratio the rule implies: here a
cluster is one x row of the 16 × 16 PE array, so the clusters used are the mapping's y positions
(Timeloop's counting: min(utilized, 256 / 16))."""
from math import prod

import pytest

import accelsim
from accelsim import SpecError
from conftest import ARCH_DIR, WORKLOAD_DIR

BASE = (ARCH_DIR / "simple_ws.yaml").read_text()
SPAD = "      keeps: [weights]\n  - compute"
# The same per-instance geometry (block 1 word) and per-access energy, without and with a cluster.
PLAIN = BASE.replace(SPAD, "      keeps: [weights]\n      energy: {read: 1pJ, write: 1pJ}\n  - compute")
CLUSTERED = PLAIN.replace("      keeps: [weights]\n      energy", "      keeps: [weights]\n      cluster: 16\n"
                                                                  "      width_bits: 256\n      energy")


@pytest.mark.parametrize("counting", ["accelsim", "timeloop"])
def test_dynamic_energy_is_charged_per_utilized_cluster(write, counting):
    workload = accelsim.load_workload(WORKLOAD_DIR / "conv_tiny.yaml")
    plain, clustered = (accelsim.simulate(accelsim.load_arch(write(f"{n}.yaml", text + f"counting: {counting}\n")),
                                          workload) for n, text in (("plain", PLAIN), ("clustered", CLUSTERED)))
    for a, b in zip(plain.layers, clustered.layers):
        spad = next(l for l in b.counts.levels if l.name == "pe_spad")
        assert a.counts.cycles == b.counts.cycles and a.counts.levels[-1].tensors == spad.tensors
        rows = prod(loop.bound for m in b.mapping.levels if m.level == "PE_array" for loop in m.loops
                    if loop.axis == "y")
        clusters = rows if counting == "accelsim" else min(spad.instances, 256 // 16)
        assert spad.charged_instances == clusters
        assert b.energy.dynamic_pj["pe_spad"] == pytest.approx(a.energy.dynamic_pj["pe_spad"] * clusters
                                                               / spad.instances, rel=1e-12)


def test_cluster_spec_errors(write):
    def error(text):
        with pytest.raises(SpecError) as exc:
            accelsim.load_arch(write("arch.yaml", text))
        return str(exc.value)
    assert "needs width_bits" in error(PLAIN.replace("      energy: {read", "      cluster: 4\n      energy: {read"))
    assert "multiple of cluster × word_bits" in error(CLUSTERED.replace("width_bits: 256", "width_bits: 128"))
    assert "does not divide its 256 instances" in error(CLUSTERED.replace("cluster: 16", "cluster: 24").replace(
        "width_bits: 256", "width_bits: 384"))


PRECISION_ARCH = """
name: p
technology: {node: 45nm, energy_table: horowitz_45nm}
operating_point: {voltage: 0.9V, frequency: 1GHz}
levels:
  - memory: {name: DRAM, class: dram, size: unlimited, word_bits: 8, keeps: [weights, inputs, outputs]}
  - spatial: {name: lanes, x: 32}
  - memory: {name: RF, class: regfile, size: 64b, word_bits: precision, width_bits: WIDTH, cluster: CLUSTER,
             keeps: [weights]}
  - compute: {name: MAC, format: int4, slot_level: lanes, formats: {int8: {mac: 0.2pJ, slots: 2}}}
"""


def test_a_cluster_must_still_fit_at_every_precision(write):
    """Words that follow the precision, and instances that follow a compute slot level, can break a
    cluster that fits at the arch's own format: a clear SpecError, not a silent half-word block or
    a cluster charged zero energy."""
    from accelsim.ir.arch import with_precision
    ok = accelsim.load_arch(write("ok.yaml", PRECISION_ARCH.replace("WIDTH", "128").replace("CLUSTER", "16")))
    assert ok.level("RF").block_words == 2  # 128 / (16 × 4 b)
    assert with_precision(ok, "int8").level("RF").block_words == 1  # 16 lanes of 2 slots: still divisible
    wide = accelsim.load_arch(write("w.yaml", PRECISION_ARCH.replace("WIDTH", "128").replace("CLUSTER", "32")))
    with pytest.raises(SpecError, match="not a multiple of cluster × word_bits"):
        with_precision(wide, "int8")  # 128 / (32 × 8 b) is half a word
    with pytest.raises(SpecError, match="does not divide its 16 instances"):
        with_precision(accelsim.load_arch(write("c.yaml", PRECISION_ARCH.replace("WIDTH", "256").replace(
            "CLUSTER", "32"))), "int8")


def test_estimated_energy_is_the_shared_arrays(write):
    """Without explicit energies, a cluster's access costs what one access of the whole array
    (cluster × size, width_bits wide) costs in the technology table."""
    from accelsim.energy.estimators import MEMORY_ESTIMATORS
    from accelsim.energy.model import action_energies
    from accelsim.energy.tables import load_table
    text = BASE.replace(SPAD, "      keeps: [weights]\n      cluster: 16\n      width_bits: 256\n  - compute")
    arch = accelsim.load_arch(write("a.yaml", text))
    spad = arch.level("pe_spad")
    want = MEMORY_ESTIMATORS.get("regfile")(load_table(arch.energy_table), spad.size_bits * 16, 256)
    assert action_energies(arch).read_pj["pe_spad"] == pytest.approx(want)


LANES = """
name: c
technology: {node: 45nm, energy_table: horowitz_45nm}
operating_point: {voltage: 0.9V, frequency: 1GHz}
counting: COUNTING
levels:
  - memory: {name: DRAM, class: dram, size: unlimited, word_bits: 8, width_bits: 64, keeps: [weights, inputs, outputs]}
  - memory: {name: GLB, class: sram, size: 64KiB, word_bits: 8, width_bits: 64, keeps: [weights, inputs, outputs]}
  - spatial: {name: PE, x: 16}
  - spatial: {name: lanes, x: 8}
  - memory: {name: Reg, class: regfile, size: 8b, word_bits: 8, width_bits: 64, cluster: 8, keeps: [weights]}
  - compute: {name: MAC, format: int8}
"""


@pytest.mark.parametrize("pes, lanes", [(16, 1), (2, 8), (4, 3)])
def test_clusters_used_follow_the_mappings_fan_out(write, pes, lanes):
    """One PE's 8 lanes share a 64-bit register: 16 PEs × 1 lane touch 16 arrays, 2 PEs × 8 lanes
    touch 2 (Timeloop charges min(utilized, 128 / 8) either way, as if the lanes were spread)."""
    from accelsim.ir.einsum import parse_einsum
    from accelsim.ir.workload import Layer, Workload
    from accelsim.mapping.mapping import LevelMapping, Loop, Mapping
    einsum = parse_einsum("O[m,n] += I[m,k] * W[n,k]", {"m": 4, "n": pes * lanes, "k": 4})
    mapping = Mapping((LevelMapping("DRAM"), LevelMapping("GLB", (Loop("k", 4),)),
                       LevelMapping("PE", (Loop("n", pes, "x"),)), LevelMapping("lanes", (Loop("n", lanes, "x"),)),
                       LevelMapping("Reg", (Loop("m", 4),))), "explicit")
    for counting, want in (("accelsim", pes), ("timeloop", min(pes * lanes, 16))):
        arch = accelsim.load_arch(write(f"{counting}.yaml", LANES.replace("COUNTING", counting)))
        layer = accelsim.simulate(arch, Workload("w", "", (Layer("l", einsum),)), mappings={"l": mapping}).layers[0]
        reg = next(level for level in layer.counts.levels if level.name == "Reg")
        assert (reg.instances, reg.charged_instances) == (pes * lanes, want)


def test_a_cluster_must_align_with_the_fan_out_axes(write):
    """8 lanes × 2 PEs is a cluster of 16; 4 of 6 lanes is not (a cluster would straddle PEs)."""
    aligned = LANES.replace("COUNTING", "accelsim").replace("cluster: 8", "cluster: 16").replace(
        "width_bits: 64, cluster", "width_bits: 128, cluster")
    assert accelsim.load_arch(write("a.yaml", aligned)).level("Reg").cluster == 16
    with pytest.raises(SpecError, match="not whole inner fan-out axes times a divisor of the next"):
        accelsim.load_arch(write("b.yaml", LANES.replace("COUNTING", "accelsim").replace("cluster: 8", "cluster: 4")
                                 .replace("lanes, x: 8", "lanes, x: 6")))
