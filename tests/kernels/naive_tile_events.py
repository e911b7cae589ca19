"""Slow, obvious reference for the cycle model: walk every step of the loop nest with explicit
point sets, record each level's port traffic per step, then apply the timing rules.

Nothing here is shared with accelsim/model/tile_events.py except the arch, einsum and
lowered nest it reads. Traffic per step (per instance of each level):
- a level's own tile moves when a step loop above it advances: it loads the points the new
  tile does not share with the previous one while the tile keeps moving with the same
  translation, the whole tile when the translation changes (Timeloop's rule, full walk); a step
  of the innermost loop that moves it (of more than one iteration) never counts as a change;
  an output point never touched before needs no load (no partial sum exists yet);
- the parent serves the child's moving tile, merged over fan-outs that multicast (operands)
  or reduce (outputs), once per fan-out position that does not; outputs also go up: the
  leaving tile's partial sums are written into the parent, and the last tiles at the end;
- a level that feeds the MACs directly is read once per MAC step per merged group (outputs:
  updated, and read except for the first touch of each output).
Ports (docs/energy.md#port-time): a level whose block rounding is per transfer moves whole blocks
per transfer: each copy of a tile move, each MAC step's read or update (less its first-touched
outputs), ⌈words / block⌉ blocks.
Ragged nests (a dim's loops cover more than its size): a step whose dim offsets reach a size is
not walked, every point set drops the points past a size, a step computes the busiest MAC's
valid iterations, and a leaving output tile drains the points it holds. A fan-out that copies a
tensor (neither multicasts nor reduces it) over a ragged dim is walked position by position: each
position keeps its own tile (empty while the position is past the dim), loads what its new tile
does not share with its previous one, and drains what it holds; the fan-outs that copy over dims
that are not ragged stay a multiplier (their positions' tiles are alike).
Timing: see docs/cycle-model.md (the same rules, written out plainly below).
"""
from collections import defaultdict
from itertools import product
from math import ceil, prod

from accelsim.counting.conventions import block_rounding_of
from accelsim.ir.arch import Memory, Spatial


SIZES: dict = {}  # dim -> size while a walk runs (points past a size do not exist)


def _inside(value) -> bool:
    return all(v < SIZES.get(d, v + 1) for d, v in value.items())


def _points(axes, loops, base, inside=True):
    """Tensor points covered by `loops` (list of (dim, bound, stride)) with dim offsets `base`,
    those inside every dim (`inside` False: all of them)."""
    pts = set()
    for idx in product(*[range(b) for _, b, _ in loops]):
        value = dict(base)
        for (d, _, stride), i in zip(loops, idx):
            value[d] = value.get(d, 0) + i * stride
        if not inside or _inside(value):
            pts.add(tuple(sum(t.coef * value.get(t.dim, 0) for t in axis) for axis in axes))
    return pts


def _shifted(value, position):
    """Dim offsets `value` moved by a copy's `position` (dim → offset)."""
    out = dict(value)
    for d, v in position.items():
        out[d] = out.get(d, 0) + v
    return out


def _offsets(pairs):
    """(dim, offset) pairs summed per dim."""
    out = {}
    for d, v in pairs:
        out[d] = out.get(d, 0) + v
    return out


class _Stream:
    """A moving tile whose loads are charged to ports."""

    def __init__(self, axes, tile, first_tile, movers, mult, receiver, charges, positions=({},)):
        """`positions`: the offsets (dim → offset) of the copies over ragged dims, each a tile of its own
        (`first_tile`: one position's first-touched set, outputs)."""
        self.axes, self.tile, self.first_tile, self.movers = axes, tile, first_tile, movers
        self.mult, self.receiver, self.charges = mult, receiver, charges
        self.positions = list(positions)
        self.prev_points = [set() for _ in self.positions]
        self.idle = [0 for _ in self.positions]  # partial sums a position keeps after leaving a ragged dim
        self.prev_origin = self.prev_translation = None
        self.seen = set()
        self.prev_index = None

    def visit(self, step_index, base_of):
        """(loaded words, first-touched words, words the previous tiles held) if the tile moved at
        this step, else None (summed over the ragged copies' positions; each position's in
        self.loaded, self.new, self.held)."""
        index = tuple(step_index[k] for k in self.movers)
        if index == self.prev_index:
            return None
        first_step = self.prev_index is None
        # A step of the innermost mover alone keeps its translation by definition (Timeloop's reuse
        # class): after a last tile that runs it once, outer steps in a row must not flip that.
        changed = [q for q, (a, b) in enumerate(zip(index, self.prev_index or index)) if a != b]
        innermost = not first_step and changed == [self.inner]
        self.prev_index = index
        base = base_of(self.movers)
        origin = tuple(sum(t.coef * base.get(t.dim, 0) for t in axis) for axis in self.axes)
        whole = first_step  # the translation changed: every tile reloads all of it
        if not first_step:
            translation = tuple(o - p for o, p in zip(origin, self.prev_origin))
            whole = self.prev_translation is not None and translation != self.prev_translation and not innermost
            self.prev_translation = None if whole else translation
        self.loaded, self.new, self.held = [], [], []
        for q, position in enumerate(self.positions):
            points = _points(self.axes, self.tile, _shifted(base, position))
            self.loaded.append(len(points) if whole else len(points - self.prev_points[q]))
            self.held.append(len(self.prev_points[q]))
            self.prev_points[q] = points
            new = 0
            if self.first_tile is not None:
                touched = _points(self.axes, self.first_tile, _shifted(base, position))
                new = len(touched - self.seen)
                self.seen |= touched
            self.new.append(new)
        self.prev_origin = origin
        return sum(self.loaded), sum(self.new), sum(self.held)


def naive_tile_events(arch, einsum, nest, output_words=None, busy_compute=None, demand=None):
    """Return dict(cycles, compute, skew, stall{level}, traffic{level: {role: [reads, fills, updates]}}).
    `output_words`: level name → words per output element on its ports (partial sums; default 1).
    Sparse walks (model/sparse_walk.py): `busy_compute` (a real number) replaces the MAC cycles a
    step lasts, and `demand(level name, role, kind)` scales the words each access puts on a port."""
    SIZES.clear()
    SIZES.update(einsum.bound)
    try:
        return _walk(arch, einsum, nest, output_words, busy_compute, demand)
    finally:
        SIZES.clear()


def _walk(arch, einsum, nest, output_words, busy_compute, demand):
    n = nest.n_loops
    start = [int(s) for s in nest.level_start]
    dims = nest.dims
    loop = [(dims[nest.loop_dim[j]], int(nest.loop_bound[j]), int(nest.loop_stride[j])) for j in range(n)]
    spatial = [bool(nest.loop_spatial[j]) for j in range(n)]
    memories = [i for i, l in enumerate(arch.levels) if isinstance(l, Memory)]
    names = {i: arch.levels[i].name for i in memories}
    covered = defaultdict(lambda: 1)
    for d, b, _ in loop:
        covered[d] *= b
    ragged = {d for d in dims if covered[d] != einsum.bound[d]}
    innermost, compute_idx = memories[-1], len(arch.levels) - 1
    steps = [j for j in range(start[innermost]) if not spatial[j]]
    inner = [j for j in range(start[innermost], n) if not spatial[j]]  # a step's MAC loops

    def mac_tuples(base):
        """The busiest MAC's iterations in a step at dim offsets `base`: digit tuples of the inner loops."""
        for idx in product(*[range(loop[j][1]) for j in inner]):
            value = dict(base)
            for j, i in zip(inner, idx):
                value[loop[j][0]] = value.get(loop[j][0], 0) + i * loop[j][2]
            if _inside(value):
                yield idx, value
    skew = sum(l.x + l.y - 2 for l in arch.levels if isinstance(l, Spatial) and l.interconnect == "systolic")

    def width(level, role, kind=None):  # words per element: partial sums may take several (psum_bits)
        scale = demand(names[level], role, kind) if demand and kind else 1
        return ((output_words or {}).get(names[level], 1) if role == "outputs" else 1) * scale

    def whole(level, words):
        """A transfer's words on the level's port: whole blocks under per-transfer block rounding
        (sparse walks keep the words: the sparse pass prices per block of the layer)."""
        block = arch.levels[level].block_words
        if demand or block == 1 or block_rounding_of(arch, arch.levels[level]) != "transfer":
            return words
        return ceil(words / block) * block

    streams, flows = [], []  # flows: (level, port, words at a step's offsets, role, kind, first-touch stream or None)
    for r, role in enumerate(nest.roles):
        axes = einsum.tensor(role).axes
        out = role == "outputs"
        keepers = [i for i in memories if nest.keeps[i, r]]
        for i in keepers:
            child = next((c for c in keepers if c > i), compute_idx)
            if i != memories[0]:
                tile = [loop[j] for j in range(start[i], n)]
                movers = [k for k, j in enumerate(steps) if j < start[i]]
                streams.append(_Stream(axes, tile, tile if out else None, movers, 1, i,
                                       [(i, "write", role, "fills", "fill")]))
            between = [j for j in range(start[i], start[child]) if spatial[j]]
            capable = []
            for j in between:
                level = arch.levels[int(nest.loop_level[j])]
                capable.append(level.reduction if out else level.multicast)
            merged = [loop[j] for j, c in zip(between, capable) if c]
            copied = [loop[j] for j, c in zip(between, capable) if not c]
            positions = [dict(_offsets(combo)) for combo in product(
                *[[(d, i * stride) for i in range(b)] for d, b, stride in copied if d in ragged])]
            separate = prod(b for d, b, _ in copied if d not in ragged)
            if child == compute_idx:
                latched = not out and role in arch.compute.operand_latch
                dims_t = {t.dim for axis in axes for t in axis}

                # A latched operand is addressed by the loops down to the innermost one that indexes it:
                # it is read again when one of them moves (an inner loop that does not index it reuses it).
                address = max((q + 1 for q, j in enumerate(inner) if loop[j][0] in dims_t), default=0)

                def served(base, level, port_width, seen=None, merged=merged, separate=separate, latched=latched,
                           address=address, axes=axes, box=[loop[j] for j in between], positions=positions):
                    """(elements, port words) the busiest MAC's iterations read in a step: the merged group's
                    points at each (a latched operand: only when its address moves), at every copy's
                    position, each MAC cycle's read one transfer of whole blocks (its copies too, as the
                    kernels count them); `seen` (partial-sum reads): the outputs touched so far, whose first
                    touch reads nothing. A step whose transfers are not all the whole group (a ragged
                    dim's last tile): the walk's rule for it, each transfer the whole group (those that
                    first touch their box: the group less the box)."""
                    words, port, previous, firsts, transfers, cut, first_transfers = 0, 0, None, 0, 0, False, 0
                    unit = len(_points(axes, merged, {}, False)) * separate * len(positions)
                    box_size = len(_points(axes, box, {}, False))
                    for idx, value in mac_tuples(base):
                        key = idx[:address]
                        if not latched or key != previous:
                            n = separate * sum(len(_points(axes, merged, _shifted(value, position)))
                                               for position in positions)
                            cut |= n != unit
                            transfers += 1
                            if seen is not None:
                                touched = _points(axes, box, value)
                                new = len(touched - seen)
                                cut |= new not in (0, box_size)
                                firsts += new
                                first_transfers += new > 0
                                n -= new
                                seen |= touched
                            words += n
                            port += whole(level, n * port_width)
                        previous = key
                    if cut and transfers and whole(level, 1) > 1:  # the walk's rule: cut transfers count whole
                        n, f = transfers, first_transfers
                        port = (n - f) * whole(level, unit * port_width) + f * whole(level, (unit - box_size) * port_width)
                    return words, port
                if out:
                    flows.append((i, "write", served, role, "updates", None))
                    flows.append((i, "read", served, role, "reads", set()))
                else:
                    flows.append((i, "read", served, role, "reads", None))
            else:
                tile = merged + [loop[j] for j in range(start[child], n)]
                first_tile = [loop[j] for j, c in zip(between, capable) if c or loop[j][0] not in ragged] + \
                    [loop[j] for j in range(start[child], n)]  # a position's (the positions: `positions`)
                movers = [k for k, j in enumerate(steps) if j < start[child]]
                charges = [(i, "read", role, "reads", "fill")]
                if out:
                    charges.append((i, "write", role, "updates", "drain"))
                streams.append(_Stream(axes, tile, first_tile if out else None, movers, separate, child, charges,
                                       positions))

    for st in streams:  # the position (in st.movers) of its innermost mover of more than one iteration
        st.inner = max((q for q, k in enumerate(st.movers) if loop[steps[k]][1] > 1), default=-1)
    traffic = {names[i]: {role: [0, 0, 0] for r, role in enumerate(nest.roles) if nest.keeps[i, r]} for i in memories}
    kinds = {"reads": 0, "fills": 1, "updates": 2}
    # Per step: exposed[(receiver, level, port)], prefetch[(receiver, level, port)] (double-buffered
    # receivers, moved during the previous step), window[(level, port)] (during this step's compute).
    records = []
    # A systolic stream lasts while the tiles held below the systolic fan-out stay put: the step's
    # dim offsets of the tensors kept there (every step is a stream of its own when none is kept).
    systolic = [i for i, l in enumerate(arch.levels) if isinstance(l, Spatial) and l.interconnect == "systolic"]
    held = [r for r in range(len(nest.roles)) if systolic and any(nest.keeps[i, r] for i in memories if i > systolic[0])]
    held_dims = {t.dim for r in held for axis in einsum.tensor(nest.roles[r]).axes for t in axis}
    starts_stream, previous, busy_steps = [], None, []
    walked = (index for index in product(*[range(loop[j][1]) for j in steps])
              if _inside({loop[j][0]: sum(i * loop[q][2] for i, q in zip(index, steps) if loop[q][0] == loop[j][0])
                          for j in steps}))
    for s, step_index in enumerate(walked):
        held_at = tuple(step_index[k] for k, j in enumerate(steps) if loop[j][0] in held_dims)
        starts_stream.append(s == 0 or not held or held_at != previous)
        previous = held_at
        def base_of(movers):
            base = {}
            for k in movers:
                d, _, stride = loop[steps[k]]
                base[d] = base.get(d, 0) + step_index[k] * stride
            return base
        at = base_of(range(len(steps)))
        busy_steps.append(sum(1 for _ in mac_tuples(at)))
        exposed, prefetch, window = defaultdict(int), defaultdict(int), defaultdict(int)
        for st in streams:
            moved = st.visit(step_index, base_of)
            if moved is None:
                continue
            loaded, new, _ = moved
            # Outputs leave when the tile moves: all it held, and what positions that left a ragged dim
            # while it stayed kept of it (an idle PE keeps its partial sums until then).
            if loaded:
                leaving = [h + i for h, i in zip(st.held, st.idle)]
                st.idle = [0 for _ in st.positions]
            else:
                leaving = []
                st.idle = [i + (h if not points else 0) for i, h, points in zip(st.idle, st.held, st.prev_points)]
            double = arch.levels[st.receiver].double_buffered
            for level, port, role, kind, phase in st.charges:
                if phase == "drain" and (s == 0 or not any(leaving)):
                    continue
                if phase == "drain":  # the leaving tile's partial sums go up
                    words = sum(leaving) * st.mult
                else:
                    words = loaded * st.mult - new
                traffic[names[level]][role][kinds[kind]] += words
                # the ports carry words: each position's copies (st.mult of them) whole blocks each, apart
                # (first touches leave out whole copies)
                w, words = width(level, role, kind), 0
                for size, first_words in zip(leaving if phase == "drain" else st.loaded, st.new):
                    part = size * st.mult - (0 if phase == "drain" else first_words)
                    words += part // size * whole(level, size * w) + whole(level, part % size * w) if size else 0
                if not double:
                    exposed[(st.receiver, level, port)] += words
                elif phase == "drain":
                    window[(level, port)] += words
                else:
                    prefetch[(st.receiver, level, port)] += words
        for level, port, served, role, kind, seen in flows:
            words, port_words = served(at, level, width(level, role, kind), seen)
            traffic[names[level]][role][kinds[kind]] += words
            window[(level, port)] += port_words
        records.append((exposed, prefetch, window))
    final = defaultdict(int)
    for st in streams:
        for level, port, role, kind, phase in st.charges:
            if phase == "drain":
                held = [len(points) for points in st.prev_points] + st.idle
                traffic[names[level]][role][kinds[kind]] += sum(held) * st.mult
                final[(st.receiver, level, port)] += st.mult * sum(whole(level, h * width(level, role, kind))
                                                                   for h in held)

    # ---------------------------------------------------------------- timing
    stall = {names[i]: 0 for i in memories}

    def port_time(level, port, words):
        mem = arch.levels[level]
        bw = {"read": mem.read_bw_words, "write": mem.write_bw_words, "shared": mem.shared_bw_words}[port]
        return 0 if not bw or words == 0 else ceil(words / bw)

    def level_times(words):
        """(time, level) of each port of each level; the shared port carries reads and writes."""
        return [(port_time(m, p, words(m, "read") + words(m, "write") if p == "shared" else words(m, p)), m)
                for m in memories for p in ("read", "write", "shared")]

    def serialized(groups):
        """Transfers into each receiving level, one receiver after another (top-down)."""
        total = 0
        for c in memories:
            times = level_times(lambda m, p: groups.get((c, m, p), 0))
            worst = max(t for t, _ in times)
            if worst > 0:
                who = next(m for t, m in times if t == worst)
                stall[names[who]] += worst
                total += worst
        return total

    cycles = serialized(records[0][1])  # first tiles of double-buffered levels: nothing to hide behind
    for s, (exposed, _, window) in enumerate(records):
        busy = (busy_steps[s] if busy_compute is None else busy_compute) + (skew if starts_stream[s] else 0)
        cycles += serialized(exposed)
        during = defaultdict(int, window)
        if s + 1 < len(records):
            for (c, m, p), words in records[s + 1][1].items():
                during[(m, p)] += words
        times = level_times(lambda m, p: during.get((m, p), 0))
        worst = max(t for t, _ in times)
        if worst > busy:
            stall[names[next(m for t, m in times if t == worst)]] += worst - busy
        cycles += max(worst, busy)
    cycles += serialized(final)
    return {"cycles": cycles, "compute": sum(busy_steps), "skew": sum(starts_stream) * skew,
            "stall": stall, "traffic": traffic}
