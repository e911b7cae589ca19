"""Evaluate one design point in a worker: a row of metrics, or the reason it is infeasible."""
from __future__ import annotations

from ..errors import MappingError, SpecError
from ..options import SimOptions
from .spec import Point


def _split(overrides):
    """The arch's and the workload's overrides (mapper.* ones are in the point's mapper settings)."""
    arch, workload = [], []
    for item in overrides:
        target, _, rest = item.partition(".")
        if target in ("arch", "workload"):
            (arch if target == "arch" else workload).append(rest)
    return arch, workload


def point_options(point: Point) -> SimOptions:
    """The options a point runs with, as `accelsim run` takes them (the mapper's from the sweep)."""
    return SimOptions(model=point.model, dataflow=point.dataflow, constraints_file=point.constraints,
                      mapper_settings=point.mapper_settings)


def evaluate_point(point: Point) -> dict:
    """Metrics of one point. Spec and mapping errors make an infeasible row, not a crash."""
    from ..load import load_arch, load_workload
    from ..simulate import simulate

    row = {"key": point.key, **point.label(), "model": point.model}
    arch_over, wl_over = _split(point.overrides)
    try:
        arch = load_arch(point.arch, arch_over)
        workload = load_workload(point.workload, wl_over)
        result = simulate(arch, workload, point_options(point))
    except (SpecError, MappingError) as exc:
        reason = exc.problems[0].message if isinstance(exc, SpecError) else str(exc)
        return {**row, "status": "infeasible", "reason": reason}
    tpw = result.tops_per_watt()
    energy = result.boundary_energy_pj()
    return {**row, "status": "ok", "reason": "",
            "macs": result.macs, "cycles": result.cycles, "latency_s": result.latency_s,
            "energy_pj": energy["system"], "energy_chip_pj": energy["chip"],
            "utilization": result.utilization, "tops": result.tops,
            "tops_per_watt": tpw["system"], "tops_per_watt_chip": tpw["chip"],
            "frequency_hz": arch.frequency_hz, "voltage_v": arch.voltage_v,
            "peak_macs_per_cycle": arch.peak_macs_per_cycle,
            "energy_by_component_pj": result.energy_by_component_pj(),
            "mapper": {layer.name: layer.extra["mapper"] for layer in result.layers if "mapper" in layer.extra}}
