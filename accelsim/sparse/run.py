"""The sparse pass in the run: a layer's dense counts → its actual counts, cycles and energy, and
the split (actual / gated / skipped, metadata) recorded with the layer."""
from __future__ import annotations

from dataclasses import replace
from math import ceil

from ..counting.counts import ActionCounts, TensorCounts
from ..errors import MappingError, SpecError
from ..ir.arch import Arch, Memory
from .analysis import analyze_sparse
from .costs import compute_cycles, compute_energy_pj, level_cycles, level_energy_pj


def is_sparse(arch: Arch, layer) -> bool:
    return (bool(layer.sparsity) or arch.compute.sparse is not None
            or any(isinstance(l, Memory) and l.sparse is not None for l in arch.levels))


def sparse_layer(arch: Arch, layer, nest, counts: ActionCounts, energies, price, activity=None, cycles_of=None):
    """(counts, cycles, energy, record, extra). `price(counts, cycles)` prices counts the dense way (for
    leakage and overheads); the memories' and the MACs' dynamic energy is replaced by the pass's.
    `activity`: the layer's LayerActivity (switching with `density:`), applied to the actual data
    accesses and MACs as the dense energy model applies it. `cycles_of(result) -> (cycles, extra)`:
    a performance model's cycles for the pass's result (the cycle model's walk); without it the
    layer's cycles are the pass's bandwidth bound (Sparseloop's)."""
    einsum = layer.run_einsum
    wide = [lvl.name for lvl in counts.levels if lvl.output_words > 1]
    if wide:  # the pass prices every element as one word
        raise SpecError(f"layer '{layer.name}': {', '.join(wide)} hold partial sums wider than a word (the compute "
                        f"level's psum_bits), which the sparse pass does not price yet; drop psum_bits from "
                        f"{arch.name} for sparse runs, or run the layer dense")
    models = dict(layer.sparsity)
    result = analyze_sparse(arch, einsum, nest, counts, models, layer.name)
    by_name = {}
    for (s, role), rec in result.records.items():
        by_name.setdefault(result.level_names[s], []).append(rec)
    _check_metadata_capacity(arch, by_name)
    cycles = compute_cycles(result.computes, counts.compute_instances)
    total = cycles
    levels, dynamic, by_tensor, record = [], {}, {}, {}
    for lvl in counts.levels:
        memory, recs = arch.level(lvl.name), by_name.get(lvl.name, [])
        lvl_cycles = level_cycles(memory, recs, cycles) if recs else cycles
        total = max(total, lvl_cycles)
        tensors = {}
        for rec in recs:
            capacity = rec.max_occupancy if rec.compressed else rec.shape
            tensors[rec.role] = TensorCounts(rec.data["random_read"], rec.data["random_fill"],
                                             rec.data["random_update"], capacity)
            record.setdefault(lvl.name, {})[rec.role] = _record(rec)
        levels.append(replace(lvl, tensors=tensors, cycles=lvl_cycles))
        per_role = level_energy_pj(memory, recs, energies, models,
                                   (lambda role, m=memory: activity.memory_factor(m, role)) if activity else None)
        by_tensor[lvl.name] = {r: pj * lvl.charged_instances for r, pj in per_role.items()}
        dynamic[lvl.name] = sum(by_tensor[lvl.name].values())
    actual = ActionCounts(result.computes["random_compute"], counts.compute_instances, cycles, total, tuple(levels))
    extra = {}
    if cycles_of is not None:  # the counts keep the pass's bound, as the dense counts keep the analytical one
        total, extra = cycles_of(result)
    base = price(actual, total)
    dynamic[arch.compute.name] = compute_energy_pj(arch.compute, result.computes, energies,
                                                   activity.mac if activity else 1.0)
    energy = replace(base, dynamic_pj={**base.dynamic_pj, **dynamic}, by_tensor_pj={**base.by_tensor_pj, **by_tensor})
    record = {"computes": dict(result.computes), "compute_cycles": cycles, "levels": record}
    return actual, total, energy, record, extra


def _check_metadata_capacity(arch: Arch, by_name: dict) -> None:
    """The largest tiles' metadata must fit the level's metadata storage (Timeloop's
    ComputeScalarAccesses: `mapped metadata tile size exceeds metadata buffer capacity`)."""
    for name, recs in by_name.items():
        sparse = arch.level(name).sparse
        if sparse is None or sparse.metadata_depth is None:
            continue
        bits = sum(ceil(m.metadata_units) * w[0] + ceil(m.payload_units) * w[1]
                   for rec in recs for m, w in zip(rec.max_metadata, rec.metadata_word_bits))
        capacity = sparse.metadata_depth * sparse.metadata_width_bits
        if bits > capacity:
            raise MappingError(f"{name}: the tiles' metadata take {bits} bits, more than its metadata storage "
                               f"holds ({sparse.metadata_depth} × {sparse.metadata_width_bits} bits); use smaller "
                               "tiles at this level or a larger metadata_depth")


def _record(rec) -> dict:
    """What the pass found for one tensor at one level, JSON-able (per instance)."""
    split = {op: {k: rec.data[f"{k}_{op}"] for k in ("random", "gated", "skipped")} for op in ("read", "fill", "update")}
    out = {"algorithmic": {"read": rec.reads, "fill": rec.fills, "update": rec.updates},
           "actual": {op: v["random"] for op, v in split.items()},
           "gated": {op: v["gated"] for op, v in split.items()},
           "skipped": {op: v["skipped"] for op, v in split.items()},
           "tile_shape": rec.shape, "expected_density": rec.density,
           "capacity": rec.max_occupancy if rec.compressed else rec.shape}
    if rec.formats:
        out["format"] = list(rec.formats)
        # whole units, as Timeloop sizes the metadata storage (buffer.cpp, ComputeTileOccupancyAndConfidence)
        out["metadata_capacity"] = [[ceil(m.metadata_units), ceil(m.payload_units)] for m in rec.max_metadata]
        out["metadata"] = {kind: {op: rec.fmt[f"{kind}_metadata_{op}"] for op in ("read", "fill", "update")}
                           for kind in ("random", "gated", "skipped")}
    return out
