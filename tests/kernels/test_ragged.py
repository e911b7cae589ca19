"""Ragged nests (counting/ragged_kernel.py): loop bounds that multiply to more than their dim.

On dense nests the ragged kernel must equal the dense one (nest_kernel) in every output; on
ragged nests its busiest-instance counts and totals must equal a walk over every iteration with
truncated point sets (naive_ragged.py)."""
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from accelsim.counting.records import OK
from accelsim.energy.model import action_energies
from accelsim.mapping.lower import lower
from accelsim.model.packed import evaluate_packed, pack_problem
from strategies import draw_nested_mapping
from test_nest_kernel import any_layer_and_mapping, two_fanout_archs as _shared_fixture

two_fanout_archs = _shared_fixture  # test_nest_kernel's archs (a module fixture), shared


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), multicast=st.tuples(st.booleans(), st.booleans()))
def test_ragged_kernel_equals_the_dense_kernel_on_dense_nests(two_fanout_archs, data, multicast):
    arch = two_fanout_archs[multicast]
    einsum, mapping = data.draw(any_layer_and_mapping(arch), label="layer and mapping")
    nest = lower(arch, einsum, mapping)
    problem = pack_problem(arch, einsum, action_energies(arch))
    want = evaluate_packed(problem, nest, ragged=False)
    got = evaluate_packed(problem, nest, ragged=True)
    assert got.status == want.status
    if want.status != OK:
        return
    assert got.cycles == want.cycles
    assert got.steps == want.steps
    for name in ("counts", "instances", "charged", "level_cycles", "output_words", "totals"):
        assert (getattr(got, name) == getattr(want, name)).all(), name
    assert (got.blocks == want.blocks * want.instances[:, None, None]).all()  # every instance's, per instance
    assert got.energy_pj == pytest.approx(want.energy_pj, rel=1e-12)


def ragged_dims(einsum):
    """Dims the kernel may count ragged: any but those of outputs with a sliding window (none here)."""
    out = einsum.tensor("outputs")
    return [d for d in einsum.dims if d not in out.dims or all(len(axis) == 1 for axis in out.axes)]


def draw_ragged(draw, arch):
    """A random layer and legal dense mapping (draw_nested_mapping), then, per dim the kernel may
    count ragged and that has two loops or more, at random: its size shrunk below the product of
    its loops, or an inner loop's bound grown (each to a value that keeps every loop's last
    iteration inside the dim, and spatial loops inside their fan-out)."""
    from accelsim.ir.einsum import parse_einsum
    kind = draw(st.sampled_from(["gemm", "conv", "any"]))
    if kind == "gemm":  # large enough for dims split over several loops
        einsum = parse_einsum("O[m,n] += I[m,k] * W[k,n]", {d: draw(st.sampled_from([4, 6, 8, 12, 16])) for d in "mnk"})
        mapping = draw_nested_mapping(draw, arch, einsum)
    elif kind == "conv":  # sliding windows (stride 1 or 2, dilation 1 or 2) over planes split over several loops
        stride, dilation = draw(st.sampled_from(["", "2*"])), draw(st.sampled_from(["", "", "2*"]))
        einsum = parse_einsum(f"O[k,p] += I[c,{stride}p+{dilation}r] * W[c,k,r]",
                              {"c": draw(st.sampled_from([1, 2, 4, 6])), "k": draw(st.sampled_from([2, 4, 6])),
                               "r": draw(st.sampled_from([1, 2, 3, 4])), "p": draw(st.sampled_from([4, 6, 8, 12]))})
        mapping = draw_nested_mapping(draw, arch, einsum)
    else:
        einsum, mapping = draw(any_layer_and_mapping(arch))
    return raggedize(draw, arch, einsum, mapping, ragged_dims(einsum), ["shrink", "grow", "grow", "keep"])


def raggedize(draw, arch, einsum, mapping, dims, modes=("shrink", "grow", "keep")):
    """Per dim of `dims` with two loops or more, at random (`modes`): its size shrunk below the
    product of its loops, or an inner loop's bound grown (as far as every loop's last iteration
    stays inside the dim and spatial loops inside their fan-out)."""
    from dataclasses import replace
    from accelsim.mapping.mapping import MappingError, check_mapping
    sizes = dict(einsum.bound)
    levels = [list(m.loops) for m in mapping.levels]
    for d in dims:
        where = [(i, q) for i, loops in enumerate(levels) for q, l in enumerate(loops) if l.dim == d and l.bound > 1]
        mode = draw(st.sampled_from(list(modes)))
        if len(where) < 2 or mode == "keep":
            continue
        if mode == "grow":
            i, q = where[draw(st.integers(1, len(where) - 1))]  # not the outermost
            levels[i][q] = replace(levels[i][q], bound=levels[i][q].bound + draw(st.integers(1, 3)))
            trial = replace(mapping, levels=tuple(replace(m, loops=tuple(l)) for m, l in zip(mapping.levels, levels)))
            try:
                check_mapping(arch, einsum, trial)
            except MappingError:  # past the dim or the fan-out: undo
                levels[i] = list(mapping.levels[i].loops)
            continue
        stride, low = 1, 1
        for i, q in reversed(where):
            low = max(low, 1 + (levels[i][q].bound - 1) * stride)
            stride *= levels[i][q].bound
        if low < sizes[d]:
            sizes[d] = draw(st.integers(low, sizes[d] - 1))
    mapping = replace(mapping, levels=tuple(replace(m, loops=tuple(l)) for m, l in zip(mapping.levels, levels)))
    einsum = replace(einsum, bounds=tuple(sizes[d] for d in einsum.dims))
    check_mapping(arch, einsum, mapping)
    return einsum, mapping


def _merged_on_ragged_with_holes(arch, einsum, nest, convention):
    """A fan-out that merges a tensor whose axes mix dims on one of its ragged dims, with a loop on
    that dim below it (a temporal one, or a fan-out that does not merge it): the one case the
    ragged kernel refuses (a truncated set with holes)."""
    covered = {d: 1 for d in einsum.dims}
    for d, b in zip(nest.loop_dim, nest.loop_bound):
        covered[einsum.dims[d]] *= int(b)

    def merges(j, t):
        return nest.loop_spatial[j] and convention.merges(arch, einsum, int(nest.loop_level[j]), t.role,
                                                          einsum.dims[nest.loop_dim[j]])
    return any(merges(j, t) and covered[d := einsum.dims[nest.loop_dim[j]]] != einsum.bound[d] and d in t.dims
               and any(nest.loop_dim[j2] == nest.loop_dim[j] and nest.loop_bound[j2] > 1 and not merges(j2, t)
                       for j2 in range(j + 1, nest.n_loops))
               for j in range(nest.n_loops) for t in einsum.tensors if any(len(a) > 1 for a in t.axes))


def _equals_the_walk(two_fanout_archs, data, multicast):
    from accelsim.counting.conventions import convention_of
    from accelsim.counting.ragged_kernel import RAGGED_UNSUPPORTED
    from accelsim.counting.records import OVER_CAPACITY, TILE
    from naive_ragged import ragged_counts
    arch = two_fanout_archs[multicast]
    einsum, mapping = draw_ragged(data.draw, arch)
    nest = lower(arch, einsum, mapping)
    problem = pack_problem(arch, einsum, action_energies(arch))
    got = evaluate_packed(problem, nest, ragged=True)
    convention = convention_of(arch)
    want = ragged_counts(arch, einsum, nest, lambda l, r, d: convention.merges(arch, einsum, l, r, d),
                         convention.holds_operands(nest))
    assert got.steps == want["steps"]
    for i, n in want["instances"].items():
        assert got.instances[i] == n, i
    if got.status == OVER_CAPACITY:
        return  # (the capacity check is the dense kernel's, on the busiest instance's tiles)
    if got.status == RAGGED_UNSUPPORTED:  # only a merged fan-out on a ragged dim that leaves holes
        assert _merged_on_ragged_with_holes(arch, einsum, nest, convention)
        return
    assert got.status == OK
    for key, value in want.items():
        if not isinstance(key, tuple):
            continue
        (i, role), (busiest, totals) = key, value
        t = einsum.roles.index(role)
        assert tuple(got.counts[i, t]) == busiest, (arch.levels[i].name, role, "busiest")
        assert tuple(got.totals[i, t]) == totals, (arch.levels[i].name, role, "totals")
        assert got.counts[i, t, TILE] == busiest[3]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), multicast=st.tuples(st.booleans(), st.booleans()))
def test_ragged_kernel_equals_the_walk(two_fanout_archs, data, multicast):
    _equals_the_walk(two_fanout_archs, data, multicast)


@pytest.mark.slow
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), multicast=st.tuples(st.booleans(), st.booleans()))
def test_ragged_kernel_equals_the_walk_many(two_fanout_archs, data, multicast):
    _equals_the_walk(two_fanout_archs, data, multicast)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), multicast=st.tuples(st.booleans(), st.booleans()))
def test_ragged_is_never_worse_than_padded(two_fanout_archs, data, multicast):
    """The same mapping on the layer padded to its loops' product (hand padding): the ragged nest
    runs a subset of its iterations with tiles no larger, so no count, cycle or pJ is higher."""
    from dataclasses import replace
    from accelsim.counting.ragged_kernel import RAGGED_UNSUPPORTED
    from accelsim.counting.records import OVER_CAPACITY
    arch = two_fanout_archs[multicast]
    einsum, mapping = draw_ragged(data.draw, arch)
    padded = replace(einsum, bounds=tuple(mapping.factor(d) for d in einsum.dims))
    energies = action_energies(arch)
    got = evaluate_packed(pack_problem(arch, einsum, energies), lower(arch, einsum, mapping))
    pad = evaluate_packed(pack_problem(arch, padded, energies), lower(arch, padded, mapping))
    if pad.status == OVER_CAPACITY or got.status == RAGGED_UNSUPPORTED:
        return
    assert got.status == OK
    assert got.cycles <= pad.cycles and got.steps[0] <= pad.steps[0] and got.steps[1] <= pad.steps[1]
    assert (got.counts <= pad.counts).all() and (got.totals <= pad.totals).all()
    assert got.energy_pj <= pad.energy_pj * (1 + 1e-12)


@st.composite
def windows_merged_over_a_ragged_tap_dim(draw, arch):
    """A 1-D convolution (stride and dilation 1 or 2) whose tap dim r is split over a temporal loop
    at DRAM, a fan-out (CL or PE, x) and a temporal loop in RF, with r shrunk below the loops'
    product: the fan-out multicasts the sliding-window inputs over a ragged dim (pool5's case)."""
    from accelsim.ir.einsum import parse_einsum
    from accelsim.mapping.mapping import LevelMapping, Loop, Mapping
    stride, dilation = draw(st.sampled_from(["", "2*"])), draw(st.sampled_from(["", "2*"]))
    where = draw(st.sampled_from(["CL", "PE"]))
    fan = draw(st.integers(2, 2 if where == "CL" else 4))
    inner, outer = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    low = (outer - 1) * fan * inner + (fan - 1) * inner + 1  # every loop's last iteration inside r
    r = draw(st.integers(low, outer * fan * inner - 1 if outer * fan * inner > low else low))
    p, c, k = draw(st.integers(1, 5)), draw(st.integers(1, 2)), draw(st.integers(1, 2))
    einsum = parse_einsum(f"O[k,p] += I[c,{stride}p+{dilation}r] * W[c,k,r]", {"c": c, "k": k, "p": p, "r": r})
    loops = {"DRAM": [Loop("r", outer), Loop("c", c)], "CL": [], "GLB": [Loop("p", p)], "PE": [Loop("k", k, "y")],
             "RF": [Loop("r", inner)]}
    loops[where] = loops[where] + [Loop("r", fan, "x")]
    return einsum, Mapping(tuple(LevelMapping(level.name, tuple(loops.get(level.name, ())))
                                 for level in arch.levels[:-1]))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), multicast=st.tuples(st.booleans(), st.booleans()))
def test_a_window_merged_over_a_ragged_dim_equals_the_walk(two_fanout_archs, data, multicast):
    """Counted (not refused) and equal to the walk: the merged fan-out's positions and the child's
    range make one interval on r, whose extent classes _moved counts."""
    from accelsim.counting.conventions import convention_of
    from accelsim.counting.records import OVER_CAPACITY
    from naive_ragged import ragged_counts
    arch = two_fanout_archs[multicast]
    einsum, mapping = data.draw(windows_merged_over_a_ragged_tap_dim(arch))
    nest = lower(arch, einsum, mapping)
    got = evaluate_packed(pack_problem(arch, einsum, action_energies(arch)), nest, ragged=True)
    if got.status == OVER_CAPACITY:
        return
    assert got.status == OK
    convention = convention_of(arch)
    want = ragged_counts(arch, einsum, nest, lambda l, r, d: convention.merges(arch, einsum, l, r, d),
                         convention.holds_operands(nest))
    for (i, role), (busiest, totals) in ((k, v) for k, v in want.items() if isinstance(k, tuple)):
        t = einsum.roles.index(role)
        assert tuple(got.counts[i, t]) == busiest, (arch.levels[i].name, role, "busiest")
        assert tuple(got.totals[i, t]) == totals, (arch.levels[i].name, role, "totals")
