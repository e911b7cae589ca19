"""Technology tables: the built-in data files, a user's table file, and log-log interpolation
between nodes.

Every table, built-in or the user's, is read through one format (energy/table_spec.py): per-action
energies at one node and voltage, and optionally the areas the area model needs (energy/area.py).
A user's file is named by an arch (`technology.table_file`) and read through the hardened reader
(spec/files.py: regular files only, size and character checks, confined to the arch's folder tree
and --allow-path).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from math import exp, log
from pathlib import Path

from ..errors import Problem, ProblemList, SpecError
from ..spec.files import read_text
from ..spec.validate import validate_model
from ..spec.yaml_io import load_yaml_text, locate
from .table_spec import REQUIRED_OPERATIONS, TechTableSpec

TABLE_FILES = ("horowitz_45nm", "tpuv4i_7nm")
INTERPOLATED = "interpolated"


@dataclass(frozen=True)
class TechArea:
    """Areas at the table's node (µm²), the area model's inputs."""

    source: str
    operations_um2: dict
    sram_bit_um2: float
    sram_periphery_factor: float
    register_bit_um2: float


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
    area: TechArea | None = None
    path: str | None = None       # a user's table file (its real path); None: built in
    sha256_16: str | None = None  # the user's file's content hash, recorded with results

    def __hash__(self):  # the dicts are not hashable; a table is named by these
        return hash((self.name, self.path, self.sha256_16))


def _table(text: str, file: str, path: str | None = None) -> TechTable:
    """A TechTable from a table file's text; SpecError (file, line, key path) if it is malformed."""
    data = load_yaml_text(text, file)
    if not isinstance(data, dict):
        raise SpecError(Problem("a technology table is a mapping of keys to values", file, 1,
                                allowed=tuple(TechTableSpec.model_fields), suggestion="see docs/energy.md"))
    spec = validate_model(TechTableSpec, data, file)
    _check_table(spec, data, file)
    a = spec.area
    area = None if a is None else TechArea(a.source, dict(a.operations_um2), a.sram_bit_um2,
                                           a.sram_periphery_factor, a.register_bit_um2)
    digest = hashlib.sha256(text.encode()).hexdigest()[:16] if path else None
    return TechTable(spec.name, spec.node_nm, spec.voltage_v, spec.source, dict(spec.operations_pj),
                     tuple((p.bytes, p.energy_pj) for p in spec.sram_64b_access),
                     spec.regfile_pj_per_bit, spec.dram_pj_per_bit, area, path, digest)


def _check_table(spec: TechTableSpec, data, file: str) -> None:
    """What the model cannot say per key: the operations the MAC estimate needs, SRAM points in order."""
    problems = ProblemList(file)
    blocks = [("operations_pj", spec.operations_pj)]
    if spec.area is not None:
        blocks.append(("area.operations_um2", spec.area.operations_um2))
    for key, ops in blocks:
        missing = [op for op in REQUIRED_OPERATIONS if op not in ops]
        if missing:
            problems.add(f"missing {', '.join(missing)}: the MAC estimate fits the 8- and 32-bit int "
                         f"entries and reads the fp16 and fp32 ones", key,
                         locate(data, tuple(key.split(".")))[1], allowed=REQUIRED_OPERATIONS,
                         suggestion=f"add {missing[0]}: <value>")
    sizes = [p.bytes for p in spec.sram_64b_access]
    if sizes != sorted(set(sizes)):
        problems.add(f"capacities must increase strictly, got {sizes}", "sram_64b_access",
                     locate(data, ("sram_64b_access",))[1], suggestion="list the points smallest first")
    problems.raise_if_any()


@lru_cache(maxsize=None)
def load_table(name: str) -> TechTable:
    """A built-in table by name."""
    text = resources.files("accelsim.energy").joinpath(f"tables/{name}.yaml").read_text()
    return _table(text, f"accelsim/energy/tables/{name}.yaml")


def load_table_file(path, file: str | None = None, line: int | None = None,
                    key_path: str = "") -> TechTable:
    """A user's table file (`path` already resolved and confined by the caller), read through the
    hardened reader; `file`, `line`, `key_path` locate the reference to it, for errors opening it."""
    text = read_text(path, line, key_path, file_for_errors=file)
    table = _table(text, str(path), str(Path(path)))
    if table.name in table_names():
        raise SpecError(Problem(f"the table's name '{table.name}' is a built-in table's", str(path),
                                locate(load_yaml_text(text, str(path)), ("name",))[1], "name",
                                suggestion="give your table its own name: reports show it as the "
                                           "source of each estimate"))
    return table


def _describe(t: TechTable) -> list[str]:
    where = f" (file {t.path}, sha256 {t.sha256_16})" if t.path else ""
    lines = [f"{t.name}: {t.node_nm:g} nm at {t.voltage_v:g} V{where}", f"  source: {t.source}"]
    lines += [f"  {op:<24} {pj:>10.4g} pJ" for op, pj in t.operations_pj.items()]
    lines += ["  SRAM, 64-bit access: " + ", ".join(f"{b:g} B: {pj:g} pJ" for b, pj in t.sram_64b_access),
              f"  register file            {t.regfile_pj_per_bit:>10.4g} pJ/bit",
              f"  DRAM                     {t.dram_pj_per_bit:>10.4g} pJ/bit"]
    a = t.area
    if a is None:
        return lines + ["  area: none (components need an explicit `area:`)"]
    lines += [f"  area source: {a.source}"]
    lines += [f"  {op:<24} {um2:>10.4g} µm²" for op, um2 in a.operations_um2.items()]
    return lines + [(f"  SRAM bit cell            {a.sram_bit_um2:>10.4g} µm² × periphery factor "
                     f"{a.sram_periphery_factor:g}"),
                    f"  register (flip-flop) bit {a.register_bit_um2:>10.4g} µm²"]


def describe_table(table: str | TechTable) -> str:
    """A table's values and sources, as text (`accelsim info tables`)."""
    if table == INTERPOLATED:
        return (f"{INTERPOLATED}: each entry (energies and areas) log-log interpolated by node between "
                f"{' and '.join(TABLE_FILES)} (extrapolated outside their nodes); a rough rule for nodes "
                f"without a table")
    return "\n".join(_describe(load_table(table) if isinstance(table, str) else table))


def table_names() -> list[str]:
    return list(TABLE_FILES) + [INTERPOLATED]


def arch_table(arch) -> TechTable:
    """The table an arch prices its actions with: its own file's, else the named one."""
    return arch.tech_table or table_for(arch.energy_table, arch.node_nm)


@lru_cache(maxsize=None)
def table_for(name: str, node_nm: float) -> TechTable:
    """The named table, or for 'interpolated' a log-log blend of the 45 and 7 nm tables.

    Interpolation is linear in log(value) versus log(node) per entry (extrapolated outside
    7–45 nm); voltages and areas blend the same way. It is a rough rule, stated as such in the docs.
    """
    if name != INTERPOLATED:
        return load_table(name)
    a, b = load_table("horowitz_45nm"), load_table("tpuv4i_7nm")
    t = (log(node_nm) - log(a.node_nm)) / (log(b.node_nm) - log(a.node_nm))

    def blend(x, y):
        return exp(log(x) + t * (log(y) - log(x)))

    def blend_ops(x: dict, y: dict) -> dict:
        return {k: blend(x[k], y[k]) for k in x if k in y}
    sram = tuple((sa, blend(ea, eb)) for (sa, ea), (_, eb) in zip(a.sram_64b_access, b.sram_64b_access))
    area = None
    if a.area and b.area:
        area = TechArea(f"log-log interpolation of {a.name} and {b.name} areas",
                        blend_ops(a.area.operations_um2, b.area.operations_um2),
                        blend(a.area.sram_bit_um2, b.area.sram_bit_um2),
                        blend(a.area.sram_periphery_factor, b.area.sram_periphery_factor),
                        blend(a.area.register_bit_um2, b.area.register_bit_um2))
    return TechTable(f"interpolated_{node_nm:g}nm", node_nm, blend(a.voltage_v, b.voltage_v),
                     f"log-log interpolation of {a.name} and {b.name}", blend_ops(a.operations_pj, b.operations_pj),
                     sram, blend(a.regfile_pj_per_bit, b.regfile_pj_per_bit),
                     blend(a.dram_pj_per_bit, b.dram_pj_per_bit), area)
