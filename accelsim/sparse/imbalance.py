"""Load imbalance across PEs that skip ineffectual MACs in lock step (docs/sparsity.md, "The cycle
model under sparsity").

A spatial array that skips MACs led by an operand's zeros runs each tile step until its busiest PE
is done. A PE's effectual MAC cycles in one step are `r × occupancy` of the leading operand's tile
in that PE's step box (`r`: MACs per element of that tile), a random variable under unstructured
sparsity; over `p` PEs holding distinct tiles the step takes E[max]:

    E[max of p] = Σ_k k · (F(k)^p − F(k−1)^p)       (independent PEs; F the tile's occupancy CDF)

The PEs' tiles are disjoint parts of one tensor (drawn without replacement), or overlapping
windows, so they are not exactly independent; tests/unit/test_sparse_cycle_mc.py measures the
error against real random tensors.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .density import Dense, FixedStructured, Hypergeometric, StructuredNM


@dataclass(frozen=True)
class StepImbalance:
    """How lock-step PEs stretch a tile step (MAC cycles of one PE)."""

    leader: str | None       # the operand whose zeros skip MACs (None: nothing is skipped)
    pes: int                 # PEs holding distinct tiles of the leader in one step (the max is over them)
    tile: int                # leader elements in one PE's step box
    factor: float            # E[max over the pes] / E[one PE]: 1 with no imbalance


NO_IMBALANCE = StepImbalance(None, 1, 0, 1.0)


def occupancy_pmf(model, tile: int, axis_extent: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(non-zeros, probabilities) of a tile of `tile` elements under a density model; for an N:M
    model, `axis_extent` is the tile's extent along the structured axis (aligned runs)."""
    if isinstance(model, StructuredNM):
        extent = max(1, axis_extent)
        runs = tile // extent
        run = dict(model.run_distribution(extent))
        dist = {0: 1.0}
        for _ in range(runs):  # independent groups across the other axes: convolve
            out: dict = {}
            for a, pa in dist.items():
                for j, pj in run.items():
                    out[a + j] = out.get(a + j, 0.0) + pa * pj
            dist = out
        pairs = sorted(dist.items())
    elif isinstance(model, (Dense, FixedStructured, Hypergeometric)):
        pairs = model.occupancy_distribution(tile)
    else:
        raise TypeError(f"no occupancy distribution for {type(model).__name__}")
    values = np.array([k for k, _ in pairs], dtype=np.float64)
    probs = np.array([p for _, p in pairs], dtype=np.float64)
    return values, probs / probs.sum()


def expected_max(values: np.ndarray, probs: np.ndarray, p: int) -> float:
    """E[max of p independent draws] of a discrete variable (values ascending): Σ_k v_k (F_k^p − F_{k−1}^p),
    with F^p computed as exp(p·log1p(−tail)) so that a tail of 1e−12 over 10^5 PEs is not lost."""
    if p < 1:
        raise ValueError("at least one PE")
    tail = np.clip(np.concatenate([np.cumsum(probs[::-1])[::-1][1:], [0.0]]), 0.0, 1.0)  # P(X > v_k)
    cdf_p = np.exp(p * np.log1p(-np.minimum(tail, 1.0 - 1e-16)))
    cdf_p[-1] = 1.0
    mass = np.diff(np.concatenate([[0.0], cdf_p]))
    return float(np.dot(values, mass))


def step_imbalance(model, leader: str, tile: int, pes: int, axis_extent: int = 0) -> StepImbalance:
    """The imbalance factor of one step: p PEs, each with a `tile`-element tile of the leader."""
    values, probs = occupancy_pmf(model, tile, axis_extent)
    mean = float(np.dot(values, probs))
    if mean <= 0.0:  # every tile is empty: every PE idles alike
        return StepImbalance(leader, pes, tile, 1.0)
    return StepImbalance(leader, pes, tile, max(1.0, expected_max(values, probs, pes) / mean))
