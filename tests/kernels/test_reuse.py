"""The slow reference's tile_loads (uniform-loop extrapolation, closed-form overlaps) against a full walk
with point sets, and tile_size against the point set."""
from hypothesis import given, settings, strategies as st

from accelsim.ir.einsum import parse_einsum
from accelsim.counting.reuse import tile_size
from naive_analytical import tile_loads
from naive_reuse import naive_tile_loads, tile_points

EINSUM = parse_einsum("O[k,p] += I[c,2*p+r] * W[c,k,r]", {"c": 4, "k": 4, "r": 3, "p": 8})


def test_t03_register_file_inputs():
    # Timeloop T03 worked example: RF tile R3 under K16 P16 loads 288 inputs.
    e = parse_einsum("O[k,p] += I[p+r] * W[k,r]", {"k": 32, "r": 3, "p": 16})
    tile = [("k", 2, 1), ("r", 3, 1)]
    outer = [("k", 16, 2), ("p", 16, 1)]
    axes = e.tensor("inputs").axes
    assert tile_loads(axes, tile, outer) == 288 == naive_tile_loads(axes, tile, outer)
    assert naive_tile_loads(axes, tile, outer, extrapolate=False) == 288


def test_known_divergence_of_extrapolation_from_the_full_walk():
    # Stride-2 windows of 3 taps with the tap loop inside the output loop: the last tap of
    # one window is the first of the next, so the exact walk reuses it (68 loads), while
    # Timeloop's extrapolation (iteration 1 standing for all later ones) reloads (96).
    # accelsim follows Timeloop here; docs/concepts.md states the limitation.
    axes = EINSUM.tensor("inputs").axes
    tile, outer = [("c", 4, 1)], [("p", 8, 1), ("r", 3, 1), ("k", 4, 1)]
    assert tile_loads(axes, tile, outer) == 96 == naive_tile_loads(axes, tile, outer)
    assert naive_tile_loads(axes, tile, outer, extrapolate=False) == 68


@st.composite
def nests(draw):
    """Split each dim of EINSUM into (outer loops) and (tile loops) with random orders."""
    loops = []
    for dim, bound in EINSUM.bound.items():
        inner = draw(st.sampled_from([d for d in range(1, bound + 1) if bound % d == 0]))
        mid = draw(st.sampled_from([d for d in range(1, bound // inner + 1) if (bound // inner) % d == 0]))
        outer = bound // inner // mid
        loops += [(dim, inner, 1, "tile"), (dim, mid, inner, "outer"), (dim, outer, inner * mid, "outer")]
    outer_loops = [l[:3] for l in draw(st.permutations([l for l in loops if l[3] == "outer"])) if l[1] > 1]
    tile = [l[:3] for l in loops if l[3] == "tile"]
    return tile, outer_loops


@settings(max_examples=200, deadline=None)
@given(nests(), st.sampled_from(["inputs", "weights", "outputs"]))
def test_tile_loads_matches_full_walk(nest, role):
    tile, outer = nest
    axes = EINSUM.tensor(role).axes
    assert tile_size(axes, tile) == len(tile_points(axes, tile, {}))
    assert tile_loads(axes, tile, outer) == naive_tile_loads(axes, tile, outer)
