"""Mapper speed: model evaluations per second and search time, against Timeloop's mapper.

Run:  python benchmarks/bench_mapper.py   (needs ../shared/timeloop_refcases beside the repo)
Timeloop's figures are from the same reference cases (../shared/reference/peers.md and
T06_eyeriss_vgg02_l5/rerun_v3.0.3_mapper/time.txt): T05 exhaustive ≈ 2.2 M points in 125 s of
CPU, the T06 Eyeriss/VGG search 292 s of CPU (8 threads). accelsim runs one core per search;
the 2-core line runs two seeds in two processes. JIT compilation is excluded (a warm-up search
loads the Numba cache first); Python-side setup per search is included.
"""
from __future__ import annotations

import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import accelsim
from accelsim.energy.model import action_energies
from accelsim.importers.timeloop import import_timeloop
from accelsim.load import load_constraints
from accelsim.search.mapper import search_mapping

REFCASES = Path(__file__).resolve().parents[2] / "shared" / "timeloop_refcases"
TIMELOOP_EVALS_PER_S = 2.2e6 / 125  # T05 exhaustive, per CPU second
TIMELOOP_T06_CPU_S = 292.0


def case(case_id: str, out: Path):
    folder = REFCASES / case_id
    if case_id.startswith("T05"):
        inputs = folder / "inputs"
        imp = import_timeloop(inputs / "3level.arch.yaml", inputs / "conv1d+oc.prob.yaml", out,
                              ert_path=folder / "ref" / "timeloop-mapper.ERT.yaml",
                              constraints_path=inputs / "null.constraints.yaml",
                              mapper_path=inputs / "exhaustive.mapper.yaml")
    else:
        mapper = next(iter(sorted((folder / "inputs").rglob("mapper.yaml"))))
        imp = import_timeloop(folder / "ref" / "parsed-processed-input.yaml", None, out,
                              ert_path=folder / "ref" / "timeloop-mapper.ERT.yaml", mapper_path=mapper)
    arch = accelsim.load_arch(imp.arch_path)
    einsum = accelsim.load_workload(imp.workload_path).layers[0].run_einsum
    constraints = load_constraints(imp.constraints_path, arch)
    return arch, einsum, replace(constraints, settings=replace(constraints.settings, search="auto"))


def timed_search(case_id: str, seed: int = 0, evaluations: int = 300_000):
    with tempfile.TemporaryDirectory() as tmp:
        arch, einsum, constraints = case(case_id, Path(tmp))
        constraints = replace(constraints, settings=replace(constraints.settings, seed=seed, evaluations=evaluations))
        start = time.perf_counter()
        result = search_mapping(arch, einsum, action_energies(arch), constraints)
        return result, time.perf_counter() - start


def main():
    if not REFCASES.is_dir():
        raise SystemExit(f"needs the Timeloop reference cases at {REFCASES}")
    timed_search("T05_mapper_null")  # warm-up: loads the JIT cache
    timed_search("E_eyeriss_like", evaluations=1000)
    print(f"{'case':30s} {'search':18s} {'mapspace':>10s} {'evals':>9s} {'feasible':>9s} {'s':>6s} "
          f"{'evals/s':>10s}  vs Timeloop")
    for case_id in ("T05_mapper_null", "T06_eyeriss_vgg02_l5", "E_eyeriss_like", "E_simple_weight_stationary",
                    "I24_dse_8pe"):
        result, seconds = timed_search(case_id)
        rate = result.evaluations / seconds
        versus = f"{rate / TIMELOOP_EVALS_PER_S:.0f}x its evals/s per core"
        if case_id.startswith("T06"):
            versus += f"; {TIMELOOP_T06_CPU_S / seconds:.0f}x less CPU than its {TIMELOOP_T06_CPU_S:.0f} s search"
        print(f"{case_id:30s} {result.algorithm:18s} {result.mapspace_size:10.3g} {result.evaluations:9d} "
              f"{result.feasible:9d} {seconds:6.2f} {rate:10,.0f}  {versus}")
    with ProcessPoolExecutor(2) as pool:
        pool.submit(timed_search, "T05_mapper_null").result()  # warm both workers
        pool.submit(timed_search, "T05_mapper_null").result()
        start = time.perf_counter()
        runs = list(pool.map(timed_search, ["T06_eyeriss_vgg02_l5"] * 2, [0, 1]))
        wall = time.perf_counter() - start
    evals = sum(r.evaluations for r, _ in runs)
    best = min(runs, key=lambda r: (r[0].cycles, r[0].energy_pj))[0]
    print(f"T06 on 2 cores (seeds 0, 1): {evals} evaluations in {wall:.2f} s = {evals / wall:,.0f} evals/s; "
          f"best {best.cycles} cycles, {best.energy_pj:.4g} pJ")


if __name__ == "__main__":
    main()
