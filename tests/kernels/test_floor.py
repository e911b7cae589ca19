"""A nest's floor (counting/floor.py) against the counting kernels: on random dense and ragged nests
of archs with a wide, slow DRAM (6-word blocks, 2 and 1 words a cycle, leakage), under the layer
and the per-transfer block rule, the floor's temporal steps equal the count's, and its cycles and
energy never exceed the count's; so for the floor before mapping (spread_floor, given the nest's
fan-out reach per dim and a wider option), whose steps equal the count's on a dense nest. The
layer's footprint equals the touched elements walked."""
import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from numba import njit

from accelsim.counting.floor import footprint, nest_floor, spread_floor, spread_steps, temporal_steps
from accelsim.counting.records import OK
from accelsim.energy.model import action_energies
from accelsim.ir.einsum import parse_einsum
from accelsim.mapping.lower import lower
from accelsim.model.packed import evaluate_packed, nest_record, pack_problem
from test_block_rounding import two_fanout_archs as transfer_archs  # noqa: F401 (a fixture)
from test_nest_kernel import any_layer_and_mapping, two_fanout_archs as layer_archs  # noqa: F401
from test_ragged import draw_ragged


@njit
def _floor(nest, problem, elements):
    stride, member = np.empty(max(1, nest.n), dtype=np.int64), np.empty(max(1, nest.n), dtype=np.bool_)
    cycles, energy = nest_floor(nest, problem, elements, stride, member)
    return cycles, energy, temporal_steps(nest, problem.dim_size, stride, member)


@njit
def _spread(problem, elements, keeps, reach):
    cycles, energy = spread_floor(problem, elements, keeps, reach, reach.shape[0])
    return cycles, energy, spread_steps(problem.dim_size, reach, reach.shape[0])


def _floor_holds(arch, einsum, mapping):
    nest = lower(arch, einsum, mapping)
    problem = pack_problem(arch, einsum, action_energies(arch))
    got = evaluate_packed(problem, nest)
    record, elements = problem.record(), footprint(einsum)
    cycles, energy, steps = _floor(nest_record(nest), record, elements)
    assert steps == got.steps[0]  # the count's temporal steps (ragged: its valid iterations)
    reach = np.ones((2, len(einsum.dims)), dtype=np.int64)  # the nest's fan-outs per dim; twice as wide
    for d, bound, spatial in zip(nest.loop_dim, nest.loop_bound, nest.loop_spatial):
        reach[:, d] *= bound if spatial else 1
    reach[1] *= 2
    spread = _spread(record, elements, nest.keeps, reach[:1])
    if all(einsum.bound[d] == mapping.factor(d) for d in einsum.dims):  # dense: Π D_d / reach_d
        assert spread[2] == got.steps[0]
    assert spread[2] <= got.steps[0]
    wider = _spread(record, elements, nest.keeps, reach)
    assert wider[2] <= spread[2] and wider[2] == _spread(record, elements, nest.keeps, reach[1:])[2]
    if got.status != OK:
        return
    assert cycles <= got.cycles and spread[0] <= got.cycles
    assert energy <= got.energy_pj * (1 + 1e-12) and spread[1] <= got.energy_pj * (1 + 1e-12)


def _check(archs, data, multicast, ragged):
    arch = archs[multicast]
    if ragged:
        einsum, mapping = draw_ragged(data.draw, arch)
    else:
        einsum, mapping = data.draw(any_layer_and_mapping(arch), label="layer and mapping")
    _floor_holds(arch, einsum, mapping)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), multicast=st.tuples(st.booleans(), st.booleans()), ragged=st.booleans())
def test_floor_is_below_the_count_layer_rule(layer_archs, data, multicast, ragged):  # noqa: F811
    _check(layer_archs, data, multicast, ragged)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), multicast=st.tuples(st.booleans(), st.booleans()), ragged=st.booleans())
def test_floor_is_below_the_count_transfer_rule(transfer_archs, data, multicast, ragged):  # noqa: F811
    _check(transfer_archs, data, multicast, ragged)


@pytest.mark.slow
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), multicast=st.tuples(st.booleans(), st.booleans()), ragged=st.booleans())
def test_floor_is_below_the_count_many(transfer_archs, layer_archs, data, multicast, ragged):  # noqa: F811
    _check(data.draw(st.sampled_from([transfer_archs, layer_archs])), data, multicast, ragged)


def _touched(einsum, role):
    """The tensor's elements the layer touches, walked over every iteration."""
    tensor = einsum.tensor(role)
    points = set()
    for x in itertools.product(*(range(einsum.bound[d]) for d in einsum.dims)):
        at = dict(zip(einsum.dims, x))
        points.add(tuple(sum(term.coef * at[term.dim] for term in axis) for axis in tensor.axes))
    return len(points)


@pytest.mark.parametrize("text, bounds", [
    ("O[m,n] += I[m,k] * W[k,n]", {"m": 3, "n": 5, "k": 7}),
    ("O[k,p] += I[c,2*p+r] * W[c,k,r]", {"c": 2, "k": 3, "p": 5, "r": 1}),  # stride 2, 1 tap: holes
    ("O[k,p] += I[c,2*p+2*r] * W[c,k,r]", {"c": 2, "k": 2, "p": 4, "r": 3}),  # dilation 2
    ("O[k,p,q] += I[c,p+r,q+s] * W[c,k,r,s]", {"c": 2, "k": 2, "p": 3, "q": 4, "r": 3, "s": 2}),
])
def test_footprint_is_the_touched_elements(text, bounds):
    einsum = parse_einsum(text, bounds)
    assert list(footprint(einsum)) == [_touched(einsum, role) for role in einsum.roles]
