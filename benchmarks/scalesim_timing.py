#!/usr/bin/env python3
"""Time SCALE-Sim v3.0.0 per layer (wall seconds), for speed comparisons with accelsim.

Run with the separate SCALE-Sim venv (never an accelsim dependency):

    /work/venvs/scalesim/bin/python benchmarks/scalesim_timing.py                 # built-in case
    /work/venvs/scalesim/bin/python benchmarks/scalesim_timing.py \\
        --config my.cfg --topology my_topo.csv [--gemm] [--repeat 1] [--json out.json]

Without --config/--topology it times the built-in case: one ResNet-50 conv2_x 3x3 layer
(56x56 output: ifmap 58x58x64 pre-padded since SCALE-Sim has no padding, 64 filters 3x3,
stride 1 -> GEMM M=3136, N=64, K=576) on a 32x32 output-stationary array, CALC bandwidth,
SRAM 256/256/128 kB.  Traces are not written.  Each layer is run through
scalesim.single_layer_sim exactly as scalesim.simulator.run() does (compute + memory
simulation + report calculation), timed with time.perf_counter().
"""
from __future__ import annotations

import argparse
import io
import json
import os
import platform
import sys
import tempfile
import time
from contextlib import redirect_stdout

DEFAULT_CFG = """[general]
run_name = timing

[run_presets]
InterfaceBandwidth = CALC
UseRamulatorTrace = False

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
Dataflow = os
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
"""

DEFAULT_TOPO = ("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
                "Num Filter, Strides,\nresnet50_conv2_3x3, 58, 58, 3, 3, 64, 64, 1,\n")


def dummy_layout(n_layers):
    hdr = "Layer name," + ",".join(f"f{i}" for i in range(1, 21)) + ","
    rows = [f"l{i}," + ",".join(["1"] * 20) + "," for i in range(n_layers)]
    return "\n".join([hdr] + rows) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description="Time SCALE-Sim per layer")
    ap.add_argument("--config")
    ap.add_argument("--topology")
    ap.add_argument("--layout", help="layout CSV (a dummy one is generated if omitted)")
    ap.add_argument("--gemm", action="store_true", help="topology rows are name, M, N, K")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--json", help="write results to this JSON file")
    a = ap.parse_args(argv)

    from importlib.metadata import version
    from scalesim.scale_config import scale_config
    from scalesim.topology_utils import topologies
    from scalesim.layout_utils import layouts
    from scalesim.single_layer_sim import single_layer_sim

    tmp = tempfile.mkdtemp(prefix="scalesim_timing_")
    cfg_path = a.config or os.path.join(tmp, "timing.cfg")
    topo_path = a.topology or os.path.join(tmp, "topo.csv")
    if not a.config:
        open(cfg_path, "w").write(DEFAULT_CFG)
    if not a.topology:
        open(topo_path, "w").write(DEFAULT_TOPO)

    cfg = scale_config()
    cfg.read_conf_file(cfg_path)
    topo = topologies()
    topo.load_arrays(topofile=topo_path, mnk_inputs=a.gemm)
    layout_path = a.layout or os.path.join(tmp, "layout.csv")
    if not a.layout:
        open(layout_path, "w").write(dummy_layout(topo.get_num_layers()))
    lay = layouts()
    lay.load_arrays(layoutfile=layout_path)
    topo.topo_calc_hyperparams()

    results = []
    for lid in range(topo.get_num_layers()):
        times = []
        for _ in range(a.repeat):
            sim = single_layer_sim()
            buf = io.StringIO()
            with redirect_stdout(buf):
                t0 = time.perf_counter()
                sim.set_params(layer_id=lid, config_obj=cfg, topology_obj=topo,
                               layout_obj=lay, verbose=False)
                sim.run()
                items = sim.get_compute_report_items()
                t = time.perf_counter() - t0
            times.append(t)
        M = topo.get_layer_num_ofmap_px(lid) // topo.get_layer_num_filters(lid)
        res = dict(layer=topo.get_layer_name(lid), M=M, N=topo.get_layer_num_filters(lid),
                   K=topo.get_layer_window_size(lid), wall_s=min(times), wall_s_all=times,
                   total_cycles=int(items[1]), stall_cycles=int(items[2]),
                   total_cycles_incl_prefetch=int(items[0]))
        results.append(res)
        print(f"{res['layer']:24s} M={M:6d} N={res['N']:5d} K={res['K']:5d} "
              f"cycles={res['total_cycles']:9d}  wall={res['wall_s']:.2f} s", flush=True)
    rows, cols = cfg.get_array_dims()
    summary = dict(scalesim_version=version("scalesim"), array=f"{rows}x{cols}",
                   dataflow=cfg.get_dataflow(),
                   bw_mode="USER" if cfg.use_user_dram_bandwidth() else "CALC",
                   python=platform.python_version(), machine=platform.machine(),
                   cpus=os.cpu_count(), layers=results,
                   total_wall_s=sum(r["wall_s"] for r in results))
    print(f"total {summary['total_wall_s']:.2f} s over {len(results)} layer(s)")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(summary, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
