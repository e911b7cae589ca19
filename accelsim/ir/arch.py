"""Frozen architecture objects, built from a validated `ArchSpec`.

Levels run top-down: memories, spatial fan-outs, and the compute level last. A level's
`instances` is the product of the spatial fan-outs above it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import units
from ..errors import ProblemList
from ..spec.schema import ArchSpec


@dataclass(frozen=True)
class Memory:
    name: str
    kind: str
    size_bits: int | None  # None: unlimited
    word_bits: int
    block_words: int
    keeps: frozenset
    read_bw_words: float | None  # words per cycle per instance; None: unlimited
    write_bw_words: float | None
    banks: int
    double_buffered: bool
    instances: int
    read_energy_pj: float | None  # explicit per-block energies at nominal voltage
    write_energy_pj: float | None
    update_energy_pj: float | None
    leakage_power_w: float | None

    @property
    def capacity_words(self) -> int | None:
        if self.size_bits is None:
            return None
        usable = self.size_bits // 2 if self.double_buffered else self.size_bits
        return usable // self.word_bits


@dataclass(frozen=True)
class Spatial:
    name: str
    x: int
    y: int
    multicast: bool
    reduction: bool
    interconnect: str
    instances: int  # instances of this fan-out (of its parent)

    @property
    def fanout(self) -> int:
        return self.x * self.y


@dataclass(frozen=True)
class Compute:
    name: str
    format: str
    mac_energy_pj: float | None
    leakage_power_w: float | None
    instances: int


@dataclass(frozen=True)
class Arch:
    name: str
    description: str
    node_nm: float
    energy_table: str
    nominal_voltage_v: float | None
    voltage_v: float
    frequency_hz: float
    vf_table: tuple[tuple[float, float], ...]  # (volts, f_max Hz), ascending volts
    levels: tuple  # Memory | Spatial | Compute, top-down
    dataflow: str | None = None  # the template the hardware is built for

    @property
    def memories(self) -> tuple[Memory, ...]:
        return tuple(l for l in self.levels if isinstance(l, Memory))

    @property
    def compute(self) -> Compute:
        return self.levels[-1]

    @property
    def peak_macs_per_cycle(self) -> int:
        return self.compute.instances

    def level(self, name: str):
        return next(l for l in self.levels if l.name == name)

    def index(self, name: str) -> int:
        return next(i for i, l in enumerate(self.levels) if l.name == name)


def f_max_hz(vf_table, voltage_v: float) -> float:
    volts = [v for v, _ in vf_table]
    freqs = [f for _, f in vf_table]
    return float(np.interp(voltage_v, volts, freqs))


def build_arch(spec: ArchSpec, file: str | None = None, line_of=None) -> Arch:
    """Check what the schema cannot see (names, order, f_max) and freeze the arch."""
    problems = ProblemList(file)
    line_of = line_of or (lambda path: None)
    bodies = [lvl.body for lvl in spec.levels]
    names = [b.name for b in bodies]
    for i, name in enumerate(names):
        if names.index(name) != i:
            problems.add(f"level name '{name}' is used twice", f"levels.{i}.name",
                         line_of(("levels", i)), suggestion="give every level its own name")
    kinds = ["compute" if lvl.compute else "spatial" if lvl.spatial else "memory" for lvl in spec.levels]
    if kinds[-1] != "compute" or kinds.count("compute") != 1:
        problems.add("the last level, and only the last, must be compute", "levels",
                     line_of(("levels",)), suggestion="end the list with '- compute: {...}'")
    if kinds[0] != "memory":
        problems.add("the first level must be a memory (where all data starts, e.g. DRAM)",
                     "levels.0", line_of(("levels", 0)))
    else:
        top = spec.levels[0].memory
        missing = {"inputs", "weights", "outputs"} - set(top.keeps)
        if missing:
            problems.add(f"the outermost memory must keep every tensor; it does not keep {sorted(missing)}",
                         "levels.0.memory.keeps", line_of(("levels", 0, "memory", "keeps")),
                         allowed=("inputs", "weights", "outputs"))

    vf = tuple(sorted((p.voltage, p.frequency) for p in spec.voltage_frequency.table)) \
        if spec.voltage_frequency else ()
    op = spec.operating_point
    frequency = op.frequency
    if vf:
        lo, hi = vf[0][0], vf[-1][0]
        if not lo <= op.voltage <= hi:
            problems.add(f"voltage {op.voltage} V is outside the V–f table ({lo}–{hi} V)",
                         "operating_point.voltage", line_of(("operating_point", "voltage")),
                         suggestion=f"choose a voltage between {lo} V and {hi} V")
        else:
            fmax = f_max_hz(vf, op.voltage)
            if frequency is None:
                frequency = fmax
            elif frequency > fmax * (1 + 1e-9):
                problems.add(f"frequency {units.format_si(frequency, 'Hz')} exceeds f_max("
                             f"{op.voltage} V) = {units.format_si(fmax, 'Hz')}",
                             "operating_point.frequency", line_of(("operating_point", "frequency")),
                             suggestion="lower the frequency, raise the voltage, or omit frequency to run at f_max")
    elif frequency is None:
        problems.add("frequency is required when the arch has no voltage_frequency table",
                     "operating_point.frequency", line_of(("operating_point",)),
                     suggestion="add e.g. frequency: 1GHz")
    if spec.dataflow is not None:
        from ..mapping.dataflows import DATAFLOWS
        if spec.dataflow not in DATAFLOWS:
            problems.add(f"unknown dataflow '{spec.dataflow}'", "dataflow", line_of(("dataflow",)),
                         allowed=DATAFLOWS.names())
    problems.raise_if_any()

    levels, instances = [], 1
    for i, lvl in enumerate(spec.levels):
        b = lvl.body
        if lvl.memory:
            word = b.word_bits
            bw = {}
            for key in ("read_bandwidth", "write_bandwidth"):
                text = getattr(b, key)
                bw[key] = None if text is None else units.parse_bandwidth_words(text, word)
            e = b.energy
            levels.append(Memory(
                b.name, b.kind, b.size, word, (b.width_bits or word) // word, frozenset(b.keeps),
                bw["read_bandwidth"], bw["write_bandwidth"], b.banks, b.double_buffered, instances,
                e.read if e else None, e.write if e else None,
                (e.update if e.update is not None else e.write) if e else None, b.leakage_power))
        elif lvl.spatial:
            levels.append(Spatial(b.name, b.x, b.y, b.multicast, b.reduction, b.interconnect, instances))
            instances *= b.x * b.y
        else:
            levels.append(Compute(b.name, b.format, b.energy.mac if b.energy else None,
                                  b.leakage_power, instances))
    tech = spec.technology
    return Arch(spec.name, spec.description, tech.node, tech.energy_table, tech.nominal_voltage,
                op.voltage, frequency, vf, tuple(levels), spec.dataflow)

