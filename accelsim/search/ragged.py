"""Ragged tiles for the mapper: its mapspace holds exact factorizations only, so a dim with no
divisor near the array's side (a prime 1009) cannot fill the array. When the best mapping of the
layer leaves fan-out positions idle, the mapper also searches the layer padded to each fan-out
side (mapping/ragged.py: padded_layers), shrinks each result onto the real dims (unpad: a ragged
nest, counted exactly by counting/ragged_kernel.py), and keeps what the objective prefers. The
real layer's own best is always a candidate, so the answer is never worse by the objective.
"""
from __future__ import annotations

from dataclasses import replace

from ..energy.model import ActionEnergies
from ..errors import MappingError
from ..ir.arch import Arch
from ..ir.einsum import Einsum
from ..ir.workload import DENSE, Density
from ..mapping.ragged import padded_layers, spatial_positions, unpad
from ..model.packed import lowest_scoring, pack_problem
from . import search_kernels as S
from .constraints import Constraints, violations
from .mapper import MapperResult, search_mapping


def search_with_ragged(arch: Arch, einsum: Einsum, energies: ActionEnergies, constraints: Constraints,
                       density: Density = DENSE, padded_constraints=None) -> MapperResult:
    """search_mapping, plus the padded layers' best mappings run ragged when the layer's own best
    leaves fan-outs idle. `padded_constraints(padded einsum)`: the constraints for a padded layer
    (default: the same)."""
    best = search_mapping(arch, einsum, energies, constraints, density)
    if spatial_positions(best.mapping) >= arch.compute.instances:
        return best
    weights = constraints.settings.objective.weights

    def score(energy, cycles):
        return tuple(S._objective(a, b, energy, float(cycles)) for a, b in weights)

    candidates, evaluations, seconds = [], best.evaluations, best.seconds
    for padded in padded_layers(arch, einsum):
        own = padded_constraints(padded) if padded_constraints else constraints
        try:
            found = search_mapping(arch, padded, energies, own, density)
        except MappingError:
            continue
        evaluations, seconds = evaluations + found.evaluations, seconds + found.seconds
        candidates.append(unpad(found.mapping, einsum))  # legal on the real layer: unpad keeps it so
    mapping, result = lowest_scoring(pack_problem(arch, einsum, energies, density), arch, einsum, candidates, score,
                                     lambda m: not violations(arch, m, constraints.levels))
    if mapping is not None and score(result.energy_pj, result.cycles) < score(best.energy_pj, best.cycles):
        best = replace(best, mapping=mapping, energy_pj=result.energy_pj, cycles=result.cycles)
    return replace(best, evaluations=evaluations, seconds=seconds)
