"""The one source of truth for every spec field: pydantic models with extra='forbid'.

The docs' spec reference and `accelsim info` are generated from these models.
"""
from __future__ import annotations

from typing import Annotated, ClassVar, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .quantities import (
    AreaUm2,
    BandwidthText,
    EnergyPJ,
    FrequencyHz,
    NodeNm,
    PowerW,
    SizeBitsOrUnlimited,
    VoltageV,
)

Role = Literal["inputs", "weights", "outputs"]
MacFormat = Literal["int4", "int4_vsq", "int8", "int16", "int32", "fp8", "fp16", "bf16", "fp32"]
Share = Annotated[float, Field(ge=0.0, le=1.0)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, strict=True,
                              allow_inf_nan=False)


# ----------------------------------------------------------------------------- architecture

class AccessEnergies(Strict):
    """Explicit energy per access of one block (`width_bits`) at the nominal voltage."""

    read: EnergyPJ = Field(description="energy of one block read, e.g. '2.1pJ'")
    write: EnergyPJ = Field(description="energy of one block write (fills use it)")
    update: Optional[EnergyPJ] = Field(None, description="energy of one block read-modify-write "
                                       "update of partial sums; omitted means equal to write")


class SparseActionSpec(Strict):
    """One storage-action optimization (Sparseloop's action_optimization option)."""

    target: Role = Field(description="the tensor whose accesses at this level are gated or skipped")
    condition_on: list[Role] = Field(min_length=1, description="the tensors whose zeros lead it (e.g. "
                                     "[inputs]: a weight read is cut where the input is zero)")


class SparseEnergies(Strict):
    """Per-access energies of sparse actions (one block, or one metadata-storage access), at the
    nominal voltage. Omitted: 0 pJ, as Timeloop prices an action its ERT does not name
    (src/model/topology.hpp, storageOperationMappings)."""

    metadata_read: Optional[EnergyPJ] = None
    metadata_write: Optional[EnergyPJ] = Field(None, description="metadata fills use it")
    metadata_update: Optional[EnergyPJ] = Field(None, description="omitted means metadata_write")
    gated_read: Optional[EnergyPJ] = None
    gated_write: Optional[EnergyPJ] = None
    gated_update: Optional[EnergyPJ] = None
    skipped_read: Optional[EnergyPJ] = Field(None, description="omitted means gated_read")
    skipped_write: Optional[EnergyPJ] = Field(None, description="omitted means gated_write")
    skipped_update: Optional[EnergyPJ] = Field(None, description="omitted means gated_update")
    gated_metadata_read: Optional[EnergyPJ] = None
    skipped_metadata_read: Optional[EnergyPJ] = Field(None, description="omitted means gated_metadata_read")
    decompression_count: Optional[EnergyPJ] = Field(None, description="per element filled uncompressed "
                                                    "from a compressed parent")
    compression_count: Optional[EnergyPJ] = Field(None, description="per element of a read-write tensor "
                                                  "written back compressed to its parent")


RankFormat = Literal["U", "B", "UB", "RLE", "CP", "UOP"]


class RankSpec(Strict):
    """One rank of a representation format that flattens several dims."""

    format: RankFormat
    flatten: list[str] = Field(min_length=1, description="dims this rank covers together (Sparseloop's "
                               "flattened_rankIDs): the run of consecutive loops over them is one fiber; "
                               "['*']: every dim of the tensor (one format for layers whose dims differ)")


class SparseMemorySpec(Strict):
    """Sparseloop's per-level sparse_optimizations (docs/sparsity.md)."""

    formats: dict[Role, list[RankFormat | RankSpec]] = Field(default_factory=dict,
        description="representation format per tensor, one entry per rank, outer → inner (e.g. "
        "{weights: [UOP, CP]}, or {format: UOP, flatten: [c, p]} for a rank over several dims); omitted "
        "tensors are stored uncompressed without metadata")
    gating: list[SparseActionSpec] = Field(default_factory=list, description="accesses to the target "
        "are gated (no data moves, the cycle is spent) where the condition_on tensors are zero")
    skipping: list[SparseActionSpec] = Field(default_factory=list, description="as gating, but the "
        "accesses are skipped: no energy and no cycle")
    metadata_word_bits: int = Field(0, ge=0, description="bits per metadata word (Timeloop's "
                                    "metadata_datawidth)")
    metadata_width_bits: int = Field(0, ge=0, description="bits per access of the metadata storage "
                                     "(Timeloop's metadata_storage_width); 0: the level has none")
    metadata_depth: Optional[int] = Field(None, ge=0, description="words of the metadata storage; "
                                          "omitted means unlimited")
    energy: Optional[SparseEnergies] = None


class MemorySpec(Strict):
    """A storage level: DRAM, SRAM buffer, register file or latch array."""

    name: str = Field(description="unique level name, used by mappings and reports")
    kind: Literal["dram", "sram", "regfile", "latch"] = Field(alias="class",
        description="memory class; selects the energy estimator when `energy` is not given")
    size: SizeBitsOrUnlimited = Field(description="capacity per instance, e.g. '64KiB', or 'unlimited'")
    word_bits: int | Literal["precision"] = Field(description="bits per stored element (Timeloop's "
        "datawidth), or 'precision': the element width of the layer's number format (4 for int4)")
    width_bits: Optional[int] = Field(None, gt=0, description="bits per access (one block); "
                                      "omitted means one word; energy is charged per block")
    block_rounding: Optional[Literal["transfer", "layer"]] = Field(None, description="how accesses of a "
        "level wider than a word are charged in blocks (docs/energy.md#block-rounding): transfer: every "
        "tile transfer (a fill, a read that serves a child's fill, a drain of partial sums) costs whole "
        "blocks; layer: a layer's words of one action are rounded up to blocks once (Timeloop's "
        "convention). Omitted: the counting convention's (transfer; layer under counting: timeloop)")
    keeps: list[Role] = Field(description="tensors this level may hold (mappings may bypass more)")
    read_bandwidth: Optional[BandwidthText] = Field(None, description="per instance, e.g. "
        "'16 words/cycle', '64 B/cycle' or '25.6 GB/s' (bytes per second, decimal, converted at the "
        "operating frequency: a rate per second stays fixed when the clock moves); omitted means unlimited")
    write_bandwidth: Optional[BandwidthText] = Field(None, description="per instance; omitted means unlimited")
    shared_bandwidth: Optional[BandwidthText] = Field(None, description="per instance: one port that reads "
        "and writes share (Timeloop's shared_bandwidth, ZigZag's shared port); with read/write bandwidths "
        "too, every limit applies; omitted means none")
    double_buffered: bool = Field(False, description="half the capacity holds the next tile "
                                  "while the other half is used")
    energy: Optional[AccessEnergies] = Field(None, description="explicit per-block energies; "
                                             "omitted means estimated from the technology table")
    leakage_power: Optional[PowerW] = Field(None, description="static power per instance at the "
                                            "nominal voltage, e.g. '0.86uW'; omitted means none "
                                            "(the tables carry no leakage data)")
    area: AreaUm2 | None = Field(None, description="silicon area per instance, e.g. '1200um2' or "
                                    "'0.02mm2'; omitted means estimated from the technology table "
                                    "(docs/area.md); off-chip (dram) levels count no area")
    switching_share: Share = Field(0.0, description="fraction of the access energy (at dense, random "
        "data) that toggles with the data; it scales with the tensor's bit activity, the rest is fixed. "
        "0 (default): data-independent, as SRAM precharge and sensing are to first order")
    cluster: int = Field(1, ge=1, description="instances that share one physical array width_bits wide "
        "(Timeloop's cluster_size): each instance's block is width_bits / (cluster × word_bits) words, "
        "size is per instance, and one array access serves the whole cluster, so dynamic energy is "
        "charged per cluster the mapping's fan-out touches; a cluster is consecutive instances along "
        "the fan-out axes above, innermost first (docs/concepts.md#levels)")
    sparse: Optional[SparseMemorySpec] = Field(None, description="representation formats and "
        "gating/skipping of this level's accesses (Sparseloop semantics, docs/sparsity.md); omitted "
        "means dense")

    @model_validator(mode="after")
    def _checks(self):
        if self.cluster > 1 and self.width_bits is None:
            raise ValueError(f"cluster {self.cluster} needs width_bits: the shared array's access width "
                             f"(cluster × word_bits × the words each instance reads per access)")
        if self.word_bits == "precision":
            return self
        if self.word_bits <= 0:
            raise ValueError("word_bits must be positive")
        if self.size is not None and self.size < self.word_bits:
            raise ValueError(f"size ({self.size} bits) is smaller than one word ({self.word_bits} bits)")
        if self.width_bits is not None and self.width_bits % self.word_bits:
            raise ValueError(f"width_bits ({self.width_bits}) must be a multiple of word_bits ({self.word_bits})")
        if len(set(self.keeps)) != len(self.keeps):
            raise ValueError("keeps lists a tensor twice")
        return self


class SpatialSpec(Strict):
    """A fan-out of identical children in an x × y mesh."""

    name: str
    x: int = Field(1, ge=1, description="children along x")
    y: int = Field(1, ge=1, description="children along y")
    multicast: bool = Field(True, description="one parent read can feed several children")
    reduction: bool = Field(True, description="partial sums from several children add in the network")
    interconnect: Literal["broadcast", "systolic"] = Field("broadcast",
        description="systolic arrays forward operands neighbour to neighbour (adds skew in the cycle model)")


class ComputeEnergies(Strict):
    mac: EnergyPJ = Field(description="energy of one MAC at the nominal voltage")
    vector_scale: Optional[EnergyPJ] = Field(None, description="per-vector scaled formats: energy of "
        "the scale path (scale product, rounding, scaling the dot product) per scaled dot product at the "
        "nominal voltage, dense operands; gated when an operand vector is all zero (energy/formats.py)")


class FormatSpec(Strict):
    """How the datapath runs one number format."""

    mac: EnergyPJ = Field(description="energy of one MAC in this format at the nominal voltage, "
                          "dense random operands")
    slots: int = Field(1, ge=1, description="multiplier slots of the `slot_level` one MAC uses "
                       "(e.g. 2 when an int8 MAC takes two int4 slots)")
    vector_scale: Optional[EnergyPJ] = Field(None, description="as the compute level's energy.vector_scale, "
                                             "for this format")


class ComputeSpec(Strict):
    """The MAC units at the leaves of the hierarchy."""

    name: str
    format: MacFormat = Field(description="default operand format; selects the MAC energy estimate")
    energy: Optional[ComputeEnergies] = Field(None, description="explicit MAC energy; omitted means estimated")
    leakage_power: Optional[PowerW] = Field(None, description="static power per MAC unit at nominal voltage")
    area: AreaUm2 | None = Field(None, description="silicon area per MAC unit, e.g. '25um2'; omitted "
                                    "means estimated from the technology table for `format` (docs/area.md)")
    formats: dict[MacFormat, FormatSpec] = Field(default_factory=dict, description="formats the "
        "datapath supports besides `format`, each with its MAC energy and slots; a layer's `precision` "
        "must be `format` or one of these")
    slot_level: Optional[str] = Field(None, description="spatial level whose x × y counts multiplier "
        "slots; a format with slots: 2 runs half as many MACs there (required if any slots > 1)")
    switching_share: Share = Field(1.0, description="fraction of the MAC energy that toggles with the "
        "operands (combinational logic: all of it by default); the rest (clocked pipeline registers) is fixed")
    reduction_tree_share: Share = Field(0.0, description="part of the switching energy in the adder "
        "tree of the spatial reduction (its nodes toggle when any leaf below them does); the rest is "
        "in the multipliers")
    psum_bits: Optional[int] = Field(None, ge=1, le=128, description="width of a partial sum (the accumulators' "
        "precision, e.g. 24 for INT8 MACs): a level that holds outputs still being reduced stores and moves each "
        "in ceil(psum_bits / word_bits) of its words; a finished output takes one word. Omitted: partial sums "
        "take one word, as outputs do")
    operand_latch: list[Literal["inputs", "weights"]] = Field(default_factory=list, description="operands "
        "each MAC keeps in a latch from one cycle to the next: while the innermost loops do not index one, "
        "it is not read again from the level that feeds the MAC (e.g. [weights] for a weight register "
        "in the multiplier); omitted: every MAC reads both operands")
    sparse: Optional["SparseComputeSpec"] = Field(None, description="compute gating/skipping on zero "
        "or missing operands (Sparseloop's compute_optimization, docs/sparsity.md); omitted: every "
        "existing operand pair is computed")


class SparseComputeSpec(Strict):
    """Sparseloop's compute optimizations."""

    gate_on_zero_operand: bool = Field(False, description="a MAC with a zero operand (or, without "
        "skip_on_not_aligned_operands, a missing one) is gated: it takes its cycle, costs gated_compute")
    skip_on_not_aligned_operands: bool = Field(False, description="a MAC whose operand is missing from a "
        "compressed stream is skipped: no cycle, costs skipped_compute")
    energy: Optional["SparseComputeEnergies"] = None


class SparseComputeEnergies(Strict):
    """Omitted: the MAC's energy, as Timeloop's ERT lookup falls back to `compute`
    (src/model/topology.hpp, arithmeticOperationMappings)."""

    gated_compute: Optional[EnergyPJ] = None
    skipped_compute: Optional[EnergyPJ] = Field(None, description="omitted means gated_compute, then the MAC's")


class LevelSpec(Strict):
    """Exactly one of memory, spatial, compute."""

    memory: Optional[MemorySpec] = None
    spatial: Optional[SpatialSpec] = None
    compute: Optional[ComputeSpec] = None

    @model_validator(mode="after")
    def _one(self):
        given = [k for k in ("memory", "spatial", "compute") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"each level is exactly one of memory, spatial, compute; got {given or 'none'}")
        return self

    @property
    def body(self):
        return self.memory or self.spatial or self.compute


class VFPoint(Strict):
    voltage: VoltageV
    frequency: FrequencyHz


class OperatingPoint(Strict):
    voltage: VoltageV = Field(description="supply voltage, e.g. '0.8V'")
    frequency: Optional[FrequencyHz] = Field(None, description="clock, e.g. '1GHz'; omitted means "
                                             "f_max(voltage) from `voltage_frequency`")


class VoltageFrequency(Strict):
    """The f_max(V) curve: a measured or datasheet table, interpolated linearly."""

    table: list[VFPoint] = Field(min_length=2, description="points of f_max versus supply voltage")
    source: str = Field(description="where the table comes from")
    min_frequency: Optional[FrequencyHz] = Field(None, description="lowest clock the domain runs at "
        "(the low end of `accelsim dvfs` sweeps); below the table's first frequency it runs at the "
        "first point's voltage (the voltage floor); omitted means the table's first frequency")


class Technology(Strict):
    node: NodeNm = Field(description="process node, e.g. '45nm'")
    energy_table: str | None = Field(None, description="technology table name (see `accelsim info "
                                        "tables`); give this or table_file")
    table_file: str | None = Field(None, description="your own technology table file, in the format of "
        "the built-in ones (docs/energy.md#your-own-technology-table), relative to the file that names it")
    nominal_voltage: Optional[VoltageV] = Field(None, description="voltage at which explicit energies "
                                                "are given; omitted means the table's voltage")
    leakage_voltage_efold: Optional[VoltageV] = Field(None, description="leakage power ∝ V·exp((V − "
        "Vnom)/efold) (drain-induced barrier lowering); omitted means leakage ∝ V")

    @model_validator(mode="after")
    def _one_table(self):
        if (self.energy_table is None) == (self.table_file is None):
            raise ValueError("give exactly one of energy_table (a built-in table's name) and table_file "
                             "(your own table file)")
        return self


class OverheadSpec(Strict):
    """Energy charged per clock cycle while a layer runs: clock tree, control, sequencers, PPU."""

    name: str
    energy_per_cycle: EnergyPJ = Field(0.0, description="dynamic energy per cycle at the nominal voltage")
    energy_per_output: EnergyPJ = Field(0.0, description="dynamic energy per output element a layer "
        "produces (post-processing, e.g. a PPU), at the nominal voltage")
    leakage_power: Optional[PowerW] = Field(None, description="static power at the nominal voltage")
    area: AreaUm2 | None = Field(None, description="silicon area, e.g. '0.01mm2'; omitted means "
                                    "none counted (the area model has no estimate for control logic)")
    source: str = Field("", description="where the numbers come from")


class DomainSpec(Strict):
    """A clock/voltage domain besides the core's (`operating_point`, `voltage_frequency`): off-chip
    memory, an uncore, an interconnect. Its levels' energies follow its own V and f, their
    per-cycle bandwidths its own clock (a bandwidth in B/s is fixed whatever any clock does)."""

    name: str = Field(description="unique domain name ('core' is the implicit domain of everything else)")
    levels: list[str] = Field(min_length=1, description="memory levels and overhead components it supplies")
    operating_point: OperatingPoint = Field(description="its voltage and clock (frequency omitted: "
                                            "f_max(voltage) from its table)")
    voltage_frequency: Optional[VoltageFrequency] = Field(None, description="its f_max(V) table; "
                                                          "omitted means a fixed operating point")
    nominal_voltage: Optional[VoltageV] = Field(None, description="voltage at which its levels' "
        "energies, leakage and background power are given; omitted means its operating voltage")
    leakage_voltage_efold: Optional[VoltageV] = Field(None, description="its leakage and background "
        "power ∝ V·exp((V − Vnom)/efold); omitted means ∝ V")
    background_power: PowerW = Field(0.0, description="power drawn while anything runs, whatever the "
        "traffic (DRAM refresh and PHY, uncore), at the nominal voltage; charged over the runtime")
    source: str = Field(description="where its numbers come from")


class ClaimConditions(Strict):
    voltage: Optional[VoltageV] = None
    frequency: Optional[FrequencyHz] = None
    precision: Optional[MacFormat] = None
    density: Optional[Share] = None
    dataflow: Optional[str] = Field(None, description="dataflow template, or 'search' for the mapper; omitted: "
                                    "the arch's own")


class ClaimSpec(Strict):
    """A published figure the arch should reproduce, evaluated by `accelsim claims`."""

    name: str
    metric: Literal["tops_per_watt", "tops", "utilization", "inferences_per_second",
                    "inferences_per_second_per_watt", "energy_per_mac_pj", "area_mm2", "peak_tops",
                    "ridge_macs_per_dram_byte"]
    value: float
    workload: str = Field(description="workload file, relative to the arch file")
    conditions: ClaimConditions = Field(default_factory=ClaimConditions)
    boundary: Literal["core", "chip", "system"] = "chip"
    tolerance: float = Field(gt=0, description="allowed relative error, e.g. 0.02")
    role: Literal["calibration", "prediction", "derived"] = Field(description="calibration: the model was "
        "fitted to it; prediction: the model was not, so the error is a test; derived: it follows from "
        "other figures by a formula (`derivation`), so it is no independent test")
    derivation: str = Field("", description="for role derived: the formula, e.g. 'peak TOPS = 2 × MACs/cycle × f'")
    source: str

    @model_validator(mode="after")
    def _derivation(self):
        if (self.role == "derived") != bool(self.derivation):
            raise ValueError("a claim has a `derivation` exactly when its role is 'derived'")
        return self


class ResidencySpec(Strict):
    """Activations kept on chip between layers (docs/concepts.md#inter-layer-residency)."""

    level: str = Field(description="the memory level (one instance, keeping inputs and outputs) where a "
        "layer leaves its outputs when the next layer reads them and both layers' data fit; that layer then "
        "reads them there instead of from the memories above. Needs the analytical model")


class RowWiseSparsitySpec(Strict):
    block_size: int = Field(ge=2, le=1024, description="positions per block (SCALE-Sim's BlockSize): even, "
                            "at most the array's rows and dividing twice them")
    seed: int = Field(40, ge=0, le=2**32 - 1, description="seed of the generator that draws each "
                      "filter's N from 1..block_size/2 (SCALE-Sim's RandomNumberGeneratorSeed)")


class StructuredSparsitySpec(Strict):
    """The array runs N:M-sparse weights (a layer's `weight_nm`) condensed, as SCALE-Sim v3's
    [sparsity] SparsitySupport = true does; read by the SCALE-Sim model (--scalesim-compat)."""

    representation: Literal["ellpack_block", "csr", "csc"] = Field(description="how the filter SRAM "
        "stores the condensed weights and their metadata (SCALE-Sim's SparseRep): blocked ELLPACK "
        "(ceil(log2 M) bits per kept weight), CSR or CSC")
    row_wise: Optional[RowWiseSparsitySpec] = Field(None, description="SCALE-Sim's OptimizedMapping "
        "(ws only): every filter keeps its own random N of each block instead of the layer's weight_nm; "
        "omitted means layer-wise N:M")


class ArchSpec(Strict):
    name: str
    description: str = ""
    technology: Technology
    operating_point: OperatingPoint
    voltage_frequency: Optional[VoltageFrequency] = None
    dataflow: Optional[str] = Field(None, description="dataflow template the hardware is built for "
                                    "(ws, os, is, rs); used when the run names none. Without one, the mapper searches")
    levels: list[LevelSpec] = Field(min_length=2, description="top-down: memories, spatial "
                                    "fan-outs, and one compute level last")
    overhead: list[OverheadSpec] = Field(default_factory=list, description="per-cycle components "
                                         "outside the levels (clock tree, control, post-processing)")
    claims: list[ClaimSpec] = Field(default_factory=list, description="published figures to check "
                                    "with `accelsim claims`")
    power_cap: Optional[PowerW] = Field(None, description="the most power the hardware may draw "
        "(a TDP): `accelsim dvfs` marks operating points above it and its schedules avoid them; "
        "omitted means none")
    domains: list[DomainSpec] = Field(default_factory=list, description="clock/voltage domains "
        "besides the core's (docs/dvfs.md); omitted means one core domain, with off-chip memory at its "
        "own fixed nominal supply")
    counting: str = Field("accelsim", description="a registered counting convention (accelsim, timeloop). timeloop: Timeloop "
        "v0.4's conventions (docs/concepts.md#counting-conventions): fan-outs multicast and reduce only "
        "identical tiles; when the nest's innermost loop is spatial, MAC operands are reused like a "
        "buffer's tile; buffers leak only in utilized instances. `accelsim import timeloop` sets it")
    extends: Optional[str] = Field(None, description="base architecture file; this file's keys override it")
    constraints: dict[str, "LevelConstraintSpec"] = Field(default_factory=dict, description="what the hardware "
        "cannot do, in a constraints file's format (level name → factors, order, keep, bypass, x/y dims "
        "and exclude; these may name relevance classes: reduction, out_channel, out_pixel, shared, and "
        "window taps: row_taps, column_taps): the mapper never leaves "
        "it, and a template's or a mapping file's mapping that does is an error")
    residency: Optional[ResidencySpec] = Field(None, description="inter-layer residency of activations; "
                                               "omitted means every layer reads its inputs from, and writes "
                                               "its outputs to, the outermost memory")
    structured_sparsity: Optional[StructuredSparsitySpec] = Field(None, description="the array skips the "
        "pruned weights of N:M-sparse layers (SCALE-Sim v3's sparsity support; docs/cycle-model.md); "
        "omitted means it runs every layer dense")


# ----------------------------------------------------------------------------- workload

class LayerSpec(Strict):
    # `type: conv` or top-level dims (C, K, M, ...) are the usual unknown keys: say where shapes go
    UNKNOWN_KEY_HINT: ClassVar[str] = (
        "a layer's shape goes under its kind, e.g. conv2d: {c: 3, k: 64, h: 224, w: 224, r: 7, s: 7, "
        "stride: 2, padding: 3} or matmul: {m: 197, n: 1000, k: 768}; the kinds are conv2d, "
        "depthwise_conv2d, matmul, fully_connected, batched_matmul, pool2d, einsum (docs/spec-reference.md)")

    name: str
    count: int | str = Field(1, description="how many identical copies run (totals multiply); "
                             "an integer or an expression over the workload parameters")
    # A layer gives exactly one kind. The parameters are ir/layers.py's builders' (a test checks these
    # texts name the same ones); values are integers or expressions over the workload parameters.
    conv2d: Optional[dict] = Field(None, description="2-D convolution: c, k (input, output channels), h, w "
        "(input rows, columns), r, s (filter rows, columns); optional n (batch, 1), stride (1), padding (0), "
        "dilation (1), groups (1), ceil_mode (false)")
    depthwise_conv2d: Optional[dict] = Field(None, description="one filter per channel: c, h, w, r, s; "
        "optional n (1), stride (1), padding (0), dilation (1)")
    matmul: Optional[dict] = Field(None, description="O[m,n] += I[m,k] * W[k,n]: m, n, k")
    fully_connected: Optional[dict] = Field(None, description="a matmul on n vectors: c_in, c_out; "
        "optional n (1)")
    batched_matmul: Optional[dict] = Field(None, description="O[b,m,n] += I[b,m,k] * W[b,k,n] (attention): "
        "b, m, n, k")
    pool2d: Optional[dict] = Field(None, description="pooling window, one operand: c, h, w, r, s; optional "
        "n (1), stride (1), padding (0)")
    einsum: Optional["EinsumSpec"] = None
    precision: Optional[MacFormat] = Field(None, description="number format of this layer; omitted "
                                           "means the workload's, else the arch's compute format")
    pad: Optional[dict[str, int]] = Field(None, description="round these dims up to a multiple "
        "(e.g. {m: 16}) as hardware with fixed tiles runs ragged edges; MACs and utilization count "
        "the real layer, cycles and accesses the padded one; omitted means the workload's")
    density: Optional[Share | "DensitySpec"] = Field(None, description="non-zero fraction of the "
        "operands, one number for both or {inputs, weights} (energy only: nothing is skipped); "
        "omitted means the workload's, else dense")
    weight_nm: Optional[Annotated[str, Field(pattern=r"^[1-9][0-9]{0,3}:[1-9][0-9]{0,3}$")]] = Field(
        None, description="'N:M' structured sparsity of the weights: N non-zeros in every M consecutive "
        "positions of the reduction (SCALE-Sim's topology sparsity column). Only an arch with "
        "structured_sparsity skips the zeros, and only the SCALE-Sim model (--scalesim-compat) reads "
        "it; omitted means dense")

    sparsity: Optional[dict[Role, "TensorSparsitySpec"]] = Field(None, description="density model per "
        "tensor for the sparse pass (docs/sparsity.md): what the arch's formats compress and its gating "
        "and skipping cut; omitted means dense")

    @model_validator(mode="before")
    @classmethod
    def _short_expressions(cls, data):
        return _check_expression_lengths(data)


class TensorSparsitySpec(Strict):
    """How a tensor's non-zeros are placed (Sparseloop's density models)."""

    distribution: Literal["dense", "fixed_structured", "hypergeometric", "structured", "measured"] = Field(
        description="fixed_structured: every tile holds density × its size non-zeros; hypergeometric: "
        "non-zeros uniformly at random over the tensor; structured: n of every m along `axis`; measured: "
        "a .npy tensor")
    density: Optional[Share] = Field(None, description="non-zero fraction (fixed_structured, hypergeometric)")
    n: Optional[int] = Field(None, ge=0, description="structured: non-zeros per group")
    m: Optional[int] = Field(None, ge=1, description="structured: group length")
    axis: Optional[str] = Field(None, description="structured: the dim along which groups run")
    file: Optional[str] = Field(None, description="measured: a .npy file relative to the workload file")

    @model_validator(mode="after")
    def _fields(self):
        need = {"fixed_structured": ("density",), "hypergeometric": ("density",), "structured": ("n", "m", "axis"),
                "measured": ("file",), "dense": ()}[self.distribution]
        missing = [k for k in need if getattr(self, k) is None]
        if missing:
            raise ValueError(f"distribution {self.distribution} needs {', '.join(missing)}")
        if self.distribution == "structured" and self.n > self.m:
            raise ValueError(f"structured n ({self.n}) exceeds m ({self.m})")
        if self.density == 0 or (self.distribution == "structured" and self.n == 0):
            raise ValueError("a tensor with no non-zeros makes the layer do nothing; give a density above 0 "
                             "(or drop the layer)")
        return self


MAX_EXPRESSION_CHARS = 200


def _check_expression_lengths(layer):
    """Expressions are parsed recursively: a hostile 20,000-term one must not reach the parser."""
    if not isinstance(layer, dict):
        return layer
    values = [layer.get("count"), layer.get("elements")]
    for kind in ("conv2d", "depthwise_conv2d", "matmul", "fully_connected", "batched_matmul", "pool2d"):
        if isinstance(layer.get(kind), dict):
            values += list(layer[kind].values())
    einsum = layer.get("einsum")
    if isinstance(einsum, dict) and isinstance(einsum.get("dims"), dict):
        values += list(einsum["dims"].values())
    for value in values:
        if isinstance(value, str) and len(value) > MAX_EXPRESSION_CHARS:
            raise ValueError(f"an expression of {len(value):,} characters; at most "
                             f"{MAX_EXPRESSION_CHARS} are allowed")
    return layer



class DensitySpec(Strict):
    """Fraction of non-zero values per operand (randomly placed), or a real tensor to measure it on."""

    inputs: Share | str = Field(1.0, description="a fraction; a .npy file (relative to the workload "
                                "file) whose non-zero fraction after quantization to the layer's precision is used; "
                                "or named data, 'gaussian' (N(0,1)) or 'relu' (ReLU of it), whose non-zero fraction "
                                "in the layer's format is used and follows --precision (energy/formats.py)")
    weights: Share | str = Field(1.0, description="as inputs")


class EinsumSpec(Strict):
    expression: str = Field(description="e.g. 'O[k,p] += I[p+r] * W[k,r]'; output first, then "
                            "the inputs operand, then the weights operand")
    dims: dict[str, int | str] = Field(description="bound of every dimension (integers or "
                                       "expressions over the workload parameters)")


LayerSpec.model_rebuild()
LAYER_KINDS = ("conv2d", "depthwise_conv2d", "matmul", "fully_connected", "batched_matmul",
               "pool2d", "einsum")


class VectorOpSpec(Strict):
    """Non-MAC work (elementwise, activation, normalization, reduction): counted, not simulated."""

    name: str
    op: str = Field(description="what the op does, e.g. Add, Relu, Softmax, LayerNormalization (a label)")
    elements: int | str = Field(description="elements the op streams (its output or its largest input, "
                                "whichever is larger): one element operation each; an integer or an "
                                "expression over the workload parameters")
    count: int | str = Field(1, description="how many identical copies run")

    @model_validator(mode="before")
    @classmethod
    def _short_expressions(cls, data):
        return _check_expression_lengths(data)


class WorkloadSpec(Strict):
    name: str
    description: str = ""
    source: str = Field("", description="where the layer shapes come from")
    phase: Optional[Literal["prefill", "decode"]] = Field(None, description="LLM inference phase the "
        "layers run: prefill (a prompt of `seq` tokens per sequence) or decode (one new token per "
        "sequence); such workloads need a `batch` parameter (and prefill a `seq` one) and give "
        "tokens/s, time to first token and J/token with `accelsim llm`")
    parameters: dict[str, int] = Field(default_factory=dict, description="named integers "
                                       "(e.g. seq: 128) that layer fields may use in arithmetic "
                                       "expressions such as 'seq*4'; override with --set parameters.seq=384")
    precision: Optional[MacFormat] = Field(None, description="default number format of every layer")
    pad: dict[str, int] = Field(default_factory=dict, description="default padding of every layer "
                                "(dims absent from a layer are ignored)")
    density: Optional[Share | DensitySpec] = Field(None, description="default operand density of every layer")
    layers: list[LayerSpec] = Field(min_length=1)
    vector: list[VectorOpSpec] = Field(default_factory=list, description="non-MAC work beside the "
        "layers (`accelsim import onnx` writes it): element operations counted and reported, never "
        "fed to the MAC models nor added to the MAC totals")


# ----------------------------------------------------------------------------- mapping

class SpatialLoops(Strict):
    x: dict[str, int] = Field(default_factory=dict, description="dims unrolled along x, outer→inner")
    y: dict[str, int] = Field(default_factory=dict, description="dims unrolled along y")


class LevelMappingSpec(Strict):
    temporal: dict[str, int] = Field(default_factory=dict, description="loops at this memory "
                                     "level, outer → inner, as {dim: bound}")
    spatial: Optional[SpatialLoops] = Field(None, description="for spatial levels")
    bypass: list[Role] = Field(default_factory=list, description="tensors this level does not hold")


class MappingSpec(Strict):
    layers: dict[str, dict[str, LevelMappingSpec]] = Field(description="layer name → level name → loops")


# ----------------------------------------------------------------------------- mapper constraints

class AxisConstraint(Strict):
    dims: Optional[list[str]] = Field(None, description="dims that may unroll on this axis; omitted: any")
    exclude: Optional[list[str]] = Field(None, description="dims that may not unroll on this axis, as in "
                                         "`dims` (relevance classes and row_taps/column_taps allowed; a dim a "
                                         "layer does not have excludes nothing there); omitted: none")
    factors: dict[str, int] = Field(default_factory=dict, description="fixed spatial factors on this axis")


class LevelConstraintSpec(Strict):
    """What the mapper may choose at one level (as Timeloop's mapspace constraints)."""

    factors: dict[str, int] = Field(default_factory=dict, description="fixed temporal factors at this "
                                    "memory level (1: the dim is not iterated here); unlisted dims are free")
    order: Optional[list[str]] = Field(None, description="this level's innermost loops, outer → inner; "
                                       "unlisted dims sit above them in any order")
    keep: list[Role] = Field(default_factory=list, description="tensors this level must keep")
    bypass: list[Role] = Field(default_factory=list, description="tensors this level must not keep")
    x: Optional[AxisConstraint] = Field(None, description="a spatial level's x axis")
    y: Optional[AxisConstraint] = Field(None, description="a spatial level's y axis")


Metric = Literal["energy", "cycles", "edp"]


class MapperSettingsSpec(Strict):
    objective: Metric | list[Metric] | dict[Literal["energy", "cycles"], float] = Field(
        "edp", description="what the mapper minimizes: energy, cycles, edp (energy × cycles), a list "
        "compared in order (e.g. [cycles, energy]), or weights {energy: a, cycles: b} minimizing "
        "energy^a × cycles^b")
    search: Literal["auto", "exhaustive", "random", "hill_climb"] = Field(
        "auto", description="auto: exhaustive when the mapspace has at most `exhaustive_limit` points, "
        "else random sampling followed by hill climbing")
    evaluations: int = Field(300_000, ge=1, description="evaluation budget per layer of a heuristic search")
    exhaustive_limit: int = Field(5_000_000, ge=1, description="largest mapspace auto searches exhaustively")
    seed: int = Field(0, ge=0, lt=2**62, description="random seed (0 ≤ seed < 2^62): the same seed gives the same "
                      "mapping")
    rank: Literal["analytical", "cycle"] = Field(
        "analytical", description="whose cycles rank the search's best points: analytical (the bandwidth bound "
        "the search evaluates) or cycle (the cycle model's tile walk: stalls, fill and drain, systolic skew; it "
        "walks each of the `candidates` best distinct points and keeps the best by the objective)")
    candidates: int = Field(8, ge=1, le=64, description="with rank: cycle, how many of the search's best distinct "
                            "points the cycle model re-ranks")


class LayerConstraintSpec(Strict):
    """Constraints for the layers a name pattern or a shape selects (added to the file's own)."""

    name: Optional[str] = Field(None, description="layer name, or a shell-style pattern (e.g. 'layer4.*')")
    shape: Optional[dict[str, int]] = Field(None, description="dim bounds a layer must have (e.g. {r: 1, s: 1}: "
                                            "every 1×1 convolution)")
    constraints: dict[str, LevelConstraintSpec] = Field(description="level name → what the mapper may "
                                                        "choose there for these layers")

    @model_validator(mode="after")
    def _selects_layers(self):
        if self.name is None and self.shape is None:
            raise ValueError("give `name` (a layer name or pattern) or `shape` (dim bounds) to select layers")
        return self


class ConstraintsSpec(Strict):
    constraints: dict[str, LevelConstraintSpec] = Field(default_factory=dict,
                                                        description="level name → what the mapper may choose there")
    layers: list[LayerConstraintSpec] = Field(default_factory=list, description="constraints for some layers, "
                                              "selected by name or shape; every matching entry applies")
    mapper: MapperSettingsSpec = Field(default_factory=MapperSettingsSpec)


ArchSpec.model_rebuild()
