"""Hypothesis strategies shared by the invariant tests: random layers and legal mappings on a
DRAM → GLB → PE fan-out (x ≤ 8) → RF chain."""
from hypothesis import strategies as st

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
