"""A mapping's data movement in the normalized energy units Eyeriss's own mapper used.

Chen, Emer, Sze, "Eyeriss: A Spatial Architecture for Energy-Efficient Dataflow for CNNs", ISCA 2016,
its analysis framework and Table IV: a dataflow's energy is the accesses at each level of the
hierarchy times that level's cost relative to a MAC in a commercial 65 nm process, DRAM 200×,
global buffer 6×, the array's network 2×, a PE's register file 1×; the framework searches each
layer's mapping of least such energy under the storage limits. The rs template scores its candidate
mappings with it (mapping/rs_temporal.py). An estimate to choose between a template's own options,
not the counting core (accelsim/counting), which gives the counts a result reports.
"""
from __future__ import annotations

from itertools import pairwise
from math import prod

from ..counting.point_sets import axis_size
from ..counting.reuse import axis_terms
from ..ir.arch import Arch, Memory, Spatial
from ..ir.einsum import Einsum

# ISCA 2016 Table IV, per word, relative to a MAC
DRAM_COST, BUFFER_COST, NOC_COST, RF_COST = 200, 6, 2, 1


class MovementCost:
    """The movement cost of mappings of one layer on one arch (tile sizes cached between them)."""

    def __init__(self, arch: Arch, einsum: Einsum):
        self.dims = einsum.dims
        fanouts = [i for i, l in enumerate(arch.levels) if isinstance(l, Spatial)]
        first = fanouts[0] if fanouts else len(arch.levels)
        # Each memory's cost per word: DRAM, a buffer above the first fan-out, or a PE's own storage.
        self.costs = {i: DRAM_COST if l.kind == "dram" else BUFFER_COST if i < first else RF_COST
                      for i, l in enumerate(arch.levels) if isinstance(l, Memory)}
        self.tensors = []  # (axes, dims, is outputs, [(parent, child, network cost)])
        for t in einsum.tensors:
            keepers = [i for i in self.costs if t.role in arch.levels[i].keeps]
            hops = [(p, c, NOC_COST if any(p < f < c for f in fanouts) else 0) for p, c in pairwise(keepers)]
            self.tensors.append((t.axes, t.dims, t.role == "outputs", hops))
        self._words = {}

    def tile_words(self, n: int, bounds: dict) -> int:
        """Words of tensor n's contiguous tile (each dim's loops inside it form one interval)."""
        key = (n, tuple(bounds[d] for d in self.dims))
        words = self._words.get(key)
        if words is None:
            loops = [(d, b, 1) for d, b in bounds.items() if b > 1]
            words = self._words[key] = prod(axis_size(axis_terms(axis, loops)) for axis in self.tensors[n][0])
        return words

    def __call__(self, loops: dict) -> int:
        """Normalized energy of moving every tensor between the memories that keep it under `loops`
        (level index -> loops outer → inner).

        Between a memory and the next one down that keeps a tensor, the child's tile (its own loops
        and everything below) is filled once per iteration of the temporal loops above the child, up
        to the innermost one over a dim the tensor indexes (the loops inside it leave the tile in
        place). The parent sends each fill once to all the children that need it (a fan-out in
        between multicasts: its loops widen the parent's words to the union of the children's tiles,
        halos shared); every child writes its own copy, across the network. Partial sums go back up
        and, past their first visit, come down again. The MACs' own reads and the array's spatial
        reduction are the same for every candidate of one spatial plan and are left out."""
        flat = [(i, l.dim, l.bound, l.axis is not None) for i in sorted(loops) for l in loops[i] if l.bound > 1]
        total = 0
        for n, (_, dims, outputs, hops) in enumerate(self.tensors):
            for parent, child, noc in hops:
                above = [(d, b) for i, d, b, spatial in flat if i < child and not spatial and i in self.costs]
                last = max((k for k, (d, _) in enumerate(above) if d in dims), default=-1)
                visits = prod(b for d, b in above[:last + 1] if d in dims)
                fills = visits * prod(b for d, b in above[:last + 1] if d not in dims)
                own = dict.fromkeys(self.dims, 1)
                union = dict.fromkeys(self.dims, 1)
                parents = children = 1  # instances: the parent's, and the children's in all
                for i, d, b, spatial in flat:
                    if i >= child:
                        own[d] *= b
                        union[d] *= b
                    elif spatial:
                        children *= b
                        if i > parent:
                            union[d] *= b
                        else:
                            parents *= b
                moves = 2 * fills - visits if outputs else fills
                total += moves * (self.tile_words(n, union) * parents * self.costs[parent]
                                  + self.tile_words(n, own) * children * (self.costs[child] + noc))
        return total
