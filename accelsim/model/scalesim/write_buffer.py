"""SCALE-Sim's OFMAP write buffer (memory/write_buffer.py), stepped per demand row with bulk
word counts (docs/notes/scalesim-model.md §5.2).

The buffer holds ``size`` words: an active half that fills and a drain half.  Words are packed
into lines of ``bw`` words; when the active half is full, the closed lines are drained to DRAM
at one line per cycle and the array stalls until the previous drain has ended.  The state is
one WRITE_BUFFER struct (a Numba structref, fields named below).
"""
from __future__ import annotations

import numpy as np
from numba import types
from numba.experimental import structref

from ...jit import helper
from .structs import new_struct


@structref.register
class WriteBufferType(types.StructRef):
    pass


_I64 = types.int64
WRITE_BUFFER = WriteBufferType([
    ("size", _I64),           # words
    ("active_words", _I64),   # words that fill before a drain starts
    ("drain_words", _I64),    # words one drain may take
    ("bw", _I64),             # words per line = words drained per cycle
    ("free", _I64),           # free words
    ("n_lines", _I64),        # lines closed so far (ring index of the next one)
    ("open_words", _I64),     # words in the line being filled
    ("drained", _I64),        # lines drained so far
    ("drain_end", _I64),      # cycle the last drain ends
    ("dram_words", _I64),     # words written to DRAM
    ("dram_start", _I64),     # first and last drain cycles
    ("dram_stop", _I64),
    ("any_drain", types.boolean),
    ("overflow", types.boolean),  # the line ring wrapped (a bug: it is sized not to)
    ("lines", types.int64[::1]),  # ring of closed, undrained lines: words in each
])


@helper(_nrt=True)
def wb_new(size, bw):
    wb = new_struct(WRITE_BUFFER)
    active = (size + 1) // 2
    wb.size = size
    wb.active_words = active
    wb.drain_words = size - active
    wb.bw = bw
    wb.free = size
    wb.n_lines = 0
    wb.open_words = 0
    wb.drained = 0
    wb.drain_end = 0
    wb.dram_words = 0
    wb.dram_start = 0
    wb.dram_stop = 0
    wb.any_drain = False
    wb.overflow = False
    wb.lines = np.zeros(size + 4 * bw + 64, np.int64)
    return wb


@helper(_nrt=True)
def _store(wb, n):
    """Store n words: fill the open line and close every line that fills."""
    bw = wb.bw
    wb.free -= n
    fill = wb.open_words + n
    nfull = fill // bw
    lines = wb.lines
    cap = lines.shape[0]
    nl = wb.n_lines
    for j in range(nfull):
        lines[(nl + j) % cap] = bw
    wb.n_lines = nl + nfull
    wb.open_words = fill - nfull * bw
    if wb.n_lines - wb.drained >= cap:
        wb.overflow = True


@helper(_nrt=True)
def _close_open_line(wb):
    if wb.open_words > 0:
        wb.lines[wb.n_lines % wb.lines.shape[0]] = wb.open_words
        wb.n_lines += 1
        wb.open_words = 0


@helper(_nrt=True)
def _drain(wb, start):
    """Drain up to drain_words of closed lines from cycle `start`; returns the last cycle.
    SCALE-Sim counts every drained line as full except the last (the partial-line over-count)."""
    bw = wb.bw
    L = (wb.drain_words + bw - 1) // bw
    end = min(wb.drained + L, wb.n_lines)
    n = end - wb.drained
    data = n * bw - (bw - wb.lines[(end - 1) % wb.lines.shape[0]])
    wb.dram_words += data
    stop = start + n - 1
    if not wb.any_drain or start < wb.dram_start:
        wb.dram_start = start
    if not wb.any_drain or stop > wb.dram_stop:
        wb.dram_stop = stop
    wb.any_drain = True
    wb.free += data
    wb.drained = end
    return stop


@helper(_nrt=True)
def wb_row(wb, cycle, k):
    """service_writes of one demand row holding k valid words; returns the serviced cycle."""
    cur = cycle
    while k > 0:
        draining = cur < wb.drain_end
        # stores until free <= 0 while a drain runs, else until free < active
        n = max(wb.free if draining else wb.free - wb.active_words + 1, 1)
        stored = min(n, k)
        _store(wb, stored)
        k -= stored
        if stored < n:                           # the row fits before the buffer fills
            break
        if draining:
            cur = wb.drain_end
        else:
            _close_open_line(wb)
            wb.drain_end = _drain(wb, cur)
    return cur


@helper(_nrt=True)
def wb_finish(wb, cycle):
    """Drain everything left after the last row, one drain after another."""
    _close_open_line(wb)
    while wb.drained < wb.n_lines:
        wb.drain_end = _drain(wb, cycle)
        cycle = wb.drain_end + 1
