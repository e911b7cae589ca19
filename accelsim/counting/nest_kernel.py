"""The analytical model as one jitted kernel on lowered arrays: the mapper's inner evaluation.

The counting core: the analytical model (model/analytical.py) and the mapper's evaluation both
run it. Per level and tensor: reads, fills, updates and tile sizes; bandwidth-bound cycles; the
layer's energy, in closed form:

Tile loads under Timeloop's reset-on-stride-change rule with uniform-loop extrapolation
(tests/kernels/naive_analytical.py walks 2^K tile visits for K outer loops). The walk's visits are the binary
counter over "iteration 0 / iteration ≥ 1" of each outer loop; the step into a visit whose
lowest flipped loop is k moves the tile by T_k = move_k − Σ_{j inner to k} move_j and stands
for (b_k − 1)·Π_{j outer to k} b_j real steps. A step of the innermost loop always reuses the
overlap; a step of an outer loop reuses it only when T_k equals the innermost loop's T (the
stride did not change), else it reloads the tile. So

    loads = full + Σ_k (b_k − 1) · Π_{j<k} b_j · (full − [reuse_k] · overlap(T_k))
          = full · Π_k b_k − Σ_{reuse k} (b_k − 1) · Π_{j<k} b_j · overlap(T_k),

O(K · axes) instead of O(2^K). With prefix sums over the temporal loops, T_k = R_k − Σ_{j<K} move_j
where R_k = Σ_{j<k} move_j + 2·move_k does not depend on the level, so a step reuses iff R_k equals
R_{K−1}, every reusing step shifts the tile by the same move_{K−1} (one axis), and the weights of
each R-class are prefix sums too: the reuse terms of every level and tensor come from one pass
(_reuse_classes), and a level's loads need one overlap count.

Point sets are built per dim, not per loop: every loop below a level covers [0, ext) of each
dim, so a tensor axis Σ c_d·x_d is a few (c_d, ext_d) terms; loops left out of a set (a fan-out
that does not multicast, a temporal loop above a fan-out) add terms of their own. An axis is then
counted in closed form when it is g · (an interval) or g · (equal blocks at a fixed period), and
point by point otherwise. A tensor whose axes each index one dim (outputs, GEMM operands,
convolution weights) needs no point sets: the strides of a dim's loops are a mixed radix, so any
set of its loops reaches distinct points and a set's size is the product of their bounds (only the
axis a reuse step moves is built, for its overlap). Tiles carry over in the scratch from one call
to the next while their level's dim ranges stay the same. tests/kernels/test_nest_kernel.py checks
the counts against the walk and the whole kernel against `analyze` on random mappings.

Arrays (built by `pack_problem` in model/packed.py; kernels take arrays and scalars only):
  axis_of[t, d]        the axis of tensor t that dim d indexes (−1: none)
  coef[t, d]           its coefficient there
  axis_dims[t, a, :]   the dims axis a of tensor t sums, axis_nd[t, a] of them
  n_axes[t], is_output[t]
  one_dim[t]           every axis of tensor t indexes one dim: each of its point sets is a product
                       over its dims of mixed-radix digit sets, its size the product of the loops' bounds
  level_int[l, :]      KIND, CAPACITY (words, -1 unlimited), BLOCK (words per access), CLUSTER
                       (instances per shared array), HW_INSTANCES, BLOCK_SHIFT (log2 BLOCK if a power
                       of two, else −1), CLUSTER_R and CLUSTER_AXES with
  cluster_axes[l, q]   the fan-out axes (spatial level, x 0 | y 1) its clusters are counted on:
                       ⌈u_0 / CLUSTER_R⌉ · Π_{q>0} u_q (CLUSTERS_TOUCHED; tests/kernels/naive_analytical._clusters_used)
  level_float[l, :]    READ_BW, WRITE_BW (words/cycle, 0 unlimited), E_READ, E_WRITE, E_UPDATE (pJ),
                       LEAK (pJ per cycle per utilized instance; leakage of all instances is in
                       energy_per_cycle_pj)
  merges[l, t, d]      a fan-out loop over dim d at level l merges tensor t (multicast, or
                       reduction for outputs; CountingConvention.merges)
  hold_spatial_innermost, cluster_rule   the counting convention's rules (counting/conventions):
                       with a spatial innermost loop, MAC operands are reused like a tile; how a
                       clustered memory is charged
  e_factor[l, t]       activity factor on level l's energy for tensor t
  mac_energy_pj[h, f]  the layer's MAC energy when operand h is held and f products reduce in space
  held_by_dim[d], output_ignores[d]   what a loop on d holds (innermost temporal), reduces (spatial)
  Nest: loop_dim, loop_bound, loop_level, loop_spatial, loop_axis (first n entries, top-down),
  keeps[l, t] (nest_loops allocates them, packed.nest_args converts a LoweredNest).

Arrays whose entries index other arrays (dims, levels, loops: loop_dim, loop_level, axis_dims,
the scratch's loop sets and level starts, and the mapper's loop orders) are INDEX, unsigned: Numba
adds a negative-index wraparound to every subscript by a signed value it cannot prove ≥ 0, and omits it
for unsigned ones (numba PR #929). The wraparound cost ≈10 % of a mapper evaluation. Sentinel
(−1) arrays and counts stay int64; arithmetic on an INDEX value gives int64 under Numba, but
NumPy keeps uint32 against a Python int (the NUMBA_DISABLE_JIT runs), and a range over INDEX
bounds counts in uint64 (which unifies with int64 as float64). So INDEX values, and such counters,
are only subscripts, copied or compared.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .conventions import CLUSTERS_SPREAD
from .rules import bandwidth_cycles, block_accesses

# The helpers are inlined by LLVM (forceinline): a call passes every array as its exploded fields,
# which cost more than the helpers' work (≈20 % of an evaluation). evaluate_nest itself is inlined
# into the search kernels (search/search_kernels.py) for the same reason.

KIND, CAPACITY, BLOCK, CLUSTER, HW_INSTANCES, CLUSTER_R, CLUSTER_AXES, BLOCK_SHIFT = 0, 1, 2, 3, 4, 5, 6, 7
READ_BW, WRITE_BW, E_READ, E_WRITE, E_UPDATE, LEAK = 0, 1, 2, 3, 4, 5
MEMORY, SPATIAL, COMPUTE = 0, 1, 2
READS, FILLS, UPDATES, TILE = 0, 1, 2, 3
OK, OVER_CAPACITY, BROKEN = 0, 1, 2
INDEX = np.uint32  # dtype of index arrays (see the module docstring)


@njit(cache=True, _nrt=False, forceinline=True)
def _axis_shape(tc, te, a, m, shape):
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


@njit(cache=True, _nrt=False, forceinline=True)
def _axis_terms(axis_of, coef, axis_dims, axis_nd, t, a, ext, level, loop_dim, loop_bound, stride, extra, n_extra,
                grow, tc, te, m, shape):
    """Axis a of tensor t's point set as (step, count) terms in tc[a]/te[a]/m[a] and its shape
    (see _axis_shape), for a loop set made of every loop below `level` — whose range per dim d is
    [0, ext[level, d]) — plus the loops extra[:n_extra] (top-down) above them. An extra loop whose
    stride equals its dim's range so far extends that range (no loop in between was left out);
    the others stay terms of their own (holes, e.g. a fan-out above a temporal loop on the same
    dim)."""
    for q in range(axis_nd[t, a]):
        grow[axis_dims[t, a, q]] = ext[level, axis_dims[t, a, q]]
    m[a] = 0
    for q in range(n_extra - 1, -1, -1):  # inner → outer, so each range grows outward
        j = extra[q]
        d = loop_dim[j]
        if axis_of[t, d] != a or loop_bound[j] == 1:
            continue
        if stride[j] == grow[d]:
            grow[d] *= loop_bound[j]
        else:
            tc[a, m[a]] = coef[t, d] * stride[j]
            te[a, m[a]] = loop_bound[j]
            m[a] += 1
    for q in range(axis_nd[t, a]):
        d = axis_dims[t, a, q]
        if grow[d] > 1:
            tc[a, m[a]] = coef[t, d]
            te[a, m[a]] = grow[d]
            m[a] += 1
    _axis_shape(tc, te, a, m[a], shape)


@njit(cache=True, _nrt=False, forceinline=True)
def _set_terms(axis_of, coef, axis_dims, axis_nd, t, n_axes, ext, level, loop_dim, loop_bound, stride, extra, n_extra,
               grow, tc, te, m, shape):
    """Every axis of tensor t's point set (_axis_terms)."""
    for a in range(n_axes):
        _axis_terms(axis_of, coef, axis_dims, axis_nd, t, a, ext, level, loop_dim, loop_bound, stride, extra, n_extra,
                    grow, tc, te, m, shape)


@njit(cache=True, _nrt=False, forceinline=True)
def _closed_count(g, length, period, n, shift):
    """|S ∩ (S + shift)| for S = g · ∪_{k<n} [k·P, k·P + L) (see _axis_shape; n ≥ 1)."""
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


@njit(cache=True, _nrt=False, forceinline=True)
def _axis_count(tc, te, a, m, shape, shift, occ, base):
    """|S ∩ (S + shift)| for axis a's point set S (shift 0: |S|), from its shape."""
    if shape[a, 3] >= 0:
        return _closed_count(shape[a, 0], shape[a, 1], shape[a, 2], shape[a, 3], shift)
    s = abs(shift)
    full_span = _occupancy(tc, te, a, m[a], occ, base)
    count = 0
    for p in range(s, full_span):
        if occ[p] and occ[p - s]:
            count += 1
    return count


@njit(cache=True, _nrt=False, forceinline=True)
def _set_size(n_axes, tc, te, m, shape, occ, base):
    """Points of the set _set_terms described."""
    size = 1
    for a in range(n_axes):
        size *= _axis_count(tc, te, a, m, shape, 0, occ, base)
    return size


@njit(cache=True, _nrt=False, forceinline=True)
def _reuse_classes(axis_of, coef, n_axes, loop_dim, loop_bound, loop_spatial, stride, n, temporal, above,
                   move_axis, move_by, reuse_weight):
    """The closed form's reuse terms for every level at once, over the temporal loops in order
    (temporal[k], k < n_t; returns n_t). A tile under the first K of them reuses its overlap at
    step k < K iff R_k = R_{K−1}, where R_k = Σ_{j<k} move_j + 2·move_k per tensor axis (T_k =
    R_k − Σ_{j<K} move_j), and every such step shifts it by move_{K−1}, so per tensor

        loads = full · above[K] − reuse_weight[K−1] · overlap(move_{K−1}),

    above[k] = Π_{j<k} b_j, reuse_weight[k] = Σ_{k' ≤ k, R_k' = R_k} (b_k' − 1)·above[k'].
    move_k is one number ≥ 0 on one axis (move_axis[t, k], −1 if the loop's dim does not index
    t), so R_k' = R_k (k' < k) iff every move in (k', k] is on move_k' 's axis and
    move_k' = Σ_{k'<j<k} move_j + 2·move_k: a scan back from k that stops at a second axis."""
    n_t = 0
    above[0] = 1
    for j in range(n):
        if not loop_spatial[j]:
            temporal[n_t] = j
            above[n_t + 1] = above[n_t] * loop_bound[j]
            n_t += 1
    for t in range(axis_of.shape[0]):
        for k in range(n_t):
            j = temporal[k]
            d = loop_dim[j]
            axis, move = axis_of[t, d], 0  # axis: the one axis moved in (k', k] (−1: none yet)
            if axis >= 0:
                move = coef[t, d] * stride[j]
            move_axis[t, k], move_by[t, k] = axis, move
            weight = (loop_bound[j] - 1) * above[k]
            target = 2 * move  # move_k' must equal Σ_{k'<j<k} move_j + 2·move_k
            for k2 in range(k - 1, -1, -1):
                by, on = move_by[t, k2], move_axis[t, k2]
                if by == target and (by == 0 or axis < 0 or on == axis):
                    weight += reuse_weight[t, k2]  # which already sums its class's earlier steps
                    break
                if by > 0:
                    if axis >= 0 and on != axis:
                        break  # moves on two axes in between: no earlier step matches
                    axis = on
                    target += by
            reuse_weight[t, k] = weight
    return n_t


@njit(cache=True, _nrt=False, forceinline=True)
def _moved_loads(full, n_moves, t, n_axes, above, move_axis, move_by, reuse_weight, tc, te, m, shape, occ, base):
    """Elements loaded into one instance of the set _set_terms described (`full` points) as it
    moves with the first n_moves temporal loops (see _reuse_classes)."""
    if n_moves == 0:
        return full
    last = n_moves - 1
    a = move_axis[t, last]
    kept = full  # the overlap after a step: only axis a moves
    if a >= 0:
        kept = _axis_count(tc, te, a, m, shape, move_by[t, last], occ, base)
        if kept > 0:
            for b in range(n_axes):
                if b != a:
                    kept *= _axis_count(tc, te, b, m, shape, 0, occ, base)
    return full * above[n_moves] - reuse_weight[t, last] * kept


@njit(cache=True, _nrt=False, forceinline=True)
def _one_dim_points(axis_of, axis_dims, t, n_axes, ext, level, loop_dim, loop_bound, extra, n_extra):
    """Points of a one-dim-axis tensor's set (one_dim): the loops below `level` and
    extra[:n_extra], all distinct, so the product of their bounds on t's dims."""
    points = 1
    for a in range(n_axes):
        points *= ext[level, axis_dims[t, a, 0]]
    for q in range(n_extra):
        if axis_of[t, loop_dim[extra[q]]] >= 0:
            points *= loop_bound[extra[q]]
    return points


@njit(cache=True, _nrt=False, forceinline=True)
def _one_dim_moved(full, n_moves, t, level, extra, n_extra, axis_of, coef, axis_dims, axis_nd, ext, loop_dim,
                   loop_bound, stride, above, move_axis, move_by, reuse_weight, grow, tc, te, m, shape, occ, base):
    """_moved_loads for the set _one_dim_points counted (`full` points): only the moving axis is
    built, for its overlap; the other axes keep all their points, full / (that axis's points)."""
    if n_moves == 0:
        return full
    last = n_moves - 1
    a = move_axis[t, last]
    kept = full
    if a >= 0:
        _axis_terms(axis_of, coef, axis_dims, axis_nd, t, a, ext, level, loop_dim, loop_bound, stride, extra, n_extra,
                    grow, tc, te, m, shape)
        on_axis = 1  # one dim: every combination of its terms is a distinct point
        for q in range(m[a]):
            on_axis *= te[a, q]
        kept = _axis_count(tc, te, a, m, shape, move_by[t, last], occ, base) * (full // on_axis)
    return full * above[n_moves] - reuse_weight[t, last] * kept


@njit(cache=True, _nrt=False, forceinline=True)
def evaluate_nest(loop_dim, loop_bound, loop_level, loop_spatial, loop_axis, n, keeps,
                  axis_of, coef, axis_dims, axis_nd, n_axes, is_output, one_dim, level_int, cluster_axes, level_float,
                  merges, e_factor, mac_energy_pj, held_by_dim, output_ignores, energy_per_cycle_pj, hold_spatial_innermost,
                  cluster_rule, counts, instances, charged, level_cycles, scratch):
    """Counts, cycles and energy of one lowered mapping. Returns (status, energy pJ, cycles).

    counts[l, t, READS|FILLS|UPDATES|TILE] (per instance; FILLS holds a level's tile loads
    until pass 3 turns them into fills) and level_cycles[l] are written for every memory level,
    instances[l] (utilized: the product of the fan-out loops above) for every level. Capacities
    are checked before any reuse is computed, so infeasible mappings cost little. Every loop bound
    is > 1 (lowering drops unit loops). `scratch` (nest_scratch) carries tiles from call to call:
    it serves one problem.
    """
    (stride, starts, moves_before, ext, idx, grow, tc, te, m, shape, occ, base, temporal, above, move_axis,
     move_by, reuse_weight, tile_shape, regular, memo_ext, memo_tile) = scratch
    n_levels = level_int.shape[0]
    n_tensors = axis_of.shape[0]
    n_dims = grow.shape[0]
    compute = n_levels - 1
    j = 0
    n_moves = 0  # temporal loops so far
    fanout = 1  # Π of the spatial bounds above: a level's utilized instances
    for l in range(n_levels + 1):
        while j < n and loop_level[j] < l:
            if loop_spatial[j]:
                fanout *= loop_bound[j]
            else:
                n_moves += 1
            j += 1
        starts[l] = j
        moves_before[l] = n_moves
        if l < n_levels:
            instances[l] = fanout
    # Bottom-up: each loop's stride (how far one step moves its dim: the product of the inner
    # loops on that dim) and ext[l, d], the range of dim d under level l (every loop at or below it).
    for d in range(n_dims):
        ext[n_levels, d] = 1
    j = n
    for l in range(n_levels - 1, -1, -1):
        for d in range(n_dims):
            ext[l, d] = ext[l + 1, d]
        while j > starts[l]:
            j -= 1
            d = loop_dim[j]
            stride[j] = ext[l, d]
            ext[l, d] *= loop_bound[j]
    top = 0
    while level_int[top, KIND] != MEMORY:
        top += 1
    hold = hold_spatial_innermost and n > 0 and loop_spatial[n - 1]  # CountingConvention.holds_operands
    # Pass 1: tiles and capacities. A tile depends on its level's dim ranges alone: each level keeps
    # the ext row of the last call that reached it and that row's tiles, reused while the row holds
    # (a search's move changes few rows).
    for i in range(n_levels):
        if level_int[i, KIND] != MEMORY:
            continue
        same = True
        for d in range(n_dims):
            same &= memo_ext[i, d] == ext[i, d]
        if not same:
            for d in range(n_dims):
                memo_ext[i, d] = ext[i, d]
            for t in range(n_tensors):
                memo_tile[i, t] = -1
        used = 0
        for t in range(n_tensors):
            counts[i, t, READS] = 0
            counts[i, t, FILLS] = 0
            counts[i, t, UPDATES] = 0
            counts[i, t, TILE] = 0
            if keeps[i, t] and memo_tile[i, t] >= 0:
                counts[i, t, TILE] = memo_tile[i, t]
                used += memo_tile[i, t]
            elif keeps[i, t] and one_dim[t]:  # intervals: no terms to build
                tile = 1
                for a in range(n_axes[t]):
                    d = axis_dims[t, a, 0]
                    tile *= ext[i, d]
                    tile_shape[i, t, a, 0] = coef[t, d] if ext[i, d] > 1 else 1
                    tile_shape[i, t, a, 1], tile_shape[i, t, a, 2], tile_shape[i, t, a, 3] = ext[i, d], 0, 1
                regular[i, t] = True
                counts[i, t, TILE] = tile
                memo_tile[i, t] = tile
                used += tile
            elif keeps[i, t]:
                _set_terms(axis_of, coef, axis_dims, axis_nd, t, n_axes[t], ext, i, loop_dim, loop_bound, stride,
                           idx, 0, grow, tc, te, m, shape)
                tile = _set_size(n_axes[t], tc, te, m, shape, occ, base)
                counts[i, t, TILE] = tile
                memo_tile[i, t] = tile
                used += tile
                closed = True  # every axis in closed form: pass 2 needs no terms
                for a in range(n_axes[t]):
                    for q in range(4):
                        tile_shape[i, t, a, q] = shape[a, q]
                    closed &= shape[a, 3] >= 0
                regular[i, t] = closed
        capacity = level_int[i, CAPACITY]
        if capacity >= 0 and used > capacity:
            return OVER_CAPACITY, 0.0, 0
    # Pass 2: tile loads over the temporal loops above each level (the top loads nothing).
    n_t = _reuse_classes(axis_of, coef, n_axes, loop_dim, loop_bound, loop_spatial, stride, n, temporal, above,
                         move_axis, move_by, reuse_weight)
    steps = above[n_t]
    for i in range(n_levels):
        if level_int[i, KIND] != MEMORY or i == top:
            continue
        last = moves_before[i] - 1
        for t in range(n_tensors):
            if not keeps[i, t]:
                continue
            full = counts[i, t, TILE]
            if last < 0:
                counts[i, t, FILLS] = full
                continue
            a = move_axis[t, last]
            if a < 0 or regular[i, t]:  # from pass 1's shapes: only axis a moves
                kept = full
                if a >= 0:
                    kept = _closed_count(tile_shape[i, t, a, 0], tile_shape[i, t, a, 1], tile_shape[i, t, a, 2],
                                         tile_shape[i, t, a, 3], move_by[t, last])
                    for b in range(n_axes[t]):
                        if b != a:
                            kept *= tile_shape[i, t, b, 1] * tile_shape[i, t, b, 3]  # L · n points
                counts[i, t, FILLS] = full * above[last + 1] - reuse_weight[t, last] * kept
                continue
            _set_terms(axis_of, coef, axis_dims, axis_nd, t, n_axes[t], ext, i, loop_dim, loop_bound, stride,
                       idx, 0, grow, tc, te, m, shape)
            counts[i, t, FILLS] = _moved_loads(full, moves_before[i], t, n_axes[t], above, move_axis, move_by,
                                               reuse_weight, tc, te, m, shape, occ, base)
    # Pass 3: what each level serves its child (or the MACs), and the energy.
    # The MACs' energy: data-dependent through the operand the innermost temporal loop holds and
    # the fan-in of the spatial reduction (energy/activity.layer_activity).
    held, fan_in = 0, 1
    for j in range(n):
        if loop_spatial[j]:
            if output_ignores[loop_dim[j]]:
                fan_in *= loop_bound[j]
        else:
            held = held_by_dim[loop_dim[j]]
    energy = mac_energy_pj[held, min(fan_in, mac_energy_pj.shape[1] - 1)]
    cycles = steps
    per_cycle_pj = energy_per_cycle_pj
    for i in range(n_levels):
        if level_int[i, KIND] != MEMORY:
            continue
        s_i = starts[i]
        inst = instances[i]
        read_words = 0
        write_words = 0
        level_energy = 0.0
        block, shift = level_int[i, BLOCK], level_int[i, BLOCK_SHIFT]
        for t in range(n_tensors):
            if not keeps[i, t]:
                continue
            child = compute
            for c in range(i + 1, n_levels):
                if level_int[c, KIND] == MEMORY and keeps[c, t]:
                    child = c
                    break
            s_c = starts[child]
            # The child's data (its tile, or one operand per MAC) merged over the fan-outs on
            # the way that multicast (or reduce) this tensor; the other fan-outs are served apart.
            n_u = 0
            separate = 1
            for j in range(s_i, s_c):
                if loop_spatial[j]:
                    if merges[loop_level[j], t, loop_dim[j]]:
                        idx[n_u] = j
                        n_u += 1
                    else:
                        separate *= loop_bound[j]
            if n_u == 0 and child == compute and not hold:
                served = steps * separate
            elif n_u == 0 and child != compute:  # nothing merged on the way: the child's own loads
                served = separate * counts[child, t, FILLS]
            elif one_dim[t]:  # the merged set as a product of loop bounds
                merged = _one_dim_points(axis_of, axis_dims, t, n_axes[t], ext, child, loop_dim, loop_bound, idx, n_u)
                if child == compute and not hold:
                    served = steps * separate * merged
                else:  # it moves with the loops above the child, as the child's tile does
                    served = separate * _one_dim_moved(merged, n_t if child == compute else moves_before[child], t,
                                                       child, idx, n_u, axis_of, coef, axis_dims, axis_nd, ext,
                                                       loop_dim, loop_bound, stride, above, move_axis, move_by,
                                                       reuse_weight, grow, tc, te, m, shape, occ, base)
            elif child == compute and not hold:
                _set_terms(axis_of, coef, axis_dims, axis_nd, t, n_axes[t], ext, child, loop_dim, loop_bound,
                           stride, idx, n_u, grow, tc, te, m, shape)
                served = steps * separate * _set_size(n_axes[t], tc, te, m, shape, occ, base)
            else:  # the merged set moves with the loops above the child, as the child's tile does (the MACs'
                # operands, when held, over every temporal loop)
                _set_terms(axis_of, coef, axis_dims, axis_nd, t, n_axes[t], ext, child, loop_dim, loop_bound,
                           stride, idx, n_u, grow, tc, te, m, shape)
                merged = _set_size(n_axes[t], tc, te, m, shape, occ, base)
                served = separate * _moved_loads(merged, n_t if child == compute else moves_before[child], t,
                                                 n_axes[t], above, move_axis, move_by, reuse_weight, tc, te, m, shape,
                                                 occ, base)
            loads = counts[i, t, FILLS]
            if is_output[t] and inst == 1:  # no fan-out above: every output is distinct here
                distinct = counts[top, t, TILE]
            elif is_output[t] and one_dim[t]:  # the outputs of every temporal step
                distinct = _one_dim_points(axis_of, axis_dims, t, n_axes[t], ext, i, loop_dim, loop_bound, temporal,
                                           moves_before[i])  # of this instance
            elif is_output[t]:
                _set_terms(axis_of, coef, axis_dims, axis_nd, t, n_axes[t], ext, i, loop_dim, loop_bound, stride,
                           temporal, moves_before[i], grow, tc, te, m, shape)
                distinct = _set_size(n_axes[t], tc, te, m, shape, occ, base)
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
            level_energy += e_factor[i, t] * (block_accesses(reads, block, shift) * level_float[i, E_READ]
                                              + block_accesses(fills, block, shift) * level_float[i, E_WRITE]
                                              + block_accesses(updates, block, shift) * level_float[i, E_UPDATE])
        bw_cycles = bandwidth_cycles(read_words, write_words, level_float[i, READ_BW], level_float[i, WRITE_BW])
        level_cycles[i] = bw_cycles
        cycles = max(cycles, bw_cycles)
        cluster = level_int[i, CLUSTER]  # dynamic energy per cluster (CountingConvention.cluster_rule)
        if cluster == 1:
            ch = inst
        elif cluster_rule == CLUSTERS_SPREAD:
            ch = min(inst, level_int[i, HW_INSTANCES] // cluster)
        else:
            ch = 1
            for q in range(level_int[i, CLUSTER_AXES]):
                used = 1  # positions the mapping uses on this fan-out axis
                for j in range(s_i):
                    if loop_spatial[j] and loop_level[j] == cluster_axes[i, q, 0] \
                            and loop_axis[j] == cluster_axes[i, q, 1]:
                        used *= loop_bound[j]
                ch *= (used + level_int[i, CLUSTER_R] - 1) // level_int[i, CLUSTER_R] if q == 0 else used
        charged[i] = ch
        energy += ch * level_energy
        per_cycle_pj += inst * level_float[i, LEAK]
    energy += per_cycle_pj * cycles
    return OK, energy, cycles


def nest_loops(max_loops: int) -> tuple:
    """The nest arrays evaluate_nest reads (loop_dim, loop_bound, loop_level, loop_spatial,
    loop_axis), for a search's lowering to fill."""
    return (np.zeros(max_loops, INDEX), np.zeros(max_loops, np.int64), np.zeros(max_loops, INDEX),
            np.zeros(max_loops, np.bool_), np.zeros(max_loops, np.int64))


def nest_scratch(max_loops: int, max_axes: int, max_span: int, n_dims: int, n_levels: int, n_tensors: int):
    """Work arrays for evaluate_nest, allocated once per search."""
    i64 = np.int64
    max_terms = max_loops + n_dims  # per axis: a term per dim and per loop left apart
    return (np.zeros(max_loops, i64),                    # stride
            np.zeros(n_levels + 1, INDEX),               # starts: first loop of each level
            np.zeros(n_levels + 1, i64),                 # moves_before: temporal loops above each level
            np.zeros((n_levels + 1, n_dims), i64),       # ext: each dim's range under each level
            np.zeros(max_loops, INDEX),                  # idx: a loop index set
            np.zeros(n_dims, i64),                       # grow: per-dim ranges while a set is built
            np.zeros((max_axes, max_terms), i64),        # tc: term steps per axis
            np.zeros((max_axes, max_terms), i64),        # te: term counts per axis
            np.zeros(max_axes, i64),                     # m: terms per axis
            np.zeros((max_axes, 4), i64),                # shape: (g, L, P, n) per axis (see _axis_shape)
            np.zeros(max_span + 1, np.bool_),            # occ: occupancy of a holed axis
            np.zeros(max_span + 1, np.bool_),            # base: its copy while it grows
            np.zeros(max_loops, INDEX),                  # temporal: the temporal loops, outer → inner
            np.zeros(max_loops + 1, i64),                # above: Π of the temporal bounds before each
            np.zeros((n_tensors, max_loops), i64),       # move_axis (see _reuse_classes)
            np.zeros((n_tensors, max_loops), i64),       # move_by
            np.zeros((n_tensors, max_loops), i64),       # reuse_weight
            np.zeros((n_levels, n_tensors, max_axes, 4), i64),  # tile_shape: each tile's axis shapes
            np.zeros((n_levels, n_tensors), np.bool_),   # regular: all of a tile's axes in closed form
            np.full((n_levels, n_dims), -1, i64),        # memo_ext: the ext row tile_shape/memo_tile were built for
            np.full((n_levels, n_tensors), -1, i64))     # memo_tile: that tile's points (−1: not built)
