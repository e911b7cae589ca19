"""A ragged count kept from one arch and used on another (model/network_kernel.choose_ragged's
PaddedMemo) against a fresh count there: ragged_kernel.fits_again gives the status evaluate_ragged
gives at other capacities (around each level's used words, with and without partial-sum words),
and ragged_energy the energy, bit for bit, at other access, leakage, per-cycle and MAC energies
and activity factors. On random ragged nests of archs with a wide, slow DRAM (test_floor's), under
the layer and the per-transfer block rule."""
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from numba import njit

from accelsim.counting import records as R
from accelsim.counting.ragged_kernel import fits_again, ragged_energy
from accelsim.energy.model import action_energies
from accelsim.mapping.lower import lower
from accelsim.model.packed import evaluate_packed, nest_record, pack_problem
from test_block_rounding import two_fanout_archs as transfer_archs  # noqa: F401 (a fixture)
from test_nest_kernel import two_fanout_archs as layer_archs  # noqa: F401
from test_ragged import draw_ragged

_fits = njit(lambda nest, problem, out: fits_again(nest, problem, out))
_price = njit(lambda nest, problem, out, cycles: ragged_energy(nest, problem, out, cycles))


def _kept(result) -> R.Outputs:
    """The Outputs a count left (copies: each use may write per_cycle_pj)."""
    return R.Outputs(result.counts.copy(), result.instances.copy(), result.charged.copy(),
                     result.level_cycles.copy(), result.per_cycle_pj.copy(), result.output_words.copy(),
                     result.blocks.copy())


def _reused_as_counted(arch, einsum, mapping, rng):
    nest = lower(arch, einsum, mapping)
    problem = pack_problem(arch, einsum, action_energies(arch))
    first = evaluate_packed(problem, nest, True)
    if first.status != R.OK:
        return
    out, record, roles = _kept(first), nest_record(nest), range(len(problem.roles))
    for i in np.flatnonzero(problem.level_int[:, R.KIND] == R.MEMORY):
        w = int(first.output_words[i])
        tiles = [int(sum(first.counts[i, t, R.TILE] * (w if problem.is_output[t] and k else 1)
                         for t in roles if nest.keeps[i, t])) for k in (0, 1)]
        for capacity in {-1, 0, tiles[0] - 1, tiles[0], tiles[1] - 1, tiles[1]}:  # (−1: unbounded)
            level_int = problem.level_int.copy()
            level_int[i, R.CAPACITY] = capacity
            other = replace(problem, level_int=level_int)
            assert _fits(record, other.record(), out) == (evaluate_packed(other, nest, True).status == R.OK)
    level_float = problem.level_float.copy()
    level_float[:, [R.E_READ, R.E_WRITE, R.E_UPDATE, R.LEAK]] *= rng.uniform(0.1, 3.0, (len(level_float), 4))
    other = replace(problem, level_float=level_float, e_factor=problem.e_factor * rng.uniform(0.5, 1.5, problem.e_factor.shape),
                    energy_per_cycle_pj=float(problem.energy_per_cycle_pj * 1.7 + 0.3),
                    mac_energy_pj=problem.mac_energy_pj * rng.uniform(0.5, 2.0))
    fresh = evaluate_packed(other, nest, True)
    assert fresh.cycles == first.cycles
    priced = _kept(first)
    assert _price(record, other.record(), priced, np.int64(first.cycles)) == fresh.energy_pj  # bit for bit
    assert priced.per_cycle_pj[0] == fresh.per_cycle_pj[0]


def _check(archs, data, multicast):
    einsum, mapping = draw_ragged(data.draw, archs[multicast])
    _reused_as_counted(archs[multicast], einsum, mapping, np.random.default_rng(data.draw(st.integers(0, 99))))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), multicast=st.tuples(st.booleans(), st.booleans()))
def test_a_kept_count_fits_and_prices_as_a_fresh_one_layer_rule(layer_archs, data, multicast):  # noqa: F811
    _check(layer_archs, data, multicast)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), multicast=st.tuples(st.booleans(), st.booleans()))
def test_a_kept_count_fits_and_prices_as_a_fresh_one_transfer_rule(transfer_archs, data, multicast):  # noqa: F811
    _check(transfer_archs, data, multicast)


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), multicast=st.tuples(st.booleans(), st.booleans()), rule=st.booleans())
def test_a_kept_count_fits_and_prices_as_a_fresh_one_many(transfer_archs, layer_archs, data, multicast, rule):  # noqa: F811
    _check(transfer_archs if rule else layer_archs, data, multicast)
