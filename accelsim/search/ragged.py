"""Ragged tiles for the mapper. A layer whose best dense mapping fills every fan-out position is
done; otherwise the mapper searches again in the ragged mapspace (search/mapspace.py: rows whose
factors multiply to more than the dim, a smaller last tile), whose best points are counted exactly
by counting/ragged_kernel.py (search/mapper.best_points). The layer padded to each fan-out side
(mapping/ragged.py: padded_layers), searched densely and shrunk onto the real dims (unpad), gives
more candidates: those points are in the ragged mapspace too, but a heuristic search of the larger
space does not always reach them (eyeriss_like's ResNet-50: 26 of 56 layers). The objective picks
among the dense best, the ragged search's and the padded layers', so the answer is never worse by
the objective than either way alone. The ragged search gets a quarter of the layer's evaluation
budget (RAGGED_SHARE; exhaustive only below that many points): the padded layers' searches keep
their full budgets, and a full second budget cost 16 % of a ResNet-50 search run on simba_like.
"""
from __future__ import annotations

from dataclasses import replace

from ..energy.model import ActionEnergies
from ..errors import MappingError
from ..ir.arch import Arch, Spatial
from ..ir.einsum import Einsum
from ..ir.workload import DENSE, Density
from ..mapping.ragged import padded_layers, spatial_positions, unpad
from ..model.packed import lowest_scoring, pack_problem
from . import search_kernels as S
from .constraints import Constraints, violations
from .mapper import MapperResult, search_mapping
from .mapspace import padded_bounds

RAGGED_SHARE = 0.25  # of the layer's evaluation budget, for the search of the ragged mapspace


def search_with_ragged(arch: Arch, einsum: Einsum, energies: ActionEnergies, constraints: Constraints,
                       density: Density = DENSE, padded_constraints=None) -> MapperResult:
    """search_mapping, then, when its best leaves fan-out positions idle, search_mapping in the
    ragged mapspace and on the padded layers; the best by the objective. `padded_constraints(padded
    einsum)`: the constraints for a padded layer (default: the same)."""
    best = search_mapping(arch, einsum, energies, constraints, density)
    sides = [s for level in arch.levels if isinstance(level, Spatial) for s in (level.x, level.y)]
    if spatial_positions(best.mapping) >= arch.compute.instances \
            or not any(padded_bounds(einsum.bound[d], sides) for d in einsum.dims):  # no dim to pad
        return best
    weights = constraints.settings.objective.weights

    def score(energy, cycles):
        return tuple(S._objective(a, b, energy, float(cycles)) for a, b in weights)

    searched = [best]  # every search's result, for the totals
    settings = constraints.settings
    share = max(1, int(settings.evaluations * RAGGED_SHARE))
    lighter = replace(constraints, settings=replace(settings, evaluations=share,
                                                    exhaustive_limit=min(settings.exhaustive_limit, share)))
    try:
        found = search_mapping(arch, einsum, energies, lighter, density, ragged=True)
        searched.append(found)
        if score(found.energy_pj, found.cycles) < score(best.energy_pj, best.cycles):
            best = found
    except MappingError:  # none of the ragged search's best could be counted
        pass
    candidates = []
    for padded in padded_layers(arch, einsum):
        own = padded_constraints(padded) if padded_constraints else constraints
        try:
            result = search_mapping(arch, padded, energies, own, density)
        except MappingError:
            continue
        searched.append(result)
        candidates.append(unpad(result.mapping, einsum))  # legal on the real layer: unpad keeps it so
    mapping, result = lowest_scoring(pack_problem(arch, einsum, energies, density), arch, einsum, candidates, score,
                                     lambda m: not violations(arch, m, constraints.levels))
    if mapping is not None and score(result.energy_pj, result.cycles) < score(best.energy_pj, best.cycles):
        best = replace(best, mapping=mapping, energy_pj=result.energy_pj, cycles=result.cycles)
    return replace(best, **{field: sum(getattr(r, field) for r in searched) for field in ("evaluations", "seconds",
                                                                                          "repeats")})
