"""A DVFS study as a table and as JSON (`accelsim dvfs --json`, read by `accelsim plot ucurve`)."""
from __future__ import annotations

from .schedule import Schedule
from .sweep import PARTS, DvfsSweep

JSON_KIND = "accelsim.dvfs"


def dvfs_dict(sweep: DvfsSweep, schedules: list[dict]) -> dict:
    """The sweep (every point of every layer) and the schedules compared, as plain data."""
    allowed = sweep.allowed()
    return {
        "kind": JSON_KIND, "arch": sweep.arch, "workload": sweep.workload, "domain": sweep.domain,
        "power_cap_w": sweep.power_cap_w,
        "frequencies_hz": list(sweep.frequencies_hz), "voltages_v": list(sweep.voltages_v),
        "static_power_w": list(sweep.static_power_w),
        "layers": [{
            "name": name, "count": count, "optimum": opt,
            "points": [{"runtime_s": row[i].runtime_s, "energy_j": row[i].energy_j, "power_w": row[i].power_w,
                        "bound_by": row[i].bound_by, "allowed": bool(allowed[j, i])}
                       for j, row in enumerate(sweep.points)],
        } for i, (name, count, opt) in enumerate(zip(sweep.layers, sweep.counts, sweep.optimum()))],
        "schedules": schedules,
    }


def schedule_dict(label: str, budget: dict, schedule: Schedule | None, single: Schedule | None,
                  sweep: DvfsSweep) -> dict:
    def one(s):
        return None if s is None else {"frequencies_hz": s.frequencies_hz(sweep), "energy_j": s.energy_j,
                                       "runtime_s": s.runtime_s, "switches": s.switches}
    saving = None
    if schedule is not None and single is not None:
        saving = 1.0 - schedule.energy_j / single.energy_j if "latency_s" in budget or not budget \
            else 1.0 - schedule.runtime_s / single.runtime_s
    return {"label": label, "budget": budget, "per_layer": one(schedule), "single_point": one(single),
            "saving": saving}


def render_dvfs(data: dict) -> str:
    f_mhz = [f / 1e6 for f in data["frequencies_hz"]]
    lines = [f"DVFS study: {data['workload']} on {data['arch']}, domain '{data['domain']}' swept "
             f"{f_mhz[0]:.0f}–{f_mhz[-1]:.0f} MHz"
             + (f", power cap {data['power_cap_w']:g} W" if data["power_cap_w"] else ""), ""]
    head = f"{'layer':<12}{'f_opt MHz':>10}{'V':>6}{'time µs':>10}{'power W':>9}{'E µJ':>10}" + \
        "".join(f"{p:>10}" for p in PARTS) + f"{'bound':>9}{'E@top µJ':>11}"
    lines += [("Per layer at its energy-optimal clock (energy split in µJ; E@top: at the highest clock "
               "within the power cap):"), head]
    for layer in data["layers"]:
        j = layer["optimum"]
        p = layer["points"][j]
        top = next(q for q in reversed(layer["points"]) if q["allowed"])
        lines.append(f"{layer['name']:<12}{f_mhz[j]:>10.0f}{data['voltages_v'][j]:>6.3f}{p['runtime_s'] * 1e6:>10.2f}"
                     f"{p['power_w']:>9.1f}{sum(p['energy_j'].values()) * 1e6:>10.1f}"
                     + "".join(f"{p['energy_j'][k] * 1e6:>10.1f}" for k in PARTS)
                     + f"{p['bound_by']:>9}{sum(top['energy_j'].values()) * 1e6:>11.1f}")
    lines += ["", "Whole workload at each single clock (energy split in µJ):",
              f"{'f MHz':>8}{'V':>7}{'time µs':>10}{'E µJ':>10}{'power W':>9}" + "".join(f"{p:>10}" for p in PARTS)
              + "  within cap"]
    for j, f in enumerate(f_mhz):
        t = sum(layer["points"][j]["runtime_s"] for layer in data["layers"])
        parts = {k: sum(layer["points"][j]["energy_j"][k] for layer in data["layers"]) for k in PARTS}
        e = sum(parts.values())
        ok = all(layer["points"][j]["allowed"] for layer in data["layers"])
        lines.append(f"{f:>8.0f}{data['voltages_v'][j]:>7.3f}{t * 1e6:>10.2f}{e * 1e6:>10.1f}{e / t:>9.1f}"
                     + "".join(f"{parts[k] * 1e6:>10.1f}" for k in PARTS) + f"  {'yes' if ok else 'no'}")
    for s in data["schedules"]:
        lines += ["", f"Per-layer schedule vs best single clock: {s['label']}"]
        for name in ("per_layer", "single_point"):
            r = s[name]
            if r is None:
                lines.append(f"  {name:<13} none meets the budget")
                continue
            clocks = ", ".join(f"{f / 1e6:.0f}" for f in r["frequencies_hz"])
            lines.append(f"  {name:<13} E {r['energy_j'] * 1e6:10.1f} µJ  time {r['runtime_s'] * 1e6:9.2f} µs  "
                         f"switches {r['switches']:>3}  clocks (MHz) {clocks}")
        if s["saving"] is not None:
            what = "runtime" if "energy_j" in s["budget"] else "energy"
            lines.append(f"  the schedule saves {s['saving'] * 100:.1f} % {what}")
    return "\n".join(lines)
