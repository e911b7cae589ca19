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

evaluate_nest(nest, problem, out, scratch) takes four records (named tuples of arrays and scalars:
Nest, Problem, Outputs, Scratch below; Numba passes a record as its fields, so the kernels still take
arrays and scalars only). Problem's arrays (built by `pack_problem` in model/packed.py,
PackedProblem.record):
  axis_of[t, d]        the axis of tensor t that dim d indexes (−1: none)
  coef[t, d]           its coefficient there
  axis_dims[t, a, :]   the dims axis a of tensor t sums, axis_nd[t, a] of them
  n_axes[t], is_output[t]
  one_dim[t]           every axis of tensor t indexes one dim: each of its point sets is a product
                       over its dims of mixed-radix digit sets, its size the product of the loops' bounds
  level_int[l, :]      KIND, CAPACITY (words, -1 unlimited), BLOCK (words per access), CLUSTER
                       (instances per shared array), HW_INSTANCES, BLOCK_SHIFT (log2 BLOCK if a power
                       of two, else −1), BLOCK_RULE (TRANSFER_BLOCKS: each tile transfer whole blocks,
                       LAYER_BLOCKS: a layer's words rounded once; out.blocks, _blocks), CLUSTER_R and
                       CLUSTER_AXES with
  cluster_axes[l, q]   the fan-out axes (spatial level, x 0 | y 1) its clusters are counted on:
                       ⌈u_0 / CLUSTER_R⌉ · Π_{q>0} u_q (CLUSTERS_TOUCHED; tests/kernels/naive_analytical._clusters_used)
  level_float[l, :]    READ_BW, WRITE_BW, SHARED_BW (words/cycle, 0 unlimited), E_READ, E_WRITE, E_UPDATE (pJ),
                       LEAK (pJ per cycle per utilized instance; leakage of all instances is in
                       energy_per_cycle_pj)
  merges[l, t, d]      a fan-out loop over dim d at level l merges tensor t (multicast, or
                       reduction for outputs; CountingConvention.merges)
  hold_spatial_innermost, cluster_rule   the counting convention's rules (counting/conventions):
                       with a spatial innermost loop, MAC operands are reused like a tile; how a
                       clustered memory is charged
  latched[t]           the MACs latch operand t (the arch's operand_latch): its reads are counted like a
                       held operand's, reused while the temporal loops that move leave it
  psum_words[l]        words a partial sum takes at level l (the compute level's psum_bits): a level
                       that accumulates outputs (it receives more updates than it has outputs, or
                       loads partial sums back from its parent) holds partial sums, each that many
                       words, for capacity, bandwidth and energy (out.output_words); one that only
                       receives finished outputs holds one word each. Counts stay in elements
  e_factor[l, t]       activity factor on level l's energy for tensor t
  mac_energy_pj[h, f]  the layer's MAC energy when operand h is held and f products reduce in space
  held_by_dim[d], output_ignores[d]   what a loop on d holds (innermost temporal), reduces (spatial)
  Nest: loop_dim, loop_bound, loop_level, loop_spatial, loop_axis (first n entries, top-down),
  keeps[l, t] (nest_loops allocates a search's Loops, packed.nest_record converts a LoweredNest).
  Outputs and Scratch: their classes list the arrays. evaluate_nest is a driver over its
  passes: levels and extents, tiles and capacity (pass 1), reuse classes and tile loads (pass 2),
  served data and energy (pass 3).

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

from ..jit import helper, kernel
from .conventions import CLUSTERS_SPREAD
from .point_sets import axis_count, axis_shape, closed_count
from .records import (
    BLOCK,
    BLOCK_RULE,
    BLOCK_SHIFT,
    BROKEN,
    CAPACITY,
    CLUSTER,
    CLUSTER_AXES,
    CLUSTER_R,
    E_READ,
    E_UPDATE,
    E_WRITE,
    FILLS,
    HW_INSTANCES,
    KIND,
    LEAK,
    MEMORY,
    OK,
    OVER_CAPACITY,
    READ_BW,
    READS,
    SHARED_BW,
    TILE,
    TRANSFER_BLOCKS,
    UPDATES,
    WRITE_BW,
)
from .rules import bandwidth_cycles, block_accesses, first_touch_blocks, port_words, transfer_blocks

# The helpers and passes are inlined, by LLVM (forceinline): a call passes every array as its
# exploded fields (a record's too), which cost more than the helpers' work (≈20 % of an
# evaluation). A helper is compiled on its own first, only as far as the code its callers link
# (accelsim/jit.py, _LinkOnlyLibrary). Before, a helper's module was optimized and made machine
# code in full, and again in every module linking it, so the passes called at one place were
# inlined by Numba instead (merged before lowering); now LLVM's inlining compiles faster (the
# counting kernel 7.7 → 6.9 s of CPU, the ragged-loop kernel 12.3 → 11.8 s; docs/dse.md, session
# 18). The exhaustive search kernel links evaluate_nest in for the same reason; the heuristic one
# calls it at its address (search/model_call.py), so it compiles without it.

@helper(forceinline=True)
def _axis_terms(p, nest, sc, t, a, level, extra, n_extra):
    """Axis a of tensor t's point set as (step, count) terms in sc.tc[a]/te[a]/m[a] and its shape
    (see axis_shape), for a loop set made of every loop below `level` — whose range per dim d is
    [0, ext[level, d]) — plus the loops extra[:n_extra] (top-down) above them. An extra loop whose
    stride equals its dim's range so far extends that range (no loop in between was left out);
    the others stay terms of their own (holes, e.g. a fan-out above a temporal loop on the same
    dim)."""
    grow, tc, te, m, stride = sc.grow, sc.tc, sc.te, sc.m, sc.stride
    for q in range(p.axis_nd[t, a]):
        grow[p.axis_dims[t, a, q]] = sc.ext[level, p.axis_dims[t, a, q]]
    m[a] = 0
    for q in range(n_extra - 1, -1, -1):  # inner → outer, so each range grows outward
        j = extra[q]
        d = nest.loop_dim[j]
        if p.axis_of[t, d] != a or nest.loop_bound[j] == 1:
            continue
        if stride[j] == grow[d]:
            grow[d] *= nest.loop_bound[j]
        else:
            tc[a, m[a]] = p.coef[t, d] * stride[j]
            te[a, m[a]] = nest.loop_bound[j]
            m[a] += 1
    for q in range(p.axis_nd[t, a]):
        d = p.axis_dims[t, a, q]
        if grow[d] > 1:
            tc[a, m[a]] = p.coef[t, d]
            te[a, m[a]] = grow[d]
            m[a] += 1
    axis_shape(tc, te, a, m[a], sc.shape)


@helper(forceinline=True)
def _set_terms(p, nest, sc, t, level, extra, n_extra):
    """Every axis of tensor t's point set (_axis_terms)."""
    for a in range(p.n_axes[t]):
        _axis_terms(p, nest, sc, t, a, level, extra, n_extra)


@helper(forceinline=True)
def _set_size(sc, n_axes):
    """Points of the set _set_terms described."""
    size = 1
    for a in range(n_axes):
        size *= axis_count(sc.tc, sc.te, a, sc.m, sc.shape, np.int64(0), sc.occ, sc.base)
    return size


@kernel(_nrt=False, forceinline=True)
def _reuse_classes(axis_of, coef, nest, sc):
    """The closed form's reuse terms for every level at once, over the temporal loops in order
    (temporal[k], k < n_t; returns n_t). A tile under the first K of them reuses its overlap at
    step k < K iff R_k = R_{K−1}, where R_k = Σ_{j<k} move_j + 2·move_k per tensor axis (T_k =
    R_k − Σ_{j<K} move_j), and every such step shifts it by move_{K−1}, so per tensor

        loads = full · above[K] − reuse_weight[K−1] · overlap(move_{K−1}),

    above[k] = Π_{j<k} b_j, reuse_weight[k] = Σ_{k' ≤ k, R_k' = R_k} (b_k' − 1)·above[k'].
    move_k is one number ≥ 0 on one axis (move_axis[t, k], −1 if the loop's dim does not index
    t), so R_k' = R_k (k' < k) iff every move in (k', k] is on move_k' 's axis and
    move_k' = Σ_{k'<j<k} move_j + 2·move_k: a scan back from k that stops at a second axis.
    Writes sc.temporal, above, move_axis, move_by, reuse_weight and reuse_link (each step's previous
    class member, −1 none) from nest and sc.stride."""
    temporal, above, move_axis, move_by, reuse_weight = sc.temporal, sc.above, sc.move_axis, sc.move_by, sc.reuse_weight
    n_t = 0
    above[0] = 1
    for j in range(nest.n):
        if not nest.loop_spatial[j]:
            temporal[n_t] = j
            above[n_t + 1] = above[n_t] * nest.loop_bound[j]
            n_t += 1
    for t in range(axis_of.shape[0]):
        for k in range(n_t):
            j = temporal[k]
            d = nest.loop_dim[j]
            axis, move = axis_of[t, d], 0  # axis: the one axis moved in (k', k] (−1: none yet)
            if axis >= 0:
                move = coef[t, d] * sc.stride[j]
            move_axis[t, k], move_by[t, k] = axis, move
            weight = (nest.loop_bound[j] - 1) * above[k]
            target = 2 * move  # move_k' must equal Σ_{k'<j<k} move_j + 2·move_k
            sc.reuse_link[t, k] = -1  # the class's previous member (ragged_kernel sums its own weights)
            for k2 in range(k - 1, -1, -1):
                by, on = move_by[t, k2], move_axis[t, k2]
                if by == target and (by == 0 or axis < 0 or on == axis):
                    weight += reuse_weight[t, k2]  # which already sums its class's earlier steps
                    sc.reuse_link[t, k] = k2
                    break
                if by > 0:
                    if axis >= 0 and on != axis:
                        break  # moves on two axes in between: no earlier step matches
                    axis = on
                    target += by
            reuse_weight[t, k] = weight
    return n_t


@helper(forceinline=True)
def _kept(sc, full, n_moves, t, n_axes):
    """Points of the set _set_terms described (`full` points) that a reuse step keeps as it moves
    with the first n_moves temporal loops: the overlap after a shift by the innermost one's step."""
    if n_moves == 0:
        return full
    last = n_moves - 1
    a = sc.move_axis[t, last]
    kept = full  # the overlap after a step: only axis a moves
    if a >= 0:
        kept = axis_count(sc.tc, sc.te, a, sc.m, sc.shape, sc.move_by[t, last], sc.occ, sc.base)
        if kept > 0:
            for b in range(n_axes):
                if b != a:
                    kept *= axis_count(sc.tc, sc.te, b, sc.m, sc.shape, np.int64(0), sc.occ, sc.base)
    return kept


@helper(forceinline=True)
def _transfers(sc, full, kept, n_moves, t):
    """The loads of a set of `full` points moving with the first n_moves temporal loops (keeping
    `kept` at each reuse step) as transfers (Scratch.events' four) and their sum: (whole-set loads,
    full, reuse steps, full − kept, loads = full · visits − kept · reuse steps; see _reuse_classes)."""
    if n_moves == 0:
        return 1, full, 0, 0, full
    reuse = sc.reuse_weight[t, n_moves - 1]
    return sc.above[n_moves] - reuse, full, reuse, full - kept, full * sc.above[n_moves] - reuse * kept


@helper(forceinline=True)
def _loads_of(sc, i, t, full, kept, n_moves):
    """Level i's tile loads of t (_transfers), its transfers kept in sc.events[i, t]."""
    whole, whole_el, deltas, delta_el, loads = _transfers(sc, full, kept, n_moves, t)
    sc.events[i, t, 0], sc.events[i, t, 1], sc.events[i, t, 2], sc.events[i, t, 3] = whole, whole_el, deltas, delta_el
    return loads


@helper(forceinline=True)
def _served_moves(sc, separate, full, kept, n_moves, t, mac, steps):
    """What a level serves: `separate` positions apart, each a set of `full` points moving as
    _transfers (`steps` times over, each step whole: unheld MAC operands); its transfers kept in
    sc.served_ev. A memory child's fills are transfers of their own, one per position; what the MACs
    take in a step is one transfer of every position's points (Scratch.served_ev)."""
    whole, whole_el, deltas, delta_el, loads = _transfers(sc, full, kept, n_moves, t)
    ev = sc.served_ev
    if mac:
        ev[0], ev[1], ev[2], ev[3], ev[4] = 1, whole * steps, separate * whole_el, deltas * steps, separate * delta_el
    else:
        ev[0], ev[1], ev[2], ev[3], ev[4] = separate, whole * steps, whole_el, deltas * steps, delta_el
    return separate * loads * steps


@helper(forceinline=True)
def _one_dim_points(p, nest, sc, t, level, extra, n_extra):
    """Points of a one-dim-axis tensor's set (one_dim): the loops below `level` and
    extra[:n_extra], all distinct, so the product of their bounds on t's dims."""
    points = 1
    for a in range(p.n_axes[t]):
        points *= sc.ext[level, p.axis_dims[t, a, 0]]
    for q in range(n_extra):
        if p.axis_of[t, nest.loop_dim[extra[q]]] >= 0:
            points *= nest.loop_bound[extra[q]]
    return points


@helper(forceinline=True)
def _one_dim_kept(p, nest, sc, full, n_moves, t, level, extra, n_extra):
    """_kept for the set _one_dim_points counted (`full` points): only the moving axis is
    built, for its overlap; the other axes keep all their points, full / (that axis's points)."""
    if n_moves == 0:
        return full
    last = n_moves - 1
    a = sc.move_axis[t, last]
    kept = full
    if a >= 0:
        _axis_terms(p, nest, sc, t, a, level, extra, n_extra)
        on_axis = 1  # one dim: every combination of its terms is a distinct point
        for q in range(sc.m[a]):
            on_axis *= sc.te[a, q]
        kept = axis_count(sc.tc, sc.te, a, sc.m, sc.shape, sc.move_by[t, last], sc.occ, sc.base) * (full // on_axis)
    return kept


@helper(forceinline=True)
def _levels_and_extents(nest, p, out, sc):
    """Each level's first loop (sc.starts), temporal loops above (moves_before) and utilized
    instances (out.instances: the product of the fan-out loops above); bottom-up, each loop's
    stride (how far one step moves its dim: the product of the inner loops on that dim) and
    ext[l, d], the range of dim d under level l (every loop at or below it). Returns the top
    memory level."""
    n_levels = p.level_int.shape[0]
    starts, ext = sc.starts, sc.ext
    j = 0
    n_moves = 0  # temporal loops so far
    fanout = 1  # Π of the spatial bounds above: a level's utilized instances
    for l in range(n_levels + 1):
        while j < nest.n and nest.loop_level[j] < l:
            if nest.loop_spatial[j]:
                fanout *= nest.loop_bound[j]
            else:
                n_moves += 1
            j += 1
        starts[l] = j
        sc.moves_before[l] = n_moves
        if l < n_levels:
            out.instances[l] = fanout
    for d in range(sc.grow.shape[0]):
        ext[n_levels, d] = 1
    j = nest.n
    for l in range(n_levels - 1, -1, -1):
        for d in range(sc.grow.shape[0]):
            ext[l, d] = ext[l + 1, d]
        while j > starts[l]:
            j -= 1
            d = nest.loop_dim[j]
            sc.stride[j] = ext[l, d]
            ext[l, d] *= nest.loop_bound[j]
    top = 0
    while p.level_int[top, KIND] != MEMORY:
        top += 1
    return top


@helper(forceinline=True)
def _tile(nest, p, sc, i, t):
    """Points of tensor t's tile at memory level i; its axis shapes into sc.tile_shape[i, t] and
    whether all are closed forms into sc.regular[i, t] (pass 2 then needs no terms)."""
    if p.one_dim[t]:  # intervals: no terms to build
        tile = 1
        for a in range(p.n_axes[t]):
            d = p.axis_dims[t, a, 0]
            tile *= sc.ext[i, d]
            sc.tile_shape[i, t, a, 0] = p.coef[t, d] if sc.ext[i, d] > 1 else 1
            sc.tile_shape[i, t, a, 1], sc.tile_shape[i, t, a, 2], sc.tile_shape[i, t, a, 3] = sc.ext[i, d], 0, 1
        sc.regular[i, t] = True
        return tile
    _set_terms(p, nest, sc, t, i, sc.idx, np.int64(0))
    tile = _set_size(sc, p.n_axes[t])
    closed = True
    for a in range(p.n_axes[t]):
        for q in range(4):
            sc.tile_shape[i, t, a, q] = sc.shape[a, q]
        closed &= sc.shape[a, 3] >= 0
    sc.regular[i, t] = closed
    return tile


@helper(forceinline=True)
def _tiles_and_capacity(nest, p, out, sc):
    """Pass 1: every memory level's tiles (out.counts TILE; READS, FILLS, UPDATES zeroed); False
    as soon as a level's tiles overflow it. A tile depends on its level's dim ranges alone: each
    level keeps the ext row of the last call that reached it and that row's tiles, reused while
    the row holds (a search's move changes few rows)."""
    counts, memo_ext, memo_tile = out.counts, sc.memo_ext, sc.memo_tile
    for i in range(p.level_int.shape[0]):
        if p.level_int[i, KIND] != MEMORY:
            continue
        same = True
        for d in range(sc.grow.shape[0]):
            same &= memo_ext[i, d] == sc.ext[i, d]
        if not same:
            for d in range(sc.grow.shape[0]):
                memo_ext[i, d] = sc.ext[i, d]
            for t in range(p.axis_of.shape[0]):
                memo_tile[i, t] = -1
        used = 0
        for t in range(p.axis_of.shape[0]):
            counts[i, t, READS] = 0
            counts[i, t, FILLS] = 0
            counts[i, t, UPDATES] = 0
            counts[i, t, TILE] = 0
            for q in range(3):
                out.blocks[i, t, q] = 0
            if not nest.keeps[i, t]:
                continue
            if memo_tile[i, t] < 0:
                memo_tile[i, t] = _tile(nest, p, sc, i, t)
            counts[i, t, TILE] = memo_tile[i, t]
            used += memo_tile[i, t]  # in elements: a lower bound on the words (pass 3 checks psum widths)
        capacity = p.level_int[i, CAPACITY]
        if capacity >= 0 and used > capacity:
            return False
    return True


@helper(forceinline=True)
def _tile_loads(nest, p, out, sc, top):
    """Pass 2: each kept tile's loads (into out.counts FILLS) over the temporal loops above its
    level (the top loads nothing), from _reuse_classes' terms."""
    counts, shape = out.counts, sc.tile_shape
    for i in range(p.level_int.shape[0]):
        if p.level_int[i, KIND] != MEMORY or i == top:
            continue
        last = sc.moves_before[i] - 1
        for t in range(p.axis_of.shape[0]):
            if not nest.keeps[i, t]:
                continue
            full = counts[i, t, TILE]
            if last < 0:
                counts[i, t, FILLS] = _loads_of(sc, i, t, full, full, np.int64(0))
                continue
            a = sc.move_axis[t, last]
            if a < 0 or sc.regular[i, t]:  # from pass 1's shapes: only axis a moves
                kept = full
                if a >= 0:
                    kept = closed_count(shape[i, t, a, 0], shape[i, t, a, 1], shape[i, t, a, 2], shape[i, t, a, 3],
                                         sc.move_by[t, last])
                    for b in range(p.n_axes[t]):
                        if b != a:
                            kept *= shape[i, t, b, 1] * shape[i, t, b, 3]  # L · n points
            else:
                _set_terms(p, nest, sc, t, i, sc.idx, np.int64(0))
                kept = _kept(sc, full, sc.moves_before[i], t, p.n_axes[t])
            counts[i, t, FILLS] = _loads_of(sc, i, t, full, kept, sc.moves_before[i])


@helper(forceinline=True)
def _tiled_words(counts, keeps, i):
    """Elements level i's kept tiles hold (pass 1's capacity sum)."""
    used = 0
    for t in range(counts.shape[1]):
        if keeps[i, t]:
            used += counts[i, t, TILE]
    return used


@helper(forceinline=True)
def _mac_energy(nest, p):
    """The MACs' energy: data-dependent through the operand the innermost temporal loop holds and
    the fan-in of the spatial reduction (energy/activity.layer_activity)."""
    held, fan_in = 0, 1
    for j in range(nest.n):
        if nest.loop_spatial[j]:
            if p.output_ignores[nest.loop_dim[j]]:
                fan_in *= nest.loop_bound[j]
        else:
            held = p.held_by_dim[nest.loop_dim[j]]
    return p.mac_energy_pj[held, min(fan_in, p.mac_energy_pj.shape[1] - 1)]


@helper(forceinline=True)
def _served(nest, p, out, sc, i, t, hold, n_t):
    """Elements of tensor t memory level i serves per instance: to its child (the next level
    down keeping t) or one operand per MAC."""
    compute = p.level_int.shape[0] - 1
    child = compute
    for c in range(i + 1, compute):
        if p.level_int[c, KIND] == MEMORY and nest.keeps[c, t]:
            child = c
            break
    # The child's data (its tile, or one operand per MAC) merged over the fan-outs on the way that
    # multicast (or reduce) this tensor; the other fan-outs are served apart.
    n_u = np.int64(0)
    separate = np.int64(1)
    copies = 1  # the separate fan-outs on dims t ignores: the same data served apart
    for j in range(sc.starts[i], sc.starts[child]):
        if nest.loop_spatial[j]:
            if p.merges[nest.loop_level[j], t, nest.loop_dim[j]]:
                sc.idx[n_u] = j
                n_u += 1
            else:
                separate *= nest.loop_bound[j]
                if p.axis_of[t, nest.loop_dim[j]] < 0:
                    copies *= nest.loop_bound[j]
    steps = sc.above[n_t]
    mac = child == compute
    sc.served_ev[5] = copies if mac else 1
    if n_u == 0 and mac and not hold:
        return _served_moves(sc, separate, np.int64(1), np.int64(1), np.int64(0), t, mac, steps)
    if n_u == 0 and not mac:  # nothing merged on the way: the child's own loads
        ev = sc.served_ev
        ev[0] = separate
        for q in range(4):
            ev[q + 1] = sc.events[child, t, q]
        return separate * out.counts[child, t, FILLS]
    # Else the merged set, which (unless it feeds the MACs unheld) moves with the loops above the
    # child as the child's tile does (the MACs' operands, when held, over every temporal loop).
    n_moves = n_t if child == compute else sc.moves_before[child]
    if p.one_dim[t]:  # the merged set as a product of loop bounds
        merged = _one_dim_points(p, nest, sc, t, child, sc.idx, n_u)
        if mac and not hold:
            return _served_moves(sc, separate, merged, merged, np.int64(0), t, mac, steps)
        kept = _one_dim_kept(p, nest, sc, merged, n_moves, t, child, sc.idx, n_u)
        return _served_moves(sc, separate, merged, kept, n_moves, t, mac, np.int64(1))
    _set_terms(p, nest, sc, t, child, sc.idx, n_u)
    merged = _set_size(sc, p.n_axes[t])
    if mac and not hold:
        return _served_moves(sc, separate, merged, merged, np.int64(0), t, mac, steps)
    return _served_moves(sc, separate, merged, _kept(sc, merged, n_moves, t, p.n_axes[t]), n_moves, t, mac, np.int64(1))


@helper(forceinline=True)
def _distinct_outputs(nest, p, out, sc, i, t, top):
    """Distinct outputs (tensor t) one instance of memory level i sees over every temporal step."""
    if out.instances[i] == 1:  # no fan-out above: every output is distinct here
        return out.counts[top, t, TILE]
    if p.one_dim[t]:
        return _one_dim_points(p, nest, sc, t, i, sc.temporal, sc.moves_before[i])
    _set_terms(p, nest, sc, t, i, sc.temporal, sc.moves_before[i])
    return _set_size(sc, p.n_axes[t])


ACCUMULATES = -1  # level_actions: an output level that holds partial sums (OK otherwise, or BROKEN)


@helper(forceinline=True)
def level_actions(is_output, is_top, loads, served, distinct):
    """A level's reads, fills and updates of one tensor from its tile loads, what it serves below
    and (outputs) the distinct outputs it sees, and a status: operands are read as served and filled
    as loaded; outputs are updated as served, read back for all but each first update, and filled
    with partial sums for all but each first load (none at the top). BROKEN if fewer loads or serves
    than distinct outputs; ACCUMULATES if the level receives more updates than outputs or loads
    partial sums from its parent (it then holds partial sums)."""
    if not is_output:
        return served, loads, 0, OK
    fills = 0 if is_top else loads - distinct
    if fills < 0 or served < distinct:
        return 0, 0, 0, BROKEN
    return served - distinct, fills, served, ACCUMULATES if fills > 0 or served > distinct else OK


@helper(forceinline=True)
def _charged_instances(nest, p, i, inst, first):
    """Instances of memory level i (inst utilized; its loops start at `first`) charged dynamic
    energy: per cluster (CountingConvention.cluster_rule)."""
    cluster = p.level_int[i, CLUSTER]
    if cluster == 1:
        return inst
    if p.cluster_rule == CLUSTERS_SPREAD:
        return min(inst, p.level_int[i, HW_INSTANCES] // cluster)
    ch = 1
    for q in range(p.level_int[i, CLUSTER_AXES]):
        used = 1  # positions the mapping uses on this fan-out axis
        for j in range(first):
            if nest.loop_spatial[j] and nest.loop_level[j] == p.cluster_axes[i, q, 0] \
                    and nest.loop_axis[j] == p.cluster_axes[i, q, 1]:
                used *= nest.loop_bound[j]
        ch *= (used + p.level_int[i, CLUSTER_R] - 1) // p.level_int[i, CLUSTER_R] if q == 0 else used
    return ch


@helper(forceinline=True)
def _blocks(p, sc, blocks, i, t, read_words, fill_words, update_words, w, distinct, is_top):
    """Level i's block accesses of tensor t per instance into blocks[i, t, READS|FILLS|UPDATES], under
    its block rounding (docs/energy.md#block-rounding). `layer`: each action's words over the layer,
    rounded up to blocks once. `transfer`: each tile transfer rounded up to whole blocks — fills
    from the level's tile loads (sc.events), reads and updates from what it serves (sc.served_ev,
    which _served just wrote): a memory child's fills, or what the MACs take in a step; for outputs,
    the transfers that first bring an output need no partial sum, so they are subtracted from
    read-backs and fills."""
    block, shift = p.level_int[i, BLOCK], p.level_int[i, BLOCK_SHIFT]
    blocks[i, t, READS] = block_accesses(read_words, block, shift)
    blocks[i, t, FILLS] = block_accesses(fill_words, block, shift)
    blocks[i, t, UPDATES] = block_accesses(update_words, block, shift)
    if p.level_int[i, BLOCK_RULE] != TRANSFER_BLOCKS or block == 1:
        return
    output = p.is_output[t]
    if not is_top:
        ev = sc.events
        fills = transfer_blocks(np.int64(1), ev[i, t, 0], ev[i, t, 1], ev[i, t, 2], ev[i, t, 3], w, block, shift)
        if output:
            fills = max(0, fills - first_touch_blocks(distinct, ev[i, t, 1], np.int64(1), w, block, shift))
        blocks[i, t, FILLS] = fills
    se = sc.served_ev
    served = transfer_blocks(se[0], se[1], se[2], se[3], se[4], w, block, shift)
    if output:  # updates: a child's drains, or the MACs' partial sums of a step
        blocks[i, t, UPDATES] = served
        blocks[i, t, READS] = max(0, served - first_touch_blocks(distinct, se[2] // se[5], se[5], w, block, shift))
    else:
        blocks[i, t, READS] = served


@helper(forceinline=True)
def _served_and_energy(nest, p, out, sc, top, hold, n_t):
    """Pass 3: what each level serves its child (or the MACs) as reads, fills and updates, the
    bandwidth-bound cycles and the energy. Returns (status, energy pJ, cycles)."""
    counts, level_float = out.counts, p.level_float
    energy = _mac_energy(nest, p)
    cycles = sc.above[n_t]
    per_cycle_pj = p.energy_per_cycle_pj
    for i in range(p.level_int.shape[0]):
        if p.level_int[i, KIND] != MEMORY:
            continue
        inst = out.instances[i]
        out.output_words[i] = 1
        read_words = np.int64(0)
        write_words = np.int64(0)
        read_blocks = np.int64(0)
        write_blocks = np.int64(0)
        level_energy = 0.0
        for t in range(p.axis_of.shape[0]):
            if not nest.keeps[i, t]:
                continue
            served = _served(nest, p, out, sc, i, t, hold or p.latched[t], n_t)
            distinct = _distinct_outputs(nest, p, out, sc, i, t, top) if p.is_output[t] else 0
            reads, fills, updates, status = level_actions(p.is_output[t], i == top, counts[i, t, FILLS], served, distinct)
            if status == BROKEN:
                return BROKEN, 0.0, 0
            if status == ACCUMULATES:  # it holds partial sums
                out.output_words[i] = p.psum_words[i]
            counts[i, t, READS] = reads
            counts[i, t, FILLS] = fills  # parents, processed first, have read the loads
            counts[i, t, UPDATES] = updates
            w = 1
            if p.is_output[t] and out.output_words[i] > 1:  # elements to words
                w = out.output_words[i]
                capacity = p.level_int[i, CAPACITY]
                if capacity >= 0 and _tiled_words(counts, nest.keeps, i) + (w - 1) * counts[i, t, TILE] > capacity:
                    return OVER_CAPACITY, 0.0, 0
            read_words += reads * w
            write_words += (fills + updates) * w
            _blocks(p, sc, out.blocks, i, t, reads * w, fills * w, updates * w, w, distinct, i == top)
            read_blocks += out.blocks[i, t, READS]
            write_blocks += out.blocks[i, t, FILLS] + out.blocks[i, t, UPDATES]
            level_energy += p.e_factor[i, t] * (out.blocks[i, t, READS] * level_float[i, E_READ]
                                                + out.blocks[i, t, FILLS] * level_float[i, E_WRITE]
                                                + out.blocks[i, t, UPDATES] * level_float[i, E_UPDATE])
        block, whole = p.level_int[i, BLOCK], p.level_int[i, BLOCK_RULE] == TRANSFER_BLOCKS  # port time in blocks
        bw_cycles = bandwidth_cycles(port_words(read_words, read_blocks, np.int64(1), block, whole),
                                     port_words(write_words, write_blocks, np.int64(1), block, whole),
                                     level_float[i, READ_BW], level_float[i, WRITE_BW], level_float[i, SHARED_BW])
        out.level_cycles[i] = bw_cycles
        cycles = max(cycles, bw_cycles)
        charged = _charged_instances(nest, p, i, inst, sc.starts[i])
        out.charged[i] = charged
        energy += charged * level_energy
        per_cycle_pj += inst * level_float[i, LEAK]
    out.per_cycle_pj[0] = per_cycle_pj
    energy += per_cycle_pj * cycles
    return OK, energy, cycles


@kernel(_nrt=False, forceinline=True)
def evaluate_nest(nest, problem, out, scratch):
    """Counts, cycles and energy of one lowered mapping (Nest) of a Problem. Returns (status,
    energy pJ, cycles).

    out.counts[l, t, READS|FILLS|UPDATES|TILE] (per instance; FILLS holds a level's tile loads
    until pass 3 turns them into fills), level_cycles[l] and charged[l] are written for every
    memory level, instances[l] (utilized: the product of the fan-out loops above) for every level.
    Capacities are checked before any reuse is computed, so infeasible mappings cost little. Every
    loop bound is > 1 (lowering drops unit loops). `scratch` (nest_scratch) carries tiles from call
    to call: it serves one problem.
    """
    top = _levels_and_extents(nest, problem, out, scratch)
    # CountingConvention.holds_operands: with a spatial innermost loop, MAC operands are held
    hold = problem.hold_spatial_innermost and nest.n > 0 and nest.loop_spatial[nest.n - 1]
    if not _tiles_and_capacity(nest, problem, out, scratch):
        return OVER_CAPACITY, 0.0, 0
    n_t = _reuse_classes(problem.axis_of, problem.coef, nest, scratch)
    _tile_loads(nest, problem, out, scratch, top)
    return _served_and_energy(nest, problem, out, scratch, top, hold, n_t)
