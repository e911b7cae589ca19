"""Density models: how many non-zeros a tile of a tensor holds (Sparseloop's density models,
Timeloop v3 src/workload/density-models/).

Every model answers, for a tile of `tile` elements (and, for shape-aware models, its extent per
tensor axis):
  * occupancy_distribution(tile): [(non-zeros, probability), ...];
  * prob_empty_given(sub, tile, k): the probability that a sub-tile of `sub` elements inside a tile
    holding k non-zeros is empty (Sparseloop's tile with "extra constraint info");
  * expected_occupancy(tile).
"""
from __future__ import annotations

from dataclasses import dataclass
from math import ceil, comb, exp, floor, lgamma

import numpy as np

DISTRIBUTIONS = ("dense", "fixed_structured", "hypergeometric", "structured", "measured")

# Tensors up to this many elements get exact rational probabilities (the Sparseloop cases); larger
# ones (a DRAM tile of a real layer) floats, as Timeloop's own (boost) distributions are: the exact
# binomials of a 10^6-element tensor are integers of millions of digits.
EXACT_ELEMENTS = 4096
NEGLIGIBLE = 1e-18  # a probability this far below the mode's is dropped from a float distribution


def _log_comb(n: int, k: int) -> float:
    return lgamma(n + 1) - lgamma(k + 1) - lgamma(n - k + 1)


def _comb_ratio(a: int, b: int, k: int) -> float:
    """comb(a, k) / comb(b, k) for a ≤ b: the probability that k positions drawn from b all fall in a."""
    if k > a:
        return 0.0
    if b <= EXACT_ELEMENTS:
        return comb(a, k) / comb(b, k)
    return exp(_log_comb(a, k) - _log_comb(b, k))


def hypergeometric_pmf(total: int, marked: int, drawn: int) -> list[tuple[int, float]]:
    """[(k, P(k of `drawn` positions are among `marked` of `total`)), ...] with P > 0, k ascending:
    exact below EXACT_ELEMENTS; above, floats from the mode outward by the pmf's ratio recurrence,
    dropping what falls NEGLIGIBLE below the mode, then normalized."""
    lo, hi = max(0, drawn - (total - marked)), min(drawn, marked)
    if total <= EXACT_ELEMENTS:
        whole = comb(total, drawn)
        out = [(k, comb(marked, k) * comb(total - marked, drawn - k) / whole) for k in range(lo, hi + 1)]
        return [(k, p) for k, p in out if p > 0]
    mode = min(hi, max(lo, (drawn + 1) * (marked + 1) // (total + 2)))
    weights = {mode: 1.0}
    k, w = mode, 1.0
    while k < hi and w > NEGLIGIBLE:  # P(k+1)/P(k)
        w *= (marked - k) * (drawn - k) / ((k + 1) * (total - marked - drawn + k + 1))
        k += 1
        weights[k] = w
    k, w = mode, 1.0
    while k > lo and w > NEGLIGIBLE:  # P(k-1)/P(k)
        w *= k * (total - marked - drawn + k) / ((marked - k + 1) * (drawn - k + 1))
        k -= 1
        weights[k] = w
    norm = sum(weights.values())
    return [(k, w / norm) for k, w in sorted(weights.items()) if w > 0]


def _floor_ceil(exact: float) -> list[tuple[int, float]]:
    """Fixed-structured: floor and ceil of the exact count, weighted so the mean is exact
    (fixed-structured-distribution.cpp, GetTileOccupancyProbability)."""
    lo, p_hi = floor(exact), exact - floor(exact)
    if p_hi == 0:
        return [(lo, 1.0)]
    return [(lo, 1.0 - p_hi), (ceil(exact), p_hi)]


@dataclass(frozen=True)
class Dense:
    density: float = 1.0

    def occupancy_distribution(self, tile: int) -> list[tuple[int, float]]:
        return [(tile, 1.0)]

    def prob_empty_given(self, sub: int, tile: int, k: int) -> float:
        return 1.0 if sub == 0 or k == 0 else 0.0

    def prob_empty(self, sub: int) -> float:
        return 1.0 if sub == 0 else 0.0

    def expected_occupancy(self, tile: int) -> float:
        return float(tile)


@dataclass(frozen=True)
class FixedStructured:
    """Every tile holds density × its size non-zeros (floor or ceil, so that the mean is exact)."""

    density: float

    def occupancy_distribution(self, tile: int) -> list[tuple[int, float]]:
        return _floor_ceil(tile * self.density)

    def prob_empty_given(self, sub: int, tile: int, k: int) -> float:
        if sub == 0:
            return 1.0
        # the sub-tile sees the constrained tile's density k / tile (Sparseloop's extra constraint)
        return sum(p for n, p in _floor_ceil(sub * (k / tile)) if n == 0)

    def prob_empty(self, sub: int) -> float:
        return sum(p for n, p in _floor_ceil(sub * self.density) if n == 0)

    def expected_occupancy(self, tile: int) -> float:
        return tile * self.density


@dataclass(frozen=True)
class Hypergeometric:
    """Non-zeros placed uniformly at random: round(density × tensor) of them over the whole
    tensor; a tile's count is hypergeometric (hypergeometric-distribution.cpp)."""

    density: float
    tensor: int   # elements of the whole tensor

    @property
    def nnz(self) -> int:
        return round(self.density * self.tensor)

    def occupancy_distribution(self, tile: int) -> list[tuple[int, float]]:
        return hypergeometric_pmf(self.tensor, self.nnz, tile)

    def prob_empty_given(self, sub: int, tile: int, k: int) -> float:
        # k non-zeros uniformly among the tile's positions: none of them in the sub-tile
        return _comb_ratio(tile - sub, tile, k)

    def prob_empty(self, sub: int) -> float:
        # the sub-tile's positions all among the tensor's zeros
        return _comb_ratio(self.tensor - self.nnz, self.tensor, sub)

    def expected_occupancy(self, tile: int) -> float:
        return tile * self.nnz / self.tensor


@dataclass(frozen=True)
class StructuredNM:
    """N non-zeros in every aligned group of M consecutive elements along one tensor axis
    (e.g. 2:4 weights). A tile covering `extent` elements of that axis from an aligned start and
    `other` elements across the other axes holds exactly N/M of its elements when extent is a
    multiple of M; a shorter aligned run of e elements in a group holds between max(0, e-(M-N))
    and min(e, N), with the group's N positions uniformly chosen."""

    n: int
    m: int
    axis: str

    @property
    def density(self) -> float:
        return self.n / self.m

    def run_distribution(self, extent: int) -> list[tuple[int, float]]:
        """Non-zeros in an aligned run of `extent` elements along the structured axis."""
        full, rest = divmod(extent, self.m)
        dist = {full * self.n: 1.0}
        if rest:
            part = {j: comb(rest, j) * comb(self.m - rest, self.n - j) / comb(self.m, self.n)
                    for j in range(min(rest, self.n) + 1) if self.n - j <= self.m - rest}
            dist = {a + j: pa * pj for a, pa in dist.items() for j, pj in part.items()}
        return sorted(dist.items())

    def prob_run_empty(self, extent: int, runs: int = 1) -> float:
        """A tile of `runs` independent aligned runs of `extent` elements holds no non-zero."""
        return sum(p for k, p in self.run_distribution(extent) if k == 0) ** runs

    def expected_occupancy(self, tile: int) -> float:
        return tile * self.density


@dataclass(frozen=True, eq=False)  # an array: compared and hashed by identity
class Measured:
    """A real tensor (.npy): a tile's emptiness is counted over the tensor's aligned tiles."""

    values: np.ndarray

    @property
    def density(self) -> float:
        return float(np.count_nonzero(self.values)) / self.values.size

    def prob_tile_empty(self, shape: tuple[int, ...]) -> float:
        """The fraction of the tensor's aligned tiles of `shape` (one extent per axis, the tensor's
        order; ragged edge tiles count as tiles) that hold no non-zero."""
        a = self.values != 0
        if len(shape) != a.ndim:
            raise ValueError(f"tile shape {shape} has {len(shape)} axes, the tensor {a.ndim}")
        pads = [(0, -s % t) for s, t in zip(a.shape, shape)]
        a = np.pad(a, pads)
        blocks = a.reshape([x for s, t in zip(a.shape, shape) for x in (s // t, t)])
        any_nz = blocks.any(axis=tuple(range(1, 2 * len(shape), 2)))
        return float(np.mean(~any_nz))

    def expected_occupancy(self, tile: int) -> float:
        return tile * self.density


def model_from_spec(spec: dict, tensor_elements: int, load=None):
    """A density model from a workload's `sparsity:` entry (validated by the schema)."""
    kind = spec["distribution"]
    if kind == "dense":
        return Dense()
    if kind == "fixed_structured":
        return FixedStructured(float(spec["density"]))
    if kind == "hypergeometric":
        return Hypergeometric(float(spec["density"]), int(tensor_elements))
    if kind == "structured":
        return StructuredNM(int(spec["n"]), int(spec["m"]), str(spec["axis"]))
    if kind == "measured":
        return Measured(load(spec["file"]))
    raise ValueError(f"unknown distribution '{kind}'")
