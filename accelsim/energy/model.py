"""Energy = action counts × per-action energies (scaled by (V/Vnom)²) + leakage × time.

Storage actions are charged per block access, as the counting kernel rounds them under the level's
block rounding (docs/energy.md#block-rounding): each tile transfer a whole number of blocks, or (Timeloop/
Accelergy's rule) ceil(elements / block_words) per instance, per tensor and action. Fills use the write energy, updates the
update energy, reads the read energy. Data-dependent parts scale with the operands' switching
activity (energy/activity.py). Overhead components (clock tree, control) cost energy per cycle.
Leakage power scales with V — linearly, or V·exp((V − Vnom)/efold) when the technology gives
an e-fold voltage — and is charged for every hardware instance (used or not) over the runtime.
(buffers in utilized instances only under counting conventions that say so).
Off-chip memory (class dram) has its own supply: its energies stay at their nominal values
whatever the core's voltage. An arch's declared clock/voltage domains (energy/domains.py) price
their components at their own V and f, and add their background power over the runtime.
"""
from __future__ import annotations

from dataclasses import dataclass
from math import exp

from ..counting.conventions import convention_of
from ..counting.counts import ActionCounts
from ..ir.arch import Arch, Compute, Memory
from .activity import DENSE_ACTIVITY, LayerActivity
from .domains import background_pj, cycles_per_core_cycle, supply_scales
from .estimators import MEMORY_ESTIMATORS, mac_energy_pj
from .mac import mac_dynamic_pj
from .tables import TechTable, arch_table


@dataclass(frozen=True)
class ActionEnergies:
    """Per-action energies at the operating point, and where each came from."""

    mac_pj: float
    read_pj: dict       # level name -> pJ per block read
    write_pj: dict
    update_pj: dict
    leakage_w: dict     # component name -> W per instance
    sources: dict       # component name -> 'arch' | table name
    voltage_scale: float  # (V / Vnom)²
    overhead_pj_per_cycle: dict = None  # overhead component -> pJ per cycle


def nominal_voltage(arch: Arch, table: TechTable) -> float:
    return arch.nominal_voltage_v or table.voltage_v


def leakage_scale(arch: Arch, v_nominal: float) -> float:
    """Leakage power at the operating voltage relative to the nominal voltage."""
    v = arch.voltage_v
    scale = v / v_nominal
    if arch.leakage_efold_v:
        scale *= exp((v - v_nominal) / arch.leakage_efold_v)
    return scale


def action_energies(arch: Arch) -> ActionEnergies:
    table = arch_table(arch)
    v_nominal = nominal_voltage(arch, table)
    dyn = (arch.voltage_v / v_nominal) ** 2
    leak_scale = leakage_scale(arch, v_nominal)
    read, write, update, leak, sources = {}, {}, {}, {}, {}
    for level in arch.levels:
        if isinstance(level, Memory):
            if level.read_energy_pj is not None:
                r, w, u, src = level.read_energy_pj, level.write_energy_pj, level.update_energy_pj, "arch"
            else:
                # A cluster's instances share one array: its size and width set the access energy.
                width = level.block_words * level.word_bits * level.cluster
                size = None if level.size_bits is None else level.size_bits * level.cluster
                r = MEMORY_ESTIMATORS.get(level.kind)(table, size, width)
                w = u = r
                src = table.name
            # Off-chip memory has its own supply: the core's voltage does not scale its energy.
            own_supply = level.kind == "dram"
            scale, leak_level = supply_scales(arch, level.name, (1.0, 1.0) if own_supply else (dyn, leak_scale))
            read[level.name], write[level.name], update[level.name] = r * scale, w * scale, u * scale
            sources[level.name] = src
            leak[level.name] = (level.leakage_power_w or 0.0) * leak_level
        elif isinstance(level, Compute):
            mac = level.mac_energy_pj if level.mac_energy_pj is not None else mac_energy_pj(table, level.format)
            sources[level.name] = "arch" if level.mac_energy_pj is not None else table.name
            leak[level.name] = (level.leakage_power_w or 0.0) * leak_scale
    overhead = {}
    for o in arch.overhead:
        o_dyn, o_leak = supply_scales(arch, o.name, (dyn, leak_scale))
        overhead[o.name] = o.energy_per_cycle_pj * o_dyn * cycles_per_core_cycle(arch, o.name)
        leak[o.name] = (o.leakage_power_w or 0.0) * o_leak
        sources[o.name] = "arch"
    return ActionEnergies(mac * dyn, read, write, update, leak, sources, dyn, overhead)


@dataclass(frozen=True)
class EnergyBreakdown:
    dynamic_pj: dict        # component -> pJ (compute and each memory level)
    by_tensor_pj: dict      # level -> role -> pJ
    leakage_pj: dict        # component -> pJ

    @property
    def total_pj(self) -> float:
        return sum(self.dynamic_pj.values()) + sum(self.leakage_pj.values())


@dataclass(frozen=True)
class BlockCounts:
    """What layer_energy prices of a layer's counts: its MACs and, per memory level top-down,
    (name, utilized instances, charged instances, {role: (reads, fills, updates)}) in block accesses
    of the average utilized instance. `block_counts` reads them off an ActionCounts; a sweep's row
    path (dse/network.py) off the counting kernel's arrays, without building the count objects."""

    macs: int
    levels: tuple


def block_counts(counts: ActionCounts) -> BlockCounts:
    """An ActionCounts' priced figures: each level's counts over every utilized instance, as the
    average instance's block accesses (psums may take several words; the kernel's block accesses
    follow the level's block rounding)."""
    return BlockCounts(counts.macs, tuple(
        (level.name, level.instances, level.charged_instances,
         {role: level.total(role).block_accesses(level.words_per_element(role), level.instances, level.block_words)
          for role in level.tensors})
        for level in counts.levels))


def layer_energy(arch: Arch, counts: ActionCounts | BlockCounts, energies: ActionEnergies, runtime_s: float,
                 cycles: int = 0, activity: LayerActivity = DENSE_ACTIVITY,
                 extra_dynamic_pj: dict | None = None) -> EnergyBreakdown:
    """`extra_dynamic_pj`: format-dependent energies (energy/formats.py), added per component."""
    priced = counts if isinstance(counts, BlockCounts) else block_counts(counts)
    dynamic = {arch.compute.name: mac_dynamic_pj(priced.macs, energies.mac_pj, activity.mac)}
    by_tensor = {}
    by_name, instances = _arch_view(arch)
    for name, _, charged, accesses in priced.levels:
        memory = by_name[name]
        per_role = {}
        for role, (reads, fills, updates) in accesses.items():
            per_role[role] = charged * activity.memory_factor(memory, role) * (
                reads * energies.read_pj[name] + fills * energies.write_pj[name] + updates * energies.update_pj[name])
        by_tensor[name] = per_role
        dynamic[name] = sum(per_role.values())
    for name, pj_per_cycle in (energies.overhead_pj_per_cycle or {}).items():
        dynamic[name] = pj_per_cycle * cycles
    for name, pj in (extra_dynamic_pj or {}).items():
        dynamic[name] = dynamic.get(name, 0.0) + pj
    leakage = {}
    utilized = {name: n for name, n, _, _ in priced.levels}
    for name, watts in energies.leakage_w.items():
        leakage[name] = watts * (instances[name] or utilized[name]) * runtime_s * 1e12
    leakage.update(background_pj(arch, runtime_s))  # declared domains' background power
    return EnergyBreakdown(dynamic, by_tensor, leakage)


def leaking_instances(arch: Arch) -> dict:
    """Component name -> how many instances leak: every hardware instance, or None where the
    counting convention has a buffer leak in its utilized instances only (counting/conventions)."""
    utilized_only = convention_of(arch).leaks_utilized_only
    return ({l.name: None if utilized_only and isinstance(l, Memory) else l.instances for l in arch.levels}
            | {o.name: 1 for o in arch.overhead})


_VIEWS: dict = {}  # id(arch) -> (arch, its levels by name, leaking_instances): a sweep prices every layer


def _arch_view(arch: Arch) -> tuple[dict, dict]:
    """What layer_energy looks up in an arch, once per arch object (frozen: its levels never change)."""
    held = _VIEWS.get(id(arch))
    if held is None or held[0] is not arch:
        if len(_VIEWS) >= 64:
            _VIEWS.clear()
        held = _VIEWS[id(arch)] = (arch, {level.name: level for level in arch.levels}, leaking_instances(arch))
    return held[1], held[2]
