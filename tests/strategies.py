"""Hypothesis strategies shared by the invariant tests: random layers and legal mappings on a
DRAM → GLB → PE fan-out (x ≤ 8) → RF chain (draw_conv1d, draw_mapping), and on any arch
(draw_small_einsum, draw_nested_mapping)."""
from hypothesis import strategies as st

from accelsim.ir.arch import Memory, Spatial
from accelsim.ir.einsum import parse_einsum
from accelsim.mapping.mapping import LevelMapping, Loop, Mapping

LEVELS = ("DRAM", "GLB", "PE", "RF")


def draw_conv1d(draw):
    """A conv1d with input and output channels, stride 1 or 2, dilation 1 or 3 (stride 2 with
    dilation 3 makes input tiles with irregular holes), small random bounds."""
    c, k, r, p = (draw(st.sampled_from([1, 2, 3, 4, 6])) for _ in range(4))
    stride, dilation = draw(st.sampled_from([1, 2])), draw(st.sampled_from([1, 1, 3]))
    index = f"{'' if stride == 1 else '2*'}p+{'' if dilation == 1 else '3*'}r"
    return parse_einsum(f"O[k,p] += I[c,{index}] * W[c,k,r]", {"c": c, "k": k, "r": r, "p": p})


def draw_mapping(draw, einsum) -> Mapping:
    """Random factors per level, random loop orders, random bypass at GLB and RF."""
    levels = {name: [] for name in LEVELS}
    spatial_x = 1
    for dim in draw(st.permutations(list(einsum.bound))):
        remaining = einsum.bound[dim]
        for name in ("RF", "PE", "GLB"):
            f = draw(st.sampled_from([d for d in range(1, remaining + 1) if remaining % d == 0]))
            if name == "PE":
                if spatial_x * f > 8:
                    f = 1
                spatial_x *= f
            if f > 1:
                levels[name].append(Loop(dim, f, "x" if name == "PE" else None))
            remaining //= f
        if remaining > 1:
            levels["DRAM"].append(Loop(dim, remaining))
    for name in ("DRAM", "GLB", "RF"):
        levels[name] = draw(st.permutations(levels[name]))
    bypass = {n: frozenset(draw(st.sets(st.sampled_from(["inputs", "weights", "outputs"]), max_size=2)))
              for n in ("GLB", "RF")}
    return Mapping(tuple(LevelMapping(n, tuple(levels[n]), bypass.get(n, frozenset())) for n in LEVELS))


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def draw_small_einsum(draw):
    """A conv1d (draw_conv1d), a GEMM, a 2-D conv (stride 1 or 2, dilation 1 or 2) or a depthwise
    2-D conv, with small bounds, some of them 1."""
    kind = draw(st.sampled_from(["conv1d", "gemm", "conv2d", "depthwise"]))
    if kind == "conv1d":
        return draw_conv1d(draw)
    if kind == "gemm":
        m, n, k = (draw(st.sampled_from([1, 2, 3, 4, 6, 8, 12])) for _ in range(3))
        return parse_einsum("O[m,n] += I[m,k] * W[k,n]", {"m": m, "n": n, "k": k})
    stride, dilation = draw(st.sampled_from([1, 2])), draw(st.sampled_from([1, 1, 2]))
    sp, dl = ("" if stride == 1 else f"{stride}*"), ("" if dilation == 1 else f"{dilation}*")
    if kind == "conv2d":
        return parse_einsum(f"O[k,p,q] += I[c,{sp}p+{dl}r,{sp}q+{dl}s] * W[c,k,r,s]",
                            {d: draw(st.sampled_from([1, 2, 3])) for d in "ckrspq"})
    return parse_einsum(f"O[c,p,q] += I[c,{sp}p+{dl}r,{sp}q+{dl}s] * W[c,r,s]",
                        {d: draw(st.sampled_from([1, 2, 3])) for d in "crspq"})


def draw_nested_mapping(draw, arch, einsum) -> Mapping:
    """A legal mapping on any arch. Each dim's bound is split over the memory levels and fan-out
    axes (of size > 1) visited in a random order, each taking a random divisor of what is left
    and, at random, a second one (a dim in two loops at one level, or two spatial loops on one
    axis); the outermost memory takes what is left. The random order puts a dim's spatial loops
    above its temporal loops as often as below; with fan-outs at several depths and random loop
    orders per level, any interleaving of a dim's loops occurs. Random bypass below the
    outermost memory (any subset of what the level keeps)."""
    names = [l.name for l in arch.levels[:-1]]
    loops = {name: [] for name in names}
    room, slots = {}, []
    for level in arch.levels[:-1]:
        if isinstance(level, Spatial):
            for axis, size in (("x", level.x), ("y", level.y)):
                if size > 1:
                    room[(level.name, axis)] = size
                    slots.append((level.name, axis))
        else:
            slots.append((level.name, None))
    for dim in draw(st.permutations(list(einsum.bound))):
        remaining = einsum.bound[dim]
        for name, axis in draw(st.permutations(slots)):
            for again in (False, True):
                if remaining == 1 or (again and not draw(st.booleans())):
                    break
                fits = [d for d in _divisors(remaining) if axis is None or d <= room[(name, axis)]]
                f = draw(st.sampled_from(fits + [d for d in fits if 1 < d < remaining]))  # favour splits
                if f > 1:
                    if axis is not None:
                        room[(name, axis)] //= f
                    loops[name].append(Loop(dim, f, axis))
                    remaining //= f
        if remaining > 1:
            loops[names[0]].append(Loop(dim, remaining))
    bypass = {l.name: frozenset(draw(st.sets(st.sampled_from(sorted(l.keeps)))))
              for l in arch.levels[1:-1] if isinstance(l, Memory) and l.keeps}
    return Mapping(tuple(LevelMapping(n, tuple(draw(st.permutations(loops[n]))), bypass.get(n, frozenset()))
                         for n in names))
