"""Results per layer and per workload; TOPS and TOPS/W with explicit boundaries.

TOPS/W is ops per picojoule (1 op/pJ = 1 TOPS/W), ops = 2 × MACs. TOPS/mm² is TOPS over the
on-chip area the area model counts (energy/area.py). Boundaries:
  core    dynamic energy of the MACs and on-chip memories (every level that is not DRAM);
  chip    core plus the leakage of on-chip components;
  system  chip plus DRAM (dynamic and leakage): everything modelled.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from .counting.counts import ActionCounts
from .energy.area import AreaBreakdown, arch_area, tops_per_mm2
from .energy.domains import off_chip_backgrounds
from .energy.model import ActionEnergies, EnergyBreakdown
from .ir.arch import Arch, Memory
from .mapping.mapping import Mapping

BOUNDARIES = ("core", "chip", "system")


def off_chip_levels(arch: Arch) -> set[str]:
    """DRAM levels, and the background power of the domains that supply them."""
    return {l.name for l in arch.levels if isinstance(l, Memory) and l.kind == "dram"} | off_chip_backgrounds(arch)


def boundary_energy_pj(energy: EnergyBreakdown, off_chip: set[str]) -> dict[str, float]:
    core = sum(v for k, v in energy.dynamic_pj.items() if k not in off_chip)
    chip = core + sum(v for k, v in energy.leakage_pj.items() if k not in off_chip)
    return {"core": core, "chip": chip, "system": energy.total_pj}


def ops_per_pj(macs: int, energy_pj: dict[str, float]) -> dict[str, float]:
    """TOPS/W per boundary: 2 ops per MAC divided by picojoules."""
    return {b: 2 * macs / e if e > 0 else float("inf") for b, e in energy_pj.items()}


@dataclass(frozen=True)
class LayerResult:
    name: str
    count: int
    macs: int                 # per copy
    counts: ActionCounts      # a sweep row's layer (dse/network.py, row_only): its BlockCounts
    energy: EnergyBreakdown
    mapping: Mapping
    cycles: int
    frequency_hz: float
    peak_macs_per_cycle: int
    off_chip: frozenset
    extra: dict = field(default_factory=dict)  # model-specific outputs (e.g. cycle-model stalls)
    precision: str | None = None   # number format the layer ran in
    density: object = None         # Density of its operands
    energies: tuple | None = None  # (the arch as the layer ran, its ActionEnergies): the prices of its counts
    outputs: int = 0               # output elements the layer produces (per-output energies charge them)

    @property
    def latency_s(self) -> float:
        return self.cycles / self.frequency_hz

    @property
    def utilization(self) -> float:
        return self.macs / (self.cycles * self.peak_macs_per_cycle)

    @property
    def energy_pj(self) -> float:
        return self.energy.total_pj

    @property
    def tops(self) -> float:
        return 2 * self.macs / self.latency_s / 1e12

    def tops_per_watt(self) -> dict[str, float]:
        return ops_per_pj(self.macs, boundary_energy_pj(self.energy, set(self.off_chip)))

    def power_w(self) -> dict[str, float]:
        """Average power per boundary while the layer runs: its energy at that boundary ÷ its latency."""
        return {b: e * 1e-12 / self.latency_s for b, e in boundary_energy_pj(self.energy, set(self.off_chip)).items()}


@dataclass(frozen=True)
class WorkloadResult:
    arch: Arch
    workload_name: str
    layers: tuple[LayerResult, ...]
    options: dict
    inputs: dict  # names and content hashes of the input files

    @property
    def macs(self) -> int:
        return sum(l.macs * l.count for l in self.layers)

    @property
    def cycles(self) -> int:
        return sum(l.cycles * l.count for l in self.layers)

    @property
    def latency_s(self) -> float:
        return sum(l.latency_s * l.count for l in self.layers)

    @property
    def energy_pj(self) -> float:
        return sum(l.energy_pj * l.count for l in self.layers)

    @property
    def utilization(self) -> float:
        """MACs over the MAC slots of every cycle, each layer at its own format's peak."""
        return self.macs / sum(l.cycles * l.count * l.peak_macs_per_cycle for l in self.layers)

    @property
    def tops(self) -> float:
        return 2 * self.macs / self.latency_s / 1e12

    @property
    def peak_tops(self) -> float:
        """Derived: 2 ops × MAC units × clock, in the compute level's default format."""
        return 2 * self.arch.peak_macs_per_cycle * self.arch.frequency_hz / 1e12

    @cached_property
    def area(self) -> AreaBreakdown:
        """The arch's on-chip area per component (energy/area.py); it does not depend on the run."""
        return arch_area(self.arch)

    @property
    def tops_per_mm2(self) -> float | None:
        """Achieved TOPS over the counted area (None if no area is counted)."""
        return tops_per_mm2(self.tops, self.area)

    @property
    def peak_tops_per_mm2(self) -> float | None:
        """Derived: peak TOPS over the counted area."""
        return tops_per_mm2(self.peak_tops, self.area)

    @property
    def inferences_per_second(self) -> float:
        """One pass over the workload's layers counts as one inference."""
        return 1.0 / self.latency_s

    def inferences_per_second_per_watt(self, boundary: str = "chip") -> float:
        """Inferences per joule at a boundary (inferences/s ÷ W)."""
        return 1.0 / (self.boundary_energy_pj()[boundary] * 1e-12)

    def boundary_energy_pj(self) -> dict[str, float]:
        out = dict.fromkeys(BOUNDARIES, 0.0)
        seen = {}  # a copy of a layer run before shares its energy: its boundaries once (same floats)
        for l in self.layers:
            key = (id(l.energy), id(l.off_chip))
            held = seen.get(key)
            if held is None:
                held = seen[key] = boundary_energy_pj(l.energy, set(l.off_chip))
            for b, e in held.items():
                out[b] += e * l.count
        return out

    def tops_per_watt(self) -> dict[str, float]:
        return ops_per_pj(self.macs, self.boundary_energy_pj())

    def energy_by_component_pj(self) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for l in self.layers:
            for kind, table in (("dynamic", l.energy.dynamic_pj), ("leakage", l.energy.leakage_pj)):
                for comp, e in table.items():
                    out.setdefault(comp, {"dynamic": 0.0, "leakage": 0.0})[kind] += e * l.count
        return out

    def action_energies(self) -> dict[str, tuple[Arch, ActionEnergies]]:
        """Per number format the layers ran in: the arch as it runs that format and its per-action
        energies at the operating point, as simulate() used them for the energy totals."""
        return {l.precision: l.energies for l in self.layers if l.energies is not None}
