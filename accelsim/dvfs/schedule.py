"""Per-layer DVFS: one operating point per layer, chosen from a sweep, with a switching cost.

Minimizes energy under a latency budget (or latency under an energy budget) by dynamic
programming over the layers in order, the budgeted quantity discretized into `bins` steps and
each layer's share rounded *up*, so a schedule found always meets its budget (it may miss a
better one by at most one step per layer). The layers run in the workload's order; a block whose
layers all repeat `count` times runs as `count` passes over the list, so consecutive layers i,
i+1 switch min(c_i, c_i+1) times and the last back to the first min(c_last, c_first) − 1 times.
A switch from point a to point b costs `switch_time_s` of runtime, during which the chip draws
the static power of the higher of the two (leakage and background: the clocks are stopped while
the PLL and regulator settle), plus `switch_energy_j`. Points above the power cap are excluded.
Budgets are met exactly (a bandwidth-bound layer's runtime wobbles by a cycle with the clock, so a
budget equal to one clock's runtime leaves other clocks for that layer only where they are no slower).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import SpecError
from .sweep import DvfsSweep


@dataclass(frozen=True)
class Schedule:
    points: tuple            # per layer: the index of its operating point in the sweep
    energy_j: float          # including switches
    runtime_s: float
    switches: int

    def frequencies_hz(self, sweep: DvfsSweep) -> list[float]:
        return [sweep.frequencies_hz[j] for j in self.points]


def _transitions(counts) -> list[int]:
    """How often layer i hands over to layer i+1 (the last entry: last → first)."""
    n = len(counts)
    out = [min(counts[i], counts[i + 1]) for i in range(n - 1)]
    out.append(max(0, min(counts[-1], counts[0]) - 1) if n > 1 else 0)
    return out


def switch_costs(sweep: DvfsSweep, switch_time_s: float, switch_energy_j: float) -> tuple[np.ndarray, np.ndarray]:
    """[a, b]: time and energy of one switch from point a to point b (0 on the diagonal)."""
    static = np.asarray(sweep.static_power_w)
    n = len(static)
    energy = switch_time_s * np.maximum.outer(static, static) + switch_energy_j
    time = np.full((n, n), switch_time_s)
    np.fill_diagonal(energy, 0.0)
    np.fill_diagonal(time, 0.0)
    return time, energy


def evaluate(sweep: DvfsSweep, points, switch_time_s: float = 0.0, switch_energy_j: float = 0.0) -> Schedule:
    """The energy and runtime of a given per-layer choice of points."""
    energy, runtime = sweep.layer_energy_j(), sweep.layer_runtime_s()
    sw_t, sw_e = switch_costs(sweep, switch_time_s, switch_energy_j)
    e = sum(energy[j, i] for i, j in enumerate(points))
    t = sum(runtime[j, i] for i, j in enumerate(points))
    switches = 0
    n = len(points)
    for i, times in enumerate(_transitions(sweep.counts)):
        a, b = points[i], points[(i + 1) % n]
        e += times * sw_e[a, b]
        t += times * sw_t[a, b]
        switches += times * (a != b)
    return Schedule(tuple(int(j) for j in points), float(e), float(t), int(switches))


def best_single_point(sweep: DvfsSweep, latency_budget_s: float | None = None,
                      energy_budget_j: float | None = None) -> Schedule | None:
    """The one operating point for every layer that is best under the budget (None: none meets it)."""
    allowed = sweep.allowed().all(axis=1)
    best = None
    for j in range(len(sweep.frequencies_hz)):
        if not allowed[j]:
            continue
        s = evaluate(sweep, [j] * len(sweep.layers))
        if _within(s, latency_budget_s, energy_budget_j) and (best is None or _better(s, best, energy_budget_j)):
            best = s
    return best


def fastest_single_point(sweep: DvfsSweep) -> Schedule | None:
    """The one operating point for every layer with the shortest runtime (least energy among ties)."""
    allowed = sweep.allowed().all(axis=1)
    runs = [evaluate(sweep, [j] * len(sweep.layers)) for j in range(len(sweep.frequencies_hz)) if allowed[j]]
    return min(runs, key=lambda s: (s.runtime_s, s.energy_j), default=None)


def _within(s: Schedule, latency_budget_s, energy_budget_j) -> bool:
    if latency_budget_s is not None and s.runtime_s > latency_budget_s * (1 + 1e-12):
        return False
    return energy_budget_j is None or s.energy_j <= energy_budget_j * (1 + 1e-12)


def _better(a: Schedule, b: Schedule, energy_budget_j) -> bool:
    return a.runtime_s < b.runtime_s if energy_budget_j is not None else a.energy_j < b.energy_j


def per_layer_schedule(sweep: DvfsSweep, latency_budget_s: float | None = None, energy_budget_j: float | None = None,
                       switch_time_s: float = 0.0, switch_energy_j: float = 0.0, bins: int = 2000) -> Schedule | None:
    """Minimum energy within `latency_budget_s` (or minimum runtime within `energy_budget_j`; with
    neither, minimum energy); None when no schedule meets the budget."""
    if latency_budget_s is not None and energy_budget_j is not None:
        raise SpecError("give a latency budget or an energy budget, not both")
    if any(b is not None and not b > 0 for b in (latency_budget_s, energy_budget_j)):
        raise SpecError(f"a budget must be positive, got latency {latency_budget_s}, energy {energy_budget_j}")
    energy, runtime = sweep.layer_energy_j(), sweep.layer_runtime_s()
    sw_t, sw_e = switch_costs(sweep, switch_time_s, switch_energy_j)
    if energy_budget_j is None:
        cost, used, sw_cost, sw_used, budget = energy, runtime, sw_e, sw_t, latency_budget_s
    else:
        cost, used, sw_cost, sw_used, budget = runtime, energy, sw_t, sw_e, energy_budget_j
    cost = np.where(sweep.allowed(), cost, np.inf)
    transitions = _transitions(sweep.counts)
    if budget is None:  # unconstrained: nothing is budgeted
        best = _dp(cost, np.zeros(used.shape, np.int64), sw_cost, np.zeros(sw_used.shape, np.int64), transitions, 0)
        return None if best is None else evaluate(sweep, best, switch_time_s, switch_energy_j)
    step = budget / bins
    b_layer = np.ceil(used / step - 1e-9).astype(np.int64)
    b_switch = np.ceil(sw_used / step - 1e-9).astype(np.int64)
    # Rounding up keeps every schedule found within the budget, but can exclude one that just fits
    # (a single clock whose runtime is the budget): try with up to one bin of slack per rounded term,
    # less and less, keep the first whose exact totals fit, and compare with the best single point.
    found = []
    most = len(transitions) * 2
    for slack in sorted({most, most // 2, most // 4, most // 8, 2, 1, 0}, reverse=True):
        choice = _dp(cost, b_layer, sw_cost, b_switch, transitions, bins + slack)
        if choice is not None:
            s = evaluate(sweep, choice, switch_time_s, switch_energy_j)
            if _within(s, *((budget, None) if energy_budget_j is None else (None, budget))):
                found.append(s)
                break
    single = best_single_point(sweep, latency_budget_s, energy_budget_j)
    found += [single] if single is not None else []
    return min(found, key=lambda s: (s.energy_j, s.runtime_s) if energy_budget_j is None
               else (s.runtime_s, s.energy_j), default=None)


def _dp(cost, b_layer, sw_cost, b_switch, transitions, bins) -> list[int] | None:
    """Minimum Σ cost over a cyclic sequence of choices with Σ budget bins ≤ `bins`."""
    n_points, n_layers = cost.shape
    best_total, best_choice = np.inf, None
    for first in range(n_points):  # the cycle closes on the first layer's point: fix it
        if not np.isfinite(cost[first, 0]) or b_layer[first, 0] > bins:
            continue
        table = np.full((n_points, bins + 1), np.inf)
        table[first, b_layer[first, 0]] = cost[first, 0]
        parents = []
        for i in range(1, n_layers):
            times = transitions[i - 1]
            new = np.full((n_points, bins + 1), np.inf)
            parent = np.zeros((n_points, bins + 1), dtype=np.int64)
            for b in range(n_points):
                if not np.isfinite(cost[b, i]):
                    continue
                for a in range(n_points):
                    shift = b_layer[b, i] + times * b_switch[a, b]
                    if shift > bins:
                        continue
                    cand = table[a, :bins + 1 - shift] + cost[b, i] + times * sw_cost[a, b]
                    target = new[b, shift:]
                    better = cand < target
                    target[better] = cand[better]
                    parent[b, shift:][better] = a
            table = new
            parents.append(parent)
        wrap = transitions[-1]
        for last in range(n_points):
            shift = wrap * b_switch[last, first]
            if shift > bins:
                continue
            row = table[last, :bins + 1 - shift] + wrap * sw_cost[last, first]
            k = int(np.argmin(row))
            if row[k] < best_total:
                best_total = row[k]
                best_choice = [first] + _walk_back(parents, last, k, b_layer, b_switch, transitions)
    return best_choice


def _walk_back(parents, last, k, b_layer, b_switch, transitions) -> list[int]:
    """The points of layers 1 … n−1 that reach state (last, k)."""
    chain, b = [last], last
    for i in range(len(parents), 0, -1):
        a = int(parents[i - 1][b, k])
        k -= b_layer[b, i] + transitions[i - 1] * b_switch[a, b]
        chain.append(a)
        b = a
    chain.pop()  # the first layer's point, inserted by the caller
    return chain[::-1]
