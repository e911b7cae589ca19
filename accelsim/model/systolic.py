"""Tile-level systolic-array model that reproduces SCALE-Sim v3.0.0's per-layer report.

The model follows docs/notes/scalesim-model.md.  It walks the folds of an M×N×K GEMM view of a
layer on an R×C array (dataflow os|ws|is) and, inside a fold, only the demand rows that carry
work.  Nothing is done per PE or per cycle of an idle row:

* compute side (Total Cycles, utilisations, SRAM counts) is closed form;
* the OFMAP write buffer is stepped per demand row with bulk word counts (§5.2);
* CALC read buffers (§4.1) never stall; their DRAM counts need the first occurrence of each
  address inside a 50-set "epoch", so the kernel walks the fold's valid addresses with an
  array of epoch stamps (no hashing).  Folds whose address set repeats (os ifmap across
  column folds, os filter across row folds, ws ifmap and is filter across column folds) are
  walked only until the epoch state repeats; the remaining repetitions are added in closed
  form;
* USER read buffers (§4.2) stall on misses, so the USER kernel walks every demand row and
  tests each valid address against the active set window (address → set ids in CSR form).

Kernels take arrays and scalars only (design rule 6); :func:`simulate_systolic` validates,
allocates and builds the :class:`SystolicResult`.

``scalesim_compat`` (default True) keeps SCALE-Sim's reporting quirks so every field equals
SCALE-Sim's output.  With it off:

* Total Cycles is ``F·cpf + stalls`` (SCALE-Sim reports the index of the last cycle, −1);
* os OFMAP SRAM writes are ``M·N`` (SCALE-Sim adds ``R + C`` per fold, a counter quirk);
* ws/is compute utilisation uses ``cpf`` cycles per fold (SCALE-Sim uses ``cpf + C − 1``);
* the GEMM view of a conv uses only in-range windows, ``E = ⌊(H − R)/s⌋ + 1``
  (SCALE-Sim: ``⌈(H − R + s)/s⌉``, see :meth:`SystolicLayer.gemm_view`).

The memory-system algorithms themselves (the USER read buffer's doubled wait, the OFMAP
drain's partial-line over-count, CALC's re-fetch after a window shift) are SCALE-Sim's in both
settings: they define the DRAM model being reproduced.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, asdict

import numpy as np
from numba import njit

from accelsim.errors import AccelsimBug, Problem, SpecError

__all__ = ["SystolicLayer", "SystolicConfig", "SystolicResult", "simulate_systolic",
           "fold_geometry", "DATAFLOWS"]

DATAFLOWS = ("os", "ws", "is")
_OS, _WS, _IS = 0, 1, 2
_IFMAP, _FILTER = 0, 1
_KIND_FR, _KIND_FC, _KIND_ALL = 0, 1, 2   # fold content depends on fr only / fc only / both

# output slots of the kernels
_TOTAL, _STALL = 0, 1
_IF_SS, _IF_SE, _FI_SS, _FI_SE, _OF_SS, _OF_SE = 2, 3, 4, 5, 6, 7
_IF_DR, _FI_DR, _OF_DW = 8, 9, 10
_IF_D0, _IF_D1, _FI_D0, _FI_D1, _OF_D0, _OF_D1 = 11, 12, 13, 14, 15, 16
_ERR = 17
_NOUT = 18
_ERR_MSG = {1: "USER read buffer cannot advance (prefetch window of 0 sets)",
            2: "demand address missing from the prefetch stream",
            3: "OFMAP write-buffer line ring overflow"}


# ------------------------------------------------------------------------------------------
# geometry
# ------------------------------------------------------------------------------------------

@njit(cache=True)
def _geometry(df, R, C, M, N, K):
    if df == _OS:
        Sr, Sc, T = M, N, K
        cpf = T + R + C - 2
    elif df == _WS:
        Sr, Sc, T = K, N, M
        cpf = 2 * R + C + T - 2
    else:
        Sr, Sc, T = K, M, N
        cpf = 2 * R + C + T - 2
    rf = (Sr + R - 1) // R
    cf = (Sc + C - 1) // C
    return Sr, Sc, T, rf, cf, cpf


@njit(cache=True)
def _ofmap_rows(df, fc, fr, R, C, M, N, T):
    """(a, b, Cp): row t of the fold holds min(Cp−1, t−a) − max(0, t−b) + 1 ofmap words
    for t in [a, b + Cp − 1] and none elsewhere."""
    if df == _OS:
        Rp = min(R, M - fr * R)
        Cp = min(C, N - fc * C)
        return T - 1 + R - Rp, T + R - 2, Cp
    if df == _WS:
        Cp = min(C, N - fc * C)
    else:
        Cp = min(C, M - fc * C)
    return 2 * R - 1, 2 * R - 2 + T, Cp


@njit(cache=True)
def _ifmap_ok(m, k, H, W, mrow, mcol, krow, kcol):
    return mrow[m] + krow[k] < H and mcol[m] + kcol[k] < W


@njit(cache=True)
def _fold_reads(op, df, fc, fr, R, C, M, N, K, H, W, mrow, mcol, mbase, krow, kcol, kbase,
                rows_out, addr_out):
    """Valid read addresses of one fold in SCALE-Sim's demand order (row, then column).
    ifmap addresses are relative to the ifmap offset, filter ones to the filter offset."""
    n = 0
    if df == _OS:
        T = K
        if op == _IFMAP:
            rmax = min(R, M - fr * R)
            for i in range(T + rmax - 1):
                for r in range(max(0, i - T + 1), min(rmax - 1, i) + 1):
                    m = fr * R + r
                    k = i - r
                    if _ifmap_ok(m, k, H, W, mrow, mcol, krow, kcol):
                        rows_out[n] = i
                        addr_out[n] = mbase[m] + kbase[k]
                        n += 1
        else:
            cmax = min(C, N - fc * C)
            for i in range(T + cmax - 1):
                for c in range(max(0, i - T + 1), min(cmax - 1, i) + 1):
                    rows_out[n] = i
                    addr_out[n] = (fc * C + c) * K + (i - c)
                    n += 1
    elif df == _WS:
        T = M
        if op == _IFMAP:
            rmax = min(R, K - fr * R)
            for i in range(R, R + T + rmax - 1):
                for r in range(max(0, i - R - T + 1), min(rmax - 1, i - R) + 1):
                    m = i - r - R
                    k = fr * R + r
                    if _ifmap_ok(m, k, H, W, mrow, mcol, krow, kcol):
                        rows_out[n] = i
                        addr_out[n] = mbase[m] + kbase[k]
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
        if op == _IFMAP:
            cmax = min(C, M - fc * C)
            for i in range(R):
                k = fr * R + R - 1 - i
                if k < K:
                    for c in range(cmax):
                        m = fc * C + c
                        if _ifmap_ok(m, k, H, W, mrow, mcol, krow, kcol):
                            rows_out[n] = i
                            addr_out[n] = mbase[m] + kbase[k]
                            n += 1
        else:
            rmax = min(R, K - fr * R)
            for i in range(R, R + T + rmax - 1):
                for r in range(max(0, i - R - T + 1), min(rmax - 1, i - R) + 1):
                    rows_out[n] = i
                    addr_out[n] = (i - r - R) * K + fr * R + r
                    n += 1
    return n


@njit(cache=True)
def _fold_capacity(df, R, C, M, N, K):
    if df == _OS:
        return K * max(R, C) + 1
    if df == _WS:
        return M * R + R * C + 1
    return N * R + R * C + 1


# ------------------------------------------------------------------------------------------
# OFMAP write buffer (memory/write_buffer.py), stepped per row with bulk word counts
# ------------------------------------------------------------------------------------------
# state slots
_W_TOTAL, _W_ACTIVE, _W_DRAIN, _W_BW, _W_FREE, _W_NL, _W_LI, _W_DS, _W_DEND = 0, 1, 2, 3, 4, 5, 6, 7, 8
_W_ACC, _W_CMIN, _W_CMAX, _W_HAS, _W_OVF = 9, 10, 11, 12, 13


@njit(cache=True)
def _wb_init(total, bw):
    wb = np.zeros(16, np.int64)
    active = (total + 1) // 2
    wb[_W_TOTAL] = total
    wb[_W_ACTIVE] = active
    wb[_W_DRAIN] = total - active
    wb[_W_BW] = bw
    wb[_W_FREE] = total
    lines = np.zeros(total + 4 * bw + 64, np.int64)
    return wb, lines


@njit(cache=True)
def _wb_store(wb, lines, n):
    bw = wb[_W_BW]
    wb[_W_FREE] -= n
    li = wb[_W_LI] + n
    nfull = li // bw
    cap = lines.shape[0]
    nl = wb[_W_NL]
    for j in range(nfull):
        lines[(nl + j) % cap] = bw
    wb[_W_NL] = nl + nfull
    wb[_W_LI] = li - nfull * bw
    if wb[_W_NL] - wb[_W_DS] >= cap:
        wb[_W_OVF] = 1


@njit(cache=True)
def _wb_force(wb, lines):
    if wb[_W_LI] > 0:
        lines[wb[_W_NL] % lines.shape[0]] = wb[_W_LI]
        wb[_W_NL] += 1
        wb[_W_LI] = 0


@njit(cache=True)
def _wb_drain(wb, lines, start):
    bw = wb[_W_BW]
    L = (wb[_W_DRAIN] + bw - 1) // bw
    end = min(wb[_W_DS] + L, wb[_W_NL])
    n = end - wb[_W_DS]
    data = n * bw - (bw - lines[(end - 1) % lines.shape[0]])
    wb[_W_ACC] += data
    stop = start + n - 1
    if wb[_W_HAS] == 0 or start < wb[_W_CMIN]:
        wb[_W_CMIN] = start
    if wb[_W_HAS] == 0 or stop > wb[_W_CMAX]:
        wb[_W_CMAX] = stop
    wb[_W_HAS] = 1
    wb[_W_FREE] += data
    wb[_W_DS] = end
    return stop


@njit(cache=True)
def _wb_row(wb, lines, cycle, k):
    """service_writes of one demand row holding k valid words; returns the serviced cycle."""
    cur = cycle
    while k > 0:
        free = wb[_W_FREE]
        if cur < wb[_W_DEND]:
            n = free if free > 1 else 1          # stores until free <= 0
            if n > k:
                _wb_store(wb, lines, k)
                k = 0
            else:
                _wb_store(wb, lines, n)
                k -= n
                cur = wb[_W_DEND]
        else:
            n = free - wb[_W_ACTIVE] + 1         # stores until free < active
            if n < 1:
                n = 1
            if n > k:
                _wb_store(wb, lines, k)
                k = 0
            else:
                _wb_store(wb, lines, n)
                k -= n
                _wb_force(wb, lines)
                wb[_W_DEND] = _wb_drain(wb, lines, cur)
    return cur


@njit(cache=True)
def _wb_finish(wb, lines, cycle):
    _wb_force(wb, lines)
    while wb[_W_DS] < wb[_W_NL]:
        wb[_W_DEND] = _wb_drain(wb, lines, cycle)
        cycle = wb[_W_DEND] + 1


# ------------------------------------------------------------------------------------------
# CALC mode (InterfaceBandwidth: CALC)
# ------------------------------------------------------------------------------------------

@njit(cache=True)
def _row_cycle(row, ev_row, ev_cum, nev):
    """cycle of demand row `row` = row + stalls accumulated by earlier rows."""
    j = np.searchsorted(ev_row[:nev], row) - 1
    if j < 0:
        return row
    return row + ev_cum[j]


@njit(cache=True)
def _operand_kind(op, df):
    if df == _OS:
        return _KIND_FR if op == _IFMAP else _KIND_FC
    if df == _WS:
        return _KIND_FR if op == _IFMAP else _KIND_ALL
    return _KIND_ALL if op == _IFMAP else _KIND_FR


@njit(cache=True)
def _calc_read(op, df, R, C, M, N, K, H, W, mrow, mcol, mbase, krow, kcol, kbase,
               naddr, S, rows_buf, addr_buf):
    """read_buffer_estimate_bw: returns (dram reads, #window shifts, row of the last shift,
    first row with a valid address).  Epoch = 50 closed sets of S unique words."""
    Sr, Sc, T, rf, cf, cpf = _geometry(df, R, C, M, N, K)
    kind = _operand_kind(op, df)
    if kind == _KIND_FR:
        ngroups, reps, ufolds = 1, cf, rf
    elif kind == _KIND_FC:
        ngroups, reps, ufolds = cf, rf, 1
    else:
        ngroups, reps, ufolds = rf * cf, 1, 1
    unit_rows = ufolds * cpf
    E = 50 * S
    if S == 0:
        E = np.int64(1) << 62
    stamp = np.full(naddr, -1, np.int32)
    epoch = 0
    cnt = 0
    adds = np.int64(0)
    nshift = np.int64(0)
    last_shift_row = np.int64(-1)
    first_row = np.int64(-1)
    h_pos = np.empty(reps, np.int64)
    h_rep = np.empty(reps, np.int64)
    h_adds = np.empty(reps, np.int64)
    h_shift = np.empty(reps, np.int64)
    for g in range(ngroups):
        nh = 0
        detect = True
        rep = 0
        while rep < reps:
            pos = 0
            last_b = -1
            for u in range(ufolds):
                fc, fr = _unit_fold(kind, g, rep, u, rf)
                base = (fc * rf + fr) * cpf
                n = _fold_reads(op, df, fc, fr, R, C, M, N, K, H, W, mrow, mcol, mbase,
                                krow, kcol, kbase, rows_buf, addr_buf)
                if first_row < 0 and n > 0:
                    first_row = base + rows_buf[0]
                for j in range(n):
                    a = addr_buf[j]
                    if stamp[a] != epoch:
                        stamp[a] = epoch
                        cnt += 1
                        adds += 1
                        if cnt == E:
                            epoch += 1
                            cnt = 0
                            nshift += 1
                            last_shift_row = base + rows_buf[j]
                            last_b = pos
                    pos += 1
            if last_b < 0:
                break                     # this repetition left every address resident
            if detect:
                found = -1
                for h in range(nh):
                    if h_pos[h] == last_b:
                        found = h
                        break
                if found >= 0:
                    period = rep - h_rep[found]
                    q = (reps - 1 - rep) // period
                    if q > 0:
                        d_adds = adds - h_adds[found]
                        d_shift = nshift - h_shift[found]
                        adds += q * d_adds
                        nshift += q * d_shift
                        last_shift_row += q * period * unit_rows
                        rep += q * period
                    detect = False
                else:
                    h_pos[nh] = last_b
                    h_rep[nh] = rep
                    h_adds[nh] = adds
                    h_shift[nh] = nshift
                    nh += 1
            rep += 1
    return adds, nshift, last_shift_row, first_row


@njit(cache=True)
def _unit_fold(kind, g, rep, u, rf):
    if kind == _KIND_FR:
        return rep, u
    if kind == _KIND_FC:
        return g, rep
    return g // rf, g % rf


@njit(cache=True)
def _filter_fold_count(df, fc, fr, R, C, M, N, K):
    """Valid filter reads of one fold (each filter word occurs once per fold)."""
    if df == _OS:
        return K * min(C, N - fc * C)
    if df == _WS:
        return min(R, K - fr * R) * min(C, N - fc * C)
    return N * min(R, K - fr * R)


@njit(cache=True)
def _calc_read_distinct(df, R, C, M, N, K, H, W, mrow, mcol, mbase, krow, kcol, kbase,
                        S, rows_buf, addr_buf):
    """_calc_read for the filter operand in closed form.  A filter fold never repeats a word
    and different groups never share one, so within a group of `reps` identical units of L
    words (L < E = 50·S) the first pass adds L words and the second re-adds only the words
    before the window shift; with L >= E every word is new on every pass."""
    Sr, Sc, T, rf, cf, cpf = _geometry(df, R, C, M, N, K)
    kind = _operand_kind(_FILTER, df)
    if kind == _KIND_FR:
        ngroups, reps, ufolds = 1, cf, rf
    elif kind == _KIND_FC:
        ngroups, reps, ufolds = cf, rf, 1
    else:
        ngroups, reps, ufolds = rf * cf, 1, 1
    E = 50 * S
    if S == 0:
        E = np.int64(1) << 62
    c = np.int64(0)
    adds = np.int64(0)
    nshift = np.int64(0)
    lg, lrep, lpos = -1, -1, -1
    for g in range(ngroups):
        L = np.int64(0)
        for u in range(ufolds):
            fc, fr = _unit_fold(kind, g, 0, u, rf)
            L += _filter_fold_count(df, fc, fr, R, C, M, N, K)
        if c + L < E:
            adds += L
            c += L
        elif L < E:
            adds += L
            nshift += 1
            lg, lrep, lpos = g, 0, E - c - 1
            if reps > 1:
                adds += E - c
                c = L
            else:
                c = L - (E - c)
        else:
            total = L * reps
            nb = (c + total) // E
            i_last = nb * E - c - 1                  # 0-based index in this group's stream
            adds += total
            nshift += nb
            lg, lrep, lpos = g, i_last // L, i_last % L
            c = (c + total) % E
    last_shift_row = np.int64(-1)
    if nshift > 0:
        pos = lpos
        for u in range(ufolds):
            fc, fr = _unit_fold(kind, lg, lrep, u, rf)
            cnt = _filter_fold_count(df, fc, fr, R, C, M, N, K)
            if pos < cnt:
                _fold_reads(_FILTER, df, fc, fr, R, C, M, N, K, H, W, mrow, mcol, mbase,
                            krow, kcol, kbase, rows_buf, addr_buf)
                last_shift_row = (fc * rf + fr) * cpf + rows_buf[pos]
                break
            pos -= cnt
    _fold_reads(_FILTER, df, 0, 0, R, C, M, N, K, H, W, mrow, mcol, mbase,
                krow, kcol, kbase, rows_buf, addr_buf)
    return adds, nshift, last_shift_row, rows_buf[0]


@njit(cache=True)
def _last_read_row(op, df, R, C, M, N, K, H, W, mrow, mcol, mbase, krow, kcol, kbase,
                   rows_buf, addr_buf):
    Sr, Sc, T, rf, cf, cpf = _geometry(df, R, C, M, N, K)
    for f in range(rf * cf - 1, -1, -1):
        fc, fr = f // rf, f % rf
        n = _fold_reads(op, df, fc, fr, R, C, M, N, K, H, W, mrow, mcol, mbase,
                        krow, kcol, kbase, rows_buf, addr_buf)
        if n > 0:
            return f * cpf + rows_buf[n - 1]
    return np.int64(-1)


@njit(cache=True)
def systolic_calc_kernel(df, R, C, M, N, K, H, W, mrow, mcol, mbase, krow, kcol, kbase,
                         n_ifmap_addr, n_filter_addr, ifmap_words, filter_words, ofmap_words):
    """SCALE-Sim CALC mode.  Returns the int64 output vector (slots _TOTAL.._ERR)."""
    out = np.zeros(_NOUT, np.int64)
    Sr, Sc, T, rf, cf, cpf = _geometry(df, R, C, M, N, K)
    F = rf * cf
    # ---- OFMAP drain at ArrayWidth words/cycle; it sets the only stalls of CALC mode
    wb, lines = _wb_init(ofmap_words, C)
    ev_row = np.empty(16, np.int64)
    ev_cum = np.empty(16, np.int64)
    nev = 0
    stall = np.int64(0)
    first = True
    for fc in range(cf):
        for fr in range(rf):
            base = (fc * rf + fr) * cpf
            a, b, Cp = _ofmap_rows(df, fc, fr, R, C, M, N, T)
            for t in range(a, b + Cp):
                cnt = min(Cp - 1, t - a) - max(0, t - b) + 1
                c = base + t + stall
                o = _wb_row(wb, lines, c, cnt)
                if first:
                    out[_OF_SS] = o
                    first = False
                out[_OF_SE] = o
                if o > c:
                    stall += o - c
                    if nev == ev_row.shape[0]:
                        ev_row = np.concatenate((ev_row, np.empty(nev, np.int64)))
                        ev_cum = np.concatenate((ev_cum, np.empty(nev, np.int64)))
                    ev_row[nev] = base + t
                    ev_cum[nev] = stall
                    nev += 1
    o_last = F * cpf - 1 + stall
    _wb_finish(wb, lines, o_last)
    out[_TOTAL] = o_last
    out[_STALL] = stall
    out[_OF_DW] = wb[_W_ACC]
    out[_OF_D0] = wb[_W_CMIN]
    out[_OF_D1] = wb[_W_CMAX]
    if wb[_W_OVF] != 0:
        out[_ERR] = 3
    # ---- read buffers: never stall, count DRAM words and the prefetch time window
    cap = _fold_capacity(df, R, C, M, N, K)
    rows_buf = np.empty(cap, np.int64)
    addr_buf = np.empty(cap, np.int64)
    for op in range(2):
        size = ifmap_words if op == _IFMAP else filter_words
        naddr = n_ifmap_addr if op == _IFMAP else n_filter_addr
        S = size // 100
        if op == _FILTER:
            adds, nshift, shift_row, first_row = _calc_read_distinct(
                df, R, C, M, N, K, H, W, mrow, mcol, mbase, krow, kcol, kbase,
                S, rows_buf, addr_buf)
        else:
            adds, nshift, shift_row, first_row = _calc_read(
                op, df, R, C, M, N, K, H, W, mrow, mcol, mbase, krow, kcol, kbase,
                naddr, S, rows_buf, addr_buf)
        last_row = _last_read_row(op, df, R, C, M, N, K, H, W, mrow, mcol, mbase,
                                  krow, kcol, kbase, rows_buf, addr_buf)
        first_cycle = _row_cycle(first_row, ev_row, ev_cum, nev)
        if nshift > 0:
            t0 = first_cycle - 5 * S                       # ceil(50·S/10) words at bw 10
            t1 = _row_cycle(shift_row, ev_row, ev_cum, nev) + 1
        else:
            if S > 0:
                nsets = (adds + S - 1) // S
            else:
                nsets = 1 if adds > 0 else 0
            t0 = -((nsets * S + 9) // 10)
            t1 = np.int64(-1)
        base_slot = _IF_DR if op == _IFMAP else _FI_DR
        out[base_slot] = adds
        d0 = _IF_D0 if op == _IFMAP else _FI_D0
        out[d0] = t0
        out[d0 + 1] = t1
        s0 = _IF_SS if op == _IFMAP else _FI_SS
        out[s0] = first_cycle + 1
        out[s0 + 1] = _row_cycle(last_row, ev_row, ev_cum, nev) + 1
    return out


# ------------------------------------------------------------------------------------------
# USER mode (InterfaceBandwidth: USER): read_buffer.py with hashed prefetch sets
# ------------------------------------------------------------------------------------------

@njit(cache=True)
def _prefetch_elem(op, df, x, col, R, C, M, N, K, H, W, mrow, mcol, mbase, krow, kcol, kbase):
    """Element (x, col) of the stacked prefetch matrix (create_*_prefetch_mat), or −1."""
    if df == _OS:
        if op == _IFMAP:                       # rf blocks of ifmapᵀ[:, fr] (K × R)
            fr, t = x // K, x % K
            m = fr * R + col
            if m < M and _ifmap_ok(m, t, H, W, mrow, mcol, krow, kcol):
                return mbase[m] + kbase[t]
            return -1
        fc, t = x // K, x % K                  # cf blocks of filter[:, fc] (K × C)
        n = fc * C + col
        return n * K + t if n < N else -1
    if df == _WS:
        if op == _IFMAP:                       # rf blocks of ifmap[:, fr] (M × R)
            fr, m = x // M, x % M
            k = fr * R + col
            if k < K and _ifmap_ok(m, k, H, W, mrow, mcol, krow, kcol):
                return mbase[m] + kbase[k]
            return -1
        fc, k = x // K, x % K                  # cf blocks of filter[:, fc] (K × C)
        n = fc * C + col
        return n * K + k if n < N else -1
    if op == _IFMAP:                           # cf blocks of ifmapᵀ[:, fc] (K × C)
        fc, k = x // K, x % K
        m = fc * C + col
        if m < M and _ifmap_ok(m, k, H, W, mrow, mcol, krow, kcol):
            return mbase[m] + kbase[k]
        return -1
    fr, n = x // N, x % N                      # rf blocks of filter[fr, :]ᵀ (N × R)
    k = fr * R + col
    return n * K + k if k < K else -1


@njit(cache=True)
def _prefetch_stream(op, df, R, C, M, N, K, H, W, mrow, mcol, mbase, krow, kcol, kbase):
    Sr, Sc, T, rf, cf, cpf = _geometry(df, R, C, M, N, K)
    if df == _OS:
        Mr, Nc, roll = (rf * K, R, True) if op == _IFMAP else (cf * K, C, True)
    elif df == _WS:
        Mr, Nc, roll = (rf * M, R, True) if op == _IFMAP else (cf * K, C, False)
    else:
        Mr, Nc, roll = (cf * K, C, False) if op == _IFMAP else (rf * N, R, True)
    out = np.empty(Mr * Nc, np.int64)
    n = 0
    if roll:                                    # anti-diagonals, bottom-left to top-right
        for d in range(Mr + Nc - 1):
            for x in range(min(d, Mr - 1), max(0, d - Nc + 1) - 1, -1):
                out[n] = _prefetch_elem(op, df, x, d - x, R, C, M, N, K, H, W,
                                        mrow, mcol, mbase, krow, kcol, kbase)
                n += 1
    else:
        for x in range(Mr):
            for col in range(Nc):
                out[n] = _prefetch_elem(op, df, x, col, R, C, M, N, K, H, W,
                                        mrow, mcol, mbase, krow, kcol, kbase)
                n += 1
    return out


@njit(cache=True)
def _build_sets(stream, eps, naddr):
    """Cut the stream into sets of eps valid words; CSR map address -> ascending set ids."""
    cnt = np.zeros(naddr + 1, np.int64)
    last = np.full(naddr, -1, np.int64)
    sid = 0
    ctr = 0
    for e in stream:
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
    for e in stream:
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


# read-buffer state slots
_R_NL, _R_NAL, _R_NPL, _R_S, _R_E, _R_LAST, _R_ACC, _R_T0, _R_T1, _R_ON = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9
_R_NREF, _R_BW, _R_A, _R_LF = 10, 11, 12, 13


@njit(cache=True)
def _rb_init(size, bw, stream_len, nl):
    rb = np.zeros(16, np.int64)
    A = (size + 1) // 2
    Pb = size - A
    eps = (size + 99) // 100
    nal = min((A + eps - 1) // eps, nl)
    rb[_R_NL] = nl
    rb[_R_NAL] = nal
    rb[_R_NPL] = min((Pb + eps - 1) // eps, nl - nal)
    rb[_R_NREF] = (Pb + bw - 1) // bw
    rb[_R_BW] = bw
    rb[_R_A] = A
    rb[_R_LF] = (stream_len + bw - 1) // bw
    rb[_R_E] = nal
    return rb


@njit(cache=True)
def _rb_hit(rb, ptr, ids, a):
    s = rb[_R_S]
    e = rb[_R_E]
    for j in range(ptr[a], ptr[a + 1]):
        x = ids[j]
        if s < e:
            if s <= x < e:
                return True
        elif x >= s or x < e:
            return True
    return False


@njit(cache=True)
def _rb_rows(rb, ptr, ids, cycle, rows_buf, addr_buf, p, n, t):
    """service_reads of the addresses of row t (entries p.. of the fold buffer).
    Returns (serviced cycle, next entry, error)."""
    if rb[_R_ON] == 0:
        bw = rb[_R_BW]
        n0 = min((rb[_R_A] + bw - 1) // bw, rb[_R_LF])
        rb[_R_ACC] += n0 * bw
        rb[_R_T0] = cycle - n0
        rb[_R_LAST] = cycle - 1
        rb[_R_T1] = cycle - 1
        rb[_R_ON] = 1
    off = np.int64(1)
    while p < n and rows_buf[p] == t:
        a = addr_buf[p]
        if ptr[a] == ptr[a + 1]:
            return cycle + off, p, 2
        while not _rb_hit(rb, ptr, ids, a):
            if rb[_R_NPL] == 0:
                return cycle + off, p, 1
            s = (rb[_R_S] + rb[_R_NPL]) % rb[_R_NL]
            rb[_R_S] = s
            rb[_R_E] = (s + rb[_R_NAL]) % rb[_R_NL]
            rb[_R_ACC] += rb[_R_NREF] * rb[_R_BW]
            rb[_R_LAST] += rb[_R_NREF] + 1
            rb[_R_T1] = rb[_R_LAST]
            q = rb[_R_LAST] - (cycle + off)
            off += q                     # SCALE-Sim adds the wait unconditionally ...
            if q > 0:
                off += q                 # ... and once more when it is positive
        p += 1
    return cycle + off, p, 0


@njit(cache=True)
def systolic_user_kernel(df, R, C, M, N, K, H, W, mrow, mcol, mbase, krow, kcol, kbase,
                         n_ifmap_addr, n_filter_addr, ifmap_words, filter_words, ofmap_words,
                         ifmap_bw, filter_bw, ofmap_bw):
    """SCALE-Sim USER mode: every demand row is serviced; misses stall the array."""
    out = np.zeros(_NOUT, np.int64)
    Sr, Sc, T, rf, cf, cpf = _geometry(df, R, C, M, N, K)
    s_if = _prefetch_stream(_IFMAP, df, R, C, M, N, K, H, W, mrow, mcol, mbase, krow, kcol, kbase)
    p_if, i_if, nl_if = _build_sets(s_if, (ifmap_words + 99) // 100, n_ifmap_addr)
    rb_if = _rb_init(ifmap_words, ifmap_bw, s_if.shape[0], nl_if)
    s_fi = _prefetch_stream(_FILTER, df, R, C, M, N, K, H, W, mrow, mcol, mbase, krow, kcol, kbase)
    p_fi, i_fi, nl_fi = _build_sets(s_fi, (filter_words + 99) // 100, n_filter_addr)
    rb_fi = _rb_init(filter_words, filter_bw, s_fi.shape[0], nl_fi)
    wb, lines = _wb_init(ofmap_words, ofmap_bw)
    cap = _fold_capacity(df, R, C, M, N, K)
    ir = np.empty(cap, np.int64)
    ia = np.empty(cap, np.int64)
    fr_ = np.empty(cap, np.int64)
    fa = np.empty(cap, np.int64)
    stall = np.int64(0)
    o = np.int64(0)
    got_i = False
    got_f = False
    got_o = False
    for fc in range(cf):
        for fr in range(rf):
            base = (fc * rf + fr) * cpf
            ni = _fold_reads(_IFMAP, df, fc, fr, R, C, M, N, K, H, W, mrow, mcol, mbase,
                             krow, kcol, kbase, ir, ia)
            nf = _fold_reads(_FILTER, df, fc, fr, R, C, M, N, K, H, W, mrow, mcol, mbase,
                             krow, kcol, kbase, fr_, fa)
            a, b, Cp = _ofmap_rows(df, fc, fr, R, C, M, N, T)
            pi = 0
            pf = 0
            for t in range(cpf):
                c = base + t + stall
                had = pi < ni and ir[pi] == t
                io, pi, err = _rb_rows(rb_if, p_if, i_if, c, ir, ia, pi, ni, t)
                if err != 0:
                    out[_ERR] = err
                    return out
                if had:
                    if not got_i:
                        out[_IF_SS] = io
                        got_i = True
                    out[_IF_SE] = io
                had = pf < nf and fr_[pf] == t
                fo, pf, err = _rb_rows(rb_fi, p_fi, i_fi, c, fr_, fa, pf, nf, t)
                if err != 0:
                    out[_ERR] = err
                    return out
                if had:
                    if not got_f:
                        out[_FI_SS] = fo
                        got_f = True
                    out[_FI_SE] = fo
                if a <= t < b + Cp:
                    cnt = min(Cp - 1, t - a) - max(0, t - b) + 1
                    o = _wb_row(wb, lines, c, cnt)
                    if not got_o:
                        out[_OF_SS] = o
                        got_o = True
                    out[_OF_SE] = o
                else:
                    o = c
                stall += max(io - c - 1, fo - c - 1, o - c)
    _wb_finish(wb, lines, o)
    out[_TOTAL] = o
    out[_STALL] = stall
    out[_OF_DW] = wb[_W_ACC]
    out[_OF_D0] = wb[_W_CMIN]
    out[_OF_D1] = wb[_W_CMAX]
    if wb[_W_OVF] != 0:
        out[_ERR] = 3
    out[_IF_DR] = rb_if[_R_ACC]
    out[_IF_D0] = rb_if[_R_T0]
    out[_IF_D1] = rb_if[_R_T1]
    out[_FI_DR] = rb_fi[_R_ACC]
    out[_FI_D0] = rb_fi[_R_T0]
    out[_FI_D1] = rb_fi[_R_T1]
    return out


# ------------------------------------------------------------------------------------------
# Python side: inputs, wrapper, result
# ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SystolicLayer:
    """A layer as SCALE-Sim sees it: conv (H, W ifmap; R×S filter; C channels; F filters;
    one stride for both directions, no padding).  A GEMM M×N×K is the conv
    H=M, W=K, R=1, S=K, C=1, F=N (``from_gemm``)."""
    H: int
    W: int
    R: int
    S: int
    C: int
    F: int
    stride: int = 1
    name: str = ""

    @classmethod
    def from_gemm(cls, M: int, N: int, K: int, name: str = "") -> "SystolicLayer":
        return cls(H=M, W=K, R=1, S=K, C=1, F=N, stride=1, name=name)

    def out_hw(self, scalesim_compat: bool = True) -> tuple[int, int]:
        s = self.stride
        if scalesim_compat:      # topology_utils: ceil((H − R + s)/s), windows may overhang
            return -(-(self.H - self.R + s) // s), -(-(self.W - self.S + s) // s)
        return (self.H - self.R) // s + 1, (self.W - self.S) // s + 1

    def gemm_view(self, scalesim_compat: bool = True) -> tuple[int, int, int]:
        Eh, Ew = self.out_hw(scalesim_compat)
        return Eh * Ew, self.F, self.R * self.S * self.C


@dataclass(frozen=True)
class SystolicConfig:
    """SCALE-Sim's array and memory parameters.  SRAM sizes are in words (SCALE-Sim: kB·1024
    with 1-byte words).  ``bandwidth`` is words/cycle: in USER mode it is the OFMAP drain
    bandwidth and, unless ``ifmap_read_bw``/``filter_read_bw`` are given, the read
    bandwidths (SCALE-Sim v3 reads those from IfmapSRAMBankBandwidth/FilterSRAMBankBandwidth)."""
    rows: int
    cols: int
    dataflow: str
    ifmap_sram_words: int
    filter_sram_words: int
    ofmap_sram_words: int
    bandwidth_mode: str = "CALC"
    bandwidth: int = 10
    ifmap_read_bw: int | None = None
    filter_read_bw: int | None = None

    @classmethod
    def from_kb(cls, rows, cols, dataflow, ifmap_kb, filter_kb, ofmap_kb, word_bytes=1,
                **kw) -> "SystolicConfig":
        w = lambda kb: int(kb * 1024) // word_bytes
        return cls(rows, cols, dataflow, w(ifmap_kb), w(filter_kb), w(ofmap_kb), **kw)


@dataclass(frozen=True)
class SystolicResult:
    """SCALE-Sim's COMPUTE, BANDWIDTH and DETAILED_ACCESS report fields of one layer
    (percentages in %, bandwidths in words/cycle, cycles as SCALE-Sim reports them)."""
    M: int
    N: int
    K: int
    folds: int
    cycles_per_fold: int
    total_cycles_incl_prefetch: int
    total_cycles: int
    stall_cycles: int
    overall_util_pct: float
    mapping_efficiency_pct: float
    compute_util_pct: float
    avg_ifmap_sram_bw: float
    avg_filter_sram_bw: float
    avg_ofmap_sram_bw: float
    avg_ifmap_dram_bw: float
    avg_filter_dram_bw: float
    avg_ofmap_dram_bw: float
    ifmap_sram_start: int
    ifmap_sram_stop: int
    ifmap_sram_reads: int
    filter_sram_start: int
    filter_sram_stop: int
    filter_sram_reads: int
    ofmap_sram_start: int
    ofmap_sram_stop: int
    ofmap_sram_writes: int
    ifmap_dram_start: int
    ifmap_dram_stop: int
    ifmap_dram_reads: int
    filter_dram_start: int
    filter_dram_stop: int
    filter_dram_reads: int
    ofmap_dram_start: int
    ofmap_dram_stop: int
    ofmap_dram_writes: int

    def as_dict(self) -> dict:
        return asdict(self)


def fold_geometry(dataflow: str, rows: int, cols: int, M: int, N: int, K: int) -> dict:
    """Sr, Sc, T, row/col folds and cycles per fold (the kernel's per-fold formula)."""
    Sr, Sc, T, rf, cf, cpf = _geometry(DATAFLOWS.index(dataflow), rows, cols, M, N, K)
    return dict(Sr=Sr, Sc=Sc, T=T, row_folds=rf, col_folds=cf, folds=rf * cf,
                cycles_per_fold=cpf)


def _ifmap_index(layer: SystolicLayer, M: int, K: int, scalesim_compat: bool):
    Eh, Ew = layer.out_hw(scalesim_compat)
    s, W, C = layer.stride, layer.W, layer.C
    m = np.arange(M, dtype=np.int64)
    orow, ocol = np.divmod(m, Ew)
    mrow, mcol = orow * s, ocol * s
    mbase = (mrow * W + mcol) * C
    k = np.arange(K, dtype=np.int64)
    krow, rem = np.divmod(k, layer.S * C)
    kcol, ch = np.divmod(rem, C)
    kbase = (krow * W + kcol) * C + ch
    return mrow, mcol, mbase, krow, kcol, kbase


def _check(cond, msg, problems):
    if not cond:
        problems.append(msg)


def simulate_systolic(layer: SystolicLayer, config: SystolicConfig, *,
                      scalesim_compat: bool = True) -> SystolicResult:
    """Run one layer; see the module docstring for what ``scalesim_compat`` changes."""
    problems: list[str] = []
    cfg = config
    _check(cfg.dataflow in DATAFLOWS, f"dataflow must be one of {DATAFLOWS}, got {cfg.dataflow!r}",
           problems)
    _check(cfg.bandwidth_mode in ("CALC", "USER"),
           f"bandwidth_mode must be CALC or USER, got {cfg.bandwidth_mode!r}", problems)
    for name in ("rows", "cols", "ifmap_sram_words", "filter_sram_words"):
        _check(int(getattr(cfg, name)) >= 1, f"{name} must be >= 1", problems)
    _check(cfg.ofmap_sram_words >= 2, "ofmap_sram_words must be >= 2", problems)
    for name in ("H", "W", "R", "S", "C", "F", "stride"):
        _check(int(getattr(layer, name)) >= 1, f"layer {layer.name!r}: {name} must be >= 1",
               problems)
    _check(layer.R <= layer.H and layer.S <= layer.W,
           f"layer {layer.name!r}: filter larger than ifmap", problems)
    user = cfg.bandwidth_mode == "USER"
    ibw = cfg.ifmap_read_bw if cfg.ifmap_read_bw is not None else cfg.bandwidth
    fbw = cfg.filter_read_bw if cfg.filter_read_bw is not None else cfg.bandwidth
    if not user:   # CALC: sets of ⌊size/100⌋ words; below 100 SCALE-Sim divides by zero
        _check(min(cfg.ifmap_sram_words, cfg.filter_sram_words) >= 100,
               "CALC mode needs ifmap and filter SRAMs of >= 100 words", problems)
    if user:
        _check(min(ibw, fbw, cfg.bandwidth) >= 1, "USER bandwidths must be >= 1 word/cycle",
               problems)
        _check(cfg.ifmap_sram_words >= 2 and cfg.filter_sram_words >= 2,
               "USER mode needs read SRAMs of >= 2 words", problems)
    if problems:
        raise SpecError([Problem(m, key_path="systolic") for m in problems])

    R, C = int(cfg.rows), int(cfg.cols)
    df = DATAFLOWS.index(cfg.dataflow)
    M, N, K = layer.gemm_view(scalesim_compat)
    idx = _ifmap_index(layer, M, K, scalesim_compat)
    H, W = int(layer.H), int(layer.W)
    n_if = H * W * layer.C
    n_fi = K * N
    args = (df, R, C, M, N, K, H, W, *idx, n_if, n_fi, int(cfg.ifmap_sram_words),
            int(cfg.filter_sram_words), int(cfg.ofmap_sram_words))
    if user:
        out = systolic_user_kernel(*args, int(ibw), int(fbw), int(cfg.bandwidth))
    else:
        out = systolic_calc_kernel(*args)
    if out[_ERR]:
        raise AccelsimBug(f"systolic kernel: {_ERR_MSG.get(int(out[_ERR]), out[_ERR])}")
    return _assemble(out, df, R, C, M, N, K, scalesim_compat)


def _assemble(out, df, R, C, M, N, K, compat) -> SystolicResult:
    Sr, Sc, T, rf, cf, cpf = _geometry(df, R, C, M, N, K)
    F = rf * cf
    o = [int(v) for v in out]
    total = o[_TOTAL] if compat else o[_TOTAL] + 1
    map_eff = Sr * Sc / (F * R * C)
    if df == _OS or not compat:
        util_den = cpf
    else:
        util_den = 2 * R + 2 * C + T - 3        # SCALE-Sim: demand rows + cols − 1
    if df == _OS:
        if_reads, fi_reads = M * K * cf, K * N * rf
        of_writes = M * N + (F * (R + C) if compat else 0)
    elif df == _WS:
        if_reads, fi_reads, of_writes = M * K * cf, K * N, M * N * rf
    else:
        if_reads, fi_reads, of_writes = M * K, K * N * cf, M * N * rf
    macs = M * N * K

    def ratio(n, d):          # SCALE-Sim divides by zero on a 1-cycle layer; report nan
        return n / d if d else math.nan

    def dram_bw(n, a, b):
        return ratio(n, b - a + 1)

    return SystolicResult(
        M=M, N=N, K=K, folds=F, cycles_per_fold=cpf,
        total_cycles_incl_prefetch=o[_OF_D1] - min(o[_IF_D0], o[_FI_D0]),
        total_cycles=total, stall_cycles=o[_STALL],
        overall_util_pct=ratio(100 * macs, total * R * C),
        mapping_efficiency_pct=100 * map_eff,
        compute_util_pct=100 * map_eff * T / util_den,
        avg_ifmap_sram_bw=ratio(if_reads, total), avg_filter_sram_bw=ratio(fi_reads, total),
        avg_ofmap_sram_bw=ratio(of_writes, total),
        avg_ifmap_dram_bw=dram_bw(o[_IF_DR], o[_IF_D0], o[_IF_D1]),
        avg_filter_dram_bw=dram_bw(o[_FI_DR], o[_FI_D0], o[_FI_D1]),
        avg_ofmap_dram_bw=dram_bw(o[_OF_DW], o[_OF_D0], o[_OF_D1]),
        ifmap_sram_start=o[_IF_SS], ifmap_sram_stop=o[_IF_SE], ifmap_sram_reads=if_reads,
        filter_sram_start=o[_FI_SS], filter_sram_stop=o[_FI_SE], filter_sram_reads=fi_reads,
        ofmap_sram_start=o[_OF_SS], ofmap_sram_stop=o[_OF_SE], ofmap_sram_writes=of_writes,
        ifmap_dram_start=o[_IF_D0], ifmap_dram_stop=o[_IF_D1], ifmap_dram_reads=o[_IF_DR],
        filter_dram_start=o[_FI_D0], filter_dram_stop=o[_FI_D1], filter_dram_reads=o[_FI_DR],
        ofmap_dram_start=o[_OF_D0], ofmap_dram_stop=o[_OF_D1], ofmap_dram_writes=o[_OF_DW],
    )
