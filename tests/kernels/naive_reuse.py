"""Slow, obvious reference for tile loads: walk every iteration with explicit point sets."""
from itertools import product


def tile_points(axes, tile_loops, base):
    """The set of tensor points a tile covers, given each dim's base index."""
    ranges = [range(b) for _, b, _ in tile_loops]
    points = set()
    for idx in product(*ranges):
        value = dict(base)
        for (d, _, stride), i in zip(tile_loops, idx):
            value[d] = value.get(d, 0) + i * stride
        points.add(tuple(sum(t.coef * value.get(t.dim, 0) for t in axis) for axis in axes))
    return points


def visits(outer, extrapolate):
    """(index tuple, weight) of each tile visit, in nest order.

    Exact: every iteration. Extrapolated (Timeloop): each loop runs iteration 0, then
    iteration 1 standing for the remaining bound − 1 iterations.
    """
    if not extrapolate:
        for idx in product(*[range(b) for _, b, _ in outer]):
            yield idx, 1
        return

    def walk(k, prefix, weight):
        if k == len(outer):
            yield tuple(prefix), weight
            return
        yield from walk(k + 1, prefix + [0], weight)
        if outer[k][1] > 1:
            yield from walk(k + 1, prefix + [1], weight * (outer[k][1] - 1))
    yield from walk(0, [], 1)


def naive_tile_loads(axes, tile_loops, outer, extrapolate=True):
    """Reuse only while the tile's translation repeats; explicit point sets."""
    total, prev, prev_translation, prev_origin = 0, None, None, None
    for idx, weight in visits(outer, extrapolate):
        base = {}
        for (d, _, stride), i in zip(outer, idx):
            base[d] = base.get(d, 0) + i * stride
        points = tile_points(axes, tile_loops, base)
        origin = tuple(sum(t.coef * base.get(t.dim, 0) for t in axis) for axis in axes)
        if prev is None:
            total += weight * len(points)
        else:
            translation = tuple(o - p for o, p in zip(origin, prev_origin))
            if prev_translation is None or translation == prev_translation:
                total += weight * len(points - prev)
                prev_translation = translation
            else:
                total += weight * len(points)
                prev_translation = None
        prev, prev_origin = points, origin
    return total
