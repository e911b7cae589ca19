#!/usr/bin/env python3
"""ResNet-50 on a 32×32 systolic array, as a user runs it: accelsim's whole process against
SCALE-Sim v3.0.0's and ZigZag's whole processes, in the same run.

    python benchmarks/bench_scalesim_resnet50.py [--dataflow os] [--runs 5] \\
        [--scalesim-python /work/venvs/scalesim/bin/python [--save-scalesim FILE] | --scalesim-result FILE] \\
        [--scalesim-layers N] [--zigzag-python /work/venv-zigzag/bin/python]

1. Writes a SCALE-Sim config (scalesim_timing.py's: 32×32, SRAM 256/256/128 kB, CALC bandwidth) and a topology of
   ResNet-50's 54 weight layers (workloads/resnet50.yaml, inputs pre-padded: SCALE-Sim has no
   padding) into a temporary folder, and converts them with `accelsim import scalesim`.
2. Times `accelsim run ARCH WORKLOAD --model cycle --scalesim-compat` as a whole process: cold
   (an empty Numba cache: NUMBA_CACHE_DIR points at a new folder) once, warm `--runs` times, half
   before and half after the peers (so a drift of the machine's speed shows in the spread); wall
   time and the process's CPU time (user + sys, steadier on a shared machine). Python writes
   bytecode as in a user's install (PYTHONDONTWRITEBYTECODE is dropped for these runs).
3. With --scalesim-python, runs SCALE-Sim's own command (`python -m scalesim.scale -c CFG -t TOPO`)
   on the same files, as a whole process, and checks that both report the same total cycles per
   layer; --save-scalesim FILE keeps its seconds and cycles. SCALE-Sim takes 10–25 minutes for the
   whole network on this machine: --scalesim-result FILE reuses a kept result instead of timing it
   again (its date is printed), and --scalesim-layers N runs only the first N layers.
4. With --zigzag-python, times benchmarks/bench_zigzag_resnet50.py (ZigZag on its own TPU-like 32×32
   arch, searching each layer's temporal mapping) as a whole process, once.
Not a pass/fail test: it prints the figures docs/dse.md and docs/cycle-model.md quote.
"""
from __future__ import annotations

import argparse
import csv
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scalesim_timing import DEFAULT_CFG, dummy_layout  # noqa: E402  (benchmarks/ is on sys.path)

REPO = Path(__file__).resolve().parents[1]


def write_inputs(folder: Path, dataflow: str, n_layers: int | None = None) -> tuple[Path, Path]:
    """The SCALE-Sim config and the ResNet-50 topology (weight layers, pre-padded inputs)."""
    import accelsim
    from accelsim.model.scalesim import layer_from_einsum

    workload = accelsim.load_workload(REPO / "workloads" / "resnet50.yaml")
    layers = [layer_from_einsum(l.einsum, l.name) for l in workload.layers if l.einsum.tensor("weights") is not None]
    layers = layers[:n_layers] if n_layers else layers
    config, topology = folder / "resnet50_32x32.cfg", folder / "resnet50.csv"
    config.write_text(DEFAULT_CFG.replace("run_name = timing", "run_name = resnet50_32x32")
                      .replace("Dataflow = os", f"Dataflow = {dataflow}"))
    with topology.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["Layer name", "IFMAP Height", "IFMAP Width", "Filter Height", "Filter Width", "Channels",
                      "Num Filter", "Strides", ""])
        for L in layers:
            out.writerow([L.name, L.H, L.W, L.R, L.S, L.C, L.F, L.stride, ""])
    return config, topology


def user_env(**extra) -> dict:
    """The environment of a user's shell: Python writes bytecode (a warm start reads it)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, **extra}


def spread(values: list[float]) -> str:
    return (f"median {statistics.median(values):.2f} s (min {min(values):.2f}, max {max(values):.2f}, "
            f"{len(values)} runs)")


CPU_SECONDS = []  # user + sys of each timed command, in order: on a shared machine the steadier figure


def timed(command: list[str], env: dict | None = None, cwd: Path | None = None) -> tuple[float, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU_SECONDS.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return seconds, done.stdout


def scalesim_cycles(report_folder: Path) -> list[int]:
    """Total cycles per layer from SCALE-Sim's COMPUTE_REPORT.csv."""
    path = next(report_folder.rglob("COMPUTE_REPORT.csv"))
    rows = list(csv.reader(path.open()))
    column = [c.strip() for c in rows[0]].index("Total Cycles")
    return [int(float(r[column])) for r in rows[1:] if r and r[0].strip()]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--dataflow", default="os", choices=("os", "ws", "is"))
    ap.add_argument("--runs", type=int, default=6, help="warm accelsim runs")
    ap.add_argument("--scalesim-python", help="python of a venv with scalesim==3.0.0 (numpy<2.4)")
    ap.add_argument("--save-scalesim", type=Path, help="keep SCALE-Sim's seconds and cycles in this JSON file")
    ap.add_argument("--scalesim-result", type=Path, help="reuse a kept SCALE-Sim result instead of running it")
    ap.add_argument("--scalesim-layers", type=int, help="run SCALE-Sim on the first N layers only")
    ap.add_argument("--zigzag-python", help="python of a venv with zigzag-dse (bench_zigzag_resnet50.py)")
    a = ap.parse_args(argv)
    accelsim_cmd = [sys.executable, "-m", "accelsim.cli"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        config, topology = write_inputs(tmp, a.dataflow)
        timed(accelsim_cmd + ["import", "scalesim", "--config", str(config), "--topology", str(topology),
                              "--out", str(tmp / "accelsim")], env=user_env())
        arch, workload = (next((tmp / "accelsim").glob(f"*{kind}*.yaml")) for kind in ("arch", "workload"))
        run = accelsim_cmd + ["run", str(arch), str(workload), "--model", "cycle", "--scalesim-compat",
                              "--json", str(tmp / "accelsim.json")]
        cold, _ = timed(run, env=user_env(NUMBA_CACHE_DIR=str(tmp / "numba-cache")))
        timed(run, env=user_env())  # fills the default cache and the bytecode, as a user's first run does
        warm = [timed(run, env=user_env())[0] for _ in range(a.runs // 2)]
        warm_cpu = CPU_SECONDS[-len(warm):] if warm else []
        import json
        ours = [l["cycles"] for l in json.loads((tmp / "accelsim.json").read_text())["layers"]]
        peers = []
        if a.scalesim_result:
            kept = json.loads(a.scalesim_result.read_text())
            peers.append(("SCALE-Sim 3.0.0", kept["seconds"], f"kept result of {kept['measured']}, not timed again; "
                          f"total cycles {kept['total_cycles']:,} "
                          f"({'same as' if kept['total_cycles'] == sum(ours[:kept['layers']]) else 'DIFFERENT from'} "
                          f"accelsim's)", kept["layers"]))
        elif a.scalesim_python:
            n = a.scalesim_layers or len(ours)
            folder = tmp / "scalesim"
            folder.mkdir()
            config, topology = write_inputs(folder, a.dataflow, n)
            layout = folder / "layout.csv"  # SCALE-Sim's command requires one; a default layout per layer
            layout.write_text(dummy_layout(n))
            seconds, _ = timed([a.scalesim_python, "-m", "scalesim.scale", "-c", str(config), "-t", str(topology),
                                "-l", str(layout), "-p", str(folder / "out"), "-s", "N"], cwd=folder)
            theirs = scalesim_cycles(tmp / "scalesim" / "out")
            same = theirs == ours[:n]
            peers.append(("SCALE-Sim 3.0.0", seconds, f"total cycles {sum(theirs):,}; per-layer cycles "
                          f"{'identical' if same else 'DIFFER'}", n))
            if a.save_scalesim:
                a.save_scalesim.write_text(json.dumps({
                    "seconds": round(seconds, 1), "layers": n, "total_cycles": sum(theirs), "cycles": theirs,
                    "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}, indent=1) + "\n")
        if a.zigzag_python:
            seconds, out = timed([a.zigzag_python, str(Path(__file__).with_name("bench_zigzag_resnet50.py"))])
            peers.append(("ZigZag (zigzag-dse)", seconds, out.strip().splitlines()[-1], len(ours)))
        later = [timed(run, env=user_env())[0] for _ in range(a.runs - a.runs // 2)]
        warm += later
        warm_cpu += CPU_SECONDS[-len(later):] if later else []
        print(f"accelsim {a.dataflow}, ResNet-50 ({len(ours)} weight layers) on 32×32, whole process: "
              f"cold {cold:.2f} s (empty Numba cache), warm {spread(warm)}; total cycles {sum(ours):,}")
        print(f"  warm CPU (user + sys): {spread(warm_cpu)}; load average {os.getloadavg()[0]:.1f}")
        for name, seconds, note, n in peers:
            share = "" if n == len(ours) else f" (first {n} of {len(ours)} layers)"
            print(f"{name}{share}, whole process: {seconds:.1f} s; {note}")
            print(f"  ratio {name} ÷ accelsim warm median{share}: {seconds / statistics.median(warm):,.0f}×")


if __name__ == "__main__":
    main()
