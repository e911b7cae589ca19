"""The mapper: search a layer's mapspace for the best mapping under constraints and an objective.

Small mapspaces (at most `exhaustive_limit` points after the exact prunes of mapspace.py) are
searched exhaustively. Larger ones get a seeded heuristic: uniform random sampling for a twentieth
of the evaluation budget (it finds the feasible regions), then hill climbing with restarts for
the rest (a prime factor of one dim moves between levels, two loops of a level swap, or a bypass
bit flips; moves no worse than the current point are taken, so plateaus are crossed). A climb
that gains nothing for `patience` moves restarts from the best point so far kicked by a few
random moves (iterated local search), and one restart in eight from the best of fresh random
samples (a fresh point costs about twice a move: no tile of the last point carries over). The
same seed gives the same mapping. Every evaluation is the jitted analytical model on lowered
arrays (a nest evaluated before in the same search takes its stored answer: search/memo.py); the
winner is decoded to a Mapping and re-evaluated through the Python wrapper as a check.

The search ranks by the analytical model's cycles (the bandwidth bound). With `rank: cycle` the
kernels keep the `candidates` best distinct points instead of one, and the cycle model (stalls,
fill and drain, systolic skew) walks each; the objective then picks among them with the walked
cycles, the per-cycle energy (leakage) charged for them. The search's own best is among the
candidates, so the choice is never worse by the cycle model than ranking by the bound.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from math import prod

import numpy as np
from numba import typeof

from ..counting.nest import TEMPORAL
from ..counting.records import INDEX, OK, nest_loops, nest_scratch
from ..energy.model import ActionEnergies
from ..errors import AccelsimBug, MappingError, SpecError
from ..ir.arch import Arch, Memory
from ..ir.einsum import Einsum
from ..ir.workload import DENSE, Density
from ..mapping.lower import lower
from ..mapping.mapping import Mapping, check_mapping
from ..model.packed import evaluate_packed, outputs_and_scratch, pack_problem
from . import search_kernels as S
from .constraints import NO_CONSTRAINTS, Constraints
from .mapspace import Mapspace, build_mapspace, decode
from .memo import SETS as MEMO_SETS, new_memo
from .model_call import model_address
from .rng import new_rng

HEURISTIC_RANDOM_SHARE = 0.05  # of the budget: uniform samples before the climb
PATIENCE = 400          # hill-climb moves without gain before a restart
RESTART_SAMPLES = 100   # random samples a fresh restart picks its start from
KICK = 4                # random moves that kick the best point into a restart
FRESH_EVERY = 8         # one restart in this many starts from fresh samples, the others from the best, kicked
RAGGED_CANDIDATES = 16  # a ragged mapspace's best points by the kernel's (padded) counts, counted again exactly
RAGGED_ROW_SHARE = 0.15  # of the climb's moves in a ragged mapspace: a dim takes another of its rows


@dataclass(frozen=True)
class MapperResult:
    mapping: Mapping
    energy_pj: float
    cycles: int
    algorithm: str         # 'exhaustive' or 'random+hill_climb'
    objective: str
    mapspace_size: int     # points before the fit/capacity prunes (a lower bound past the limit)
    evaluations: int       # points evaluated (the budget)
    feasible: int          # of those, mappings that fit every buffer
    unfit: int             # candidates pruned before evaluation (a fan-out axis over-full)
    improvements: int      # times the best so far improved
    seconds: float
    ranked_by: str = "analytical"  # whose cycles chose among the best points (settings.rank)
    ranked: int = 1        # points the cycle model walked to choose (1: the search's best as it is)
    ranked_cycles: int | None = None  # the chosen mapping's cycle-model cycles, when ranked by them
    repeats: int = 0       # of the evaluations, nests evaluated before, answered from the memo (search/memo.py)

    def summary(self) -> dict:
        """What a result records about the search (no wall-clock time: results stay reproducible)."""
        return {"algorithm": self.algorithm, "objective": self.objective, "mapspace_size": self.mapspace_size,
                "evaluations": self.evaluations, "feasible": self.feasible, "unfit": self.unfit,
                "improvements": self.improvements, "ranked_by": self.ranked_by, "ranked": self.ranked,
                "ranked_cycles": self.ranked_cycles, "repeats": self.repeats}


def _outputs_and_scratch(space: Mapspace, problem, einsum: Einsum, max_loops: int):
    """evaluate_nest's out and scratch for the search: its point-set scratch sized for the longest
    axis any row reaches, since the kernel counts a ragged point on the layer padded to its loops
    (whose axes are longer than the layer's: outputs_and_scratch sizes them for the layer's)."""
    out, scratch = outputs_and_scratch(problem, max_loops)
    if not space.ragged:
        return out, scratch
    covers = {d: max(prod(int(f) for f in row) for row in space.rows[space.row_start[i]:space.row_start[i + 1]])
              for i, d in enumerate(space.dims)}
    span = max(1 + sum(term.coef * (covers[term.dim] - 1) for term in axis)
               for t in einsum.tensors for axis in t.axes)
    if span <= problem.max_span:
        return out, scratch
    n_levels, n_tensors = problem.level_int.shape[0], len(problem.roles)
    return out, nest_scratch(max_loops, problem.max_axes, span, len(space.dims), n_levels, n_tensors)


def _not_ragged(space: Mapspace, problem) -> np.ndarray:
    """[slot, dim] a fan-out slot that merges a sliding-window tensor (one whose axes mix dims) over
    the dim: the ragged kernel refuses that dim ragged with a factor > 1 there (ragged_kernel._served)."""
    out = np.zeros((space.n_slots, len(space.dims)), dtype=np.bool_)
    windowed = [t for t in range(len(space.roles)) if not problem.one_dim[t]]
    for s in range(space.n_slots):
        if space.slot_axis[s] != TEMPORAL:
            level = space.slot_level[s]
            for d in range(len(space.dims)):
                out[s, d] = any(problem.axis_of[t, d] >= 0 and problem.merges[level, t, d] for t in windowed)
    return out


def _space_arrays(space: Mapspace, problem) -> S.Space:
    n_mem, n_dims = space.tail.shape
    mem_slot = np.zeros(n_mem, dtype=np.int64)
    for s in range(space.n_slots):
        if space.slot_mem[s] >= 0:
            mem_slot[space.slot_mem[s]] = s
    base_perm = np.zeros((n_mem, n_dims), dtype=INDEX)
    n_free = np.zeros(n_mem, dtype=np.int64)
    for mi in range(n_mem):
        tail = list(space.tail[mi, :space.n_tail[mi]])
        free = [d for d in range(n_dims) if d not in tail]
        base_perm[mi] = free + tail
        n_free[mi] = len(free)
    # C order always: a kernel compiles once per array layout, and argwhere's varies.
    free_bits = np.ascontiguousarray(np.argwhere(space.keep_free).astype(np.int64).reshape(-1, 2))
    return S.Space(space.slot_level, space.slot_axis, space.slot_size, space.slot_mem, space.rows, space.row_start,
                   mem_slot, space.order_matters, base_perm, n_free, space.keep_base, free_bits, space.bound,
                   _not_ragged(space, problem))


def search_state(space: Mapspace) -> S.State:
    """The search kernels' work arrays (see search_kernels.State)."""
    n_slots, n_dims = space.n_slots, len(space.dims)
    n_mem = space.tail.shape[0]
    point = lambda: (np.ones((n_slots, n_dims), np.int64), np.zeros((n_mem, n_dims), INDEX),  # noqa: E731
                     np.zeros_like(space.keep_base))
    return S.State(*point(), *point(), np.full(4, np.inf), np.zeros(4), np.zeros(5, np.int64),
                   np.zeros(n_dims, np.int64), np.zeros((n_mem, n_dims), INDEX), np.zeros(n_mem, np.int64),
                   np.ones(n_mem, np.int64), new_rng(), np.ones(n_slots, np.int64))


@dataclass(frozen=True)
class Point:
    """One of the search's best points, decoded and re-evaluated."""

    mapping: Mapping
    energy_pj: float
    cycles: int
    per_cycle_pj: float    # of energy_pj, the part charged per cycle (leakage, clocked overheads)
    output_words: dict     # memory level name -> words an output element takes there (the cycle model's)


@dataclass(frozen=True)
class Search:
    points: tuple          # the best distinct points (Point), best first
    algorithm: str
    mapspace_size: int
    stats: np.ndarray      # search_kernels' EVALS, FEASIBLE, UNFIT, IMPROVED


def search_mapping(arch: Arch, einsum: Einsum, energies: ActionEnergies,
                   constraints: Constraints = NO_CONSTRAINTS,
                   density: Density = DENSE, ragged: bool = False) -> MapperResult:
    """The best mapping of `einsum` on `arch` that the constraints allow, by their objective (with
    `rank: cycle`, the best of the search's `candidates` best points once the cycle model's cycles
    replace the bandwidth bound). `ragged`: in the ragged mapspace (best_points)."""
    settings = constraints.settings
    start = time.perf_counter()
    by_cycles = settings.rank == "cycle"
    found = best_points(arch, einsum, energies, constraints, density, settings.candidates if by_cycles else 1,
                        ragged)
    chosen, ranked_cycles = _rank_by_cycle_model(arch, einsum, found.points, settings) if by_cycles else (0, None)
    best = found.points[chosen]
    stats = found.stats
    return MapperResult(best.mapping, best.energy_pj, best.cycles, found.algorithm, settings.objective.text,
                        found.mapspace_size, int(stats[S.EVALS]), int(stats[S.FEASIBLE]), int(stats[S.UNFIT]),
                        int(stats[S.IMPROVED]), time.perf_counter() - start, settings.rank,
                        len(found.points) if by_cycles else 1, ranked_cycles, int(stats[S.REPEATS]))


def best_points(arch: Arch, einsum: Einsum, energies: ActionEnergies, constraints: Constraints = NO_CONSTRAINTS,
                density: Density = DENSE, k: int = 1, ragged: bool = False,
                compile_only: bool = False) -> Search | None:
    """The k best distinct points (by energy and cycles) the search finds under the constraints'
    objective, best first. `ragged`: the mapspace also holds ragged rows (mapspace.py); the kernel
    counts a ragged point as its loops on the layer padded to them (the dense kernel: an upper bound
    on every count, tests/kernels/test_ragged.py), so it keeps the RAGGED_CANDIDATES best, and those
    are counted again exactly (counting/ragged_kernel.py) and ranked by the same objective.
    `compile_only`: compile (or load) the search kernel this search would call, and return None."""
    settings = constraints.settings
    space = build_mapspace(arch, einsum, constraints, ragged)
    kept = max(k, RAGGED_CANDIDATES) if space.ragged else k
    problem = pack_problem(arch, einsum, energies, density)
    size = space.size(limit=settings.exhaustive_limit)
    algorithm = settings.search
    if algorithm == "auto":
        algorithm = "exhaustive" if size <= settings.exhaustive_limit else "heuristic"
    max_loops = space.n_slots * len(space.dims)
    # An exhaustive search visits each point once (mapspace.py prunes the orders that lower alike): no memo.
    memo = new_memo(max_loops, *space.keep_base.shape, sets=0 if algorithm == "exhaustive" else MEMO_SETS)
    work = S.Work(nest_loops(max_loops), *_outputs_and_scratch(space, problem, einsum, max_loops), memo)
    record = problem.record()
    arrays = _space_arrays(space, problem)
    state = search_state(space)
    weights = np.array(settings.objective.weights, dtype=np.float64)
    best_fac = np.ones((kept, space.n_slots, len(space.dims)), dtype=np.int64)
    best_perm = np.repeat(arrays.base_perm[None], kept, axis=0)
    best_keeps = np.repeat(space.keep_base[None], kept, axis=0)
    best = np.full((kept, 4), np.inf)
    stats = np.zeros(5, dtype=np.int64)
    args = (best_fac, best_perm, best_keeps, best, stats)
    if algorithm == "exhaustive":  # (it links the model in: search/model_call.py)
        kernel, args = S.search_exhaustive, (arrays, record, weights, work, state, *args)
    else:
        if typeof(state.cur_keeps) != typeof(state.keeps):  # the kernel passes either to the model's one address
            raise AccelsimBug("the search's current and candidate keep bits differ in type (search_state)")
        model = 0 if compile_only else model_address(work.loops, state.keeps, record, work.out, work.scratch)
        budget = settings.evaluations
        random_evals = max(1, int(budget * HEURISTIC_RANDOM_SHARE)) if algorithm != "hill_climb" else 0
        sampled = budget if algorithm == "random" else random_evals
        climbed = budget - random_evals if algorithm in ("hill_climb", "heuristic") else 0
        kernel, args = S.search_heuristic, (arrays, space.fixed, space.allowed, record, weights, work, state, sampled,
                                            settings.seed, climbed, settings.seed + 1, PATIENCE, RESTART_SAMPLES,
                                            KICK, FRESH_EVERY, RAGGED_ROW_SHARE if space.ragged else 0.0, model,
                                            *args)
        algorithm = {"heuristic": "random+hill_climb"}.get(algorithm, algorithm)
    if compile_only:  # (compile_ahead: the kernel for these types, without evaluate_nest compiled)
        kernel.compile(tuple(typeof(a) for a in args))
        return None
    kernel(*args)
    if not np.isfinite(best[0, 0]):
        raise MappingError(f"the mapper found no mapping that fits every buffer ({stats[S.EVALS]} evaluated, "
                           f"{stats[S.UNFIT]} over-full fan-outs, mapspace ≈ {size:.3g} points); relax the "
                           f"constraints or raise the evaluation budget")
    points = [_decoded(arch, einsum, space, problem, best_fac[q], best_perm[q], best_keeps[q], best[q])
              for q in range(kept) if np.isfinite(best[q, 0])]
    points = [p for p in points if p is not None]
    if space.ragged:  # by the exact counts, the kernel's order among ties
        points = sorted(points, key=lambda p: tuple(S._objective(a, b, p.energy_pj, float(p.cycles))
                                                    for a, b in settings.objective.weights))[:k]
    if not points:
        raise MappingError(f"the mapper found no mapping the ragged kernel can count among its {kept} best "
                           f"({stats[S.EVALS]} evaluated); search with dense tiles only")
    return Search(tuple(points), algorithm, int(size), stats)


def _decoded(arch: Arch, einsum: Einsum, space: Mapspace, problem, fac, perm, keeps, score):
    """A kept point, decoded and re-evaluated through the Python wrapper: a check on the search's
    own numbers for a dense point, the exact counts for a ragged one (None if the ragged kernel
    cannot count it)."""
    mapping = decode(arch, space, fac, perm, keeps)
    check_mapping(arch, einsum, mapping)
    ragged = bool((np.prod(fac, axis=0) != space.bound).any())
    again = evaluate_packed(problem, lower(arch, einsum, mapping))
    if ragged:
        if again.status != OK:  # a sliding window multicast over a ragged plane (ragged_kernel.py)
            return None
        if again.cycles > score[3] or again.energy_pj > score[2] * (1 + 1e-9):
            raise AccelsimBug(f"a ragged point counts more than its loops on the padded layer: {again.energy_pj} "
                              f"pJ / {again.cycles} cycles against {score[2]} pJ / {int(score[3])} cycles")
        score = (0.0, 0.0, again.energy_pj, again.cycles)
    elif again.cycles != int(score[3]) or abs(again.energy_pj - score[2]) > 1e-9 * score[2]:
        raise AccelsimBug(f"the decoded best mapping evaluates to {again.energy_pj} pJ / {again.cycles} cycles, "
                          f"the search saw {score[2]} pJ / {int(score[3])} cycles")
    words = {level.name: int(again.output_words[i]) for i, level in enumerate(arch.levels) if isinstance(level, Memory)}
    return Point(mapping, float(score[2]), int(score[3]), float(again.per_cycle_pj[0]), words)


def _rank_by_cycle_model(arch: Arch, einsum: Einsum, points: tuple, settings) -> tuple[int, int]:
    """The index of the point (of the search's best, best first) that the objective prefers once
    its cycles are the cycle model's (stalls, fill and drain, systolic skew) and its per-cycle
    energy (leakage, clocked overheads) is charged for those cycles; and those cycles. A tie keeps
    the search's order. A point whose walk the cycle model refuses (too many steps) is passed over."""
    from ..model.cycle import CycleModel, simulate_cycles

    CycleModel.check(arch, None)
    ranked, refused = [], None
    for q, point in enumerate(points):
        try:
            walked = simulate_cycles(arch, einsum, lower(arch, einsum, point.mapping), point.output_words).cycles
        except SpecError as exc:
            refused = refused or exc
            continue
        energy = point.energy_pj + point.per_cycle_pj * (walked - point.cycles)
        scores = tuple(S._objective(a, b, energy, float(walked)) for a, b in settings.objective.weights)
        ranked.append((scores, q, walked))
    if not ranked:
        raise refused
    _, q, walked = min(ranked)
    return q, walked
