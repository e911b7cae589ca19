"""Results as plain data (for JSON)."""
from __future__ import annotations

import json

from ..counting.conventions import block_rounding_of
from ..energy.formats import SCALE_PATH, vector_size_of
from ..energy.model import ActionEnergies
from ..files import write_atomic
from ..ir.arch import Arch, Compute, Memory
from ..results import LayerResult, WorkloadResult
from ..version import __version__


def _counts(layer: LayerResult) -> dict:
    out = {}
    for level in layer.counts.levels:
        out[level.name] = {
            "instances": level.instances,
            "cycles": level.cycles,
            "output_words": level.output_words,
            # totals over the utilized instances; per instance: the busiest's (all alike unless ragged)
            "tensors": {role: {"reads": level.total(role).reads, "fills": level.total(role).fills,
                               "updates": level.total(role).updates,
                               "reads_per_instance": c.reads, "fills_per_instance": c.fills,
                               "updates_per_instance": c.updates, "tile_elements": c.tile_elements,
                               "block_accesses": _block_accesses(level, role)}
                        for role, c in level.tensors.items()},
        }
    return out


def _block_accesses(level, role: str) -> dict:
    """Reads, fills and updates in block accesses over the utilized instances, as energy prices them
    (the level's block rounding, docs/energy.md#block-rounding; priced per average instance)."""
    n = level.instances
    per = level.total(role).block_accesses(level.words_per_element(role), n, level.block_words)
    return dict(zip(("reads", "fills", "updates"), (int(round(x * n)) for x in per)))


def _mapping(layer: LayerResult) -> dict:
    return {"dataflow": layer.mapping.dataflow,
            "levels": {m.level: {"loops": [{"dim": l.dim, "bound": l.bound, "axis": l.axis} for l in m.loops],
                                 "bypass": sorted(m.bypass)} for m in layer.mapping.levels}}


def energy_reference_table(arch: Arch, energies: ActionEnergies) -> dict:
    """Per component, its energy per action (pJ at the operating point, dense random data) and
    where it came from ('arch': the arch file; else the technology table's name), like Accelergy's
    ERT. Storage actions are per block access of `block_words` words; fills cost `write_pj`."""
    out = {}
    for level in arch.levels:
        if isinstance(level, Memory):
            name = level.name
            out[name] = {"source": energies.sources[name], "read_pj": energies.read_pj[name],
                         "write_pj": energies.write_pj[name], "update_pj": energies.update_pj[name],
                         "block_words": level.block_words, "block_rounding": block_rounding_of(arch, level),
                         "leakage_w": energies.leakage_w[name]}
        elif isinstance(level, Compute):
            out[level.name] = {"source": energies.sources[level.name], "mac_pj": energies.mac_pj,
                               "leakage_w": energies.leakage_w[level.name]}
            size = vector_size_of(level.format)
            if level.vector_scale_pj is not None and size:  # per scaled dot product of `vector_size` MACs
                out[SCALE_PATH.format(compute=level.name)] = {
                    "source": "arch", "vector_scale_pj": level.vector_scale_pj * energies.voltage_scale,
                    "vector_size": size, "leakage_w": 0.0}
    per_output = {o.name: o.energy_per_output_pj * energies.voltage_scale for o in arch.overhead}
    for name, pj in (energies.overhead_pj_per_cycle or {}).items():
        out[name] = {"source": energies.sources[name], "cycle_pj": pj, "output_pj": per_output.get(name, 0.0),
                     "leakage_w": energies.leakage_w[name]}
    return out


def area_dict(result: WorkloadResult) -> dict:
    """The arch's counted on-chip area per component, and what is not counted and why."""
    area = result.area
    return {"total_mm2": area.total_mm2,
            "by_component": {c.name: {"per_instance_um2": c.per_instance_um2, "instances": c.instances,
                                      "total_mm2": c.total_um2 * 1e-6, "source": c.source}
                             for c in area.components},
            "not_counted": dict(area.excluded)}


def layer_dict(layer: LayerResult, area_mm2: float | None = None) -> dict:
    """A layer's numbers; `area_mm2` (the arch's counted area) adds its TOPS/mm²."""
    tpw = layer.tops_per_watt()
    return {
        "name": layer.name,
        "count": layer.count,
        "precision": layer.precision,
        "density": None if layer.density is None else {"inputs": layer.density.inputs,
                                                       "weights": layer.density.weights},
        "macs": layer.macs,
        "outputs": layer.outputs,
        "cycles": layer.cycles,
        "compute_cycles": layer.counts.compute_cycles,
        "utilization": layer.utilization,
        "latency_s": layer.latency_s,
        "energy_pj": layer.energy_pj,
        "tops": layer.tops,
        "tops_per_watt": tpw["system"],
        "tops_per_watt_by_boundary": tpw,
        "tops_per_mm2": layer.tops / area_mm2 if area_mm2 else None,
        "power_w_by_boundary": layer.power_w(),
        "energy_breakdown_pj": {"dynamic": layer.energy.dynamic_pj, "leakage": layer.energy.leakage_pj,
                                "by_tensor": layer.energy.by_tensor_pj},
        "levels": _counts(layer),
        "mapping": _mapping(layer),
        **layer.extra,
    }


def result_dict(result: WorkloadResult) -> dict:
    arch = result.arch
    tpw = result.tops_per_watt()
    return {
        "accelsim_version": __version__,
        "inputs": result.inputs,
        "arch": arch.name,
        "workload": result.workload_name,
        "options": result.options,
        "operating_point": {"voltage_v": arch.voltage_v, "frequency_hz": arch.frequency_hz},
        "peak": {"macs_per_cycle": arch.peak_macs_per_cycle, "tops": result.peak_tops,
                 "tops_per_mm2": result.peak_tops_per_mm2},  # derived: MACs × f, over the counted area
        "area": area_dict(result),
        "action_energies": {fmt: energy_reference_table(variant, energies)
                            for fmt, (variant, energies) in result.action_energies().items()},
        "memory_bandwidth_words_per_cycle": {m.name: {"read": m.read_bw_words, "write": m.write_bw_words,
                                                       "shared": m.shared_bw_words}
                                             for m in arch.memories},
        "totals": {
            "macs": result.macs,
            "cycles": result.cycles,
            "utilization": result.utilization,
            "latency_s": result.latency_s,
            "energy_pj": result.energy_pj,
            "tops": result.tops,
            "tops_per_watt": tpw["system"],
            "tops_per_watt_by_boundary": tpw,
            "area_mm2": result.area.total_mm2,
            "tops_per_mm2": result.tops_per_mm2,
            "energy_by_boundary_pj": result.boundary_energy_pj(),
            "inferences_per_second": result.inferences_per_second,
            "inferences_per_second_per_watt": result.inferences_per_second_per_watt("system"),
            "inferences_per_second_per_watt_by_boundary": {
                b: result.inferences_per_second_per_watt(b) for b in tpw},
            "energy_breakdown_pj": result.energy_by_component_pj(),
        },
        "layers": [layer_dict(l, result.area.total_mm2) for l in result.layers],
    }


def vector_dict(vector) -> dict:
    """A workload's non-MAC work (ir.workload.VectorOp): counted, not simulated, not in the MAC totals."""
    return {"element_operations": sum(v.elements * v.count for v in vector),
            "ops": [{"name": v.name, "op": v.op, "elements": v.elements, "count": v.count} for v in vector]}


def write_json(result: WorkloadResult, path, vector=()) -> None:
    """The result as JSON; `vector`: the workload's vector work, written beside the MAC results."""
    data = result_dict(result)
    if vector:
        data["vector_work"] = vector_dict(vector)
    write_atomic(path, json.dumps(data, indent=2, allow_nan=False) + "\n")
