"""The sparse pass: dense per-level counts and the mapping → formats, expected occupancy,
metadata accesses and the actual / gated / skipped split, as Sparseloop computes them (Timeloop v3
src/sparse-analysis/: representation-analyzer.cpp, storage-gs-analyzer.cpp,
storage-optimization-combiner.cpp, compute-gs-analyzer.cpp).

Levels are numbered as Timeloop numbers its storage levels: bottom-up, 0 innermost; a fan-out is a
level that keeps nothing (Timeloop's `inter_*_spatial` dummy levels) and holds the spatial loops.
Counts are per instance, as the dense counts are.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from math import ceil, floor, prod

from ..errors import Problem, SpecError
from ..ir.arch import Arch, Memory, Spatial
from ..ir.footprint import axis_points
from .density import Measured, StructuredNM
from .nm_tiles import nm_tile
from .formats import COMPRESSED, EMPTY, RankOccupancy, rank_occupancy

DATA_OPS = ("read", "fill", "update")


@dataclass(frozen=True)
class Loop:
    dim: str
    bound: int
    spatial: bool


@dataclass
class Record:
    """One tensor at one storage level (Timeloop's DataMovementInfo, the parts the pass uses)."""

    level: int
    role: str
    shape: int = 0                 # dense tile elements per instance (0: not kept)
    reads: int = 0
    fills: int = 0
    updates: int = 0
    formats: tuple = ()            # rank formats, outer → inner
    child: int | None = None       # next inner level keeping the tensor
    parent: int | None = None
    fiber_shapes: list = field(default_factory=list)   # outer → inner
    next_tiles: list = field(default_factory=list)     # elements under one coordinate of each rank
    rank_tiles: list = field(default_factory=list)     # Timeloop's metadata_subtile_point_set sizes
    metadata_word_bits: list = field(default_factory=list)  # (metadata, payload) bits per rank
    flatten: tuple = ()            # per rank, outer → inner: the dims it flattens (empty: one loop)
    rank_loops: list = field(default_factory=list)     # Timeloop's metadata_subnest, inner-first
    occupancy: float = 0.0         # expected non-zeros of the tile
    metadata: list = field(default_factory=list)       # expected RankOccupancy per rank, outer → inner
    max_metadata: list = field(default_factory=list)   # RankOccupancy per rank at the largest occupancy
    max_occupancy: int = 0
    format_max: dict = field(default_factory=dict)     # op -> [[md, pl] per rank] (the dense bound)
    data: dict = field(default_factory=dict)           # "random_read", "gated_read", "skipped_read", ... -> int
    fmt: dict = field(default_factory=dict)            # "random_metadata_read", ... -> [[md, pl] per rank]
    tile_model: object = None      # the density model of this tile as compressed (an N:M tile's is shape-bound)

    @property
    def has_metadata(self) -> bool:
        return bool(self.formats)

    @property
    def compressed(self) -> bool:
        return any(f in COMPRESSED for f in self.formats)

    @property
    def density(self) -> float:
        return self.occupancy / self.shape if self.shape else 0.0


@dataclass
class SparseResult:
    records: dict          # (level index, role) -> Record (kept tensors only)
    level_names: list      # storage level names, bottom-up ("" for a fan-out)
    computes: dict         # random_compute / gated_compute / skipped_compute / algorithmic
    masks: dict            # (level, role) -> ("gated" | "skipped", probability)


def _err(message: str, key: str, suggestion: str | None = None, file: str | None = None) -> SpecError:
    return SpecError(Problem(message, file, key_path=key, suggestion=suggestion or None))


def _not_modelled(what: str, key: str, suggestion: str) -> SpecError:
    return _err(f"sparse pass: {what} is not modelled", key, suggestion)


class SparseAnalysis:
    def __init__(self, arch: Arch, einsum, nest, counts, sparsity: dict, layer_name: str = ""):
        self.einsum, self.sparsity = einsum, sparsity
        self.arch_file, self.layer_name = arch.source, layer_name
        self.roles = tuple(einsum.roles)
        self.rw = {r: r == "outputs" for r in self.roles}
        arch_memories = {lvl.name: lvl for lvl in counts.levels}
        # Timeloop's storage levels, bottom-up: memories and fan-outs (which keep nothing).
        self.levels, self.arch_index = [], []
        for i, lvl in enumerate(arch.levels):
            if isinstance(lvl, (Memory, Spatial)):
                self.levels.append(lvl)
                self.arch_index.append(i)
        self.levels.reverse()
        self.arch_index.reverse()
        self.names = [lvl.name if isinstance(lvl, Memory) else "" for lvl in self.levels]
        # loops per level, inner → outer (nest order is outer → inner)
        self.subnests = []
        for i in self.arch_index:
            loops = [Loop(nest.dims[nest.loop_dim[j]], int(nest.loop_bound[j]), bool(nest.loop_spatial[j]))
                     for j in range(nest.n_loops) if nest.loop_level[j] == i]
            self.subnests.append(loops[::-1])
        self.records = {}
        for s, lvl in enumerate(self.levels):
            for role in self.roles:
                rec = Record(s, role)
                c = arch_memories[lvl.name].tensors.get(role) if isinstance(lvl, Memory) else None
                if c is not None:
                    rec.shape, rec.reads, rec.fills, rec.updates = c.tile_elements, c.reads, c.fills, c.updates
                    if lvl.sparse is not None:
                        rec.formats = lvl.sparse.format_of(role)
                        rec.flatten = lvl.sparse.flatten_of(role)
                        word = lvl.sparse.metadata_word_bits
                        # a bitmask's metadata is one bit per coordinate unless told otherwise
                        rec.metadata_word_bits = [(1 if f == "B" else word, word) for f in rec.formats]
                self.records[(s, role)] = rec
        for role in self.roles:
            kept = [s for s in range(len(self.levels)) if self.records[(s, role)].shape]
            for inner, outer in pairwise(kept):
                self.records[(inner, role)].parent, self.records[(outer, role)].child = outer, inner
        self.compute_instances = counts.compute_instances
        self.compute_opts = arch.compute.sparse
        self.algorithmic_computes = counts.macs

    def fail(self, exc: SpecError, level: int | None = None) -> SpecError:
        """The error located in the spec: an arch key under the level's `sparse:` (and the arch
        file), or a workload key under the layer's `sparsity:`."""
        p = exc.problems[0]
        if p.key_path.startswith("sparse.") and level is not None:
            key, file = f"levels.{self.arch_index[level]}.memory.{p.key_path}", self.arch_file
        elif p.key_path.startswith("sparsity"):
            key, file = f"layers.{self.layer_name}.{p.key_path}", None
        else:
            key, file = p.key_path, self.arch_file
        return SpecError(Problem(p.message, file, key_path=key, suggestion=p.suggestion))

    # -- geometry ------------------------------------------------------------------------------

    def extents_inside(self, level: int, loop_index: int | None) -> dict:
        """Dim extents of the operation-space tile under (and including) loop `loop_index` of
        `level` (inner → outer index); None: the whole tile of `level`."""
        ext: dict[str, int] = {}
        for s in range(level + 1):
            loops = self.subnests[s] if s < level or loop_index is None else self.subnests[s][:loop_index + 1]
            for lp in loops:
                ext[lp.dim] = ext.get(lp.dim, 1) * lp.bound
        return ext

    def tile_elements(self, role: str, ext: dict) -> int:
        tensor = self.einsum.tensor(role)
        return prod(len(axis_points(axis, ext)) for axis in tensor.axes)

    # -- representation (representation-analyzer.cpp) -----------------------------------------

    def assign_ranks(self, rec: Record) -> None:
        """Each rank's loops and sub-tile (DefineCompressionFormatModels, ApplyRanksOuterToInner):
        ranks take the tile's loops outer → inner, one non-trivial loop each, or, with a flattening
        rule, the run of consecutive loops over the rule's dims; a tensor without a format is one
        rank over the whole tile. A compressed tile over a child that keeps more than one element
        reuses the child's ranks below its own (pre-tiling); otherwise the child's extents fold
        into the innermost loop of their dim."""
        tensor = self.einsum.tensor(rec.role)
        meta = rec.has_metadata
        n = len(rec.formats) if meta else 1
        # outer → inner; '*' flattens every dim of the tensor, whatever the layer's dims are called
        rules = [(set(tensor.dims) if "*" in f else set(f)) if f else None for f in (rec.flatten or (None,) * n)]
        child = self.records[(rec.child, rec.role)] if rec.child is not None else None
        pre_tiling = rec.compressed and child is not None and child.shape > 1
        inner_most = 0 if child is None else child.level + 1
        own = []   # [dim, bound, level, index] outer → inner, over the tensor's dims
        for s in range(rec.level, inner_most - 1, -1):
            for idx in range(len(self.subnests[s]) - 1, -1, -1):
                lp = self.subnests[s][idx]
                if lp.dim in tensor.dims:
                    own.append([lp.dim, lp.bound, s, idx])
        inner_ranks = 0
        if pre_tiling:
            if len(child.rank_loops) > n:
                raise _not_modelled(f"{rec.role} compressed at {self.names[rec.level]} with fewer ranks than its "
                                    "child level", f"sparse.formats.{rec.role}", "give it at least the child's ranks")
            if child.compressed and any(a != b for a, b in zip(rec.formats[::-1], child.formats[::-1])):
                raise _err(f"sparse pass: {rec.role}'s inner ranks at {self.names[rec.level]} differ from its "
                           f"child's formats {list(child.formats)} (Sparseloop's pre-tiling needs them equal)",
                           f"sparse.formats.{rec.role}", "give both levels the same inner ranks")
            inner_ranks = len(child.rank_loops)
        else:
            folded = {}
            for s in range(inner_most):
                for lp in self.subnests[s]:
                    if lp.dim in tensor.dims:
                        folded[lp.dim] = folded.get(lp.dim, 1) * lp.bound
            for entry in reversed(own):   # the innermost loop of a dim takes the folded extent
                if entry[0] in folded:
                    entry[1] *= folded.pop(entry[0])
            if folded:
                if meta and not all(r is not None and set(folded) <= r for r in rules):
                    raise _not_modelled(f"{rec.role} at {self.names[rec.level]}: a dim iterated only inside its "
                                        "child level (Timeloop folds it into a unit loop whose rank the nest does "
                                        "not record)", f"sparse.formats.{rec.role}",
                                        "compress the tensor at the child level too, or flatten its ranks")
                first = own[-1][2:] if own else [inner_most, -1]
                own += [[d, b, *first] for d, b in folded.items()]
        # ApplyRanksOuterToInner; ranks are numbered inner-first as in Timeloop (rank n-1 on top).
        # A rank without loops of its own takes the tile at the innermost loop as its sub-tile
        # (singleton_metadata_subtile_point_set.at(0)); Timeloop's unit loops are not in the nest,
        # so that is the innermost non-unit loop here.
        below = self.tile_elements(rec.role, self.extents_inside(inner_most - 1, None)) if inner_most else 1
        if own:
            s, idx = own[-1][2], own[-1][3]
            below = self.tile_elements(rec.role, self.extents_inside(s, idx)) if idx >= 0 else below
        ranks, tiles = {}, {}
        r, pos = n, 0
        while r > inner_ranks and pos < len(own):
            r -= 1
            rule = rules[n - 1 - r] if meta else None
            if meta and rule is not None and own[pos][0] not in rule:
                ranks[r], tiles[r] = [], below   # a rank the rule keeps empty: a placeholder
                continue
            take = [own[pos]]
            pos += 1
            while pos < len(own) and (not meta or (rule is not None and own[pos][0] in rule)):
                take.append(own[pos])
                pos += 1
            ranks[r] = [(d, b) for d, b, *_ in take]
            s, idx = take[0][2], take[0][3]
            tiles[r] = self.tile_elements(rec.role, self.extents_inside(s, idx) if idx >= 0 else
                                          self.extents_inside(s - 1, None) if s > 0 else {})
        if pos < len(own):
            raise _err(f"sparse pass: {rec.role} at {self.names[rec.level]} needs more ranks than its "
                       f"format {list(rec.formats)} has (one per non-trivial loop of the tile)",
                       f"sparse.formats.{rec.role}", "add a rank (e.g. UOP) per loop over the tensor's dims, or "
                       "flatten dims into one rank")
        while r > inner_ranks:
            r -= 1
            ranks[r], tiles[r] = [], below
        if pre_tiling:
            rank_loops = list(child.rank_loops) + [ranks[i] for i in range(inner_ranks, n)]
            rank_tiles = list(child.rank_tiles) + [tiles[i] for i in range(inner_ranks, n)]
        else:
            rank_loops = [ranks[i] for i in range(n)]
            rank_tiles = [1] + [tiles[i] for i in range(n)]
        rec.rank_loops, rec.rank_tiles = rank_loops, rank_tiles
        fibers = []
        for loops in rank_loops:
            ext = {}
            for d, b in loops:
                ext[d] = ext.get(d, 1) * b
            fibers.append(self.tile_elements(rec.role, ext))
        # outer → inner, as the formats are listed; rank r's sub-tile is rank_tiles[r]
        rec.fiber_shapes = fibers[::-1]
        rec.next_tiles = [rank_tiles[n - 1 - i] for i in range(n)]

    def metadata_given(self, rec: Record, model, k: int) -> list:
        """RankOccupancy per rank (outer → inner) of the tile holding k non-zeros
        (GetMetaDataTileOccupancyGivenDataTile)."""
        out, fibers, cur = [], 1, rec.shape
        for r, (fmt, shape, nxt) in enumerate(zip(rec.formats, rec.fiber_shapes, rec.next_tiles)):
            if shape == 1 and r != 0:
                out.append(EMPTY)
            else:
                out.append(rank_occupancy(fmt, fibers, shape, model.prob_empty_given(cur, rec.shape, k),
                                          model.prob_empty_given(nxt, rec.shape, k)))
            fibers *= shape
            cur = nxt
        for r in range(len(out) - 1, -1, -1):  # the innermost significant rank's payload is the data
            if out[r] != EMPTY:
                out[r] = RankOccupancy(out[r].metadata_units, 0.0)
                break
        return out

    def occupancy(self, rec: Record) -> None:
        """Expected occupancy and metadata (CalculateExpectedOccupancy)."""
        m = self.sparsity.get(rec.role)
        if not rec.has_metadata and m is not None and not hasattr(m, "occupancy_distribution"):
            # a shape-aware model (structured, measured) of a tile stored uncompressed: only its
            # mean matters (nothing is compressed or sized by it)
            rec.occupancy = m.expected_occupancy(rec.shape)
            rec.max_occupancy = rec.shape
            return
        model = rec.tile_model = self.model(rec.role, rec)
        dist = model.occupancy_distribution(rec.shape)
        parent = self.records[(rec.parent, rec.role)] if rec.parent is not None else None
        if parent is not None and parent.has_metadata and dist[0][0] == 0 and dist[0][1] < 1:
            # an empty tile is never sent by a parent that knows it is empty: condition on non-empty
            p0 = dist[0][1]
            dist = [(k, p / (1 - p0)) for k, p in dist[1:]]
        rec.occupancy = sum(k * p for k, p in dist)
        rec.max_occupancy = max(k for k, _ in dist)
        if rec.has_metadata:
            total = [EMPTY] * len(rec.formats)
            for k, p in dist:
                total = [t + o.scaled(p) for t, o in zip(total, self.metadata_given(rec, model, k))]
            rec.metadata = total
            rec.max_metadata = self.metadata_given(rec, model, rec.max_occupancy)

    def metadata_accesses(self, rec: Record) -> None:
        """Metadata accesses in proportion to the data's (CalculateExpectedMetaDataAccesses)."""
        for op, n in (("read", rec.reads), ("fill", rec.fills), ("update", rec.updates)):
            ratio = n / rec.shape
            rec.format_max[op] = [[ceil(m.metadata_units * ratio), ceil(m.payload_units * ratio)] for m in rec.metadata]

    def model(self, role: str, rec: Record | None = None):
        from .density import Dense
        m = self.sparsity.get(role, Dense())
        if isinstance(m, StructuredNM) and rec is not None:
            return self.nm_model(m, rec)
        if not hasattr(m, "occupancy_distribution"):
            raise _not_modelled(f"compressing {role} with the {type(m).__name__} density model (a compressed "
                                "tile's occupancy distribution)", f"sparsity.{role}",
                                "use fixed_structured or hypergeometric for a tensor a level compresses")
        return m

    def nm_model(self, m: StructuredNM, rec: Record):
        """A compressed N:M tile (nm_tiles.py): exact when its tile and its ranks' sub-tiles cover
        whole groups along the axis (or, for a sub-tile, a divisor of the group)."""
        if m.axis not in self.einsum.tensor(rec.role).dims:
            raise _err(f"sparse pass: the N:M axis '{m.axis}' is not a dim of {rec.role}",
                       f"sparsity.{rec.role}.axis", f"use one of {sorted(self.einsum.tensor(rec.role).dims)}")
        subs, ext = [], {}
        for loops in rec.rank_loops[:-1]:      # inner-first; each rank's sub-tile is the ranks below
            for d, b in loops:
                ext[d] = ext.get(d, 1) * b
            subs.append((self.tile_elements(rec.role, ext), ext.get(m.axis, 1)))
        subs.append((1, 1))
        tile_ext = self.extents_inside(rec.level, None).get(m.axis, 1)
        model, why = nm_tile(m, tile_ext, rec.shape, subs)
        if model is not None and any(t not in model.axis_extent for t in rec.next_tiles if t):
            model, why = None, "ranks whose sub-tiles are not whole loops of the tile"
        if model is None:
            raise _not_modelled(f"compressing the {m.n}:{m.m} {rec.role} at {self.names[rec.level]} with {why}",
                                f"sparsity.{rec.role}", "tile the structured dim in multiples of its group at "
                                "this level (a mapping or constraints), or store it uncompressed")
        return model

    # -- gating and skipping (storage-gs-analyzer.cpp) -----------------------------------------

    def prob_tile_empty(self, role: str, ext: dict) -> float:
        """The probability that the condition-on tensor's tile over the operation-space box `ext`
        is empty, from the workload's density model of it."""
        m = self.sparsity.get(role)
        if m is None:
            return 0.0
        if isinstance(m, StructuredNM):
            # aligned runs along the structured axis; the runs across the other dims are
            # independent groups
            run = ext.get(m.axis, 1)
            return m.prob_run_empty(run, self.tile_elements(role, ext) // run)
        if isinstance(m, Measured):
            tensor = self.einsum.tensor(role)
            if any(len(axis) != 1 for axis in tensor.axes):
                raise _not_modelled(f"a measured {role} whose axes are not single dims", f"sparsity.{role}",
                                    "use fixed_structured with the tensor's measured density")
            shape = tuple(ext.get(axis[0].dim, 1) for axis in tensor.axes)
            if len(shape) != m.values.ndim:
                raise _err(f"sparse pass: the measured {role} has {m.values.ndim} axes, the tensor {len(shape)}",
                           f"sparsity.{role}.file", "give a .npy array with one axis per tensor axis")
            return m.prob_tile_empty(shape)
        return m.prob_empty(self.tile_elements(role, ext))

    def optimization_impact(self, level: int, target: str, condition_on: tuple, key: str) -> tuple[int, float]:
        """(the level whose accesses are cut, the probability one is cut) — ComputeIneffectualReadImpact."""
        s = level
        while not self.records[(s, target)].shape:
            s += 1
            if s == len(self.levels):
                raise _err(f"sparse pass: no level at or above {self.names[level]} keeps {target}",
                       key, f"keep {target} at {self.names[level]} or above")
        rec = self.records[(s, target)]
        if rec.child is not None:
            raise _not_modelled(f"gating/skipping {target} at {self.names[s]}, which feeds another level "
                                "keeping it (the condition-on tile is then a tile, not a scalar)", key,
                                "gate or skip it at the innermost level that keeps it")
        # the innermost storage level's loops, inner → outer, with the trivial temporal loops
        # Timeloop keeps for the dims a level does not iterate
        loops = self.subnests[0] + [Loop("", 1, False)]
        first = next(i for i in range(len(loops) - 1) if not loops[i + 1].spatial) if len(loops) > 1 else 0
        if loops[first].spatial:
            raise _not_modelled(f"gating/skipping {target} under a fan-out directly above the compute units",
                                key, "place a storage level between the fan-out and the compute")
        # a scalar of the condition-on tensors; a block of the target's level widens it along the
        # target loop's dim (the block is read as one)
        block = self.levels[s].block_words if isinstance(self.levels[s], Memory) else 1
        effectual = 1.0
        for cond in condition_on:
            ext = {}
            if block > 1 and loops[first].dim:
                ext[loops[first].dim] = block
            effectual *= 1 - self.prob_tile_empty(cond, ext)
        return s, 1 - effectual

    def storage_optimizations(self) -> dict:
        masks = {}
        for kind, label in (("gating", "gated"), ("skipping", "skipped")):
            for s, lvl in enumerate(self.levels):
                if not isinstance(lvl, Memory) or lvl.sparse is None:
                    continue
                for i, (target, cond) in enumerate(getattr(lvl.sparse, kind)):
                    if any(self.einsum.tensor(t) is None for t in (target, *cond)):
                        continue  # a layer without the tensor (a pooling layer's weights): nothing to gate
                    try:
                        at, p = self.optimization_impact(s, target, cond, f"sparse.{kind}.{i}")
                    except SpecError as exc:
                        raise self.fail(exc, s) from None
                    if (at, target) not in masks or masks[(at, target)][1] < p:
                        masks[(at, target)] = (label, p)
        return masks

    # -- combining (storage-optimization-combiner.cpp) ------------------------------------------

    def apply_local(self, rec: Record, p: float, kind: str) -> None:
        """ApplyLocalStorageSAFImpact: a share p of the reads (ceil for read-write tensors, whose
        first write has no read) and updates, and of their metadata, become gated or skipped."""
        reads, updates = rec.data["random_read"], rec.data["random_update"]
        delta = ceil(reads * p) if self.rw[rec.role] else floor(reads * p)
        rec.data[f"{kind}_read"] += delta
        rec.data["random_read"] = reads - delta
        d_up = floor(updates * p)
        rec.data[f"{kind}_update"] += d_up
        rec.data["random_update"] = updates - d_up
        child_ranks = len(self.records[(rec.child, rec.role)].formats) if rec.child is not None else len(rec.formats)
        for r in range(min(child_ranks, len(rec.formats))):
            for t in (0, 1):
                for op in ("read", "update"):
                    d = floor(rec.fmt[f"random_metadata_{op}"][r][t] * p)
                    rec.fmt[f"random_metadata_{op}"][r][t] -= d
                    rec.fmt[f"{kind}_metadata_{op}"][r][t] += d

    def combine(self, masks: dict) -> float:
        """Representation impact, then each gated/skipped tensor's impact on itself and the
        levels below (PropagateImpactOfExplicitlyOptimizedRead); returns the computes left."""
        for rec in self.records.values():
            if not rec.shape:
                continue
            rec.data = {f"{k}_{op}": 0 for k in ("random", "gated", "skipped") for op in DATA_OPS}
            rec.data.update(random_read=rec.reads, random_fill=rec.fills, random_update=rec.updates)
            rec.fmt = {f"{k}_metadata_{op}": [[0, 0] for _ in rec.formats]
                       for k in ("random", "gated", "skipped") for op in DATA_OPS}
            if rec.has_metadata:
                sparsity = 1 - rec.density
                rec.data["random_read"] = rec.reads - floor(rec.reads * sparsity)
                rec.data["random_fill"] = rec.fills - floor(rec.fills * sparsity)
                if self.rw[rec.role]:
                    rec.data["random_update"] = rec.updates - floor(rec.updates * sparsity)
        n = len(self.levels)
        # Timeloop's max_* bounds; a level that does not keep the tensor has none
        mx = {key: {op: rec.data.get(f"random_{op}", 0) for op in DATA_OPS} for key, rec in self.records.items()}
        mfmt = {key: {op: [list(x) for x in rec.format_max.get(op, [])] for op in DATA_OPS}
                for key, rec in self.records.items()}
        computes = float(self.algorithmic_computes)
        self.gs_operand, self.innermost_p = {}, {}
        done = set()
        for role in self.roles:
            for s in range(n - 1, -1, -1):
                if (s, role) not in masks:
                    continue
                kind, p = masks[(s, role)]
                below = s - 1
                while below >= 0:
                    key = (below, role)
                    for op in DATA_OPS:
                        mx[key][op] -= floor(mx[key][op] * p)
                    if self.records[key].has_metadata:
                        top = len(mfmt[(s, role)]["read"]) - 1
                        top = top if top >= 0 else 2**64 - 1   # an unsigned size() - 1 in Timeloop
                        for op in ("fill", "read"):
                            _scale(mfmt[key][op], p, min(len(mfmt[key][op]), top))
                        _scale(mfmt[key]["update"], p, len(mfmt[key]["update"]))
                    if key in masks:
                        rec = self.records[key]
                        local_kind, local_p = masks[key]
                        rec.data.update({f"random_{op}": mx[key][op] for op in DATA_OPS})
                        rec.fmt["random_metadata_fill"] = mfmt[key]["fill"]
                        # Timeloop copies the update bound into the read metadata here
                        # (storage-optimization-combiner.cpp), kept for parity
                        rec.fmt["random_metadata_read"] = [list(x) for x in mfmt[key]["update"]]
                        rec.fmt["random_metadata_update"] = mfmt[key]["update"]
                        self.apply_local(rec, 1 - (1 - local_p) / (1 - p), local_kind)
                        done.add(key)
                        break
                    below -= 1
                key = (s, role)
                if key not in done:
                    done.add(key)
                    rec = self.records[key]
                    rec.data.update({f"random_{op}": mx[key][op] for op in DATA_OPS})
                    for op in DATA_OPS:
                        rec.fmt[f"random_metadata_{op}"] = mfmt[key][op]
                    self.apply_local(rec, p, kind)
                if below < 0 and not self.rw[role]:
                    computes -= floor(computes * p)
                    self.gs_operand[role] = True
                    self.innermost_p[role] = round(p * 1e6) / 1e6
        for key, rec in self.records.items():
            if rec.shape and key not in masks:
                rec.data.update({f"random_{op}": mx[key][op] for op in DATA_OPS})
                for op in DATA_OPS:
                    rec.fmt[f"random_metadata_{op}"] = mfmt[key][op]
        return computes

    def compression_costs(self) -> None:
        """An uncompressed tile under a compressed parent decompresses what it is filled with and,
        read-write, compresses what the parent is updated with (CalculateDecompressionCompressionCost)."""
        for rec in self.records.values():
            if not rec.shape:
                continue
            rec.data["decompression_count"] = rec.data["compression_count"] = 0
        for rec in self.records.values():
            parent = self.records.get((rec.parent, rec.role)) if rec.parent is not None else None
            if rec.shape and not rec.compressed and parent is not None and parent.compressed:
                if self.rw[rec.role]:
                    rec.data["compression_count"] += parent.data["random_update"]
                rec.data["decompression_count"] += rec.data["random_fill"]

    # -- compute (compute-gs-analyzer.cpp, two operands, no compute optimization) ---------------

    def compute_split(self, total: float) -> dict:
        operands = [r for r in self.roles if not self.rw[r]]
        if len(operands) == 1 and not self.gs_operand.get(operands[0]) and (
                not self.compute_opts or self.sparsity.get(operands[0]) is None):
            # one operand (a pooling window) and nothing that gates or skips it (no storage cut, and
            # no compute option or a dense operand, which has no zero to gate): every compute happens
            return {"random_compute": total, "gated_compute": 0.0, "skipped_compute": 0.0}
        if len(operands) != 2:
            raise _not_modelled("a compute with other than two operands", "sparsity", "")
        state = {}
        for role in operands:
            rec = next((self.records[(s, role)] for s in range(len(self.levels)) if self.records[(s, role)].shape), None)
            m = self.sparsity.get(role)
            d = 1.0 if m is None else round(1e6 * m.expected_occupancy(1)) / 1e6
            state[role] = (d, rec is not None and rec.has_metadata)
        probs = {}
        for role in operands:
            d, meta = state[role]
            other = next(r for r in operands if r != role)
            if self.gs_operand.get(other):  # its zeros already cut these computes: condition on non-empty
                d = min(1.0, d / (1 - self.innermost_p[other]))
            probs[role] = {"ENZ": d, "EZ": 0.0 if meta else 1 - d, "NE": 1 - d if meta else 0.0}
        a, b = (probs[r] for r in operands)
        flat = {(x, y): a[x] * b[y] for x in a for y in b}
        gate = bool(self.compute_opts and self.compute_opts.gate_on_zero_operand)
        skip = bool(self.compute_opts and self.compute_opts.skip_on_not_aligned_operands)
        random = total * flat[("ENZ", "ENZ")]
        gated = skipped = 0.0
        # a zero operand (both exist): gated or computed
        delta = total * (flat[("ENZ", "EZ")] + flat[("EZ", "ENZ")] + flat[("EZ", "EZ")])
        gated, random = (gated + delta, random) if gate else (gated, random + delta)
        # one operand missing from a compressed stream: skipped, gated or a bubble that computes
        for pair in ((("ENZ", "NE"), ("NE", "ENZ")), (("EZ", "NE"), ("NE", "EZ"))):
            delta = total * sum(flat[p] for p in pair)
            if skip:
                skipped += delta
            elif gate:
                gated += delta
            else:
                random += delta
        nonexistent = total * flat[("NE", "NE")]
        # CalculateFineGrainedComputeAccesses2Operand: floors of the cut shares, the rest actual
        return {"random_compute": int(total - floor(skipped) - floor(gated) - floor(nonexistent)),
                "gated_compute": floor(gated), "skipped_compute": floor(skipped)}

    # -- the pass -------------------------------------------------------------------------------

    def run(self) -> SparseResult:
        for s in range(len(self.levels)):   # bottom-up: a child's ranks before its parent's
            for role in self.roles:
                rec = self.records[(s, role)]
                if rec.shape:
                    try:
                        self.assign_ranks(rec)
                        self.occupancy(rec)
                    except SpecError as exc:
                        raise self.fail(exc, s) from None
                    if rec.has_metadata:
                        self.metadata_accesses(rec)
        masks = self.storage_optimizations()
        total = self.combine(masks)
        self.compression_costs()
        computes = self.compute_split(total)
        computes["algorithmic"] = self.algorithmic_computes
        kept = {k: r for k, r in self.records.items() if r.shape}
        return SparseResult(kept, self.names, computes, masks)


def _scale(per_rank: list, p: float, lower: int, upper: int = 0) -> None:
    """ScalePerTileFormatAccesses(accesses, p, lower, upper): ranks lower..upper in Timeloop's
    inner-first numbering. The combiner calls it with upper 0, so only the innermost rank is
    scaled, and only when lower is 0; kept as Timeloop does it."""
    n = len(per_rank)
    for tl_id in range(lower, upper + 1):
        if tl_id >= n:
            break
        r = n - 1 - tl_id
        per_rank[r][0] -= floor(per_rank[r][0] * p)
        per_rank[r][1] -= floor(per_rank[r][1] * p)


def analyze_sparse(arch: Arch, einsum, nest, counts, sparsity: dict, layer_name: str = "") -> SparseResult:
    return SparseAnalysis(arch, einsum, nest, counts, sparsity, layer_name).run()
