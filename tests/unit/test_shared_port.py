"""A memory's shared read/write port (shared_bandwidth): one limit on reads + writes together, in the
native spec, in the analytical and cycle models, and imported from Timeloop."""
import pytest
from conftest import ARCH_DIR, WORKLOAD_DIR

from accelsim.cli import main
from accelsim.ir.einsum import parse_einsum
from accelsim.mapping.lower import lower
from accelsim.mapping.mapping import LevelMapping, Loop, Mapping
from accelsim.model.analytical import analyze
from accelsim.model.cycle import simulate_cycles

ARCH = """
name: shared
technology: {node: 45nm, energy_table: horowitz_45nm}
operating_point: {voltage: 0.9V, frequency: 1GHz}
levels:
  - memory: {name: DRAM, class: dram, size: unlimited, word_bits: 8, keeps: [weights, inputs, outputs]%s}
  - memory: {name: RF, class: regfile, size: 64KiB, word_bits: 8, keeps: [weights, inputs, outputs]}
  - compute: {name: MAC, format: int8}
"""
GEMM = parse_einsum("O[m,n] += I[m,k] * W[k,n]", {"m": 4, "n": 4, "k": 4})
# The RF holds a k-slice: DRAM streams inputs and weights in, and partial sums out and back.
MAPPING = Mapping((LevelMapping("DRAM", (Loop("k", 4),)), LevelMapping("RF", (Loop("m", 4), Loop("n", 4)))))


@pytest.mark.parametrize("ports, rule", [
    ("", lambda r, w: 0),
    (", shared_bandwidth: 2 words/cycle", lambda r, w: -(-(r + w) // 2)),
    (", read_bandwidth: 1 words/cycle, shared_bandwidth: 4 words/cycle", lambda r, w: max(r, -(-(r + w) // 4))),
])
def test_a_shared_port_bounds_reads_and_writes_together(arch_from_text, ports, rule):
    arch = arch_from_text(ARCH % ports)
    nest = lower(arch, GEMM, MAPPING)
    counts = analyze(arch, GEMM, nest)
    dram = counts.levels[0]
    reads, writes = dram.read_words, dram.write_words
    assert reads > 0 and writes > 0
    assert dram.cycles == rule(reads, writes)
    assert counts.cycles == max(counts.compute_cycles, dram.cycles)
    stats = simulate_cycles(arch, GEMM, nest)  # the cycle model honours the same port
    assert stats.cycles >= stats.traffic_bound(arch) >= dram.cycles


def test_timeloop_shared_bandwidth_imports(tmp_path, capsys):
    from test_cli import TIMELOOP_ARCH, TIMELOOP_PROBLEM
    (tmp_path / "prob.yaml").write_text(TIMELOOP_PROBLEM)
    (tmp_path / "arch.yaml").write_text(TIMELOOP_ARCH % ", shared_bandwidth: 3")
    assert main(["import", "timeloop", "--arch", str(tmp_path / "arch.yaml"), "--problem",
                 str(tmp_path / "prob.yaml"), "--out", str(tmp_path / "out")]) == 0
    capsys.readouterr()
    import accelsim
    arch = accelsim.load_arch(tmp_path / "out" / "timeloop.arch.yaml")
    assert arch.level("Buffer").shared_bw_words == 3.0


def test_scalesim_compat_refuses_a_shared_port(arch_from_text, tmp_path):
    import accelsim
    from accelsim.errors import SpecError
    arch = accelsim.load_arch(ARCH_DIR / "tpu_like.yaml", ["levels.DRAM.shared_bandwidth=4 words/cycle"])
    workload = accelsim.load_workload(WORKLOAD_DIR / "gemm_small.yaml")
    with pytest.raises(SpecError, match="shared_bandwidth has no SCALE-Sim counterpart"):
        accelsim.simulate(arch, workload, accelsim.SimOptions(model="cycle", scalesim_compat=True))


def test_a_vanishing_bandwidth_is_refused_not_wrapped(arch_from_text):
    # 1e-300 words/cycle would take ~1e303 cycles: the level time saturates and the model says so
    # (it once wrapped around int64 and dropped the bound).
    from accelsim.errors import SpecError
    arch = arch_from_text(ARCH % ", read_bandwidth: 1e-300 words/cycle")
    with pytest.raises(SpecError, match="more than 2\\^62 cycles"):
        analyze(arch, GEMM, lower(arch, GEMM, MAPPING))


def test_layers_beyond_int64_counting_are_refused(arch_from_text):
    from accelsim.errors import SpecError
    arch = arch_from_text(ARCH % "")
    huge = parse_einsum("O[m,n] += I[m,k] * W[k,n]", {"m": 2**24, "n": 2**24, "k": 2**24})
    mapping = Mapping((LevelMapping("DRAM", (Loop("m", 2**24), Loop("n", 2**24), Loop("k", 2**24))),
                       LevelMapping("RF")))
    with pytest.raises(SpecError, match="beyond the 2\\^60"):
        analyze(arch, huge, lower(arch, huge, mapping))
    long_axis = parse_einsum("O[m,n] += I[m,k] * W[k,n]", {"m": 2**40, "n": 1, "k": 1})
    with pytest.raises(SpecError, match="spans"):
        analyze(arch, long_axis, lower(arch, long_axis, Mapping((LevelMapping("DRAM", (Loop("m", 2**40),)),
                                                                  LevelMapping("RF")))))
