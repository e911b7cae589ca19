"""SCALE-Sim CALC mode (InterfaceBandwidth: CALC): read buffers never stall.

The OFMAP drain at ArrayWidth words/cycle sets the only stalls (write_buffer.py).  The ifmap
and filter read buffers only count DRAM words and their prefetch window: a word is fetched the
first time it occurs inside an "epoch" of 50 sets of S = size/100 words (§4.1), so the kernel
walks the fold's valid addresses with an array of epoch stamps (no hashing).  Folds whose
address set repeats are walked only until the epoch state repeats; the remaining repetitions
are added in closed form, right after the first when it reads each word once and is at least
an epoch long (every later read is then a fetch).
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ...jit import helper, kernel
from .counts import ERR_NONE, ERR_RING_OVERFLOW, KernelCounts
from .geometry import (
    FILTER,
    IFMAP,
    IfmapIndex,
    filter_fold_count,
    fold_capacity,
    fold_reads,
    geometry,
    groups,
    last_read_row,
    ofmap_rows,
    operand_kind,
    unit_fold,
)
from .write_buffer import wb_finish, wb_new, wb_row

# Demand rows where the array stalled (ascending) and the stall cycles accumulated up to and
# including each: the cycle of a later row is row + the last cum before it.
Stalls = namedtuple("Stalls", "rows cum n")

_NEVER = np.int64(1) << 62     # an epoch that never closes (S = 0)


@helper(_nrt=True)
def _row_cycle(row, stalls):
    """Cycle of demand row `row` = row + stalls accumulated by earlier rows."""
    j = np.searchsorted(stalls.rows[:stalls.n], row) - 1
    if j < 0:
        return row
    return row + stalls.cum[j]


@helper(_nrt=True)
def _ofmap_drain(df, R, C, M, N, K, wb):
    """Step the write buffer over every row that writes ofmap words.  Returns (stalls,
    first and last serviced cycles)."""
    _, _, T, rf, cf, cpf = geometry(df, R, C, M, N, K)
    rows = np.empty(16, np.int64)
    cum = np.empty(16, np.int64)
    n = 0
    stall = np.int64(0)
    got = False
    first = np.int64(0)
    o = np.int64(0)
    for fc in range(cf):
        for fr in range(rf):
            base = (fc * rf + fr) * cpf
            a, b, Cp = ofmap_rows(df, fc, fr, R, C, M, N, T)
            for t in range(a, b + Cp):
                cnt = min(Cp - 1, t - a) - max(0, t - b) + 1
                c = base + t + stall
                o = wb_row(wb, c, cnt)
                if not got:
                    first = o
                    got = True
                if o > c:
                    stall += o - c
                    if n == rows.shape[0]:          # grow the event arrays
                        rows = np.concatenate((rows, np.empty(n, np.int64)))
                        cum = np.concatenate((cum, np.empty(n, np.int64)))
                    rows[n] = base + t
                    cum[n] = stall
                    n += 1
    return Stalls(rows, cum, n), first, o


@helper(_nrt=True)
def _calc_read(op, df, R, C, M, N, K, ix, naddr, S, rows_buf, addr_buf):
    """read_buffer_estimate_bw: returns (dram reads, #window shifts, row of the last shift,
    first row with a valid address).  Epoch = 50 closed sets of S unique words."""
    _, _, _, rf, cf, cpf = geometry(df, R, C, M, N, K)
    kind = operand_kind(op, df)
    ngroups, reps, ufolds = groups(kind, rf, cf)
    unit_rows = ufolds * cpf
    E = 50 * S if S > 0 else _NEVER
    stamp = np.full(naddr, -1, np.int32)      # epoch in which each address was last fetched
    epoch = 0
    cnt = 0                                   # words fetched in the current epoch
    adds = np.int64(0)
    nshift = np.int64(0)
    last_shift_row = np.int64(-1)
    first_row = np.int64(-1)
    # per repetition: stream position of its last shift and the counts so far, to detect
    # that the epoch state repeats with some period
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
            fresh = 0                     # visits of an address not visited before
            for u in range(ufolds):
                fc, fr = unit_fold(kind, g, rep, u, rf)
                base = (fc * rf + fr) * cpf
                n = fold_reads(op, df, fc, fr, R, C, M, N, K, ix, rows_buf, addr_buf)
                if first_row < 0 and n > 0:
                    first_row = base + rows_buf[0]
                for j in range(n):
                    a = addr_buf[j]
                    if stamp[a] < 0:
                        fresh += 1
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
            if rep == 0 and ngroups == 1 and reps > 1 and fresh == pos and pos >= E:
                # A repetition visits each address once and is at least an epoch (E fetches) long:
                # every later visit comes a whole repetition of fetches after the address's last
                # fetch, in a later epoch, so it is fetched again. The other repetitions in closed
                # form (ResNet-50's 1x1 convolutions: up to 16 repetitions walked otherwise).
                total = pos * (reps - 1)
                nb = (cnt + total) // E
                adds += total
                nshift += nb
                if nb > 0:
                    i_last = nb * E - cnt - 1     # the fetch that closes the last epoch
                    last_shift_row = _stream_row(op, df, R, C, M, N, K, ix, kind, g, 1 + i_last // pos, ufolds,
                                                 i_last % pos, rows_buf, addr_buf)
                break
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
                        adds += q * (adds - h_adds[found])
                        nshift += q * (nshift - h_shift[found])
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


@helper(_nrt=True)
def _stream_row(op, df, R, C, M, N, K, ix, kind, g, rep, ufolds, p, rows_buf, addr_buf):
    """Demand row of the p-th valid read of repetition `rep` of group g (`ufolds` folds)."""
    _, _, _, rf, _, cpf = geometry(df, R, C, M, N, K)
    for u in range(ufolds):
        fc, fr = unit_fold(kind, g, rep, u, rf)
        n = fold_reads(op, df, fc, fr, R, C, M, N, K, ix, rows_buf, addr_buf)
        if p < n:
            return (fc * rf + fr) * cpf + rows_buf[p]
        p -= n
    return np.int64(-1)


@helper(_nrt=True)
def _calc_read_distinct(df, R, C, M, N, K, ix, S, rows_buf, addr_buf):
    """_calc_read for the filter operand in closed form.  A filter fold never repeats a word
    and different groups never share one, so within a group of `reps` identical units of L
    words (L < E = 50·S) the first pass adds L words and the second re-adds only the words
    before the window shift; with L >= E every word is new on every pass."""
    _, _, _, rf, cf, cpf = geometry(df, R, C, M, N, K)
    kind = operand_kind(FILTER, df)
    ngroups, reps, ufolds = groups(kind, rf, cf)
    E = 50 * S if S > 0 else _NEVER
    c = np.int64(0)                           # words fetched in the current epoch
    adds = np.int64(0)
    nshift = np.int64(0)
    lg, lrep, lpos = -1, -1, -1               # group, repetition, position of the last shift
    for g in range(ngroups):
        L = np.int64(0)
        for u in range(ufolds):
            fc, fr = unit_fold(kind, g, 0, u, rf)
            L += filter_fold_count(df, fc, fr, R, C, M, N, K)
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
            fc, fr = unit_fold(kind, lg, lrep, u, rf)
            cnt = filter_fold_count(df, fc, fr, R, C, M, N, K)
            if pos < cnt:
                fold_reads(FILTER, df, fc, fr, R, C, M, N, K, ix, rows_buf, addr_buf)
                last_shift_row = (fc * rf + fr) * cpf + rows_buf[pos]
                break
            pos -= cnt
    fold_reads(FILTER, df, 0, 0, R, C, M, N, K, ix, rows_buf, addr_buf)
    return adds, nshift, last_shift_row, rows_buf[0]


@helper(_nrt=True)
def _calc_operand(op, df, R, C, M, N, K, ix, naddr, words, stalls, rows_buf, addr_buf):
    """(dram reads, dram start, dram stop, sram start, sram stop) of one read operand."""
    S = words // 100
    if op == FILTER and ix.bs == 0:      # row-wise filters have empty slots: walk them
        adds, nshift, shift_row, first_row = _calc_read_distinct(
            df, R, C, M, N, K, ix, S, rows_buf, addr_buf)
    else:
        adds, nshift, shift_row, first_row = _calc_read(
            op, df, R, C, M, N, K, ix, naddr, S, rows_buf, addr_buf)
    last_row = last_read_row(op, df, R, C, M, N, K, ix, rows_buf, addr_buf)
    first_cycle = _row_cycle(first_row, stalls)
    if nshift > 0:
        t0 = first_cycle - 5 * S                       # ceil(50·S/10) words at bw 10
        t1 = _row_cycle(shift_row, stalls) + 1
    else:
        if S > 0:
            nsets = (adds + S - 1) // S
        else:
            nsets = 1 if adds > 0 else 0
        t0 = -((nsets * S + 9) // 10)
        t1 = np.int64(-1)
    return adds, t0, t1, first_cycle + 1, _row_cycle(last_row, stalls) + 1


@kernel()
def systolic_calc_kernel(df, R, C, M, N, K, H, W, mrow, mcol, mbase, krow, kcol, kbase,
                         n_ifmap_addr, n_filter_addr, ifmap_words, filter_words, ofmap_words,
                         bs, Kd, F):
    """SCALE-Sim CALC mode: one layer's KernelCounts (bs, Kd, F: see IfmapIndex)."""
    ix = IfmapIndex(H, W, mrow, mcol, mbase, krow, kcol, kbase, bs, Kd, F)
    _, _, _, rf, cf, cpf = geometry(df, R, C, M, N, K)
    wb = wb_new(ofmap_words, C)                # drains ArrayWidth words/cycle
    stalls, of_start, of_stop = _ofmap_drain(df, R, C, M, N, K, wb)
    stall = stalls.cum[stalls.n - 1] if stalls.n > 0 else np.int64(0)
    total = rf * cf * cpf - 1 + stall
    wb_finish(wb, total)
    cap = fold_capacity(df, R, C, M, N, K, bs)
    rows_buf = np.empty(cap, np.int64)
    addr_buf = np.empty(cap, np.int64)
    if_reads, if_d0, if_d1, if_s0, if_s1 = _calc_operand(
        IFMAP, df, R, C, M, N, K, ix, n_ifmap_addr, ifmap_words, stalls, rows_buf, addr_buf)
    fi_reads, fi_d0, fi_d1, fi_s0, fi_s1 = _calc_operand(
        FILTER, df, R, C, M, N, K, ix, n_filter_addr, filter_words, stalls, rows_buf, addr_buf)
    error = ERR_RING_OVERFLOW if wb.overflow else ERR_NONE
    return KernelCounts(total, stall, if_s0, if_s1, fi_s0, fi_s1, of_start, of_stop,
                        if_reads, fi_reads, wb.dram_words, if_d0, if_d1, fi_d0, fi_d1,
                        wb.dram_start, wb.dram_stop, error)
