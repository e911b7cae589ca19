"""The counting core's jitted kernel (counting/nest_kernel.py) — which the analytical model and the
mapper run — against its slow references: naive_analytical.analyze + `layer_energy` (which walk
2^K tile visits with explicit point sets) on random layers and
mappings over two architectures and both counting conventions, and its parts (axis overlaps,
reuse classes) against their definitions."""
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import accelsim
from accelsim.energy.activity import layer_activity
from accelsim.energy.model import action_energies, layer_energy
from accelsim.ir.workload import DENSE, Density
from accelsim.errors import MappingError
from accelsim.mapping.lower import lower
from accelsim.mapping.mapping import check_mapping
from accelsim.model import analytical
from accelsim.counting.records import OK, OVER_CAPACITY
from accelsim.model.packed import evaluate_packed, pack_problem
from conftest import ARCH_DIR, WORKLOAD_DIR
from naive_analytical import analyze, timed_in_blocks
from strategies import draw_conv1d, draw_mapping, draw_nested_mapping, draw_small_einsum

# Small buffers (some random mappings overflow them), finite bandwidths, multicast but no spatial
# reduction, leakage (also below the fan-out, so utilized instances matter), RF clusters: every
# term of the kernel's counts, cycles and energy is exercised, under either counting convention.
ARCH_TEXT = """
name: t
counting: {counting}
technology: {node: 45nm, energy_table: horowitz_45nm}
operating_point: {voltage: 0.9V, frequency: 1GHz}
levels:
  - memory: {name: DRAM, class: dram, size: unlimited, word_bits: 8, width_bits: 64, keeps: [weights, inputs, outputs],
             read_bandwidth: 2 words/cycle, leakage_power: 1mW}
  - memory: {name: GLB, class: sram, size: 2KiB, word_bits: 8, width_bits: 32, keeps: [weights, inputs, outputs],
             write_bandwidth: 4 words/cycle, shared_bandwidth: 5 words/cycle, leakage_power: 10uW}
  - spatial: {name: PE, x: 8, reduction: false}
  - memory: {name: RF, class: regfile, size: 160b, word_bits: 8, keeps: [weights, inputs, outputs],
             leakage_power: 1uW, cluster: 4, width_bits: 32}
  - compute: {name: MAC, format: int8}
"""

# Two fan-outs on both axes, one directly under DRAM and one under the GLB, both reducing partial
# sums, multicast on or off per fan-out (drawn per example): merged fills and updates at two
# depths, a top level feeding a fan-out, and mappings whose dims sit in several loops at a level
# and in spatial loops above and below their temporal ones. DRAM blocks of 6 words (not a power
# of two), the GLB's of 4. The MACs latch their weights (operand_latch); partial sums take 20 bits, three
# words at every level (psum_bits).
TWO_FANOUTS_TEXT = """
name: t2
counting: {counting}
technology: {node: 45nm, energy_table: horowitz_45nm}
operating_point: {voltage: 0.9V, frequency: 1GHz}
levels:
  - memory: {name: DRAM, class: dram, size: unlimited, word_bits: 8, width_bits: 48, keeps: [weights, inputs, outputs],
             read_bandwidth: 2 words/cycle, write_bandwidth: 1 words/cycle, leakage_power: 1mW}
  - spatial: {name: CL, x: 2, y: 2, multicast: {mc1}, reduction: true}
  - memory: {name: GLB, class: sram, size: 1KiB, word_bits: 8, width_bits: 32, keeps: [weights, inputs, outputs],
             read_bandwidth: 4 words/cycle, write_bandwidth: 2 words/cycle, leakage_power: 10uW}
  - spatial: {name: PE, x: 4, y: 2, multicast: {mc2}, reduction: true}
  - memory: {name: RF, class: regfile, size: 128b, word_bits: 8, keeps: [weights, inputs, outputs],
             leakage_power: 1uW, cluster: 2, width_bits: 16, switching_share: 0.5}
  - compute: {name: MAC, format: int8, switching_share: 0.7, reduction_tree_share: 0.4, operand_latch: [weights],
              psum_bits: 20}
"""


def _without_blocks(counts):
    """The counts without the kernel's block accesses (the Python walk counts elements only)."""
    from dataclasses import replace
    return replace(counts, levels=tuple(
        replace(l, tensors={r: replace(c, blocks=None) for r, c in l.tensors.items()}) for l in counts.levels))


def _kernel_equals_python(arch, einsum, mapping, density=DENSE):
    nest = lower(arch, einsum, mapping)
    energies = action_energies(arch)
    got = evaluate_packed(pack_problem(arch, einsum, energies, density), nest)
    try:
        counts = analyze(arch, einsum, nest)
    except MappingError as exc:
        assert got.status == OVER_CAPACITY
        with pytest.raises(MappingError) as model_exc:
            analytical.analyze(arch, einsum, nest)
        assert str(model_exc.value) == str(exc)
        return
    assert got.status == OK
    model_counts = analytical.analyze(arch, einsum, nest)
    counts = timed_in_blocks(arch, counts, model_counts)  # port time: the kernel's blocks, walked elsewhere
    assert got.cycles == counts.cycles
    assert _without_blocks(model_counts) == counts  # the model's wrapper reads the kernel right
    # priced from the model's counts: they carry the kernel's block accesses (per-transfer rounding,
    # checked against a walk in test_block_rounding.py), which the walk here does not count
    energy = layer_energy(arch, model_counts, energies, counts.cycles / arch.frequency_hz, counts.cycles,
                          layer_activity(arch, einsum, mapping, density))
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


@pytest.fixture(scope="module", params=["accelsim", "timeloop"])
def arch(arch_from_text, request):
    return arch_from_text(ARCH_TEXT.replace("{counting}", request.param))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=layer_and_mapping())
def test_kernel_matches_analyze_on_random_mappings(arch, case):
    einsum, mapping = case
    _kernel_equals_python(arch, einsum, mapping)


@pytest.fixture(scope="module", params=["accelsim", "timeloop"])
def two_fanout_archs(arch_from_text, request):
    """The four multicast variants of TWO_FANOUTS_TEXT under one counting convention."""
    def text(mc1, mc2):
        return (TWO_FANOUTS_TEXT.replace("{counting}", request.param)
                .replace("{mc1}", str(mc1).lower()).replace("{mc2}", str(mc2).lower()))
    return {(mc1, mc2): arch_from_text(text(mc1, mc2)) for mc1 in (False, True) for mc2 in (False, True)}


@st.composite
def any_layer_and_mapping(draw, arch):
    einsum = draw_small_einsum(draw)
    return einsum, draw_nested_mapping(draw, arch, einsum)


@settings(max_examples=150, deadline=None)
@given(data=st.data(), multicast=st.tuples(st.booleans(), st.booleans()),
       density=st.one_of(st.just(DENSE), st.builds(Density, st.sampled_from([0.3, 0.7, 1.0]),
                                                   st.sampled_from([0.5, 1.0]))))
def test_kernel_matches_analyze_under_two_reducing_fanouts(two_fanout_archs, data, multicast, density):
    """…with data-dependent energy: the MACs' factor follows the held operand and the reduction
    fan-in the loops give (a data-dependent MAC and RF here)."""
    arch = two_fanout_archs[multicast]
    einsum, mapping = data.draw(any_layer_and_mapping(arch), label="layer and mapping")
    check_mapping(arch, einsum, mapping)  # the strategy draws legal mappings only
    _kernel_equals_python(arch, einsum, mapping, density)


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


@settings(max_examples=400, deadline=None)
@given(terms=st.lists(st.tuples(st.integers(1, 12), st.integers(2, 5)), max_size=3), shift=st.integers(-60, 60))
def test_axis_count_equals_the_point_sets_overlap(terms, shift):
    """The closed-form overlap of an axis point set (interval, blocks with holes, or point by
    point) against explicit sets: S = {Σ c·x, 0 ≤ x < e}, |S ∩ (S + shift)|."""
    import numpy as np
    from accelsim.counting.point_sets import axis_count as _axis_count, axis_shape as _axis_shape
    points = {0}
    for c, e in terms:
        points = {p + c * x for p in points for x in range(e)}
    tc = np.zeros((1, 4), np.int64)
    te = np.zeros((1, 4), np.int64)
    for q, (c, e) in enumerate(terms):
        tc[0, q], te[0, q] = c, e
    m = np.array([len(terms)], np.int64)
    shape = np.zeros((1, 4), np.int64)
    span = 1 + sum(c * (e - 1) for c, e in terms)
    occ, base = np.zeros(span + 1, np.bool_), np.zeros(span + 1, np.bool_)
    _axis_shape(tc, te, 0, len(terms), shape)
    assert _axis_count(tc, te, 0, m, shape, shift, occ, base) == len(points & {p + shift for p in points})


@settings(max_examples=500, deadline=None)
@given(loops=st.lists(st.tuples(st.integers(-1, 1), st.integers(1, 4), st.integers(2, 3)), min_size=1, max_size=7))
def test_reuse_classes_equal_the_prefix_vectors(loops):
    """_reuse_classes' scan against the definition: R_k = Σ_{j<k} move_j + 2·move_k as vectors,
    reuse_weight[k] = Σ over k' ≤ k with R_k' = R_k of (b_k' − 1)·Π_{j<k'} b_j. Small moves make
    equal classes (steps that keep reusing after an outer loop steps) frequent."""
    import numpy as np
    from accelsim.counting.nest_kernel import _reuse_classes
    from accelsim.counting.records import INDEX, Nest, nest_scratch
    n = len(loops)
    axis_of = np.array([[a for a, _, _ in loops]], np.int64)  # loop k runs over dim k
    coef = np.ones((1, n), np.int64)
    bound = np.array([b for _, _, b in loops], np.int64)
    nest = Nest(np.arange(n, dtype=INDEX), bound, np.zeros(n, INDEX), np.zeros(n, np.bool_), np.full(n, -1),
                n, np.ones((1, 1), np.bool_))
    scratch = nest_scratch(n, 2, 1, n, 1, 1)
    scratch.stride[:] = [m for _, m, _ in loops]
    assert _reuse_classes(axis_of, coef, nest, scratch) == n
    weight = scratch.reuse_weight
    moves = [np.eye(2, dtype=np.int64)[a] * m if a >= 0 else np.zeros(2, np.int64) for a, m, _ in loops]
    r = [sum(moves[:k], np.zeros(2, np.int64)) + 2 * moves[k] for k in range(n)]
    for k in range(n):
        want = sum((bound[q] - 1) * int(np.prod(bound[:q])) for q in range(k + 1) if (r[q] == r[k]).all())
        assert weight[0, k] == want


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), seed=st.integers(0, 2**31 - 1))
def test_kernel_reusing_its_scratch_along_a_search_walk(two_fanout_archs, data, seed):
    """evaluate_nest keeps tiles from call to call in its scratch (the rows of dim ranges it saw
    last): along a hill-climb walk (the mapper's own moves, undone or not at random), each
    evaluation with the shared scratch equals one with a fresh scratch. The mapspace is the ragged
    one (the search counts its ragged points as their padded loops), with the row moves."""
    from accelsim.search import mapper, search_kernels as S
    from accelsim.search.constraints import NO_CONSTRAINTS
    from accelsim.search.mapspace import build_mapspace
    from accelsim.search.rng import seed_rng, uniform
    from accelsim.counting.nest_kernel import evaluate_nest
    from accelsim.counting.records import Nest, nest_loops
    arch = two_fanout_archs[(True, False)]
    einsum = draw_small_einsum(data.draw)
    space = build_mapspace(arch, einsum, NO_CONSTRAINTS, ragged=True)
    problem = pack_problem(arch, einsum, action_energies(arch))
    arrays, state = mapper._space_arrays(space, problem), mapper.search_state(space)
    fac, perm, keeps, undo, saved, rng = state.fac, state.perm, state.keeps, state.undo, state.saved, state.rng
    max_loops = space.n_slots * len(space.dims)
    loops = nest_loops(max_loops)
    shared = mapper._outputs_and_scratch(space, problem, einsum, max_loops)  # point sets sized for padded loops
    seed_rng(rng, seed)
    S._random_factors(arrays, fac, rng)
    S._random_orders_and_bypass(arrays, perm, keeps, rng)
    for step in range(200):
        if S._move(arrays, space.fixed, space.allowed, fac, perm, keeps, undo, saved, rng, mapper.RAGGED_ROW_SHARE) \
                and uniform(rng) < 0.5:
            S._undo(arrays, fac, perm, keeps, undo, saved)
        if not S._fits(fac, arrays.slot_axis, arrays.slot_size):
            continue
        n = S._lower(fac, perm, arrays.slot_level, arrays.slot_axis, arrays.slot_mem, *loops)
        fresh = mapper._outputs_and_scratch(space, problem, einsum, max_loops)
        want = evaluate_nest(Nest(*loops, n, keeps), problem.record(), *fresh)
        got = evaluate_nest(Nest(*loops, n, keeps), problem.record(), *shared)
        assert got == want, step
        if want[0] == OK:
            assert all((a == b).all() for a, b in zip(shared[0], fresh[0]))  # every output


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), multicast=st.tuples(st.booleans(), st.booleans()))
def test_one_dim_shortcuts_equal_the_point_sets(two_fanout_archs, data, multicast):
    """Tiles, merged sets and distinct outputs of tensors whose axes each index one dim are
    products of loop bounds in the kernel; the same nests through the general point sets (the
    problem's one_dim flags off) give the same counts, cycles and energy."""
    from dataclasses import replace
    import numpy as np
    from accelsim.counting import nest_kernel as K
    from accelsim.model.packed import nest_record, outputs_and_scratch
    arch = two_fanout_archs[multicast]
    einsum, mapping = data.draw(any_layer_and_mapping(arch), label="layer and mapping")
    nest = lower(arch, einsum, mapping)
    problem = pack_problem(arch, einsum, action_energies(arch))
    assert problem.one_dim.any()  # the shortcut is taken (the outputs at least)
    record = nest_record(nest)
    fast, general = (outputs_and_scratch(problem, max(1, nest.n_loops)) for _ in range(2))
    want = K.evaluate_nest(record, problem.record(), *fast)
    no_shortcut = replace(problem, one_dim=np.zeros_like(problem.one_dim))
    got = K.evaluate_nest(record, no_shortcut.record(), *general)
    assert got == want
    if want[0] == OK:
        assert all((a == b).all() for a, b in zip(general[0], fast[0]))  # every output
