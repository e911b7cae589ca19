"""Clustered memories (`cluster: N`): N instances share one width_bits-wide array, so each holds a
width / (N × word) block and one array access serves the cluster; dynamic energy is charged per
utilized cluster. Checked against the unclustered arch by the ratio the rule implies."""
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
        assert a.counts == b.counts  # counts, capacities and cycles do not change
        clusters = -(-spad.instances // 16) if counting == "accelsim" else min(spad.instances, 256 // 16)
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
