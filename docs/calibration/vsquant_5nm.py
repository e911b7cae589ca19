"""Fit every calibration constant of arch/vsquant_5nm.yaml to the chip's calibration data.

Run:  python docs/calibration/vsquant_5nm.py          fit at the arch's switching shares (~1 s CPU)
      python docs/calibration/vsquant_5nm.py --grid   grid search of the shares first (~2 s CPU)
It prints each constant with its key path; the arch file holds exactly these values, and
tests/validation/test_chip.py::test_calibration_script_reproduces_the_arch checks it.

Inputs are ONLY the calibration data of Keller et al., JSSC 2023 listed in section 4 of the
reference file (reproduced below with their marks): the INT4-VSQ density sweep at 0.67 V, the
0.46 / 0.67 / 1.05 V efficiency points at 50 % density, the simulated per-component breakdown
(all three formats), and the +0.8 % cost of VSQ over INT4. Every other figure is a prediction.

How (the model's structure comes from accelsim itself, so fit and model cannot drift apart):
* Energy is linear in the constants, and affine in each switching share (an action costs
  E·((1 − s) + s·activity); the MAC's switching part is (1 − t)·multipliers + t·adder tree). So
  for each condition (format, density) accelsim is run three times on a probe arch whose
  constants are all 1 pJ, without leakage: shares 0; shares 1 with t = 0; shares 1 with t = 1.
  Each component's energy there is its activity-weighted action count (its "units"), and the
  units at any share set are the matching affine mix — no further simulation.
* Step 1, at 0.67 V: linear least squares for the eight energies (4-bit MAC, 8-bit MAC, scale
  path per vector, A- and B-buffer per access, accumulation collector per access, per-cycle
  overhead incl. leakage, per-output PPU) over the six density points (relative error of
  energy per op), the 14 breakdown ratios (read at 30 % density: "70 % of the inputs set to zero"),
  and the +0.8 % VSQ cost.
* Grid (`--grid`): datapath share, tree share, buffer share (both buffers), collector share, each
  over 0, 0.05, …, 1 (21⁴ = 194 481 share sets; batched normal equations); the chosen set has
  the smallest largest density-sweep error with every energy ≥ 0.
* Step 2, leakage: the per-cycle overhead splits into dynamic (∝ V²) and leakage (power ∝
  V·exp((V − 0.67)/efold), integrated over runtime at f_max(V)); its power at 0.67 V and efold
  solve the 0.46 V and 1.05 V points exactly (bisection on efold).
"""
from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from accelsim.load import load_arch, load_workload  # noqa: E402
from accelsim.options import SimOptions  # noqa: E402
from accelsim.simulate import simulate  # noqa: E402

ARCH = REPO / "arch" / "vsquant_5nm.yaml"
WORKLOAD = REPO / "workloads" / "matmul_benchmark.yaml"

# [J23] calibration data (reference file section 4). C = stated, D = digitized.
DENSITY_SWEEP = {0.0: 124.6, 0.1: 88.1, 0.3: 64.0, 0.5: 48.7, 0.7: 39.8, 1.0: 33.9}  # TOPS/W, 0.67 V (C)
VOLTAGE_POINTS = {0.46: 95.6, 0.67: 48.7, 1.05: 17.0}  # TOPS/W at f_max(V), 50 % density (C, C, D)
BREAKDOWN = {  # per MAC, normalized to the INT4 datapath, 0.67 V (C)
    "int8": {"datapath": 2.76, "ABuffer": 0.36, "BBuffer": 0.44, "AccumCollector": 0.71, "other": 1.05},
    "int4": {"datapath": 1.00, "ABuffer": 0.18, "BBuffer": 0.22, "AccumCollector": 0.30, "other": 0.60},
    "int4_vsq": {"datapath": 1.01, "ABuffer": 0.18, "BBuffer": 0.22, "AccumCollector": 0.30, "other": 0.61},
}
BREAKDOWN_DENSITY = 0.3
VSQ_COST = 1.008                # INT4-VSQ energy / INT4 energy at 0.67 V, 50 % density (C)
V_NOM = 0.67
# Weights of the least-squares rows (relative errors of energy per op; breakdown residuals in units
# of the measured INT4-VSQ energy per op at 30 % density): chosen once, before the grid search.
BREAKDOWN_WEIGHT = 1.0
VSQ_COST_WEIGHT = 10.0

# The unknowns, their arch key paths (all at 0.67 V), and the probe components they multiply.
CONSTANTS = ("mac4", "mac8", "scale", "abuf", "bbuf", "acc", "cycle", "output")
COMPONENT = {"mac4": "VectorMAC", "mac8": "VectorMAC", "scale": "VectorMAC.scale", "abuf": "ABuffer",
             "bbuf": "BBuffer", "acc": "AccumCollector", "cycle": "Other", "output": "PPU"}
SHARE_KEYS = ("levels.VectorMAC.switching_share", "levels.VectorMAC.reduction_tree_share",
              "levels.ABuffer.switching_share", "levels.AccumCollector.switching_share")
PROBE = ["levels.VectorMAC.energy.mac=1pJ", "levels.VectorMAC.energy.vector_scale=1pJ",
         "levels.VectorMAC.formats.int4.mac=1pJ", "levels.VectorMAC.formats.int8.mac=1pJ",
         "overhead.Other.energy_per_cycle=1pJ", "overhead.Other.leakage_power=0W",
         "overhead.PPU.energy_per_output=1pJ"] + [
    f"levels.{m}.energy.{a}=1pJ" for m in ("ABuffer", "BBuffer", "AccumCollector") for a in ("read", "write")] + [
    "levels.AccumCollector.energy.update=1pJ"]
# Conditions the fit needs: (format, density).
CONDITIONS = [("int4_vsq", d) for d in DENSITY_SWEEP] + [("int4", BREAKDOWN_DENSITY), ("int8", BREAKDOWN_DENSITY),
                                                       ("int4", 0.5)]


def _shares_overrides(s_dp, t, s_buf, s_acc):
    return [f"{SHARE_KEYS[0]}={s_dp}", f"{SHARE_KEYS[1]}={t}", f"{SHARE_KEYS[2]}={s_buf}",
            f"levels.BBuffer.switching_share={s_buf}", f"{SHARE_KEYS[3]}={s_acc}"]


def probe_units() -> dict:
    """(format, density) -> {probe: {component: pJ at 1 pJ per action}, 'macs', 'cycles'} for the
    three probes (shares 0; 1 with t = 0; 1 with t = 1): 3 × 9 accelsim runs, once."""
    workload = load_workload(WORKLOAD)
    probes = {p: load_arch(ARCH, PROBE + _shares_overrides(*s))
              for p, s in {"s0": (0, 0, 0, 0), "s1t0": (1, 0, 1, 1), "s1t1": (1, 1, 1, 1)}.items()}
    out = {}
    for fmt, d in CONDITIONS:
        runs = {p: simulate(a, workload, SimOptions(precision=fmt, density=d)).layers[0] for p, a in probes.items()}
        out[fmt, d] = {p: dict(r.energy.dynamic_pj) for p, r in runs.items()}
        out[fmt, d]["macs"], out[fmt, d]["cycles"] = runs["s0"].macs, runs["s0"].cycles
    return out


def units_at(probe: dict, shares) -> np.ndarray:
    """Units (per MAC) of every constant in CONSTANTS at `shares` = (s_dp, t, s_buf, s_acc); arrays
    of shares give a leading axis of share sets."""
    s_dp, t, s_buf, s_acc = (np.asarray(x, dtype=float) for x in shares)
    fmt_is8 = probe["fmt"] == "int8"

    def mix(component, s, tree=None):
        u0, u1 = probe["s0"].get(component, 0.0), probe["s1t0"].get(component, 0.0)
        if tree is not None:
            u1 = (1 - tree) * u1 + tree * probe["s1t1"].get(component, 0.0)
        return (1 - s) * u0 + s * u1

    mac = mix("VectorMAC", s_dp, t)
    zero = np.zeros_like(mac)
    cols = [zero if fmt_is8 else mac, mac if fmt_is8 else zero, zero + probe["s0"].get("VectorMAC.scale", 0.0),
            mix("ABuffer", s_buf), mix("BBuffer", s_buf), mix("AccumCollector", s_acc),
            zero + probe["s0"]["Other"], zero + probe["s0"].get("PPU", 0.0)]
    return np.stack(cols, axis=-1) / probe["macs"]


BREAKDOWN_COLUMNS = {"datapath": ("mac4", "mac8", "scale"), "ABuffer": ("abuf",), "BBuffer": ("bbuf",),
                     "AccumCollector": ("acc",), "other": ("cycle", "output")}


def system(units: dict, shares):
    """The weighted least-squares system (rows, targets) at `shares`; leading axis = share sets."""
    u = {key: units_at({**probe, "fmt": key[0]}, shares) for key, probe in units.items()}
    rows, targets = [], []
    for d, topsw in DENSITY_SWEEP.items():          # energy per op, relative error
        rows.append(u["int4_vsq", d] / (2.0 / topsw))
        targets.append(1.0)
    ref = 2.0 / DENSITY_SWEEP[BREAKDOWN_DENSITY]
    mask = lambda names: np.array([c in names for c in CONSTANTS], dtype=float)  # noqa: E731
    dp4 = u["int4", BREAKDOWN_DENSITY] * mask(BREAKDOWN_COLUMNS["datapath"])
    for fmt, table in BREAKDOWN.items():            # component_f − ratio · INT4 datapath = 0
        for part, ratio in table.items():
            if fmt == "int4" and part == "datapath":
                continue                            # the normalization itself
            rows.append(BREAKDOWN_WEIGHT * (u[fmt, BREAKDOWN_DENSITY] * mask(BREAKDOWN_COLUMNS[part]) - ratio * dp4) / ref)
            targets.append(0.0)
    rows.append(VSQ_COST_WEIGHT * (u["int4_vsq", 0.5] - VSQ_COST * u["int4", 0.5]) / (2.0 / DENSITY_SWEEP[0.5]))
    targets.append(0.0)
    return np.stack(rows, axis=-2), np.array(targets)


def fit_energies(units: dict, shares) -> tuple[dict, np.ndarray]:
    """Step 1 at one share set: energies (pJ at 0.67 V) and the density sweep's relative errors."""
    a, b = system(units, shares)
    x, *_ = np.linalg.lstsq(a, b, rcond=None)
    return dict(zip(CONSTANTS, x)), a[:len(DENSITY_SWEEP)] @ x - 1.0


def grid_search(units: dict, step: float = 0.05, chunk: int = 20000):
    """Every share set on the grid: (largest |density-sweep error|, shares) of the best with all
    energies ≥ 0, by batched normal equations with scaled columns."""
    grid = np.round(np.arange(0.0, 1.0 + 1e-9, step), 4)
    sets = np.array(list(itertools.product(grid, repeat=4)))
    best = (np.inf, None)
    for start in range(0, len(sets), chunk):
        s = sets[start:start + chunk]
        a, b = system(units, tuple(s.T))
        scale = np.linalg.norm(a, axis=-2, keepdims=True)
        scale[scale == 0] = 1.0
        an = a / scale
        at = np.swapaxes(an, -1, -2)
        x = np.linalg.solve(at @ an, (at @ b)[..., None])[..., 0] / scale[:, 0, :]
        err = np.abs(np.einsum("nrc,nc->nr", a[:, :len(DENSITY_SWEEP)], x) - 1.0).max(axis=1)
        err[(x < 0).any(axis=1)] = np.inf
        i = int(np.argmin(err))
        if err[i] < best[0]:
            best = (float(err[i]), tuple(float(v) for v in s[i]))
    return best


def leakage_fit(total_pj_per_mac: float, f_hz: dict) -> tuple[float, float]:
    """Step 2: leakage energy per MAC at 0.67 V and efold (V) from the 0.46 V and 1.05 V points,
    given the model's total energy per MAC at 0.67 V (dynamic part ∝ V²)."""
    def g(v, efold):  # leakage energy per op at v relative to 0.67 V
        return (v / V_NOM) * np.exp((v - V_NOM) / efold) * f_hz[V_NOM] / f_hz[v]

    def solve(efold):  # leakage from the 0.46 V point, then the 1.05 V relative error
        lo = 0.46
        leak = (2.0 / VOLTAGE_POINTS[lo] - total_pj_per_mac * (lo / V_NOM) ** 2) / (g(lo, efold) - (lo / V_NOM) ** 2)
        hi = (total_pj_per_mac - leak) * (1.05 / V_NOM) ** 2 + leak * g(1.05, efold)
        return hi / (2.0 / VOLTAGE_POINTS[1.05]) - 1.0, leak

    lo, hi = 0.02, 2.0
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if solve(mid)[0] > 0 else (lo, mid)
    return solve(lo)[1], lo


def significant(x: float, digits: int = 4) -> float:
    return float(f"{x:.{digits}g}")


def calibrate(shares=None, units=None) -> dict:
    """Every constant of the arch file, by key path: (value, unit), rounded as the file holds it."""
    units = units or probe_units()
    arch = load_arch(ARCH)
    shares = shares or tuple(float(arch.level(k.split(".")[1]).switching_share) if "tree" not in k
                             else arch.compute.reduction_tree_share for k in SHARE_KEYS)
    e, _ = fit_energies(units, shares)
    f_hz = {v: float(np.interp(v, [p[0] for p in arch.vf_table], [p[1] for p in arch.vf_table]))
            for v in VOLTAGE_POINTS}
    total = float(units_at({**units["int4_vsq", 0.5], "fmt": "int4_vsq"}, shares) @ np.array([e[c] for c in CONSTANTS]))
    leak_per_mac, efold = leakage_fit(total, f_hz)
    bench = units["int4_vsq", 0.5]
    leak_per_cycle_pj = leak_per_mac * bench["macs"] / bench["cycles"]
    s = lambda x: significant(x)  # noqa: E731
    return {
        "levels.VectorMAC.switching_share": (shares[0], ""), "levels.VectorMAC.reduction_tree_share": (shares[1], ""),
        "levels.ABuffer.switching_share": (shares[2], ""), "levels.BBuffer.switching_share": (shares[2], ""),
        "levels.AccumCollector.switching_share": (shares[3], ""),
        "levels.VectorMAC.energy.mac": (s(e["mac4"]), "pJ"), "levels.VectorMAC.formats.int4.mac": (s(e["mac4"]), "pJ"),
        "levels.VectorMAC.formats.int8.mac": (s(e["mac8"]), "pJ"),
        "levels.VectorMAC.energy.vector_scale": (s(e["scale"]), "pJ"),
        "levels.ABuffer.energy.read": (s(e["abuf"]), "pJ"), "levels.ABuffer.energy.write": (s(e["abuf"]), "pJ"),
        "levels.BBuffer.energy.read": (s(e["bbuf"]), "pJ"), "levels.BBuffer.energy.write": (s(e["bbuf"]), "pJ"),
        **{f"levels.AccumCollector.energy.{a}": (s(e["acc"]), "pJ") for a in ("read", "write", "update")},
        "overhead.Other.energy_per_cycle": (s(e["cycle"] - leak_per_cycle_pj), "pJ"),
        "overhead.Other.leakage_power": (s(leak_per_cycle_pj * f_hz[V_NOM] * 1e-9), "mW"),
        "overhead.PPU.energy_per_output": (s(e["output"]), "pJ"),
        "technology.leakage_voltage_efold": (s(efold), "V"),
    }


def main():
    units = probe_units()
    shares = None
    if "--grid" in sys.argv:
        worst, shares = grid_search(units)
        print(f"grid search, step 0.05: best shares (datapath, tree, buffers, collector) = {shares}, "
              f"largest density-sweep |error| {100 * worst:.2f} %\n")
    constants = calibrate(shares, units)
    shares = shares or tuple(constants[k][0] for k in SHARE_KEYS)
    _, err = fit_energies(units, shares)
    print("density-sweep relative errors of step 1 (%):", np.round(100 * err, 2))
    e, _ = fit_energies(units, shares)
    x = np.array([e[c] for c in CONSTANTS])
    dp4 = units_at({**units["int4", BREAKDOWN_DENSITY], "fmt": "int4"}, shares) @ (
        x * [c in BREAKDOWN_COLUMNS["datapath"] for c in CONSTANTS])
    print(f"breakdown at density {BREAKDOWN_DENSITY} (model / [J23]), per MAC / INT4 datapath:")
    for fmt, table in BREAKDOWN.items():
        u = units_at({**units[fmt, BREAKDOWN_DENSITY], "fmt": fmt}, shares)
        cells = [f"{part} {u @ (x * [c in BREAKDOWN_COLUMNS[part] for c in CONSTANTS]) / dp4:.2f}/{ratio:.2f}"
                 for part, ratio in table.items()]
        print(f"  {fmt:9s}", "  ".join(cells))
    print("\n# constants of arch/vsquant_5nm.yaml (energies at 0.67 V)")
    for key, (value, unit) in constants.items():
        print(f"{key}: {value:g}{unit}")


if __name__ == "__main__":
    main()
