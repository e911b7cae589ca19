"""A small per-cycle, register-level systolic array that really computes ``A @ B``.

It is the functional twin of accelsim/model/scalesim/: the same fold order and the same
skews, with numbers moving one PE per cycle through explicit registers.  Its output equals
``A @ B`` and each fold takes exactly the kernel's cycles per fold:

* os (PE(i, j) accumulates O[m, n]): A streams in from the left, B from the top, both
  skewed; the last MAC happens in PE(R−1, C−1) at cycle T+R+C−3, so a fold takes
  ``T + R + C − 2`` cycles (T = K).
* ws (PE(i, j) holds W[k, n]): R cycles shift the weights in from the top, then A streams in
  from the left (row i delayed by i) and partial sums flow down; the last sum leaves PE(R−1,
  C−1) at cycle 2R+T+C−3, so a fold takes ``2R + C + T − 2`` cycles (T = M).
* is (PE(i, j) holds A[m, k]ᵀ): as ws with the roles of A and B swapped (T = N).

Partial tiles are zero-padded, so every fold takes the full skew, as in SCALE-Sim.  A is
M×K (inputs), B is K×N (weights).  Meant for arrays of a few × a few PEs in tests.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import SpecError

__all__ = ["FunctionalResult", "run_functional_systolic"]


@dataclass(frozen=True)
class FunctionalResult:
    output: np.ndarray            # M×N
    cycles: int                   # sum over folds
    fold_cycles: tuple[int, ...]  # in fold order (column fold outer, row fold inner)


def _pad(x: np.ndarray, rows: int, cols: int) -> np.ndarray:
    out = np.zeros((rows, cols), dtype=x.dtype)
    out[:x.shape[0], :x.shape[1]] = x
    return out


def _os_fold(a_tile: np.ndarray, b_tile: np.ndarray):
    """a_tile R×T (row i feeds array row i), b_tile T×C (column j feeds array column j)."""
    R, T = a_tile.shape
    C = b_tile.shape[1]
    dt = np.result_type(a_tile, b_tile)
    a_v, a_ok = np.zeros((R, C), dt), np.zeros((R, C), bool)
    b_v, b_ok = np.zeros((R, C), dt), np.zeros((R, C), bool)
    acc = np.zeros((R, C), dt)
    t, last = 0, -1
    while True:
        a_v[:, 1:], a_ok[:, 1:] = a_v[:, :-1].copy(), a_ok[:, :-1].copy()
        b_v[1:, :], b_ok[1:, :] = b_v[:-1, :].copy(), b_ok[:-1, :].copy()
        for i in range(R):                     # left edge: A[i, t − i]
            k = t - i
            a_ok[i, 0] = 0 <= k < T
            a_v[i, 0] = a_tile[i, k] if a_ok[i, 0] else 0
        for j in range(C):                     # top edge: B[t − j, j]
            k = t - j
            b_ok[0, j] = 0 <= k < T
            b_v[0, j] = b_tile[k, j] if b_ok[0, j] else 0
        if not np.array_equal(a_ok, b_ok):
            raise AssertionError("os operands out of step")
        acc += np.where(a_ok, a_v * b_v, 0)
        if a_ok.any():
            last = t
        elif t >= T + R + C:                  # injections over and the array is empty
            break
        t += 1
    return acc, last + 1


def _stationary_fold(stat: np.ndarray, stream: np.ndarray):
    """stat R×C held in the PEs (shifted in from the top over R cycles); stream T×R, column i
    entering array row i; partial sums flow down.  Returns out (T×C), cycles."""
    R, C = stat.shape
    T = stream.shape[0]
    dt = np.result_type(stat, stream)
    w = np.zeros((R, C), dt)
    for t in range(R):                         # weight shift-in, bottom row first
        w[1:, :] = w[:-1, :].copy()
        w[0, :] = stat[R - 1 - t, :]
    last = R - 1
    a_v, a_ok = np.zeros((R, C), dt), np.zeros((R, C), bool)
    p_v, p_ok = np.zeros((R, C), dt), np.zeros((R, C), bool)
    out = np.zeros((T, C), dt)
    t = R
    while True:
        a_v[:, 1:], a_ok[:, 1:] = a_v[:, :-1].copy(), a_ok[:, :-1].copy()
        for i in range(R):                     # row i sees stream[t − R − i, i]
            m = t - R - i
            a_ok[i, 0] = 0 <= m < T
            a_v[i, 0] = stream[m, i] if a_ok[i, 0] else 0
        above_v = np.vstack([np.zeros((1, C), dt), p_v[:-1, :]])
        above_ok = np.vstack([a_ok[:1, :], p_ok[:-1, :]])   # row 0 starts a new sum
        if not np.array_equal(above_ok, a_ok):
            raise AssertionError("partial sums out of step with the stream")
        p_v = np.where(a_ok, above_v + a_v * w, 0)
        p_ok = a_ok.copy()
        for j in range(C):                     # bottom edge: finished sums
            if p_ok[R - 1, j]:
                out[t - R - (R - 1) - j, j] = p_v[R - 1, j]
        if a_ok.any():
            last = t
        elif t >= 2 * R + T + C:
            break
        t += 1
    return out, last + 1


def run_functional_systolic(A, B, rows: int, cols: int, dataflow: str) -> FunctionalResult:
    """Compute A @ B on a rows×cols array, fold by fold, one register step per cycle."""
    A, B = np.asarray(A), np.asarray(B)
    if A.ndim != 2 or B.ndim != 2 or A.shape[1] != B.shape[0]:
        raise SpecError(f"need A (M×K) and B (K×N), got {A.shape} and {B.shape}")
    if dataflow not in ("os", "ws", "is") or rows < 1 or cols < 1:
        raise SpecError(f"bad array {rows}x{cols} or dataflow {dataflow!r}")
    R, C = rows, cols
    M, K = A.shape
    N = B.shape[1]
    out = np.zeros((M, N), dtype=np.result_type(A, B))
    fold_cycles = []
    if dataflow == "os":
        for fc in range(math.ceil(N / C)):
            for fr in range(math.ceil(M / R)):
                ms, ns = slice(fr * R, (fr + 1) * R), slice(fc * C, (fc + 1) * C)
                acc, cyc = _os_fold(_pad(A[ms, :], R, K), _pad(B[:, ns], K, C))
                out[ms, ns] = acc[:out[ms, ns].shape[0], :out[ms, ns].shape[1]]
                fold_cycles.append(cyc)
    elif dataflow == "ws":
        for fc in range(math.ceil(N / C)):
            for fr in range(math.ceil(K / R)):
                ks, ns = slice(fr * R, (fr + 1) * R), slice(fc * C, (fc + 1) * C)
                o, cyc = _stationary_fold(_pad(B[ks, ns], R, C), _pad(A[:, ks], M, R))
                out[:, ns] += o[:, :out[:, ns].shape[1]]
                fold_cycles.append(cyc)
    else:
        for fc in range(math.ceil(M / C)):
            for fr in range(math.ceil(K / R)):
                ks, ms = slice(fr * R, (fr + 1) * R), slice(fc * C, (fc + 1) * C)
                o, cyc = _stationary_fold(_pad(A[ms, ks].T, R, C), _pad(B[ks, :].T, N, R))
                out[ms, :] += o[:, :out[ms, :].shape[0]].T
                fold_cycles.append(cyc)
    return FunctionalResult(out, int(sum(fold_cycles)), tuple(fold_cycles))
