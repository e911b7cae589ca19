"""The cycle-level model: walk the tile steps of a mapping, with bandwidth, double buffering
and systolic skew. `simulate_cycles` lowers, calls the kernel and builds a `CycleStats`.

The analytical model's action counts stay the reported counts; the cycle model supplies
cycles (and, for checks, the traffic its full walk moved). docs/cycle-model.md has the rules.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from ..counting.conventions import convention_of
from ..counting.nest import LoweredNest
from ..counting.rules import bandwidth_cycles
from ..errors import AccelsimBug, Problem, SpecError
from ..ir.arch import Arch
from ..ir.einsum import Einsum
from ..spec.validate import line_in_file
from .performance import PERFORMANCE_MODELS, PerformanceModel
from .tile_events import (
    KIND_FILLS,
    KIND_READS,
    KIND_UPDATES,
    build_tile_events,
    ragged_tables,
    walk_begin,
    walk_end,
    walk_state,
    walk_steps,
)


@dataclass(frozen=True)
class Traffic:
    """Words one instance of a level moved for one tensor over the whole walk."""

    reads: int
    fills: int
    updates: int


@dataclass(frozen=True)
class CycleStats:
    cycles: int
    compute_cycles: int          # the busiest MAC's cycles over the steps (steps × MAC cycles per step, dense)
    skew_cycles: int             # streams × systolic fill/drain cycles per stream
    stall_cycles: dict           # memory level name -> cycles lost waiting on its ports
    traffic: dict                # memory level name -> role -> Traffic (per instance)
    steps: int                   # steps walked (inside every dim, on a ragged nest)
    compute_per_step: int        # MAC cycles of a whole step

    def traffic_bound(self, arch: Arch) -> int:
        """max(compute, each level's words ÷ bandwidth) over this walk's own traffic: the
        analytical model's bound, applied to what the walk moved."""
        bound = self.compute_cycles
        for name, tensors in self.traffic.items():
            mem = arch.level(name)
            reads = sum(t.reads for t in tensors.values())
            writes = sum(t.fills + t.updates for t in tensors.values())
            bound = max(bound, bandwidth_cycles(reads, writes, mem.read_bw_words or 0.0, mem.write_bw_words or 0.0,
                                                mem.shared_bw_words or 0.0))
        return bound

    def as_extra(self) -> dict:
        """What a LayerResult records under `extra` for --model cycle (one namespaced key,
        since report/serialize.py merges `extra` into the layer's dict)."""
        return {"cycle_model": {"steps": self.steps, "compute_cycles_per_step": self.compute_per_step,
                                "skew_cycles": self.skew_cycles, "stall_cycles": dict(self.stall_cycles)}}


# The walk's cost: steps × (streams + charges + flows + the port tables), at about 5·10^8 such units
# per second on a 2-core 2026 VM (docs/cycle-model.md). Beyond the bound a layer is refused with
# its estimated time rather than left to run for minutes.
WALK_UNITS_PER_S = 5e8
MAX_WALK_UNITS = 30 * WALK_UNITS_PER_S
PROGRESS_AFTER_S = 3  # a walk estimated longer logs its progress
LOG = logging.getLogger("accelsim.cycle")


def walk_units(ev) -> int:
    n_mem = len(ev.memory_levels)
    return ev.n_steps * (len(ev.ev_limit) + len(ev.ch_stream) + len(ev.fl_level) + 4 * n_mem * n_mem)


def simulate_cycles(arch: Arch, einsum: Einsum, nest: LoweredNest, output_words: dict | None = None) -> CycleStats:
    """`output_words`: level name → words per output element (the analytical counts'
    LevelCounts.output_words); taken from the analytical model when not given."""
    ev = tile_events(arch, einsum, nest, output_words)
    return stats_of_walk(arch, nest, ev, _walk_totals(ev, einsum))


def tile_events(arch: Arch, einsum: Einsum, nest: LoweredNest, output_words: dict | None = None):
    """The walk's tables, or a SpecError when the walk would take too long."""
    if output_words is None and arch.compute.psum_bits:
        from .analytical import analyze
        output_words = {level.name: level.output_words for level in analyze(arch, einsum, nest).levels}
    ev = build_tile_events(arch, einsum, nest, output_words)
    if walk_units(ev) > MAX_WALK_UNITS:
        raise SpecError(f"the cycle model would walk {ev.n_steps:,} tile steps for {einsum.render()} (about "
                        f"{walk_units(ev) / WALK_UNITS_PER_S:,.0f} s); run it with --model analytical, or with a "
                        f"mapping whose inner levels hold bigger tiles (fewer steps above the innermost memory)")
    return ev


def walk_refusal(arch: Arch, einsum: Einsum, nest: LoweredNest) -> str | None:
    """Why the walk refuses a ragged nest (a sliding window over a ragged dim whose tile has holes
    there, that the MACs read merged over two of its dims, or that a fan-out copies over one of its
    dims; copies whose positions past a ragged dim would come back inside it), or None: templates
    and the mapper pass over such candidates."""
    covered = {d: 1 for d in nest.dims}
    for d, bound in zip(nest.loop_dim, nest.loop_bound):
        covered[nest.dims[d]] *= int(bound)
    if all(covered[d] == einsum.bound[d] for d in nest.dims):
        return None  # dense: not this question
    try:
        build_tile_events(arch, einsum, nest)
    except SpecError as exc:
        return "; ".join(problem.message for problem in exc.problems)
    return None


def stats_of_walk(arch: Arch, nest: LoweredNest, ev, walk) -> CycleStats:
    """A CycleStats from one walk's totals (_walk_totals), checked: cycles = compute + skew + stalls."""
    cycles, streams, compute, stall, ch_total, fl_total = walk
    steps = ev.n_steps
    skew = streams * ev.skew
    names = [arch.levels[i].name for i in ev.memory_levels]
    sums: dict = {name: {} for name in names}
    for level, role, kind, words in [*zip(ev.ch_level, ev.ch_role, ev.ch_kind, ch_total),
                                     *zip(ev.fl_level, ev.fl_role, ev.fl_kind, fl_total)]:
        counts = sums.setdefault(names[level], {}).setdefault(ev.roles[role], [0, 0, 0])
        counts[kind] += int(words)
    for k, i in enumerate(ev.memory_levels):  # every kept tensor appears, even with no traffic
        for r, role in enumerate(ev.roles):
            if nest.keeps[i, r]:
                sums.setdefault(names[k], {}).setdefault(role, [0, 0, 0])
    traffic = {name: {role: Traffic(c[KIND_READS], c[KIND_FILLS], c[KIND_UPDATES]) for role, c in t.items()}
               for name, t in sums.items()}
    stalls = {name: int(s) for name, s in zip(names, stall)}
    if cycles != compute + skew + sum(stalls.values()) or min(stalls.values(), default=0) < 0:
        raise AccelsimBug(f"cycle model: {cycles} cycles ≠ compute {compute} + skew {skew} + stalls {stalls}")
    if any(v < 0 for t in sums.values() for c in t.values() for v in c):
        raise AccelsimBug(f"cycle model: negative traffic {sums}")
    return CycleStats(cycles, compute, skew, stalls, traffic, steps, ev.compute * ev.compute_rg)


@PERFORMANCE_MODELS.register("cycle")
class CycleModel(PerformanceModel):
    """Cycles from the tile walk (fills, drains, stalls, systolic skew); the counts stay analytical."""

    name = "cycle"

    @staticmethod
    def check(arch, options) -> None:
        convention = convention_of(arch)
        if not convention.cycle_model:
            raise SpecError(Problem(f"the counting convention '{convention.name}' is modelled by the analytical "
                                    f"model only", arch.source, line_in_file(arch.source, ("counting",)), "counting",
                                    allowed=("--model analytical",),
                                    suggestion=f"run with --model analytical, or remove 'counting: {convention.name}' "
                                               f"from the arch for the cycle model with accelsim's own counting"))

    @staticmethod
    def layer_cycles(arch, layer, nest, counts) -> tuple[int, dict]:
        stats = simulate_cycles(arch, layer.run_einsum, nest, {l.name: l.output_words for l in counts.levels})
        return stats.cycles, stats.as_extra()

    @staticmethod
    def sparse_layer_cycles(arch, layer, nest, counts, result) -> tuple[int, dict]:
        """A sparse layer's cycles: the walk with the sparse pass's traffic and the busiest PE's
        compute per step (sparse_walk.py); `result`: the pass's SparseResult."""
        from .sparse_walk import simulate_sparse_cycles
        stats = simulate_sparse_cycles(arch, layer, nest, counts, result)
        return stats.cycles, stats.as_extra()


def _walk_totals(ev, einsum):
    """(cycles, streams, MAC cycles, stalls per memory level, words per charge, words per flow) of one walk."""
    ch_total = np.zeros(len(ev.ch_stream), dtype=np.int64)
    fl_total = np.zeros(len(ev.fl_level), dtype=np.int64)
    stall = np.zeros(len(ev.memory_levels), dtype=np.int64)
    cycles, streams, compute = _walk(ev, ch_total, fl_total, stall, einsum)
    return cycles, streams, compute, stall, ch_total, fl_total


def _walk(ev, ch_total, fl_total, stall, einsum) -> tuple[int, int, int]:
    """Walk every tile step (tile_events: begin, steps in chunks, end); (cycles, systolic streams,
    the busiest MAC's cycles).
    A walk estimated at more than a few seconds logs its progress (logger accelsim.cycle; the CLI
    shows it on stderr)."""
    rt = ragged_tables(ev)
    st = walk_state(ev, rt)
    cycles = walk_begin(ev.ev_limit, ev.ev_full, ev.ev_mult, ev.ev_first, ev.ev_receiver, ev.ev_kept, ev.ev_class,
                        ev.out_irrelevant, ev.ch_stream, ev.ch_level, ev.ch_port, ev.ch_minus_first, ev.ch_drain,
                        ev.ch_scale, ev.receiver_db, ev.bandwidth, ev.port_block, ch_total, stall, rt, st)
    n, units = ev.n_steps, walk_units(ev)
    long_walk = units > PROGRESS_AFTER_S * WALK_UNITS_PER_S
    chunk = max(1, n * int(WALK_UNITS_PER_S) // max(1, units)) if long_walk else n  # about a second each
    done, shown = 0, time.monotonic()
    while done < n:
        last = min(n, done + chunk)
        cycles += walk_steps(done, last, n, ev.step_bound, np.int64(ev.compute), np.int64(ev.skew), ev.stream_loop,
                             ev.out_irrelevant,
                             ev.ev_limit, ev.ev_full, ev.ev_mult, ev.ev_first, ev.ev_receiver, ev.ev_kept,
                             ev.ev_class, ev.ch_stream, ev.ch_level, ev.ch_port, ev.ch_minus_first, ev.ch_drain,
                             ev.ch_scale, ev.fl_level, ev.fl_port, ev.fl_words, ev.fl_first, ev.fl_scale,
                             ev.fl_unit, ev.fl_box, ev.receiver_db, ev.bandwidth, ev.port_block,
                             ch_total, fl_total, stall, rt, st)
        done = last
        if long_walk and (time.monotonic() - shown > 1.0 or done == n):
            shown = time.monotonic()
            LOG.info("cycle model, %s: %s of %s tile steps (%.0f %%)", einsum.render(), f"{done:,}", f"{n:,}",
                     100.0 * done / n)
    cycles += walk_end(ev.ev_mult, ev.ev_receiver, ev.ch_stream, ev.ch_level, ev.ch_port,
                       ev.ch_drain, ev.ch_scale, ev.bandwidth, ev.port_block, ch_total, stall, rt, st)
    return int(cycles), int(st.stream[1]), int(st.stream[2])
