"""Sweep throughput: design points per second, analytical and cycle models, 1 and 2 workers.

Run:  python benchmarks/bench_sweep.py
Each configuration runs the same 24 points (ResNet-50 on the Simba-like array, global buffer
size x dataflow) into a fresh store; process start-up and the Numba cache load are included,
as a user sees them.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

from accelsim.dse.runner import run_sweep
from accelsim.dse.spec import load_sweep

REPO = Path(__file__).resolve().parents[1]
SWEEP = f"""name: bench
arch: {REPO / 'arch' / 'simba_like.yaml'}
workloads: [{REPO / 'workloads' / 'resnet50.yaml'}]
model: MODEL
dataflows: [ws, os, is]
axes:
  arch.levels.GlobalBuffer.size: [16KiB, 32KiB, 64KiB, 128KiB, 256KiB, 512KiB, 1MiB, 2MiB]
"""


def main():
    with tempfile.TemporaryDirectory() as tmp:
        for model in ("analytical", "cycle"):
            path = Path(tmp) / f"{model}.yaml"
            path.write_text(SWEEP.replace("MODEL", model))
            for jobs in (1, 2):
                store = Path(tmp) / f"{model}_{jobs}.sqlite"
                start = time.perf_counter()
                counts = run_sweep(load_sweep(path), jobs=jobs, store_path=store, progress=False)
                seconds = time.perf_counter() - start
                n = counts["ok"] + counts["infeasible"]
                print(f"{model:10s} jobs={jobs}: {n} points ({counts['infeasible']} infeasible) in "
                      f"{seconds:.1f} s = {n / seconds:.2f} points/s (ResNet-50, 54 layers each)")


if __name__ == "__main__":
    main()
