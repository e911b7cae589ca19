"""Ragged nests: loop bounds that do not divide their dim (ceil-division tiling, a smaller last tile).

A dim d of size D whose loops multiply to more than D runs the padded nest with every iteration
whose offset reaches D dropped and every tile truncated at D (docs/notes/ragged-tiles.md). A
dim's loops are mixed-radix digits (stride of loop j = the product of the bounds inside it on
d), so the iterations that remain are a product over dims of the digit tuples with offset < D,
and every count the dense kernel takes as a product of loop bounds becomes a product over dims of

    count_below(D_d, L_d): the digit tuples of the loops L_d (a subset of d's loops, the others
    at 0) whose offset is below D_d.

Digits from the largest stride down: a digit v below v_max = min(b − 1, ⌊rem / stride⌋) leaves
every tuple of the lower loops valid (their strides sum to less than this one's), so it adds
v_max · Π(lower bounds in L); then the digit takes v_max and the next loop continues with the
remainder. With D_d = Π bounds it is the product of the bounds, so on a dense nest every count
below equals nest_kernel's (tests/kernels/test_ragged.py checks both against a walk).

Instances are no longer alike: the one at spatial offset 0 sees every iteration any other sees,
with tiles at least as large, so it is the busiest. `out.counts` holds the busiest instance's
counts (capacity and bandwidth time are its); `rg.totals` holds the sums over all utilized
instances (energy). A sum over the instances of a count is the same formula with the fan-out
loops above the level enumerated (count_below of a union is the sum over one part's tuples).

What is counted in closed form:
- a tensor whose axes each index one dim (one_dim: outputs, GEMM operands, weights): its loads
  are a tile per distinct tuple of the temporal loops down to the innermost one that indexes it
  (nest_kernel's reuse rule reduces to this: such a tensor's tiles at two offsets are disjoint),
  so loads = Π_d count_below(D_d, those loops ∪ the loops inside the tile on t's dims);
- any other tensor: its loads are full · visits − kept · Σ (steps of each loop in the innermost
  loop's reuse class), the dense kernel's formula with visits and steps counted over valid
  iterations, per extent class of its ragged dims (_moved: on each, the tile's full extent or the
  remainder). A fan-out that merges it on a ragged dim is folded into the child's extent there when
  the two make one interval (_fold_ragged_fans).
RAGGED_UNSUPPORTED: a merged fan-out on a ragged dim with a loop on that dim between it and the
child (the truncated set has holes), or a ragged dim of outputs whose axes mix dims.

Block accesses (docs/energy.md#block-rounding) are summed over every utilized instance. Under
per-transfer rounding each transfer between memory levels is rounded to blocks on its own: a one_dim
tensor's transfer is a product over its dims of count_below(D_d − o_d, the set's loops on d) at the
offsets o_d the loops outside the set give, so a histogram of those sizes per dim (_transfer_blocks)
counts them; any other tensor's transfers come per extent class from _moved.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import literal_unroll

from ..jit import helper, kernel
from .nest_kernel import (
    ACCUMULATES,
    _charged_instances,
    _levels_and_extents,
    _mac_energy,
    _reuse_classes,
    _set_size,
    _set_terms,
    _tile,
    level_actions,
)
from .point_sets import axis_count
from .records import (
    BLOCK,
    BLOCK_RULE,
    BROKEN,
    CAPACITY,
    E_READ,
    E_UPDATE,
    E_WRITE,
    FILLS,
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
from .rules import (
    average_block_accesses,
    bandwidth_cycles,
    block_accesses,
    port_words,
    transfer_blocks,
)

# Helpers called at one place only are inlined by LLVM (forceinline; nest_kernel.py says why not by
# Numba); those called at several places stay calls.
RAGGED_UNSUPPORTED = 3  # status: a ragged dim of a tensor whose axes mix dims (see the docstring)
BUSIEST, ALL = 0, 1     # which instances a count covers: the one at spatial offset 0, or every one


class Ragged(NamedTuple):
    """evaluate_ragged's own outputs and work arrays (ragged_work allocates them)."""
    totals: np.ndarray  # [level, tensor, READS|FILLS|UPDATES] summed over the level's utilized instances
    steps: np.ndarray   # [2] temporal steps of the busiest MAC, MACs utilized (spatial positions used)
    member: np.ndarray  # [loop] bool: the loop set a count_below product takes
    fan: np.ndarray     # [loop] bool: fan-out loops between a level and its child that merge the tensor
    lo: np.ndarray      # [dim] an extent class: offsets in [lo, hi) on each dim (_moved)
    hi: np.ndarray      # [dim]
    rd: np.ndarray      # [dim] the ragged dims of the tensor being counted
    saved: np.ndarray   # [dim] their extents at the level, while a class replaces them
    inner: np.ndarray   # [loop] bool: the loops a transfer spans (_transfer_blocks)
    digit: np.ndarray   # [loop + 1] per outer loop on a dim (outer → inner), its digit while _extents walks them
    outer: np.ndarray   # [loop] the outer loops on that dim, outer → inner
    span: np.ndarray    # [loop + 1] the largest offset the outer loops from q inward add (_extents)
    tuples: np.ndarray  # [loop + 1] how many tuples they make
    offset: np.ndarray  # [loop + 1] the offset of the digits outside q
    h_size: np.ndarray  # [dim, size] per dim, the distinct transfer extents (a histogram)
    h_count: np.ndarray  # [dim, size] and how many outer tuples give each
    h_n: np.ndarray     # [dim] entries
    h_at: np.ndarray    # [dim] an entry per dim, while their products are walked
    blocks: np.ndarray  # [1] the block accesses of the transfers _moved last counted
    fold_dim: np.ndarray  # [dim] the ragged dims whose merged fan-outs _fold_ragged_fans folded
    fold_ext: np.ndarray  # [dim] the child's extents there before
    n_fold: np.ndarray    # [1] how many


def ragged_work(max_loops: int, n_levels: int, n_tensors: int, n_dims: int, max_dim_size: int = 1) -> Ragged:
    loops, dims, sizes = max(1, max_loops), max(1, n_dims), max(1, max_dim_size)
    return Ragged(np.zeros((n_levels, n_tensors, 3), np.int64), np.zeros(2, np.int64),
                  np.zeros(loops, np.bool_), np.zeros(loops, np.bool_), np.zeros(dims, np.int64),
                  np.zeros(dims, np.int64), np.zeros(dims, np.int64), np.zeros(dims, np.int64),
                  np.zeros(loops, np.bool_), np.zeros(loops + 1, np.int64), np.zeros(loops, np.int64),
                  np.zeros(loops + 1, np.int64), np.zeros(loops + 1, np.int64), np.zeros(loops + 1, np.int64),
                  np.zeros((dims, sizes), np.int64), np.zeros((dims, sizes), np.int64), np.zeros(dims, np.int64),
                  np.zeros(dims, np.int64), np.zeros(1, np.int64), np.zeros(dims, np.int64), np.zeros(dims, np.int64),
                  np.zeros(1, np.int64))


@helper()
def reset_ragged_work(rg):
    """rg as ragged_work allocates it, for a count given it again, but for the extent histograms
    (h_size, h_count: [dim, largest dim size], by far its largest arrays), whose entries _extents
    writes before anything reads them (h_n counts them)."""
    for a in literal_unroll((rg.totals, rg.steps, rg.member, rg.fan, rg.lo, rg.hi, rg.rd, rg.saved, rg.inner,
                             rg.digit, rg.outer, rg.span, rg.tuples, rg.offset, rg.h_n, rg.h_at, rg.blocks,
                             rg.fold_dim, rg.fold_ext, rg.n_fold)):
        a.fill(0)


@kernel(_nrt=False)
def count_below(loop_dim, loop_bound, stride, n, member, d, size):
    """Digit tuples of the member loops on dim d (the others at 0) whose offset is below `size`."""
    lower = 1  # Π of the member bounds not yet passed
    for j in range(n):
        if member[j] and loop_dim[j] == d:
            lower *= loop_bound[j]
    count, rem = 0, size - 1
    for j in range(n):
        if member[j] and loop_dim[j] == d:
            lower //= loop_bound[j]
            v = min(loop_bound[j] - 1, rem // stride[j])
            count += v * lower
            rem -= v * stride[j]
    return count + 1


@helper()
def _valid(nest, p, sc, member):
    """Π_d count_below(D_d, member loops on d): valid tuples of the member loops."""
    total = 1
    for d in range(p.dim_size.shape[0]):
        total *= count_below(nest.loop_dim, nest.loop_bound, sc.stride, nest.n, member, d, p.dim_size[d])
    return total


@helper()
def _clear(member, n):
    for j in range(n):
        member[j] = False


@helper()
def _add_temporal(sc, member, k_end):
    """The first k_end temporal loops."""
    for k in range(k_end):
        member[sc.temporal[k]] = True


@helper()
def _add_fanouts_above(nest, sc, member, level, which):
    """With ALL, the fan-out loops above `level`: its instances enumerated."""
    if which == ALL:
        for j in range(sc.starts[level]):
            if nest.loop_spatial[j]:
                member[j] = True


@helper()
def _add_inside(nest, p, sc, member, level, t):
    """The loops at or below `level` on tensor t's dims: the tile's own digits."""
    for j in range(sc.starts[level], nest.n):
        if p.axis_of[t, nest.loop_dim[j]] >= 0:
            member[j] = True


@helper()
def _prefix_end(nest, p, sc, t, n_moves):
    """1 + the innermost of the first n_moves temporal loops that indexes t (0: none does)."""
    for k in range(n_moves - 1, -1, -1):
        if p.axis_of[t, nest.loop_dim[sc.temporal[k]]] >= 0:
            return k + 1
    return 0


@helper()
def _ragged_dim_of(p, sc, t, d):
    """Dim d is ragged (its loops cover more than it) and tensor t indexes it."""
    return p.axis_of[t, d] >= 0 and sc.ext[0, d] != p.dim_size[d]


@helper(forceinline=True)
def _ragged_in(nest, p, sc, t):
    """Tensor t indexes a ragged dim."""
    for d in range(p.dim_size.shape[0]):
        if _ragged_dim_of(p, sc, t, d):
            return True
    return False


@helper(forceinline=True)
def _in_range(nest, sc, member, d, lo, hi):
    """Tuples of the member loops on dim d (the others at 0) whose offset lies in [lo, hi)."""
    n = 0
    if hi > 0:
        n += count_below(nest.loop_dim, nest.loop_bound, sc.stride, nest.n, member, d, hi)
    if lo > 0:
        n -= count_below(nest.loop_dim, nest.loop_bound, sc.stride, nest.n, member, d, lo)
    return n


@helper()
def _valid_in(nest, p, sc, rg, member):
    """Π_d (tuples of the member loops on d with offset in [rg.lo[d], rg.hi[d]))."""
    total = 1
    for d in range(p.dim_size.shape[0]):
        total *= _in_range(nest, sc, member, d, rg.lo[d], rg.hi[d])
    return total


@helper()
def _moved(nest, p, sc, rg, t, level, n_moves, n_extra, w=1, block=1, reuse=True):
    """Loads of the set of t's points over the loops at or below `level` and sc.idx[:n_extra] (its
    tile, or a child's tile and the fan-outs that merge t), moving with the first n_moves temporal
    loops, the loops already in rg.member enumerated alongside.

    The dense kernel's full · visits − kept · steps (steps: those of the loops in the innermost
    loop's reuse class, nest_kernel._reuse_classes; of loop k: valid tuples of the loops before it
    and it, its digit ≥ 1), summed over the extent classes of t's ragged dims: at a visit, a dim's
    offset from the loops above the level is a multiple of the tile's extent E there, so the tile
    has all of E (offset below F = ⌊D/E⌋·E) or the remainder D − F (offset F): at most 2^dims
    classes, each a set of one shape, its visits and steps counted over the offsets in its range.
    Their transfers' block accesses (each rounded on its own, `w` words per element) into rg.blocks.
    reuse=False: every visit loads the whole set (what unheld MACs read at each step)."""
    member = rg.member
    rg.blocks[0] = 0
    n_rd = 0
    for d in range(p.dim_size.shape[0]):
        rg.lo[d], rg.hi[d] = 0, p.dim_size[d]
        if _ragged_dim_of(p, sc, t, d):
            rg.rd[n_rd] = d
            rg.saved[n_rd] = sc.ext[level, d]
            n_rd += 1
    total = 0
    for combo in range(1 << n_rd):
        empty = False
        for q in range(n_rd):
            d, extent = rg.rd[q], rg.saved[q]
            whole = (p.dim_size[d] // extent) * extent
            if combo >> q & 1:  # the remainder tile
                rg.lo[d], rg.hi[d] = whole, p.dim_size[d]
                sc.ext[level, d] = p.dim_size[d] - whole
            else:
                rg.lo[d], rg.hi[d] = 0, whole
                sc.ext[level, d] = extent
            empty |= rg.hi[d] == rg.lo[d]
        if empty:
            continue
        _set_terms(p, nest, sc, t, level, sc.idx, n_extra)
        full = _set_size(sc, p.n_axes[t])
        kept = _kept(nest, p, sc, t, n_moves, full)
        _add_temporal(sc, member, n_moves)
        visits = _valid_in(nest, p, sc, rg, member)
        for k in range(n_moves):
            member[sc.temporal[k]] = False
        steps = 0
        k = n_moves - 1 if reuse else -1  # without reuse (unheld MAC operands) every step is whole
        while k >= 0:
            _add_temporal(sc, member, k)
            without = _valid_in(nest, p, sc, rg, member)
            member[sc.temporal[k]] = True
            steps += _valid_in(nest, p, sc, rg, member) - without
            for q in range(k + 1):
                member[sc.temporal[q]] = False
            k = sc.reuse_link[t, k]
        total += full * visits - kept * steps
        rg.blocks[0] += transfer_blocks(np.int64(1), visits - steps, full, steps, full - kept, w, block, np.int64(-1))
    for q in range(n_rd):
        sc.ext[level, rg.rd[q]] = rg.saved[q]
    return total


@helper(forceinline=True)
def _kept(nest, p, sc, t, n_moves, full):
    """Points of the set _set_terms built (for `level` and extra loops) that a reuse step keeps: the
    overlap after a shift by the innermost moving loop's step (nest_kernel._moved_loads)."""
    if n_moves == 0:
        return full
    a = sc.move_axis[t, n_moves - 1]
    if a < 0:
        return full
    kept = axis_count(sc.tc, sc.te, a, sc.m, sc.shape, sc.move_by[t, n_moves - 1], sc.occ, sc.base)
    if kept > 0:
        for b in range(p.n_axes[t]):
            if b != a:
                kept *= axis_count(sc.tc, sc.te, b, sc.m, sc.shape, np.int64(0), sc.occ, sc.base)
    return kept


@helper(forceinline=True)
def _loads(nest, p, sc, rg, i, t, which, w=1, block=1):
    """Elements loaded into level i's tile of t (per busiest instance, or over ALL instances)."""
    member = rg.member
    _clear(member, nest.n)
    _add_fanouts_above(nest, sc, member, i, which)
    n_moves = sc.moves_before[i]
    if p.one_dim[t]:
        _add_temporal(sc, member, _prefix_end(nest, p, sc, t, n_moves))
        _add_inside(nest, p, sc, member, i, t)
        return _valid(nest, p, sc, member)
    return _moved(nest, p, sc, rg, t, i, n_moves, np.int64(0), w, block, np.bool_(True))  # (no literal: one specialization)


@helper(forceinline=True)
def _served(nest, p, sc, rg, i, t, hold, n_t, which, w=1, block=1):
    """Elements of t level i serves its child (the next level keeping t) or the MACs: nest_kernel's
    _served with every product of bounds a count of valid tuples. Fan-outs on the way that merge
    t are served once (their positions are t's points); the others apart (enumerated)."""
    compute = p.level_int.shape[0] - 1
    child = _child(nest, p, i, t)
    member, fan = rg.member, rg.fan
    _clear(member, nest.n)
    _clear(fan, nest.n)
    _add_fanouts_above(nest, sc, member, i, which)
    n_u = np.int64(0)
    for j in range(sc.starts[i], sc.starts[child]):
        if nest.loop_spatial[j]:
            if p.merges[nest.loop_level[j], t, nest.loop_dim[j]]:
                fan[j] = True
                sc.idx[n_u] = j
                n_u += 1
            else:
                member[j] = True
    unheld = child == compute and not hold
    n_moves = n_t if child == compute else sc.moves_before[child]
    if p.one_dim[t]:
        for j in range(nest.n):
            if fan[j] and p.axis_of[t, nest.loop_dim[j]] >= 0:
                member[j] = True  # a merged fan-out on t's dims spans t's points
        if child != compute:
            _add_inside(nest, p, sc, member, child, t)
        _add_temporal(sc, member, n_t if unheld else _prefix_end(nest, p, sc, t, n_moves))
        return _valid(nest, p, sc, member)
    n_u = _fold_ragged_fans(nest, p, sc, rg, t, child, n_u)
    if n_u < 0:
        return -1  # a merged fan-out on a ragged dim of t that leaves holes in the set: not counted
    if rg.n_fold[0] == 0 and unheld:  # the merged fan-outs' points: the same at every step
        _set_terms(p, nest, sc, t, child, sc.idx, n_u)
        merged = _set_size(sc, p.n_axes[t])
        _add_temporal(sc, member, n_t)
        return _valid(nest, p, sc, member) * merged
    served = _moved(nest, p, sc, rg, t, child, n_moves, n_u, w, block, not unheld)
    for q in range(rg.n_fold[0]):  # the child's own extents back
        sc.ext[child, rg.fold_dim[q]] = rg.fold_ext[q]
    return served


@helper(forceinline=True)
def _fold_ragged_fans(nest, p, sc, rg, t, child, n_u):
    """Fold the merged fan-outs sc.idx[:n_u] on ragged dims of t into the child's extent there: on
    such a dim d the set is the child's range [0, ext[child, d]) and the fan-outs' digits; when each
    fan-out's stride is the range the ones inside it (and the child) cover, the set is the interval
    [0, F_d) (F_d = ext · their bounds), every loop outside it on d moves by multiples of F_d, and
    _moved's extent classes count it with ext[child, d] = F_d (the child's extents kept in
    rg.fold_dim/fold_ext, restored by the caller). Returns the fan-outs left in sc.idx, or −1 when
    a fan-out on a ragged dim leaves holes (a loop on d between it and the child's range)."""
    rg.n_fold[0] = 0
    for q in range(n_u - 1, -1, -1):  # inner → outer (sc.idx is top-down)
        j = sc.idx[q]
        d = nest.loop_dim[j]
        if nest.loop_bound[j] == 1 or not _ragged_dim_of(p, sc, t, d):
            continue
        f = 0
        while f < rg.n_fold[0] and rg.fold_dim[f] != d:
            f += 1
        if f == rg.n_fold[0]:
            rg.fold_dim[f], rg.fold_ext[f] = d, sc.ext[child, d]
            rg.n_fold[0] += 1
        if sc.stride[j] != sc.ext[child, d]:
            for g in range(rg.n_fold[0]):
                sc.ext[child, rg.fold_dim[g]] = rg.fold_ext[g]
            rg.n_fold[0] = 0
            return -1
        sc.ext[child, d] *= nest.loop_bound[j]
    kept = 0
    for q in range(n_u):  # the fan-outs not folded, in order
        j = sc.idx[q]
        if nest.loop_bound[j] == 1 or not _ragged_dim_of(p, sc, t, nest.loop_dim[j]):
            sc.idx[kept] = j
            kept += 1
    return kept


@helper()
def _child(nest, p, i, t):
    """The next memory level below i that keeps t (the compute level if none)."""
    compute = p.level_int.shape[0] - 1
    for c in range(i + 1, compute):
        if p.level_int[c, KIND] == MEMORY and nest.keeps[c, t]:
            return c
    return compute


@helper()
def _add_extent(rg, d, extent, count):
    """`count` more outer tuples of dim d whose transfer spans `extent` (rg's histogram)."""
    q = 0
    while q < rg.h_n[d] and rg.h_size[d, q] != extent:
        q += 1
    if q == rg.h_n[d]:
        rg.h_size[d, q], rg.h_count[d, q] = extent, 0
        rg.h_n[d] += 1
    rg.h_count[d, q] += count


@helper()
def _extents(nest, sc, rg, d, size):
    """Dim d's histogram of transfer extents (rg.h_size, h_count, h_n): per valid tuple of the
    rg.member loops on d (its offset o below `size`), count_below(size − o, the rg.inner loops on d).
    Every tuple whose offset leaves the inner loops' whole reach spans their full extent, so only
    the tuples near the dim's end are walked: digits from the largest stride down (each loop's
    stride is what the loops inside it on d cover, so loops outer → inner), a prefix whose every
    completion is full or invalid counted at once."""
    k = 0
    for j in range(nest.n):
        if rg.member[j] and nest.loop_dim[j] == d:
            rg.outer[k] = j
            k += 1
    rg.span[k], rg.tuples[k] = 0, 1
    for q in range(k - 1, -1, -1):
        j = rg.outer[q]
        rg.span[q] = rg.span[q + 1] + (nest.loop_bound[j] - 1) * sc.stride[j]
        rg.tuples[q] = rg.tuples[q + 1] * nest.loop_bound[j]
    reach = np.int64(1)  # an offset o spans the full extent when size − o ≥ reach
    for j in range(nest.n):
        if rg.inner[j] and nest.loop_dim[j] == d:
            reach += (nest.loop_bound[j] - 1) * sc.stride[j]
    rg.h_n[d] = 0
    full = np.int64(0)  # tuples spanning the full extent
    q, rg.offset[0], rg.digit[0] = 0, 0, -1  # digit −1: the prefix of q's outer digits just reached
    while q >= 0:
        o = rg.offset[q]
        if rg.digit[q] < 0:
            if o >= size:  # no completion is valid
                q -= 1
                continue
            if o + rg.span[q] + reach <= size:  # every completion spans the full extent
                full += rg.tuples[q]
                q -= 1
                continue
            if q == k:
                _add_extent(rg, d, count_below(nest.loop_dim, nest.loop_bound, sc.stride, nest.n, rg.inner, d,
                                               size - o), np.int64(1))
                q -= 1
                continue
            # the digits whose completions are all full, at once
            first = max(0, (size - reach - rg.span[q + 1] - o) // sc.stride[rg.outer[q]] + 1)
            first = min(first, nest.loop_bound[rg.outer[q]])
            full += first * rg.tuples[q + 1]
            rg.digit[q] = first
        else:
            rg.digit[q] += 1
        j = rg.outer[q]
        o += rg.digit[q] * sc.stride[j]
        if rg.digit[q] >= nest.loop_bound[j] or o >= size:
            q -= 1
            continue
        rg.offset[q + 1], rg.digit[q + 1] = o, -1
        q += 1
    if full > 0:
        extent = count_below(nest.loop_dim, nest.loop_bound, sc.stride, nest.n, rg.inner, d, reach)
        _add_extent(rg, d, extent, full)


@helper()
def _transfer_blocks(nest, p, sc, rg, t, scale, w, block, first):
    """Block accesses of transfers each rounded on its own: a transfer per valid tuple of the
    rg.member loops (the outer ones), of scale · Π_d count_below(D_d − o_d, rg.inner loops on d)
    elements at the offsets o_d those give (on t's dims of a one_dim tensor, its points; on other
    dims, positions served apart: copies). Per dim a histogram of those extents over its outer
    tuples (few distinct: a whole extent and a remainder when the inner loops are contiguous), then
    a sum over their products. `first` (outputs, rg.member holding the first-touch transfers):
    the blocks their first copy saves, ⌈box·copies⌉ − ⌈box·(copies − 1)⌉ (rules.first_touch_blocks)."""
    n_dims = p.dim_size.shape[0]
    for d in range(n_dims):
        _extents(nest, sc, rg, d, p.dim_size[d])
        rg.h_at[d] = 0
    total = 0
    while True:
        box, copies, count = scale, 1, 1
        for d in range(n_dims):
            if p.axis_of[t, d] >= 0:
                box *= rg.h_size[d, rg.h_at[d]]
            else:
                copies *= rg.h_size[d, rg.h_at[d]]
            count *= rg.h_count[d, rg.h_at[d]]
        saved = block_accesses(box * copies * w, block, np.int64(-1))
        if first:
            saved -= block_accesses(box * (copies - 1) * w, block, np.int64(-1))
        total += count * saved
        d = n_dims - 1
        while d >= 0:
            rg.h_at[d] += 1
            if rg.h_at[d] < rg.h_n[d]:
                break
            rg.h_at[d] = 0
            d -= 1
        if d < 0:
            break
    return total


@helper()
def _first_touches(nest, p, sc, rg, t, i, w, block):
    """_transfer_blocks of the outputs' transfers that first bring each output to an instance of
    level i: the outer loops on dims t ignores dropped, but for the fan-outs above i (instances apart)."""
    for j in range(nest.n):
        if (j >= sc.starts[i] or not nest.loop_spatial[j]) and p.axis_of[t, nest.loop_dim[j]] < 0:
            rg.member[j] = False
    return _transfer_blocks(nest, p, sc, rg, t, np.int64(1), w, block, np.bool_(True))


@helper(forceinline=True)
def _one_dim_fill_blocks(nest, p, sc, rg, i, t, w, block):
    """Per-transfer block accesses of level i's tile loads of one_dim t, every instance (for outputs,
    less the first touches), as _loads counts them: a tile per tuple of the temporal prefix."""
    member = rg.member
    _clear(member, nest.n)
    _clear(rg.inner, nest.n)
    _add_fanouts_above(nest, sc, member, i, np.int64(ALL))
    _add_temporal(sc, member, _prefix_end(nest, p, sc, t, sc.moves_before[i]))
    _add_inside(nest, p, sc, rg.inner, i, t)
    blocks = _transfer_blocks(nest, p, sc, rg, t, np.int64(1), w, block, np.bool_(False))
    if p.is_output[t]:
        blocks = max(0, blocks - _first_touches(nest, p, sc, rg, t, i, w, block))
    return blocks


@helper(forceinline=True)
def _served_blocks(nest, p, sc, rg, i, t, child, held, n_t, w, block):
    """Per-transfer block accesses of what level i serves, every instance, as _served counts it:
    (all transfers, what first touches save). A memory child's fill is a transfer per position of
    the separate fan-outs; what the MACs take in a step is one transfer of every position's points.
    A one_dim tensor's set is the child's tile and the merged fan-outs on t's dims, a transfer per
    tuple of the temporal prefix (every temporal loop for unheld MAC operands); any other tensor
    feeding unheld MACs moves its merged set (no ragged dim of t in it) at every position and step.
    (-1, 0): not counted here (a held sliding-window operand of the MACs: _moved's blocks do not
    group its positions by step; an unheld one merged over a ragged dim of its own with copies;
    outputs whose axes mix dims), which keeps the layer rule; (-2, 0): an unheld one merged over a
    ragged dim of its own without copies, whose step transfers _moved counted (_per_transfer)."""
    member, inner = rg.member, rg.inner
    compute = p.level_int.shape[0] - 1
    mac = child == compute
    unheld = mac and not held
    _clear(member, nest.n)
    _clear(inner, nest.n)
    _add_fanouts_above(nest, sc, member, i, np.int64(ALL))
    n_u = np.int64(0)
    for j in range(sc.starts[i], sc.starts[child]):
        if nest.loop_spatial[j]:
            if not p.merges[nest.loop_level[j], t, nest.loop_dim[j]]:
                if mac:
                    inner[j] = True  # served apart, in the same step
                else:
                    member[j] = True
            else:
                sc.idx[n_u] = j
                n_u += 1
                if p.axis_of[t, nest.loop_dim[j]] >= 0 and p.one_dim[t]:
                    inner[j] = True
    scale = 1
    if p.one_dim[t]:
        if mac:
            _add_temporal(sc, member, n_t if unheld else _prefix_end(nest, p, sc, t, n_t))
        else:
            _add_inside(nest, p, sc, inner, child, t)
            _add_temporal(sc, member, _prefix_end(nest, p, sc, t, sc.moves_before[child]))
    elif unheld and not p.is_output[t]:  # separate positions on t's dims each serve `scale` points
        for q in range(n_u):
            if nest.loop_bound[sc.idx[q]] > 1 and _ragged_dim_of(p, sc, t, nest.loop_dim[sc.idx[q]]):
                # a merged fan-out on a ragged dim of t: the set changes from step to step. Without
                # copies a step's transfer is that set, as _moved counted it (-2: take its blocks);
                # with copies their sets differ and join one transfer: the layer rule (-1).
                for j in range(nest.n):
                    if inner[j] and nest.loop_bound[j] > 1:
                        return -1, 0
                return -2, 0
        _set_terms(p, nest, sc, t, child, sc.idx, n_u)
        scale = _set_size(sc, p.n_axes[t])
        _add_temporal(sc, member, n_t)
    else:
        return -1, 0
    blocks = _transfer_blocks(nest, p, sc, rg, t, scale, w, block, np.bool_(False))
    if not p.is_output[t]:
        return blocks, 0
    return blocks, _first_touches(nest, p, sc, rg, t, i, w, block)


@helper(forceinline=True)
def _distinct_outputs(nest, p, sc, rg, i, t, which, instances):
    """Distinct outputs (tensor t) level i's busiest instance, or ALL of them, sees."""
    if p.one_dim[t]:
        member = rg.member
        _clear(member, nest.n)
        for j in range(nest.n):  # t's points: every loop on its dims but the fan-outs above
            if (j >= sc.starts[i] or not nest.loop_spatial[j]) and p.axis_of[t, nest.loop_dim[j]] >= 0:
                member[j] = True
        _add_fanouts_above(nest, sc, member, i, which)  # and, for ALL, each instance apart
        return _valid(nest, p, sc, member)
    _set_terms(p, nest, sc, t, i, sc.temporal, sc.moves_before[i])  # t has no ragged dim here
    return _set_size(sc, p.n_axes[t]) * (instances if which == ALL else 1)


@helper(forceinline=True)
def _per_transfer(nest, p, sc, rg, blocks, i, t, top, w, block, load_blocks, served_blocks, held, n_t):
    """Level i's block accesses of t over every instance under per-transfer rounding (nest_kernel._blocks'
    rule): fills from its loads, reads and updates from what it serves (_served_blocks). A non-one_dim
    tensor (no ragged outputs among them) takes the blocks _moved counted (load_blocks, served_blocks)
    for a memory child; a held one feeding the MACs keeps the layer rule (_served_blocks)."""
    if i != top:
        if p.one_dim[t]:
            blocks[i, t, FILLS] = _one_dim_fill_blocks(nest, p, sc, rg, i, t, w, block)
        elif not p.is_output[t]:
            blocks[i, t, FILLS] = load_blocks
    child = _child(nest, p, i, t)
    mac = child == p.level_int.shape[0] - 1
    if p.one_dim[t] or mac:
        served, first = _served_blocks(nest, p, sc, rg, i, t, child, held, n_t, w, block)
        if served == -2:  # an unheld operand merged over its own ragged dim: _moved's step transfers
            served = served_blocks
        elif served < 0:
            return
    elif not p.is_output[t]:
        served, first = served_blocks, 0
    else:
        return
    if p.is_output[t]:
        blocks[i, t, UPDATES] = served
        blocks[i, t, READS] = max(0, served - first)
    else:
        blocks[i, t, READS] = served


@kernel(_nrt=False)
def evaluate_ragged(nest, p, out, sc, rg):
    """Counts, cycles and energy of a lowered nest whose bounds may not divide their dims (see the
    module docstring). Returns (status, energy pJ, cycles): OK, OVER_CAPACITY, BROKEN or
    RAGGED_UNSUPPORTED. out.counts: the busiest instance; rg.totals: every utilized instance."""
    n_levels = p.level_int.shape[0]
    top = _levels_and_extents(nest, p, out, sc)
    n_t = _reuse_classes(p.axis_of, p.coef, nest, sc)
    n_tensors = p.axis_of.shape[0]
    for t in range(n_tensors):
        if not p.one_dim[t] and p.is_output[t] and _ragged_in(nest, p, sc, t):
            return RAGGED_UNSUPPORTED, 0.0, 0  # (every shipped layer's outputs have one dim per axis)
    member = rg.member
    for l in range(n_levels):  # utilized instances: fan-out positions with a valid offset
        _clear(member, nest.n)
        _add_fanouts_above(nest, sc, member, l, np.int64(ALL))
        out.instances[l] = _valid(nest, p, sc, member)
    _clear(member, nest.n)
    _add_temporal(sc, member, n_t)
    rg.steps[0] = _valid(nest, p, sc, member)
    _clear(member, nest.n)
    for j in range(nest.n):
        member[j] = nest.loop_spatial[j]
    rg.steps[1] = _valid(nest, p, sc, member)
    # Pass 1: the busiest instance's tiles (its first visit: offset 0 on every dim), and capacity.
    counts = out.counts
    for i in range(n_levels):
        if p.level_int[i, KIND] != MEMORY:
            continue
        for t in range(n_tensors):
            counts[i, t, READS] = 0
            counts[i, t, FILLS] = 0
            counts[i, t, UPDATES] = 0
            counts[i, t, TILE] = 0
            for q in range(3):
                rg.totals[i, t, q] = 0
                out.blocks[i, t, q] = 0
            if not nest.keeps[i, t]:
                continue
            if p.one_dim[t]:
                _clear(member, nest.n)
                _add_inside(nest, p, sc, member, i, t)
                counts[i, t, TILE] = _valid(nest, p, sc, member)
            else:  # the first visit's: each ragged dim's extent at most its size
                for d in range(p.dim_size.shape[0]):
                    rg.saved[d] = sc.ext[i, d]
                    if p.axis_of[t, d] >= 0:
                        sc.ext[i, d] = min(sc.ext[i, d], p.dim_size[d])
                counts[i, t, TILE] = _tile(nest, p, sc, i, t)
                for d in range(p.dim_size.shape[0]):
                    sc.ext[i, d] = rg.saved[d]
        if _over_capacity(nest, p, counts, i, np.int64(1)):
            return OVER_CAPACITY, 0.0, 0
    # Passes 2 and 3 per level, top-down: loads, what it serves and cycles; then the energy.
    hold = p.hold_spatial_innermost and nest.n > 0 and nest.loop_spatial[nest.n - 1]
    cycles = rg.steps[0]
    level_float = p.level_float
    for i in range(n_levels):
        if p.level_int[i, KIND] != MEMORY:
            continue
        inst = out.instances[i]
        out.output_words[i] = 1
        read_words, write_words = np.int64(0), np.int64(0)
        read_blocks, write_blocks = np.int64(0), np.int64(0)  # every instance's
        block = p.level_int[i, BLOCK]
        per_transfer = p.level_int[i, BLOCK_RULE] == TRANSFER_BLOCKS and block > 1
        for t in range(n_tensors):
            if not nest.keeps[i, t]:
                continue
            held = hold or p.latched[t]
            w = np.int64(1)  # no literal arguments: Numba compiles a callee once per literal value
            for which in range(2):
                loads = 0 if i == top else _loads(nest, p, sc, rg, i, t, which, w, block)
                load_blocks = rg.blocks[0]  # (when _loads ran _moved)
                served = _served(nest, p, sc, rg, i, t, held, n_t, which, w, block)
                served_blocks = rg.blocks[0]
                if served < 0:
                    return RAGGED_UNSUPPORTED, 0.0, 0
                distinct = _distinct_outputs(nest, p, sc, rg, i, t, which, inst) if p.is_output[t] else 0
                reads, fills, updates, status = level_actions(p.is_output[t], i == top, loads, served, distinct)
                if status == BROKEN:
                    return BROKEN, 0.0, 0
                if which == BUSIEST and status == ACCUMULATES:  # partial sums
                    out.output_words[i] = p.psum_words[i]
                    w = p.psum_words[i]
                if which == BUSIEST:
                    counts[i, t, READS], counts[i, t, FILLS], counts[i, t, UPDATES] = reads, fills, updates
                    read_words += reads * w
                    write_words += (fills + updates) * w
                else:
                    rg.totals[i, t, READS], rg.totals[i, t, FILLS], rg.totals[i, t, UPDATES] = reads, fills, updates
                    blocks = out.blocks  # every instance's: the layer rule prices their average
                    blocks[i, t, READS] = average_block_accesses(reads * w, inst, block) * inst
                    blocks[i, t, FILLS] = average_block_accesses(fills * w, inst, block) * inst
                    blocks[i, t, UPDATES] = average_block_accesses(updates * w, inst, block) * inst
                    if per_transfer:
                        _per_transfer(nest, p, sc, rg, blocks, i, t, top, w, block, load_blocks, served_blocks,
                                      held, n_t)
                    read_blocks += blocks[i, t, READS]
                    write_blocks += blocks[i, t, FILLS] + blocks[i, t, UPDATES]
            if w > 1 and _over_capacity(nest, p, counts, i, w):
                return OVER_CAPACITY, 0.0, 0
        bw_cycles = bandwidth_cycles(port_words(read_words, read_blocks, inst, block, per_transfer),
                                     port_words(write_words, write_blocks, inst, block, per_transfer),
                                     level_float[i, READ_BW], level_float[i, WRITE_BW], level_float[i, SHARED_BW])
        out.level_cycles[i] = bw_cycles
        cycles = max(cycles, bw_cycles)
        out.charged[i] = min(inst, _charged_instances(nest, p, i, inst, sc.starts[i]))
    return OK, ragged_energy(nest, p, out, cycles), cycles


@helper()
def _over_capacity(nest, p, counts, i, w):
    """Do the tiles memory level i keeps (counts' TILE, an output's elements taking w words each)
    exceed its capacity?"""
    used = 0
    for t in range(p.axis_of.shape[0]):
        if nest.keeps[i, t]:
            used += counts[i, t, TILE] * (w if p.is_output[t] else 1)
    return p.level_int[i, CAPACITY] >= 0 and used > p.level_int[i, CAPACITY]


@helper()
def ragged_energy(nest, p, out, cycles):
    """A ragged count's energy (pJ) over `cycles`, from what evaluate_ragged left in `out` (every
    instance's block accesses, the charged and utilized instances): the MACs', each memory level's
    priced accesses, and the per-cycle energy (written to out.per_cycle_pj). Reads no count: a count
    of the same nest on an arch differing only in its energies is priced again by it."""
    energy = _mac_energy(nest, p)
    per_cycle_pj = p.energy_per_cycle_pj
    level_float, blocks = p.level_float, out.blocks
    for i in range(p.level_int.shape[0]):
        if p.level_int[i, KIND] != MEMORY:
            continue
        inst, level_energy = out.instances[i], 0.0
        for t in range(p.axis_of.shape[0]):
            if nest.keeps[i, t]:
                level_energy += p.e_factor[i, t] * (
                    blocks[i, t, READS] / inst * level_float[i, E_READ]
                    + blocks[i, t, FILLS] / inst * level_float[i, E_WRITE]
                    + blocks[i, t, UPDATES] / inst * level_float[i, E_UPDATE])
        energy += out.charged[i] * level_energy
        per_cycle_pj += inst * level_float[i, LEAK]
    out.per_cycle_pj[0] = per_cycle_pj
    return energy + per_cycle_pj * cycles


@helper()
def fits_again(nest, p, out):
    """Does a ragged count left in `out` (status OK) fit this arch's capacities (evaluate_ragged's
    two checks: the tiles, then an accumulating output's partial-sum words)?"""
    for i in range(p.level_int.shape[0]):
        if p.level_int[i, KIND] != MEMORY:
            continue
        if _over_capacity(nest, p, out.counts, i, np.int64(1)):
            return False
        if out.output_words[i] > 1 and _over_capacity(nest, p, out.counts, i, out.output_words[i]):
            return False
    return True
