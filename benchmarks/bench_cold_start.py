"""The first search after an install: whole-process time with an empty Numba cache, then warm.

Run:  python benchmarks/bench_cold_start.py [--runs N]

Numba caches the kernels beside their sources (the package's __pycache__ folders), so an honest
cold run is a fresh copy of the package: each cold run clones this checkout (`git clone`, so only
committed files) into a temporary folder, whose __pycache__ folders hold no kernels, and runs
`accelsim run arch/simba_like.yaml workloads/resnet50.yaml --dataflow search --no-search-cache`
from there; the warm runs repeat it in the same clone. Each figure is the child process's own
accounting (wall, and user + system CPU from os.wait4), median of the runs. The machine's load
average is printed before and after: on a shared machine, quote the CPU seconds beside the wall.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COMMAND = ["-m", "accelsim.cli", "run", "arch/simba_like.yaml", "workloads/resnet50.yaml",
           "--dataflow", "search", "--no-search-cache"]


def timed(clone: Path) -> tuple[float, float]:
    """(wall s, CPU s) of one whole `accelsim run` process in `clone`."""
    env = {**os.environ, "PYTHONPATH": str(clone)}
    env.pop("NUMBA_CACHE_DIR", None)  # the cache goes beside the clone's sources, as after an install
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, *COMMAND], cwd=clone, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"accelsim run failed in {clone}:\n{stderr.decode(errors='replace')}")
    return wall, usage.ru_utime + usage.ru_stime


def median_row(label: str, rows: list[tuple[float, float]]) -> str:
    walls, cpus = [r[0] for r in rows], [r[1] for r in rows]
    return (f"{label}: wall {statistics.median(walls):.1f} s (min {min(walls):.1f}, max {max(walls):.1f}), "
            f"CPU {statistics.median(cpus):.1f} s (min {min(cpus):.1f}, max {max(cpus):.1f}), {len(rows)} runs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="cold runs (each in a fresh clone) and warm runs")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    cold, warm = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs):
            clone = Path(tmp) / f"clone{i}"
            subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
            cold.append(timed(clone))
            print(f"cold run {i + 1}: wall {cold[-1][0]:.1f} s, CPU {cold[-1][1]:.1f} s", flush=True)
        for i in range(args.runs):
            warm.append(timed(clone))
            print(f"warm run {i + 1}: wall {warm[-1][0]:.1f} s, CPU {warm[-1][1]:.1f} s", flush=True)
    print(median_row("cold (empty Numba cache)", cold))
    print(median_row("warm", warm))
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
