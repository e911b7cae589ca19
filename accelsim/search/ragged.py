"""Ragged tiles for the mapper. A layer whose best dense mapping fills every fan-out position is
done; otherwise the mapper searches again in the ragged mapspace (search/mapspace.py: rows whose
factors multiply to more than the dim, a smaller last tile), whose best points are counted exactly
by counting/ragged_kernel.py (search/mapper.best_points), and keeps what the objective prefers. The
dense best is always a candidate, so the answer is never worse by the objective than dense tiles.
"""
from __future__ import annotations

from dataclasses import replace

from ..energy.model import ActionEnergies
from ..errors import MappingError
from ..ir.arch import Arch
from ..ir.einsum import Einsum
from ..ir.workload import DENSE, Density
from ..mapping.ragged import spatial_positions
from . import search_kernels as S
from .constraints import Constraints
from .mapper import MapperResult, search_mapping
from .mapspace import build_mapspace


def search_with_ragged(arch: Arch, einsum: Einsum, energies: ActionEnergies, constraints: Constraints,
                       density: Density = DENSE) -> MapperResult:
    """search_mapping, then, when its best leaves fan-out positions idle, search_mapping in the
    ragged mapspace; the better of the two by the objective."""
    best = search_mapping(arch, einsum, energies, constraints, density)
    if spatial_positions(best.mapping) >= arch.compute.instances \
            or not build_mapspace(arch, einsum, constraints, ragged=True).ragged:  # no dim to pad
        return best
    try:
        found = search_mapping(arch, einsum, energies, constraints, density, ragged=True)
    except MappingError:  # none of the ragged search's best could be counted
        return best
    weights = constraints.settings.objective.weights

    def score(result):
        return tuple(S._objective(a, b, result.energy_pj, float(result.cycles)) for a, b in weights)

    evaluations, seconds = best.evaluations + found.evaluations, best.seconds + found.seconds
    if score(found) < score(best):
        best = found
    return replace(best, evaluations=evaluations, seconds=seconds)
