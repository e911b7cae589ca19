"""The cycle model's kernel (accelsim/model/tile_events.py via simulate_cycles) against the slow
reference that walks every step with explicit point sets (naive_tile_events.py)."""
from dataclasses import replace

import pytest
from hypothesis import given, settings, strategies as st

import accelsim
from accelsim.errors import SpecError
from accelsim.ir.arch import Memory, Spatial
from accelsim.ir.einsum import parse_einsum
from accelsim.mapping.lower import lower
from accelsim.mapping.mapping import LevelMapping, Loop, Mapping, check_mapping
from accelsim.model.analytical import analyze
from accelsim.model.cycle import simulate_cycles
from naive_analytical import analyze as naive_analyze
from naive_tile_events import naive_tile_events

ARCH_2L = """
name: two_level
technology: {node: 45nm, energy_table: horowitz_45nm}
operating_point: {voltage: 0.9V, frequency: 1GHz}
levels:
  - memory: {name: DRAM, class: dram, size: unlimited, word_bits: 8, keeps: [weights, inputs, outputs],
             read_bandwidth: 2 words/cycle, write_bandwidth: 1 words/cycle}
  - spatial: {name: PE, x: 4, y: 2}
  - memory: {name: RF, class: regfile, size: 64KiB, word_bits: 8, keeps: [weights, inputs, outputs]}
  - compute: {name: MAC, format: int8}
"""

ARCH_5L = """
name: five_level
technology: {node: 45nm, energy_table: horowitz_45nm}
operating_point: {voltage: 0.9V, frequency: 1GHz}
levels:
  - memory: {name: DRAM, class: dram, size: unlimited, word_bits: 8, keeps: [weights, inputs, outputs]}
  - memory: {name: GLB, class: sram, size: 1MiB, word_bits: 8, keeps: [weights, inputs, outputs]}
  - spatial: {name: PE, x: 4, y: 2}
  - memory: {name: RFA, class: regfile, size: 64KiB, word_bits: 8, keeps: [inputs, outputs]}
  - memory: {name: RFB, class: regfile, size: 64KiB, word_bits: 8, keeps: [weights, outputs]}
  - spatial: {name: lanes, x: 2}
  - compute: {name: MAC, format: int8}
"""


@pytest.fixture(scope="module")
def arch_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("arch")
    (folder / "a2.yaml").write_text(ARCH_2L)
    (folder / "a5.yaml").write_text(ARCH_5L)
    return folder


def with_levels(arch, **changes):
    """The arch with some levels' fields replaced: name -> dict of fields."""
    return replace(arch, levels=tuple(replace(l, **changes.get(l.name, {})) for l in arch.levels))


def run_both(arch, einsum, mapping):
    check_mapping(arch, einsum, mapping)
    nest = lower(arch, einsum, mapping)
    fast = simulate_cycles(arch, einsum, nest)  # partial-sum widths from the analytical kernel
    widths = {level.name: level.output_words for level in naive_analyze(arch, einsum, nest).levels}
    slow = naive_tile_events(arch, einsum, nest, widths)
    traffic = {lvl: {role: [t.reads, t.fills, t.updates] for role, t in tensors.items()}
               for lvl, tensors in fast.traffic.items()}
    assert traffic == slow["traffic"]
    assert fast.stall_cycles == slow["stall"]
    assert (fast.cycles, fast.compute_cycles, fast.skew_cycles) == (slow["cycles"], slow["compute"], slow["skew"])
    return fast, analyze(arch, einsum, nest)


GEMM = parse_einsum("O[m,n] += I[m,k] * W[k,n]", {"m": 2, "n": 2, "k": 4})
GEMM_MAPPING = Mapping((LevelMapping("DRAM", (Loop("m", 2),)), LevelMapping("PE"),
                        LevelMapping("RF", (Loop("n", 2), Loop("k", 4)))))


def test_hand_case_serialized_transfers(arch_files):
    # 2 steps (m) of 8 MAC cycles (n, k). Step 0: DRAM sends 4 inputs + 8 weights (12 words at
    # 2/cycle: 6 cycles; outputs are first touches, nothing to fetch). Step 1: 4 new inputs
    # (2 cycles) while the 2 old outputs go up (2 words at 1/cycle: 2 cycles, other port).
    # End: the last 2 outputs drain (2 cycles). 6 + 8 + 2 + 8 + 2 = 26.
    arch = accelsim.load_arch(arch_files / "a2.yaml")
    stats, counts = run_both(arch, GEMM, GEMM_MAPPING)
    assert (stats.cycles, stats.compute_cycles, stats.stall_cycles) == (26, 16, {"DRAM": 10, "RF": 0})
    assert stats.traffic["DRAM"]["inputs"].reads == 8 and stats.traffic["DRAM"]["outputs"].updates == 4
    assert counts.cycles == 16 <= stats.cycles


def test_hand_case_double_buffered(arch_files):
    # Double-buffered RF: step 1's 4 inputs load during step 0 (2 ≤ 8 cycles) and step 1's
    # drain overlaps step 1's compute; only the first load and the last drain show.
    arch = with_levels(accelsim.load_arch(arch_files / "a2.yaml"), RF={"double_buffered": True})
    stats, _ = run_both(arch, GEMM, GEMM_MAPPING)
    assert (stats.cycles, stats.stall_cycles["DRAM"]) == (6 + 8 + 8 + 2, 8)


def test_hand_case_systolic_skew_and_unlimited_bandwidth(arch_files):
    arch = with_levels(accelsim.load_arch(arch_files / "a2.yaml"),
                       DRAM={"read_bw_words": None, "write_bw_words": None})
    stats, counts = run_both(arch, GEMM, GEMM_MAPPING)
    assert stats.cycles == counts.compute_cycles == 16
    systolic = with_levels(arch, PE={"interconnect": "systolic"})
    stats, _ = run_both(systolic, GEMM, GEMM_MAPPING)
    assert (stats.skew_cycles, stats.cycles) == (2 * (4 + 2 - 2), 16 + 8)


def test_systolic_skew_is_paid_once_per_stream_as_in_scalesims_per_fold_formula(arch_files):
    # A weight-stationary systolic array (y 2 rows reduce k, x 4 columns produce n) whose PE
    # registers hold the weights: steps that only move m (the inputs' rows streaming past) keep the
    # same weights, so the wavefront fills and drains once per weight fold. 2 × 2 folds of T = 3
    # rows each; SCALE-Sim v3 charges 2·Sr + Sc + T − 2 cycles per weight-stationary fold, of which
    # Sr load the weights (not simulated here, docs/cycle-model.md): T + Sr + Sc − 2 = 7 per fold.
    arch = with_levels(accelsim.load_arch(arch_files / "a2.yaml"),
                       DRAM={"read_bw_words": None, "write_bw_words": None},
                       PE={"interconnect": "systolic"}, RF={"keeps": frozenset({"weights"})})
    gemm = parse_einsum("O[m,n] += I[m,k] * W[k,n]", {"m": 3, "n": 8, "k": 4})
    mapping = Mapping((LevelMapping("DRAM", (Loop("n", 2), Loop("k", 2), Loop("m", 3))),
                       LevelMapping("PE", (Loop("n", 4, "x"), Loop("k", 2, "y"))), LevelMapping("RF")))
    stats, _ = run_both(arch, gemm, mapping)
    folds, rows, cols, T = 4, 2, 4, 3
    assert stats.steps == folds * T and stats.skew_cycles == folds * (rows + cols - 2)
    assert stats.cycles == folds * (2 * rows + cols + T - 2) - folds * rows
    # With the PEs holding outputs instead, which move every step, every step is a stream of its own.
    bare = with_levels(arch, RF={"keeps": frozenset({"outputs"})})
    stats, _ = run_both(bare, gemm, mapping)
    assert stats.skew_cycles == folds * T * (rows + cols - 2)


def test_a_latched_operand_is_read_once_per_change(arch_files):
    # RF loops k (4), n (2) with n innermost: the inputs I[m,k] do not depend on n, so a MAC that
    # latches its input reads it once per k, 4 times a step instead of 8, over 2 steps (one PE:
    # the fan-out is unused) — and the analytical counts agree.
    mapping = Mapping((LevelMapping("DRAM", (Loop("m", 2),)), LevelMapping("PE"),
                       LevelMapping("RF", (Loop("k", 4), Loop("n", 2)))))
    arch = accelsim.load_arch(arch_files / "a2.yaml")
    plain, plain_counts = run_both(arch, GEMM, mapping)
    latched = with_levels(arch, MAC={"operand_latch": frozenset({"inputs"})})
    stats, counts = run_both(latched, GEMM, mapping)
    rf = lambda c: next(l for l in c.levels if l.name == "RF").tensors  # noqa: E731
    assert rf(plain_counts)["inputs"].reads == 16 and rf(counts)["inputs"].reads == 8
    assert stats.traffic["RF"]["inputs"].reads == 8 and plain.traffic["RF"]["inputs"].reads == 16
    assert rf(counts)["weights"].reads == rf(plain_counts)["weights"].reads  # not latched: unchanged


def test_full_walk_where_timeloop_extrapolation_diverges(arch_files):
    # tests/kernels/test_reuse.py: stride-2 windows of 3 taps with the tap loop inside the
    # output loop. Timeloop's extrapolation (the analytical counts) loads 96 inputs into
    # the RF; the full walk loads 68. The cycle model walks in full.
    e = parse_einsum("O[k,p] += I[c,2*p+r] * W[c,k,r]", {"c": 4, "k": 4, "r": 3, "p": 8})
    mapping = Mapping((LevelMapping("DRAM", (Loop("p", 8), Loop("r", 3), Loop("k", 4))), LevelMapping("PE"),
                       LevelMapping("RF", (Loop("c", 4),))))
    stats, counts = run_both(accelsim.load_arch(arch_files / "a2.yaml"), e, mapping)
    rf = next(l for l in counts.levels if l.name == "RF")
    assert rf.tensors["inputs"].fills == 96
    assert stats.traffic["RF"]["inputs"].fills == 68


def test_multi_term_output_index_is_refused(arch_files):
    e = parse_einsum("O[p+r] += I[p] * W[r]", {"p": 4, "r": 2})
    mapping = Mapping((LevelMapping("DRAM", (Loop("p", 4), Loop("r", 2))), LevelMapping("PE"), LevelMapping("RF")))
    arch = accelsim.load_arch(arch_files / "a2.yaml")
    with pytest.raises(SpecError, match="one dimension"):
        simulate_cycles(arch, e, lower(arch, e, mapping))


# ------------------------------------------------------------------ random layers, mappings, archs

EINSUMS = ["O[k,p] += I[c,p+r] * W[c,k,r]", "O[k,p] += I[c,2*p+r] * W[c,k,r]",
           "O[m,n] += I[m,k] * W[k,n]", "O[c,p] += I[c,p+r]"]
BANDWIDTHS = [None, None, 0.5, 1.0, 2.0, 3.0, 8.0]


def divisors(n):
    return [d for d in range(1, n + 1) if n % d == 0]


@st.composite
def random_mapping(draw, arch, einsum):
    """Each dim split over every non-compute level; spatial factors within x and y."""
    bounds = dict(einsum.bound)
    levels = arch.levels[:-1]
    loops = {l.name: [] for l in levels}
    used = {(l.name, a): 1 for l in levels if isinstance(l, Spatial) for a in "xy"}
    for dim in draw(st.permutations(list(bounds))):
        remaining = bounds[dim]
        for level in reversed(levels[1:]):
            f = draw(st.sampled_from(divisors(remaining)))
            if isinstance(level, Spatial):
                axis = draw(st.sampled_from("xy"))
                if f > 1 and used[(level.name, axis)] * f <= (level.x if axis == "x" else level.y):
                    used[(level.name, axis)] *= f
                    loops[level.name].append(Loop(dim, f, axis))
                    remaining //= f
            elif f > 1:
                loops[level.name].append(Loop(dim, f))
                remaining //= f
        if remaining > 1:
            loops[levels[0].name].append(Loop(dim, remaining))
    mapped = []
    for i, level in enumerate(levels):
        ordered = tuple(draw(st.permutations(loops[level.name])))
        bypass = frozenset()
        if isinstance(level, Memory) and i > 0:
            bypass = frozenset(draw(st.sets(st.sampled_from(sorted(level.keeps)))))
        mapped.append(LevelMapping(level.name, ordered, bypass))
    return Mapping(tuple(mapped))


LATCHES = [(), ("weights",), ("inputs",), ("inputs", "weights")]


@st.composite
def random_case(draw, base_archs):
    arch = draw(st.sampled_from(base_archs))
    changes = {}
    for level in arch.levels:
        if isinstance(level, Memory):
            changes[level.name] = {"read_bw_words": draw(st.sampled_from(BANDWIDTHS)),
                                   "write_bw_words": draw(st.sampled_from(BANDWIDTHS)),
                                   "shared_bw_words": draw(st.sampled_from(BANDWIDTHS)),
                                   "double_buffered": draw(st.booleans()),
                                   # ports a block of 1-4 words wide (per-transfer rounding: whole blocks)
                                   "block_words": draw(st.sampled_from([1, 1, 2, 4]))}
        elif isinstance(level, Spatial):
            changes[level.name] = {"interconnect": draw(st.sampled_from(["broadcast", "systolic"])),
                                   "multicast": draw(st.booleans()), "reduction": draw(st.booleans())}
        else:
            changes[level.name] = {"operand_latch": frozenset(draw(st.sampled_from(LATCHES))),
                                   "psum_bits": draw(st.sampled_from([None, None, 16, 24]))}
    arch = with_levels(arch, **changes)
    text = draw(st.sampled_from(EINSUMS))
    dims = sorted({c for c in text if c.isalpha() and c.islower()} - {"o"})
    e = parse_einsum(text, {d: draw(st.sampled_from([1, 2, 3, 4, 6])) for d in dims})
    return arch, e, draw(random_mapping(arch, e))


@pytest.fixture(scope="module")
def base_archs(arch_files):
    return [accelsim.load_arch(arch_files / "a2.yaml"), accelsim.load_arch(arch_files / "a5.yaml")]


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_kernel_matches_reference_on_random_cases(base_archs, data):
    arch, einsum, mapping = data.draw(random_case(base_archs))
    stats, counts = run_both(arch, einsum, mapping)
    assert stats.cycles >= stats.traffic_bound(arch) >= counts.compute_cycles


def test_a_walk_beyond_the_bound_is_refused_with_its_cost(base_archs, monkeypatch):
    from accelsim.model import cycle
    arch = base_archs[0]
    e = parse_einsum("O[m,n] += I[m,k] * W[k,n]", {"m": 64, "n": 2, "k": 4})
    mapping = Mapping((LevelMapping("DRAM", (Loop("m", 64),)), LevelMapping("PE"),
                       LevelMapping("RF", (Loop("n", 2), Loop("k", 4)))))
    nest = lower(arch, e, mapping)
    assert simulate_cycles(arch, e, nest).steps == 64
    monkeypatch.setattr(cycle, "MAX_WALK_UNITS", 63)  # a bound this walk exceeds
    with pytest.raises(SpecError, match="would walk 64 tile steps"):
        simulate_cycles(arch, e, nest)


def test_a_long_walk_in_chunks_logs_progress_and_equals_one_walk(base_archs, monkeypatch, caplog):
    import logging
    from accelsim.model import cycle
    arch = base_archs[0]
    e = parse_einsum("O[m,n] += I[m,k] * W[k,n]", {"m": 64, "n": 2, "k": 4})
    mapping = Mapping((LevelMapping("DRAM", (Loop("m", 64),)), LevelMapping("PE"),
                       LevelMapping("RF", (Loop("n", 2), Loop("k", 4)))))
    nest = lower(arch, e, mapping)
    whole = simulate_cycles(arch, e, nest)
    # Pretend the walk is slow: progress is logged, and the steps are walked a few at a time.
    monkeypatch.setattr(cycle, "WALK_UNITS_PER_S", 100)
    monkeypatch.setattr(cycle, "PROGRESS_AFTER_S", 0)
    monkeypatch.setattr(cycle, "MAX_WALK_UNITS", 10**9)
    with caplog.at_level(logging.INFO, logger="accelsim.cycle"):
        chunked = simulate_cycles(arch, e, nest)
    assert chunked == whole
    assert any("64 of 64 tile steps (100 %)" in r.getMessage() for r in caplog.records)
