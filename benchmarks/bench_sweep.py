"""Sweep throughput: whole-network design points per second, as `accelsim sweep` runs them.

Run:  python benchmarks/bench_sweep.py [--jobs 1 2] [--models analytical cycle] [--grid issue15 large]
The sweep is issue 15's: ResNet-50 and BERT-Base on the Simba-like arch, the PE array's width
(x: 2, 4, 8 PEs) × the global buffer's size (32 KiB … 256 KiB) × dataflow (ws, os, is): 72 points,
each a whole network (54 and 8 layers). `--grid large` sweeps the PE array's width and height
(x: 1 … 16, y: 1 … 8) × the global buffer (16 KiB … 512 KiB) × dataflow: 720 points, so that
the pool's start-up weighs less. Each configuration runs into a fresh store; the worker pool's
start-up and the store's writes are included, the parent's imports are not (the kernels are
loaded once before the first configuration, as a warm cache does). The analytical points run
through the whole-network kernel (dse/network.py) when it is in Numba's cache (`accelsim cache
warm`), else layer by layer. Not a pass/fail test.

Besides the wall-clock rate it prints the CPU time the workers and the parent used (getrusage): on a
shared machine the wall clock mostly measures the other jobs, while CPU milliseconds per point
say what the sweep itself costs (2 workers reach 1000 points/s only below 2 ms per point).

`--whole-process` times what a user waits for instead: `python -m accelsim sweep FILE --jobs N`
into a fresh store, as a whole process (the interpreter, the imports, the kernels loaded from Numba's
cache, the workers, the store), `--runs` times per grid, the grids in turn. Besides each grid's median
wall and CPU seconds it prints the marginal rate between the smallest and the largest grid
(their points' difference over their median walls' difference): the rate the sweep runs at once
started, which its fixed start-up does not enter. `--grid large large2x` (720 and 1440 points).
`--grid every_shape` sweeps every array side (x: 1 … 16, y: 1 … 8) × 12 buffer sizes: 9216 points,
most of whose arrays leave MACs idle on the layers' dims (the templates' ragged choice runs on
nearly every layer; docs/dse.md, session 19).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from accelsim.dse.runner import run_sweep
from accelsim.dse.spec import load_sweep

REPO = Path(__file__).resolve().parents[1]
SWEEP = f"""name: bench
arch: {REPO / 'arch' / 'simba_like.yaml'}
workloads: [{REPO / 'workloads' / 'resnet50.yaml'}, {REPO / 'workloads' / 'bert_base.yaml'}]
model: MODEL
dataflows: [ws, os, is]
combine: cartesian
axes:
AXES"""
GRIDS = {
    "issue15": """  arch.levels.PE_array.x: [2, 4, 8]
  arch.levels.GlobalBuffer.size: [32KiB, 64KiB, 128KiB, 256KiB]
""",
    "large": """  arch.levels.PE_array.x: [1, 2, 4, 8, 16]
  arch.levels.PE_array.y: [1, 2, 4, 8]
  arch.levels.GlobalBuffer.size: [16KiB, 32KiB, 64KiB, 128KiB, 256KiB, 512KiB]
""",
    "large2x": """  arch.levels.PE_array.x: [1, 2, 4, 8, 16]
  arch.levels.PE_array.y: [1, 2, 4, 8]
  arch.levels.GlobalBuffer.size: [16KiB, 24KiB, 32KiB, 48KiB, 64KiB, 96KiB, 128KiB, 192KiB, 256KiB, 384KiB, 512KiB, 768KiB]
""",
    "every_shape": """  arch.levels.PE_array.x: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]
  arch.levels.PE_array.y: [1, 2, 3, 4, 5, 6, 7, 8]
  arch.levels.GlobalBuffer.size: [16KiB, 24KiB, 32KiB, 48KiB, 64KiB, 96KiB, 128KiB, 192KiB, 256KiB, 384KiB, 512KiB, 768KiB]
""",
}


def rows_digest(store: Path) -> str:
    """A digest of every stored row's results (to check that two runs agree)."""
    with sqlite3.connect(store) as db:
        rows = db.execute("SELECT workload, dataflow, overrides, status, cycles, energy_pj, energy_chip_pj, "
                          "utilization, detail FROM points ORDER BY workload, dataflow, overrides").fetchall()
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()[:16]


def _cpu_s() -> tuple[float, float]:
    """CPU seconds (user + system) of the finished workers (joined children) and of this process."""
    children, own = resource.getrusage(resource.RUSAGE_CHILDREN), resource.getrusage(resource.RUSAGE_SELF)
    return children.ru_utime + children.ru_stime, own.ru_utime + own.ru_stime


def whole_process(path: Path, jobs: int, store: Path) -> tuple[float, float, int]:
    """(wall s, CPU s, points) of one `accelsim sweep` process into a fresh `store`; its CPU counts the
    workers it waited for (os.wait4)."""
    store.unlink(missing_ok=True)
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "accelsim", "sweep", str(path), "--jobs", str(jobs),
                             "--store", str(store)], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"accelsim sweep failed:\n{stderr.decode(errors='replace')}")
    with sqlite3.connect(store) as db:
        points = db.execute("SELECT COUNT(*) FROM points").fetchone()[0]
    return wall, usage.ru_utime + usage.ru_stime, points


def main_whole_process(a, tmp: str) -> None:
    for model, jobs in ((m, j) for m in a.models for j in a.jobs):
        paths = {}
        for grid in a.grid:
            paths[grid] = Path(tmp) / f"{grid}_{model}.yaml"
            paths[grid].write_text(SWEEP.replace("MODEL", model).replace("AXES", GRIDS[grid]))
        runs = {grid: [] for grid in a.grid}
        for _ in range(a.runs):  # the grids in turn: the machine's load drifts alike for each
            for grid in a.grid:
                runs[grid].append(whole_process(paths[grid], jobs, Path(tmp) / "whole.sqlite"))
        medians = {}
        for grid, rows in runs.items():
            wall, cpu, n = statistics.median(r[0] for r in rows), statistics.median(r[1] for r in rows), rows[0][2]
            medians[grid] = (wall, n)
            print(f"{grid:8s} {model:10s} jobs={jobs}, whole process: {n} points in {wall:.2f} s wall "
                  f"(min {min(r[0] for r in rows):.2f}, max {max(r[0] for r in rows):.2f}), {cpu:.2f} s CPU, "
                  f"median of {len(rows)} = {n / wall:.0f} points/s as a user sees it")
        (w0, n0), (w1, n1) = min(medians.values(), key=lambda m: m[1]), max(medians.values(), key=lambda m: m[1])
        if n1 > n0 and w1 > w0:
            print(f"{'':8s} {model:10s} jobs={jobs}, marginal: {n1 - n0} more points in {w1 - w0:.2f} s more = "
                  f"{(n1 - n0) / (w1 - w0):.0f} points/s once started; fixed start-up ≈ {w0 - n0 * (w1 - w0) / (n1 - n0):.2f} s")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--models", nargs="+", default=["analytical", "cycle"])
    ap.add_argument("--grid", nargs="+", default=["issue15"], choices=sorted(GRIDS))
    ap.add_argument("--whole-process", action="store_true", help="time `accelsim sweep` as whole processes")
    ap.add_argument("--runs", type=int, default=5, help="whole processes per grid (--whole-process)")
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        if a.whole_process:
            main_whole_process(a, tmp)
            return
        for grid, model in ((g, m) for g in a.grid for m in a.models):
            path = Path(tmp) / f"{grid}_{model}.yaml"
            path.write_text(SWEEP.replace("MODEL", model).replace("AXES", GRIDS[grid]))
            for run, jobs in enumerate(a.jobs):
                store = Path(tmp) / f"{grid}_{model}_{run}.sqlite"
                start, cpu = time.perf_counter(), _cpu_s()
                counts = run_sweep(load_sweep(path), jobs=jobs, store_path=store, progress=False)
                seconds = time.perf_counter() - start
                workers_s, parent_s = (now - then for now, then in zip(_cpu_s(), cpu))
                n = counts["ok"] + counts["infeasible"]
                print(f"{grid:8s} {model:10s} jobs={jobs}: {n} points ({counts['infeasible']} infeasible) in {seconds:.1f} s "
                      f"= {n / seconds:.1f} points/s; CPU per point {1000 * workers_s / n:.2f} ms in the workers, "
                      f"{1000 * parent_s / n:.2f} ms in the parent; rows {rows_digest(store)}")


if __name__ == "__main__":
    main()
