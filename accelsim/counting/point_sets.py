"""Point sets of affine tensor axes, counted: the one implementation the counting kernel inlines
and the Python paths (templates, the cycle model's tables) call.

An axis over a set of loops is a list of (step, count) terms: the values Σ step·x, x ∈ [0, count).
axis_shape classifies the set as g · (an interval) or g · (equal blocks at a fixed period), which
closed_count counts in closed form (and its overlap with a shifted copy); other sets are marked
point by point (occupancy). tests/unit/test_footprint.py checks them against brute force.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..jit import kernel


@kernel(_nrt=False, forceinline=True)
def axis_shape(tc, te, a, m, shape):
    """Sort axis a's terms by step and classify its point set S for closed-form counting:
    S = g · ∪_{k<n} [k·P, k·P + L) (n = 1: an interval of L points; P > L: blocks with holes
    between them, as a fan-out above a temporal loop on the same dim leaves), written to
    shape[a] = (g, L, P, n); n = −1 if S has no such form (counted point by point)."""
    for q in range(1, m):  # insertion sort: m is a handful
        c, e, b = tc[a, q], te[a, q], q - 1
        while b >= 0 and tc[a, b] > c:
            tc[a, b + 1], te[a, b + 1] = tc[a, b], te[a, b]
            b -= 1
        tc[a, b + 1], te[a, b + 1] = c, e
    if m == 0:  # a single point
        shape[a, 0], shape[a, 1], shape[a, 2], shape[a, 3] = 1, 1, 0, 1
        return
    g = tc[a, 0]
    if g > 1:  # gcd of the steps (integer division is slow: skipped when a step is 1)
        for q in range(1, m):
            x, y = tc[a, q], g
            while y:
                x, y = y, x % y
            g = x
    shape[a, 0], shape[a, 2], shape[a, 3] = g, 0, 1
    reach = 1  # in units of g: the terms that fill [0, L) without gaps
    q = 0
    if g == 1:
        while q < m and tc[a, q] <= reach:
            reach += tc[a, q] * (te[a, q] - 1)
            q += 1
    else:
        while q < m and tc[a, q] // g <= reach:
            reach += tc[a, q] // g * (te[a, q] - 1)
            q += 1
    shape[a, 1] = reach
    if q == m:
        return
    period = tc[a, q] // g
    blocks = 1  # the remaining terms must fill [0, n) periods without gaps
    for r in range(q, m):
        c = tc[a, r] // g
        if c % period != 0 or c // period > blocks:
            shape[a, 3] = -1
            return
        blocks += c // period * (te[a, r] - 1)
    shape[a, 2], shape[a, 3] = period, blocks


@kernel(_nrt=False)
def occupancy(tc, te, a, m, occ, base):
    """Mark the points Σ c·x, x ∈ [0, e), of axis a's terms in occ; returns the span."""
    span = 1
    for q in range(m):
        span += tc[a, q] * (te[a, q] - 1)
    for p in range(span):  # plain loops: slices would need the runtime (these kernels have none)
        occ[p] = False
    occ[0] = True
    reach = 1
    for q in range(m):
        for p in range(reach):
            base[p] = occ[p]
        for x in range(1, te[a, q]):
            off = x * tc[a, q]
            for p in range(reach):
                if base[p]:
                    occ[off + p] = True
        reach += tc[a, q] * (te[a, q] - 1)
    return span


@kernel(_nrt=False, forceinline=True)
def closed_count(g, length, period, n, shift):
    """|S ∩ (S + shift)| for S = g · ∪_{k<n} [k·P, k·P + L) (see axis_shape; n ≥ 1)."""
    s = abs(shift)  # |S ∩ (S + s)| = |S ∩ (S − s)|
    if g > 1:
        if s % g != 0:
            return 0
        s //= g
    if n == 1:
        return max(0, length - s)
    # Block k of S+s overlaps block k + u of S by L − v and block k + u + 1 by v + L − P.
    u, v = s // period, s % period
    if u >= n:
        return 0
    return (n - u) * max(0, length - v) + (n - u - 1) * max(0, v + length - period)


@kernel(_nrt=False, forceinline=True)
def axis_count(tc, te, a, m, shape, shift, occ, base):
    """|S ∩ (S + shift)| for axis a's point set S (shift 0: |S|), from its shape."""
    if shape[a, 3] >= 0:
        return closed_count(shape[a, 0], shape[a, 1], shape[a, 2], shape[a, 3], shift)
    s = abs(shift)
    full_span = occupancy(tc, te, a, m[a], occ, base)
    count = 0
    for p in range(s, full_span):
        if occ[p] and occ[p - s]:
            count += 1
    return count


@lru_cache(maxsize=65536)
def axis_overlap(terms: tuple[tuple[int, int], ...], shift: int) -> int:
    """|S ∩ (S + shift)| for the point set S of the (step, count) terms (shift 0: |S|)."""
    terms = [(c, e) for c, e in terms if e > 1]
    m = len(terms)
    tc = np.array([[c for c, _ in terms] or [0]], dtype=np.int64)
    te = np.array([[e for _, e in terms] or [1]], dtype=np.int64)
    shape = np.zeros((1, 4), dtype=np.int64)
    axis_shape(tc, te, 0, m, shape)
    span = 1 + sum(c * (e - 1) for c, e in terms)
    occ, base = np.zeros(span + 1, dtype=np.bool_), np.zeros(span + 1, dtype=np.bool_)
    return int(axis_count(tc, te, 0, np.array([m], dtype=np.int64), shape, shift, occ, base))


def axis_size(terms: tuple[tuple[int, int], ...]) -> int:
    """|S| for the point set S of the (step, count) terms."""
    return axis_overlap(terms, 0)
