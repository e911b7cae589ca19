"""The ragged kernel's histogram of transfer extents per dim (ragged_kernel._extents, which walks only
the outer tuples near a dim's end) against every outer tuple enumerated and every inner tuple
counted (the definition: per valid outer tuple at offset o, the inner tuples whose offset is below
size − o)."""
from __future__ import annotations

import itertools
from collections import Counter
from typing import NamedTuple

import numpy as np
import pytest
from numba import njit

from accelsim.counting.ragged_kernel import _extents, evaluate_ragged, ragged_work, reset_ragged_work


class _Nest(NamedTuple):
    loop_dim: np.ndarray
    loop_bound: np.ndarray
    n: int


class _Scratch(NamedTuple):
    stride: np.ndarray


@njit
def _histogram(nest, sc, rg, d, size):
    _extents(nest, sc, rg, d, size)


def _strides(dims, bounds):
    """Each loop's stride: what the loops inside it on its dim cover (evaluate_ragged's sc.stride)."""
    stride, covered = [0] * len(dims), {}
    for j in range(len(dims) - 1, -1, -1):
        stride[j] = covered.get(dims[j], 1)
        covered[dims[j]] = stride[j] * bounds[j]
    return stride


def _offsets(loops, stride, bounds):
    """The offset of every digit tuple of these loops."""
    return [sum(v * stride[j] for v, j in zip(digits, loops))
            for digits in itertools.product(*(range(bounds[j]) for j in loops))]


def _walked(dims, bounds, member, inner, d, size):
    stride = _strides(dims, bounds)
    on_d = [j for j in range(len(dims)) if dims[j] == d]
    inner_offsets = _offsets([j for j in on_d if inner[j]], stride, bounds)
    return Counter(sum(1 for i in inner_offsets if i < size - o)
                   for o in _offsets([j for j in on_d if member[j]], stride, bounds) if o < size)


def _case(rng):
    n = int(rng.integers(1, 8))
    dims = [int(x) for x in rng.integers(0, 2, n)]
    bounds = [int(x) for x in rng.choice([1, 2, 3, 4, 5, 7, 16], n)]
    role = rng.integers(0, 3, n)  # 0: an outer (member) loop, 1: inside the transfer, 2: neither (digit 0)
    d = int(rng.integers(0, 2))
    covered = int(np.prod([b for b, x in zip(bounds, dims) if x == d]))
    return dims, bounds, role == 0, role == 1, d, int(rng.integers(1, covered + 1))


@pytest.mark.parametrize("seed", range(4))
def test_extents_equal_every_tuple_walked(seed):
    rng = np.random.default_rng(seed)
    for _ in range(150):
        dims, bounds, member, inner, d, size = _case(rng)
        n = len(dims)
        rg = ragged_work(n, 1, 1, 2, 1 + int(np.prod(bounds)))
        rg.member[:n], rg.inner[:n] = member, inner
        nest = _Nest(np.array(dims, np.int64), np.array(bounds, np.int64), n)
        _histogram(nest, _Scratch(np.array(_strides(dims, bounds), np.int64)), rg, d, size)
        got = Counter({int(rg.h_size[d, q]): int(rg.h_count[d, q]) for q in range(rg.h_n[d])})
        assert got == _walked(dims, bounds, member, inner, d, size), (dims, bounds, member, inner, d, size)


@njit
def _count_again(nest, problem, out, scratch, rg):
    reset_ragged_work(rg)
    return evaluate_ragged(nest, problem, out, scratch, rg)


def test_a_count_given_used_work_arrays_equals_a_fresh_one():
    """The sweeps' choice kernel hands each ragged count the work arrays of the counts before it,
    reset by reset_ragged_work, which leaves the extent histograms as they were: one work record
    through every ragged candidate of ResNet-50's layers on a 7×5 array (every array filled with
    garbage before each) counts each as evaluate_packed's fresh arrays do."""
    from accelsim.energy.model import action_energies
    from accelsim.load import load_arch, load_workload
    from accelsim.mapping.dataflows import map_layer
    from accelsim.mapping.lower import lower
    from accelsim.mapping.ragged import padded_candidates
    from accelsim.model.packed import evaluate_packed, is_ragged, nest_record, outputs_and_scratch, pack_problem
    from conftest import ARCH_DIR, WORKLOAD_DIR

    arch = load_arch(ARCH_DIR / "simba_like.yaml", ["levels.PE_array.x=7", "levels.PE_array.y=5"])
    energies, layers = action_energies(arch), load_workload(WORKLOAD_DIR / "resnet50.yaml").layers
    rg, counted = None, 0
    for layer in layers[:16]:
        einsum = layer.run_einsum
        if len(einsum.roles) != 3:  # (one work record: one shape)
            continue
        problem = pack_problem(arch, einsum, energies)
        for _, _, mapping in padded_candidates(arch, einsum, map_layer(arch, einsum, "ws"),
                                               lambda padded: map_layer(arch, padded, "ws")):
            nest = lower(arch, einsum, mapping)
            if not is_ragged(problem, nest):
                continue
            if rg is None:
                rg = ragged_work(64, len(arch.levels), 3, 7, int(max(layer.run_einsum.bound[d] for layer in layers
                                                                     for d in layer.run_einsum.dims)))
            _garbage(rg)
            want = evaluate_packed(problem, nest)
            out, scratch = outputs_and_scratch(problem, nest.n_loops)
            status, energy, cycles = _count_again(nest_record(nest), problem.record(), out, scratch, rg)
            assert (status, energy, cycles) == (want.status, want.energy_pj, want.cycles)
            assert (out.counts == want.counts).all() and (out.blocks == want.blocks).all()
            assert (rg.totals == want.totals).all() and tuple(rg.steps) == want.steps
            counted += 1
    assert counted >= 10


def _garbage(rg):
    for a in rg:
        a[...] = True if a.dtype == np.bool_ else 12345


@njit
def _reset(rg):
    reset_ragged_work(rg)


def test_the_reset_clears_every_array_but_the_histograms():
    """reset_ragged_work names the arrays it clears one by one: an array added to Ragged and not
    cleared fails here."""
    rg = ragged_work(8, 3, 3, 4, 16)
    _garbage(rg)
    _reset(rg)
    kept = {"h_size", "h_count"}
    assert [name for name, a in zip(rg._fields, rg) if name not in kept and a.any()] == []
    assert all(getattr(rg, name).all() for name in kept)
