"""Row stationary's temporal loops: each PE's primitive in its spads, then the global buffer's tiling
and the loop orders, chosen as Eyeriss's own mapper chose them (Chen, Emer, Sze, ISCA 2016: its
analysis framework also searches each layer's most energy-efficient mapping; Chen et al., JSSC 52(1)
2017, Sec. IV–V): among a few candidate mappings, the one of least data-movement energy in the
paper's normalized costs (mapping/movement_cost.py).

1. *The primitive* (the spads): the row's taps, the PE's channels (q), its filters (p), the row's
   outputs, each the largest divisor that fits, from the innermost spad outwards. A loop over a dim
   the filters depend on sits only at or below the filter spad: the PE's filter rows stay in their
   spad while ifmaps slide past and psums accumulate (a loop above it over filters would stream
   filters into the PE for every ifmap window).
2. *The global buffer* holds a pass's ifmaps and psums: it is given the output channels whose psums
   it keeps (m: each divisor of what the spads leave, the paper's own mapping parameter), then the
   images sharing the pass's filters (n) and the ofmap plane (the row's width, then more rows) in
   either order, then more output channels if room is left, then the channel groups; what is left
   runs at the top memory.
3. *Orders*: in the buffers, the plane innermost (the pass's filters stay in the spads while its
   ifmaps stream over the plane) or the channel groups innermost (psums accumulate in the buffer);
   at the top, the channel groups innermost (psums stay on chip), then the six orders of the plane,
   the output channels and the images.

Each candidate is scored with the movement cost; the first of the least wins. Per layer: one fill
per divisor of m and order (2-10), 8 cost evaluations each; 2-7 ms per conv layer of AlexNet and
VGG-16 on this project's 2-core machine (the fill it replaced took 5-13 ms).
"""
from __future__ import annotations

from itertools import permutations, product
from math import prod

from ..ir.arch import Arch, Memory, Spatial
from ..ir.einsum import Einsum
from ..ir.factors import divisors
from .mapping import Loop
from .movement_cost import MovementCost


def rs_temporal(arch: Arch, einsum: Einsum, classes: dict, pairs: list, spatial: dict, remaining: dict,
                below: dict) -> dict[int, list[Loop]] | None:
    """Loops (outer → inner) of every memory level; `spatial` holds the fan-outs' loops, `remaining`
    what they leave of each dim, `below[j]` each dim's spatial factor under memory j. None without a
    sliding window (a matmul: the generic rule)."""
    if not pairs:
        return None
    memories = [i for i, l in enumerate(arch.levels) if isinstance(l, Memory)]
    fanout = next((i for i, l in enumerate(arch.levels) if isinstance(l, Spatial)), len(arch.levels))
    fill = _Filler(arch, einsum, memories, fanout, below)
    col_tap, col_out = [t for _, t in pairs[1:2]], [o for o, _ in pairs[1:2]]
    row_out = [o for o, _ in pairs[:1]]
    outs = row_out + col_out
    reduction, out_channel = classes["reduction"], classes["out_channel"]
    batch = [d for d in classes["out_pixel"] if d not in outs]
    others = batch + classes["shared"]

    primitive = col_tap + [d for d in reduction if d not in col_tap] + out_channel + col_out
    left, chosen = dict(remaining), {i: {} for i in memories}
    fill(primitive, "inside", left, chosen)
    inside = primitive + [d for d in einsum.dims if d not in primitive]  # innermost first
    base = dict(spatial)
    for i in memories[1:]:
        if i > fanout:
            base[i] = _nest(chosen[i], inside)

    cost = MovementCost(arch, einsum)
    mids = [outs + reduction + out_channel + others, reduction + outs + out_channel + others]
    tops = [reduction + [d for g in perm for d in g] for perm in permutations([outs, out_channel, others])]
    best, seen = None, set()
    # The buffers' psum room for m output channels: each divisor of what the spads leave of the first
    # output-channel dim, then the images and the plane in either order, then more output channels
    # if room is left, then the channel groups.
    first = out_channel[:1]
    caps = divisors(left[first[0]]) if first else [1]
    for cap, order in product(caps, permutations([batch, col_out + row_out])):
        l2, c2 = dict(left), {i: dict(f) for i, f in chosen.items()}
        fill(first, "outside", l2, c2, cap)
        for dims in order:
            fill(dims, "outside", l2, c2)
        fill(out_channel, "outside", l2, c2)
        fill(reduction, "outside", l2, c2)
        fill(reduction + classes["out_pixel"] + classes["shared"], "any", l2, c2)
        key = (tuple(sorted(l2.items())), tuple((i, tuple(sorted(f.items()))) for i, f in c2.items()))
        if key in seen:
            continue  # another order filled the buffers the same way
        seen.add(key)
        trial = dict(base)
        for i in memories[1:]:
            if i > fanout:
                trial[i] = _nest(c2[i], inside)
        # The buffers' order with the top's first one, then the top's order with the best of those.
        picks = []
        for mid in mids:
            for i in memories[1:]:
                if i < fanout:
                    trial[i] = _nest(c2[i], mid)
            trial[memories[0]] = _nest(l2, tops[0])
            picks.append((cost(trial), mid))
        mid = min(picks, key=lambda p: p[0])[1]
        for i in memories[1:]:
            if i < fanout:
                trial[i] = _nest(c2[i], mid)
        for top in tops:
            trial[memories[0]] = _nest(l2, top)
            score = cost(trial)
            if best is None or score < best[0]:
                best = (score, dict(trial))
    return best[1]


def _nest(factors: dict, inner_first: list[str]) -> list[Loop]:
    """A level's loops, outer → inner, from its factors and an order that lists the innermost first."""
    return [Loop(d, factors[d]) for d in reversed(inner_first) if factors.get(d, 1) > 1]


class _Filler:
    """Gives dims, in order, the largest divisor of what is left that fits, memory by memory from the
    innermost outwards, in the PEs ('inside' the fan-out), above them ('outside') or anywhere."""

    def __init__(self, arch: Arch, einsum: Einsum, memories: list[int], fanout: int, below: dict):
        self.arch, self.einsum, self.fanout, self.below = arch, einsum, fanout, below
        self.memories = memories
        self.bounded = [j for j in memories if arch.levels[j].capacity_words is not None]
        self.cost = MovementCost(arch, einsum)  # for its cached tile sizes
        roles = {t.role: n for n, t in enumerate(einsum.tensors)}
        self.kept = {j: [roles[r] for r in arch.levels[j].keeps if r in roles] for j in memories}
        # dims a PE memory may iterate: none the filters depend on if a spad below it keeps them
        # (the PE's filter rows stay put while ifmaps slide past and psums accumulate)
        weights = einsum.tensor("weights")
        held = weights.dims if weights is not None else frozenset()
        self.pe_dims = {i: {d for d in einsum.dims
                            if d not in held or not any("weights" in arch.levels[j].keeps for j in memories if j > i)}
                        for i in memories if i > fanout}

    def fits(self, chosen: dict, level: int) -> bool:
        """Does every bounded memory at or above `level` hold its tiles (its loops, the memories'
        below it and the fan-outs below it)? Levels below are unchanged by a loop at `level`."""
        for j in self.bounded:
            if j > level:
                break
            bounds = {d: prod(chosen[k].get(d, 1) for k in self.memories if k >= j) * self.below[j][d]
                      for d in self.einsum.dims}
            if sum(self.cost.tile_words(n, bounds) for n in self.kept[j]) > self.arch.levels[j].capacity_words:
                return False
        return True

    def __call__(self, dims: list[str], where: str, left: dict, chosen: dict, cap: int | None = None) -> None:
        """`cap`: the most these dims may take in all (None: no limit but the memories')."""
        for i in reversed(self.memories[1:]):
            inside = i > self.fanout
            if (where == "inside" and not inside) or (where == "outside" and inside):
                continue
            for d in dims:
                if left[d] == 1 or (inside and d not in self.pe_dims[i]):
                    continue
                for f in sorted(divisors(left[d]), reverse=True):
                    if f == 1:
                        break
                    if cap is not None and f > cap:
                        continue
                    before = chosen[i].get(d, 1)
                    chosen[i][d] = before * f
                    if self.fits(chosen, i):
                        left[d] //= f
                        cap = None if cap is None else cap // f
                        break
                    if before == 1:
                        del chosen[i][d]
                    else:
                        chosen[i][d] = before
