"""An N:M tensor's tiles as the representation pass needs them (a compressed N:M tensor).

Deterministic, no distribution: a tile that covers whole aligned groups of M along the structured
axis holds exactly N/M of its elements. A rank's sub-tile of `e` elements of the axis (and `o`
independent runs across the other dims) is empty with the probability that each run is: 0 when
it covers whole groups, the hypergeometric share C(M-e, N)/C(M, N) per run when it lies inside one
group (e divides M). Other tilings straddle groups unevenly and are a clear error."""
from __future__ import annotations

from dataclasses import dataclass

from .density import StructuredNM


@dataclass(frozen=True)
class NMTile:
    model: StructuredNM
    axis_extent: dict      # sub-tile elements -> its extent along the structured axis

    def occupancy_distribution(self, tile: int) -> list[tuple[int, float]]:
        e = self.axis_extent[tile]
        assert e % self.model.m == 0, "checked by nm_tile()"
        return [(tile * self.model.n // self.model.m, 1.0)]

    def prob_empty_given(self, sub: int, tile: int, k: int) -> float:
        if sub == 0 or k == 0:
            return 1.0
        e = self.axis_extent[sub]
        if e % self.model.m == 0:
            return 0.0
        return self.model.prob_run_empty(e, sub // e)

    def expected_occupancy(self, tile: int) -> float:
        return self.model.expected_occupancy(tile)


def nm_tile(model: StructuredNM, tile_axis_extent: int, tile: int, sub_tiles: list[tuple[int, int]]):
    """The tile model, or the reason it is not exact: (NMTile, None) or (None, message).
    `sub_tiles`: (elements, extent along the axis) of each rank's sub-tile."""
    m = model.m
    if tile_axis_extent % m:
        return None, (f"a tile covering {tile_axis_extent} elements of {model.axis}, not whole groups of {m}")
    extents = {tile: tile_axis_extent}
    for elements, e in sub_tiles:
        if e % m and m % e:
            return None, f"a rank's sub-tile covering {e} elements of {model.axis}, straddling groups of {m}"
        if extents.setdefault(elements, e) != e:
            return None, f"two sub-tiles of {elements} elements with different extents along {model.axis}"
    return NMTile(model, extents), None
