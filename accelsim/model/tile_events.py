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
         (Timeloop's reset-on-stride-change rule, walked in full, not extrapolated); a step of
         the innermost mover keeps its translation (its reuse class), also after a ragged last
         tile ran it once.
charge   words that a stream's event puts on one port (read or write) of one memory level.
         Fills of outputs skip the first touch of each output (no partial sum exists yet);
         drains (partial sums sent up) happen when an output tile leaves and at the end.
flow     words a level moves on a port during every step's compute: the reads (and, for
         outputs, updates) of a level whose child is the MAC array.

Ragged nests (a dim's loops cover more than it: ceil-division tiles, docs/notes/ragged-tiles.md):
the odometer skips the steps whose offset reaches a dim's size, and every count on a ragged dim
is taken at the step's offset, as counting/ragged_kernel.count_below of the loops involved (the
full product of their bounds when the tile is whole, less for the last tile). A table entry is
then its part over the other dims (`ev_full`, `fl_words`, `compute`, …) times, per ragged dim r
the tensor indexes, count_below(D_r − offset_r, the loops marked in its mask). A tile on a ragged
dim moves to disjoint points, so a move keeps nothing of it unless its offset there stays put.
Fan-outs that copy a tensor over a ragged dim are counted the same way (their positions inside the
dim). A sliding-window axis over ragged dims (s·p + r) is counted point by point at each move
(`_window_points`: its points and those the old tile held).

See docs/cycle-model.md for the timing rules the kernel applies.
"""
from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import NamedTuple

import numpy as np

from ..counting.conventions import block_rounding_of, convention_of
from ..counting.nest import LoweredNest
from ..counting.point_sets import axis_overlap
from ..counting.ragged_kernel import count_below
from ..counting.reuse import axis_terms, tile_size
from ..counting.rules import bandwidth_cycles, copies_port_words, step_port_words
from ..errors import SpecError
from ..ir.arch import Arch, Memory, Spatial
from ..ir.einsum import Einsum
from ..jit import helper, kernel

READ, WRITE = 0, 1  # ports; the bandwidth table has a third column, SHARED
SHARED = 2
KIND_READS, KIND_FILLS, KIND_UPDATES = 0, 1, 2
RG_TILE, RG_COPIES, RG_WINDOW = 1, 2, 3  # ev_rg: the stream's tile is on the ragged dim / only its copies
#                                          are (a fan-out) / the dim is in a window axis (wa_*)


@dataclass(frozen=True)
class TileEvents:
    """Flat arrays for the walk (walk_begin, walk_steps, walk_end); memory levels are numbered 0.. top-down.
    On a ragged dim r (index into rg_dim) a count is its entry times count_below(rg_size[r] − the
    offset on that dim, the loops of the nest marked in the entry's mask[r]) (module docstring)."""

    memory_levels: tuple[int, ...]  # arch level index of each memory
    roles: tuple[str, ...]
    step_loop: np.ndarray      # flat loop index (into the LoweredNest) of each step loop
    step_bound: np.ndarray
    compute: int               # MAC cycles per step (over the dims that are not ragged)
    skew: int                  # systolic fill/drain cycles per stream
    stream_loop: np.ndarray    # 1 where a step loop moves the tiles held below a systolic fan-out (a new stream)
    out_irrelevant: np.ndarray  # 1 where a step loop does not index the outputs
    ev_limit: np.ndarray       # the stream moves when a step loop k < limit advances
    ev_full: np.ndarray        # tile words (over the dims that are not ragged)
    ev_mult: np.ndarray        # copies (fan-outs that do not merge the tensor)
    ev_first: np.ndarray       # output words first touched when the tile is new (0: operands)
    ev_receiver: np.ndarray    # memory level whose tile moves (whose buffering applies)
    ev_kept: np.ndarray        # [stream, step loop] words a repeated translation keeps (dims not ragged)
    ev_class: np.ndarray       # [stream, step loop] translation id (on the axes of dims not ragged)
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
    fl_unit: np.ndarray        # elements a MAC cycle's transfer moves (the merged group × copies)
    fl_box: np.ndarray         # distinct outputs in it (its first touch reads unit − box; operands 0)
    receiver_db: np.ndarray    # 1 if the memory level is double-buffered
    bandwidth: np.ndarray      # float64 [memory level, READ|WRITE|SHARED] words/cycle per instance; inf: unlimited
    port_block: np.ndarray     # [memory level] words a port access moves: its block under per-transfer block
    #                            rounding (each transfer whole blocks, docs/energy.md#port-time), else 1
    # Ragged dims (none on a dense nest: every mask empty, every count its entry).
    n_steps: int               # steps the walk visits: those whose offset is inside every dim
    rg_dim: np.ndarray         # [r] dim index (into LoweredNest.dims) of each ragged dim
    rg_size: np.ndarray        # [r] its size
    sl_rg: np.ndarray          # [step loop] r of its dim, −1 if not ragged
    sl_stride: np.ndarray      # [step loop] its stride on its dim
    lp_dim: np.ndarray         # the nest's loop_dim, loop_bound, loop_stride (count_below's arguments)
    lp_bound: np.ndarray
    lp_stride: np.ndarray
    compute_mask: np.ndarray   # [r, loop] the temporal loops below the innermost memory on r's dim
    ev_rg: np.ndarray          # [stream, r] RG_TILE if the stream's tensor indexes r's dim, RG_COPIES if
    #                            only fan-outs that copy it lie on that dim, else 0
    ev_tile_mask: np.ndarray   # [stream, r, loop] the tile's loops on r's dim and the copying fan-outs there
    ev_first_mask: np.ndarray  # [stream, r, loop] the first-touched set's loops on r's dim (outputs)
    fl_rg: np.ndarray          # [flow, r] 1 if the flow's count depends on r's dim
    fl_mask: np.ndarray        # [flow, r, loop]
    fl_first_mask: np.ndarray  # [flow, r, loop]
    compute_rg: int            # Π of the MAC loops' bounds on ragged dims: a whole step is compute × this
    # Sliding-window axes over ragged dims (s·p + r with p or r ragged): counted point by point per move.
    wa_start: np.ndarray       # [stream] its window axes are wa_start[e] … wa_start[e + 1] − 1
    wa_rg: np.ndarray          # [axis, term] r of the term's dim (−1: no term)
    wa_coef: np.ndarray        # [axis, term] the term's coefficient on the axis
    wa_step: np.ndarray        # [axis, term] coefficient × the lowest stride of the tile's loops on the dim
    wa_span: int               # the largest span of one window axis of a whole tile (scratch size)
    # Fan-outs that copy a tensor over a ragged dim it indexes (each position's copy its own size).
    ev_part_mask: np.ndarray   # [stream, r, loop] the tile's loops on r's dim without those fan-outs (a copy's)
    oc_start: np.ndarray       # [stream] its fan-outs are oc_start[e] … oc_start[e + 1] − 1
    oc_rg: np.ndarray          # [fan-out] r of its dim
    oc_bound: np.ndarray       # [fan-out] its positions
    oc_stride: np.ndarray      # [fan-out] its stride on its dim
    # A partial-sum read's transfers that first touch their box, in a step whose reduction loops are at 0.
    fl_first_tr: np.ndarray    # [flow] the busiest MAC's tuples of its loops on output dims (dims not ragged)
    fl_first_tr_mask: np.ndarray  # [flow, r, loop] those loops on ragged dim r
    fl_tr: np.ndarray          # [flow] its transfers in a step: the busiest MAC's tuples of its loops (a latched
    fl_tr_mask: np.ndarray     # operand's: down to its address), over dims not ragged; [flow, r, loop] on r


def _i64(values) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def build_tile_events(arch: Arch, einsum: Einsum, nest: LoweredNest, output_words: dict | None = None,
                      ragged_dims=None) -> TileEvents:
    """Precompute every table the kernel needs (Python; microseconds to milliseconds).
    `output_words`: level name → words an output element takes there (LevelCounts.output_words:
    partial sums wider than a word, from the analytical counts); omitted levels take one.
    `ragged_dims`: the dims counted per step with count_below (default: those whose loops cover
    more than the dim); a test may name dense dims too, which must change nothing."""
    outputs = einsum.tensor("outputs")
    if any(len(axis) != 1 for axis in outputs.axes):
        raise SpecError(f"the cycle model needs every output index to be one dimension, got "
                        f"{outputs.render()}; use the analytical model for this layer")
    sizes = [int(einsum.bound[d]) for d in nest.dims]
    if ragged_dims is None:
        covered = [1] * len(sizes)
        for j in range(nest.n_loops):
            covered[int(nest.loop_dim[j])] *= int(nest.loop_bound[j])
        ragged_dims = [d for d, c, size in zip(nest.dims, covered, sizes) if c != size]
    ragged_dims = list(ragged_dims)
    for tensor in einsum.tensors:  # a window over a ragged dim: its other dims are counted per step too
        for axis in tensor.axes:
            on = [t.dim for t in axis if einsum.bound[t.dim] > 1]
            if len(on) > 1 and any(d in ragged_dims for d in on):
                ragged_dims += [d for d in on if d not in ragged_dims]
    rg_dim = [nest.dims.index(d) for d in ragged_dims]
    tables = _Tables(arch, nest, {arch.index(name): w for name, w in (output_words or {}).items()}, rg_dim, sizes)
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

    n_sl, n_loops, n_rg = len(step_loop), nest.n_loops, len(rg_dim)
    shape = (len(ev["limit"]), n_sl)
    rg_of = {d: r for r, d in enumerate(rg_dim)}
    steps_member = np.zeros(n_loops, dtype=np.bool_)
    for j in step_loop:
        steps_member[j] = True
    n_steps = 1
    for d, size in enumerate(sizes):
        n_steps *= int(count_below(nest.loop_dim, nest.loop_bound, nest.loop_stride, n_loops, steps_member, d, size))

    def masks(rows, kind):
        return np.array(rows, dtype=kind).reshape(len(rows), n_rg, n_loops) if kind == np.bool_ else \
            np.array(rows, dtype=kind).reshape(len(rows), n_rg)

    return TileEvents(
        tuple(memories), tuple(nest.roles), _i64(step_loop), _i64([nest.loop_bound[j] for j in step_loop]),
        tables.compute, skew, stream_loop, out_irrelevant,
        _i64(ev["limit"]), _i64(ev["full"]), _i64(ev["mult"]), _i64(ev["first"]), _i64(ev["receiver"]),
        np.array(ev["kept"], dtype=np.int64).reshape(shape), np.array(ev["class"], dtype=np.int64).reshape(shape),
        *(_i64(ch[k]) for k in ch), *(_i64(fl[k]) for k in fl if k not in tables.RAGGED_FLOW),
        _i64([arch.levels[i].double_buffered for i in memories]),
        np.array([[bw(arch.levels[i].read_bw_words), bw(arch.levels[i].write_bw_words),
                   bw(arch.levels[i].shared_bw_words)] for i in memories], dtype=np.float64).reshape(len(memories), 3),
        _i64([arch.levels[i].block_words if block_rounding_of(arch, arch.levels[i]) == "transfer" else 1
              for i in memories]),
        n_steps, _i64(rg_dim), _i64([sizes[d] for d in rg_dim]),
        _i64([rg_of.get(int(nest.loop_dim[j]), -1) for j in step_loop]), _i64([nest.loop_stride[j] for j in step_loop]),
        nest.loop_dim.astype(np.int64), nest.loop_bound.astype(np.int64), nest.loop_stride.astype(np.int64),
        tables.mask(range(tables.start[memories[-1]], n_loops), rg_dim, temporal_only=True).reshape(n_rg, n_loops),
        masks(ev["rg"], np.int64), masks(ev["tile_mask"], np.bool_), masks(ev["first_mask"], np.bool_),
        masks(fl["rg"], np.int64), masks(fl["mask"], np.bool_), masks(fl["first_mask"], np.bool_),
        prod(int(nest.loop_bound[j]) for j in range(tables.start[memories[-1]], n_loops)
             if not nest.loop_spatial[j] and tables.ragged(j)),
        *tables.window_tables(), masks(ev["part_mask"], np.bool_), *tables.own_copy_tables(),
        _i64(fl["first_tr"]), masks(fl["first_tr_mask"], np.bool_), _i64(fl["tr"]), masks(fl["tr_mask"], np.bool_))


def _stream_loops(arch: Arch, einsum: Einsum, nest: LoweredNest, step_loop) -> np.ndarray:
    """Which step loops move the tiles held below the systolic fan-out. The wavefront fills and
    drains the array once per stream: while those tiles (the PEs' stationary data) stay put,
    back-to-back steps pipeline through it. A step starts a stream when its advancing loop, or an
    inner one that rewinds from a digit other than 0, is marked (walk_steps: on a ragged nest a loop
    cut to one iteration by a last tile rewinds from 0 and moves nothing); with nothing held below
    the fan-out every loop is marked: every step is a stream of its own."""
    systolic = [i for i, l in enumerate(arch.levels) if isinstance(l, Spatial) and l.interconnect == "systolic"]
    if not systolic:
        return np.ones(len(step_loop), dtype=np.int64)
    held = [role for r, role in enumerate(nest.roles)
            if any(nest.keeps[i, r] for i, l in enumerate(arch.levels) if i > systolic[0] and isinstance(l, Memory))]
    if not held:
        return np.ones(len(step_loop), dtype=np.int64)
    dims = {nest.dims.index(d) for role in held for d in einsum.tensor(role).dims}
    return _i64([int(nest.loop_dim[j]) in dims for j in step_loop])


class _Tables:
    """The streams, charges and flows of a nest as they are built (columns of TileEvents)."""

    RAGGED_FLOW = ("rg", "mask", "first_mask", "first_tr", "first_tr_mask", "tr", "tr_mask")  # columns kept apart

    def __init__(self, arch: Arch, nest: LoweredNest, output_words: dict, rg_dim: list[int], sizes: list[int]):
        self.nest = nest
        self.output_words = output_words  # arch level index → words per output element
        self.rg_dim, self.sizes = rg_dim, sizes
        self.start = [int(s) for s in nest.level_start]
        self.memories = [i for i, l in enumerate(arch.levels) if isinstance(l, Memory)]
        self.mem_no = {lvl: k for k, lvl in enumerate(self.memories)}
        innermost = self.memories[-1]
        self.step_loop = [j for j in range(self.start[innermost]) if not nest.loop_spatial[j]]
        self.compute = self.dense_product(j for j in range(self.start[innermost], nest.n_loops)
                                          if not nest.loop_spatial[j])
        self.ev = {k: [] for k in ("limit", "full", "mult", "first", "receiver", "kept", "class",
                                   "rg", "tile_mask", "first_mask", "part_mask")}
        self.ch = {k: [] for k in ("stream", "level", "port", "minus_first", "drain", "role", "kind", "scale")}
        self.fl = {k: [] for k in ("level", "port", "words", "first", "role", "kind", "scale", "unit", "box",
                                   *self.RAGGED_FLOW)}
        self.wa, self.wa_start, self.wa_spans = [], [], []  # window axes: rows of (r, coef, step) per axis
        self.oc, self.oc_start = [], []  # fan-outs copying a stream's tile over its own ragged dims: (r, bound, stride)

    def loops(self, indices):
        nest = self.nest
        return [(nest.dims[nest.loop_dim[j]], int(nest.loop_bound[j]), int(nest.loop_stride[j])) for j in indices]

    def ragged(self, j) -> bool:
        return int(self.nest.loop_dim[j]) in self.rg_dim

    def dense_product(self, indices) -> int:
        """Π bounds of the loops on dims that are not ragged (the ragged ones: count_below per step)."""
        return prod(int(self.nest.loop_bound[j]) for j in indices if not self.ragged(j))

    def mask(self, indices, dims, temporal_only=False) -> np.ndarray:
        """[r, loop]: the loops among `indices` on ragged dim r, for the r whose dim is in `dims`."""
        nest = self.nest
        out = np.zeros((len(self.rg_dim), nest.n_loops), dtype=np.bool_)
        for j in indices:
            d = int(nest.loop_dim[j])
            if d in self.rg_dim and d in dims and not (temporal_only and nest.loop_spatial[j]):
                out[self.rg_dim.index(d), j] = True
        return out

    def split_axes(self, role, axes, windows=None):
        """(the axes on dims that are not ragged, the ragged dims that are axes of their own). A
        window over ragged dims (s·p + r: terms on dims of size 1 are dropped, being 0 everywhere, so
        a global pool's p + r is r) goes to `windows` as ((dim, coef), …): counted point by point at
        each move. Every dim of a window must be in no other index of the tensor."""
        dense, dims, seen = [], [], []
        for axis in axes:
            on = [self.nest.dims.index(t.dim) for t in axis]
            if len(axis) > 1 and any(d in self.rg_dim for d in on):  # a term on a dim of size 1 is 0
                axis = tuple(t for t, d in zip(axis, on) if self.sizes[d] > 1)  # (a global pool's p + r)
                on = [self.nest.dims.index(t.dim) for t in axis]
            if not any(d in self.rg_dim for d in on):
                dense.append(axis)
                continue
            if any(d in seen for d in on) or len(set(on)) != len(on):
                raise SpecError(f"the cycle model walks a ragged dim of a tensor in one index of it; {role} index "
                                f"{self.render(axis)} shares dim(s) with another index or repeats one; give "
                                f"that dim factors that multiply to its size, or use --model analytical")
            seen += on
            if len(axis) == 1:
                dims.append(on[0])
            elif windows is not None:
                windows.append(tuple((d, t.coef) for t, d in zip(axis, on)))
        return dense, dims

    def refuse_returning_copies(self, role, copy_dims, limit):
        """Copies over a ragged dim the tensor does not index: a position past the dim holds no copy,
        so the walk takes them only where the stream's offset on the dim never goes back (its loops
        among the movers lie outside every other mover): no position past the dim comes back inside
        it, which an idle PE keeping its data would not reload."""
        movers = [j for j in self.step_loop[:limit] if self.nest.loop_bound[j] > 1]
        for d in copy_dims:
            if prod(int(b) for b, dim in zip(self.nest.loop_bound, self.nest.loop_dim) if dim == d) == self.sizes[d]:
                continue  # a dense dim (named ragged by a test): no position is ever past it
            on = [q for q, j in enumerate(movers) if int(self.nest.loop_dim[j]) == d]
            if on and any(int(self.nest.loop_dim[j]) != d for j in movers[:max(on)]):
                raise SpecError(f"the cycle model walks copies over a ragged dim where the copies' positions "
                                f"past it never come back inside it; {role} are copied over "
                                f"'{self.nest.dims[d]}' with a loop on '{self.nest.dims[d]}' inside a loop of "
                                f"another dim; give that dim factors that multiply to its size, or use "
                                f"--model analytical")

    @staticmethod
    def render(axis) -> str:
        return '+'.join(t.dim if t.coef == 1 else f'{t.coef}*{t.dim}' for t in axis)

    def contiguous_step(self, role, indices, d) -> int:
        """The lowest stride of the loops among `indices` on dim d (1 if none), after checking that
        their offsets are one run of it (each stride the one below times its bound): a loop on d
        outside the set but between two of its loops leaves holes, which the walk does not count."""
        loops = sorted((int(self.nest.loop_stride[j]), int(self.nest.loop_bound[j])) for j in indices
                       if int(self.nest.loop_dim[j]) == d and self.nest.loop_bound[j] > 1)
        for (stride, bound), (above, _) in zip(loops, loops[1:]):
            if above != stride * bound:
                raise SpecError(f"the cycle model walks a sliding window over a ragged dim where each tile's "
                                f"offsets on it are one run; {role}'s tile on '{self.nest.dims[d]}' has a loop "
                                f"of another level between two of its own (holes); give that dim factors that "
                                f"multiply to its size, or use --model analytical")
        return loops[0][0] if loops else 1

    def window_tables(self):
        """wa_start, wa_rg, wa_coef, wa_step (padded to the most terms) and the scratch size."""
        rows = self.wa
        terms = max((len(row) for row in rows), default=1)

        def table(q):
            return np.array([[term[q] for term in row] + [-1 if q == 0 else 0] * (terms - len(row)) for row in rows],
                            dtype=np.int64).reshape(len(rows), terms)
        return (_i64(self.wa_start + [len(rows)]), table(0), table(1), table(2),
                max((self.wa_spans or [1])))

    def own_copy_tables(self):
        """oc_start, oc_rg, oc_bound, oc_stride."""
        return (_i64(self.oc_start + [len(self.oc)]), *(_i64([row[q] for row in self.oc]) for q in range(3)))

    def add_stream(self, role, axes, tile_indices, flat_limit, mult, first_indices, receiver, copy_loops=()) -> int:
        """A moving tile: `first_indices` (outputs) the loops of the set first touched with it;
        `copy_loops` the fan-outs on ragged dims that do not merge the tensor (a copy of the tile per
        position inside the dim: counted at each move, not in `mult`; on a dim the tensor indexes,
        each position's copy is counted apart too, for its port's whole blocks: oc_*)."""
        windows = []
        dense_axes, dims = self.split_axes(role, axes, windows)
        self.wa_start.append(len(self.wa))
        window_dims = {d for window in windows for d, _ in window}
        for window in windows:
            row, span = [], 1
            for d, coef in window:
                step = coef * self.contiguous_step(role, tile_indices, d)
                row.append((self.rg_dim.index(d), coef, step))
                span += step * (prod(int(self.nest.loop_bound[j]) for j in tile_indices
                                     if int(self.nest.loop_dim[j]) == d) - 1)
            self.wa.append(row)
            self.wa_spans.append(span)
        copied = {int(self.nest.loop_dim[j]) for j in copy_loops}
        if any(int(self.nest.loop_dim[j]) in window_dims for j in copy_loops):
            raise SpecError(f"the cycle model walks copies over a ragged dim of a tensor's own index only; {role} "
                            f"are copied over a dim of their sliding window; give that dim factors that multiply "
                            f"to its size, or use --model analytical")
        limit = sum(1 for j in self.step_loop if j < flat_limit)
        while limit > 0 and self.nest.loop_bound[self.step_loop[limit - 1]] == 1:
            limit -= 1  # loops of one iteration never move it: limit − 1 is its innermost mover
        self.refuse_returning_copies(role, copied - set(dims), limit)
        kept, cls = _translation_tables(dense_axes, self.loops(tile_indices), self.loops(self.step_loop[:limit]),
                                        len(self.step_loop))
        first = 0 if first_indices is None else tile_size(dense_axes, self.loops(first_indices))
        first_mask = self.mask(first_indices or (), dims)
        kinds = [RG_TILE if d in dims else RG_WINDOW if d in window_dims else RG_COPIES if d in copied else 0
                 for d in self.rg_dim]
        tile_mask = self.mask(tile_indices, set(dims) | window_dims) | self.mask(copy_loops, copied)
        self.oc_start.append(len(self.oc))
        self.oc += [(self.rg_dim.index(int(self.nest.loop_dim[j])), int(self.nest.loop_bound[j]),
                     int(self.nest.loop_stride[j])) for j in copy_loops if int(self.nest.loop_dim[j]) in dims]
        for key, value in zip(self.ev, (limit, tile_size(dense_axes, self.loops(tile_indices)), mult, first,
                                        self.mem_no[receiver], kept, cls, kinds, tile_mask, first_mask,
                                        self.mask(tile_indices, dims))):
            self.ev[key].append(value)
        return len(self.ev["limit"]) - 1

    def words_per_element(self, level, r) -> int:
        return self.output_words.get(level, 1) if self.nest.roles[r] == "outputs" else 1

    def add_charge(self, stream, level, port, minus_first, drain, r, kind):
        for key, value in zip(self.ch, (stream, self.mem_no[level], port, minus_first, drain, r, kind,
                                        self.words_per_element(level, r))):
            self.ch[key].append(value)

    def add_flow(self, level, port, words, first, r, kind, dims, indices, first_indices, unit, box,
                 transfer_loops, first_loops=None):
        """A per-step flow: `words` over the dims that are not ragged; on ragged dim r, × count_below of
        the loops among `indices` on it (for r's dim in `dims`); the first touches likewise. `unit`:
        elements per MAC cycle's transfer, `box`: distinct outputs in it (step_port_words);
        `transfer_loops`: the MAC loops whose tuples are its transfers (one a MAC cycle, a latched
        operand's when its address moves); `first_loops` (partial-sum reads): those whose tuples are the
        transfers that first touch their box."""
        for key, value in zip(self.fl, (self.mem_no[level], port, words, first, r, kind,
                                        self.words_per_element(level, r), unit, box, [int(d in dims) for d in self.rg_dim],
                                        self.mask(indices, dims), self.mask(first_indices, dims),
                                        0 if first_loops is None else self.dense_product(first_loops),
                                        self.mask(first_loops or (), dims), self.dense_product(transfer_loops),
                                        self.mask(transfer_loops, dims))):
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
    outputs_dims = einsum.tensor("outputs").dims
    keepers = [i for i in tables.memories if nest.keeps[i, r]]
    windows = []
    dense_axes, rg_dims = tables.split_axes(role, axes, windows)
    window_dims = {d for window in windows for d, _ in window}
    all_dims = set(range(len(nest.dims)))
    for i in keepers:
        child = next((c for c in keepers if c > i), compute_idx)
        if i != tables.memories[0]:  # the level's own tile: its fills
            e = tables.add_stream(role, axes, range(start[i], n), start[i], 1, range(start[i], n) if is_out else None, i)
            tables.add_charge(e, i, WRITE, int(is_out), 0, r, KIND_FILLS)
        merged, separate = [], []
        for j in range(start[i], start[child]):
            if nest.loop_spatial[j]:
                if convention.merges(arch, einsum, int(nest.loop_level[j]), role, nest.dims[nest.loop_dim[j]]):
                    merged.append(j)
                else:
                    separate.append(j)
        # Copies over a ragged dim differ in number from step to step (the last tile has fewer
        # positions inside the dim): counted at each step's offset, like a tile on that dim.
        copy_rg = [j for j in separate if tables.ragged(j)]
        copies = prod(int(nest.loop_bound[j]) for j in separate if not tables.ragged(j))
        spatial_below = [j for j in range(start[i], start[child]) if nest.loop_spatial[j]]
        if child == compute_idx:  # streamed to the MACs during every step
            compute_loops = [j for j in range(start[innermost], n) if not nest.loop_spatial[j]]
            if role in arch.compute.operand_latch:
                compute_loops = _latched_loops(einsum, nest, role, compute_loops)
            # The busiest MAC's reads in a step × the merged group: on a ragged dim the tensor indexes,
            # one count over both (the MACs at the edge do fewer steps); on the others, the MAC's steps.
            def whole(spatial):  # elements of a MAC cycle's transfer over these fan-outs, ragged dims (and
                return tile_size(axes, loops(spatial))  # sliding windows over them) whole
            # one transfer a MAC cycle, every copy's: all the separate fan-outs' positions (a step with
            # fewer copies inside a ragged dim: a cut transfer)
            unit = whole(merged) * prod(int(nest.loop_bound[j]) for j in separate)
            words = tables.dense_product(compute_loops) * tile_size(dense_axes, loops(merged)) * copies
            for window in windows:  # one dim of a window merged: per MAC step, a run of points on it
                on = {d for d, _ in window for j in merged if int(nest.loop_dim[j]) == d and nest.loop_bound[j] > 1}
                if len(on) > 1:
                    raise SpecError(f"the cycle model walks a sliding window over a ragged dim read by the MACs "
                                    f"with fan-outs merging it on one of its dims; {role} are merged over "
                                    f"{', '.join(sorted(nest.dims[d] for d in on))}; give those dims factors that "
                                    f"multiply to their sizes, or use --model analytical")
            indices = compute_loops + [j for j in merged if int(nest.loop_dim[j]) in rg_dims
                                       or int(nest.loop_dim[j]) in window_dims] + copy_rg
            if is_out:
                touched = spatial_below + compute_loops
                first = tile_size(dense_axes, loops(touched))
                box = whole(spatial_below)
                tables.add_flow(i, WRITE, words, 0, r, KIND_UPDATES, all_dims, indices, (), unit, box, compute_loops)
                tables.add_flow(i, READ, words, first, r, KIND_READS, all_dims, indices,
                                [j for j in touched if int(nest.loop_dim[j]) in rg_dims], unit, box, compute_loops,
                                first_loops=[j for j in compute_loops if nest.dims[nest.loop_dim[j]] in outputs_dims])
            else:
                tables.add_flow(i, READ, words, 0, r, KIND_READS, all_dims, indices, (), unit, 0, compute_loops)
        else:  # served to the child's tile when it moves
            union = merged + list(range(start[child], n))
            first = spatial_below + list(range(start[child], n)) if is_out else None
            e = tables.add_stream(role, axes, union, start[child], copies, first, child, copy_rg)
            tables.add_charge(e, i, READ, int(is_out), 0, r, KIND_READS)
            if is_out:
                tables.add_charge(e, i, WRITE, 0, 1, r, KIND_UPDATES)


def _latched_loops(einsum: Einsum, nest: LoweredNest, role: str, compute_loops) -> list[int]:
    """The loops whose steps read a latched operand during one step: it changes only when a loop that
    indexes it moves, so the innermost temporal loops that do not index it reuse the latch; its
    reads are the tuples of the loops down to the innermost one that indexes it."""
    dims = einsum.tensor(role).dims
    for q in range(len(compute_loops) - 1, -1, -1):
        if nest.dims[nest.loop_dim[compute_loops[q]]] in dims:
            return list(compute_loops[:q + 1])
    return []


def _translation_tables(axes, tile_loops, movers, n_sl) -> tuple[list[int], list[int]]:
    """Per mover k: words a move kept when k advances and the movers inside it rewind, and an id
    of that translation (equal ids ⇔ equal translation vectors). Unused entries are 0."""
    terms = [axis_terms(axis, tile_loops) for axis in axes]
    # How far each axis moves per unit of each mover's index.
    moves = [[sum(t.coef for t in axis if t.dim == dim) * stride for axis in axes] for dim, _, stride in movers]
    kept, cls, ids = [0] * n_sl, [0] * n_sl, {}
    for k in range(len(movers)):
        translation = tuple(moves[k][a] - sum((movers[m][1] - 1) * moves[m][a] for m in range(k + 1, len(movers)))
                            for a in range(len(axes)))
        kept[k] = prod(axis_overlap(tt, s) for tt, s in zip(terms, translation))
        cls[k] = ids.setdefault(translation, len(ids))
    return kept, cls


# ------------------------------------------------------------------------------ the kernel
# Every kernel here is compiled with _nrt=False: no reference counts on the ~65 arrays of the walk's
# state and tables at each call (they were most of its time), and no allocation inside the walk.

@helper()
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


@helper(forceinline=True)
def _copy2(dst, src):
    """dst[:, :] = src, element by element (a whole-array assignment may allocate a temporary,
    and the walk's kernels run without Numba's allocator and its reference counts)."""
    for i in range(dst.shape[0]):
        for j in range(dst.shape[1]):
            dst[i, j] = src[i, j]


class RaggedTables(NamedTuple):
    """The ragged dims' columns of TileEvents, as the kernel takes them (ragged_tables)."""

    rg_dim: np.ndarray
    rg_size: np.ndarray
    sl_rg: np.ndarray
    sl_stride: np.ndarray
    lp_dim: np.ndarray
    lp_bound: np.ndarray
    lp_stride: np.ndarray
    compute_mask: np.ndarray
    ev_rg: np.ndarray
    ev_tile_mask: np.ndarray
    ev_first_mask: np.ndarray
    fl_rg: np.ndarray
    fl_mask: np.ndarray
    fl_first_mask: np.ndarray
    wa_start: np.ndarray
    wa_rg: np.ndarray
    wa_coef: np.ndarray
    wa_step: np.ndarray
    ev_part_mask: np.ndarray
    oc_start: np.ndarray
    oc_rg: np.ndarray
    oc_bound: np.ndarray
    oc_stride: np.ndarray
    fl_first_tr: np.ndarray
    fl_first_tr_mask: np.ndarray
    fl_tr: np.ndarray
    fl_tr_mask: np.ndarray
    rg_grain: np.ndarray  # [r] the lowest stride of the step loops on r's dim: every offset is a multiple


def ragged_tables(ev: TileEvents) -> RaggedTables:
    return RaggedTables(*(getattr(ev, name) for name in RaggedTables._fields[:-1]), _rg_grain(ev))


def _rg_grain(ev: TileEvents) -> np.ndarray:
    grain = np.zeros(len(ev.rg_dim), dtype=np.int64)
    for r, stride in zip(ev.sl_rg, ev.sl_stride):
        if r >= 0 and (grain[r] == 0 or stride < grain[r]):
            grain[r] = stride
    return np.maximum(grain, 1)


# Memo sites of _count_memo: one per mask row counted at a step's or a stream's offset.
SITE_COMPUTE, FLOW_SITES, STREAM_SITES = 0, 4, 2  # a flow's: transfers, words, first, first transfers;
#                                                   a stream's: its tile, its first touches


def _n_sites(ev: TileEvents) -> int:
    return 1 + FLOW_SITES * len(ev.fl_level) + STREAM_SITES * len(ev.ev_limit)


@helper(forceinline=True)
def _flow_site(f):
    """Flow f's first memo site (the kernels add 0 … FLOW_SITES − 1 to it: no literal argument)."""
    return 1 + FLOW_SITES * f


@helper(forceinline=True)
def _stream_site(rt, e):
    """Stream e's first memo site."""
    return 1 + FLOW_SITES * rt.fl_rg.shape[0] + STREAM_SITES * e


MEMO_ENTRIES = 1 << 20  # at most this many remembered counts (per key and value arrays: 8 MiB each)


def _memo_slots(ev: TileEvents, grain) -> int:
    """Slots per site and ragged dim: a power of two, every offset's own where the entries allow."""
    need = max((int(-(-int(size) // int(g))) for size, g in zip(ev.rg_size, grain)), default=1)
    cap = max(64, MEMO_ENTRIES // max(1, _n_sites(ev) * len(ev.rg_dim)))
    slots = 1
    while slots < need and 2 * slots <= cap:
        slots *= 2
    return slots


@helper(forceinline=True)
def _count_at(rt, mask, r, offset):
    """Tuples of the loops in mask[r] (on ragged dim r) whose offset from `offset` is inside the dim."""
    return count_below(rt.lp_dim, rt.lp_bound, rt.lp_stride, rt.lp_dim.shape[0], mask[r], rt.rg_dim[r],
                       rt.rg_size[r] - offset)


@kernel(_nrt=False, forceinline=True)
def _count_memo(rt, st, mask, site, r, offset):
    """_count_at, remembered per memo site (the mask row's) and offset: a walk's offsets on a ragged dim
    are multiples of its grain, few, and each recurs at many steps (a slot's last offset is kept)."""
    slot = (offset // rt.rg_grain[r]) & (st.memo_key.shape[2] - 1)
    if st.memo_key[site, r, slot] != offset:
        st.memo_key[site, r, slot] = offset
        st.memo_val[site, r, slot] = _count_at(rt, mask, r, offset)
    return st.memo_val[site, r, slot]


@helper()
def _mark(step, n, k, mark):
    """Marks the points Σ_t step[t]·k[t] (k[t] < n[t]) of a window axis from 0; returns the span
    (0: an empty set). k: work array."""
    span = 1
    for t in range(step.shape[0]):
        if n[t] == 0:
            return 0
        span += step[t] * (n[t] - 1)
        k[t] = 0
    while True:
        x = 0
        for t in range(step.shape[0]):
            x += step[t] * k[t]
        mark[x] = True
        t = step.shape[0] - 1
        while t >= 0:
            k[t] += 1
            if k[t] < n[t]:
                break
            k[t] = 0
            t -= 1
        if t < 0:
            return span


@helper()
def _window_points(step, n_new, n_old, shift, k, mark_new, mark_old):
    """(points of a window axis's set at a move, points of it the old set held): the old set's
    origin lies `shift` before the new one's on the axis."""
    span_new = _mark(step, n_new, k, mark_new)
    span_old = _mark(step, n_old, k, mark_old)
    words, kept = 0, 0
    for x in range(span_new):
        if mark_new[x]:
            words += 1
            y = x + shift
            if 0 <= y < span_old and mark_old[y]:
                kept += 1
    mark_new[:span_new] = False
    mark_old[:span_old] = False
    return words, kept


@helper(forceinline=True)
def _fire_events(carry, idx, ev_limit, ev_full, ev_mult, ev_first, ev_receiver, ev_kept, ev_class,
                 out_irrelevant, rt, st):
    """Tile moves caused by step loop `carry` advancing (-1: the first step, all tiles load). On
    ragged dims a tile is counted at its offset (the movers' digits), and a move that changes
    that offset keeps nothing of it (a tile of a dim moves to disjoint points). Copies over a
    ragged dim the tensor does not index (RG_COPIES) are the fan-out's positions inside the dim: a
    position inside it at both moves keeps its copy as the dense rule says, a new one loads all."""
    n_rg = rt.rg_dim.shape[0]
    for e in range(ev_limit.shape[0]):
        st.ev_old[e] = st.prev_size[e]
        st.old_copies[e] = st.copies[e]
        for r in range(n_rg):
            st.old_o[e, r] = st.prev_o[e, r]
        st.ev_idle[e] = 0
        if carry >= ev_limit[e]:
            st.ev_words[e] = -1  # no event: this tile did not move
            continue
        size, factor, kept_factor, moved, same, copies = ev_full[e], 1, 1, False, True, 1
        first = ev_first[e]
        if n_rg > 0:
            for r in range(n_rg):
                st.eo[r] = 0
            for k in range(ev_limit[e]):
                if rt.sl_rg[k] >= 0:
                    st.eo[rt.sl_rg[k]] += idx[k] * rt.sl_stride[k]
            for a in range(rt.wa_start[e], rt.wa_start[e + 1]):  # windows over ragged dims, point by point
                origin = 0
                for t in range(rt.wa_rg.shape[1]):
                    r = rt.wa_rg[a, t]
                    st.wa_n[a, t] = 1 if r < 0 else _count_memo(rt, st, rt.ev_tile_mask[e], _stream_site(rt, e), r,
                                                                   st.eo[r])
                    if r >= 0:
                        origin += rt.wa_coef[a, t] * st.eo[r]
                shift = origin - st.wa_origin[a]
                words, held = _window_points(rt.wa_step[a], st.wa_n[a], st.wa_prev_n[a], shift, st.wa_k,
                                             st.mark_new, st.mark_old)
                factor *= words
                kept_factor *= held
                same &= shift == st.wa_last[a]
                st.wa_shift[a] = shift
                st.wa_origin[a] = origin
                for t in range(rt.wa_rg.shape[1]):
                    st.wa_prev_n[a, t] = st.wa_n[a, t]
            for r in range(n_rg):
                if rt.ev_rg[e, r] == 0 or rt.ev_rg[e, r] == RG_WINDOW:
                    continue
                count = _count_memo(rt, st, rt.ev_tile_mask[e], _stream_site(rt, e), r, st.eo[r])
                factor *= count
                if rt.ev_rg[e, r] == RG_COPIES:  # prev_o holds the copies of the last move
                    copies *= count
                    kept_factor *= min(count, st.prev_o[e, r])
                    st.prev_o[e, r] = count
                    continue
                kept_factor *= count
                if first > 0:
                    first *= _count_memo(rt, st, rt.ev_first_mask[e], _stream_site(rt, e) + 1, r, st.eo[r])
                shift = st.eo[r] - st.prev_o[e, r]
                moved |= shift != 0
                same &= shift == st.last_rt[e, r]
                st.prev_o[e, r] = st.eo[r]
                st.eo[r] = shift  # kept as the translation, stored below if it starts one
            size *= factor
        if carry < 0:
            delta = size
            st.has_translation[e] = False
        # a step of the innermost mover keeps its translation (Timeloop's reuse class), even after a
        # last tile that ran it once and left the outer loops' moves in a row
        elif not st.has_translation[e] or carry == ev_limit[e] - 1 or (ev_class[e, carry] == st.last_class[e] and same):
            delta = size if moved else size - ev_kept[e, carry] * kept_factor
            st.has_translation[e] = True
            st.last_class[e] = ev_class[e, carry]
            for r in range(n_rg):
                if rt.ev_rg[e, r] == RG_TILE:
                    st.last_rt[e, r] = st.eo[r]
            for a in range(rt.wa_start[e], rt.wa_start[e + 1]):
                st.wa_last[a] = st.wa_shift[a]
        else:  # the stride changed: reload the whole tile
            delta = size
            st.has_translation[e] = False
        if delta > 0:  # the tile leaves: so do the partial sums of the copies idle since they left the dim
            st.ev_idle[e] = st.idle[e]
            st.idle[e] = 0
        elif copies < st.old_copies[e]:  # copies left a ragged dim while the tile stays: their PEs keep them
            st.idle[e] += st.prev_size[e] // st.old_copies[e] * (st.old_copies[e] - copies)
        st.prev_size[e] = size
        st.copies[e] = copies
        st.ev_words[e] = delta
        if first > 0:
            for k in range(ev_limit[e]):
                if out_irrelevant[k] == 1 and idx[k] != 0:
                    first = 0
                    break
        st.ev_new[e] = first


@helper(forceinline=True)
def _own_copies_port_words(elements, copy, scale, block, e, offset, rt, st):
    """Port words of a tile move of `elements` elements in copies of `copy` (copies_port_words), where
    fan-outs copy the tile over ragged dims of its own index (oc_*): there each position's copy is the
    tile at the position's offset, the last ones smaller, and each is rounded apart. A move's words
    (and a copy's) are the positions' counts summed times a part over the other dims, so a position's
    share is in proportion to its count. `offset`: the tile's offsets on the ragged dims."""
    lo, hi = rt.oc_start[e], rt.oc_start[e + 1]
    if lo == hi or block <= 1:  # inlined: most charges take this branch, without a call
        return copies_port_words(elements, copy, scale, block)
    return _positions_port_words(elements, copy, scale, block, e, offset, rt, st, lo, hi)


@helper()
def _positions_port_words(elements, copy, scale, block, e, offset, rt, st, lo, hi):
    """_own_copies_port_words over the positions of the fan-outs lo … hi − 1 (oc_*)."""
    for q in range(lo, hi):
        st.oc_digit[q - lo] = 0
    n, total = 0, 0
    while True:  # every position of the fan-outs: its count over the dims they copy over
        count = 1
        for r in range(rt.rg_dim.shape[0]):
            at, on = offset[r], False
            for q in range(lo, hi):
                if rt.oc_rg[q] == r:
                    at += st.oc_digit[q - lo] * rt.oc_stride[q]
                    on = True
            if on:  # (count_below counts from an offset inside the dim)
                count *= _count_at(rt, rt.ev_part_mask[e], r, at) if at < rt.rg_size[r] else 0
        st.oc_count[n] = count
        total += count
        n += 1
        q = hi - 1
        while q >= lo:
            st.oc_digit[q - lo] += 1
            if st.oc_digit[q - lo] < rt.oc_bound[q]:
                break
            st.oc_digit[q - lo] = 0
            q -= 1
        if q < lo:
            break
    words = 0
    for p in range(n):
        if st.oc_count[p] > 0:
            words += copies_port_words(elements * st.oc_count[p] // total, copy * st.oc_count[p] // total, scale,
                                       block)
    return words


@helper(forceinline=True)
def _place_charges(first_step, ev_words, ev_new, ev_old, ev_copies, old_copies, ev_mult, ev_receiver, ch_stream,
                   ch_level, ch_port, ch_minus_first, ch_drain, ch_scale, receiver_db, port_block, ch_total, exposed,
                   prefetch, drains, rt, st):
    """A move's charges on its level's ports: each copy (the fan-outs' `ev_mult`, and the positions
    over ragged dims: over a dim the tensor does not index they all load alike, returning copies
    being refused; over one it indexes, each its own tile) a transfer of whole blocks."""
    for q in range(ch_stream.shape[0]):
        e = ch_stream[q]
        if ev_words[e] < 0:
            continue
        if ch_drain[q] == 1:
            if first_step or ev_words[e] == 0:
                continue  # nothing to drain before the first tile, nor while it stays
            words = ev_old[e] * ev_mult[e]  # the leaving tile (outputs: a move reloads all of it)
            idle = st.ev_idle[e] * ev_mult[e]  # and what copies idle past a ragged dim kept of it
            if idle > 0:
                ch_total[q] += idle
                c, m, p = ev_receiver[e], ch_level[q], ch_port[q]
                idle = _own_copies_port_words(idle, ev_old[e] // old_copies[e], ch_scale[q], port_block[m], e,
                                              st.old_o[e], rt, st)
                if receiver_db[c] == 0:
                    exposed[c, m, p] += idle
                else:
                    drains[m, p] += idle
        else:
            words = ev_words[e] * ev_mult[e]
            if ch_minus_first[q] == 1:
                words -= ev_new[e]
        if words == 0:
            continue
        ch_total[q] += words  # elements; the ports carry words, each copy whole blocks
        c, m, p = ev_receiver[e], ch_level[q], ch_port[q]
        if ch_drain[q] == 1:  # words ≠ 0: copies ≥ 1
            words = _own_copies_port_words(words, ev_old[e] // old_copies[e], ch_scale[q], port_block[m], e,
                                           st.old_o[e], rt, st)
        else:
            words = _own_copies_port_words(words, ev_words[e] // ev_copies[e], ch_scale[q], port_block[m], e,
                                           st.prev_o[e], rt, st)
        if receiver_db[c] == 0:
            exposed[c, m, p] += words
        elif ch_drain[q] == 1:
            drains[m, p] += words  # the old tile drains while the new one computes
        else:
            prefetch[c, m, p] += words  # loaded while the previous tile computes


@helper(forceinline=True)
def _step_flows(idx, out_irrelevant, fl_level, fl_port, fl_words, fl_first, fl_scale, fl_unit, fl_box, port_block,
                fl_total, window, rt, st, off):
    """The flows of one step's compute onto their ports (first touches skipped while every
    reduction loop is at 0: no partial sum to read yet); on ragged dims, counted at the step's offset."""
    all_zero = True
    for k in range(idx.shape[0]):
        if out_irrelevant[k] == 1 and idx[k] != 0:
            all_zero = False
            break
    n_rg = rt.rg_dim.shape[0]
    for f in range(fl_level.shape[0]):
        words = fl_words[f]
        first = fl_first[f] if all_zero else 0
        first_transfers = rt.fl_first_tr[f] if first > 0 else 0
        transfers = rt.fl_tr[f]
        for r in range(n_rg):
            transfers *= _count_memo(rt, st, rt.fl_tr_mask[f], _flow_site(f), r, off[r])
            if rt.fl_rg[f, r] != 0:
                words *= _count_memo(rt, st, rt.fl_mask[f], _flow_site(f) + 1, r, off[r])
                if first > 0:
                    first *= _count_memo(rt, st, rt.fl_first_mask[f], _flow_site(f) + 2, r, off[r])
                    first_transfers *= _count_memo(rt, st, rt.fl_first_tr_mask[f], _flow_site(f) + 3, r, off[r])
        fl_total[f] += words - first  # one transfer a MAC cycle (a latched operand's: per address), whole blocks each
        window[fl_level[f], fl_port[f]] += step_port_words(words, first, first_transfers, transfers, fl_unit[f],
                                                           fl_box[f], fl_scale[f], port_block[fl_level[f]])


@helper(forceinline=True)
def _advance(idx, step_bound, rt, off):
    """Step the odometer (innermost loop fastest) to the next step inside every dim; returns the
    outermost loop that advanced (the loops inside it restart at 0). A loop whose next digit puts
    its ragged dim's offset past the dim's size is past its last tile there: it restarts too."""
    carry = idx.shape[0] - 1
    while True:
        r = rt.sl_rg[carry]
        if idx[carry] == step_bound[carry] - 1:
            if r >= 0:
                off[r] -= idx[carry] * rt.sl_stride[carry]
            idx[carry] = 0
            carry -= 1
            continue
        idx[carry] += 1
        if r >= 0:
            off[r] += rt.sl_stride[carry]
            if off[r] >= rt.rg_size[r]:
                off[r] -= idx[carry] * rt.sl_stride[carry]
                idx[carry] = 0
                carry -= 1
                continue
        return carry


@helper(forceinline=True)
def _step_compute(compute, rt, st, off):
    """The busiest MAC's cycles in a step: on a ragged dim, its loops below the innermost memory
    counted at the step's offset."""
    for r in range(rt.rg_dim.shape[0]):
        compute *= _count_memo(rt, st, rt.compute_mask, np.int64(SITE_COMPUTE), r, off[r])
    return compute


@helper(forceinline=True)
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
    stream: np.ndarray           # [3]: 1 if the current step starts a systolic stream; streams so far;
    #                              MAC cycles so far (the busiest MAC's)
    off: np.ndarray              # [ragged dim] the step's offset on it
    eo: np.ndarray               # [ragged dim] a stream's offset (work array)
    prev_o: np.ndarray           # [stream, ragged dim] the stream's offset at its last move (RG_COPIES: its copies)
    last_rt: np.ndarray          # [stream, ragged dim] its translation there at its last move
    prev_size: np.ndarray        # [stream] its tile's words now
    ev_old: np.ndarray           # [stream] its tile's words before the current move
    wa_origin: np.ndarray        # [window axis] its origin at the stream's last move
    wa_shift: np.ndarray         # [window axis] the origin's change at the current move
    wa_last: np.ndarray          # [window axis] the change at the last move whose translation repeated
    wa_n: np.ndarray             # [window axis, term] the tile's offsets on the term's dim now
    wa_prev_n: np.ndarray        # [window axis, term] … at the last move (0: none yet)
    wa_k: np.ndarray             # [term] work array
    mark_new: np.ndarray         # [span] bool work arrays: a window axis's points
    mark_old: np.ndarray
    copies: np.ndarray           # [stream] its copies over ragged dims now (RG_COPIES positions inside them; 1: none)
    old_copies: np.ndarray       # [stream] … before the current move (a copy's words: prev_size / old_copies)
    old_o: np.ndarray            # [stream, ragged dim] prev_o before the current move (the leaving tile's offsets)
    oc_digit: np.ndarray         # [fan-out] work arrays: a position of the fan-outs copying over own ragged dims,
    oc_count: np.ndarray         # [position] and each position's count
    idle: np.ndarray             # [stream] words kept by copies that left a ragged dim while the tile stayed
    ev_idle: np.ndarray          # [stream] … drained with the tile at the current move
    memo_key: np.ndarray         # [memo site, ragged dim, slot] the offset whose count a slot holds (−1: none)
    memo_val: np.ndarray         # … that count (_count_memo)


def walk_state(ev, rt: RaggedTables) -> WalkState:
    n_sl, n_ev, n_mem, n_rg = len(ev.step_bound), len(ev.ev_limit), len(ev.memory_levels), len(ev.rg_dim)
    n_wa, n_terms = ev.wa_rg.shape
    n_oc = max((int(b - a) for a, b in zip(ev.oc_start, ev.oc_start[1:])), default=0)
    positions = max((int(np.prod(ev.oc_bound[a:b])) for a, b in zip(ev.oc_start, ev.oc_start[1:])), default=0)
    i64 = np.int64
    memo = (_n_sites(ev), n_rg, _memo_slots(ev, rt.rg_grain))
    return WalkState(np.zeros(n_sl, i64), np.zeros(n_ev, np.bool_), np.zeros(n_ev, i64), np.zeros(n_ev, i64),
                     np.zeros(n_ev, i64), np.zeros((n_mem, n_mem, 2), i64), np.zeros((n_mem, n_mem, 2), i64),
                     np.zeros((n_mem, 2), i64), np.zeros((n_mem, n_mem, 2), i64), np.zeros((n_mem, 2), i64),
                     np.zeros((n_mem, 2), i64), np.array([1, 0, 0], i64), np.zeros(n_rg, i64), np.zeros(n_rg, i64),
                     np.zeros((n_ev, n_rg), i64), np.zeros((n_ev, n_rg), i64), np.zeros(n_ev, i64),
                     np.zeros(n_ev, i64), np.zeros(n_wa, i64), np.zeros(n_wa, i64), np.zeros(n_wa, i64),
                     np.zeros((n_wa, n_terms), i64), np.zeros((n_wa, n_terms), i64), np.zeros(n_terms, i64),
                     np.zeros(ev.wa_span, np.bool_), np.zeros(ev.wa_span, np.bool_), np.ones(n_ev, i64),
                     np.ones(n_ev, i64), np.zeros((n_ev, n_rg), i64), np.zeros(max(n_oc, 1), i64),
                     np.zeros(max(positions, 1), i64), np.zeros(n_ev, i64), np.zeros(n_ev, i64),
                     np.full(memo, -1, i64), np.zeros(memo, i64))


@kernel(_nrt=False)
def walk_begin(ev_limit, ev_full, ev_mult, ev_first, ev_receiver, ev_kept, ev_class, out_irrelevant,
               ch_stream, ch_level, ch_port, ch_minus_first, ch_drain, ch_scale, receiver_db, bandwidth, port_block,
               ch_total, stall, rt, st):
    """The first tiles: every stream loads; those of double-buffered levels have nothing to hide
    behind (the prologue). Returns its cycles."""
    _fire_events(np.int64(-1), st.idx, ev_limit, ev_full, ev_mult, ev_first, ev_receiver, ev_kept, ev_class,
                 out_irrelevant, rt, st)
    _place_charges(np.bool_(True), st.ev_words, st.ev_new, st.ev_old, st.copies, st.old_copies, ev_mult, ev_receiver,
                   ch_stream, ch_level, ch_port,
                   ch_minus_first, ch_drain, ch_scale, receiver_db, port_block, ch_total, st.exposed, st.prefetch,
                   st.drains, rt, st)
    cycles = _serialized_transfers(st.prefetch, bandwidth, stall)
    st.prefetch[:, :, :] = 0
    return cycles


@kernel(_nrt=False)
def walk_steps(first, last, n_steps, step_bound, compute, skew, stream_loop, out_irrelevant,
               ev_limit, ev_full, ev_mult, ev_first, ev_receiver, ev_kept, ev_class,
               ch_stream, ch_level, ch_port, ch_minus_first, ch_drain, ch_scale,
               fl_level, fl_port, fl_words, fl_first, fl_scale, fl_unit, fl_box, receiver_db, bandwidth,
               port_block,
               ch_total, fl_total, stall, rt, st):
    """Steps first … last − 1 of the n_steps steps inside every dim (the busiest MAC's cycles each,
    `compute` on a dense nest, and `skew` more for a step that starts a systolic stream); returns
    their cycles. The state carries over, so consecutive ranges walk as one; st.stream[1] counts
    the streams, st.stream[2] the MAC cycles."""
    n_mem = bandwidth.shape[0]
    cycles = 0
    for s in range(first, last):
        mac = _step_compute(compute, rt, st, st.off)
        st.stream[2] += mac
        busy = mac + skew * st.stream[0]
        st.stream[1] += st.stream[0]
        cycles += _serialized_transfers(st.exposed, bandwidth, stall)
        _copy2(st.window, st.drains)
        _step_flows(st.idx, out_irrelevant, fl_level, fl_port, fl_words, fl_first, fl_scale, fl_unit, fl_box,
                    port_block, fl_total, st.window, rt, st, st.off)
        # The next step's tile moves: its double-buffered fills overlap this step.
        st.next_exposed[:, :, :] = 0
        st.next_drains[:, :] = 0
        if s + 1 < n_steps:
            held = -1  # the innermost marked loop whose digit is not 0: it moves if the carry is outside it
            for k in range(st.idx.shape[0] - 1, -1, -1):
                if stream_loop[k] == 1 and st.idx[k] != 0:
                    held = k
                    break
            carry = _advance(st.idx, step_bound, rt, st.off)
            st.stream[0] = 1 if stream_loop[carry] == 1 or held > carry else 0
            _fire_events(carry, st.idx, ev_limit, ev_full, ev_mult, ev_first, ev_receiver, ev_kept, ev_class,
                         out_irrelevant, rt, st)
            _place_charges(np.bool_(False), st.ev_words, st.ev_new, st.ev_old, st.copies, st.old_copies, ev_mult,
                           ev_receiver, ch_stream, ch_level,
                           ch_port, ch_minus_first, ch_drain, ch_scale, receiver_db, port_block, ch_total,
                           st.next_exposed, st.prefetch, st.next_drains, rt, st)
            for c in range(n_mem):
                for m in range(n_mem):
                    for p in range(2):
                        st.window[m, p] += st.prefetch[c, m, p]
                        st.prefetch[c, m, p] = 0
        cycles += _step_cycles(st.window, bandwidth, busy, stall)
        for c in range(n_mem):
            _copy2(st.exposed[c], st.next_exposed[c])
        _copy2(st.drains, st.next_drains)
    return cycles


@kernel(_nrt=False)
def walk_end(ev_mult, ev_receiver, ch_stream, ch_level, ch_port, ch_drain, ch_scale, bandwidth, port_block,
             ch_total, stall, rt, st):
    """The epilogue: the last output tiles drain to their parents. Returns its cycles."""
    for q in range(ch_stream.shape[0]):
        if ch_drain[q] == 1:
            e = ch_stream[q]
            copy = st.prev_size[e] // max(st.copies[e], 1)
            for words in (st.prev_size[e] * ev_mult[e], st.idle[e] * ev_mult[e]):  # (idle copies' partial sums)
                ch_total[q] += words
                st.exposed[ev_receiver[e], ch_level[q], ch_port[q]] += _own_copies_port_words(
                    words, copy, ch_scale[q], port_block[ch_level[q]], e, st.prev_o[e], rt, st)
    return _serialized_transfers(st.exposed, bandwidth, stall)
