"""The first search after an install: whole-process time with an empty Numba cache, then warm.

Run:  python benchmarks/bench_cold_start.py [--runs N] [--vs OTHER_CHECKOUT]

Numba caches the kernels beside their sources (the package's __pycache__ folders), so an honest
cold run is a fresh copy of the package: each cold run clones this checkout (`git clone`, so only
committed files) into a temporary folder, whose __pycache__ folders hold no kernels, and runs
`accelsim run arch/simba_like.yaml workloads/resnet50.yaml --dataflow search --no-search-cache`
from there; the warm runs repeat it in the same clone. Each figure is the child process's own
accounting (wall, and user + system CPU from os.wait4), median of the runs. The machine's load
average is printed before and after: on a shared machine, quote the CPU seconds beside the wall.
A cold run may compile in child processes (accelsim/compile_ahead.py), and a run searches distinct
layers in worker processes (simulate's search_processes): its CPU seconds include theirs (os.wait4
counts the children a process waited for).

With --vs, a second checkout (e.g. a worktree of the base commit) runs in turn with this one, a
pair at a time (this one first in odd pairs, the other first in even ones), and the ratio
this / other of each pair is printed: on a shared machine the load drifts less within a pair.
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


def ratio_row(label: str, mine: list[tuple[float, float]], other: list[tuple[float, float]]) -> str:
    walls = [a[0] / b[0] for a, b in zip(mine, other)]
    cpus = [a[1] / b[1] for a, b in zip(mine, other)]
    return (f"{label}, this / other: wall {statistics.median(walls):.2f} (min {min(walls):.2f}, max "
            f"{max(walls):.2f}), CPU {statistics.median(cpus):.2f} (min {min(cpus):.2f}, max {max(cpus):.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="cold runs (each in a fresh clone) and warm runs")
    parser.add_argument("--vs", type=Path, metavar="CHECKOUT", help="a second checkout to run in turn with this one")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    sources = {"this": REPO} | ({"other": args.vs.resolve()} if args.vs else {})
    cold = {name: [] for name in sources}
    warm = {name: [] for name in sources}
    with tempfile.TemporaryDirectory() as tmp:
        clones = {}
        for i in range(args.runs):
            order = list(sources) if i % 2 == 0 else list(sources)[::-1]
            for name in order:
                clones[name] = Path(tmp) / f"{name}{i}"
                subprocess.run(["git", "clone", "-q", str(sources[name]), str(clones[name])], check=True)
                cold[name].append(timed(clones[name]))
                print(f"{name}: cold run {i + 1}: wall {cold[name][-1][0]:.1f} s, CPU {cold[name][-1][1]:.1f} s, "
                      f"load {os.getloadavg()[0]:.1f}", flush=True)
        for i in range(args.runs):
            order = list(sources) if i % 2 == 0 else list(sources)[::-1]
            for name in order:
                warm[name].append(timed(clones[name]))
                print(f"{name}: warm run {i + 1}: wall {warm[name][-1][0]:.1f} s, CPU {warm[name][-1][1]:.1f} s, "
                      f"load {os.getloadavg()[0]:.1f}", flush=True)
    for name in sources:
        print(median_row(f"{name} ({sources[name]}), cold (empty Numba cache)", cold[name]))
        print(median_row(f"{name}, warm", warm[name]))
    if args.vs:
        print(ratio_row("cold", cold["this"], cold["other"]))
        print(ratio_row("warm", warm["this"], warm["other"]))
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
