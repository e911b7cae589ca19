"""Fold geometry of SCALE-Sim's GEMM view: dataflows, operand kinds, demand rows per fold.

A layer is an M×N×K GEMM on an R×C array.  Each dataflow maps two GEMM dims to the array
(Sr rows × Sc columns of work, cut into rf × cf folds) and streams the third (T) through it;
every fold lasts ``cpf`` cycles.  The read helpers list, per fold, the valid operand addresses
in SCALE-Sim's demand order (row, then column); the kernels of calc.py and user.py walk them.
"""
from __future__ import annotations

from collections import namedtuple

from ...jit import helper, kernel

DATAFLOWS = ("os", "ws", "is")
OS, WS, IS = 0, 1, 2
IFMAP, FILTER = 0, 1
# which fold index an operand's fold content depends on: fr only, fc only, or both
KIND_FR, KIND_FC, KIND_ALL = 0, 1, 2

# Where each ifmap word sits: GEMM row m covers ifmap pixel (mrow, mcol) with address base
# mbase; GEMM column k adds the filter offset (krow, kcol), address kbase.  An (m, k) pair is
# valid when the window stays inside the H×W ifmap (SCALE-Sim's overhanging windows read nothing).
# Row-wise N:M (SCALE-Sim's OptimizedMapping, ws only; rowwise.py): bs > 0 is the block size, Kd
# the dense reduction the ifmap columns index (the kernels' K is then the condensed filter's Kh
# rows) and F the Kh × N condensed filter operand (−1: an empty slot); bs = 0 otherwise.
IfmapIndex = namedtuple("IfmapIndex", "H W mrow mcol mbase krow kcol kbase bs Kd F")


@kernel()  # (Python calls it too: fold_geometry, api._assemble)
def geometry(df, R, C, M, N, K):
    """(Sr, Sc, T, row folds, column folds, cycles per fold)."""
    if df == OS:
        Sr, Sc, T = M, N, K
        cpf = T + R + C - 2
    elif df == WS:
        Sr, Sc, T = K, N, M
        cpf = 2 * R + C + T - 2
    else:
        Sr, Sc, T = K, M, N
        cpf = 2 * R + C + T - 2
    rf = (Sr + R - 1) // R
    cf = (Sc + C - 1) // C
    return Sr, Sc, T, rf, cf, cpf


@helper(_nrt=True)
def ofmap_rows(df, fc, fr, R, C, M, N, T):
    """(a, b, Cp): row t of the fold holds min(Cp−1, t−a) − max(0, t−b) + 1 ofmap words
    for t in [a, b + Cp − 1] and none elsewhere."""
    if df == OS:
        Rp = min(R, M - fr * R)
        Cp = min(C, N - fc * C)
        return T - 1 + R - Rp, T + R - 2, Cp
    if df == WS:
        Cp = min(C, N - fc * C)
    else:
        Cp = min(C, M - fc * C)
    return 2 * R - 1, 2 * R - 2 + T, Cp


@helper(_nrt=True, inline="always")
def ifmap_ok(m, k, ix):
    return ix.mrow[m] + ix.krow[k] < ix.H and ix.mcol[m] + ix.kcol[k] < ix.W


@helper(_nrt=True, inline="always")
def ifmap_addr(m, k, ix):
    return ix.mbase[m] + ix.kbase[k]


@helper(_nrt=True)
def fold_reads(op, df, fc, fr, R, C, M, N, K, ix, rows_out, addr_out):
    """Valid read addresses of one fold in SCALE-Sim's demand order (row, then column); returns
    how many.  ifmap addresses are relative to the ifmap offset, filter ones to the filter's."""
    n = 0
    if df == OS:
        T = K
        if op == IFMAP:
            rmax = min(R, M - fr * R)
            for i in range(T + rmax - 1):
                for r in range(max(0, i - T + 1), min(rmax - 1, i) + 1):
                    m = fr * R + r
                    k = i - r
                    if ifmap_ok(m, k, ix):
                        rows_out[n] = i
                        addr_out[n] = ifmap_addr(m, k, ix)
                        n += 1
        else:
            cmax = min(C, N - fc * C)
            for i in range(T + cmax - 1):
                for c in range(max(0, i - T + 1), min(cmax - 1, i) + 1):
                    rows_out[n] = i
                    addr_out[n] = (fc * C + c) * K + (i - c)
                    n += 1
    elif df == WS and ix.bs > 0:
        n = _rowwise_fold_reads(op, fc, fr, R, C, M, N, K, ix, rows_out, addr_out)
    elif df == WS:
        T = M
        if op == IFMAP:
            rmax = min(R, K - fr * R)
            for i in range(R, R + T + rmax - 1):
                for r in range(max(0, i - R - T + 1), min(rmax - 1, i - R) + 1):
                    m = i - r - R
                    k = fr * R + r
                    if ifmap_ok(m, k, ix):
                        rows_out[n] = i
                        addr_out[n] = ifmap_addr(m, k, ix)
                        n += 1
        else:
            cmax = min(C, N - fc * C)
            for i in range(R):
                k = fr * R + R - 1 - i
                if k < K:
                    for c in range(cmax):
                        rows_out[n] = i
                        addr_out[n] = (fc * C + c) * K + k
                        n += 1
    else:
        T = N
        if op == IFMAP:
            cmax = min(C, M - fc * C)
            for i in range(R):
                k = fr * R + R - 1 - i
                if k < K:
                    for c in range(cmax):
                        m = fc * C + c
                        if ifmap_ok(m, k, ix):
                            rows_out[n] = i
                            addr_out[n] = ifmap_addr(m, k, ix)
                            n += 1
        else:
            rmax = min(R, K - fr * R)
            for i in range(R, R + T + rmax - 1):
                for r in range(max(0, i - R - T + 1), min(rmax - 1, i - R) + 1):
                    rows_out[n] = i
                    addr_out[n] = (i - r - R) * K + fr * R + r
                    n += 1
    return n


@helper(_nrt=True)
def _rowwise_fold_reads(op, fc, fr, R, C, M, N, Kh, ix, rows_out, addr_out):
    """ws with row-wise N:M (systolic_compute_ws with OptimizedMapping): the ifmap demand of
    fold fr is skew_matrix_row_sparsity of ifmap columns [2R·fr, 2R·fr + 2R) after R empty rows:
    skewed row i holds R blocks, block j = bs words of input row i − j taken from block
    j // (bs/2) of those columns (each block repeated bs/2 times); the filter demand is rows
    [R·fr, R·fr + R) of F, flipped, its empty slots skipped."""
    n = 0
    if op == IFMAP:
        bs = ix.bs
        hb = bs // 2
        for i in range(M + R - 1):
            for j in range(max(0, i - M + 1), min(R - 1, i) + 1):
                m = i - j
                k0 = fr * 2 * R + (j // hb) * bs
                for u in range(bs):
                    k = k0 + u
                    if k < ix.Kd and ifmap_ok(m, k, ix):
                        rows_out[n] = R + i
                        addr_out[n] = ifmap_addr(m, k, ix)
                        n += 1
        return n
    cmax = min(C, N - fc * C)
    for i in range(R):
        kh = fr * R + R - 1 - i
        if kh < Kh:
            for c in range(cmax):
                a = ix.F[kh, fc * C + c]
                if a >= 0:
                    rows_out[n] = i
                    addr_out[n] = a
                    n += 1
    return n


@helper(_nrt=True)
def fold_capacity(df, R, C, M, N, K, bs):
    """An upper bound on fold_reads' count: the size of its output buffers (bs: the row-wise
    block size, 0 without)."""
    if df == OS:
        return K * max(R, C) + 1
    if df == WS:
        return max(M * R + R * C, (M + R - 1) * R * bs) + 1
    return N * R + R * C + 1


@helper(_nrt=True)
def operand_kind(op, df):
    if df == OS:
        return KIND_FR if op == IFMAP else KIND_FC
    if df == WS:
        return KIND_FR if op == IFMAP else KIND_ALL
    return KIND_ALL if op == IFMAP else KIND_FR


@helper(_nrt=True)
def unit_fold(kind, g, rep, u, rf):
    """(fc, fr) of fold u of repetition rep of group g, for an operand of this kind: a group
    is a run of folds with distinct content, a repetition replays the same addresses."""
    if kind == KIND_FR:
        return rep, u
    if kind == KIND_FC:
        return g, rep
    return g // rf, g % rf


@helper(_nrt=True)
def groups(kind, rf, cf):
    """(groups, repetitions per group, folds per repetition) for an operand of this kind."""
    if kind == KIND_FR:
        return 1, cf, rf
    if kind == KIND_FC:
        return cf, rf, 1
    return rf * cf, 1, 1


@helper(_nrt=True)
def filter_fold_count(df, fc, fr, R, C, M, N, K):
    """Valid filter reads of one fold (each filter word occurs once per fold)."""
    if df == OS:
        return K * min(C, N - fc * C)
    if df == WS:
        return min(R, K - fr * R) * min(C, N - fc * C)
    return N * min(R, K - fr * R)


@helper(_nrt=True)
def last_read_row(op, df, R, C, M, N, K, ix, rows_buf, addr_buf):
    """Global demand row of the operand's last valid read (−1 if none)."""
    _, _, _, rf, cf, cpf = geometry(df, R, C, M, N, K)
    for f in range(rf * cf - 1, -1, -1):
        fc, fr = f // rf, f % rf
        n = fold_reads(op, df, fc, fr, R, C, M, N, K, ix, rows_buf, addr_buf)
        if n > 0:
            return f * cpf + rows_buf[n - 1]
    return -1


def fold_geometry(dataflow: str, rows: int, cols: int, M: int, N: int, K: int) -> dict:
    """Sr, Sc, T, row/col folds and cycles per fold (the kernel's per-fold formula)."""
    Sr, Sc, T, rf, cf, cpf = geometry(DATAFLOWS.index(dataflow), rows, cols, M, N, K)
    return dict(Sr=Sr, Sc=Sc, T=T, row_folds=rf, col_folds=cf, folds=rf * cf,
                cycles_per_fold=cpf)
