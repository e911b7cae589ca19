"""Silicon area per component, from the technology table's areas or the arch's explicit ones.

Per instance (µm², at the table's node):
  SRAM              size_bits × sram_bit_um2 × sram_periphery_factor   (bit cells plus periphery)
  register file,
  latch array       size_bits × register_bit_um2                        (one flip-flop per bit)
  MAC unit          the MAC estimate of estimators.mac_cost over the table's operator areas, for
                    the compute level's default format (the hardware as built; int4_vsq as int4:
                    its per-vector scale multiplier, one per vector, is not counted)
  overhead          only an explicit `area:` (no estimate for control logic, PPU or clock tree)
Not counted, and listed as such: off-chip memory (class dram), memories of unlimited size,
wires and networks of the spatial fan-outs, and components with neither an explicit area nor
table areas. A component's total is its area per instance × its hardware instances.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..ir.arch import Arch, Compute, Memory
from .estimators import mac_cost
from .tables import TechArea, TechTable, arch_table

# The MAC datapath each format is built from (int4_vsq: int4 products, see the module doc).
_AREA_FORMAT = {"int4_vsq": "int4"}
NOT_MODELLED = "wires and networks of the spatial fan-outs"


@dataclass(frozen=True)
class ComponentArea:
    name: str
    per_instance_um2: float
    instances: int
    source: str  # 'arch' (explicit) or the technology table's name

    @property
    def total_um2(self) -> float:
        return self.per_instance_um2 * self.instances


@dataclass(frozen=True)
class AreaBreakdown:
    components: tuple[ComponentArea, ...]
    excluded: tuple[tuple[str, str], ...]  # (component, why it counts no area)

    @property
    def total_um2(self) -> float:
        return sum(c.total_um2 for c in self.components)

    @property
    def total_mm2(self) -> float:
        return self.total_um2 * 1e-6

    def by_component_mm2(self) -> dict[str, float]:
        return {c.name: c.total_um2 * 1e-6 for c in self.components}


def sram_area_um2(area: TechArea, size_bits: int) -> float:
    return size_bits * area.sram_bit_um2 * area.sram_periphery_factor


def register_area_um2(area: TechArea, size_bits: int) -> float:
    return size_bits * area.register_bit_um2


MEMORY_AREA = {"sram": sram_area_um2, "regfile": register_area_um2, "latch": register_area_um2}


def mac_area_um2(table: TechTable, fmt: str) -> float:
    """One MAC unit's area in `fmt` from the table's operator areas."""
    return mac_cost(table.area.operations_um2, _AREA_FORMAT.get(fmt, fmt))


def arch_area(arch: Arch, table: TechTable | None = None) -> AreaBreakdown:
    """Every on-chip component's area; what is not counted is listed with the reason."""
    table = table or arch_table(arch)
    components, excluded = [], []
    no_table = f"no area: the table '{table.name}' has no area data; give the component an `area:`"

    def add(name, explicit, estimate, instances):
        if explicit is not None:
            components.append(ComponentArea(name, explicit, instances, "arch"))
        elif table.area is None:
            excluded.append((name, no_table))
        else:
            components.append(ComponentArea(name, estimate(), instances, table.name))

    for level in arch.levels:
        if isinstance(level, Memory):
            if level.kind == "dram":
                excluded.append((level.name, "off chip"))
            elif level.size_bits is None and level.area_um2 is None:
                excluded.append((level.name, "unlimited size"))
            else:
                add(level.name, level.area_um2,
                    lambda m=level: MEMORY_AREA[m.kind](table.area, m.size_bits), level.instances)
        elif isinstance(level, Compute):
            add(level.name, level.area_um2, lambda c=level: mac_area_um2(table, c.format), level.instances)
    for o in arch.overhead:
        if o.area_um2 is not None:
            components.append(ComponentArea(o.name, o.area_um2, 1, "arch"))
        else:
            excluded.append((o.name, "no area estimate for overhead logic; give it an `area:`"))
    excluded.append(("spatial fan-outs", NOT_MODELLED))
    return AreaBreakdown(tuple(components), tuple(excluded))


def tops_per_mm2(tops: float, area: AreaBreakdown) -> float | None:
    """TOPS per mm² of the counted area (None when nothing is counted)."""
    return tops / area.total_mm2 if area.total_um2 > 0 else None
