"""Exact point sets of affine tensor axes over rectangular loop ranges (the points themselves;
counting them is counting/point_sets.py's job).

An axis index Σ coef_i·d_i with d_i ∈ [0, extent_i) takes a set of integer values.
With unit coefficients and overlapping windows it is an interval; strided convolutions
leave holes, which we count exactly (Timeloop's bounding boxes would count them).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=65536)
def _points(terms: tuple[tuple[int, int], ...]) -> np.ndarray:
    """Boolean occupancy of the values Σ c·x, x ∈ [0, e), for ((c, e), ...)."""
    span = sum(c * (e - 1) for c, e in terms) + 1
    occupied = np.zeros(span, dtype=bool)
    occupied[0] = True
    reach = 1
    for c, e in terms:
        if e == 1:
            continue
        base = occupied[:reach].copy()
        for x in range(1, e):
            occupied[x * c: x * c + reach] |= base
        reach += c * (e - 1)
    return occupied


def axis_terms(axis, extent: dict[str, int]) -> tuple[tuple[int, int], ...]:
    return tuple(sorted((t.coef, extent.get(t.dim, 1)) for t in axis))


def axis_points(axis, extent: dict[str, int]) -> np.ndarray:
    return np.flatnonzero(_points(axis_terms(axis, extent)))
