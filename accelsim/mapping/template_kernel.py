"""The generic dataflow templates' mapping choice (ws, os, is and the other SIMPLE_TEMPLATES of
mapping/dataflows.py) as one jitted kernel, for sweeps that map thousands of layers.

mapping/dataflows.py is the definition and stays the reference: this kernel makes the same choices
in the same order (the fan-outs' best splits and their narrowing, the greedy fill of each buffer
for every held tensor, the top memory's loop order, the bypass of buffers that do not reuse a
tensor, the x options on a fan-out of PEs), with the same tie-breaking, and
tests/unit/test_template_kernel.py checks that its mapping equals `map_layer`'s on every layer of
the shipped workloads on the shipped archs and on random shapes. Only the order-free work moves
here: the template's dim orders (preferences per axis, temporal priority, the top-level orders
tried) are computed once per layer in Python by the template's own functions (mapping/template_pack.py). This module imports no dataflow code: Numba's cache is
cleared whenever a module a kernel imports changes (kernel_cache.py).

Three differences in means, not in results: a buffer's largest fitting factor is found by bisection
over the divisors (a tile's size never shrinks as a factor grows, so the fitting divisors are a
prefix of the sorted list), tile sizes are counted with counting/point_sets.py's jitted rules
(the ones counting/reuse.tile_size calls), and a layer's scratch remembers its last mappings with
the range of capacities that give each (TemplateMemo), which a sweep's buffer sizes reuse.

The kernel's result is one candidate per level (loops outer → inner, X 0 / Y 1 / temporal −1 as
counting/nest.py codes them) plus the bypass mask; mapping/template_pack.py packs the layer
and the arch (Python: the template's own orders) and turns the result into a Mapping; `lower_best`
writes it as the lowered nest arrays (mapping/lower.py's, built without a Mapping).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..counting.nest import TEMPORAL, X, Y
from ..counting.point_sets import axis_count, axis_shape
from ..jit import helper, kernel

MEMORY, SPATIAL, COMPUTE = 0, 1, 2
N_ROLES = 3                # inputs, weights, outputs (ir.einsum.ROLES): the columns of keeps and bypass
SPLIT_DIMS = 4            # _best_split looks at the first four preferred dims


class TemplateLayer(NamedTuple):
    """A layer and a template's orders, as arrays (mapping/template_pack.py). This module imports no dataflow code: Numba's cache is
cleared whenever a module a kernel imports changes (kernel_cache.py)."""
    bound: np.ndarray       # [dim] int64
    divs: np.ndarray        # [dim, k] int64: divisors of bound[d], ascending, n_divs[d] of them
    n_divs: np.ndarray      # [dim] int64
    n_axes: np.ndarray      # [tensor] int64
    term_dim: np.ndarray    # [tensor, axis, term] int64
    term_coef: np.ndarray   # [tensor, axis, term] int64
    n_terms: np.ndarray     # [tensor, axis] int64
    has_dim: np.ndarray     # [tensor, dim] bool: the tensor is indexed by the dim
    role: np.ndarray        # [tensor] int64: index in einsum.ROLES
    is_output: np.ndarray   # [tensor] bool
    of_role: np.ndarray     # [role] int64: the tensor with that role, −1 none
    held: np.ndarray        # [option] int64: −1 (each level's own tensors) or the held tensor
    priority: np.ndarray    # [dim] int64: the temporal priority, innermost first
    top_orders: np.ndarray  # [order, dim] int64: the top memory's orders to try, innermost first
    y_pref: np.ndarray      # [n] int64: dims preferred on a fan-out's y, n_y of them
    n_y: int
    x_pref: np.ndarray
    n_x: int
    wide: np.ndarray        # x preferences of the 'reduction on x too' option (dataflows._x_options)
    n_wide: int


class TemplateArch(NamedTuple):
    """An arch as the kernel reads it (template_pack.pack_arch); levels include the compute level."""
    kind: np.ndarray        # [level] MEMORY, SPATIAL, COMPUTE
    cap: np.ndarray         # [level] int64 capacity in words, −1 unbounded or not a memory
    fan_x: np.ndarray       # [level] int64
    fan_y: np.ndarray       # [level] int64
    keeps: np.ndarray       # [level, role] bool: the arch's keeps
    forced: np.ndarray      # [level, role] bool: may not be bypassed (constraints keep, residency)
    wide_bit: np.ndarray    # [level] int64: the x option's bit for this fan-out, −1 none
    memories: np.ndarray    # [m] int64: memory level indices, top-down


class TemplateMemo(NamedTuple):
    """A layer's last mappings (MEMO_ENTRIES), each with the arch it was made for and the range of
    capacities that give it. Capacities enter the template only through `fits` (a tile's words
    against a capacity), so a run whose every comparison comes out the same takes the same
    decisions: the run records per memory the most words that fitted (lo) and the fewest that did
    not (hi), and any capacity in [lo, hi) on every memory gives the same mapping. A sweep's
    buffer sizes then re-map a layer only where a size changes what fits. (Few arrays: every
    helper that takes the scratch takes them too, and each adds to the kernel's compile time.)"""
    run: np.ndarray         # [level, KEY] the current run's: the arch besides capacities (_arc_field), then
                            # LO the most words that fitted and HI the fewest that did not
    key: np.ndarray         # [entry, level, KEY] each entry's run
    slot: np.ndarray        # [entry, 4, level, loop] the BEST slot's dims, bounds, axes, and its loop counts at [3, level, 0]
    mask: np.ndarray        # [entry, level, role] mask M_BEST's
    used: np.ndarray        # [entry + 1, 2] when last used (0: empty) and map_layer_kernel's return; [MEMO_ENTRIES, 0]: the clock


MEMO_ENTRIES = 4
ARC_FIELDS = 7  # kind, fan_x, fan_y, wide_bit, the keeps' bits, the forced bits, unbounded
LO, HI = ARC_FIELDS, ARC_FIELDS + 1  # a key's columns after the arch's fields
KEY = ARC_FIELDS + 2
NO_WORDS_FAILED = np.iinfo(np.int64).max  # a memory's hi before any tile failed to fit it


class TemplateScratch(NamedTuple):
    """Work arrays: loop sets (slot, level, loop) and the point-set scratch; the memo of mappings."""
    s_dim: np.ndarray       # [slot, level, loop] int64
    s_bound: np.ndarray
    s_axis: np.ndarray
    s_n: np.ndarray         # [slot, level]
    rem: np.ndarray         # [dim] what the fan-outs leave for the memories
    below: np.ndarray       # [level, dim] spatial factors below each level
    temporal: np.ndarray    # [dim]
    ext: np.ndarray         # [dim]
    chosen: np.ndarray      # [dim]
    cand: np.ndarray        # [k] divisors
    mask: np.ndarray        # [slot, level, role] bool: bypass sets
    tc: np.ndarray          # [axis, term] point-set terms
    te: np.ndarray
    mm: np.ndarray          # [axis]
    shape: np.ndarray       # [axis, 4]
    occ: np.ndarray         # [span + 1] bool
    base: np.ndarray
    sp_dims: np.ndarray     # [SPLIT_DIMS] best_split's dims, candidates, digits
    sp_cand: np.ndarray     # [SPLIT_DIMS, k]
    sp_nc: np.ndarray
    sp_best: np.ndarray
    sp_digit: np.ndarray
    sp_cur: np.ndarray
    ext2: np.ndarray        # [dim] dram_traffic's tile extents
    first: np.ndarray       # [dim] bool: fill's first group
    top: np.ndarray         # [dim] what a fill leaves for the top
    ones: np.ndarray        # [dim]
    keeper: np.ndarray      # [tensor] dram_traffic's keeper level and tile words
    words: np.ndarray
    memo: TemplateMemo
    flags: np.ndarray       # [2] bool: OUTER_FAILED (since the phase began), BASE_FITS (map_with's)
    o_traffic: np.ndarray   # [order] top_loops' traffic per top order
    # A map_with's first-pass inner fill phase (the memories below the outermost buffer) per (x
    # option < KEPT_OPTIONS, held option), as the last call that computed it left it, with what it
    # read: its second pass takes it where it serves again (REUSE), and later calls on other
    # capacities where every comparison it made comes out the same (fill, _kept_fits):
    k_loops: np.ndarray     # [option, held, 3, level, loop] its loops' dims, bounds, axes
    k_vec: np.ndarray       # [option, held, 3 + level, dim] what it left in sc.temporal and `top`; the
                            # fan-outs' remainder and sc.below it started from
    k_level: np.ndarray     # [option, held, level, 3 + ARC_FIELDS] its loop counts, the LO and HI of
                            # its own comparisons, the arch's fields (_arc_field)
    k_state: np.ndarray     # [option, held, 3] kept (1), BASE_FITS then, no outer failure in it


# Slots of the loop sets: the spatial loops (and, at the end, the chosen mapping); the fill being
# tried; the best fill of a pass; the first pass; the second pass; the best x option.
SPATIAL_SLOT, TRY, PASS_BEST, FIRST, SECOND, BEST = 0, 1, 2, 3, 4, 5
N_SLOTS = 6
# Mask slots: the bypass used by a pass, the first pass's unreused set, the second's, the best's.
M_NONE, M_USELESS, M_AGAIN, M_BEST = 0, 1, 2, 3
# fill's modes: a plain fill; one that keeps its inner phase (a map_with's first pass); one that
# takes its inner phase from what the first pass kept (the second pass, where that is the same)
PLAIN, KEEP, REUSE = 0, 1, 2
# x options whose first-pass inner phases a scratch keeps (the shipped archs have 1 or 2; a further
# option's passes fill afresh)
KEPT_OPTIONS = 2
OUTER_FAILED, BASE_FITS = 0, 1  # the scratch's flags
# A slot passed to another kernel goes as np.int64(SLOT): Numba types a module constant as a literal
# and compiles the callee once per literal value (tests/kernels/test_kernel_signatures.py).


def template_scratch(layer: TemplateLayer, n_levels: int) -> TemplateScratch:
    n_dims, n_held = len(layer.bound), len(layer.held)
    max_loops = max(n_dims, 2 * SPLIT_DIMS)
    n_axes, n_terms = layer.term_dim.shape[1], layer.term_dim.shape[2]
    span = 1
    for t in range(len(layer.n_axes)):
        for a in range(layer.n_axes[t]):
            span = max(span, 1 + sum(int(layer.term_coef[t, a, q]) * (int(layer.bound[layer.term_dim[t, a, q]]) - 1)
                                     for q in range(layer.n_terms[t, a])))
    i64 = np.int64
    return TemplateScratch(
        np.zeros((N_SLOTS, n_levels, max_loops), i64), np.zeros((N_SLOTS, n_levels, max_loops), i64),
        np.zeros((N_SLOTS, n_levels, max_loops), i64), np.zeros((N_SLOTS, n_levels), i64),
        np.zeros(n_dims, i64), np.zeros((n_levels, n_dims), i64), np.zeros(n_dims, i64),
        np.zeros(n_dims, i64), np.zeros(n_dims, i64), np.zeros(layer.divs.shape[1], i64),
        np.zeros((4, n_levels, N_ROLES), np.bool_), np.zeros((n_axes, n_terms), i64),
        np.zeros((n_axes, n_terms), i64), np.zeros(n_axes, i64), np.zeros((n_axes, 4), i64),
        np.zeros(span + 1, np.bool_), np.zeros(span + 1, np.bool_),
        np.zeros(SPLIT_DIMS, i64), np.zeros((SPLIT_DIMS, layer.divs.shape[1]), i64), np.zeros(SPLIT_DIMS, i64),
        np.zeros(SPLIT_DIMS, i64), np.zeros(SPLIT_DIMS, i64), np.zeros(SPLIT_DIMS, i64),
        np.zeros(n_dims, i64), np.zeros(n_dims, np.bool_), np.zeros(n_dims, i64), np.ones(n_dims, i64),
        np.zeros(len(layer.role), i64), np.zeros(len(layer.role), i64), template_memo(n_levels, max_loops),
        np.zeros(2, np.bool_), np.zeros(layer.top_orders.shape[0], i64),
        np.zeros((KEPT_OPTIONS, n_held, 3, n_levels, max_loops), i64),
        np.zeros((KEPT_OPTIONS, n_held, 3 + n_levels, n_dims), i64),
        np.zeros((KEPT_OPTIONS, n_held, n_levels, 3 + ARC_FIELDS), i64), np.zeros((KEPT_OPTIONS, n_held, 3), i64))


def template_memo(n_levels: int, max_loops: int) -> TemplateMemo:
    k = MEMO_ENTRIES
    return TemplateMemo(np.zeros((n_levels, KEY), np.int64), np.zeros((k, n_levels, KEY), np.int64),
                        np.zeros((k, 4, n_levels, max_loops), np.int64), np.zeros((k, n_levels, N_ROLES), np.bool_),
                        np.zeros((k + 1, 2), np.int64))


# ---------------------------------------------------------------------------------------------
# The kernel. Each function mirrors the dataflows.py function of the same name (less the '_').

@helper(forceinline=True)
def tile_words(lay, t, ext, sc):
    """counting/reuse.tile_size of tensor t over loops of these per-dim extents (stride 1). An axis
    of one term spans its extent; of two, {c1·i + c2·j}, in closed form where the smaller step
    divides the larger (a window's taps and its stride, say): one interval while the step ratio
    is at most the first term's count, else e1·e2 points (axis_shape's forms, without the
    scratch); any other axis through axis_shape and axis_count."""
    words = np.int64(1)
    for a in range(lay.n_axes[t]):
        n_terms = lay.n_terms[t, a]
        if n_terms == 1:  # (a coefficient ≥ 1: its points are distinct)
            words *= ext[lay.term_dim[t, a, 0]]
            continue
        m, c1, e1, c2, e2 = 0, np.int64(1), np.int64(1), np.int64(1), np.int64(1)
        for q in range(n_terms):
            e = ext[lay.term_dim[t, a, q]]
            if e > 1:
                if m == 0:
                    c1, e1 = lay.term_coef[t, a, q], e
                else:
                    c2, e2 = lay.term_coef[t, a, q], e
                m += 1
        if m <= 1:
            words *= e1
            continue
        if m == 2:
            if c2 < c1:  # (equal steps: e1 + e2 − 1 either way)
                c1, e1, c2, e2 = c2, e2, c1, e1
            if c1 == 1 or c2 % c1 == 0:
                b = c2 // c1
                words *= e1 + b * (e2 - 1) if b <= e1 else e1 * e2
                continue
        words *= _axis_words(lay, t, a, ext, sc)
    return words


@helper()
def _axis_words(lay, t, a, ext, sc):
    """Axis a of tensor t's points over these extents, by axis_shape and axis_count (its terms
    sorted into the scratch in (step, count) order, as axis_terms sorts them)."""
    m = np.int64(0)
    for q in range(lay.n_terms[t, a]):
        d = lay.term_dim[t, a, q]
        if ext[d] > 1:
            c, e = lay.term_coef[t, a, q], ext[d]
            b = m - 1
            while b >= 0 and (sc.tc[a, b] > c or (sc.tc[a, b] == c and sc.te[a, b] > e)):
                sc.tc[a, b + 1], sc.te[a, b + 1] = sc.tc[a, b], sc.te[a, b]
                b -= 1
            sc.tc[a, b + 1], sc.te[a, b + 1] = c, e
            m += 1
    sc.mm[a] = m
    axis_shape(sc.tc, sc.te, a, m, sc.shape)
    return axis_count(sc.tc, sc.te, a, sc.mm, sc.shape, np.int64(0), sc.occ, sc.base)


@helper(forceinline=True)
def fits(lay, arc, top_level, ext_of, below, bypass, sc, grown):
    """dataflows._fits over the memories at or above `top_level` (all memories: top_level = the
    last level), tiles of `ext_of` × the fan-outs below each level; the bypass: mask `bypass` of the scratch [level, role].
    `grown` ≥ 0: ext_of differs from tiles that fit every one of those memories (a fill's state)
    only in dim `grown`; a memory whose kept tensors that dim does not index is then passed over
    (its tiles are the same: it fits). Where map_with's narrowing left tiles of one word too big
    (BASE_FITS false), every memory is checked. A failure at the outermost buffer sets OUTER_FAILED.
    (A comparison passed over can change no mapping the memo gives: its words are those of one
    that fitted, so they are at most the memory's LO.)"""
    n_dims = lay.bound.shape[0]
    last = 0  # the innermost memory checked first: a fill's growing tile overflows it most often
    while last + 1 < arc.memories.shape[0] and arc.memories[last + 1] <= top_level:
        last += 1
    skip = grown >= 0 and sc.flags[BASE_FITS]
    for mi in range(last, -1, -1):
        i = arc.memories[mi]
        if arc.cap[i] < 0:
            continue
        if skip:
            touched = False
            for t in range(lay.role.shape[0]):
                r = lay.role[t]
                if arc.keeps[i, r] and not sc.mask[bypass, i, r] and lay.has_dim[t, grown]:
                    touched = True
            if not touched:
                continue
        for d in range(n_dims):
            sc.ext[d] = ext_of[d] * below[i, d]
        used = 0
        for t in range(lay.role.shape[0]):
            r = lay.role[t]
            if arc.keeps[i, r] and not sc.mask[bypass, i, r]:
                used += tile_words(lay, t, sc.ext, sc)
        if used > arc.cap[i]:
            sc.memo.run[i, HI] = min(sc.memo.run[i, HI], used)
            if mi == 1:
                sc.flags[OUTER_FAILED] = True
            return False
        sc.memo.run[i, LO] = max(sc.memo.run[i, LO], used)
    return True


@helper()
def best_split(lay, pref, n_pref, remaining, size, level, axis, sc):
    """dataflows._best_split of the first four preferred dims that remain, appended as loops of
    `level` on `axis` (in preference order); the largest product ≤ size, then the
    lexicographically largest factors."""
    dims, cand, nc, best, digit, cur = sc.sp_dims, sc.sp_cand, sc.sp_nc, sc.sp_best, sc.sp_digit, sc.sp_cur
    nd = 0
    for k in range(n_pref):
        if remaining[pref[k]] > 1 and nd < SPLIT_DIMS:
            dims[nd] = pref[k]
            nd += 1
    if nd == 0:
        return
    # candidates per dim: divisors of what remains that are ≤ size (lay.divs filtered)
    for k in range(nd):
        nc[k], best[k], digit[k], cur[k] = 0, 1, 0, 1
        d = dims[k]
        for j in range(lay.n_divs[d]):
            f = lay.divs[d, j]
            if f <= size and remaining[d] % f == 0:
                cand[k, nc[k]] = f
                nc[k] += 1
    best_total = 0
    while True:
        total = 1
        for k in range(nd):
            cur[k] = cand[k, digit[k]]
            total *= cur[k]
        if total <= size:
            better = total > best_total
            if total == best_total:
                for k in range(nd):
                    if cur[k] != best[k]:
                        better = cur[k] > best[k]
                        break
            if better:
                best_total = total
                for k in range(nd):
                    best[k] = cur[k]
        k = nd - 1  # the next combination (mixed radix)
        while k >= 0:
            digit[k] += 1
            if digit[k] < nc[k]:
                break
            digit[k] = 0
            k -= 1
        if k < 0:
            break
    for k in range(nd):
        if best[k] > 1:
            n = sc.s_n[SPATIAL_SLOT, level]
            sc.s_dim[SPATIAL_SLOT, level, n] = dims[k]
            sc.s_bound[SPATIAL_SLOT, level, n] = best[k]
            sc.s_axis[SPATIAL_SLOT, level, n] = axis
            sc.s_n[SPATIAL_SLOT, level] = n + 1
            remaining[dims[k]] //= best[k]


@helper()
def spatial_below(lay, arc, sc):
    """Per level, each dim's product of the fan-out loops below it."""
    n_levels = arc.kind.shape[0]
    for j in range(n_levels):
        for d in range(lay.bound.shape[0]):
            sc.below[j, d] = 1
        for k in range(j + 1, n_levels - 1):
            for q in range(sc.s_n[SPATIAL_SLOT, k]):
                sc.below[j, sc.s_dim[SPATIAL_SLOT, k, q]] *= sc.s_bound[SPATIAL_SLOT, k, q]


@helper()
def copy_slot(sc, src, dst, n_levels):
    for i in range(n_levels):
        sc.s_n[dst, i] = sc.s_n[src, i]
        for q in range(sc.s_n[src, i]):
            sc.s_dim[dst, i, q] = sc.s_dim[src, i, q]
            sc.s_bound[dst, i, q] = sc.s_bound[src, i, q]
            sc.s_axis[dst, i, q] = sc.s_axis[src, i, q]


@helper(forceinline=True)
def loop_at(arc, sc, slot, i, q):
    """(dim, bound, axis) of loop q at level i: a fan-out's from the spatial slot, else `slot`'s."""
    s = SPATIAL_SLOT if arc.kind[i] == SPATIAL else slot
    return sc.s_dim[s, i, q], sc.s_bound[s, i, q], sc.s_axis[s, i, q]


@helper(forceinline=True)
def n_loops_at(arc, sc, slot, i):
    return sc.s_n[SPATIAL_SLOT if arc.kind[i] == SPATIAL else slot, i]


@helper(forceinline=True)
def tensor_words(lay, arc, sc, slot, bypass):
    """The first half of dataflows._dram_traffic: per tensor, the first level below the top that
    keeps it (sc.keeper) and the words of its tile there (sc.words). The top's loops never enter
    a tile, so one call serves every order of them."""
    n_levels = arc.kind.shape[0]
    n_dims = lay.bound.shape[0]
    ext = sc.ext2
    for t in range(lay.role.shape[0]):
        r = lay.role[t]
        keeper = n_levels
        for mi in range(1, arc.memories.shape[0]):
            j = arc.memories[mi]
            if arc.keeps[j, r] and not sc.mask[bypass, j, r]:
                keeper = j
                break
        for d in range(n_dims):
            ext[d] = 1
        for j in range(n_levels - 1):
            for q in range(n_loops_at(arc, sc, slot, j)):
                d, b, axis = loop_at(arc, sc, slot, j, q)
                if j >= keeper or axis != TEMPORAL:
                    ext[d] *= b
        sc.keeper[t] = keeper
        sc.words[t] = tile_words(lay, t, ext, sc)


@helper(forceinline=True)
def traffic_of(lay, arc, sc, slot):
    """The second half of dataflows._dram_traffic: each tile fetched once per iteration of the
    temporal loops above its keeper, up to the innermost one over a dim the tensor indexes."""
    total = 0
    for t in range(lay.role.shape[0]):
        total += _tensor_traffic(lay, arc, sc, slot, t)
    return total


@helper(forceinline=True)
def _tensor_traffic(lay, arc, sc, slot, t):
    """traffic_of's term of tensor t."""
    keeper = sc.keeper[t]
    last_mi, last_q = -1, -1
    for mi in range(arc.memories.shape[0]):
        j = arc.memories[mi]
        if j >= keeper:
            break
        for q in range(sc.s_n[slot, j]):
            if lay.has_dim[t, sc.s_dim[slot, j, q]]:
                last_mi, last_q = mi, q
    visits, reloads = np.int64(1), np.int64(1)  # (typed: a literal would compile _fetched once per value)
    for mi in range(last_mi + 1):
        j = arc.memories[mi]
        stop = sc.s_n[slot, j] if mi < last_mi else last_q + 1
        for q in range(stop):
            if lay.has_dim[t, sc.s_dim[slot, j, q]]:
                visits *= sc.s_bound[slot, j, q]
            else:
                reloads *= sc.s_bound[slot, j, q]
    return _fetched(sc.words[t], visits, reloads, lay.is_output[t])


@helper(forceinline=True)
def _fetched(words, visits, reloads, is_output):
    """A tile's words fetched per visit and reload; outputs: partial sums go up and come back."""
    if is_output:
        return words * visits * (2 * reloads - 1)
    return words * visits * reloads


@helper(forceinline=True)
def _indexed_below_top(lay, arc, sc, slot, t):
    """Does a loop of a memory between the top and tensor t's keeper index it? Then the top's loops
    all lie outside its innermost such loop, in any order."""
    for mi in range(1, arc.memories.shape[0]):
        j = arc.memories[mi]
        if j >= sc.keeper[t]:
            break
        for q in range(sc.s_n[slot, j]):
            if lay.has_dim[t, sc.s_dim[slot, j, q]]:
                return True
    return False


@helper()
def dram_traffic(lay, arc, sc, slot, bypass):
    """dataflows._dram_traffic of the loops in `slot` (fan-outs: the spatial slot)."""
    tensor_words(lay, arc, sc, slot, bypass)
    return traffic_of(lay, arc, sc, slot)


@helper()
def top_loops(lay, arc, sc, slot, top, bypass):
    """dataflows._top_loops: the top memory's loops in `slot` (the order of least traffic, the
    first on a tie); returns the traffic."""
    i = arc.memories[0]
    n_dims = lay.bound.shape[0]
    best, best_o = -1, np.int64(0)
    tensor_words(lay, arc, sc, slot, bypass)
    # A tensor indexed by a loop below the top pays a traffic no order of the top's loops changes
    # (traffic_of's term, with any order written): counted once. Another's innermost indexing loop
    # is the top's, if any: per order, its visits are the top's loops over its dims, its reloads
    # the others outside the innermost of those (traffic_of's rule on the top's loops alone).
    _write_top_order(lay, sc, slot, i, top, np.int64(0), n_dims)
    # Per order, such a tensor's visits are the same (the top's loops over its dims); its reloads
    # are the others' loops outside its innermost one: all of them over those inside it.
    n_orders = lay.top_orders.shape[0]
    fixed, moving = 0, np.int64(0)
    for t in range(lay.role.shape[0]):
        if _indexed_below_top(lay, arc, sc, slot, t):
            fixed += _tensor_traffic(lay, arc, sc, slot, t)
        else:
            moving |= np.int64(1) << t
    for o in range(n_orders):
        sc.o_traffic[o] = fixed
    for t in range(lay.role.shape[0]):
        if not (moving >> t) & 1:
            continue
        visits, others = np.int64(1), np.int64(1)
        for d in range(n_dims):
            if top[d] > 1:
                if lay.has_dim[t, d]:
                    visits *= top[d]
                else:
                    others *= top[d]
        for o in range(n_orders):
            inside, outside = np.int64(1), np.int64(1)
            for k in range(n_dims):  # the order's loops, inner → outer, to the tensor's innermost
                d = lay.top_orders[o, k]
                if top[d] > 1:
                    if lay.has_dim[t, d]:
                        outside = others // inside
                        break
                    inside *= top[d]
            sc.o_traffic[o] += _fetched(sc.words[t], visits, outside, lay.is_output[t])
    for o in range(n_orders):
        if best < 0 or sc.o_traffic[o] < best:
            best, best_o = sc.o_traffic[o], o
    _write_top_order(lay, sc, slot, i, top, best_o, n_dims)
    return best


@helper()
def _write_top_order(lay, sc, slot, i, top, o, n_dims):
    """The top memory's loops (top[d] > 1) in loop order o, into `slot`."""
    n = 0
    for k in range(n_dims - 1, -1, -1):
        d = lay.top_orders[o, k]
        if top[d] > 1:
            sc.s_dim[slot, i, n], sc.s_bound[slot, i, n], sc.s_axis[slot, i, n] = d, top[d], TEMPORAL
            n += 1
    sc.s_n[slot, i] = n


@helper()
def fill(lay, arc, sc, slot, h, bypass, spatial_rem, top, mode, option):
    """dataflows._fill into `slot`'s memories below the top for held option h (lay.held[h]) of x
    option `option`; what remains for the top in `top`. `mode` KEEP (a map_with's first pass) takes
    the inner phase (the memories below the outermost buffer) an earlier call kept, where every
    comparison it made comes out the same here (_kept_fits: a sweep's other buffer sizes), or keeps
    its own (_keep_phase); REUSE takes the one the first pass kept (map_with's second pass: the same
    fan-outs, and a bypass that differs from the first pass's only at the outermost buffer, where it
    keeps less, so every comparison of the phase comes out the same if none against that buffer
    failed); PLAIN fills afresh."""
    n_mem = arc.memories.shape[0]
    kept = mode == KEEP and option < KEPT_OPTIONS
    if mode == REUSE or (kept and _kept_fits(arc, sc, option, h, spatial_rem)):
        _take_phase(arc, sc, slot, option, h, top)
    else:
        if kept:  # the phase's own comparisons, apart from the call's so far (merged after it)
            for i in range(arc.kind.shape[0]):
                sc.k_level[option, h, i, 1], sc.k_level[option, h, i, 2] = sc.memo.run[i, LO], sc.memo.run[i, HI]
                sc.memo.run[i, LO], sc.memo.run[i, HI] = 0, NO_WORDS_FAILED
        for d in range(lay.bound.shape[0]):
            top[d] = spatial_rem[d]
            sc.temporal[d] = 1
        sc.flags[OUTER_FAILED] = False
        for mi in range(n_mem - 1, 1, -1):
            _fill_level(lay, arc, sc, slot, lay.held[h], bypass, top, arc.memories[mi])
        if kept:
            _keep_phase(arc, sc, slot, option, h, top, spatial_rem)
    if n_mem > 1:
        _fill_level(lay, arc, sc, slot, lay.held[h], bypass, top, arc.memories[1])


@helper()
def _kept_fits(arc, sc, option, h, spatial_rem):
    """Does the inner phase kept for (option, h) come out the same in this call: kept, on the same
    arch fields, fan-out split and narrowing verdict, with every capacity inside the range its
    comparisons give (the memo's rule, for the phase's own comparisons)? (The comparisons fits
    passes over are of tiles that fitted before, in the phase or at its start, one-word tiles over
    the same fan-outs, which this call's narrowing found to fit: BASE_FITS, the same sc.below.)"""
    if sc.k_state[option, h, 0] != 1 or sc.k_state[option, h, 1] != sc.flags[BASE_FITS]:
        return False
    n_levels = arc.kind.shape[0]
    for i in range(n_levels):
        for f in range(ARC_FIELDS):
            if sc.k_level[option, h, i, 3 + f] != sc.memo.run[i, f]:
                return False
        if arc.cap[i] >= 0 and not (sc.k_level[option, h, i, 1] <= arc.cap[i] < sc.k_level[option, h, i, 2]):
            return False
    for d in range(spatial_rem.shape[0]):
        if sc.k_vec[option, h, 2, d] != spatial_rem[d]:
            return False
        for i in range(n_levels):
            if sc.k_vec[option, h, 3 + i, d] != sc.below[i, d]:
                return False
    return True


@helper()
def _keep_phase(arc, sc, slot, option, h, top, spatial_rem):
    """Keep the inner phase just filled into `slot` for (option, h), with what it read, and merge its
    comparisons' range into the call's (fill saved the call's in k_level's LO and HI)."""
    n_levels = arc.kind.shape[0]
    for i in range(n_levels):
        lo, hi = sc.memo.run[i, LO], sc.memo.run[i, HI]
        sc.memo.run[i, LO] = max(sc.k_level[option, h, i, 1], lo)
        sc.memo.run[i, HI] = min(sc.k_level[option, h, i, 2], hi)
        sc.k_level[option, h, i, 1], sc.k_level[option, h, i, 2] = lo, hi
        for f in range(ARC_FIELDS):
            sc.k_level[option, h, i, 3 + f] = sc.memo.run[i, f]
    for mi in range(2, arc.memories.shape[0]):
        i = arc.memories[mi]
        sc.k_level[option, h, i, 0] = sc.s_n[slot, i]
        for q in range(sc.s_n[slot, i]):
            sc.k_loops[option, h, 0, i, q] = sc.s_dim[slot, i, q]
            sc.k_loops[option, h, 1, i, q] = sc.s_bound[slot, i, q]
            sc.k_loops[option, h, 2, i, q] = sc.s_axis[slot, i, q]
    for d in range(top.shape[0]):
        sc.k_vec[option, h, 0, d], sc.k_vec[option, h, 1, d] = sc.temporal[d], top[d]
        sc.k_vec[option, h, 2, d] = spatial_rem[d]
        for i in range(n_levels):
            sc.k_vec[option, h, 3 + i, d] = sc.below[i, d]
    sc.k_state[option, h, 0], sc.k_state[option, h, 1] = 1, sc.flags[BASE_FITS]
    sc.k_state[option, h, 2] = not sc.flags[OUTER_FAILED]


@helper()
def _take_phase(arc, sc, slot, option, h, top):
    """The inner phase kept for (option, h) into `slot`, sc.temporal and `top`, its comparisons'
    range merged into the call's (the memo's entry for this call covers them; for a second pass,
    whose first took or kept it, the merge changes nothing)."""
    for i in range(arc.kind.shape[0]):
        sc.memo.run[i, LO] = max(sc.memo.run[i, LO], sc.k_level[option, h, i, 1])
        sc.memo.run[i, HI] = min(sc.memo.run[i, HI], sc.k_level[option, h, i, 2])
    for mi in range(2, arc.memories.shape[0]):
        i = arc.memories[mi]
        sc.s_n[slot, i] = sc.k_level[option, h, i, 0]
        for q in range(sc.s_n[slot, i]):
            sc.s_dim[slot, i, q] = sc.k_loops[option, h, 0, i, q]
            sc.s_bound[slot, i, q] = sc.k_loops[option, h, 1, i, q]
            sc.s_axis[slot, i, q] = sc.k_loops[option, h, 2, i, q]
    for d in range(top.shape[0]):
        sc.temporal[d], top[d] = sc.k_vec[option, h, 0, d], sc.k_vec[option, h, 1, d]
    sc.flags[OUTER_FAILED] = not sc.k_state[option, h, 2]


@helper()
def _fill_level(lay, arc, sc, slot, held, bypass, top, i):
    """fill's memory i: each dim's largest fitting factor of what remains, in the template's order."""
    n_dims = lay.bound.shape[0]
    first = sc.first
    for d in range(n_dims):
        sc.chosen[d] = 1
        if held < 0:
            first[d] = False
            for t in range(lay.role.shape[0]):
                r = lay.role[t]
                if arc.keeps[i, r] and not sc.mask[bypass, i, r] and lay.has_dim[t, d]:
                    first[d] = True
        else:
            first[d] = lay.has_dim[held, d]
    for group in range(2):
        for k in range(n_dims):
            d = lay.priority[k]
            if first[d] != (group == 0) or top[d] == 1:
                continue
            # the divisors of what remains, ascending; the fitting ones are a prefix
            nc = 0
            for j in range(lay.n_divs[d]):
                f = lay.divs[d, j]
                if top[d] % f == 0:
                    sc.cand[nc] = f
                    nc += 1
            lo, hi = 0, nc - 1  # cand[lo] (1) always fits
            base = sc.temporal[d]
            while lo < hi:
                mid = (lo + hi + 1) // 2
                sc.temporal[d] = base * sc.cand[mid]
                if fits(lay, arc, i, sc.temporal, sc.below, bypass, sc, d):
                    lo = mid
                else:
                    hi = mid - 1
            f = sc.cand[lo]
            sc.temporal[d] = base * f
            if f > 1:
                sc.chosen[d] = f
                top[d] //= f
    n = 0
    for k in range(n_dims - 1, -1, -1):
        d = lay.priority[k]
        if sc.chosen[d] > 1:
            sc.s_dim[slot, i, n], sc.s_bound[slot, i, n], sc.s_axis[slot, i, n] = d, sc.chosen[d], TEMPORAL
            n += 1
    sc.s_n[slot, i] = n


@helper()
def allocate(lay, arc, sc, out_slot, bypass, spatial_rem, second, option):
    """dataflows._allocate: the fill (each level's own tensors, or one tensor held) whose top-level
    traffic is least, the first on a tie, into `out_slot`; returns its traffic. `second`: map_with's
    second pass (the first kept each fill's inner phase, under KEPT_OPTIONS; fill says when it
    serves again)."""
    n_levels = arc.kind.shape[0]
    top = sc.top
    best = -1
    reuse = second and _bypass_outermost_only(arc, sc, bypass)
    for h in range(lay.held.shape[0]):
        ok = option < KEPT_OPTIONS and sc.k_state[option, h, 2] == 1  # (kept, and no outer failure in it)
        mode = np.int64(REUSE) if reuse and ok else np.int64(PLAIN if second else KEEP)
        fill(lay, arc, sc, np.int64(TRY), np.int64(h), bypass, spatial_rem, top, mode, option)
        traffic = top_loops(lay, arc, sc, np.int64(TRY), top, bypass)
        if best < 0 or traffic < best:
            best = traffic
            copy_slot(sc, np.int64(TRY), out_slot, n_levels)
    return best


@helper(forceinline=True)
def _bypass_outermost_only(arc, sc, bypass):
    """Does mask `bypass` bypass nothing but at the outermost buffer (memories[1])?"""
    for i in range(arc.kind.shape[0]):
        if arc.memories.shape[0] > 1 and i == arc.memories[1]:
            continue
        for r in range(sc.mask.shape[2]):
            if sc.mask[bypass, i, r]:
                return False
    return True


@helper()
def unreused(lay, arc, sc, slot, out):
    """dataflows._unreused of the loops in `slot` into mask `out` [level, role]; any found?"""
    n_levels = arc.kind.shape[0]
    n_mem = arc.memories.shape[0]
    found = False
    for i in range(n_levels):
        for r in range(sc.mask.shape[2]):
            sc.mask[out, i, r] = False
    for n in range(1, n_mem):
        i = arc.memories[n]
        for r in range(arc.keeps.shape[1]):
            t = lay.of_role[r]
            if not arc.keeps[i, r] or t < 0 or arc.forced[i, r]:
                continue
            child = -1
            for m in range(n + 1, n_mem):
                if arc.keeps[arc.memories[m], r]:
                    child = arc.memories[m]
                    break
            if child < 0:
                continue
            reused = False
            for m in range(n, n_mem):
                j = arc.memories[m]
                if j >= child:
                    break
                for q in range(sc.s_n[slot, j]):
                    if lay.has_dim[t, sc.s_dim[slot, j, q]]:
                        reused = True
            if not reused:
                sc.mask[out, i, r] = True
                found = True
    return found


@helper()
def fanout_splits(lay, arc, sc, option):
    """map_with's first step: the fan-outs' splits for x option `option` in the spatial slot (before
    any narrowing), what they leave of each dim in sc.rem; the other slots below BEST emptied."""
    n_levels = arc.kind.shape[0]
    rem = sc.rem
    for d in range(lay.bound.shape[0]):
        rem[d] = lay.bound[d]
    for i in range(n_levels):
        for s in range(BEST):  # the best x option so far stays
            sc.s_n[s, i] = 0
    for i in range(n_levels - 1):
        if arc.kind[i] != SPATIAL:
            continue
        best_split(lay, lay.y_pref, lay.n_y, rem, arc.fan_y[i], i, np.int64(Y), sc)
        if arc.wide_bit[i] >= 0 and (option >> arc.wide_bit[i]) & 1:
            best_split(lay, lay.wide, lay.n_wide, rem, arc.fan_x[i], i, np.int64(X), sc)
        else:
            best_split(lay, lay.x_pref, lay.n_x, rem, arc.fan_x[i], i, np.int64(X), sc)


@helper()
def n_options(arc):
    """The x options map_layer_kernel tries: one per subset of the fan-outs with a wide bit."""
    n = 1
    for i in range(arc.kind.shape[0]):
        if arc.wide_bit[i] >= 0:
            n *= 2
    return n


@helper()
def best_passes_checks(lay, arc, sc):
    """Does mapping/mapping.check_mapping pass the mapping in the BEST slot and mask M_BEST (the
    Mapping template_pack.scratch_mapping builds of them, on every level but the compute level)?
    Every bound ≥ 1; a fan-out's loops each on an axis, spanning at most its sides, and it bypasses
    nothing; a memory's loops temporal, and it bypasses only what it keeps; the top level bypasses
    nothing; each dim's loops cover it and each loop's last iteration starts inside it (the loops
    inside it on its dim cover its stride). Tests hold it equal to check_mapping."""
    n_levels = arc.kind.shape[0] - 1
    for i in range(n_levels):
        used_x, used_y = 1, 1
        for q in range(sc.s_n[BEST, i]):
            bound, axis = sc.s_bound[BEST, i, q], sc.s_axis[BEST, i, q]
            if bound < 1 or (arc.kind[i] == SPATIAL) == (axis == TEMPORAL):
                return False
            if axis == X:
                used_x *= bound
            elif axis == Y:
                used_y *= bound
        for r in range(N_ROLES):
            if sc.mask[M_BEST, i, r] and (i == 0 or arc.kind[i] != MEMORY or not arc.keeps[i, r]):
                return False
        if arc.kind[i] == SPATIAL and (used_x > arc.fan_x[i] or used_y > arc.fan_y[i]):
            return False
    for d in range(lay.bound.shape[0]):
        stride = 1
        for i in range(n_levels - 1, -1, -1):
            for q in range(sc.s_n[BEST, i] - 1, -1, -1):
                if sc.s_dim[BEST, i, q] == d:
                    if (sc.s_bound[BEST, i, q] - 1) * stride >= lay.bound[d]:
                        return False
                    stride *= sc.s_bound[BEST, i, q]
        if stride < lay.bound[d]:
            return False
    return True


@helper()
def fanout_reach(lay, arc, sc, reach):
    """reach[option, d]: the positions the template's fan-outs span on dim d under each x option,
    its splits before any narrowing (which only lowers them); at least what any mapping the
    template gives spans. Leaves the spatial slot changed (map_layer_kernel rewrites it)."""
    for option in range(n_options(arc)):
        fanout_splits(lay, arc, sc, option)
        for d in range(lay.bound.shape[0]):
            reach[option, d] = lay.bound[d] // sc.rem[d]  # (the splits divide the dim)


@helper()
def map_with(lay, arc, sc, option):
    """dataflows._map_with for x option `option` (bit b: the wide preferences on that fan-out):
    the mapping in the spatial slot (fan-outs) and FIRST or SECOND (memories), the bypass in
    mask M_USELESS; returns (traffic, the memories' slot)."""
    n_levels = arc.kind.shape[0]
    rem = sc.rem
    fanout_splits(lay, arc, sc, option)
    # Narrow a fan-out too wide for the buffers above it (the largest factor, the innermost on a tie).
    ones = sc.ones
    for i in range(n_levels):
        for r in range(sc.mask.shape[2]):
            sc.mask[M_NONE, i, r] = False
    spatial_below(lay, arc, sc)
    sc.flags[BASE_FITS] = True
    while not fits(lay, arc, n_levels, ones, sc.below, np.int64(M_NONE), sc, np.int64(-1)):
        bi, bq, bb = -1, -1, 0
        for i in range(n_levels - 1):
            if arc.kind[i] != SPATIAL:
                continue
            for q in range(sc.s_n[SPATIAL_SLOT, i]):
                if sc.s_bound[SPATIAL_SLOT, i, q] >= bb:
                    bi, bq, bb = i, q, sc.s_bound[SPATIAL_SLOT, i, q]
        if bi < 0:
            sc.flags[BASE_FITS] = False  # nothing left to narrow: tiles of one word do not fit
            break
        d = sc.s_dim[SPATIAL_SLOT, bi, bq]
        smaller = 1
        for j in range(lay.n_divs[d]):
            f = lay.divs[d, j]
            if f < bb and bb % f == 0:
                smaller = f
        rem[d] *= bb // smaller
        sc.s_bound[SPATIAL_SLOT, bi, bq] = smaller
        if smaller == 1:
            n = sc.s_n[SPATIAL_SLOT, bi]
            for q in range(bq, n - 1):
                sc.s_dim[SPATIAL_SLOT, bi, q] = sc.s_dim[SPATIAL_SLOT, bi, q + 1]
                sc.s_bound[SPATIAL_SLOT, bi, q] = sc.s_bound[SPATIAL_SLOT, bi, q + 1]
                sc.s_axis[SPATIAL_SLOT, bi, q] = sc.s_axis[SPATIAL_SLOT, bi, q + 1]
            sc.s_n[SPATIAL_SLOT, bi] = n - 1
        spatial_below(lay, arc, sc)
    traffic = allocate(lay, arc, sc, np.int64(FIRST), np.int64(M_NONE), rem, np.bool_(False), option)
    if not unreused(lay, arc, sc, np.int64(FIRST), np.int64(M_USELESS)):
        return traffic, FIRST
    again = allocate(lay, arc, sc, np.int64(SECOND), np.int64(M_USELESS), rem, np.bool_(True), option)
    unreused(lay, arc, sc, np.int64(SECOND), np.int64(M_AGAIN))
    for i in range(n_levels):
        for r in range(sc.mask.shape[2]):
            if sc.mask[M_USELESS, i, r] and not sc.mask[M_AGAIN, i, r]:
                return dram_traffic(lay, arc, sc, np.int64(FIRST), np.int64(M_USELESS)), FIRST
    return again, SECOND


@kernel(_nrt=False)
def map_layer_kernel(lay, arc, sc):
    """dataflows.map_layer for a generic template: the x option of least traffic (the first on a
    tie). The mapping is left in the BEST slot (fan-outs included) and mask M_BEST; a mapping the
    memo holds for this arch and these capacities is copied there instead (TemplateMemo)."""
    n_levels = arc.kind.shape[0]
    memo = sc.memo
    for i in range(n_levels):
        for f in range(ARC_FIELDS):
            memo.run[i, f] = _arc_field(arc, i, f)
    e = _recall(arc, memo)
    if e >= 0:
        _copy_best(sc, memo, e, np.bool_(True))
        return memo.used[e, 1]
    for i in range(n_levels):
        memo.run[i, LO], memo.run[i, HI] = 0, NO_WORDS_FAILED
    best = np.int64(-1)
    for option in range(n_options(arc)):
        traffic, slot = map_with(lay, arc, sc, option)
        if best < 0 or traffic < best:
            best = traffic
            for i in range(n_levels):
                src = SPATIAL_SLOT if arc.kind[i] == SPATIAL else slot
                sc.s_n[BEST, i] = sc.s_n[src, i]
                for q in range(sc.s_n[src, i]):
                    sc.s_dim[BEST, i, q] = sc.s_dim[src, i, q]
                    sc.s_bound[BEST, i, q] = sc.s_bound[src, i, q]
                    sc.s_axis[BEST, i, q] = sc.s_axis[src, i, q]
                for r in range(sc.mask.shape[2]):  # the bypass: the unreused (none: all False)
                    sc.mask[M_BEST, i, r] = sc.mask[M_USELESS, i, r]
    _remember(arc, sc, memo, best)
    return best


@helper(forceinline=True)
def _arc_field(arc, i, f):
    """Field f of level i of the arch as the memo compares it (ARC_FIELDS); of the capacity only
    whether it is unbounded (fits skips those)."""
    if f == 0:
        return arc.kind[i]
    if f == 1:
        return arc.fan_x[i]
    if f == 2:
        return arc.fan_y[i]
    if f == 3:
        return arc.wide_bit[i]
    if f == 6:
        return np.int64(arc.cap[i] < 0)
    bits = np.int64(0)
    for r in range(arc.keeps.shape[1]):
        if (arc.keeps[i, r] if f == 4 else arc.forced[i, r]):
            bits |= np.int64(1) << r
    return bits


@helper(forceinline=True)
def _recall(arc, memo):
    """The memo's entry made for this arch (the run's fields) whose capacity ranges hold its
    capacities, or −1."""
    n_levels = arc.kind.shape[0]
    for e in range(MEMO_ENTRIES):
        if memo.used[e, 0] == 0:
            continue
        same = True
        for i in range(n_levels):
            for f in range(ARC_FIELDS):
                if memo.key[e, i, f] != memo.run[i, f]:
                    same = False
            if arc.cap[i] >= 0 and not (memo.key[e, i, LO] <= arc.cap[i] < memo.key[e, i, HI]):
                same = False
            if not same:
                break
        if same:
            memo.used[MEMO_ENTRIES, 0] += 1
            memo.used[e, 0] = memo.used[MEMO_ENTRIES, 0]
            return e
    return -1


@helper(forceinline=True)
def _copy_best(sc, memo, e, to_slot):
    """The BEST slot and mask M_BEST from entry e (to_slot), or into it."""
    for i in range(sc.s_n.shape[1]):
        for q in range(sc.s_dim.shape[2]):
            if to_slot:
                sc.s_dim[BEST, i, q], sc.s_bound[BEST, i, q] = memo.slot[e, 0, i, q], memo.slot[e, 1, i, q]
                sc.s_axis[BEST, i, q] = memo.slot[e, 2, i, q]
            else:
                memo.slot[e, 0, i, q], memo.slot[e, 1, i, q] = sc.s_dim[BEST, i, q], sc.s_bound[BEST, i, q]
                memo.slot[e, 2, i, q] = sc.s_axis[BEST, i, q]
        for r in range(sc.mask.shape[2]):
            if to_slot:
                sc.mask[M_BEST, i, r] = memo.mask[e, i, r]
            else:
                memo.mask[e, i, r] = sc.mask[M_BEST, i, r]
        if to_slot:
            sc.s_n[BEST, i] = memo.slot[e, 3, i, 0]
        else:
            memo.slot[e, 3, i, 0] = sc.s_n[BEST, i]


@helper(forceinline=True)
def _remember(arc, sc, memo, traffic):
    """The run (the arch's fields and capacity ranges) and its mapping into the least recently used entry."""
    e = np.int64(0)
    for k in range(1, MEMO_ENTRIES):
        if memo.used[k, 0] < memo.used[e, 0]:
            e = k
    for i in range(arc.kind.shape[0]):
        for f in range(KEY):
            memo.key[e, i, f] = memo.run[i, f]
    _copy_best(sc, memo, e, np.bool_(False))
    memo.used[e, 1] = traffic
    memo.used[MEMO_ENTRIES, 0] += 1
    memo.used[e, 0] = memo.used[MEMO_ENTRIES, 0]


@kernel(_nrt=False)
def lower_best(lay, arc, sc, loop_dim, loop_bound, loop_level, loop_spatial, loop_axis, keeps):
    """The BEST slot as mapping/lower.py's nest arrays (outer → inner, every bound > 1) and the
    nest's keeps[level, tensor]; returns the number of loops."""
    n_levels = arc.kind.shape[0]
    n = 0
    for i in range(n_levels - 1):
        for q in range(sc.s_n[BEST, i]):
            loop_dim[n] = sc.s_dim[BEST, i, q]
            loop_bound[n] = sc.s_bound[BEST, i, q]
            loop_level[n] = i
            loop_axis[n] = sc.s_axis[BEST, i, q]
            loop_spatial[n] = sc.s_axis[BEST, i, q] != TEMPORAL
            n += 1
    for i in range(n_levels):
        for t in range(lay.role.shape[0]):
            r = lay.role[t]
            keeps[i, t] = arc.kind[i] == MEMORY and arc.keeps[i, r] and not sc.mask[M_BEST, i, r]
    return n
