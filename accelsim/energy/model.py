"""Energy = action counts × per-action energies (scaled by (V/Vnom)²) + leakage × time.

Storage actions are charged per block access: ceil(elements / block_words) per instance,
per tensor and action, as Timeloop/Accelergy do. Fills use the write energy, updates the
update energy, reads the read energy. Leakage power scales linearly with V and is charged
for every hardware instance (used or not) over the layer's runtime.
"""
from __future__ import annotations

from dataclasses import dataclass
from math import ceil

from ..ir.arch import Arch, Compute, Memory
from ..model.analytical import ActionCounts
from .estimators import MEMORY_ESTIMATORS, mac_energy_pj
from .tables import TechTable, table_for


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


def nominal_voltage(arch: Arch, table: TechTable) -> float:
    return arch.nominal_voltage_v or table.voltage_v


def action_energies(arch: Arch) -> ActionEnergies:
    table = table_for(arch.energy_table, arch.node_nm)
    v_ratio = arch.voltage_v / nominal_voltage(arch, table)
    dyn = v_ratio ** 2
    read, write, update, leak, sources = {}, {}, {}, {}, {}
    for level in arch.levels:
        if isinstance(level, Memory):
            if level.read_energy_pj is not None:
                r, w, u, src = level.read_energy_pj, level.write_energy_pj, level.update_energy_pj, "arch"
            else:
                width = level.block_words * level.word_bits
                r = MEMORY_ESTIMATORS.get(level.kind)(table, level.size_bits, width)
                w = u = r
                src = table.name
            read[level.name], write[level.name], update[level.name] = r * dyn, w * dyn, u * dyn
            sources[level.name] = src
            leak[level.name] = (level.leakage_power_w or 0.0) * v_ratio
        elif isinstance(level, Compute):
            mac = level.mac_energy_pj if level.mac_energy_pj is not None else mac_energy_pj(table, level.format)
            sources[level.name] = "arch" if level.mac_energy_pj is not None else table.name
            leak[level.name] = (level.leakage_power_w or 0.0) * v_ratio
    return ActionEnergies(mac * dyn, read, write, update, leak, sources, dyn)


@dataclass(frozen=True)
class EnergyBreakdown:
    dynamic_pj: dict        # component -> pJ (compute and each memory level)
    by_tensor_pj: dict      # level -> role -> pJ
    leakage_pj: dict        # component -> pJ

    @property
    def total_pj(self) -> float:
        return sum(self.dynamic_pj.values()) + sum(self.leakage_pj.values())


def layer_energy(arch: Arch, counts: ActionCounts, energies: ActionEnergies,
                 runtime_s: float) -> EnergyBreakdown:
    dynamic = {arch.compute.name: counts.macs * energies.mac_pj}
    by_tensor = {}
    for level in counts.levels:
        per_role = {}
        for role, c in level.tensors.items():
            blocks = lambda n: ceil(n / level.block_words)  # noqa: E731
            per_role[role] = level.instances * (blocks(c.reads) * energies.read_pj[level.name]
                                                + blocks(c.fills) * energies.write_pj[level.name]
                                                + blocks(c.updates) * energies.update_pj[level.name])
        by_tensor[level.name] = per_role
        dynamic[level.name] = sum(per_role.values())
    leakage = {}
    for level in arch.levels:
        if level.name in energies.leakage_w:
            leakage[level.name] = energies.leakage_w[level.name] * level.instances * runtime_s * 1e12
    return EnergyBreakdown(dynamic, by_tensor, leakage)
