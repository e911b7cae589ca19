"""Energy and cycles of a sparse layer from the pass's action split, as Timeloop v3 prices and
times them (src/model/buffer.cpp: ComputeVectorAccesses, ComputeBufferEnergy, ComputePerformance;
src/model/arithmetic.cpp; the ERT fallbacks of src/model/topology.hpp)."""
from __future__ import annotations

from math import ceil, floor

from ..errors import SpecError
from ..ir.arch import Memory

# Timeloop's storageOperationMappings, in our spec's action names: the first one the level's
# `sparse.energy` names prices the action; none → 0 pJ.
FALLBACK = {
    "gated_read": ("gated_read",), "skipped_read": ("skipped_read", "gated_read"),
    "gated_fill": ("gated_write",), "skipped_fill": ("skipped_write", "gated_write"),
    "gated_update": ("gated_update", "gated_write"),
    "skipped_update": ("skipped_update", "skipped_write", "gated_update", "gated_write"),
    "random_metadata_read": ("metadata_read",), "gated_metadata_read": ("gated_metadata_read",),
    "skipped_metadata_read": ("skipped_metadata_read", "gated_metadata_read"),
    "random_metadata_fill": ("metadata_write",), "gated_metadata_fill": (), "skipped_metadata_fill": (),
    "random_metadata_update": ("metadata_update", "metadata_write"), "gated_metadata_update": (),
    "skipped_metadata_update": (),
    "decompression_count": ("decompression_count",), "compression_count": ("compression_count",),
}

# buffer.hpp VectorWidthCoefficientTable: below these tile sizes (in blocks) a compressed tile's
# partly filled blocks are counted; columns are densities 0.1 .. 1.0
VECTOR_WIDTH_THRESHOLDS = {
    2: (251, 125, 84, 63, 51, 42, 36, 32, 28, 1), 4: (375, 188, 125, 94, 75, 63, 54, 47, 42, 1),
    8: (438, 219, 146, 110, 88, 73, 63, 55, 49, 1), 16: (469, 235, 157, 118, 94, 79, 67, 59, 52, 1),
    32: (485, 243, 162, 122, 97, 81, 70, 61, 52, 1),
}


def action_energy_pj(level: Memory, op: str, energies) -> float:
    """pJ per block (data) or per metadata-storage access of one fine-grained action."""
    kind, action = op.split("_", 1)
    if kind == "random" and "metadata" not in op and "count" not in op:
        return {"read": energies.read_pj, "fill": energies.write_pj, "update": energies.update_pj}[action][level.name]
    named = dict(level.sparse.energies_pj) if level.sparse else {}
    scale = 1.0 if level.kind == "dram" else energies.voltage_scale
    return next((named[n] * scale for n in FALLBACK[op] if n in named), 0.0)


def block_ratio(rec, block: int, model) -> float:
    """A compressed tile in blocks: the expected blocks its non-zeros fill over the naive count
    (ComputeVectorAccesses); 1 when the tile is large or dense."""
    d = rec.density
    if not (rec.compressed and block > 1 and d < 1.0):
        return 1.0
    if block not in VECTOR_WIDTH_THRESHOLDS:
        raise ValueError(f"block of {block} words: Timeloop's vector-width table has 2, 4, 8, 16, 32")
    idx = int(floor(d / 0.1) - 1) if d >= 0.1 else 0
    if not VECTOR_WIDTH_THRESHOLDS[block][idx] > rec.shape // block:
        return 1.0
    dist = dict(model.occupancy_distribution(rec.shape))
    total = sum(ceil(n / block) * dist.get(n, 0.0) for n in range(1, rec.shape + 1))
    return total / (rec.shape * d / block)


def metadata_bits(rec, op: str) -> int:
    word = rec.metadata_word_bits
    return sum(word[r][0] * md + word[r][1] * pl for r, (md, pl) in enumerate(rec.fmt[op]))


def level_energy_pj(level: Memory, recs: list, energies, models: dict, activity=None) -> dict:
    """role -> pJ per instance of one memory level. `activity(role)`: the switching factor of the
    tensor's actual data accesses (energy/activity.py; 1 without `density:`)."""
    out = {}
    for rec in recs:
        try:
            ratio = block_ratio(rec, level.block_words, rec.tile_model or models.get(rec.role))
        except ValueError as exc:  # a block size Timeloop's table does not cover
            raise SpecError(f"{level.name}: {exc}; a level that holds compressed data needs blocks of 2, 4, 8, "
                            f"16 or 32 words (levels.{level.name}.width_bits = that × word_bits)") from None
        switching = activity(rec.role) if activity else 1.0
        pj = 0.0
        for op, n in rec.data.items():
            if n and op.endswith("_count"):   # (de)compressions are counted per element
                pj += n * action_energy_pj(level, op, energies)
            elif n:
                scale = switching if op.startswith("random_") else 1.0
                pj += ceil(n / level.block_words) * ratio * action_energy_pj(level, op, energies) * scale
        width = level.sparse.metadata_width_bits if level.sparse else 0
        for op in rec.fmt:
            bits = metadata_bits(rec, op)
            if bits and width:
                pj += ceil(bits / width) * action_energy_pj(level, op, energies)
        out[rec.role] = pj
    return out


def compute_energy_pj(compute, computes: dict, energies, switching: float = 1.0) -> float:
    """Actual MACs at the MAC energy (times the switching factor); gated and skipped ones at their
    declared energies, else the MAC's (Timeloop's arithmeticOperationMappings end in `compute`)."""
    named = dict(compute.sparse.energies_pj) if compute.sparse else {}
    mac = energies.mac_pj
    gated = named["gated_compute"] * energies.voltage_scale if "gated_compute" in named else mac
    skipped = (named["skipped_compute"] * energies.voltage_scale if "skipped_compute" in named else gated)
    return (computes["random_compute"] * mac * switching + computes["gated_compute"] * gated
            + computes["skipped_compute"] * skipped)


def compute_cycles(computes: dict, instances: int) -> int:
    return ceil((computes["random_compute"] + computes["gated_compute"]) / instances)


def port_demand(rec) -> dict:
    """op -> (data accesses that take a slot, metadata bits that take a slot) of one tensor at one
    level: actual and gated accesses (skipped ones take none), and their metadata. The one formula for
    a sparse level's bandwidth demand: level_cycles (analytical) and the cycle model's per-step
    traffic (demand_factors) both read it."""
    d = rec.data
    return {op: (d[f"random_{op}"] + d[f"gated_{op}"],
                 metadata_bits(rec, f"random_metadata_{op}") + metadata_bits(rec, f"gated_metadata_{op}"))
            for op in ("read", "fill", "update")}


def level_cycles(level: Memory, recs: list, cycles: int) -> int:
    """The level's cycles under its bandwidths: gated accesses take their slot, skipped ones do
    not; metadata bits count in data words (integer division, as Timeloop's uint64 arithmetic)."""
    read = write = 0.0
    for rec in recs:
        demand = port_demand(rec)
        r = demand["read"][0] + demand["read"][1] // level.word_bits
        w = (demand["fill"][0] + demand["update"][0]
             + (demand["fill"][1] + demand["update"][1]) // level.word_bits)
        read += r / cycles
        write += w / cycles
    slowdown = 1.0
    if level.read_bw_words is not None and level.read_bw_words < read:
        slowdown = min(slowdown, level.read_bw_words / read)
    if level.write_bw_words is not None and level.write_bw_words < write:
        slowdown = min(slowdown, level.write_bw_words / write)
    if level.shared_bw_words is not None and level.shared_bw_words < read + write:
        slowdown = min(slowdown, level.shared_bw_words / (read + write))
    return ceil(cycles / slowdown)


def demand_factors(level: Memory, rec) -> dict:
    """op -> words the level's port carries for this tensor per word the dense walk moves: (actual +
    gated accesses + metadata bits ÷ word bits) ÷ the algorithmic (dense) accesses; 1 where the
    dense count is 0. The cycle model scales each step's dense traffic by it."""
    dense = {"read": rec.reads, "fill": rec.fills, "update": rec.updates}
    out = {}
    for op, (data, bits) in port_demand(rec).items():
        out[op] = (data + bits / level.word_bits) / dense[op] if dense[op] else 1.0
    return out
