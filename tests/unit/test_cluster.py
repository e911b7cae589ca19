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
