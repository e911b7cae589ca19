#!/usr/bin/env python3
"""ResNet-50 on a 32×32 systolic array, as a user runs it: accelsim's whole process against
SCALE-Sim v3.0.0's whole process, on the same SCALE-Sim inputs, in the same run.

    python benchmarks/bench_scalesim_resnet50.py [--dataflow os] [--runs 5] \\
        [--scalesim-python /work/venvs/scalesim/bin/python] [--scalesim-layers N]

1. Writes a SCALE-Sim config (32×32, SRAM 256/256/128 kB, CALC bandwidth) and a topology of
   ResNet-50's 54 weight layers (workloads/resnet50.yaml, inputs pre-padded: SCALE-Sim has no
   padding) into a temporary folder, and converts them with `accelsim import scalesim`.
2. Times `accelsim run ARCH WORKLOAD --model cycle --scalesim-compat` as a whole process: cold
   (an empty Numba cache: NUMBA_CACHE_DIR points at a new folder) once, warm `--runs` times.
3. With --scalesim-python, runs SCALE-Sim's own command (`python -m scalesim.scale -c CFG -t TOPO`)
   on the same files, as a whole process, and checks that both report the same total cycles per
   layer. SCALE-Sim takes 10–15 minutes for the whole network on this machine; --scalesim-layers N
   runs only the first N layers (the ratio is then per those layers, and said so).
Not a pass/fail test: it prints the figures docs/cycle-model.md quotes.
"""
from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIG = """[general]
run_name = resnet50_32x32

[architecture_presets]
ArrayHeight = 32
ArrayWidth = 32
IfmapSramSzkB = 256
FilterSramSzkB = 256
OfmapSramSzkB = 128
IfmapOffset = 0
FilterOffset = 10000000
OfmapOffset = 20000000
Bandwidth = 10
Dataflow = {dataflow}
ReadRequestBuffer = 32
WriteRequestBuffer = 32

[layout]
IfmapCustomLayout = False
IfmapSRAMBankBandwidth = 10
IfmapSRAMBankNum = 1
IfmapSRAMBankPort = 2
FilterCustomLayout = False
FilterSRAMBankBandwidth = 10
FilterSRAMBankNum = 1
FilterSRAMBankPort = 2

[sparsity]
SparsitySupport = false
SparseRep = ellpack_block
OptimizedMapping = false
BlockSize = 8
RandomNumberGeneratorSeed = 40

[run_presets]
InterfaceBandwidth = CALC
UseRamulatorTrace = False
"""


def write_inputs(folder: Path, dataflow: str, n_layers: int | None = None) -> tuple[Path, Path]:
    """The SCALE-Sim config and the ResNet-50 topology (weight layers, pre-padded inputs)."""
    import accelsim
    from accelsim.model.scalesim import layer_from_einsum

    workload = accelsim.load_workload(REPO / "workloads" / "resnet50.yaml")
    layers = [layer_from_einsum(l.einsum, l.name) for l in workload.layers if l.einsum.tensor("weights") is not None]
    layers = layers[:n_layers] if n_layers else layers
    config, topology = folder / "resnet50_32x32.cfg", folder / "resnet50.csv"
    config.write_text(CONFIG.format(dataflow=dataflow))
    with topology.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["Layer name", "IFMAP Height", "IFMAP Width", "Filter Height", "Filter Width", "Channels",
                      "Num Filter", "Strides", ""])
        for L in layers:
            out.writerow([L.name, L.H, L.W, L.R, L.S, L.C, L.F, L.stride, ""])
    return config, topology


def timed(command: list[str], env: dict | None = None, cwd: Path | None = None) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd)
    seconds = time.perf_counter() - start
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
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataflow", default="os", choices=("os", "ws", "is"))
    ap.add_argument("--runs", type=int, default=5, help="warm accelsim runs")
    ap.add_argument("--scalesim-python", help="python of a venv with scalesim==3.0.0 (numpy<2.4)")
    ap.add_argument("--scalesim-layers", type=int, help="run SCALE-Sim on the first N layers only")
    a = ap.parse_args(argv)
    accelsim_cmd = [sys.executable, "-m", "accelsim.cli"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        config, topology = write_inputs(tmp, a.dataflow)
        timed(accelsim_cmd + ["import", "scalesim", "--config", str(config), "--topology", str(topology),
                              "--out", str(tmp / "accelsim")])
        arch, workload = (next((tmp / "accelsim").glob(f"*{kind}*.yaml")) for kind in ("arch", "workload"))
        run = accelsim_cmd + ["run", str(arch), str(workload), "--model", "cycle", "--scalesim-compat",
                              "--json", str(tmp / "accelsim.json")]
        cold, _ = timed(run, env={**os.environ, "NUMBA_CACHE_DIR": str(tmp / "numba-cache")})
        warm = [timed(run)[0] for _ in range(a.runs + 1)][1:]  # the first fills the default cache
        import json
        ours = [l["cycles"] for l in json.loads((tmp / "accelsim.json").read_text())["layers"]]
        print(f"accelsim {a.dataflow}, ResNet-50 ({len(ours)} weight layers) on 32×32, whole process: "
              f"cold {cold:.2f} s, warm median {statistics.median(warm):.2f} s "
              f"(min {min(warm):.2f}, max {max(warm):.2f}, {len(warm)} runs); total cycles {sum(ours):,}")
        if not a.scalesim_python:
            return
        n = a.scalesim_layers or len(ours)
        folder = tmp / "scalesim"
        folder.mkdir()
        config, topology = write_inputs(folder, a.dataflow, n)
        layout = folder / "layout.csv"  # SCALE-Sim's command requires one; a default layout per layer
        layout.write_text("Layer name," + ",".join(f"f{i}" for i in range(1, 21)) + ",\n"
                          + "".join(f"l{i}," + ",".join(["1"] * 20) + ",\n" for i in range(n)))
        seconds, _ = timed([a.scalesim_python, "-m", "scalesim.scale", "-c", str(config), "-t", str(topology),
                            "-l", str(layout), "-p", str(folder / "out"), "-s", "N"], cwd=folder)
        theirs = scalesim_cycles(tmp / "scalesim" / "out")
        same = theirs == ours[:n]
        share = "" if n == len(ours) else f" (first {n} of {len(ours)} layers)"
        print(f"SCALE-Sim 3.0.0, the same inputs{share}, whole process: {seconds:.1f} s; total cycles "
              f"{sum(theirs):,}; per-layer cycles {'identical' if same else 'DIFFER'}")
        print(f"ratio SCALE-Sim ÷ accelsim (warm median){share}: {seconds / statistics.median(warm):,.0f}×")


if __name__ == "__main__":
    main()
