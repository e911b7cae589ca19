"""SCALE-Sim USER mode (InterfaceBandwidth: USER): read_buffer.py with prefetch sets (§4.2).

Every demand row is serviced.  A read buffer holds an active window of sets of the prefetch
stream (prefetch.py); an address outside the window shifts it by the prefetch sets, which
costs DRAM words and stalls the array.  The OFMAP side is the write buffer of write_buffer.py.
"""
from __future__ import annotations

import numpy as np
from numba import types
from numba.experimental import structref

from ...jit import helper, kernel
from .counts import (
    ERR_NO_PREFETCH_WINDOW,
    ERR_NONE,
    ERR_NOT_PREFETCHED,
    ERR_RING_OVERFLOW,
    KernelCounts,
    failed,
)
from .geometry import (
    FILTER,
    IFMAP,
    IfmapIndex,
    fold_capacity,
    fold_reads,
    geometry,
    ofmap_rows,
)
from .prefetch import build_sets, prefetch_stream
from .structs import new_struct
from .write_buffer import wb_finish, wb_new, wb_row


@structref.register
class ReadBufferType(types.StructRef):
    pass


_I64 = types.int64
READ_BUFFER = ReadBufferType([
    ("n_sets", _I64),         # sets in the prefetch stream
    ("n_active", _I64),       # sets in the active window
    ("n_prefetch", _I64),     # sets fetched by one window shift
    ("win_start", _I64),      # the window: sets [win_start, win_end) modulo n_sets
    ("win_end", _I64),
    ("refill_lines", _I64),   # DRAM lines of bw words per shift
    ("bw", _I64),             # words per cycle
    ("active_words", _I64),
    ("stream_lines", _I64),   # DRAM lines in the whole stream
    ("started", types.boolean),
    ("last_fetch", _I64),     # cycle the last fetch ends
    ("dram_words", _I64),
    ("dram_start", _I64),
    ("dram_stop", _I64),
    ("any_read", types.boolean),
    ("sram_start", _I64),     # first and last cycles that served a read
    ("sram_stop", _I64),
    ("set_ptr", types.int64[::1]),   # set ids of address a: set_ids[set_ptr[a]:set_ptr[a + 1]]
    ("set_ids", types.int64[::1]),
])


@helper(_nrt=True)
def _rb_new(op, df, R, C, M, N, K, ix, size, bw, naddr):
    stream = prefetch_stream(op, df, R, C, M, N, K, ix)
    eps = (size + 99) // 100                 # words per set
    ptr, ids, n_sets = build_sets(stream, eps, naddr)
    rb = new_struct(READ_BUFFER)
    active = (size + 1) // 2
    n_active = min((active + eps - 1) // eps, n_sets)
    rb.n_sets = n_sets
    rb.n_active = n_active
    rb.n_prefetch = min((size - active + eps - 1) // eps, n_sets - n_active)
    rb.win_start = 0
    rb.win_end = n_active
    rb.refill_lines = (size - active + bw - 1) // bw
    rb.bw = bw
    rb.active_words = active
    rb.stream_lines = (stream.shape[0] + bw - 1) // bw
    rb.started = False
    rb.last_fetch = 0
    rb.dram_words = 0
    rb.dram_start = 0
    rb.dram_stop = 0
    rb.any_read = False
    rb.sram_start = 0
    rb.sram_stop = 0
    rb.set_ptr = ptr
    rb.set_ids = ids
    return rb


@helper(_nrt=True)
def _rb_hit(rb, a):
    """Is address a in one of the window's sets?"""
    s = rb.win_start
    e = rb.win_end
    ids = rb.set_ids
    for j in range(rb.set_ptr[a], rb.set_ptr[a + 1]):
        x = ids[j]
        if s < e:
            if s <= x < e:
                return True
        elif x >= s or x < e:
            return True
    return False


@helper(_nrt=True)
def _rb_start(rb, cycle):
    """The first request: the active window is fetched before `cycle`."""
    bw = rb.bw
    n0 = min((rb.active_words + bw - 1) // bw, rb.stream_lines)
    rb.dram_words += n0 * bw
    rb.dram_start = cycle - n0
    rb.last_fetch = cycle - 1
    rb.dram_stop = cycle - 1
    rb.started = True


@helper(_nrt=True)
def _rb_row(rb, cycle, rows_buf, addr_buf, p, n, t):
    """service_reads of the addresses of row t (entries p.. of the fold buffer).
    Returns (serviced cycle, next entry, error)."""
    if not rb.started:
        _rb_start(rb, cycle)
    had = p < n and rows_buf[p] == t
    off = np.int64(1)
    while p < n and rows_buf[p] == t:
        a = addr_buf[p]
        if rb.set_ptr[a] == rb.set_ptr[a + 1]:
            return cycle + off, p, ERR_NOT_PREFETCHED
        while not _rb_hit(rb, a):
            if rb.n_prefetch == 0:
                return cycle + off, p, ERR_NO_PREFETCH_WINDOW
            s = (rb.win_start + rb.n_prefetch) % rb.n_sets
            rb.win_start = s
            rb.win_end = (s + rb.n_active) % rb.n_sets
            rb.dram_words += rb.refill_lines * rb.bw
            rb.last_fetch += rb.refill_lines + 1
            rb.dram_stop = rb.last_fetch
            q = rb.last_fetch - (cycle + off)
            off += q                     # SCALE-Sim adds the wait unconditionally ...
            if q > 0:
                off += q                 # ... and once more when it is positive
        p += 1
    if had:
        if not rb.any_read:
            rb.sram_start = cycle + off
            rb.any_read = True
        rb.sram_stop = cycle + off
    return cycle + off, p, ERR_NONE


@kernel()
def systolic_user_kernel(df, R, C, M, N, K, H, W, mrow, mcol, mbase, krow, kcol, kbase,
                         n_ifmap_addr, n_filter_addr, ifmap_words, filter_words, ofmap_words,
                         bs, Kd, F, ifmap_bw, filter_bw, ofmap_bw):
    """SCALE-Sim USER mode: every demand row is serviced; misses stall the array (bs, Kd, F:
    see IfmapIndex)."""
    ix = IfmapIndex(H, W, mrow, mcol, mbase, krow, kcol, kbase, bs, Kd, F)
    _, _, T, rf, cf, cpf = geometry(df, R, C, M, N, K)
    rb_if = _rb_new(IFMAP, df, R, C, M, N, K, ix, ifmap_words, ifmap_bw, n_ifmap_addr)
    rb_fi = _rb_new(FILTER, df, R, C, M, N, K, ix, filter_words, filter_bw, n_filter_addr)
    wb = wb_new(ofmap_words, ofmap_bw)
    cap = fold_capacity(df, R, C, M, N, K, bs)
    if_rows = np.empty(cap, np.int64)
    if_addr = np.empty(cap, np.int64)
    fi_rows = np.empty(cap, np.int64)
    fi_addr = np.empty(cap, np.int64)
    stall = np.int64(0)
    o = np.int64(0)
    of_any = False
    of_start = np.int64(0)
    of_stop = np.int64(0)
    for fc in range(cf):
        for fr in range(rf):
            base = (fc * rf + fr) * cpf
            ni = fold_reads(IFMAP, df, fc, fr, R, C, M, N, K, ix, if_rows, if_addr)
            nf = fold_reads(FILTER, df, fc, fr, R, C, M, N, K, ix, fi_rows, fi_addr)
            a, b, Cp = ofmap_rows(df, fc, fr, R, C, M, N, T)
            pi = 0
            pf = 0
            for t in range(cpf):
                c = base + t + stall
                io, pi, err = _rb_row(rb_if, c, if_rows, if_addr, pi, ni, t)
                if err != ERR_NONE:
                    return failed(err)
                fo, pf, err = _rb_row(rb_fi, c, fi_rows, fi_addr, pf, nf, t)
                if err != ERR_NONE:
                    return failed(err)
                if a <= t < b + Cp:
                    o = wb_row(wb, c, min(Cp - 1, t - a) - max(0, t - b) + 1)
                    if not of_any:
                        of_start = o
                        of_any = True
                    of_stop = o
                else:
                    o = c
                stall += max(io - c - 1, fo - c - 1, o - c)
    wb_finish(wb, o)
    error = ERR_RING_OVERFLOW if wb.overflow else ERR_NONE
    return KernelCounts(o, stall, rb_if.sram_start, rb_if.sram_stop,
                        rb_fi.sram_start, rb_fi.sram_stop, of_start, of_stop,
                        rb_if.dram_words, rb_fi.dram_words, wb.dram_words,
                        rb_if.dram_start, rb_if.dram_stop, rb_fi.dram_start, rb_fi.dram_stop,
                        wb.dram_start, wb.dram_stop, error)
