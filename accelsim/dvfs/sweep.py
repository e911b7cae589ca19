"""Energy-to-completion versus one domain's clock, per layer (`accelsim dvfs`).

Each point moves one domain to frequency f at the lowest voltage its V–f table allows
(energy/domains.at_frequency) and re-runs the pipeline with the mappings found at the arch's own
operating point (the same kernels run at every clock). Nothing here shapes the curve: runtime is
the performance model's cycles at the core clock (bandwidths in B/s fixed, so a memory-bound
layer's time stops shrinking), dynamic energy is counts × C·V², leakage and background power ×
runtime. The split:

  compute   dynamic energy of the MACs and the on-chip memories (the core boundary)
  overhead  per-cycle components (clock tree, control)
  leakage   leakage of every on-chip component, and background power of on-chip domains
  memory    off-chip memory: its dynamic energy, leakage and its domain's background power
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..energy.domains import at_frequency, frequency_range_hz, voltage_of
from ..errors import SpecError
from ..ir.arch import Arch
from ..ir.workload import Workload
from ..options import SimOptions
from ..simulate import simulate

PARTS = ("compute", "overhead", "leakage", "memory")


@dataclass(frozen=True)
class LayerPoint:
    """One layer (all its copies) at one operating point."""

    runtime_s: float
    energy_j: dict          # part -> J
    memory_bound: bool      # a level's bandwidth, not the MACs, sets its cycles
    bound_by: str           # that level, or 'compute'

    @property
    def total_j(self) -> float:
        return sum(self.energy_j.values())

    @property
    def power_w(self) -> float:
        return self.total_j / self.runtime_s


@dataclass(frozen=True)
class DvfsSweep:
    arch: str
    workload: str
    domain: str
    frequencies_hz: tuple
    voltages_v: tuple
    layers: tuple            # layer names, in order
    counts: tuple            # copies of each layer
    points: tuple            # points[j][i]: LayerPoint of layer i at frequency j
    static_power_w: tuple    # leakage + background power at each point (what a stalled chip draws)
    power_cap_w: float | None

    def layer_energy_j(self) -> np.ndarray:
        """[point, layer] energy-to-completion."""
        return np.array([[p.total_j for p in row] for row in self.points])

    def layer_runtime_s(self) -> np.ndarray:
        return np.array([[p.runtime_s for p in row] for row in self.points])

    def allowed(self) -> np.ndarray:
        """[point, layer]: the layer's average power is within the power cap (all, without one)."""
        power = np.array([[p.power_w for p in row] for row in self.points])
        return np.ones(power.shape, bool) if self.power_cap_w is None else power <= self.power_cap_w

    def optimum(self) -> list[int]:
        """Per layer: the index of its energy-optimal allowed point."""
        energy = np.where(self.allowed(), self.layer_energy_j(), np.inf)
        return [int(j) for j in np.argmin(energy, axis=0)]


def sweep_frequencies(arch: Arch, domain: str, points: int) -> list[float]:
    low, high = frequency_range_hz(arch, domain)
    if points < 2:
        raise SpecError(f"--points {points}: a sweep needs at least 2 points")
    return [float(f) for f in np.linspace(low, high, points)]


def dvfs_sweep(arch: Arch, workload: Workload, domain: str = "core", frequencies_hz=None, points: int = 14,
               options: SimOptions | None = None, mappings=None, search_cache=None) -> DvfsSweep:
    """Sweep `domain`'s clock over `frequencies_hz` (default: `points` evenly over its range).
    `search_cache`: the mapper's folder (simulate()), for the one search at the arch's own point."""
    options = options or SimOptions()
    frequencies = sorted(frequencies_hz) if frequencies_hz else sweep_frequencies(arch, domain, points)
    low, high = frequency_range_hz(arch, domain)
    for f in frequencies:
        if not low * (1 - 1e-9) <= f <= high * (1 + 1e-9):
            raise SpecError(f"frequency {f / 1e6:g} MHz is outside domain '{domain}''s range "
                            f"{low / 1e6:g}–{high / 1e6:g} MHz")
    if mappings is None:  # the kernels: found once, at the arch's own operating point
        found = simulate(arch, workload, options, search_cache=search_cache)
        mappings = {l.name: l.mapping for l in found.layers}
    rows, voltages, static = [], [], []
    for f in frequencies:
        moved = at_frequency(arch, domain, f)
        result = simulate(moved, workload, options, mappings)
        rows.append(tuple(_layer_point(l) for l in result.layers))
        voltages.append(voltage_of(moved, domain))
        first = result.layers[0]
        static.append(sum(first.energy.leakage_pj.values()) * 1e-12 / first.latency_s)
    names = tuple(l.name for l in workload.layers)
    counts = tuple(l.count for l in workload.layers)
    return DvfsSweep(arch.name, workload.name, domain, tuple(frequencies), tuple(voltages), names, counts,
                     tuple(rows), tuple(static), arch.power_cap_w)


def _layer_point(l) -> LayerPoint:
    """A layer's runtime and energy split (times its copies)."""
    overhead = {o.name for o in l.energies[0].overhead} if l.energies else set()
    off = set(l.off_chip)
    parts = dict.fromkeys(PARTS, 0.0)
    for name, pj in l.energy.dynamic_pj.items():
        parts["memory" if name in off else "overhead" if name in overhead else "compute"] += pj
    for name, pj in l.energy.leakage_pj.items():
        parts["memory" if name in off else "leakage"] += pj
    c = l.counts
    bound = "compute"
    if l.cycles > c.compute_cycles:
        bound = max(c.levels, key=lambda lv: lv.cycles).name
    return LayerPoint(l.latency_s * l.count, {k: v * 1e-12 * l.count for k, v in parts.items()},
                      bound != "compute", bound)
