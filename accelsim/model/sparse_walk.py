"""The cycle model under sparsity (docs/sparsity.md, "The cycle model under sparsity").

The tile walk (cycle.py) runs on the dense mapping with two changes taken from the sparse pass:
  * traffic: every charge and flow of a level and tensor carries the pass's demand per dense word
    (sparse/costs.demand_factors: actual + gated accesses + metadata, skipped ones take no slot);
  * compute: a step takes its busiest PE's effectual MAC cycles. Balanced, that is the dense step's
    MAC cycles × the pass's (actual + gated) ÷ algorithmic MACs; PEs in lock step under unstructured
    sparsity stretch it by E[max over the PEs] ÷ mean (sparse/imbalance.py).

A step's compute time c is then real. The walk runs at integer times, so the walks at ⌊c⌋ and
⌈c⌉ are interpolated. Each step's own time, max(c + skew, t) with integer t and skew, bends only at
integers, so where that is all the walk does the interpolation is exact. Waits carried from step to
step (a port busy into the next step) could bend it between integers; that is not checked yet.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from math import ceil, floor, prod

import numpy as np

from ..counting.reuse import tile_size
from ..errors import SpecError
from ..ir.arch import Arch, Memory
from ..sparse.costs import demand_factors
from ..sparse.density import Dense, Measured, StructuredNM
from ..sparse.imbalance import NO_IMBALANCE, StepImbalance, step_imbalance
from .cycle import _walk_totals, stats_of_walk, tile_events
from .tile_events import KIND_FILLS, KIND_READS, KIND_UPDATES

FIXED_POINT = 2 ** 16  # port words in 1/65536 words: scaled traffic stays integer in the walk
OPS = {KIND_READS: "read", KIND_FILLS: "fill", KIND_UPDATES: "update"}


@dataclass(frozen=True)
class SparseCycleStats:
    cycles: int                  # expected cycles with the busiest PE setting each step (rounded up)
    balanced_cycles: int         # the same walk with every PE at the mean (perfect balance)
    load_imbalance: float        # cycles ÷ balanced cycles (unrounded)
    exact_cycles: float          # the two before rounding
    exact_balanced_cycles: float
    dense_per_step: int          # a PE's MAC cycles per step, dense
    balanced_per_step: float
    per_step: float              # E[busiest PE's effectual MAC cycles] per step
    steps: int
    skew_cycles: float
    stall_cycles: dict           # level -> expected stall cycles
    imbalance: StepImbalance

    def as_extra(self) -> dict:
        imb = self.imbalance
        return {"load_imbalance": self.load_imbalance,
                "cycle_model": {"steps": self.steps, "compute_cycles_per_step": self.per_step,
                                "dense_compute_cycles_per_step": self.dense_per_step,
                                "balanced_compute_cycles_per_step": self.balanced_per_step,
                                "balanced_cycles": self.balanced_cycles, "skew_cycles": self.skew_cycles,
                                "stall_cycles": dict(self.stall_cycles),
                                "imbalance": {"leader": imb.leader, "pes": imb.pes, "tile_elements": imb.tile,
                                              "factor": imb.factor}}}


def simulate_sparse_cycles(arch: Arch, layer, nest, counts, result) -> SparseCycleStats:
    """The layer's cycles under sparsity; `result`: the sparse pass's SparseResult for it."""
    einsum = layer.run_einsum
    ev = tile_events(arch, einsum, nest, {l.name: l.output_words for l in counts.levels})
    ev = scaled_traffic(arch, ev, result)
    computes = result.computes
    algorithmic = computes["algorithmic"]
    effectual = (computes["random_compute"] + computes["gated_compute"]) / algorithmic if algorithmic else 1.0
    balanced = ev.compute * effectual
    imbalance = pe_imbalance(arch, einsum, nest, dict(layer.sparsity), result)
    per_step = min(float(ev.compute), balanced * imbalance.factor)  # no PE does more than its dense slots
    walks: dict = {}

    def walk_at(c: float):
        """(cycles, skew, stalls per level) of the walk with c MAC cycles a step: ⌊c⌋ and ⌈c⌉ interpolated."""
        lo = floor(c)
        frac = c - lo
        out = []
        for k in (lo, lo + 1) if frac else (lo,):
            if k not in walks:
                e = replace(ev, compute=k)
                walks[k] = stats_of_walk(arch, nest, e, _walk_totals(e, einsum))
            out.append(walks[k])
        a, b = out[0], out[-1]
        cycles = a.cycles + frac * (b.cycles - a.cycles)
        stalls = {n: a.stall_cycles[n] + frac * (b.stall_cycles[n] - a.stall_cycles[n]) for n in a.stall_cycles}
        return cycles, a.skew_cycles + frac * (b.skew_cycles - a.skew_cycles), stalls

    cycles, skew, stalls = walk_at(per_step)
    even, _, _ = walk_at(balanced)
    # expected cycles are real: report them rounded up (a dense walk's integers stay as they are)
    return SparseCycleStats(ceil(cycles - 1e-9), ceil(even - 1e-9), cycles / even if even else 1.0, cycles, even,
                            ev.compute, balanced, per_step, ev.n_steps, skew, stalls, imbalance)


def scaled_traffic(arch: Arch, ev, result):
    """The walk's tables with each charge and flow carrying the sparse pass's demand per dense word
    (in 1/FIXED_POINT words; the bandwidths scale alike, so a factor of 1 changes nothing)."""
    factors = {}
    for (s, role), rec in result.records.items():
        name = result.level_names[s]
        if name:
            factors[(name, role)] = demand_factors(arch.level(name), rec)
    names = [arch.levels[i].name for i in ev.memory_levels]

    def scale(levels, roles, kinds, scales):
        out = np.empty(len(scales), dtype=np.int64)
        for q, (m, r, k, w) in enumerate(zip(levels, roles, kinds, scales)):
            f = factors.get((names[m], ev.roles[r]), {}).get(OPS[int(k)], 1.0)
            out[q] = round(int(w) * f * FIXED_POINT)
        return out

    return replace(ev, ch_scale=scale(ev.ch_level, ev.ch_role, ev.ch_kind, ev.ch_scale),
                   fl_scale=scale(ev.fl_level, ev.fl_role, ev.fl_kind, ev.fl_scale),
                   bandwidth=ev.bandwidth * FIXED_POINT,
                   port_block=np.ones_like(ev.port_block))  # the sparse pass prices per block of the layer: words


def skip_leaders(arch: Arch, einsum, sparsity: dict, result) -> set:
    """The operands whose zeros (or missing elements) skip MACs: the condition-on tensors of a
    storage skip on an operand (the pass cuts the MACs with it), and, with the compute's
    skip_on_not_aligned_operands, operands stored with metadata at their innermost level."""
    operands = [r for r in einsum.roles if r != "outputs"]
    leaders = set()
    for level in arch.levels:
        if isinstance(level, Memory) and level.sparse is not None:
            for target, cond in level.sparse.skipping:
                if target in operands and all(einsum.tensor(t) is not None for t in (target, *cond)):
                    leaders |= set(cond)
    opts = arch.compute.sparse
    if opts is not None and opts.skip_on_not_aligned_operands:
        for role in operands:
            kept = sorted(s for (s, r) in result.records if r == role)
            if kept and result.records[(kept[0], role)].has_metadata:
                leaders.add(role)
    return {r for r in leaders if not isinstance(sparsity.get(r, Dense()), Dense)}


def pe_imbalance(arch: Arch, einsum, nest, sparsity: dict, result) -> StepImbalance:
    """The step's imbalance factor: each PE's effectual MACs in a step are its box's MACs per leader
    element × the leader's non-zeros in the PE's tile; the step waits for the busiest of the PEs that
    hold distinct leader tiles (the spatial loops over the leader's dims; the others replicate it)."""
    c = result.computes
    if c["random_compute"] + c["gated_compute"] >= c["algorithmic"]:  # every MAC takes its slot
        return NO_IMBALANCE
    leaders = skip_leaders(arch, einsum, sparsity, result)
    if not leaders:
        return NO_IMBALANCE
    if len(leaders) > 1:
        raise SpecError(f"the cycle model's load imbalance models MACs skipped on one operand's zeros; "
                        f"{einsum.render()} skips on {', '.join(sorted(leaders))}; use --model analytical, "
                        "or skip on one operand")
    leader = next(iter(leaders))
    model = sparsity[leader]
    if isinstance(model, Measured):
        raise SpecError(f"the cycle model's load imbalance needs a density model for {leader} (hypergeometric, "
                        "fixed_structured or structured), not a measured tensor; use --model analytical")
    for level in arch.levels:
        if (isinstance(level, Memory) and level.sparse is not None and level.block_words > 1
                and any(leader in cond for _, cond in level.sparse.skipping)):
            raise SpecError(f"{level.name}: skipping on {leader} in blocks of {level.block_words} words is not "
                            "modelled by the cycle model's load imbalance; use --model analytical")
    tensor = einsum.tensor(leader)
    memories = [i for i, lvl in enumerate(arch.levels) if isinstance(lvl, Memory)]
    first = int(nest.level_start[memories[-1]])
    box = [j for j in range(first, nest.n_loops) if not nest.loop_spatial[j]]
    loops = [(nest.dims[nest.loop_dim[j]], int(nest.loop_bound[j]), int(nest.loop_stride[j])) for j in box]
    spatial = [j for j in range(nest.n_loops) if nest.loop_spatial[j] and nest.dims[nest.loop_dim[j]] in tensor.dims]
    if isinstance(model, StructuredNM):
        # N:M hardware compacts each aligned group of M along the axis onto N lanes (the A100 sparse
        # tensor core's 2-bit index selects the activations): the lanes across the axis share a group
        lanes = [j for j in spatial if nest.dims[nest.loop_dim[j]] == model.axis]
        spatial = [j for j in spatial if j not in lanes]
        loops += [(model.axis, int(nest.loop_bound[j]), int(nest.loop_stride[j])) for j in lanes]
    tile = tile_size(tensor.axes, loops)
    pes = prod(int(nest.loop_bound[j]) for j in spatial)
    extent = prod(b for d, b, _ in loops if d == getattr(model, "axis", None))
    return step_imbalance(model, leader, tile, pes, extent)
