"""USER mode's prefetch stream: the order in which SCALE-Sim's read buffer fetches an operand
(create_*_prefetch_mat), cut into sets of words, and which sets hold each address."""
from __future__ import annotations

import numpy as np

from ...jit import helper
from .geometry import IFMAP, OS, WS, geometry, ifmap_addr, ifmap_ok


@helper(_nrt=True)
def _prefetch_elem(op, df, x, col, R, C, M, N, K, ix):
    """Element (x, col) of the stacked prefetch matrix, or −1 (no word)."""
    if df == OS:
        if op == IFMAP:                        # rf blocks of ifmapᵀ[:, fr] (K × R)
            fr, t = x // K, x % K
            m = fr * R + col
            if m < M and ifmap_ok(m, t, ix):
                return ifmap_addr(m, t, ix)
            return -1
        fc, t = x // K, x % K                  # cf blocks of filter[:, fc] (K × C)
        n = fc * C + col
        return n * K + t if n < N else -1
    if df == WS:
        if op == IFMAP:                        # rf blocks of ifmap[:, fr] (M × R)
            fr, m = x // M, x % M
            k = fr * R + col
            if k < K and ifmap_ok(m, k, ix):
                return ifmap_addr(m, k, ix)
            return -1
        fc, k = x // K, x % K                  # cf blocks of filter[:, fc] (K × C)
        n = fc * C + col
        if ix.bs > 0:                          # row-wise: the condensed filter F (K = Kh rows)
            return ix.F[k, n] if n < N else -1
        return n * K + k if n < N else -1
    if op == IFMAP:                            # cf blocks of ifmapᵀ[:, fc] (K × C)
        fc, k = x // K, x % K
        m = fc * C + col
        if m < M and ifmap_ok(m, k, ix):
            return ifmap_addr(m, k, ix)
        return -1
    fr, n = x // N, x % N                      # rf blocks of filter[fr, :]ᵀ (N × R)
    k = fr * R + col
    return n * K + k if k < K else -1


@helper(_nrt=True)
def prefetch_stream(op, df, R, C, M, N, K, ix):
    """The operand's addresses in fetch order, −1 where the matrix holds no word.  Row-wise
    (ix.bs > 0) the ifmap is prefetched as the dense ws ifmap (ix.Kd columns)."""
    if op == IFMAP and df == WS and ix.bs > 0:
        K = ix.Kd
    _, _, _, rf, cf, _ = geometry(df, R, C, M, N, K)
    if df == OS:
        Mr, Nc, roll = (rf * K, R, True) if op == IFMAP else (cf * K, C, True)
    elif df == WS:
        Mr, Nc, roll = (rf * M, R, True) if op == IFMAP else (cf * K, C, False)
    else:
        Mr, Nc, roll = (cf * K, C, False) if op == IFMAP else (rf * N, R, True)
    out = np.empty(Mr * Nc, np.int64)
    n = 0
    if roll:                                    # anti-diagonals, bottom-left to top-right
        for d in range(Mr + Nc - 1):
            for x in range(min(d, Mr - 1), max(0, d - Nc + 1) - 1, -1):
                out[n] = _prefetch_elem(op, df, x, d - x, R, C, M, N, K, ix)
                n += 1
    else:
        for x in range(Mr):
            for col in range(Nc):
                out[n] = _prefetch_elem(op, df, x, col, R, C, M, N, K, ix)
                n += 1
    return out


@helper(_nrt=True)
def build_sets(stream, eps, naddr):
    """Cut the stream into sets of eps valid words.  Returns (ptr, ids, number of sets): the
    set ids holding address a, ascending, are ids[ptr[a]:ptr[a + 1]] (CSR)."""
    cnt = np.zeros(naddr + 1, np.int64)
    last = np.full(naddr, -1, np.int64)
    sid = 0
    ctr = 0
    for e in stream:                 # pass 1: how many sets hold each address
        if e != -1:
            if last[e] != sid:
                last[e] = sid
                cnt[e + 1] += 1
            ctr += 1
            if ctr >= eps:
                sid += 1
                ctr = 0
    nl = sid + 1
    ptr = np.cumsum(cnt)
    ids = np.empty(ptr[naddr], np.int64)
    fill = ptr[:naddr].copy()
    last[:] = -1
    sid = 0
    ctr = 0
    for e in stream:                 # pass 2: the set ids themselves
        if e != -1:
            if last[e] != sid:
                last[e] = sid
                ids[fill[e]] = sid
                fill[e] += 1
            ctr += 1
            if ctr >= eps:
                sid += 1
                ctr = 0
    return ptr, ids, nl
