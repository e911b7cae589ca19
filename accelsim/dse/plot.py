"""Plots from a sweep store (SQLite) or a run's JSON (`accelsim run --json`), PNG or SVG.

Kinds: pareto (energy vs latency, the front marked), heatmap (a metric over two axes),
breakdown (stacked energy per layer by component, or by tensor), roofline (each layer's
arithmetic intensity vs attained ops/s under the peak and bandwidth roofs), frequency (energy to
completion and runtime vs clock, from a sweep over voltage or frequency), ucurve (per layer:
energy-to-completion vs clock split into its parts, from `accelsim dvfs --json`).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import SpecError
from ..files import atomic_path
from ..report.frames import load_run_json

KINDS = ("pareto", "heatmap", "breakdown", "roofline", "frequency", "ucurve")
# The store's numeric columns a heatmap can show, with their units.
METRICS = {"tops_per_watt": "TOPS/W (system)", "tops_per_watt_chip": "TOPS/W (chip)", "tops": "TOPS",
           "utilization": "utilization (0–1)", "energy_pj": "energy (pJ, system)",
           "energy_chip_pj": "energy (pJ, chip)", "latency_s": "latency (s)", "cycles": "cycles",
           "frequency_hz": "frequency (Hz)", "voltage_v": "voltage (V)", "macs": "MACs"}


def _subplots(figsize):
    """A new figure. matplotlib is imported here, so only `accelsim plot` pays for its import."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt.subplots(figsize=figsize)


def pareto_front(xs, ys) -> list[int]:
    """Indices of the points no other point beats in both x and y (lower is better)."""
    order = sorted(range(len(xs)), key=lambda i: (xs[i], ys[i]))
    front, best_y = [], float("inf")
    for i in order:
        if ys[i] < best_y:
            front.append(i)
            best_y = ys[i]
    return front


def _store_rows(path, where=None) -> list[dict]:
    """Feasible rows of one workload whose columns or axes equal every `where` value (compared as
    text). A store holding several workloads needs `where workload=NAME`: points of different
    networks on one plot compare nothing."""
    import sqlite3

    from .store import Store
    if not Path(path).is_file():
        raise SpecError(f"{path}: no such store (a sweep's SQLite file)")
    try:
        store = Store(path)
        try:
            stored = store.rows()
        finally:
            store.close()
    except sqlite3.DatabaseError as exc:
        raise SpecError(f"{path}: not a sweep store ({exc})") from None
    rows = [r for r in stored if r["status"] == "ok"
            and all(str(r.get(k, r["axes"].get(k))) == v for k, v in (where or {}).items())]
    if not rows:
        raise SpecError(f"{path}: no finished feasible points to plot" + (f" where {where}" if where else ""))
    workloads = sorted({r["workload"] for r in rows})
    if len(workloads) > 1:
        raise SpecError(f"{path}: the points span {len(workloads)} workloads ({', '.join(workloads)}); plot "
                        f"one at a time with --where workload={workloads[0]}")
    return rows


def _save(fig, out) -> Path:
    out = Path(out)
    if out.suffix not in (".png", ".svg"):
        raise SpecError(f"{out}: plots are written as .png or .svg")
    fig.tight_layout()
    with atomic_path(out, suffix=out.suffix) as tmp:  # a reader never sees half a figure
        fig.savefig(tmp, dpi=120)
    import matplotlib.pyplot as plt
    plt.close(fig)
    return out


def _label(row) -> str:
    axes = ", ".join(f"{k.split('.')[-1]}={v}" for k, v in row["axes"].items())
    return f"{row['dataflow']} {axes}".strip()


def plot_pareto(source, out, group="dataflow", where=None) -> dict:
    rows = _store_rows(source, where)
    xs = [r["latency_s"] for r in rows]
    ys = [r["energy_pj"] * 1e-12 for r in rows]
    fig, ax = _subplots((6, 4.5))
    for g in sorted({r[group] for r in rows}):
        idx = [i for i, r in enumerate(rows) if r[group] == g]
        ax.scatter([xs[i] for i in idx], [ys[i] for i in idx], label=f"{group} {g}", s=18)
    front = pareto_front(xs, ys)
    ax.plot([xs[i] for i in front], [ys[i] for i in front], "k--", lw=1, label="Pareto front")
    ax.set(xscale="log", yscale="log", xlabel="latency (s)", ylabel="energy (J, system)",
           title="Energy vs latency")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    _save(fig, out)
    return {"x": xs, "y": ys, "front": [_label(rows[i]) for i in front]}


def plot_heatmap(source, out, x, y, metric="tops_per_watt", where=None) -> dict:
    if metric not in METRICS:
        raise SpecError(f"unknown heatmap metric '{metric}'; choose from {', '.join(METRICS)}")
    rows = _store_rows(source, where)
    value = lambda r, k: r["axes"][k] if k in r["axes"] else r[k]  # noqa: E731
    missing = [k for k in (x, y) if not any(k in r["axes"] or k in r for r in rows)]
    if missing:
        raise SpecError(f"{source}: no axis or column {missing}; axes: {sorted(rows[0]['axes'])}")
    xv = sorted({value(r, x) for r in rows}, key=_numeric)
    yv = sorted({value(r, y) for r in rows}, key=_numeric)
    grid = np.full((len(yv), len(xv)), np.nan)
    for r in rows:
        grid[yv.index(value(r, y)), xv.index(value(r, x))] = r[metric]
    fig, ax = _subplots((6, 4.5))
    im = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis")
    ax.set_xticks(range(len(xv)), [str(v) for v in xv])
    ax.set_yticks(range(len(yv)), [str(v) for v in yv])
    for (i, j), v in np.ndenumerate(grid):
        if not np.isnan(v):
            ax.text(j, i, f"{v:.3g}", ha="center", va="center", fontsize=7, color="w")
    fig.colorbar(im, label=METRICS[metric])
    ax.set(xlabel=x, ylabel=y, title=f"{metric} over {x.split('.')[-1]} × {y.split('.')[-1]}")
    _save(fig, out)
    return {"x": xv, "y": yv, "grid": grid}


def _numeric(v):
    """Sort key: numbers and quantities ('64KiB', '0.5V') by value, other text after them."""
    from .. import units
    for parse in (float, units.parse_size_bits, units.parse_voltage_v, units.parse_frequency_hz):
        try:
            return (0, float(parse(v)))
        except (TypeError, ValueError, SpecError):
            continue
    return (1, str(v))


def plot_breakdown(source, out, by="component") -> dict:
    data = load_run_json(source)
    layers = data["layers"]
    stacks: dict[str, list[float]] = {}
    for i, layer in enumerate(layers):
        e = layer["energy_breakdown_pj"]
        if by == "tensor":
            parts = {}
            for per_role in e["by_tensor"].values():
                for role, pj in per_role.items():
                    parts[role] = parts.get(role, 0.0) + pj
            parts["compute"] = sum(v for k, v in e["dynamic"].items() if k not in e["by_tensor"])
            parts["leakage"] = sum(e["leakage"].values())
        else:
            parts = {k: v + e["leakage"].get(k, 0.0) for k, v in e["dynamic"].items()}
        for name, pj in parts.items():
            stacks.setdefault(name, [0.0] * len(layers))[i] = pj * layer["count"]
    fig, ax = _subplots((max(6, 0.25 * len(layers)), 4.5))
    bottom = np.zeros(len(layers))
    for name, values in stacks.items():
        ax.bar(range(len(layers)), np.array(values) * 1e-6, bottom=bottom, label=name)
        bottom += np.array(values) * 1e-6
    ax.set_xticks(range(len(layers)), [l["name"] for l in layers], rotation=90, fontsize=6)
    ax.set(ylabel="energy (µJ, × count)", title=f"{data['workload']} on {data['arch']}: energy by {by}")
    ax.legend(fontsize=7)
    _save(fig, out)
    return stacks


def roofline_points(data: dict) -> dict:
    """Per memory level with a finite bandwidth: its roof (words per second its ports move) and
    each layer's ops per word on those ports (a hierarchical roofline). A level's time is at least
    reads ÷ read bandwidth and writes (fills + updates) ÷ write bandwidth, so at least their sum ÷
    the sum of the bandwidths when both are finite; with one finite, that port's traffic alone. A
    shared port (reads + writes ÷ its bandwidth) bounds all the traffic by the smaller of the two."""
    freq = data["operating_point"]["frequency_hz"]
    levels = {}
    for name, bw in data["memory_bandwidth_words_per_cycle"].items():
        ports = [p for p in ("read", "write") if bw[p]]
        shared = bw.get("shared")
        if shared:  # every word crosses the shared port; the separate ports, if both finite, too
            rate = min(shared, bw["read"] + bw["write"]) if len(ports) == 2 else shared
            ports = ["read", "write"]
        elif not ports:
            continue  # unlimited: no roof
        else:
            rate = sum(bw[p] for p in ports)
        points = []
        for layer in data["layers"]:
            level = layer["levels"].get(name, {})
            tensors = level.get("tensors", {})
            width = {role: level.get("output_words", 1) if role == "outputs" else 1 for role in tensors}  # elements → words
            words = sum(t["reads"] * width[r] for r, t in tensors.items()) if "read" in ports else 0
            words += sum((t["fills"] + t["updates"]) * width[r] for r, t in tensors.items()) if "write" in ports else 0
            if words:
                ops = 2 * layer["macs"]
                points.append((layer["name"], ops / words, ops / layer["latency_s"]))
        levels[name] = {"ports": ports, "words_per_s": rate * freq, "points": points}
    return levels


def plot_roofline(source, out) -> dict:
    data = load_run_json(source)
    peak_ops = data["peak"]["tops"] * 1e12
    levels = roofline_points(data)
    intensities = [p[1] for level in levels.values() for p in level["points"]] or [1.0]
    fig, ax = _subplots((6.5, 4.5))
    xs = np.logspace(np.log10(max(min(intensities) / 4, 1e-3)), np.log10(max(intensities) * 4), 50)
    ax.plot(xs, np.full_like(xs, peak_ops), "k-", lw=1, label=f"peak compute ({peak_ops / 1e12:.3g} TOPS)")
    for i, (name, level) in enumerate(levels.items()):
        color = f"C{i}"
        ax.plot(xs, np.minimum(peak_ops, xs * level["words_per_s"]), "--", color=color, lw=1,
                label=f"{name} roof ({' + '.join(level['ports'])}: {level['words_per_s']:.3g} words/s)")
        ax.scatter([p[1] for p in level["points"]], [p[2] for p in level["points"]], s=14, color=color,
                   label=f"layers vs {name}")
    ax.set(xscale="log", yscale="log", xlabel="arithmetic intensity (ops per word moved at the level)",
           ylabel="attained performance (ops/s)", title=f"Roofline: {data['workload']} on {data['arch']}")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    _save(fig, out)
    return {"peak": peak_ops, "levels": levels}


def plot_frequency(source, out, where=None) -> dict:
    rows = sorted(_store_rows(source, where), key=lambda r: r["frequency_hz"])
    f = np.array([r["frequency_hz"] for r in rows]) / 1e6
    energy = np.array([r["energy_chip_pj"] for r in rows]) * 1e-12
    runtime = np.array([r["latency_s"] for r in rows])
    fig, ax = _subplots((6, 4.5))
    ax.plot(f, energy * 1e6, "o-", label="energy to completion (chip)")
    ax.set(xlabel="clock (MHz)", ylabel="energy (µJ)", title=f"{rows[0]['workload']}: energy and runtime vs clock")
    ax2 = ax.twinx()
    ax2.plot(f, runtime * 1e3, "s--", color="tab:red", label="runtime")
    ax2.set_ylabel("runtime (ms)")
    ax.grid(alpha=0.3)
    lines = ax.get_lines() + ax2.get_lines()
    ax.legend(lines, [line.get_label() for line in lines], loc="upper center", fontsize=8)
    _save(fig, out)
    return {"frequency_mhz": f, "energy_j": energy, "runtime_s": runtime}


def plot_ucurve(source, out, boundary="system") -> dict:
    """Small multiples, one per layer: energy-to-completion vs the swept clock, stacked by part
    (compute, overhead, leakage, memory; boundary 'chip' leaves off-chip memory out), the
    energy-optimal allowed clock marked, points over the power cap shaded."""
    import json
    try:
        data = json.loads(Path(source).read_text())
    except (OSError, ValueError) as exc:
        raise SpecError(f"{source}: not a readable JSON file ({exc})") from None
    if not isinstance(data, dict) or data.get("kind") != "accelsim.dvfs":
        raise SpecError(f"{source}: not a DVFS study; write one with `accelsim dvfs ARCH WORKLOAD --json PATH`")
    f = np.array(data["frequencies_hz"]) / 1e6
    layers = data["layers"]
    parts = ("compute", "overhead", "leakage") + (("memory",) if boundary == "system" else ())
    cols = min(4, len(layers))
    rows = -(-len(layers) // cols)
    fig, _ = _subplots((3.2 * cols, 2.6 * rows))
    fig.clf()  # a grid of its own
    curves = {}
    for k, layer in enumerate(layers):
        ax = fig.add_subplot(rows, cols, k + 1)
        stack = np.array([[p["energy_j"][part] for p in layer["points"]] for part in parts]) * 1e6
        ax.stackplot(f, stack, labels=parts, alpha=0.8)
        total = stack.sum(axis=0)
        allowed = np.array([p["allowed"] for p in layer["points"]])
        j = int(np.argmin(np.where(allowed, total, np.inf)))
        ax.plot(f[j], total[j], "k*", markersize=10, label="optimum")
        over = [i for i, p in enumerate(layer["points"]) if not p["allowed"]]
        if over:  # shaded from halfway to the first point over the cap
            start = (f[over[0] - 1] + f[over[0]]) / 2 if over[0] else f[0]
            ax.axvspan(start, f[-1], color="grey", alpha=0.35, hatch="//", label="over power cap")
        ax.set_title(f"{layer['name']}: {f[j]:.0f} MHz", fontsize=9)
        ax.set_xlabel("clock (MHz)", fontsize=8)
        ax.set_ylabel("energy (µJ)", fontsize=8)
        ax.tick_params(labelsize=7)
        curves[layer["name"]] = total
    fig.axes[0].legend(fontsize=6, loc="upper right")
    fig.suptitle(f"{data['workload']} on {data['arch']}: energy to completion ({boundary}) vs {data['domain']} clock",
                 fontsize=10)
    _save(fig, out)
    return {"frequency_mhz": f, "energy_uj": curves}


def plot(kind: str, source, out, **kwargs):
    if kind not in KINDS:
        raise SpecError(f"unknown plot kind '{kind}'; choose from {', '.join(KINDS)}")
    return {"pareto": plot_pareto, "heatmap": plot_heatmap, "breakdown": plot_breakdown,
            "roofline": plot_roofline, "frequency": plot_frequency, "ucurve": plot_ucurve}[kind](source, out, **kwargs)
