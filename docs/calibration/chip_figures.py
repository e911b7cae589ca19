"""Figures and tables of docs/chip.md: the 5 nm VS-Quant chip model across V, format, density.

Run:  python docs/calibration/chip_figures.py   (writes docs/img/chip_*.png, prints the tables)
"""
from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from accelsim.load import load_arch, load_workload  # noqa: E402
from accelsim.options import SimOptions  # noqa: E402
from accelsim.simulate import simulate  # noqa: E402

ARCH = REPO / "arch" / "vsquant_5nm.yaml"
BENCH = load_workload(REPO / "workloads" / "matmul_benchmark.yaml")
FORMATS = ("int4_vsq", "int4", "int8")
VOLTS = [0.46, 0.50, 0.55, 0.60, 0.65, 0.67, 0.70, 0.75, 0.80, 0.85, 0.90, 0.95, 1.00, 1.05]
DENSITIES = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
MEASURED_V = {0.46: 95.6, 0.67: 48.7, 1.05: 17.0}
MEASURED_D = {0.0: 124.6, 0.1: 88.1, 0.3: 64.0, 0.5: 48.7, 0.7: 39.8, 1.0: 33.9}


def tops_per_watt(volts=0.67, precision="int4_vsq", density=0.5, frequency=None, workload=BENCH):
    over = [f"operating_point.voltage={volts}V"] + ([f"operating_point.frequency={frequency}Hz"] if frequency else [])
    result = simulate(load_arch(ARCH, over), workload, SimOptions(precision=precision, density=density))
    return result


def _sweep_figure(xs, run, measured, xlabel, ylabel, title, filename):
    """TOPS/W of every format over `xs` (run(x, fmt) -> result), with the measured points."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for fmt in FORMATS:
        ax.plot(xs, [run(x, fmt).tops_per_watt()["chip"] for x in xs], marker=".", label=f"model {fmt}")
    ax.plot(list(measured), list(measured.values()), "kx", ms=9, label="measured INT4-VSQ (calibration)")
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(REPO / "docs" / "img" / filename, dpi=120)


def figure_voltage():
    _sweep_figure(VOLTS, lambda v, fmt: tops_per_watt(v, fmt), MEASURED_V,
                  "supply voltage (V), clock f_max(V)", "TOPS/W (chip, 50 % density)",
                  "Energy efficiency vs voltage", "chip_voltage.png")


def figure_density():
    _sweep_figure(DENSITIES, lambda d, fmt: tops_per_watt(0.67, fmt, d), MEASURED_D,
                  "operand density (non-zero fraction of A and B)", "TOPS/W (chip, 0.67 V)",
                  "Energy efficiency vs density", "chip_density.png")


def figure_frequency():
    """Energy per op vs clock: along the V–f curve (V = V_min(f)) and at fixed 0.67 V."""
    arch = load_arch(ARCH)
    volts = np.array([v for v, _ in arch.vf_table])
    freqs = np.array([f for _, f in arch.vf_table])
    fig, ax = plt.subplots(figsize=(6, 4))
    along = [1e3 / tops_per_watt(v).tops_per_watt()["chip"] for v in volts]
    ax.plot(freqs / 1e6, along, marker=".", label="V = V_min(f) (DVFS)")
    fixed_f = np.linspace(100e6, f_at(arch, 0.67), 12)
    ax.plot(fixed_f / 1e6, [1e3 / tops_per_watt(0.67, frequency=f).tops_per_watt()["chip"] for f in fixed_f],
            marker=".", label="V = 0.67 V fixed")
    ax.set(xlabel="clock (MHz)", ylabel="energy per op (fJ, chip, INT4-VSQ, 50 %)",
           title="Energy to completion vs frequency")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(REPO / "docs" / "img" / "chip_frequency.png", dpi=120)


def f_at(arch, v):
    return float(np.interp(v, [p[0] for p in arch.vf_table], [p[1] for p in arch.vf_table]))


NETWORKS = ("bert_base_s128", "bert_base_s384", "bert_large_s128", "bert_large_s384", "deit_small", "deit_base",
            "resnet50_vsquant")


def network_table(precision=None):
    print("| workload | format | MACs | utilization | TOPS | TOPS/W (chip) | inferences/s | inferences/s/W |")
    print("|---|---|---|---|---|---|---|---|")
    for name in NETWORKS:
        wl = load_workload(REPO / "workloads" / f"{name}.yaml")
        r = simulate(load_arch(ARCH), wl, SimOptions(precision=precision))
        fmt = precision or ("per layer" if name == "resnet50_vsquant" else "int4_vsq")
        print(f"| {name} | {fmt} | {r.macs / 1e9:.2f} G | {100 * r.utilization:.1f} % | {r.tops:.2f} | "
              f"{r.tops_per_watt()['chip']:.1f} | {r.inferences_per_second:.1f} | "
              f"{r.inferences_per_second_per_watt('chip'):.0f} |")


def format_table():
    print("| format | MACs/cycle | peak TOPS at 1.05 V (derived) | TOPS/W 0.46 V | 0.67 V | 1.05 V "
          "| density 0 (0.67 V) | density 1 (0.67 V) |")
    print("|---|---|---|---|---|---|---|---|")
    for fmt in FORMATS:
        v = [tops_per_watt(x, fmt) for x in (0.46, 0.67, 1.05)]
        d = [tops_per_watt(0.67, fmt, x).tops_per_watt()["chip"] for x in (0.0, 1.0)]
        peak = v[2].macs / v[2].cycles * 2 * v[2].arch.frequency_hz / 1e12
        print(f"| {fmt} | {v[0].macs // v[0].cycles} | {peak:.2f} | "
              + " | ".join(f"{x:.1f}" for x in [r.tops_per_watt()["chip"] for r in v] + d) + " |")


BREAKDOWN = {"datapath": ("VectorMAC", "VectorMAC.scale"), "A-buffer": ("ABuffer",), "B-buffer": ("BBuffer",),
             "accum. collector": ("AccumCollector",), "other": ("Other", "PPU", "OutputBuffer", "ACollector")}
PAPER = {"int8": (2.76, 0.36, 0.44, 0.71, 1.05), "int4": (1.00, 0.18, 0.22, 0.30, 0.60),
         "int4_vsq": (1.01, 0.18, 0.22, 0.30, 0.61)}


def breakdown_table(density=0.3):
    """Per-MAC dynamic energy (plus leakage in 'other') by component, normalized to the INT4
    datapath, at 0.67 V; [J23]'s simulated breakdown beside it (a calibration input)."""
    runs = {fmt: tops_per_watt(0.67, fmt, density).layers[0] for fmt in FORMATS}
    per_mac = {}
    for fmt, layer in runs.items():
        parts = {k: sum(layer.energy.dynamic_pj.get(c, 0.0) for c in comps) / layer.macs for k, comps in BREAKDOWN.items()}
        parts["other"] += sum(layer.energy.leakage_pj.values()) / layer.macs
        per_mac[fmt] = parts
    unit = per_mac["int4"]["datapath"]
    print("| format | " + " | ".join(BREAKDOWN) + " | other per cycle (pJ): clock/control + leakage, PPU |")
    print("|---|" + "---|" * (len(BREAKDOWN) + 1))
    for fmt in ("int8", "int4", "int4_vsq"):
        layer = runs[fmt]
        cells = [f"{per_mac[fmt][k] / unit:.2f} ({p:.2f})" for k, p in zip(BREAKDOWN, PAPER[fmt])]
        clock = (layer.energy.dynamic_pj["Other"] + sum(layer.energy.leakage_pj.values())) / layer.cycles
        ppu = layer.energy.dynamic_pj["PPU"] / layer.cycles
        print(f"| {fmt} | " + " | ".join(cells) + f" | {clock:.2f} + {ppu:.2f} |")


def network_format_table():
    """Each network as published (its own formats) and with --precision per format, whose operand
    densities follow the format (named data, energy/formats.py): TOPS/W (chip) and inferences/s/W."""
    print("| workload | as published | --precision int4_vsq | --precision int4 | --precision int8 |")
    print("|---|---|---|---|---|")
    for name in NETWORKS:
        wl = load_workload(REPO / "workloads" / f"{name}.yaml")
        cells = []
        for precision in (None, *FORMATS):
            r = simulate(load_arch(ARCH), wl, SimOptions(precision=precision))
            cells.append(f"{r.tops_per_watt()['chip']:.1f} / {r.inferences_per_second_per_watt('chip'):.0f}")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    figure_voltage()
    figure_density()
    figure_frequency()
    format_table()
    print()
    breakdown_table()
    print()
    network_table()
    print()
    network_format_table()
