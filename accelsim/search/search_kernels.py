"""Mapspace search kernels, jitted: exhaustive (search_exhaustive), and random sampling then hill
climbing (search_heuristic; either phase may be empty).

Each candidate point (fac, perm, keeps — see search/mapspace.py) is lowered to loop arrays
and evaluated by counting/nest_kernel.evaluate_nest. A ragged point (a dim's factors multiply to
more than it) is evaluated as its loops on the layer padded to them, an upper bound on its ragged
counts; mapper.best_points counts the best such points again exactly. The objective is lexicographic over two
scores, each ordered as energy^a · cycles^b (_objective). The kernels take records (named tuples
of arrays; Numba passes them field by field): `space` a Space (mapper._space_arrays), `problem`
the layer's nest_kernel.Problem, `work` a Work (the loop arrays each candidate is lowered into,
and evaluate_nest's outputs and scratch), `state` a State, the other work arrays
(mapper.search_state allocates them: the kernels allocate nothing and run without Numba's
runtime, so passing arrays costs no reference counting). `stats` counts EVALS (points evaluated:
the budget), FEASIBLE, UNFIT (pruned before evaluation: a fan-out axis over-full, or a ragged point
the ragged kernel cannot count), IMPROVED, and REPEATS (of EVALS, those answered from the memo of
nests evaluated before, search/memo.py, not by the model). The
kernels keep the K best distinct points in best_fac/best_perm/best_keeps/best (leading axis K, best
first; _offer); K = 1 unless the mapper re-ranks candidates by the cycle model.
Random numbers come from search/rng.py, its state `state.rng`, seeded by each search.

The heuristic kernel does not link the model in: _score calls evaluate_nest at the address of its
compiled code (`model`, search/model_call.model_at), so the kernel compiles without it, beside the
counting kernel instead of after it (5.1 s of CPU alone, against 7.1 s after it; docs/dse.md,
session 19). That call passes the records' exploded fields (about fifty arrays), which costs a
share of each evaluation; the memo (search/memo.py) takes a revisited nest's answer without any
call, more than paying for it. The exhaustive kernel, compiled only when a search is exhaustive,
links the model in (model_linked): its evaluations are cheap and none repeats. _score and the moves are inlined into each search loop: _score by
Numba (inline='always': merged before compilation), _move, _lower and _offer by LLVM
(forceinline; cheaper to compile than Numba's inlining, which types and lowers a helper again at
each call site: the search kernel 10.7 → 8.4 s of CPU, session 18). Each kernel evaluates at one
place: random sampling and the climb share one loop (search_heuristic).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..counting.nest import TEMPORAL, append_loop
from ..counting.records import OK, Loops, Nest, Outputs, Scratch
from ..jit import helper, kernel
from .memo import Memo, recall, remember
from .model_call import model_at, model_linked
from .rng import draw, seed_rng, uniform

EVALS, FEASIBLE, UNFIT, IMPROVED, REPEATS = 0, 1, 2, 3, 4
FACTOR, SWAP, FLIP, ROW = 1, 2, 3, 4  # hill-climb move kinds
INF = np.inf


class Space(NamedTuple):
    """A mapspace's arrays (search/mapspace.Mapspace has the first ones; mapper._space_arrays)."""
    slot_level: np.ndarray     # [slot] arch level index, top-down
    slot_axis: np.ndarray      # [slot] TEMPORAL, X or Y
    slot_size: np.ndarray      # [slot] fan-out along the axis (0 for temporal slots)
    slot_mem: np.ndarray       # [slot] index into the memory levels for temporal slots, else −1
    rows: np.ndarray           # [row, slot] every factorization of each dim over the slots
    row_start: np.ndarray      # [dim + 1] the dim's rows are rows[row_start[d]:row_start[d+1]]
    mem_slot: np.ndarray       # [mem] the memory level's temporal slot
    order_matters: np.ndarray  # [mem] bool
    base_perm: np.ndarray      # [mem, dim] INDEX: the free dims, then the constrained tail
    n_free: np.ndarray         # [mem] free dims at the front of base_perm
    keep_base: np.ndarray      # [level, tensor] kept when its free bit is off
    free_bits: np.ndarray      # [bit, 2] (level, tensor) of each bit the search decides
    dim_bound: np.ndarray      # [dim] the layer's dims (a ragged row's factors multiply to more)
    not_ragged: np.ndarray     # [slot, dim] bool: a factor > 1 here cannot go with a ragged dim (the ragged
                               # kernel refuses a fan-out that merges a sliding-window tensor over a ragged dim)


class State(NamedTuple):
    """The search kernels' work arrays (mapper.search_state allocates them)."""
    fac: np.ndarray            # a candidate point: [slot, dim] factors,
    perm: np.ndarray           # [memory, dim] INDEX orders,
    keeps: np.ndarray          # [level, tensor] bool
    cur_fac: np.ndarray        # the current point
    cur_perm: np.ndarray
    cur_keeps: np.ndarray
    cur: np.ndarray            # [4] the current score (score1, score2, energy, cycles)
    out: np.ndarray            # [4] the candidate's
    undo: np.ndarray           # [5] the last move: kind, dim | level | bit, slot | position, slot | position, prime
    choice: np.ndarray         # [dim] the exhaustive search's odometer
    active: np.ndarray         # [memory, dim] INDEX: its active free dims per level
    n_active: np.ndarray       # [memory]
    radix: np.ndarray          # [memory] orders per level
    rng: np.ndarray            # search/rng.py's state
    saved: np.ndarray          # [slot] a row move's replaced factors


class Work(NamedTuple):
    """A search's evaluation arrays: the candidate's lowered loops and evaluate_nest's out and scratch."""
    loops: Loops
    out: Outputs
    scratch: Scratch
    memo: Memo                 # the nests evaluated lately, with the model's answers (search/memo.py)


@kernel(_nrt=False)  # (the tests drive a search walk from Python)
def _fits(fac, slot_axis, slot_size):
    for s in range(fac.shape[0]):
        if slot_axis[s] != TEMPORAL:
            used = 1
            for d in range(fac.shape[1]):
                used *= fac[s, d]
            if used > slot_size[s]:
                return False
    return True


@kernel(_nrt=False, forceinline=True)  # (the tests drive a search walk from Python)
def _lower(fac, perm, slot_level, slot_axis, slot_mem, loop_dim, loop_bound, loop_level, loop_spatial, loop_axis):
    n = np.int64(0)  # not the literal 0: append_loop would compile once more for it
    n_dims = fac.shape[1]
    for s in range(fac.shape[0]):
        temporal = slot_axis[s] == TEMPORAL
        for q in range(n_dims):
            d = perm[slot_mem[s], q] if temporal else q
            n = append_loop(loop_dim, loop_bound, loop_level, loop_spatial, loop_axis, n, d, fac[s, d], slot_level[s],
                            slot_axis[s])
    return n


@kernel(_nrt=False, inline='always')
def _objective(a, b, energy, cycles):
    """A score ordered as energy^a · cycles^b: the product itself when a and b are each 0 or 1
    (every named objective; two logs cost ≈3 % of an evaluation), else a·log(energy) +
    b·log(cycles). A search's weights fix each score's form, so its scores compare."""
    if (a == 0.0 or a == 1.0) and (b == 0.0 or b == 1.0):
        return (energy if a == 1.0 else 1.0) * (cycles if b == 1.0 else 1.0)
    return a * np.log(energy) + b * np.log(cycles)


@kernel(_nrt=False)  # (the tests drive a search walk from Python)
def _refused(fac, not_ragged, dim_bound):
    """A ragged dim has a factor > 1 at a slot not_ragged marks: the ragged kernel cannot count it."""
    for d in range(fac.shape[1]):
        there = False
        covered = 1
        for s in range(fac.shape[0]):
            there = there or (not_ragged[s, d] and fac[s, d] > 1)
            covered *= fac[s, d]
        if there and covered != dim_bound[d]:
            return True
    return False


@helper(inline='always')
def _score(fac, perm, keeps, space, problem, weights, work, stats, out, model, evaluate):
    """Evaluate one point; out[0:4] = score1, score2, energy, cycles. False if infeasible (or, in a
    ragged mapspace, a point the ragged kernel cannot count: UNFIT, not evaluated)."""
    if _refused(fac, space.not_ragged, space.dim_bound):
        stats[UNFIT] += 1
        return False
    lp = work.loops
    n = _lower(fac, perm, space.slot_level, space.slot_axis, space.slot_mem, lp.loop_dim, lp.loop_bound, lp.loop_level,
               lp.loop_spatial, lp.loop_axis)
    stats[EVALS] += 1
    memo = work.memo
    used, h, s, w = recall(memo, lp, n, keeps, stats[EVALS])
    if w >= 0:  # evaluated before in this search: the model's answer again, without the model
        stats[REPEATS] += 1
        status, energy, cycles = memo.result[s, w, 0], memo.energy[s, w], memo.result[s, w, 1]
    else:  # the one call of the model (each call site is an inlined copy)
        nest = Nest(lp.loop_dim, lp.loop_bound, lp.loop_level, lp.loop_spatial, lp.loop_axis, n, keeps)
        status, energy, cycles = evaluate(model, nest, problem, work.out, work.scratch)
        if used > 0:
            remember(memo, used, h, s, stats[EVALS], status, energy, cycles)
    if status != OK:
        return False
    stats[FEASIBLE] += 1
    out[0] = _objective(weights[0, 0], weights[0, 1], energy, cycles)
    out[1] = _objective(weights[1, 0], weights[1, 1], energy, cycles)
    out[2] = energy
    out[3] = cycles
    return True


@helper()
def _better(a, b):
    """Is score pair a strictly better than b (relative tie tolerance on the first)?"""
    if b[0] == INF:
        return a[0] < INF
    tol = 1e-12 * max(1.0, abs(b[0]))
    if a[0] < b[0] - tol:
        return True
    if a[0] > b[0] + tol:
        return False
    return a[1] < b[1] - 1e-12 * max(1.0, abs(b[1]))


@helper()
def _copy(src, dest):
    for i in range(src.shape[0]):
        for j in range(src.shape[1]):
            dest[i, j] = src[i, j]


@helper()
def _keep(fac, perm, keeps, out, best_fac, best_perm, best_keeps, best):
    _copy(fac, best_fac)
    _copy(perm, best_perm)
    _copy(keeps, best_keeps)
    for q in range(4):
        best[q] = out[q]


@helper(forceinline=True)
def _offer(fac, perm, keeps, score, top_fac, top_perm, top_keeps, top, stats):
    """Keep the point among the K best (top[0] best, sorted; K = top.shape[0]) if it beats the
    K-th. A point with the energy and cycles of one already kept is not kept again: the search
    revisits points, and the candidates are for re-ranking (mapper.py), where a twin adds nothing."""
    last = top.shape[0] - 1
    if not _better(score, top[last]):
        return
    for q in range(last + 1):
        if top[q, 2] == score[2] and top[q, 3] == score[3]:
            return
    pos = 0
    while not _better(score, top[pos]):
        pos += 1
    for q in range(last, pos, -1):
        _keep(top_fac[q - 1], top_perm[q - 1], top_keeps[q - 1], top[q - 1], top_fac[q], top_perm[q], top_keeps[q],
              top[q])
    _keep(fac, perm, keeps, score, top_fac[pos], top_perm[pos], top_keeps[pos], top[pos])
    if pos == 0:
        stats[IMPROVED] += 1


@helper()
def _reset(space, state):
    """The candidate at the mapspace's base point, the current score unset, the counters at 0."""
    _copy(space.base_perm, state.perm)
    _copy(space.keep_base, state.keeps)
    for q in range(4):
        state.cur[q] = INF
    for d in range(state.choice.shape[0]):
        state.choice[d] = 0


@kernel(_nrt=False)
def search_exhaustive(space, problem, weights, work, state, best_fac, best_perm, best_keeps, best, stats):
    """Every factorization × every order of the levels whose order matters × every bypass."""
    slot_axis, slot_size, rows, row_start = space.slot_axis, space.slot_size, space.rows, space.row_start
    mem_slot, order_matters, base_perm, n_free = space.mem_slot, space.order_matters, space.base_perm, space.n_free
    free_bits = space.free_bits
    fac, perm, keeps, out, choice = state.fac, state.perm, state.keeps, state.out, state.choice
    active, n_active, radix = state.active, state.n_active, state.radix
    _reset(space, state)
    n_slots, n_dims = rows.shape[1], row_start.shape[0] - 1
    n_mem = base_perm.shape[0]
    n_bits = free_bits.shape[0]
    while True:
        for d in range(n_dims):
            for s in range(n_slots):
                fac[s, d] = rows[row_start[d] + choice[d], s]
        if not _fits(fac, slot_axis, slot_size):
            stats[UNFIT] += 1
        else:
            orders = 1
            for mi in range(n_mem):
                n_active[mi] = 0
                if order_matters[mi]:
                    # perm[mi] = the active free dims (permuted below), the unit ones, the tail.
                    s = mem_slot[mi]
                    for q in range(n_free[mi]):
                        if fac[s, base_perm[mi, q]] > 1:
                            active[mi, n_active[mi]] = base_perm[mi, q]
                            n_active[mi] += 1
                    k = n_active[mi]
                    for q in range(n_free[mi]):
                        if fac[s, base_perm[mi, q]] == 1:
                            perm[mi, k] = base_perm[mi, q]
                            k += 1
                r = 1
                for k in range(2, n_active[mi] + 1):
                    r *= k
                radix[mi] = r
                orders *= r
            for o in range(orders):
                rest = o
                for mi in range(n_mem):
                    if n_active[mi] > 0:
                        _nth_permutation(active, mi, n_active[mi], rest % radix[mi], perm)
                        rest //= radix[mi]
                for mask in range(1 << n_bits):
                    for b in range(n_bits):
                        keeps[free_bits[b, 0], free_bits[b, 1]] = (mask >> b) & 1 == 0
                    if _score(fac, perm, keeps, space, problem, weights, work, stats, out, np.int64(0), model_linked):
                        _offer(fac, perm, keeps, out, best_fac, best_perm, best_keeps, best, stats)
        d = 0  # odometer over each dim's factorizations
        while d < n_dims:
            choice[d] += 1
            if choice[d] < row_start[d + 1] - row_start[d]:
                break
            choice[d] = 0
            d += 1
        if d == n_dims:
            return


@helper()
def _nth_permutation(items, row, n, index, dest):
    """dest[row, :n] = the index-th permutation (factorial number system) of items[row, :n]."""
    for q in range(n):
        dest[row, q] = items[row, q]
    for q in range(n):
        r = 1
        for k in range(2, n - q):
            r *= k
        pick = q + index // r
        index %= r
        chosen = dest[row, pick]
        for k in range(pick, q, -1):
            dest[row, k] = dest[row, k - 1]
        dest[row, q] = chosen


@kernel(_nrt=False)  # (the tests drive a search walk from Python)
def _random_factors(space, fac, rng):
    """A uniform factorization per dim (plain loops, not slices: this runs once per sample)."""
    rows, row_start = space.rows, space.row_start
    for d in range(row_start.shape[0] - 1):
        row = row_start[d] + draw(rng, row_start[d + 1] - row_start[d])
        for s in range(fac.shape[0]):
            fac[s, d] = rows[row, s]


@kernel(_nrt=False)  # (the tests drive a search walk from Python)
def _random_orders_and_bypass(space, perm, keeps, rng):
    """A uniform free order per level and each bypass bit."""
    order_matters, base_perm, n_free = space.order_matters, space.base_perm, space.n_free
    keep_base, free_bits = space.keep_base, space.free_bits
    for mi in range(perm.shape[0]):
        for q in range(perm.shape[1]):
            perm[mi, q] = base_perm[mi, q]
        if order_matters[mi]:
            for q in range(n_free[mi] - 1, 0, -1):  # Fisher–Yates over the free part
                k = draw(rng, q + 1)
                perm[mi, q], perm[mi, k] = perm[mi, k], perm[mi, q]
    for level in range(keeps.shape[0]):
        for t in range(keeps.shape[1]):
            keeps[level, t] = keep_base[level, t]
    for b in range(free_bits.shape[0]):
        keeps[free_bits[b, 0], free_bits[b, 1]] = uniform(rng) < 0.5


@helper()
def _pick(rng, count):
    """Reservoir sampling: take the count-th candidate with probability 1/count."""
    return draw(rng, count) == 0


@helper()
def _n_active(fac, perm, mi, s, n_free):
    """How many of level mi's free loops (its slot s) have a factor > 1."""
    count = 0
    for q in range(n_free):
        count += fac[s, perm[mi, q]] > 1
    return count


@helper()
def _nth_active(fac, perm, mi, s, n_free, nth):
    """The position in perm[mi] of level mi's nth free loop with a factor > 1."""
    seen = 0
    for q in range(n_free):
        if fac[s, perm[mi, q]] > 1:
            if seen == nth:
                return q
            seen += 1
    return -1


@helper()
def _whole(fac, d, bound):
    """No loop of dim d has a wholly idle iteration: (f − 1) · inner < bound at every slot, slots
    top-down = outer → inner (check_mapping's rule; always so when the factors multiply to bound)."""
    inner = 1
    for s in range(fac.shape[0] - 1, -1, -1):
        if (fac[s, d] - 1) * inner >= bound:
            return False
        inner *= fac[s, d]
    return True


@kernel(_nrt=False, forceinline=True)  # (the tests drive a search walk from Python)
def _move(space, fixed, allowed, fac, perm, keeps, undo, saved, rng, row_share):
    """Apply one random neighbour in place and record in undo how to revert it: with probability
    `row_share` one dim takes another of its rows (a random one: the only move that changes a
    ragged dim's padded size), else a prime factor of one dim moves to another slot (up to 60 %),
    two active loops of one level swap (25 %), or one bypass bit flips. The kind (and for a factor
    or row move the dim) is drawn first, then the move among those of that kind that change the
    point; False if that kind has none (or a factor move would leave a ragged dim an idle iteration)."""
    slot_axis, slot_size, mem_slot = space.slot_axis, space.slot_size, space.mem_slot
    order_matters, n_free, free_bits = space.order_matters, space.n_free, space.free_bits
    n_slots, n_dims = fac.shape
    kind = uniform(rng)
    if kind < row_share:
        d = draw(rng, n_dims)
        n_rows = space.row_start[d + 1] - space.row_start[d]
        if n_rows < 2:
            return False
        row = space.row_start[d] + draw(rng, n_rows)
        same = True
        for s in range(n_slots):
            same = same and space.rows[row, s] == fac[s, d]
            if slot_axis[s] != TEMPORAL:  # the fan-out must still fit
                used = space.rows[row, s]
                for e in range(n_dims):
                    if e != d:
                        used *= fac[s, e]
                if used > slot_size[s]:
                    return False
        if same:
            return False
        for s in range(n_slots):
            saved[s] = fac[s, d]
            fac[s, d] = space.rows[row, s]
        undo[0], undo[1] = ROW, d
        return True
    if kind < 0.6:
        d = draw(rng, n_dims)
        s1, count = -1, 0
        for s in range(n_slots):
            if fac[s, d] > 1 and fixed[s, d] == 0:
                count += 1
                if _pick(rng, count):
                    s1 = s
        if s1 < 0:
            return False
        p = 2  # a random prime factor of fac[s1, d]
        f = fac[s1, d]
        primes = 0
        chosen = 0
        while f > 1:
            if f % p == 0:
                primes += 1
                if _pick(rng, primes):
                    chosen = p
                while f % p == 0:
                    f //= p
            p += 1
        s2, count = -1, 0
        for s in range(n_slots):
            if s == s1 or fixed[s, d] != 0 or not allowed[s, d]:
                continue
            if slot_axis[s] != TEMPORAL:  # the fan-out must still fit
                used = chosen
                for e in range(n_dims):
                    used *= fac[s, e]
                if used > slot_size[s]:
                    continue
            count += 1
            if _pick(rng, count):
                s2 = s
        if s2 < 0:
            return False
        fac[s1, d] //= chosen
        fac[s2, d] *= chosen
        if not _whole(fac, d, space.dim_bound[d]):  # a ragged dim's factors moved into an idle iteration
            fac[s2, d] //= chosen
            fac[s1, d] *= chosen
            return False
        undo[0], undo[1], undo[2], undo[3], undo[4] = FACTOR, d, s1, s2, chosen
        return True
    if kind < 0.85 or free_bits.shape[0] == 0:
        # a level whose order matters, with two or more active free loops (np.int64, not the literal −1:
        # Numba would compile _n_active once more for it)
        mi, count = np.int64(-1), 0
        for candidate in range(perm.shape[0]):
            if order_matters[candidate] and _n_active(fac, perm, candidate, mem_slot[candidate],
                                                      n_free[candidate]) >= 2:
                count += 1
                if _pick(rng, count):
                    mi = candidate
        if mi < 0:
            return False
        s = mem_slot[mi]
        n_active = _n_active(fac, perm, mi, s, n_free[mi])
        a = draw(rng, n_active)
        b = draw(rng, n_active - 1)
        b += b >= a  # a different one
        a, b = _nth_active(fac, perm, mi, s, n_free[mi], a), _nth_active(fac, perm, mi, s, n_free[mi], b)
        perm[mi, a], perm[mi, b] = perm[mi, b], perm[mi, a]
        undo[0], undo[1], undo[2], undo[3] = SWAP, mi, a, b
        return True
    b = draw(rng, free_bits.shape[0])
    keeps[free_bits[b, 0], free_bits[b, 1]] = not keeps[free_bits[b, 0], free_bits[b, 1]]
    undo[0], undo[1] = FLIP, b
    return True


@kernel(_nrt=False)  # (the tests drive a search walk from Python)
def _undo(space, fac, perm, keeps, undo, saved):
    """Revert the move _move recorded in undo."""
    free_bits = space.free_bits
    if undo[0] == ROW:
        d = undo[1]
        for s in range(fac.shape[0]):
            fac[s, d] = saved[s]
    elif undo[0] == FACTOR:
        d, s1, s2, chosen = undo[1], undo[2], undo[3], undo[4]
        fac[s2, d] //= chosen
        fac[s1, d] *= chosen
    elif undo[0] == SWAP:
        mi, a, b = undo[1], undo[2], undo[3]
        perm[mi, a], perm[mi, b] = perm[mi, b], perm[mi, a]
    else:
        b = undo[1]
        keeps[free_bits[b, 0], free_bits[b, 1]] = not keeps[free_bits[b, 0], free_bits[b, 1]]


@kernel(_nrt=False)
def search_heuristic(space, fixed, allowed, problem, weights, work, state, random_evals, random_seed, n_evals, seed,
                     patience, restart_samples, kick, fresh_every, row_share, model, best_fac, best_perm, best_keeps,
                     best, stats):
    """Uniform random sampling for `random_evals` evaluations (seeded with `random_seed`), then hill
    climbing for `n_evals` (seeded with `seed`); either may be 0.

    Sampling: a factorization per dim (the factors first: most draws over-fill a fan-out, and those
    need no orders), then a free order per level and each bypass bit.

    Hill climbing with restarts: accept any neighbour no worse than the current point (moves are
    made in place and undone if worse) and restart after `patience` moves without gain — from the
    best point so far kicked by `kick` random moves (iterated local search), and every
    `fresh_every`-th restart (≥ 1; the first, and any while nothing feasible is known) from the
    best of `restart_samples` random samples. A restart that finds nothing feasible still counts.

    One loop evaluates every candidate at one place (a sample of either phase, a move, a kicked
    start): the model is inlined once, not at each site (each copy costs seconds of compilation)."""
    fac, perm, keeps, cur_fac, cur_perm, cur_keeps = state.fac, state.perm, state.keeps, state.cur_fac, \
        state.cur_perm, state.cur_keeps
    cur, out, undo, rng, saved = state.cur, state.out, state.undo, state.rng, state.saved
    seed_rng(rng, random_seed)
    _reset(space, state)
    start = stats[EVALS]
    tries = 0
    climbing = False
    stale = patience
    restarts = 0
    kicked = False  # this round's cur is the best point kicked, not evaluated yet
    guard = 0
    sampled = -1    # samples drawn so far in a fresh restart (-1: not in one)
    restart_start = 0
    move_now = False  # a fresh restart just ended: its first move comes in the same round
    while True:
        # What to evaluate: a sample (into fac, perm, keeps) or the current point moved or kicked.
        sample = True
        if not climbing:
            if not (stats[EVALS] - start < random_evals and tries < 50 * random_evals):
                climbing = True
                seed_rng(rng, seed)
                _reset(space, state)
                start = stats[EVALS]
                continue
            tries += 1
        elif sampled >= 0:
            sampled += 1
        else:
            if not move_now:
                if not (stats[EVALS] - start < n_evals and guard < 100 * n_evals):
                    return
                guard += 1
                if stale >= patience:
                    fresh = restarts % fresh_every == 0 or best[0, 0] == INF
                    restarts += 1
                    if fresh:  # from the best of fresh samples
                        for q in range(4):
                            cur[q] = INF
                        restart_start = stats[EVALS]
                        if restart_samples > 0:
                            sampled = 0
                        continue
                    # from the best, kicked: evaluated below, as a move is
                    _keep(best_fac[0], best_perm[0], best_keeps[0], best[0], cur_fac, cur_perm, cur_keeps, cur)
                    for _ in range(kick):
                        _move(space, fixed, allowed, cur_fac, cur_perm, cur_keeps, undo, saved, rng, row_share)
                    kicked = True
            move_now = False
            if not kicked and not _move(space, fixed, allowed, cur_fac, cur_perm, cur_keeps, undo, saved, rng,
                                        row_share):
                continue
            sample = False
        feasible = False
        evaluate = True
        if sample:
            _random_factors(space, fac, rng)
            if _fits(fac, space.slot_axis, space.slot_size):
                _random_orders_and_bypass(space, perm, keeps, rng)
            else:
                stats[UNFIT] += 1
                evaluate = False
        if evaluate:  # the one evaluation site
            if sample:
                e_fac, e_perm, e_keeps = fac, perm, keeps
            else:
                e_fac, e_perm, e_keeps = cur_fac, cur_perm, cur_keeps
            feasible = _score(e_fac, e_perm, e_keeps, space, problem, weights, work, stats, out, model,
                              model_at)
        if not climbing:
            if feasible:
                _offer(fac, perm, keeps, out, best_fac, best_perm, best_keeps, best, stats)
            continue
        if sample:  # one of a fresh restart's samples: keep the best, and end the restart when it has enough
            if feasible and _better(out, cur):
                _keep(fac, perm, keeps, out, cur_fac, cur_perm, cur_keeps, cur)
            if (stats[EVALS] - restart_start >= restart_samples and cur[0] < INF) \
                    or stats[EVALS] - start >= n_evals or sampled == restart_samples * 20:  # the budget holds restarts too
                sampled = -1
                if cur[0] == INF or stats[EVALS] - start >= n_evals:
                    continue
                stale = 0
                _offer(cur_fac, cur_perm, cur_keeps, cur, best_fac, best_perm, best_keeps, best, stats)
                move_now = True
            continue
        if kicked:  # the climb starts there if it fits, else the next round restarts again
            kicked = False
            if not feasible:
                continue
            stale = 0
        else:
            stale += 1
            if not feasible or _better(cur, out):
                _undo(space, cur_fac, cur_perm, cur_keeps, undo, saved)
                continue
            if _better(out, cur):  # no worse: stay there (plateaus are crossed)
                stale = 0
        for q in range(4):
            cur[q] = out[q]
        _offer(cur_fac, cur_perm, cur_keeps, cur, best_fac, best_perm, best_keeps, best, stats)
