"""Dataflow templates defined by tensor relevance, so each works for every einsum.

A template orders the layer's dimensions by what they index:
  reduction   index the operands but not the output (c, r, s; matmul k)
  out_channel index weights and outputs, not inputs (k; matmul n)
  out_pixel   index inputs and outputs, not weights (n, p, q; matmul m)
  shared      index all three (groups, attention heads)
and from that ordering derives (1) which dims unroll on each spatial axis and (2) which
temporal loops sit innermost, where they keep the stationary tensor in place.

Weight-stationary (TPU-style): y ← reduction, x ← out_channel; weights stay while
out_pixel dims iterate innermost. Output-stationary: y ← out_pixel, x ← out_channel;
reductions innermost. Input-stationary: y ← reduction, x ← out_pixel; out_channel
innermost. Row-stationary (Eyeriss): y ← filter taps of the sliding window, then
out_channel; x ← the window's output rows; taps and channels innermost.

Temporal factors are then chosen level by level from the innermost memory outwards:
each dim in turn gets the largest divisor of what remains that keeps every bounded level
at or above it within capacity; the window's taps come first among the reductions, and
either each level's own tensors' dims or one tensor's dims (the tensor the chip holds)
come first, whichever fill an estimate says moves the fewest DRAM words. Whatever is
left runs at the outermost memory, ordered by the same estimate, and a buffer that would
hold a tensor without reusing it bypasses it (docs/dataflows.md). This is a template, not
a search: `--dataflow search` (the mapper) looks for better mappings.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import permutations, product
from math import prod

from ..counting.reuse import tile_size
from ..errors import MappingError
from ..ir.arch import Arch, Memory, Spatial
from ..ir.einsum import Einsum
from ..ir.factors import divisors
from ..registry import Registry
from .mapping import LevelMapping, Loop, Mapping
from .rs_temporal import rs_temporal

DATAFLOWS = Registry("dataflow")


RELEVANCE_CLASSES = ("reduction", "out_channel", "out_pixel", "shared")


def dim_classes(einsum: Einsum) -> dict[str, list[str]]:
    has = {r: (einsum.tensor(r).dims if einsum.tensor(r) else frozenset()) for r in ("inputs", "weights", "outputs")}
    classes = {name: [] for name in RELEVANCE_CLASSES}
    for d in einsum.dims:
        i, w, o = d in has["inputs"], d in has["weights"], d in has["outputs"]
        if not o:
            classes["reduction"].append(d)
        elif w and not i:
            classes["out_channel"].append(d)
        elif i and not w:
            classes["out_pixel"].append(d)
        else:
            classes["shared"].append(d)
    return classes


def window_pairs(einsum: Einsum) -> list[tuple[str, str]]:
    """(output dim, tap dim) pairs that share one input axis: the sliding windows."""
    pairs = []
    inputs = einsum.tensor("inputs")
    out_dims = einsum.tensor("outputs").dims
    for axis in inputs.axes if inputs else ():
        outs = [t.dim for t in axis if t.dim in out_dims]
        taps = [t.dim for t in axis if t.dim not in out_dims]
        if outs and taps:
            pairs.append((outs[0], taps[0]))
    return pairs


class Template:
    """Spatial preferences per axis and temporal priority (first = innermost)."""

    def __init__(self, name: str, y, x, priority, spatial=None, padding=None, temporal=None):
        self.name, self._y, self._x, self._priority = name, y, x, priority
        # Optional: spatial(level, einsum, remaining) -> loops for a fan-out (None: the generic
        # rule); padding(arch, einsum) -> dims padded to a multiple before mapping;
        # temporal(arch, einsum, classes, window pairs, fan-outs' loops, remaining, spatial factor
        # below each memory) -> every memory's loops (None: the generic fill by `priority`).
        self.spatial, self.padding, self.temporal = spatial, padding, temporal

    def axes(self, einsum: Einsum) -> tuple[list[str], list[str]]:
        c = dim_classes(einsum)
        return self._y(c, einsum), self._x(c, einsum)

    def priority(self, einsum: Einsum) -> list[str]:
        c = dim_classes(einsum)
        ordered = self._priority(c, einsum)
        return ordered + [d for d in einsum.dims if d not in ordered]


def _register(template: Template):
    DATAFLOWS.register(template.name)(template)


def _classes(*names):
    """A template function returning the dims of these relevance classes, in order."""
    return lambda c, e: [d for name in names for d in c[name]]


# name: (y axis, x axis, temporal priority innermost first), all as relevance classes.
SIMPLE_TEMPLATES = {
    "ws": (("reduction",), ("out_channel", "shared"), ("out_pixel", "reduction", "out_channel")),
    "os": (("out_pixel",), ("out_channel", "shared"), ("reduction", "out_pixel", "out_channel")),
    "is": (("reduction",), ("out_pixel", "shared"), ("out_channel", "reduction", "out_pixel")),
    # MAGNet multi-level dataflows (Venkatesan et al., ICCAD 2019): vector MACs reduce along y,
    # lanes produce different output channels along x, and the collectors' depths bound the local
    # loops. The name reads global-local: OS-LWS keeps outputs in the accumulation collector over
    # the reduction (global output stationary) while the A (weight) collector holds one weight
    # vector as inputs stream past (local weight stationary): the 5 nm VS-Quant chip. WS-LOS
    # reduces over the weight collector's vectors first (local output stationary), then streams
    # inputs past the weights held in the buffer. IS-LOS holds inputs and streams weights.
    "os_lws": (("reduction",), ("out_channel", "shared"), ("out_pixel", "reduction", "out_channel")),
    "ws_los": (("reduction",), ("out_channel", "shared"), ("reduction", "out_pixel", "out_channel")),
    "is_los": (("reduction",), ("out_channel", "shared"), ("reduction", "out_channel", "out_pixel")),
}
for _name, (_y, _x, _priority) in SIMPLE_TEMPLATES.items():
    _register(Template(_name, _classes(*_y), _classes(*_x), _classes(*_priority)))


def _rs_y(c, e):
    taps = [t for _, t in window_pairs(e)]
    return taps + c["out_channel"] + [d for d in c["reduction"] if d not in taps]


def _rs_x(c, e):
    outs = [o for o, _ in window_pairs(e)]
    return outs + [d for d in c["out_pixel"] if d not in outs] + c["shared"]


def _rs_priority(c, e):
    """Innermost first: the row's taps and the channels (the PE's 1-D convolution and its q
    channels), the filters (p per PE), the row's outputs (the sliding window), the batch."""
    pairs = window_pairs(e)
    col_tap = [t for _, t in pairs[1:2]]
    col_out = [o for o, _ in pairs[1:2]]
    rest = [d for d in c["reduction"] if d not in col_tap]
    return col_tap + rest + c["out_channel"] + col_out + [d for d in c["out_pixel"] if d not in col_out]


@dataclass(frozen=True)
class PESetPlan:
    """Row stationary on one x × y fan-out (Chen et al., JSSC 52(1) 2017, Sec. IV; ISCA 2016).

    A PE set is R × E logical PEs: filter row r on array row r, ofmap row e on column e. When E
    exceeds the columns, the set is folded (segments of the ofmap rows stacked below each other,
    CONV2's 5 × 27 as 5 × 14 + 5 × 13) if they fit the rows, else strip-mined into sets e columns
    wide. Small sets are replicated over the idle rows and columns with different filters (t) or
    channels (r). Ragged strips and segments pad the ofmap rows: the last one runs with gated PEs.
    """

    loops: tuple          # Loops on the fan-out, y then x
    padding: dict         # dim -> multiple the ofmap rows are padded to (ragged strips)


def _replicate(remaining: dict, dims: list[str], copies: int) -> dict[str, int]:
    """Factors (divisors of what remains) of `dims`, in order, whose product is at most `copies`."""
    chosen, left = {}, copies
    for d in dims:
        f = max(f for f in divisors(remaining.get(d, 1)) if f <= left)
        if f > 1:
            chosen[d], left = f, left // f
    return chosen


def rs_plan(einsum: Einsum, x: int, y: int) -> PESetPlan | None:
    """The PE sets of `einsum` on an x × y array; None without a sliding window (no rows to map)."""
    pairs = window_pairs(einsum)
    if not pairs:
        return None
    (out, tap), bound = pairs[0], einsum.bound
    classes = dim_classes(einsum)
    reps_dims = classes["out_channel"] + [d for d in classes["reduction"] if d not in (tap, *(t for _, t in pairs))]
    rows = max(f for f in divisors(bound[tap]) if f <= y)  # filters taller than the array: rows fold in time
    e_total = bound[out]
    best = None
    # A set as wide as the array or narrower is placed whole; a wider one is folded or strip-mined.
    for width in ([e_total] if e_total <= x else range(1, x + 1)):
        strips = -(-e_total // width)
        segments = strips if rows * strips <= y else 1     # fold the whole set, or strip-mine it
        padded = -(-e_total // (width * segments)) * width * segments
        # Replicas go beside the set while columns are free, then below it while rows are.
        rep_x = _replicate(bound, reps_dims, x // width)
        left = {d: b // rep_x.get(d, 1) for d, b in bound.items()}
        rep_y = _replicate(left, reps_dims, y // (rows * segments))
        active = rows * segments * width * prod(rep_x.values()) * prod(rep_y.values())
        # PEs doing real work; then the least padding; then the whole set in one pass (folded,
        # CONV2); then, strip-mining, narrow strips, whose psums leave GLB room for more filters (CONV1)
        key = (active * e_total / padded, -padded, segments == strips, -width)
        if best is None or key > best[0]:
            best = (key, width, segments, padded, rep_x, rep_y)
    _, width, segments, padded, rep_x, rep_y = best
    y_loops = [Loop(tap, rows, "y")] + ([Loop(out, segments, "y")] if segments > 1 else [])
    y_loops += [Loop(d, f, "y") for d, f in rep_y.items()]
    x_loops = [Loop(out, width, "x")] + [Loop(d, f, "x") for d, f in rep_x.items()]
    padding = {out: width * segments} if padded != e_total else {}
    return PESetPlan(tuple(l for l in y_loops + x_loops if l.bound > 1), padding)


def _rs_spatial(level: Spatial, einsum: Einsum, remaining: dict) -> list[Loop] | None:
    plan = rs_plan(einsum, level.x, level.y)
    if plan is None:
        return None  # no window: the generic rule
    factors = {}
    for loop in plan.loops:
        factors[loop.dim] = factors.get(loop.dim, 1) * loop.bound
    if any(remaining[d] != einsum.bound[d] or einsum.bound[d] % f for d, f in factors.items()):
        return None  # another fan-out already split a dim, or a ragged strip the layer was not padded for
    return list(plan.loops)


def _rs_padding(arch: Arch, einsum: Einsum) -> dict[str, int]:
    spatial = [l for l in arch.levels if isinstance(l, Spatial)]
    plan = rs_plan(einsum, spatial[0].x, spatial[0].y) if len(spatial) == 1 else None
    return plan.padding if plan else {}


_register(Template("rs", _rs_y, _rs_x, _rs_priority, spatial=_rs_spatial, padding=_rs_padding,
                   temporal=rs_temporal))


def template_padding(arch: Arch, einsum: Einsum, dataflow: str) -> dict[str, int]:
    """Dims the named template pads to a multiple (ragged strips run with gated PEs); {} if none."""
    template = DATAFLOWS.get(dataflow) if dataflow in DATAFLOWS.names() else None
    return template.padding(arch, einsum) if template is not None and template.padding else {}


def _best_split(dims: list[str], remaining: dict[str, int], size: int) -> dict[str, int]:
    """Factors for `dims` (divisors of what remains) with the largest product ≤ size.

    Ties go to the assignment that favours earlier dims (the template's preference).
    """
    dims = [d for d in dims if remaining[d] > 1][:4]  # the first four preferred dims suffice
    best, best_key = {}, (1, ())
    for combo in product(*[[f for f in divisors(remaining[d]) if f <= size] for d in dims]):
        total = prod(combo)
        if total <= size:
            key = (total, combo)
            if key > best_key:
                best, best_key = dict(zip(dims, combo)), key
    return {d: f for d, f in best.items() if f > 1}


def map_layer(arch: Arch, einsum: Einsum, dataflow: str) -> Mapping:
    """Build a legal mapping of `einsum` on `arch` from the named template."""
    try:
        template: Template = DATAFLOWS.get(dataflow)
    except KeyError:
        raise MappingError(f"unknown dataflow '{dataflow}'; choose from {', '.join(DATAFLOWS.names())}") from None
    y_pref, x_pref = template.axes(einsum)
    best = None
    for x_prefs in _x_options(arch, einsum, template, y_pref, x_pref):
        traffic, mapping = _map_with(arch, einsum, template, dataflow, y_pref, x_prefs)
        if best is None or (traffic is not None and traffic < best[0]):
            best = (traffic, mapping)
    return best[1]


def _x_options(arch: Arch, einsum: Einsum, template: Template, y_pref: list[str], x_pref: list[str]) -> list:
    """The x preferences per fan-out to try: the template's, and, on a fan-out of PEs that each hold
    another array (whose lanes already give the output channels their own MACs) with several rows
    and columns and an x the arch leaves free, the reduction as well, first: the PEs' private
    buffers then split the operands instead of each holding a copy. The least DRAM traffic wins."""
    options = [{}]
    if template.spatial is not None:
        return options
    fanouts = [i for i, level in enumerate(arch.levels[:-1]) if isinstance(level, Spatial)]
    for i in fanouts[:-1]:
        level = arch.levels[i]
        if level.x <= 1 or level.y <= 1:
            continue
        constraint = arch.constraints.get(level.name)
        if constraint is not None and (constraint.x[1] is not None or constraint.exclude_x):
            continue
        wide = [d for d in y_pref if d not in x_pref] + x_pref
        options += [{**o, i: wide} for o in options]
    return options


def _map_with(arch: Arch, einsum: Einsum, template: Template, dataflow: str, y_pref: list[str],
              x_prefs: dict) -> tuple:
    remaining = dict(einsum.bound)
    loops: dict[int, list[Loop]] = {i: [] for i in range(len(arch.levels) - 1)}
    for i, level in enumerate(arch.levels[:-1]):
        x_pref = x_prefs.get(i, template.axes(einsum)[1])
        if isinstance(level, Spatial):
            own = template.spatial(level, einsum, remaining) if template.spatial else None
            if own is not None:
                loops[i] = own
                for loop in own:
                    remaining[loop.dim] //= loop.bound
                continue
            for axis, pref, size in (("y", y_pref, level.y), ("x", x_pref, level.x)):
                for d, f in _best_split(pref, remaining, size).items():
                    loops[i].append(Loop(d, f, axis))
                    remaining[d] //= f
    priority = template.priority(einsum)
    memories = [i for i, l in enumerate(arch.levels) if isinstance(l, Memory)]

    def spatial_below(j: int) -> dict[str, int]:
        return {d: prod(l.bound for k, ls in loops.items() if k > j for l in ls if l.dim == d)
                for d in einsum.dims}

    # A fan-out too wide for the buffers above it (their tiles hold every child's data)
    # is narrowed: the largest spatial factor steps down to its next divisor until they fit.
    ones = dict.fromkeys(einsum.dims, 1)
    while not _fits(arch, einsum, memories, ones, {j: spatial_below(j) for j in memories}):
        spatial = [(l.bound, i, n) for i, ls in loops.items() for n, l in enumerate(ls) if l.axis]
        if not spatial:
            break  # nothing left to narrow: the analysis reports the capacity problem
        _, i, n = max(spatial)
        loop = loops[i][n]
        smaller = max(d for d in divisors(loop.bound) if d < loop.bound)
        remaining[loop.dim] *= loop.bound // smaller
        loops[i][n] = Loop(loop.dim, smaller, loop.axis)
        loops[i] = [l for l in loops[i] if l.bound > 1]

    below = {j: spatial_below(j) for j in memories}
    own = template.temporal(arch, einsum, dim_classes(einsum), window_pairs(einsum),
                            {i: ls for i, ls in loops.items() if i not in memories}, remaining,
                            below) if template.temporal else None
    if own is not None:
        levels = tuple(LevelMapping(l.name, tuple(own.get(i, ()))) for i, l in enumerate(arch.levels[:-1]))
        return None, Mapping(levels, dataflow)
    # Pass 1 keeps every tensor where the arch lets it; a tensor a buffer holds without reusing it
    # is then dropped there and the factors chosen again with the room it leaves (pass 2), kept
    # only if the buffer still does not reuse it.
    spatial = {i: ls for i, ls in loops.items() if i not in memories}
    traffic, first = _allocate(arch, einsum, priority, memories, remaining, below, {}, spatial)
    useless = _unreused(arch, einsum, memories, first)
    chosen = first
    if useless:
        again, second = _allocate(arch, einsum, priority, memories, remaining, below, useless, spatial)
        if all(_unreused(arch, einsum, memories, second).get(i, set()) >= b for i, b in useless.items()):
            traffic, chosen = again, second
        else:
            traffic = _dram_traffic(arch, einsum, memories, first, useless)
    for i, level_loops in chosen.items():
        loops[i] = level_loops
    levels = tuple(LevelMapping(l.name, tuple(loops[i]), frozenset(useless.get(i, ())))
                   for i, l in enumerate(arch.levels[:-1]))
    return traffic, Mapping(levels, dataflow)


def _temporal_priority(einsum: Einsum, priority: list[str]) -> list[str]:
    """The template's priority with the sliding window's taps first among the reduction dims: a
    filter window split across buffer levels re-reads the overlapping input rows (halos)."""
    taps = [t for _, t in window_pairs(einsum)]
    reduction = [d for d in priority if d in dim_classes(einsum)["reduction"]]
    ordered = iter([d for d in taps if d in reduction] + [d for d in reduction if d not in taps])
    return [next(ordered) if d in reduction else d for d in priority]


def _allocate(arch: Arch, einsum: Einsum, priority: list[str], memories: list[int], remaining: dict,
              below: dict, bypass: dict, spatial: dict) -> tuple[int, dict[int, list[Loop]]]:
    """Temporal loops per memory level. Two kinds of fill are tried, and the one whose estimated
    top-level traffic is smallest wins (the first on a tie):

    - each level's own tensors first: at every level the dims of the tensors it keeps come first
      (the level fills with its stationary data), then the dims that leave its tiles unchanged
      (the other tensors stream past);
    - one tensor held on chip (weights, inputs or outputs): at every level the dims that index
      it come first, so the buffers fill with as much of it as fits and the other tensors stream
      through from the top: all the weights on chip while the pixels stream, say, which reads every
      word from DRAM once when the weights fit.
    """
    priority = _temporal_priority(einsum, priority)
    best = None
    for held in (None, "weights", "inputs", "outputs"):
        if held is not None and einsum.tensor(held) is None:
            continue
        loops, top = _fill(arch, einsum, priority, memories, remaining, below, bypass, held)
        loops.update(spatial)
        traffic, loops[memories[0]] = _top_loops(arch, einsum, memories, loops, top, priority, bypass)
        if best is None or traffic < best[0]:
            best = (traffic, loops)
    return best


def _fill(arch: Arch, einsum: Einsum, priority: list[str], memories: list[int], remaining: dict,
          below: dict, bypass: dict, held: str | None) -> tuple[dict, dict]:
    """Below the top, from the innermost memory outwards, each dim in turn gets the largest divisor
    of what remains that keeps every bounded level at or above this one within capacity: the
    level's own dims first (`held` None) or the dims of the `held` tensor first, each group in
    priority order. Returns the loops per level (outer → inner) and what remains for the top."""
    remaining = dict(remaining)
    temporal = dict.fromkeys(einsum.dims, 1)  # loops chosen so far, all at or below this level
    loops = {}
    for i in reversed(memories[1:]):
        if held is None:
            first = {d for r in _keeps(arch, i, bypass) if einsum.tensor(r) for d in einsum.tensor(r).dims}
        else:
            first = set(einsum.tensor(held).dims)
        chosen = {}
        for d in [d for d in priority if d in first] + [d for d in priority if d not in first]:
            for f in sorted(divisors(remaining[d]), reverse=True):
                trial = dict(temporal, **{d: temporal[d] * f})
                if f == 1 or _fits(arch, einsum, [j for j in memories if j <= i], trial, below, bypass):
                    if f > 1:
                        chosen[d] = f
                        temporal = trial
                        remaining[d] //= f
                    break
        # Priority lists the innermost first; loops are stored outer → inner.
        loops[i] = [Loop(d, chosen[d]) for d in reversed(priority) if d in chosen]
    return loops, remaining


def _top_loops(arch: Arch, einsum: Einsum, memories: list[int], loops: dict, top: dict,
               priority: list[str], bypass: dict) -> tuple[int, list[Loop]]:
    """The top memory's loops (outer → inner) and their estimated traffic: the order of the
    relevance classes (each keeping the template's priority inside it) whose `_dram_traffic` is
    smallest, the template's own order (priority innermost) on a tie."""
    classes = dim_classes(einsum)
    groups = [[d for d in priority if d in classes[c]] for c in RELEVANCE_CLASSES]
    best = None
    # The top's loops are temporal: they leave the tiles below it as they are (computed once).
    below = _tiles_below_top(arch, einsum, memories, {j: ls for j, ls in loops.items() if j != memories[0]}, bypass)
    for order in [priority] + [[d for g in perm for d in g] for perm in permutations(groups)]:
        nest = [Loop(d, top[d]) for d in reversed(order) if top[d] > 1]
        traffic = _top_traffic(below, nest)
        if best is None or traffic < best[0]:
            best = (traffic, nest)
    return best


def _keeps(arch: Arch, i: int, bypass: dict) -> list[str]:
    return [r for r in arch.levels[i].keeps if r not in bypass.get(i, ())]


def _unreused(arch: Arch, einsum: Einsum, memories: list[int], loops: dict) -> dict[int, set]:
    """Per buffer below the top, the tensors it holds without reusing them: the next level down
    that keeps the tensor holds the same tile (no temporal loop from this level down to that one
    indexes the tensor; a fan-out between them only splits the tile among the children), so each
    word is read once per fill: holding it costs a write and a read and saves nothing. The arch's
    `constraints:` may forbid the bypass (`keep`), and the residency level keeps the activations
    (their reuse is by the next layer, which one layer's loops do not show)."""
    unreused = {}
    for n, i in enumerate(memories[1:], start=1):
        constraint = arch.constraints.get(arch.levels[i].name)
        forced = set(constraint.keep) if constraint is not None else set()
        if arch.levels[i].name == arch.residency_level:
            forced |= {"inputs", "outputs"}
        for role in arch.levels[i].keeps:
            tensor = einsum.tensor(role)
            child = next((j for j in memories[n + 1:] if role in arch.levels[j].keeps), None)
            if tensor is None or role in forced or child is None:
                continue
            between = [l for j in memories[n:] if i <= j < child for l in loops[j]]
            if not any(l.dim in tensor.dims for l in between):
                unreused.setdefault(i, set()).add(role)
    return unreused


def _dram_traffic(arch: Arch, einsum: Einsum, memories: list[int], loops: dict, bypass: dict) -> int:
    """Words the top memory moves, estimated: each tensor's tile in the first level below the top
    that keeps it (a buffer that bypasses it does not shield it) is fetched once per iteration of
    the temporal loops above that level, up to the innermost one over a dim the tensor indexes
    (the loops inside that leave the tile in place); tiles along a sliding window overlap, so a
    filter window split above the buffer re-reads the shared rows. Partial sums sent back up count
    twice (written, read again). A template's estimate to choose between its own options, not the
    counting core."""
    return _top_traffic(_tiles_below_top(arch, einsum, memories, loops, bypass), loops.get(memories[0], ()))


def _tiles_below_top(arch: Arch, einsum: Einsum, memories: list[int], loops: dict, bypass: dict) -> list[tuple]:
    """The part of `_dram_traffic` the top memory's temporal loops leave alone (its order is chosen
    over many of them): per tensor, its dims, whether it is the outputs, the words of its tile in
    the first level below the top that keeps it, and the temporal loops above that level below the
    top (outer → inner)."""
    tiles = []
    for t in einsum.tensors:
        keeper = next((j for j in memories[1:] if t.role in _keeps(arch, j, bypass)), len(arch.levels))
        below_top = [l for j in memories[1:] if j < keeper for l in loops.get(j, ()) if l.bound > 1]
        tile = dict.fromkeys(einsum.dims, 1)
        for j, level_loops in loops.items():
            for l in level_loops:
                if j >= keeper or (l.axis and j < keeper):
                    tile[l.dim] *= l.bound
        words = tile_size(t.axes, [(d, b, 1) for d, b in tile.items()])
        tiles.append((t.dims, t.role == "outputs", words, below_top))
    return tiles


def _top_traffic(tiles: list[tuple], top_loops) -> int:
    """`_dram_traffic` from `_tiles_below_top` and the top memory's loops."""
    top = [l for l in top_loops if l.bound > 1]
    total = 0
    for dims, is_outputs, words, below_top in tiles:
        above = top + below_top
        relevant = [n for n, l in enumerate(above) if l.dim in dims]
        outer = above[:max(relevant, default=-1) + 1]
        visits = prod(l.bound for l in outer if l.dim in dims)
        reloads = prod(l.bound for l in outer if l.dim not in dims)
        total += words * visits * (2 * reloads - 1 if is_outputs else reloads)
    return total


def _fits(arch: Arch, einsum: Einsum, levels: list[int], temporal: dict, spatial_below: dict,
          bypass: dict | None = None) -> bool:
    """Do the tiles fit every bounded memory in `levels` (the current one and those above)?

    Upper levels hold at least the tiles below them, so checking them now keeps a greedy
    choice at an inner level from starving an outer one.
    """
    for i in levels:
        level = arch.levels[i]
        cap = level.capacity_words
        if cap is None:
            continue
        # Everything below a level is inside its tile, so each dim's loops there are contiguous.
        loops = [(d, temporal[d] * spatial_below[i][d], 1) for d in einsum.dims]
        used = sum(tile_size(einsum.tensor(r).axes, loops) for r in _keeps(arch, i, bypass or {})
                   if einsum.tensor(r))
        if used > cap:
            return False
    return True
