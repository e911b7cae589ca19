"""Frozen architecture objects, built from a validated `ArchSpec`.

Levels run top-down: memories, spatial fan-outs, and the compute level last. A level's
`instances` is the product of the spatial fan-outs above it.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from itertools import pairwise

import numpy as np

from .. import units
from ..errors import ProblemList, SpecError
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
    double_buffered: bool
    instances: int
    read_energy_pj: float | None  # explicit per-block energies at nominal voltage
    write_energy_pj: float | None
    update_energy_pj: float | None
    leakage_power_w: float | None
    switching_share: float = 0.0
    word_from_precision: bool = False  # word_bits follows the layer's number format
    width_bits: int | None = None      # bits per access; None: one word
    bandwidth_text: tuple = (None, None, None)  # (read, write, shared) as written, re-parsed per word size
    cluster: int = 1                   # instances sharing one width_bits-wide array (one access serves all)
    shared_bw_words: float | None = None  # one port reads and writes share (words/cycle); None: none
    area_um2: float | None = None      # explicit area per instance; None: from the technology table
    clock_hz: float | None = None      # its domain's clock when not the core's (per-cycle bandwidths tick on it)
    sparse: "SparseLevel | None" = None  # formats, gating, skipping (accelsim/sparse); None: dense
    block_rounding: str | None = None  # "transfer" | "layer"; None: the counting convention's
                                       # (counting/conventions.block_rounding_of; docs/energy.md)

    @property
    def capacity_words(self) -> int | None:
        if self.size_bits is None:
            return None
        usable = self.size_bits // 2 if self.double_buffered else self.size_bits
        return usable // self.word_bits


@dataclass(frozen=True)
class SparseLevel:
    """A memory level's sparse optimizations (Sparseloop's sparse_optimizations), as data."""

    formats: tuple = ()           # ((role, (rank format, ... outer → inner)), ...)
    gating: tuple = ()            # ((target role, (condition-on roles, ...)), ...)
    skipping: tuple = ()
    metadata_word_bits: int = 0
    metadata_width_bits: int = 0
    metadata_depth: int | None = None
    energies_pj: tuple = ()       # ((action name, pJ), ...) at the nominal voltage
    flatten: tuple = ()           # ((role, (dims a rank flattens, ... outer → inner)), ...); () per rank: one loop

    def format_of(self, role: str) -> tuple:
        return dict(self.formats).get(role, ())

    def flatten_of(self, role: str) -> tuple:
        return dict(self.flatten).get(role, ())


@dataclass(frozen=True)
class SparseCompute:
    """Sparseloop's compute optimizations, as data."""

    gate_on_zero_operand: bool = False
    skip_on_not_aligned_operands: bool = False
    energies_pj: tuple = ()       # ((gated_compute | skipped_compute, pJ), ...) at the nominal voltage


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
    formats: tuple = ()          # ((format, mac pJ, slots), ...) besides the default format
    slot_level: str | None = None
    switching_share: float = 1.0
    reduction_tree_share: float = 0.0
    vector_scale_pj: float | None = None  # per-vector scale path, per scaled dot product (this format)
    vector_scales: tuple = ()    # ((format, pJ), ...) of the other formats that have a scale path
    area_um2: float | None = None  # explicit area per MAC unit; None: from the technology table
    operand_latch: frozenset = frozenset()  # operands a MAC keeps while the innermost loops leave them
    sparse: "SparseCompute | None" = None   # compute gating/skipping (accelsim/sparse); None: none
    psum_bits: int | None = None  # partial-sum width; None: one word, as a finished output

    def supports(self, fmt: str) -> bool:
        return fmt == self.format or any(f == fmt for f, _, _ in self.formats)


@dataclass(frozen=True)
class Overhead:
    """Per-cycle energy outside the levels (clock tree, control, post-processing unit)."""

    name: str
    energy_per_cycle_pj: float
    leakage_power_w: float | None
    energy_per_output_pj: float = 0.0  # per output element of a layer (post-processing)
    area_um2: float | None = None  # explicit area; None: not counted


@dataclass(frozen=True)
class Domain:
    """A clock/voltage domain besides the core's (energy/domains.py prices it)."""

    name: str
    members: frozenset           # memory level and overhead names it supplies
    voltage_v: float
    frequency_hz: float
    vf_table: tuple = ()         # (volts, f_max Hz), ascending volts; () for a fixed point
    nominal_voltage_v: float | None = None  # energies' reference: the given nominal, else the declared voltage (build sets it; a sweep moves only voltage_v)
    leakage_efold_v: float | None = None
    background_power_w: float = 0.0
    min_frequency_hz: float | None = None


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
    overhead: tuple = ()         # Overhead components
    leakage_efold_v: float | None = None  # leakage ∝ V·exp((V − Vnom)/efold); None: ∝ V
    claims: tuple = ()           # ClaimSpec, checked by `accelsim claims`
    source: str | None = None    # the arch file, for paths in claims
    counting: str = "accelsim"   # a registered counting convention (counting/conventions)
    constraints: dict = field(default_factory=dict)  # level name -> search.constraints.LevelConstraint
    constraint_names: tuple = ()  # search.constraints.NameSite: the constraints' dims/exclude names, located
    tech_table: object = None    # the TechTable of the arch's own table file (energy/tables.py); None: energy_table names one
    domains: tuple = ()          # Domain: clock/voltage domains besides the core's
    min_frequency_hz: float | None = None  # the core's lowest clock (voltage_frequency.min_frequency)
    power_cap_w: float | None = None       # a TDP: DVFS points above it are not allowed
    residency_level: str | None = None  # where activations stay between layers (accelsim/residency.py)
    structured_sparsity: object = None  # StructuredSparsitySpec: N:M weights run condensed (SCALE-Sim model)

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


# Stored bits per element of each number format (a per-vector scale travels in a sideband).
ELEMENT_BITS = {"int4": 4, "int4_vsq": 4, "int8": 8, "int16": 16, "int32": 32, "fp8": 8,
                "fp16": 16, "bf16": 16, "fp32": 32}


def _with_instances(levels) -> tuple:
    """Recompute every level's instance count from the spatial fan-outs above it."""
    out, instances = [], 1
    for level in levels:
        out.append(replace(level, instances=instances))
        if isinstance(level, Spatial):
            instances *= level.fanout
    return tuple(out)


def fanout_axes_above(levels, index: int) -> list[tuple[int, int, int]]:
    """The fan-out axes above level `index`, innermost first (the nearest fan-out's x, then its y,
    then the next one's): (spatial level index, 0 for x | 1 for y, size); axes of size 1 left out.
    Instances are numbered over them with the first fastest."""
    axes = []
    for j in range(index - 1, -1, -1):
        if isinstance(levels[j], Spatial):
            axes += [(j, xy, size) for xy, size in ((0, levels[j].x), (1, levels[j].y)) if size > 1]
    return axes


def cluster_span(levels, index: int) -> tuple[list, int] | None:
    """Which fan-out axes a cluster of the memory at `index` spans: N consecutive instances fill the
    first axes whole and r positions of the next, N = s_1 ··· s_{m−1} · r with r | s_m. Returns
    (the axes from that m-th one outward, r), or None if N is not aligned to the axes so."""
    n, filled = levels[index].cluster, 1
    axes = fanout_axes_above(levels, index)
    for q, (_, _, size) in enumerate(axes):
        if n % (filled * size):
            r = n // filled
            return (axes[q:], r) if n % filled == 0 and size % r == 0 else None
        filled *= size
    return ([], 1) if filled == n else None


def cluster_problem(levels, index: int) -> str | None:
    """Why the clustered memory at `index` cannot be built as it stands, or None: each instance's
    block must be whole words and the cluster aligned to the fan-out axes (cluster_span). Checked
    again at each precision, as words may follow it and a compute slot level divides instances."""
    level = levels[index]
    if level.cluster == 1:
        return None
    width = level.width_bits or level.word_bits
    if width % (level.cluster * level.word_bits):
        return (f"{level.name}: width_bits {width} is not a multiple of cluster × word_bits "
                f"({level.cluster} × {level.word_bits}): each instance's block must be whole words")
    if level.instances % level.cluster:
        return f"{level.name}: cluster {level.cluster} does not divide its {level.instances} instances"
    if cluster_span(levels, index) is None:
        sizes = " × ".join(str(s) for _, _, s in fanout_axes_above(levels, index))
        return (f"{level.name}: cluster {level.cluster} is not whole inner fan-out axes times a divisor "
                f"of the next (axes above, innermost first: {sizes})")
    return None


def _memory_for_word(level: Memory, word_bits: int, frequency_hz: float) -> Memory:
    read, write, shared = (None if t is None else _bandwidth_words(t, word_bits, frequency_hz, level.clock_hz)
                           for t in level.bandwidth_text)
    block_bits = (level.width_bits or word_bits) // level.cluster  # one instance's share of an access
    return replace(level, word_bits=word_bits, block_words=max(1, block_bits // word_bits),
                   read_bw_words=read, write_bw_words=write, shared_bw_words=shared)


def _bandwidth_words(text, word_bits: int, core_hz: float, clock_hz: float | None) -> float:
    """Words per core cycle. A level on its own domain's clock moves its per-cycle words at that
    clock: per core cycle they are words per domain cycle × f_domain / f_core (a rate in B/s
    comes out the same either way)."""
    if clock_hz is None:
        return units.parse_bandwidth_words(text, word_bits, core_hz)
    return units.parse_bandwidth_words(text, word_bits, clock_hz) * (clock_hz / core_hz)


def with_precision(arch: Arch, fmt: str | None) -> Arch:
    """The arch as it runs number format `fmt`: MAC energy, slots and word widths follow it."""
    compute = arch.compute
    if fmt is None or (fmt == compute.format and not any(m.word_from_precision for m in arch.memories)):
        return arch
    if not compute.supports(fmt):
        supported = [compute.format] + [f for f, _, _ in compute.formats]
        raise SpecError(f"arch '{arch.name}' does not run precision '{fmt}'; its compute level "
                        f"'{compute.name}' supports {', '.join(supported)}")
    mac, slots = compute.mac_energy_pj, 1
    for f, f_mac, f_slots in compute.formats:
        if f == fmt:
            mac, slots = f_mac, f_slots
    levels = []
    for level in arch.levels:
        if isinstance(level, Memory) and level.word_from_precision:
            level = _memory_for_word(level, ELEMENT_BITS[fmt], arch.frequency_hz)
        elif isinstance(level, Spatial) and level.name == compute.slot_level and slots > 1:
            level = replace(level, y=level.y // slots) if level.y % slots == 0 else replace(level, x=level.x // slots)
        elif isinstance(level, Compute):
            scale = compute.vector_scale_pj if fmt == compute.format else dict(compute.vector_scales).get(fmt)
            level = replace(level, format=fmt, mac_energy_pj=mac, vector_scale_pj=scale)
        levels.append(level)
    levels = _with_instances(levels)
    problems = [p for i, l in enumerate(levels) if isinstance(l, Memory) and (p := cluster_problem(levels, i))]
    if problems:
        raise SpecError(f"arch '{arch.name}' at precision '{fmt}': {'; '.join(problems)}")
    return replace(arch, levels=levels)


def f_max_hz(vf_table, voltage_v: float) -> float:
    volts = [v for v, _ in vf_table]
    freqs = [f for _, f in vf_table]
    return float(np.interp(voltage_v, volts, freqs))


def min_voltage_v(vf_table, frequency_hz: float) -> float:
    """The lowest voltage whose f_max reaches `frequency_hz` (the inverse of f_max_hz on a rising
    table); below the table's first frequency, its first voltage (the floor). Above its last
    frequency: a SpecError."""
    volts = [v for v, _ in vf_table]
    freqs = [f for _, f in vf_table]
    if frequency_hz > freqs[-1] * (1 + 1e-9):
        raise SpecError(f"frequency {units.format_si(frequency_hz, 'Hz')} is above the V–f table's "
                        f"highest, {units.format_si(freqs[-1], 'Hz')} at {volts[-1]} V")
    if any(b <= a for a, b in pairwise(freqs)):
        raise SpecError("the V–f table's frequencies must rise with voltage to find V(f)")
    return float(np.interp(frequency_hz, freqs, volts))


def _check_formats(spec: ArchSpec, compute, problems: ProblemList, line_of) -> None:
    where = ("levels", len(spec.levels) - 1, "compute")
    spatial = {l.spatial.name: l.spatial for l in spec.levels if l.spatial}
    slots = {f: fs.slots for f, fs in compute.formats.items()}
    if compute.slot_level is not None and compute.slot_level not in spatial:
        problems.add(f"slot_level '{compute.slot_level}' is not a spatial level", ".".join(map(str, where)) + ".slot_level",
                     line_of(where + ("slot_level",)), allowed=tuple(spatial))
    for f, n in slots.items():
        if n == 1:
            continue
        level = spatial.get(compute.slot_level)
        if level is None:
            problems.add(f"format '{f}' uses {n} slots but the compute level names no slot_level",
                         ".".join(map(str, where)) + f".formats.{f}", line_of(where + ("formats", f)),
                         suggestion="add slot_level: <the spatial level of the vector lanes>")
        elif level.y % n and level.x % n:
            problems.add(f"format '{f}' uses {n} slots but '{level.name}' ({level.x} x {level.y}) "
                         f"does not divide by {n}", ".".join(map(str, where)) + f".formats.{f}.slots",
                         line_of(where + ("formats", f)))


def build_arch(spec: ArchSpec, file: str | None = None, line_of=None) -> Arch:
    """Check what the schema cannot see (names, order, f_max) and freeze the arch."""
    problems = ProblemList(file)
    line_of = line_of or (lambda path: None)
    _check_levels(spec, problems, line_of)
    vf, frequency = _operating_frequency(spec, problems, line_of)
    compute_spec = next((l.compute for l in spec.levels if l.compute), None)
    if compute_spec is not None:
        _check_formats(spec, compute_spec, problems, line_of)
    problems.raise_if_any()
    levels = _build_levels(spec, compute_spec, frequency)
    for i, level in enumerate(levels):
        if isinstance(level, Memory) and (problem := cluster_problem(levels, i)):
            problems.add(problem, f"levels.{i}.memory.cluster", line_of(("levels", i, "memory", "cluster")),
                         suggestion="a cluster is consecutive instances along the nearest fan-out axes (e.g. "
                                    "one x row) sharing width_bits: choose a size that divides both")
    _check_residency(spec, levels, problems, line_of)
    problems.raise_if_any()
    tech = spec.technology
    overhead = tuple(Overhead(o.name, o.energy_per_cycle, o.leakage_power, o.energy_per_output, o.area)
                     for o in spec.overhead)
    domains = ()
    if spec.domains:
        from .domains import build_domains  # only arches that declare domains pay for it
        domains, levels = build_domains(spec, levels, frequency, problems, line_of)
        problems.raise_if_any()
    # A table file is read by load.load_arch, which sets energy_table to the file's table name.
    return Arch(spec.name, spec.description, tech.node, tech.energy_table or "", tech.nominal_voltage,
                spec.operating_point.voltage, frequency, vf, tuple(levels), spec.dataflow, overhead,
                tech.leakage_voltage_efold, tuple(spec.claims), file, spec.counting, domains=domains,
                min_frequency_hz=spec.voltage_frequency.min_frequency if spec.voltage_frequency else None,
                power_cap_w=spec.power_cap,
                residency_level=spec.residency.level if spec.residency else None,
                structured_sparsity=spec.structured_sparsity)


def _check_residency(spec: ArchSpec, levels, problems: ProblemList, line_of) -> None:
    """The residency level must be an on-chip memory below the outermost one, with one instance
    (one copy of the activations), a finite size, and room for inputs and outputs."""
    if spec.residency is None:
        return
    name, where = spec.residency.level, ("residency", "level")
    memories = [l for l in levels if isinstance(l, Memory)]
    level = next((m for m in memories if m.name == name), None)
    why = ("is not a memory level" if level is None else
           "is the outermost memory, where activations live anyway" if level is memories[0] else
           f"has {level.instances} instances (residency needs one shared copy)" if level.instances != 1 else
           "has unlimited size (residency checks what fits)" if level.size_bits is None else
           f"does not keep {sorted({'inputs', 'outputs'} - level.keeps)}" if not {"inputs", "outputs"} <= level.keeps
           else None)
    if why:
        problems.add(f"residency level '{name}' {why}", "residency.level", line_of(where),
                     allowed=tuple(m.name for m in memories[1:] if m.instances == 1 and m.size_bits is not None
                                   and {"inputs", "outputs"} <= m.keeps),
                     suggestion="name an on-chip buffer that keeps inputs and outputs, e.g. a unified or global buffer")


def _check_levels(spec: ArchSpec, problems: ProblemList, line_of) -> None:
    """Unique names; memories first, one compute level last; the top memory keeps every tensor."""
    names = [lvl.body.name for lvl in spec.levels]
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
        missing = {"inputs", "weights", "outputs"} - set(spec.levels[0].memory.keeps)
        if missing:
            problems.add(f"the outermost memory must keep every tensor; it does not keep {sorted(missing)}",
                         "levels.0.memory.keeps", line_of(("levels", 0, "memory", "keeps")),
                         allowed=("inputs", "weights", "outputs"))


def _operating_frequency(spec: ArchSpec, problems: ProblemList, line_of) -> tuple[tuple, float | None]:
    """The V–f table (sorted) and the frequency: the given one, within f_max(V), or f_max(V)."""
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
    return vf, frequency


def _sparse_level(spec) -> SparseLevel | None:
    if spec is None:
        return None
    energies = tuple((k, v) for k, v in (spec.energy.model_dump() if spec.energy else {}).items() if v is not None)
    def fmt(rank):
        return rank if isinstance(rank, str) else rank.format

    def flat(rank):
        return () if isinstance(rank, str) else tuple(rank.flatten)
    return SparseLevel(tuple((r, tuple(fmt(x) for x in f)) for r, f in spec.formats.items()),
                       tuple((a.target, tuple(a.condition_on)) for a in spec.gating),
                       tuple((a.target, tuple(a.condition_on)) for a in spec.skipping),
                       spec.metadata_word_bits, spec.metadata_width_bits, spec.metadata_depth, energies,
                       tuple((r, tuple(flat(x) for x in f)) for r, f in spec.formats.items()))


def _build_levels(spec: ArchSpec, compute_spec, frequency: float) -> list:
    """The frozen levels, top-down, each with the instances of the fan-outs above it."""
    levels, instances = [], 1
    for lvl in spec.levels:
        b = lvl.body
        if lvl.memory:
            from_precision = b.word_bits == "precision"
            word = ELEMENT_BITS[compute_spec.format] if from_precision else b.word_bits
            e = b.energy
            memory = Memory(
                b.name, b.kind, b.size, word, 1, frozenset(b.keeps), None, None,
                b.double_buffered, instances, e.read if e else None, e.write if e else None,
                (e.update if e.update is not None else e.write) if e else None, b.leakage_power,
                b.switching_share, from_precision, b.width_bits, (b.read_bandwidth, b.write_bandwidth, b.shared_bandwidth),
                b.cluster, area_um2=b.area, sparse=_sparse_level(b.sparse), block_rounding=b.block_rounding)
            levels.append(_memory_for_word(memory, word, frequency))
        elif lvl.spatial:
            levels.append(Spatial(b.name, b.x, b.y, b.multicast, b.reduction, b.interconnect, instances))
            instances *= b.x * b.y
        else:
            formats = tuple((f, fs.mac, fs.slots) for f, fs in b.formats.items())
            levels.append(Compute(b.name, b.format, b.energy.mac if b.energy else None,
                                  b.leakage_power, instances, formats, b.slot_level,
                                  b.switching_share, b.reduction_tree_share,
                                  b.energy.vector_scale if b.energy else None,
                                  tuple((f, fs.vector_scale) for f, fs in b.formats.items() if fs.vector_scale is not None),
                                  b.area, frozenset(b.operand_latch),
                                  None if b.sparse is None else SparseCompute(
                                      b.sparse.gate_on_zero_operand, b.sparse.skip_on_not_aligned_operands,
                                      tuple((k, v) for k, v in (b.sparse.energy.model_dump() if b.sparse.energy
                                                                else {}).items() if v is not None)),
                                  b.psum_bits))
    return levels

