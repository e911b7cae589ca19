"""The analytical model as one jitted kernel on lowered arrays: the mapper's inner evaluation.

It computes exactly what model/analytical.py computes (per level and tensor reads, fills,
updates and tile sizes; bandwidth-bound cycles) plus the layer's energy, in closed form:

Tile loads under Timeloop's reset-on-stride-change rule with uniform-loop extrapolation
(model/reuse.py walks 2^K tile visits for K outer loops). The walk's visits are the binary
counter over "iteration 0 / iteration ≥ 1" of each outer loop; the step into a visit whose
lowest flipped loop is k moves the tile by T_k = move_k − Σ_{j inner to k} move_j and stands
for (b_k − 1)·Π_{j outer to k} b_j real steps. A step of the innermost loop always reuses the
overlap; a step of an outer loop reuses it only when T_k equals the innermost loop's T (the
stride did not change), else it reloads the tile. So

    loads = full + Σ_k (b_k − 1) · Π_{j<k} b_j · (full − [reuse_k] · overlap(T_k)),

O(K · axes) instead of O(2^K). tests/kernels/test_nest_kernel.py checks it against the walk
and the whole kernel against `analyze` on random mappings.

Arrays (built by `pack_problem` in mapping/mapper.py; kernels take arrays and scalars only):
  axis_of[t, d]        the axis of tensor t that dim d indexes (−1: none)
  coef[t, d]           its coefficient there
  n_axes[t], is_output[t]
  level_int[l, :]      KIND, CAPACITY (words, -1 unlimited), BLOCK (words per access)
  level_float[l, :]    READ_BW, WRITE_BW (words/cycle, 0 unlimited), E_READ, E_WRITE, E_UPDATE (pJ)
  capable[l, t]        a fan-out at level l merges tensor t (multicast, or reduction for outputs)
  e_factor[l, t]       activity factor on level l's energy for tensor t
  Nest: loop_dim, loop_bound, loop_level, loop_spatial (first n entries, sorted top-down),
  keeps[l, t].
"""
from __future__ import annotations

import numpy as np
from numba import njit

KIND, CAPACITY, BLOCK = 0, 1, 2
READ_BW, WRITE_BW, E_READ, E_WRITE, E_UPDATE = 0, 1, 2, 3, 4
MEMORY, SPATIAL, COMPUTE = 0, 1, 2
READS, FILLS, UPDATES, TILE = 0, 1, 2, 3
OK, OVER_CAPACITY, BROKEN = 0, 1, 2


@njit(cache=True, _nrt=False)
def _interval_span(tc, te, a, m):
    """Sort axis a's terms by step; the span if its point set is one interval, else −1."""
    for q in range(1, m):  # insertion sort: m is a handful
        c, e, b = tc[a, q], te[a, q], q - 1
        while b >= 0 and tc[a, b] > c:
            tc[a, b + 1], te[a, b + 1] = tc[a, b], te[a, b]
            b -= 1
        tc[a, b + 1], te[a, b + 1] = c, e
    reach = 1
    for q in range(m):
        if tc[a, q] > reach:
            return -1
        reach += tc[a, q] * (te[a, q] - 1)
    return reach


@njit(cache=True, _nrt=False)
def _occupancy(tc, te, a, m, occ, base):
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


@njit(cache=True, _nrt=False)
def _axes(axis_of, coef, t, n_axes, loop_dim, loop_bound, stride, idx, n_idx, tc, te, m, span):
    """Gather every axis' terms (tc[a], te[a], m[a]) over the loops idx[:n_idx], and its span
    if the axis' point set is one interval (else −1). A dim indexes at most one axis."""
    for a in range(n_axes):
        m[a] = 0
    for q in range(n_idx):
        j = idx[q]
        d = loop_dim[j]
        a = axis_of[t, d]
        if a >= 0 and loop_bound[j] > 1:
            tc[a, m[a]] = coef[t, d] * stride[j]
            te[a, m[a]] = loop_bound[j]
            m[a] += 1
    for a in range(n_axes):
        span[a] = _interval_span(tc, te, a, m[a])


@njit(cache=True, _nrt=False)
def _axis_count(tc, te, a, m, span, shift, occ, base):
    """|S ∩ (S + shift)| for axis a's point set S (shift 0: |S|)."""
    s = abs(shift)
    if span[a] >= 0:
        return max(0, span[a] - s)
    full_span = _occupancy(tc, te, a, m[a], occ, base)
    count = 0
    for p in range(s, full_span):
        if occ[p] and occ[p - s]:
            count += 1
    return count


@njit(cache=True, _nrt=False)
def tile_size_k(axis_of, coef, t, n_axes, loop_dim, loop_bound, stride, idx, n_idx, tc, te, m, span,
                occ, base):
    _axes(axis_of, coef, t, n_axes, loop_dim, loop_bound, stride, idx, n_idx, tc, te, m, span)
    size = 1
    for a in range(n_axes):
        size *= _axis_count(tc, te, a, m, span, 0, occ, base)
    return size


@njit(cache=True, _nrt=False)
def tile_loads_k(axis_of, coef, t, n_axes, loop_dim, loop_bound, stride, idx, n_idx, outer, n_outer,
                 tc, te, m, span, occ, base, shifts):
    """Elements loaded into one tile instance over the outer temporal loops (closed form)."""
    full = tile_size_k(axis_of, coef, t, n_axes, loop_dim, loop_bound, stride, idx, n_idx, tc, te, m, span, occ, base)
    if n_outer == 0:
        return full
    # shifts[k, a] = T_k: the step of loop k minus the rewind of every loop inside it.
    for a in range(n_axes):
        inner_sum = 0
        for k in range(n_outer - 1, -1, -1):
            j = outer[k]
            d = loop_dim[j]
            move = coef[t, d] * stride[j] if axis_of[t, d] == a else 0
            shifts[k, a] = move - inner_sum
            inner_sum += move
    last = n_outer - 1
    total = full
    above = 1  # Π of the bounds of the loops outer to k
    for k in range(n_outer):
        b = loop_bound[outer[k]]
        reuse = k == last
        if not reuse:
            reuse = True
            for a in range(n_axes):
                if shifts[k, a] != shifts[last, a]:
                    reuse = False
                    break
        delta = full
        if reuse:
            kept = 1
            for a in range(n_axes):
                kept *= _axis_count(tc, te, a, m, span, shifts[k, a], occ, base)
                if kept == 0:
                    break
            delta = full - kept
        total += (b - 1) * above * delta
        above *= b
    return total


@njit(cache=True, _nrt=False)
def _loops_from(idx, lo, hi):
    """idx[:] = lo, lo+1, …, hi−1 (a level's loops and everything below); returns the count."""
    for j in range(lo, hi):
        idx[j - lo] = j
    return hi - lo


@njit(cache=True, _nrt=False)
def _temporal_above(outer, loop_spatial, hi):
    """outer[:] = the temporal loops before index hi, outer → inner; returns the count."""
    n_o = 0
    for j in range(hi):
        if not loop_spatial[j]:
            outer[n_o] = j
            n_o += 1
    return n_o


@njit(cache=True, _nrt=False)
def evaluate_nest(loop_dim, loop_bound, loop_level, loop_spatial, n, keeps,
                  axis_of, coef, n_axes, is_output, level_int, level_float, capable, e_factor,
                  energy_fixed_pj, energy_per_cycle_pj, counts, instances, level_cycles, scratch):
    """Counts, cycles and energy of one lowered mapping. Returns (status, energy pJ, cycles).

    counts[l, t, READS|FILLS|UPDATES|TILE] (per instance; FILLS holds a level's tile loads
    until pass 3 turns them into fills), instances[l] (utilized) and level_cycles[l] are written for every memory level.
    Capacities are checked before any reuse is computed, so infeasible mappings cost little.
    """
    stride, starts, idx, outer, tc, te, m, span, occ, base, shifts, running = scratch
    n_levels = level_int.shape[0]
    n_tensors = axis_of.shape[0]
    compute = n_levels - 1
    # Strides: how far one step of loop j moves its dim (product of inner loops on that dim).
    for d in range(running.shape[0]):
        running[d] = 1
    for j in range(n - 1, -1, -1):
        stride[j] = running[loop_dim[j]]
        running[loop_dim[j]] *= loop_bound[j]
    j = 0
    for l in range(n_levels + 1):
        while j < n and loop_level[j] < l:
            j += 1
        starts[l] = j
    steps = 1
    for j in range(n):
        if not loop_spatial[j]:
            steps *= loop_bound[j]
    top = 0
    while level_int[top, KIND] != MEMORY:
        top += 1
    # Pass 1: tiles and capacities.
    for i in range(n_levels):
        if level_int[i, KIND] != MEMORY:
            continue
        n_in = _loops_from(idx, starts[i], n)
        used = 0
        for t in range(n_tensors):
            counts[i, t, READS] = 0
            counts[i, t, FILLS] = 0
            counts[i, t, UPDATES] = 0
            counts[i, t, TILE] = 0
            if keeps[i, t]:
                tile = tile_size_k(axis_of, coef, t, n_axes[t], loop_dim, loop_bound, stride, idx, n_in,
                                   tc, te, m, span, occ, base)
                counts[i, t, TILE] = tile
                used += tile
        capacity = level_int[i, CAPACITY]
        if capacity >= 0 and used > capacity:
            return OVER_CAPACITY, 0.0, 0
    # Pass 2: tile loads over the temporal loops above each level (the top loads nothing).
    for i in range(n_levels):
        if level_int[i, KIND] != MEMORY or i == top:
            continue
        n_in = _loops_from(idx, starts[i], n)
        n_o = _temporal_above(outer, loop_spatial, starts[i])
        for t in range(n_tensors):
            if keeps[i, t]:
                counts[i, t, FILLS] = tile_loads_k(axis_of, coef, t, n_axes[t], loop_dim, loop_bound, stride,
                                                   idx, n_in, outer, n_o, tc, te, m, span, occ, base, shifts)
    # Pass 3: what each level serves its child (or the MACs), and the energy.
    energy = energy_fixed_pj
    cycles = steps
    for i in range(n_levels):
        if level_int[i, KIND] != MEMORY:
            continue
        s_i = starts[i]
        inst = 1
        for j in range(s_i):
            if loop_spatial[j]:
                inst *= loop_bound[j]
        instances[i] = inst
        read_words = 0
        write_words = 0
        level_energy = 0.0
        block = level_int[i, BLOCK]
        for t in range(n_tensors):
            if not keeps[i, t]:
                continue
            child = compute
            for c in range(i + 1, n_levels):
                if level_int[c, KIND] == MEMORY and keeps[c, t]:
                    child = c
                    break
            s_c = starts[child]
            n_u = 0
            separate = 1
            for j in range(s_i, s_c):
                if loop_spatial[j]:
                    if capable[loop_level[j], t]:
                        idx[n_u] = j
                        n_u += 1
                    else:
                        separate *= loop_bound[j]
            if child == compute:
                served = steps * separate
                if n_u > 0:
                    served *= tile_size_k(axis_of, coef, t, n_axes[t], loop_dim, loop_bound, stride, idx, n_u,
                                          tc, te, m, span, occ, base)
            elif n_u == 0:  # nothing merged on the way: the child's own loads
                served = separate * counts[child, t, FILLS]
            else:
                for j in range(s_c, n):
                    idx[n_u] = j
                    n_u += 1
                n_o = _temporal_above(outer, loop_spatial, s_c)
                served = separate * tile_loads_k(axis_of, coef, t, n_axes[t], loop_dim, loop_bound, stride,
                                                 idx, n_u, outer, n_o, tc, te, m, span, occ, base, shifts)
            loads = counts[i, t, FILLS]
            if is_output[t] and inst == 1:  # no fan-out above: every output is distinct here
                distinct = counts[top, t, TILE]
            elif is_output[t]:
                n_d = 0
                for j in range(n):
                    if j >= s_i or not loop_spatial[j]:
                        idx[n_d] = j
                        n_d += 1
                distinct = tile_size_k(axis_of, coef, t, n_axes[t], loop_dim, loop_bound, stride, idx, n_d,
                                       tc, te, m, span, occ, base)
            if is_output[t]:
                fills = 0 if i == top else loads - distinct
                if fills < 0 or served < distinct:
                    return BROKEN, 0.0, 0
                reads, updates = served - distinct, served
            else:
                reads, fills, updates = served, loads, 0
            counts[i, t, READS] = reads
            counts[i, t, FILLS] = fills  # parents, processed first, have read the loads
            counts[i, t, UPDATES] = updates
            read_words += reads
            write_words += fills + updates
            level_energy += e_factor[i, t] * (
                ((reads + block - 1) // block) * level_float[i, E_READ]
                + ((fills + block - 1) // block) * level_float[i, E_WRITE]
                + ((updates + block - 1) // block) * level_float[i, E_UPDATE])
        bw_cycles = 0
        if level_float[i, READ_BW] > 0:
            bw_cycles = max(bw_cycles, int(np.ceil(read_words / level_float[i, READ_BW])))
        if level_float[i, WRITE_BW] > 0:
            bw_cycles = max(bw_cycles, int(np.ceil(write_words / level_float[i, WRITE_BW])))
        level_cycles[i] = bw_cycles
        cycles = max(cycles, bw_cycles)
        energy += inst * level_energy
    energy += energy_per_cycle_pj * cycles
    return OK, energy, cycles


def nest_scratch(max_loops: int, max_axes: int, max_span: int, n_dims: int):
    """Work arrays for evaluate_nest, allocated once per search."""
    i64 = np.int64
    return (np.zeros(max_loops, i64),               # stride
            np.zeros(64, i64),                      # starts: first loop of each level
            np.zeros(max_loops, i64),               # idx: a loop index set
            np.zeros(max_loops, i64),               # outer: the temporal loops above a tile
            np.zeros((max_axes, max_loops), i64),   # tc: term steps per axis
            np.zeros((max_axes, max_loops), i64),   # te: term counts per axis
            np.zeros(max_axes, i64),                # m: terms per axis
            np.zeros(max_axes, i64),                # span: interval span per axis, −1 if holes
            np.zeros(max_span + 1, np.bool_),       # occ: occupancy of a holed axis
            np.zeros(max_span + 1, np.bool_),       # base: its copy while it grows
            np.zeros((max_loops, max_axes), i64),   # shifts: T_k per outer loop and axis
            np.zeros(n_dims, i64))                  # running: stride accumulator per dim
