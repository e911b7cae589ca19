"""Technology energy tables shipped as data files, and log-log interpolation between nodes."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from math import exp, log

import yaml

TABLE_FILES = ("horowitz_45nm", "tpuv4i_7nm")
INTERPOLATED = "interpolated"


@dataclass(frozen=True)
class TechTable:
    name: str
    node_nm: float
    voltage_v: float
    source: str
    operations_pj: dict
    sram_64b_access: tuple  # ((bytes, pJ), ...)
    regfile_pj_per_bit: float
    dram_pj_per_bit: float


@lru_cache(maxsize=None)
def load_table(name: str) -> TechTable:
    data = yaml.safe_load(resources.files("accelsim.energy").joinpath(f"tables/{name}.yaml").read_text())
    return TechTable(data["name"], float(data["node_nm"]), float(data["voltage_v"]), data["source"],
                     dict(data["operations_pj"]),
                     tuple((p["bytes"], p["energy_pj"]) for p in data["sram_64b_access"]),
                     float(data["regfile_pj_per_bit"]), float(data["dram_pj_per_bit"]))


def describe_table(name: str) -> str:
    """A table's values and source, as text (`accelsim info tables`)."""
    if name == INTERPOLATED:
        return (f"{INTERPOLATED}: each entry log-log interpolated by node between "
                f"{' and '.join(TABLE_FILES)} (extrapolated outside their nodes); a rough rule for nodes "
                f"without a table")
    t = load_table(name)
    lines = [f"{t.name}: {t.node_nm:g} nm at {t.voltage_v:g} V", f"  source: {t.source}"]
    lines += [f"  {op:<24} {pj:>10.4g} pJ" for op, pj in t.operations_pj.items()]
    lines += ["  SRAM, 64-bit access: " + ", ".join(f"{b:g} B: {pj:g} pJ" for b, pj in t.sram_64b_access),
              f"  register file            {t.regfile_pj_per_bit:>10.4g} pJ/bit",
              f"  DRAM                     {t.dram_pj_per_bit:>10.4g} pJ/bit"]
    return "\n".join(lines)


def table_names() -> list[str]:
    return list(TABLE_FILES) + [INTERPOLATED]


@lru_cache(maxsize=None)
def table_for(name: str, node_nm: float) -> TechTable:
    """The named table, or for 'interpolated' a log-log blend of the 45 and 7 nm tables.

    Interpolation is linear in log(energy) versus log(node) per entry (extrapolated outside
    7–45 nm); voltages blend the same way. It is a rough rule, stated as such in the docs.
    """
    if name != INTERPOLATED:
        return load_table(name)
    a, b = load_table("horowitz_45nm"), load_table("tpuv4i_7nm")
    t = (log(node_nm) - log(a.node_nm)) / (log(b.node_nm) - log(a.node_nm))

    def blend(x, y):
        return exp(log(x) + t * (log(y) - log(x)))
    ops = {k: blend(a.operations_pj[k], b.operations_pj[k]) for k in a.operations_pj if k in b.operations_pj}
    sram = tuple((sa, blend(ea, eb)) for (sa, ea), (_, eb) in zip(a.sram_64b_access, b.sram_64b_access))
    return TechTable(f"interpolated_{node_nm:g}nm", node_nm, blend(a.voltage_v, b.voltage_v),
                     f"log-log interpolation of {a.name} and {b.name}", ops, sram,
                     blend(a.regfile_pj_per_bit, b.regfile_pj_per_bit), blend(a.dram_pj_per_bit, b.dram_pj_per_bit))
