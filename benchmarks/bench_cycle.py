#!/usr/bin/env python3
"""Time accelsim's SCALE-Sim-compatible systolic kernel on the whole ResNet-50.

    python benchmarks/bench_cycle.py [--repeat 5] [--scalesim-layers 1]

For each dataflow (os, ws, is) on a 32×32 array, SRAM 256/256/128 kB, CALC bandwidth (the
configuration of benchmarks/scalesim_timing.py):

* cold: the first run of the 54 weight layers of workloads/resnet50.yaml in a fresh Python
  process, including the import and loading (or compiling) the Numba cache;
* warm: the best of --repeat further runs in the same process.

Pooling layers (no weights tensor) are skipped.  With --scalesim-layers N (N = 1 or 2) it
also runs SCALE-Sim v3.0.0 on ResNet-50 conv2_x 3×3 (and res5 3×3) through
/work/venvs/scalesim/bin/python benchmarks/scalesim_timing.py in the same run, checks the
cycle counts agree and prints the per-layer speed ratio.  Not a pass/fail test.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCALESIM_PY = Path("/work/venvs/scalesim/bin/python")
CFG = dict(rows=32, cols=32, ifmap_kb=256, filter_kb=256, ofmap_kb=128)
# (name, H, W, R, S, C, F, stride) as SCALE-Sim topology rows (pre-padded ifmaps)
SCALESIM_LAYERS = [("res2_3x3", 58, 58, 3, 3, 64, 64, 1), ("res5_3x3", 9, 9, 3, 3, 512, 512, 1)]


def _network_layers():
    import accelsim
    from accelsim.model.scalesim import layer_from_einsum
    wl = accelsim.load_workload(REPO / "workloads" / "resnet50.yaml")
    return [layer_from_einsum(l.einsum, l.name) for l in wl.layers
            if l.einsum.tensor("weights") is not None]


def _config(df):
    from accelsim.model.scalesim import SystolicConfig
    return SystolicConfig.from_kb(CFG["rows"], CFG["cols"], df, CFG["ifmap_kb"], CFG["filter_kb"],
                                  CFG["ofmap_kb"])


def run_network(df, layers):
    from accelsim.model.scalesim import simulate_systolic
    cfg = _config(df)
    t0 = time.perf_counter()
    cycles = sum(simulate_systolic(L, cfg).total_cycles for L in layers)
    return time.perf_counter() - t0, cycles


def child(df):
    """Fresh-process cold run: import + cache load + the whole network."""
    t0 = time.perf_counter()
    layers = _network_layers()
    t_load = time.perf_counter() - t0
    t1 = time.perf_counter()
    from accelsim.model.scalesim import simulate_systolic  # noqa: F401  (import + cache)
    _, cycles = run_network(df, layers)
    print(json.dumps(dict(cold_s=time.perf_counter() - t1, load_workload_s=t_load,
                          layers=len(layers), cycles=cycles)))


def scalesim_compare(n):
    from accelsim.model.scalesim import SystolicLayer, simulate_systolic
    rows = SCALESIM_LAYERS[:n]
    tmp = Path(tempfile.mkdtemp(prefix="bench_cycle_"))
    topo = tmp / "topo.csv"
    topo.write_text("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, "
                    "Channels, Num Filter, Strides,\n"
                    + "".join(", ".join(map(str, r)) + ",\n" for r in rows))
    out = tmp / "scalesim.json"
    subprocess.run([str(SCALESIM_PY), str(REPO / "benchmarks" / "scalesim_timing.py"),
                    "--topology", str(topo), "--json", str(out)], check=True,
                   stdout=subprocess.DEVNULL)
    ss = json.loads(out.read_text())["layers"]
    cfg = _config("os")
    print("\nSCALE-Sim v3.0.0 vs accelsim, same layers, 32x32 os CALC 256/256/128 kB:")
    for r, s in zip(rows, ss):
        L = SystolicLayer(*r[1:], name=r[0])
        res = simulate_systolic(L, cfg)
        best = min(_timed(lambda: simulate_systolic(L, cfg)) for _ in range(5))
        same = (res.total_cycles, res.total_cycles_incl_prefetch) == (
            s["total_cycles"], s["total_cycles_incl_prefetch"])
        print(f"  {r[0]:10s} M={res.M:5d} N={res.N:4d} K={res.K:5d}  scalesim {s['wall_s']:8.2f} s"
              f"  accelsim {best * 1e3:8.2f} ms  ratio {s['wall_s'] / best:10.0f}x  "
              f"cycles equal: {same}")


def _timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--scalesim-layers", type=int, default=0, choices=(0, 1, 2))
    ap.add_argument("--child", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        child(a.child)
        return 0
    env = dict(os.environ, PYTHONPATH=str(REPO))
    # make sure the Numba cache exists, so "cold" measures a fresh process, not compilation
    subprocess.run([sys.executable, __file__, "--child", "os"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    layers = _network_layers()
    print(f"ResNet-50, {len(layers)} weight layers, {CFG['rows']}x{CFG['cols']} array, "
          f"SRAM {CFG['ifmap_kb']}/{CFG['filter_kb']}/{CFG['ofmap_kb']} kB, CALC")
    print(f"{'dataflow':8s} {'cold s':>8s} {'warm s':>8s} {'total cycles':>14s}")
    for df in ("os", "ws", "is"):
        out = subprocess.run([sys.executable, __file__, "--child", df], env=env, check=True,
                             capture_output=True, text=True).stdout
        cold = json.loads(out.strip().splitlines()[-1])
        run_network(df, layers)
        warm = min(run_network(df, layers)[0] for _ in range(a.repeat))
        print(f"{df:8s} {cold['cold_s']:8.3f} {warm:8.3f} {cold['cycles']:14d}")
    if a.scalesim_layers:
        if SCALESIM_PY.exists():
            scalesim_compare(a.scalesim_layers)
        else:
            print(f"(SCALE-Sim venv {SCALESIM_PY} not found; skipping the comparison)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
