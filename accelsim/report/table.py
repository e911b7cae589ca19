"""Terminal tables: one row per layer, then totals and the energy breakdown."""
from __future__ import annotations

from ..results import WorkloadResult
from ..units import format_si


def _fmt_table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = lambda cells: "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))  # noqa: E731
    sep = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), sep] + [line(r) for r in rows])


def render_result(result: WorkloadResult) -> str:
    arch = result.arch
    components = list(result.energy_by_component_pj())
    headers = ["layer", "x", "MACs", "cycles", "util%", "latency", "energy"] + \
              [f"{c} pJ" for c in components] + ["TOPS", "TOPS/W", "TOPS/mm²"]
    area_mm2 = result.area.total_mm2
    rows = []
    for l in result.layers:
        dyn, leak = l.energy.dynamic_pj, l.energy.leakage_pj
        rows.append([l.name, str(l.count), f"{l.macs:,}", f"{l.cycles:,}", f"{100 * l.utilization:.1f}",
                     format_si(l.latency_s, "s"), format_si(l.energy_pj * 1e-12, "J")]
                    + [f"{dyn.get(c, 0) + leak.get(c, 0):.4g}" for c in components]
                    + [f"{l.tops:.3g}", f"{l.tops_per_watt()['system']:.3g}", _per_mm2(l.tops, area_mm2)])
    if any("residency" in l.extra for l in result.layers):  # arch with residency: which activations stayed on chip
        headers.append(f"resident in {arch.residency_level}")
        for row, l in zip(rows, result.layers):
            r = l.extra["residency"]
            row.append("+".join(t for t, on in (("in", r["inputs_resident"]), ("out", r["outputs_resident"])) if on)
                       or "-")
    if any("load_imbalance" in l.extra for l in result.layers):  # sparse layers under the cycle model
        headers.append("imbalance")
        for row, l in zip(rows, result.layers):
            row.append(f"{l.extra['load_imbalance']:.3f}" if "load_imbalance" in l.extra else "-")
    tpw = result.tops_per_watt()
    by_comp = result.energy_by_component_pj()
    total = result.energy_pj or 1.0
    lines = [
        f"accelsim: {result.workload_name} on {arch.name} "
        f"({arch.peak_macs_per_cycle} MACs/cycle, {format_si(arch.frequency_hz, 'Hz')}, {arch.voltage_v:g} V; "
        f"model {result.options['model']}, dataflow {result.options['dataflow']})",
        "",
        _fmt_table(headers, rows),
        "",
        f"totals: {result.macs:,} MACs in {result.cycles:,} cycles ({format_si(result.latency_s, 's')}), "
        f"utilization {100 * result.utilization:.1f}%, energy {format_si(result.energy_pj * 1e-12, 'J')}, "
        f"{result.tops:.3g} TOPS",
        "TOPS/W by boundary: " + ", ".join(f"{b} {v:.3g}" for b, v in tpw.items())
        + "   (core: MACs + on-chip dynamic; chip: + on-chip leakage; system: + DRAM)",
        "energy by component: " + ", ".join(
            f"{c} {100 * (e['dynamic'] + e['leakage']) / total:.1f}%" for c, e in by_comp.items()),
    ] + _area_lines(result)
    return "\n".join(lines)


def _per_mm2(tops: float, area_mm2: float) -> str:
    return f"{tops / area_mm2:.3g}" if area_mm2 > 0 else "-"


def _area_lines(result: WorkloadResult) -> list[str]:
    area = result.area
    total = area.total_mm2
    shares = ", ".join(f"{c.name} {c.total_um2 * 1e-6:.3g} mm² {100 * c.total_um2 * 1e-6 / total:.0f}%"
                       for c in area.components) \
        if total > 0 else "nothing counted"
    not_counted = "; ".join(f"{name} ({why})" for name, why in area.excluded)
    peak = f"peak {_per_mm2(result.peak_tops, total)} (derived: peak TOPS {result.peak_tops:.3g} / area)"
    return [f"area: {total:.4g} mm² on chip ({shares}); not counted: {not_counted}",
            f"TOPS/mm²: achieved {_per_mm2(result.tops, total)}, {peak}"]
