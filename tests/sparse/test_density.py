"""Density models against brute-force enumeration / Monte Carlo on small cases."""
from __future__ import annotations

from itertools import combinations
from math import comb

import numpy as np
import pytest

from accelsim.sparse.density import (
    FixedStructured,
    Hypergeometric,
    Measured,
    StructuredNM,
)


@pytest.mark.parametrize("tensor, density, tile", [(8, 0.25, 3), (10, 0.5, 4), (6, 1 / 3, 6), (9, 0.0, 2)])
def test_hypergeometric_against_enumeration(tensor, density, tile):
    """Every placement of the non-zeros is equally likely: count the placements per tile occupancy."""
    m = Hypergeometric(density, tensor)
    counts = np.zeros(tile + 1)
    placements = list(combinations(range(tensor), m.nnz))
    for nz in placements:
        counts[sum(1 for i in nz if i < tile)] += 1   # the tile: the first `tile` positions
    want = {k: c / len(placements) for k, c in enumerate(counts) if c}
    got = dict(m.occupancy_distribution(tile))
    assert got.keys() == want.keys()
    for k, p in want.items():
        assert got[k] == pytest.approx(p, rel=1e-12)
    assert m.prob_empty(tile) == pytest.approx(want.get(0, 0.0), rel=1e-12, abs=1e-15)
    assert m.expected_occupancy(tile) == pytest.approx(sum(k * p for k, p in want.items()))


@pytest.mark.parametrize("tile, k, sub", [(6, 2, 2), (8, 3, 4), (5, 5, 1), (4, 0, 2)])
def test_hypergeometric_sub_tile_empty_given_tile_occupancy(tile, k, sub):
    """k non-zeros placed uniformly in a tile: the share of placements missing a sub-tile."""
    placements = list(combinations(range(tile), k))
    empty = sum(1 for nz in placements if all(i >= sub for i in nz)) / len(placements)
    assert Hypergeometric(0.5, 2 * tile).prob_empty_given(sub, tile, k) == pytest.approx(empty)


@pytest.mark.parametrize("density, tile", [(0.25, 1), (0.25, 16), (0.43, 3), (0.4333, 48), (0.275, 7)])
def test_fixed_structured_mean_is_exact(density, tile):
    """Floor and ceil of density × tile, weighted so that the mean is exactly density × tile
    (Sparseloop's fixed-structured model); the empty probability follows from it."""
    dist = FixedStructured(density).occupancy_distribution(tile)
    assert sum(p for _, p in dist) == pytest.approx(1.0)
    assert sum(k * p for k, p in dist) == pytest.approx(density * tile)
    assert all(k in (int(density * tile), int(density * tile) + 1) for k, _ in dist)
    assert FixedStructured(density).prob_empty(tile) == pytest.approx(dict(dist).get(0, 0.0))


def test_fixed_structured_scalar_is_a_bernoulli_of_the_density():
    assert FixedStructured(0.25).prob_empty(1) == pytest.approx(0.75)
    assert FixedStructured(0.25).prob_empty_given(1, 16, 4) == pytest.approx(0.75)


@pytest.mark.parametrize("n, m, extent", [(2, 4, 1), (2, 4, 3), (2, 4, 4), (1, 4, 6), (3, 8, 5), (2, 4, 10)])
def test_structured_nm_against_enumeration(n, m, extent):
    """n non-zeros in every aligned group of m, each group's placement uniform: enumerate every
    placement of the groups a run of `extent` elements touches."""
    groups = -(-extent // m)
    per_group = list(combinations(range(m), n))
    counts = {}
    total = 0
    for choice in np.ndindex(*([len(per_group)] * groups)):
        nz = {g * m + i for g, c in enumerate(choice) for i in per_group[c]}
        k = sum(1 for i in nz if i < extent)
        counts[k] = counts.get(k, 0) + 1
        total += 1
    want = {k: c / total for k, c in counts.items()}
    got = dict(StructuredNM(n, m, "k").run_distribution(extent))
    assert got.keys() == want.keys()
    for k, p in want.items():
        assert got[k] == pytest.approx(p)
    assert StructuredNM(n, m, "k").prob_run_empty(extent) == pytest.approx(want.get(0, 0.0))


def test_measured_tile_emptiness_against_a_direct_count():
    rng = np.random.default_rng(7)
    a = rng.random((6, 10)) * (rng.random((6, 10)) < 0.2)
    m = Measured(a)
    for shape in [(1, 1), (2, 2), (3, 5), (4, 3)]:
        tiles = [a[i:i + shape[0], j:j + shape[1]] for i in range(0, 6, shape[0]) for j in range(0, 10, shape[1])]
        assert m.prob_tile_empty(shape) == pytest.approx(np.mean([not t.any() for t in tiles]))
    assert m.density == pytest.approx(np.count_nonzero(a) / a.size)


def test_hypergeometric_monte_carlo_large():
    """A size too large to enumerate: sample placements."""
    m, rng = Hypergeometric(0.3, 200), np.random.default_rng(1)
    tile, trials = 12, 20000
    hits = sum(1 for _ in range(trials) if not (rng.permutation(200)[:m.nnz] < tile).any())
    assert hits / trials == pytest.approx(m.prob_empty(tile), abs=0.01)
    assert m.prob_empty(tile) == pytest.approx(comb(200 - 60, tile) / comb(200, tile))


def test_hypergeometric_floats_of_a_large_tensor_match_the_exact_pmf(monkeypatch):
    """Above EXACT_ELEMENTS the pmf is floats from the mode outward (a real layer's tensor has
    ~10^6 elements, whose exact binomials are intractable): they equal the exact rationals."""
    from math import comb

    from accelsim.sparse import density as D

    for total, marked, drawn in [(3000, 1830, 500), (3000, 7, 2999), (5000, 4999, 10), (4500, 2250, 4500)]:
        exact = {k: comb(marked, k) * comb(total - marked, drawn - k) / comb(total, drawn)
                 for k in range(max(0, drawn - total + marked), min(drawn, marked) + 1)}
        got = dict(D.hypergeometric_pmf(total, marked, drawn))
        assert sum(got.values()) == pytest.approx(1.0, abs=1e-12)
        for k, p in exact.items():
            assert got.get(k, 0.0) == pytest.approx(p, rel=1e-9, abs=1e-17)
        model = D.Hypergeometric(marked / total, total)
        for sub in (1, 17, 300):
            assert model.prob_empty(sub) == pytest.approx(comb(total - marked, sub) / comb(total, sub), rel=1e-9,
                                                          abs=1e-300)
    big = D.Hypergeometric(0.27, 4 * 13 * 13 * 256)  # a conv layer's ifmaps at batch 4
    dist = big.occupancy_distribution(big.tensor // 3)
    assert sum(k * p for k, p in dist) == pytest.approx(big.expected_occupancy(big.tensor // 3), rel=1e-9)
    assert len(dist) < 5000  # the tails are dropped, not enumerated
