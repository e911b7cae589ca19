"""Tile events: a loop nest lowered to flat int64 arrays, and the kernel that walks them.

The *steps* are the temporal loops above the innermost memory level, walked as an odometer
(innermost advancing first). One step computes `compute` MAC cycles (the temporal loops at
and below the innermost memory). Between steps, tiles move. Everything the walk needs is
precomputed here so that the kernel does integer table look-ups only:

stream   one tile that moves with the step loops above it: a level's own tile (its fills),
         or the tile a parent serves to its child (the union over the fan-outs that merge
         the tensor, times the fan-outs that do not). `ev_delta[e, k]` is the number of
         words the tile loads when step loop k advances (the loops inside k rewind) and the
         tile keeps moving with the same translation; `ev_class[e, k]` identifies that
         translation; a changed translation reloads the whole tile `ev_full[e]`
         (Timeloop's reset-on-stride-change rule, walked in full, not extrapolated).
charge   words that a stream's event puts on one port (read or write) of one memory level.
         Fills of outputs skip the first touch of each output (no partial sum exists yet);
         drains (partial sums sent up) happen when an output tile leaves and at the end.
flow     words a level moves on a port during every step's compute: the reads (and, for
         outputs, updates) of a level whose child is the MAC array.

See docs/cycle-model.md for the timing rules the kernel applies.
"""
from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import NamedTuple

import numpy as np
from numba import njit

from ..counting.conventions import convention_of
from ..counting.nest import LoweredNest
from ..counting.point_sets import axis_overlap, axis_size
from ..counting.reuse import axis_terms, tile_size
from ..counting.rules import bandwidth_cycles
from ..errors import SpecError
from ..ir.arch import Arch, Memory, Spatial
from ..ir.einsum import Einsum

READ, WRITE = 0, 1  # ports; the bandwidth table has a third column, SHARED
SHARED = 2
KIND_READS, KIND_FILLS, KIND_UPDATES = 0, 1, 2


@dataclass(frozen=True)
class TileEvents:
    """Flat arrays for the walk (walk_begin, walk_steps, walk_end); memory levels are numbered 0.. top-down."""

    memory_levels: tuple[int, ...]  # arch level index of each memory
    roles: tuple[str, ...]
    step_loop: np.ndarray      # flat loop index (into the LoweredNest) of each step loop
    step_bound: np.ndarray
    compute: int               # MAC cycles per step
    skew: int                  # systolic fill/drain cycles per stream
    stream_loop: np.ndarray    # 1 where advancing a step loop starts a new systolic stream
    out_irrelevant: np.ndarray  # 1 where a step loop does not index the outputs
    ev_limit: np.ndarray       # the stream moves when a step loop k < limit advances
    ev_full: np.ndarray        # tile words
    ev_mult: np.ndarray        # copies (fan-outs that do not merge the tensor)
    ev_first: np.ndarray       # output words first touched when the tile is new (0: operands)
    ev_receiver: np.ndarray    # memory level whose tile moves (whose buffering applies)
    ev_delta: np.ndarray       # [stream, step loop] words loaded on a repeated translation
    ev_class: np.ndarray       # [stream, step loop] translation id
    ch_stream: np.ndarray
    ch_level: np.ndarray
    ch_port: np.ndarray        # READ or WRITE
    ch_minus_first: np.ndarray  # 1: subtract first touches (partial-sum fills)
    ch_drain: np.ndarray       # 1: words leave with the old tile (and at the end)
    ch_role: np.ndarray
    ch_kind: np.ndarray        # KIND_READS / KIND_FILLS / KIND_UPDATES
    ch_scale: np.ndarray       # words per element on that port: partial sums may take several
    fl_level: np.ndarray
    fl_port: np.ndarray
    fl_words: np.ndarray       # per step
    fl_first: np.ndarray       # output words first touched in a step whose reduction loops are at 0
    fl_role: np.ndarray
    fl_kind: np.ndarray
    fl_scale: np.ndarray       # words per element (as ch_scale)
    receiver_db: np.ndarray    # 1 if the memory level is double-buffered
    bandwidth: np.ndarray      # float64 [memory level, READ|WRITE|SHARED] words/cycle per instance; inf: unlimited

    @property
    def n_steps(self) -> int:
        return prod(int(b) for b in self.step_bound)


def _i64(values) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def build_tile_events(arch: Arch, einsum: Einsum, nest: LoweredNest, output_words: dict | None = None) -> TileEvents:
    """Precompute every table the kernel needs (Python; microseconds to milliseconds).
    `output_words`: level name → words an output element takes there (LevelCounts.output_words:
    partial sums wider than a word, from the analytical counts); omitted levels take one."""
    outputs = einsum.tensor("outputs")
    if any(len(axis) != 1 for axis in outputs.axes):
        raise SpecError(f"the cycle model needs every output index to be one dimension, got "
                        f"{outputs.render()}; use the analytical model for this layer")
    tables = _Tables(arch, nest, {arch.index(name): w for name, w in (output_words or {}).items()})
    convention = convention_of(arch)
    for r, role in enumerate(nest.roles):
        _tensor_events(tables, arch, einsum, nest, convention, r, role)
    ev, ch, fl, step_loop = tables.ev, tables.ch, tables.fl, tables.step_loop
    memories = tables.memories
    out_irrelevant = _i64([nest.dims[nest.loop_dim[j]] not in outputs.dims for j in step_loop])
    skew = sum(l.x + l.y - 2 for l in arch.levels if isinstance(l, Spatial) and l.interconnect == "systolic")
    stream_loop = _stream_loops(arch, einsum, nest, step_loop)

    def bw(value):
        return float(value) if value else np.inf

    shape = (len(ev["limit"]), len(step_loop))
    return TileEvents(
        tuple(memories), tuple(nest.roles), _i64(step_loop), _i64([nest.loop_bound[j] for j in step_loop]),
        tables.compute, skew, stream_loop, out_irrelevant,
        _i64(ev["limit"]), _i64(ev["full"]), _i64(ev["mult"]), _i64(ev["first"]), _i64(ev["receiver"]),
        np.array(ev["delta"], dtype=np.int64).reshape(shape), np.array(ev["class"], dtype=np.int64).reshape(shape),
        *(_i64(ch[k]) for k in ch), *(_i64(fl[k]) for k in fl),
        _i64([arch.levels[i].double_buffered for i in memories]),
        np.array([[bw(arch.levels[i].read_bw_words), bw(arch.levels[i].write_bw_words),
                   bw(arch.levels[i].shared_bw_words)] for i in memories], dtype=np.float64).reshape(len(memories), 3))


def _stream_loops(arch: Arch, einsum: Einsum, nest: LoweredNest, step_loop) -> np.ndarray:
    """Which step loops start a new systolic stream when they advance. The wavefront fills and
    drains the array once per stream: while the tiles held below the systolic fan-out (the PEs'
    stationary data) stay put, back-to-back steps pipeline through it. A step moves those tiles when
    its advancing loop, or an inner one that rewinds, indexes a held tensor; with nothing held below
    the fan-out every step is a stream of its own."""
    systolic = [i for i, l in enumerate(arch.levels) if isinstance(l, Spatial) and l.interconnect == "systolic"]
    if not systolic:
        return np.ones(len(step_loop), dtype=np.int64)
    held = [role for r, role in enumerate(nest.roles)
            if any(nest.keeps[i, r] for i, l in enumerate(arch.levels) if i > systolic[0] and isinstance(l, Memory))]
    if not held:
        return np.ones(len(step_loop), dtype=np.int64)
    dims = {nest.dims.index(d) for role in held for d in einsum.tensor(role).dims}
    moves = [int(nest.loop_dim[j]) in dims for j in step_loop]
    return _i64([any(moves[k:]) for k in range(len(step_loop))])


class _Tables:
    """The streams, charges and flows of a nest as they are built (columns of TileEvents)."""

    def __init__(self, arch: Arch, nest: LoweredNest, output_words: dict):
        self.nest = nest
        self.output_words = output_words  # arch level index → words per output element
        self.start = [int(s) for s in nest.level_start]
        self.memories = [i for i, l in enumerate(arch.levels) if isinstance(l, Memory)]
        self.mem_no = {lvl: k for k, lvl in enumerate(self.memories)}
        innermost = self.memories[-1]
        self.step_loop = [j for j in range(self.start[innermost]) if not nest.loop_spatial[j]]
        self.compute = prod(int(nest.loop_bound[j]) for j in range(self.start[innermost], nest.n_loops)
                            if not nest.loop_spatial[j])
        self.ev = {k: [] for k in ("limit", "full", "mult", "first", "receiver", "delta", "class")}
        self.ch = {k: [] for k in ("stream", "level", "port", "minus_first", "drain", "role", "kind", "scale")}
        self.fl = {k: [] for k in ("level", "port", "words", "first", "role", "kind", "scale")}

    def loops(self, indices):
        nest = self.nest
        return [(nest.dims[nest.loop_dim[j]], int(nest.loop_bound[j]), int(nest.loop_stride[j])) for j in indices]

    def add_stream(self, axes, tile_indices, flat_limit, mult, first, receiver) -> int:
        limit = sum(1 for j in self.step_loop if j < flat_limit)
        delta, cls = _translation_tables(axes, self.loops(tile_indices), self.loops(self.step_loop[:limit]),
                                         len(self.step_loop))
        for key, value in zip(self.ev, (limit, tile_size(axes, self.loops(tile_indices)), mult, first,
                                        self.mem_no[receiver], delta, cls)):
            self.ev[key].append(value)
        return len(self.ev["limit"]) - 1

    def words_per_element(self, level, r) -> int:
        return self.output_words.get(level, 1) if self.nest.roles[r] == "outputs" else 1

    def add_charge(self, stream, level, port, minus_first, drain, r, kind):
        for key, value in zip(self.ch, (stream, self.mem_no[level], port, minus_first, drain, r, kind,
                                        self.words_per_element(level, r))):
            self.ch[key].append(value)

    def add_flow(self, level, port, words, first, r, kind):
        for key, value in zip(self.fl, (self.mem_no[level], port, words, first, r, kind,
                                        self.words_per_element(level, r))):
            self.fl[key].append(value)


def _tensor_events(tables: _Tables, arch: Arch, einsum: Einsum, nest: LoweredNest, convention, r: int,
                   role: str) -> None:
    """One tensor's streams: each keeping level's own tile (its fills), and what it serves its child
    (a stream when the child's tile moves, or a flow to the MACs during every step)."""
    start, n, loops = tables.start, nest.n_loops, tables.loops
    compute_idx = len(arch.levels) - 1
    innermost = tables.memories[-1]
    axes = einsum.tensor(role).axes
    is_out = role == "outputs"
    keepers = [i for i in tables.memories if nest.keeps[i, r]]
    for i in keepers:
        child = next((c for c in keepers if c > i), compute_idx)
        if i != tables.memories[0]:  # the level's own tile: its fills
            first = tile_size(axes, loops(range(start[i], n))) if is_out else 0
            e = tables.add_stream(axes, range(start[i], n), start[i], 1, first, i)
            tables.add_charge(e, i, WRITE, int(is_out), 0, r, KIND_FILLS)
        merged, separate = [], 1
        for j in range(start[i], start[child]):
            if nest.loop_spatial[j]:
                if convention.merges(arch, einsum, int(nest.loop_level[j]), role, nest.dims[nest.loop_dim[j]]):
                    merged.append(j)
                else:
                    separate *= int(nest.loop_bound[j])
        spatial_below = [j for j in range(start[i], start[child]) if nest.loop_spatial[j]]
        if child == compute_idx:  # streamed to the MACs during every step
            per_step = tables.compute
            if role in arch.compute.operand_latch:
                per_step = _latched_reads(einsum, nest, role, range(start[innermost], n))
            words = per_step * tile_size(axes, loops(merged)) * separate
            if is_out:
                first = tile_size(axes, loops(spatial_below + [j for j in range(start[innermost], n)
                                                               if not nest.loop_spatial[j]]))
                tables.add_flow(i, WRITE, words, 0, r, KIND_UPDATES)
                tables.add_flow(i, READ, words, first, r, KIND_READS)
            else:
                tables.add_flow(i, READ, words, 0, r, KIND_READS)
        else:  # served to the child's tile when it moves
            union = merged + list(range(start[child], n))
            first = tile_size(axes, loops(spatial_below + list(range(start[child], n)))) if is_out else 0
            e = tables.add_stream(axes, union, start[child], separate, first, child)
            tables.add_charge(e, i, READ, int(is_out), 0, r, KIND_READS)
            if is_out:
                tables.add_charge(e, i, WRITE, 0, 1, r, KIND_UPDATES)


def _latched_reads(einsum: Einsum, nest: LoweredNest, role: str, compute_loops) -> int:
    """Reads of a latched operand by one MAC during one step: it changes only when a loop that
    indexes it moves, so the innermost temporal loops that do not index it reuse the latch."""
    dims = einsum.tensor(role).dims
    reads, indexed = 1, False
    for j in reversed(compute_loops):
        if nest.loop_spatial[j]:
            continue
        indexed = indexed or nest.dims[nest.loop_dim[j]] in dims
        if indexed:
            reads *= int(nest.loop_bound[j])
    return reads


def _translation_tables(axes, tile_loops, movers, n_sl) -> tuple[list[int], list[int]]:
    """Per mover k: words loaded when k advances and the movers inside it rewind, and an id
    of that translation (equal ids ⇔ equal translation vectors). Unused entries are 0."""
    terms = [axis_terms(axis, tile_loops) for axis in axes]
    full = prod(axis_size(tt) for tt in terms)
    # How far each axis moves per unit of each mover's index.
    moves = [[sum(t.coef for t in axis if t.dim == dim) * stride for axis in axes] for dim, _, stride in movers]
    delta, cls, ids = [0] * n_sl, [0] * n_sl, {}
    for k in range(len(movers)):
        translation = tuple(moves[k][a] - sum((movers[m][1] - 1) * moves[m][a] for m in range(k + 1, len(movers)))
                            for a in range(len(axes)))
        kept = prod(axis_overlap(tt, s) for tt, s in zip(terms, translation))
        delta[k] = full - kept
        cls[k] = ids.setdefault(translation, len(ids))
    return delta, cls


# ------------------------------------------------------------------------------ the kernel

@njit(cache=True)
def _serialized_transfers(words, bandwidth, stall):
    """Transfers grouped by receiving level, one after another; each takes its slowest level's
    ports (counting/rules.bandwidth_cycles).

    words[receiver, level, port]. Each group's time is charged to its bottleneck level.
    """
    n_mem = words.shape[0]
    total = 0
    for c in range(n_mem):
        worst, who = 0, -1
        for m in range(n_mem):
            t = bandwidth_cycles(words[c, m, READ], words[c, m, WRITE], bandwidth[m, READ], bandwidth[m, WRITE],
                                 bandwidth[m, SHARED])
            if t > worst:
                worst, who = t, m
        if who >= 0:
            stall[who] += worst
            total += worst
    return total


@njit(cache=True)
def _fire_events(carry, idx, ev_limit, ev_full, ev_mult, ev_first, ev_receiver, ev_delta, ev_class,
                 out_irrelevant, has_translation, last_class, ev_words, ev_new):
    """Tile moves caused by step loop `carry` advancing (-1: the first step, all tiles load)."""
    for e in range(ev_limit.shape[0]):
        if carry >= ev_limit[e]:
            ev_words[e] = -1  # no event: this tile did not move
            continue
        if carry < 0:
            delta = ev_full[e]
            has_translation[e] = False
        elif not has_translation[e] or ev_class[e, carry] == last_class[e]:
            delta = ev_delta[e, carry]
            has_translation[e] = True
            last_class[e] = ev_class[e, carry]
        else:  # the stride changed: reload the whole tile
            delta = ev_full[e]
            has_translation[e] = False
        ev_words[e] = delta
        new = ev_first[e]
        if new > 0:
            for k in range(ev_limit[e]):
                if out_irrelevant[k] == 1 and idx[k] != 0:
                    new = 0
                    break
        ev_new[e] = new


@njit(cache=True)
def _place_charges(first_step, ev_words, ev_new, ev_mult, ev_receiver, ch_stream, ch_level, ch_port,
                   ch_minus_first, ch_drain, ch_scale, receiver_db, ch_total, exposed, prefetch, drains):
    for q in range(ch_stream.shape[0]):
        e = ch_stream[q]
        if ev_words[e] < 0:
            continue
        if ch_drain[q] == 1:
            if first_step:
                continue  # nothing to drain before the first tile
            words = ev_words[e] * ev_mult[e]
        else:
            words = ev_words[e] * ev_mult[e]
            if ch_minus_first[q] == 1:
                words -= ev_new[e]
        if words == 0:
            continue
        ch_total[q] += words  # elements; the ports carry words
        words *= ch_scale[q]
        c, m, p = ev_receiver[e], ch_level[q], ch_port[q]
        if receiver_db[c] == 0:
            exposed[c, m, p] += words
        elif ch_drain[q] == 1:
            drains[m, p] += words  # the old tile drains while the new one computes
        else:
            prefetch[c, m, p] += words  # loaded while the previous tile computes


@njit(cache=True, forceinline=True)
def _step_flows(idx, out_irrelevant, fl_level, fl_port, fl_words, fl_first, fl_scale, fl_total, window):
    """The flows of one step's compute onto their ports (first touches skipped while every
    reduction loop is at 0: no partial sum to read yet)."""
    all_zero = True
    for k in range(idx.shape[0]):
        if out_irrelevant[k] == 1 and idx[k] != 0:
            all_zero = False
            break
    for f in range(fl_level.shape[0]):
        words = fl_words[f]
        if all_zero:
            words -= fl_first[f]
        fl_total[f] += words
        window[fl_level[f], fl_port[f]] += words * fl_scale[f]


@njit(cache=True, forceinline=True)
def _advance(idx, step_bound):
    """Step the odometer (innermost loop fastest); returns the loop that advanced."""
    carry = idx.shape[0] - 1
    while idx[carry] == step_bound[carry] - 1:
        idx[carry] = 0
        carry -= 1
    idx[carry] += 1
    return carry


@njit(cache=True, forceinline=True)
def _step_cycles(window, bandwidth, busy, stall):
    """A step lasts its compute (and skew) or its slowest level's traffic on its ports, whichever
    is longer; the excess is charged as a stall to that level."""
    worst, who = busy, -1
    for m in range(window.shape[0]):
        t = bandwidth_cycles(window[m, READ], window[m, WRITE], bandwidth[m, READ], bandwidth[m, WRITE],
                             bandwidth[m, SHARED])
        if t > worst:
            worst, who = t, m
    if who >= 0:
        stall[who] += worst - busy
    return worst


class WalkState(NamedTuple):
    """What the walk carries from step to step (walk_state allocates it)."""

    idx: np.ndarray              # [step loop] the odometer
    has_translation: np.ndarray  # [stream] bool: the stream moved since its last reload
    last_class: np.ndarray       # [stream] the translation of its last move
    ev_words: np.ndarray         # [stream] words the current move loads (−1: it did not move)
    ev_new: np.ndarray           # [stream] output words first touched by it
    exposed: np.ndarray          # [receiver, level, port] transfers before this step's compute
    prefetch: np.ndarray         # [receiver, level, port] the next tiles, loaded during it
    drains: np.ndarray           # [level, port] old output tiles leaving during it
    next_exposed: np.ndarray
    next_drains: np.ndarray
    window: np.ndarray           # [level, port] words on each port during one step
    stream: np.ndarray           # [2]: 1 if the current step starts a systolic stream; streams so far


def walk_state(ev) -> WalkState:
    n_sl, n_ev, n_mem = len(ev.step_bound), len(ev.ev_limit), len(ev.memory_levels)
    i64 = np.int64
    return WalkState(np.zeros(n_sl, i64), np.zeros(n_ev, np.bool_), np.zeros(n_ev, i64), np.zeros(n_ev, i64),
                     np.zeros(n_ev, i64), np.zeros((n_mem, n_mem, 2), i64), np.zeros((n_mem, n_mem, 2), i64),
                     np.zeros((n_mem, 2), i64), np.zeros((n_mem, n_mem, 2), i64), np.zeros((n_mem, 2), i64),
                     np.zeros((n_mem, 2), i64), np.array([1, 0], i64))


@njit(cache=True)
def walk_begin(ev_limit, ev_full, ev_mult, ev_first, ev_receiver, ev_delta, ev_class, out_irrelevant,
               ch_stream, ch_level, ch_port, ch_minus_first, ch_drain, ch_scale, receiver_db, bandwidth,
               ch_total, stall, st):
    """The first tiles: every stream loads; those of double-buffered levels have nothing to hide
    behind (the prologue). Returns its cycles."""
    _fire_events(-1, st.idx, ev_limit, ev_full, ev_mult, ev_first, ev_receiver, ev_delta, ev_class,
                 out_irrelevant, st.has_translation, st.last_class, st.ev_words, st.ev_new)
    _place_charges(True, st.ev_words, st.ev_new, ev_mult, ev_receiver, ch_stream, ch_level, ch_port,
                   ch_minus_first, ch_drain, ch_scale, receiver_db, ch_total, st.exposed, st.prefetch, st.drains)
    cycles = _serialized_transfers(st.prefetch, bandwidth, stall)
    st.prefetch[:, :, :] = 0
    return cycles


@njit(cache=True)
def walk_steps(first, last, n_steps, step_bound, compute, skew, stream_loop, out_irrelevant,
               ev_limit, ev_full, ev_mult, ev_first, ev_receiver, ev_delta, ev_class,
               ch_stream, ch_level, ch_port, ch_minus_first, ch_drain, ch_scale,
               fl_level, fl_port, fl_words, fl_first, fl_scale, receiver_db, bandwidth,
               ch_total, fl_total, stall, st):
    """Steps first … last − 1 of n_steps (`compute` cycles each, and `skew` more for a step that starts
    a systolic stream); returns their cycles. The state carries over, so consecutive ranges walk as
    one; st.stream[1] counts the streams."""
    n_mem = bandwidth.shape[0]
    cycles = 0
    for s in range(first, last):
        busy = compute + skew * st.stream[0]
        st.stream[1] += st.stream[0]
        cycles += _serialized_transfers(st.exposed, bandwidth, stall)
        st.window[:, :] = st.drains
        _step_flows(st.idx, out_irrelevant, fl_level, fl_port, fl_words, fl_first, fl_scale, fl_total, st.window)
        # The next step's tile moves: its double-buffered fills overlap this step.
        st.next_exposed[:, :, :] = 0
        st.next_drains[:, :] = 0
        if s + 1 < n_steps:
            carry = _advance(st.idx, step_bound)
            st.stream[0] = stream_loop[carry]
            _fire_events(carry, st.idx, ev_limit, ev_full, ev_mult, ev_first, ev_receiver, ev_delta, ev_class,
                         out_irrelevant, st.has_translation, st.last_class, st.ev_words, st.ev_new)
            _place_charges(False, st.ev_words, st.ev_new, ev_mult, ev_receiver, ch_stream, ch_level, ch_port,
                           ch_minus_first, ch_drain, ch_scale, receiver_db, ch_total, st.next_exposed, st.prefetch,
                           st.next_drains)
            for c in range(n_mem):
                for m in range(n_mem):
                    for p in range(2):
                        st.window[m, p] += st.prefetch[c, m, p]
                        st.prefetch[c, m, p] = 0
        cycles += _step_cycles(st.window, bandwidth, busy, stall)
        st.exposed[:, :, :] = st.next_exposed
        st.drains[:, :] = st.next_drains
    return cycles


@njit(cache=True)
def walk_end(ev_full, ev_mult, ev_receiver, ch_stream, ch_level, ch_port, ch_drain, ch_scale, bandwidth, ch_total,
             stall, st):
    """The epilogue: the last output tiles drain to their parents. Returns its cycles."""
    for q in range(ch_stream.shape[0]):
        if ch_drain[q] == 1:
            e = ch_stream[q]
            words = ev_full[e] * ev_mult[e]
            ch_total[q] += words
            st.exposed[ev_receiver[e], ch_level[q], ch_port[q]] += words * ch_scale[q]
    return _serialized_transfers(st.exposed, bandwidth, stall)
