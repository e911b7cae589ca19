#!/usr/bin/env python3
"""Generate golden reference data from the peer simulator SCALE-Sim v3.0.0.

Run with the *separate* SCALE-Sim venv (never a dependency of accelsim):

    python3 -m venv /work/venvs/scalesim
    /work/venvs/scalesim/bin/pip install scalesim==3.0.0
    /work/venvs/scalesim/bin/python benchmarks/scalesim_golden.py --out tests/data/scalesim

For every case (array shape x dataflow x bandwidth mode x topology kind) it writes
``<out>/cases/<case>/`` with the exact ``config.cfg``, ``topology.csv`` and
``layout.csv`` fed to SCALE-Sim plus SCALE-Sim's own three report CSVs
(COMPUTE_REPORT, BANDWIDTH_REPORT, DETAILED_ACCESS_REPORT, copied verbatim), and one
merged table ``<out>/golden.csv`` with one row per (case, layer) carrying the layer
shape, the derived GEMM view (M, N, K) and every report number at full precision.
``<out>/cases.json`` indexes the cases and their parameters.

Traces are not written (SCALE-Sim is driven with ``save_disk_space=True``); the report
directories live in a temporary directory that is deleted afterwards.
See docs/notes/scalesim-model.md for the counting model these numbers follow.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import math
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import time
from contextlib import redirect_stdout

# ----------------------------------------------------------------------------------------------
# Fixed case definitions
# ----------------------------------------------------------------------------------------------

# Conv rows: name, ifmap H, ifmap W, filter H (R), filter W (S), channels C, filters F, stride.
# No padding in SCALE-Sim: E = ceil((H - R + s) / s).
CONV_LAYERS = [
    # 7x7/2 first layer, scaled down (20x20x3 -> 16 filters). (20-7) % 2 == 1, so the last
    # window row/col runs past the ifmap: SCALE-Sim marks those ifmap addresses -1 (no access).
    ("conv1_7x7s2", 20, 20, 7, 7, 3, 16, 2),
    ("res_3x3", 10, 10, 3, 3, 16, 16, 1),
    ("res_3x3s2", 9, 9, 3, 3, 16, 32, 2),
    ("res_1x1", 8, 8, 1, 1, 32, 64, 1),
    # 1x1 stride-2 downsample: E = ceil((8-1+2)/2) = 5 (a padded conv would give 4); the 5th
    # window is entirely out of bounds -> all -1 ifmap addresses for those rows.
    ("res_1x1s2", 8, 8, 1, 1, 32, 64, 2),
]

# GEMM rows: name, M, N, K  (run with input_type_gemm=True; becomes H=M, W=K, R=1, S=K, C=1, F=N)
GEMM_LAYERS = [
    ("gemm_a", 64, 48, 40),
    ("gemm_b", 100, 20, 70),
    ("gemm_c", 16, 128, 16),
]

ARRAYS = [(8, 8), (32, 32), (16, 4), (4, 16)]
DATAFLOWS = ["os", "ws", "is"]

# Memory / bandwidth presets. kB sizes are SCALE-Sim's (1 kB = 1024 one-byte words).
# In USER mode SCALE-Sim v3.0.0 takes the ifmap / filter DRAM->SRAM bandwidths from
# [layout] IfmapSRAMBankBandwidth / FilterSRAMBankBandwidth and only the OFMAP drain
# bandwidth from [architecture_presets] Bandwidth (see single_layer_sim.run); we set all three.
MEM_PRESETS = {
    # CALC: SRAMs large enough that nothing is re-fetched for these layers
    "calc": dict(mode="CALC", ifmap_kb=64, filter_kb=64, ofmap_kb=32, bw=10),
    # CALC with tiny SRAMs: exercises the 100-set window re-fetch and OFMAP drain stalls
    "calcsmall": dict(mode="CALC", ifmap_kb=1, filter_kb=1, ofmap_kb=1, bw=10),
    # USER: small SRAMs + low bandwidth -> multiple refills and stalls
    "user": dict(mode="USER", ifmap_kb=2, filter_kb=2, ofmap_kb=1, bw=4),
    # USER: generous SRAMs/bandwidth (mostly stall-free reference for USER accounting)
    "userbig": dict(mode="USER", ifmap_kb=64, filter_kb=64, ofmap_kb=32, bw=16),
}


def build_cases():
    cases = []
    for (rows, cols) in ARRAYS:
        for df in DATAFLOWS:
            presets = ["calc", "user"]
            if (rows, cols) == (8, 8):
                presets += ["calcsmall", "userbig"]
            for preset in presets:
                for kind in ("conv", "gemm"):
                    name = f"a{rows}x{cols}_{df}_{preset}_{kind}"
                    cases.append(dict(name=name, rows=rows, cols=cols, dataflow=df,
                                      preset=preset, kind=kind, **MEM_PRESETS[preset]))
    return cases


# Sparse suite (--sparse): SCALE-Sim's layer-wise N:M weight sparsity ([sparsity]
# SparsitySupport = true, OptimizedMapping = false). Rows carry the topology's sparsity column
# "N:M" (None: no column, SCALE-Sim's default 1:1). K = R*S*C is chosen so that some patterns
# do not divide it (the last block keeps fewer than N rows).
SPARSE_CONV_LAYERS = [
    ("sp_3x3_2of4", 10, 10, 3, 3, 8, 16, 1, "2:4"),     # K = 72
    ("sp_1x1_1of4", 8, 8, 1, 1, 16, 12, 1, "1:4"),      # K = 16
    ("sp_3x3s2_2of4", 10, 10, 3, 3, 1, 8, 2, "2:4"),    # K = 9: last block of 1 row; overhang
    ("sp_5x5_3of8", 9, 9, 5, 5, 2, 12, 1, "3:8"),       # K = 50: 50 % 8 = 2 < 3
    ("sp_dense", 6, 6, 3, 3, 4, 8, 1, None),            # no column: 1:1
]
SPARSE_GEMM_LAYERS = [
    ("g_2of4", 32, 24, 40, "2:4"),
    ("g_1of8", 20, 16, 64, "1:8"),
    ("g_3of4", 12, 20, 30, "3:4"),                       # K = 30: last block of 2 rows
    ("g_dense", 16, 16, 16, None),
]
SPARSE_REPS = ["ellpack_block", "csr", "csc"]
# USER with the smallest SRAMs SCALE-Sim accepts (whole kB) and 2 words/cycle: refills and stalls
SPARSE_MEM_PRESETS = {**MEM_PRESETS, "userslow": dict(mode="USER", ifmap_kb=1, filter_kb=1, ofmap_kb=1, bw=2)}


def build_sparse_cases():
    """8x8 array: every dataflow x {calc, user} x every representation x {conv, gemm}; plus
    16x4 ws and 4x16 os/is with the small-SRAM presets (re-fetch and stalls on the condensed
    operands)."""
    cases = []
    for df in DATAFLOWS:
        for preset in ("calc", "user"):
            for rep in SPARSE_REPS:
                for kind in ("conv", "gemm"):
                    cases.append(dict(name=f"sp_a8x8_{df}_{preset}_{rep}_{kind}", rows=8, cols=8,
                                      dataflow=df, preset=preset, kind=kind, sparse_rep=rep,
                                      **MEM_PRESETS[preset]))
    for (rows, cols, df, rep) in ((16, 4, "ws", "ellpack_block"), (4, 16, "os", "csr"),
                                  (4, 16, "is", "csc")):
        for preset in ("calcsmall", "userslow"):
            for kind in ("conv", "gemm"):
                cases.append(dict(name=f"sp_a{rows}x{cols}_{df}_{preset}_{rep}_{kind}", rows=rows,
                                  cols=cols, dataflow=df, preset=preset, kind=kind, sparse_rep=rep,
                                  **SPARSE_MEM_PRESETS[preset]))
    # Row-wise N:M (OptimizedMapping = true, ws only in 3.0.0): block sizes 2, 4, 8 on 8 rows,
    # two seeds; each filter draws its N from the seeded generator.
    for preset in ("calc", "user"):
        for rep in SPARSE_REPS:
            for kind in ("conv", "gemm"):
                cases.append(dict(name=f"rw_a8x8_ws_{preset}_{rep}_b4_{kind}", rows=8, cols=8,
                                  dataflow="ws", preset=preset, kind=kind, sparse_rep=rep, block=4,
                                  seed=40, **SPARSE_MEM_PRESETS[preset]))
    for (rows, cols, preset, block, seed) in ((8, 8, "calc", 2, 40), (8, 8, "user", 8, 7),
                                              (16, 4, "calcsmall", 8, 40), (16, 4, "userslow", 4, 123)):
        for kind in ("conv", "gemm"):
            cases.append(dict(name=f"rw_a{rows}x{cols}_ws_{preset}_csr_b{block}_s{seed}_{kind}",
                              rows=rows, cols=cols, dataflow="ws", preset=preset, kind=kind,
                              sparse_rep="csr", block=block, seed=seed,
                              **SPARSE_MEM_PRESETS[preset]))
    return cases


# --sparse --large: a few bigger layers on bigger arrays (the slow test tier)
LARGE_CONV_LAYERS = [
    ("lg_3x3_2of4", 18, 18, 3, 3, 16, 48, 1, "2:4"),     # M = 256, K = 144
    ("lg_1x1s2_1of4", 16, 16, 1, 1, 32, 64, 2, "1:4"),   # M = 64, K = 32
]
LARGE_GEMM_LAYERS = [
    ("lg_g_2of4", 128, 64, 120, "2:4"),
    ("lg_g_3of8", 48, 80, 160, "3:8"),
]


def build_large_sparse_cases():
    cases = []
    for (rows, cols, df, preset, rep, block, seed) in (
            (32, 32, "ws", "calc", "ellpack_block", 0, 40), (32, 32, "ws", "userbig", "csr", 8, 40),
            (16, 16, "os", "calcsmall", "csc", 0, 40), (16, 16, "is", "userbig", "csr", 0, 40),
            (16, 16, "ws", "calcsmall", "ellpack_block", 16, 5)):
        for kind in ("conv", "gemm"):
            tag = f"rw_b{block}_s{seed}" if block else "lw"
            cases.append(dict(name=f"lg_a{rows}x{cols}_{df}_{preset}_{rep}_{tag}_{kind}", rows=rows,
                              cols=cols, dataflow=df, preset=preset, kind=kind, sparse_rep=rep,
                              block=block, seed=seed, large=True, **SPARSE_MEM_PRESETS[preset]))
    return cases


def build_random_sparse_cases(seed, count):
    """--sparse --random SEED:COUNT: random small sparse cases, each with its own one-layer
    topology (layer-wise N:M on any dataflow or row-wise on ws, any preset, representation,
    block size and seed). A spot check beyond the committed goldens; not committed."""
    import random
    rng = random.Random(seed)
    cases = []
    for i in range(count):
        rows, cols = rng.choice([(4, 4), (8, 8), (8, 4), (4, 8), (16, 8)])
        rowwise = rng.random() < 0.5
        m = rng.randint(1, 8)
        nm = f"{rng.randint(1, m)}:{m}"
        kind = rng.choice(["conv", "gemm"])
        if kind == "conv":
            H = rng.randint(4, 12)
            R = rng.randint(1, min(5, H))
            layer = (f"L{i}", H, H, R, R, rng.randint(1, 9), rng.randint(1, 24), rng.randint(1, 2), nm)
        else:
            layer = (f"G{i}", rng.randint(2, 40), rng.randint(1, 30), rng.randint(2, 60), nm)
        preset = rng.choice(["calc", "calcsmall", "user", "userslow"])
        blocks = [b for b in range(2, rows + 1, 2) if (2 * rows) % b == 0]
        cases.append(dict(name=f"rand{seed}_{i}", rows=rows, cols=cols, preset=preset, kind=kind,
                          dataflow="ws" if rowwise else rng.choice(DATAFLOWS),
                          sparse_rep=rng.choice(SPARSE_REPS), block=rng.choice(blocks) if rowwise else 0,
                          seed=rng.randint(0, 10**6), layers=[layer], **SPARSE_MEM_PRESETS[preset]))
    return cases


def _layers(kind, sparse, large=False):
    if isinstance(large, list):      # a case's own layers (--random)
        return large
    if large:
        return LARGE_CONV_LAYERS if kind == "conv" else LARGE_GEMM_LAYERS
    if sparse:
        return SPARSE_CONV_LAYERS if kind == "conv" else SPARSE_GEMM_LAYERS
    return CONV_LAYERS if kind == "conv" else GEMM_LAYERS


# ----------------------------------------------------------------------------------------------
# File writers
# ----------------------------------------------------------------------------------------------

def cfg_text(case):
    return f"""[general]
run_name = run

[run_presets]
InterfaceBandwidth = {case['mode']}
UseRamulatorTrace = False

[architecture_presets]
ArrayHeight = {case['rows']}
ArrayWidth = {case['cols']}
IfmapSramSzkB = {case['ifmap_kb']}
FilterSramSzkB = {case['filter_kb']}
OfmapSramSzkB = {case['ofmap_kb']}
IfmapOffset = 0
FilterOffset = 10000000
OfmapOffset = 20000000
Bandwidth = {case['bw']}
Dataflow = {case['dataflow']}
ReadRequestBuffer = 32
WriteRequestBuffer = 32

[layout]
IfmapCustomLayout = False
IfmapSRAMBankBandwidth = {case['bw']}
IfmapSRAMBankNum = 1
IfmapSRAMBankPort = 2
FilterCustomLayout = False
FilterSRAMBankBandwidth = {case['bw']}
FilterSRAMBankNum = 1
FilterSRAMBankPort = 2

[sparsity]
SparsitySupport = {'true' if case.get('sparse_rep') else 'false'}
SparseRep = {case.get('sparse_rep') or 'ellpack_block'}
OptimizedMapping = {'true' if case.get('block') else 'false'}
BlockSize = {case.get('block') or 8}
RandomNumberGeneratorSeed = {case.get('seed', 40)}
"""


def topology_text(kind, sparse=False, large=False):
    # SCALE-Sim drops the last comma-separated field of each row: keep the trailing comma.
    # Sparse rows add the "N:M" column (a row without it is 1:1).
    tail = ", Sparsity," if sparse else ","
    if kind == "conv":
        lines = ["Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, "
                 "Channels, Num Filter, Strides" + tail]
    else:
        lines = ["Layer, M, N, K" + tail]
    lines += [", ".join(str(x) for x in row if x is not None) + ","
              for row in _layers(kind, sparse, large)]
    return "\n".join(lines) + "\n"


def layout_text(kind, sparse=False, large=False):
    # Only parsed (custom layouts are off) but SCALE-Sim insists on a file with int fields.
    rows_ = _layers(kind, sparse, large)
    n = len(rows_)
    names = [r[0] for r in rows_]
    hdr = "Layer name," + ",".join(f"f{i}" for i in range(1, 21)) + ","
    rows = [name + "," + ",".join(["1"] * 20) + "," for name in names[:n]]
    return "\n".join([hdr] + rows) + "\n"


def layer_shapes(kind, sparse=False, large=False):
    """Layer params + GEMM view exactly as SCALE-Sim's topology_utils derives them (sparse:
    plus the weights' N:M pattern, 1:1 without a column)."""
    out = []
    for row in _layers(kind, sparse, large):
        ratio = row[-1] if sparse else None
        row = row[:-1] if sparse else row
        if kind == "conv":
            (name, H, W, R, S, C, F, s) = row
            Eh = math.ceil((H - R + s) / s)
            Ew = math.ceil((W - S + s) / s)
            d = dict(layer=name, H=H, W=W, R=R, S=S, C=C, F=F, stride=s,
                     M=Eh * Ew, N=F, K=R * S * C)
        else:
            (name, M, N, K) = row
            d = dict(layer=name, H=M, W=K, R=1, S=K, C=1, F=N, stride=1, M=M, N=N, K=K)
        if sparse:
            n, m = (ratio or "1:1").split(":")
            d.update(nm_n=int(n), nm_m=int(m))
        out.append(d)
    return out


REPORT_FIELDS = [
    "total_cycles_incl_prefetch", "total_cycles", "stall_cycles", "overall_util_pct",
    "mapping_efficiency_pct", "compute_util_pct",
    "avg_ifmap_sram_bw", "avg_filter_sram_bw", "avg_ofmap_sram_bw",
    "avg_ifmap_dram_bw", "avg_filter_dram_bw", "avg_ofmap_dram_bw",
    "ifmap_sram_start", "ifmap_sram_stop", "ifmap_sram_reads",
    "filter_sram_start", "filter_sram_stop", "filter_sram_reads",
    "ofmap_sram_start", "ofmap_sram_stop", "ofmap_sram_writes",
    "ifmap_dram_start", "ifmap_dram_stop", "ifmap_dram_reads",
    "filter_dram_start", "filter_dram_stop", "filter_dram_reads",
    "ofmap_dram_start", "ofmap_dram_stop", "ofmap_dram_writes",
]
# SparsitySupport = true: BANDWIDTH_REPORT gains "Avg FILTER Metadata SRAM BW" after the filter
# SRAM bandwidth; SPARSE_REPORT holds the storage figures and the same bandwidth again.
SPARSE_REPORT_FIELDS = REPORT_FIELDS[:8] + ["avg_filter_metadata_sram_bw"] + REPORT_FIELDS[8:]
SPARSE_STORAGE_FIELDS = ["original_filter_storage", "new_filter_storage", "filter_metadata_storage",
                         "sparse_report_metadata_bw"]


def _num(x):
    """Normalise numpy scalars to int when integral, else float (repr keeps full precision)."""
    try:
        f = float(x)
    except (TypeError, ValueError):
        return x
    if f == int(f) and not isinstance(x, float):
        return int(f)
    if isinstance(x, float) or 'float' in type(x).__name__:
        return f
    return int(f)


# ----------------------------------------------------------------------------------------------
# Running one case
# ----------------------------------------------------------------------------------------------

def run_case(args):
    case, case_dir = args
    from scalesim.scale_sim import scalesim  # imported in the worker

    os.makedirs(case_dir, exist_ok=True)
    cfg_path = os.path.join(case_dir, "config.cfg")
    topo_path = os.path.join(case_dir, "topology.csv")
    layout_path = os.path.join(case_dir, "layout.csv")
    with open(cfg_path, "w") as f:
        f.write(cfg_text(case))
    sparse, large = bool(case.get("sparse_rep")), case.get("layers") or bool(case.get("large"))
    with open(topo_path, "w") as f:
        f.write(topology_text(case["kind"], sparse, large))
    with open(layout_path, "w") as f:
        f.write(layout_text(case["kind"], sparse, large))

    tmp = tempfile.mkdtemp(prefix="scalesim_golden_")
    t0 = time.time()
    try:
        buf = io.StringIO()
        with redirect_stdout(buf):
            s = scalesim(save_disk_space=True, verbose=False, config=cfg_path,
                         topology=topo_path, layout=layout_path,
                         input_type_gemm=(case["kind"] == "gemm"))
            s.run_scale(top_path=tmp)
        wall = time.time() - t0
        rep_dir = os.path.join(tmp, "run")
        reports = ["COMPUTE_REPORT.csv", "BANDWIDTH_REPORT.csv", "DETAILED_ACCESS_REPORT.csv"]
        for rep in reports + (["SPARSE_REPORT.csv"] if sparse else []):
            shutil.copy(os.path.join(rep_dir, rep), os.path.join(case_dir, rep))
        rows = []
        shapes = layer_shapes(case["kind"], sparse, large)
        fields = SPARSE_REPORT_FIELDS + SPARSE_STORAGE_FIELDS if sparse else REPORT_FIELDS
        for lid, obj in enumerate(s.runner.single_layer_sim_object_list):
            vals = (obj.get_compute_report_items() + obj.get_bandwidth_report_items()
                    + obj.get_detail_report_items())
            if sparse:
                vals += obj.get_sparse_report_items()
            assert len(vals) == len(fields)
            row = dict(case=case["name"], array_rows=case["rows"], array_cols=case["cols"],
                       dataflow=case["dataflow"], bw_mode=case["mode"], preset=case["preset"],
                       **({"sparse_rep": case["sparse_rep"], "block": case.get("block", 0),
                           "seed": case.get("seed", 40)} if sparse else {}),
                       ifmap_kb=case["ifmap_kb"], filter_kb=case["filter_kb"],
                       ofmap_kb=case["ofmap_kb"], bandwidth=case["bw"], layer_id=lid)
            row.update(shapes[lid])
            for k, v in zip(fields, vals):
                row[k] = _num(v)
            rows.append(row)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return case["name"], rows, wall


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="tests/data/scalesim")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--only", default="", help="substring filter on case names (debugging)")
    ap.add_argument("--sparse", action="store_true",
                    help="the N:M sparsity suite (write it to tests/data/scalesim/sparse)")
    ap.add_argument("--large", action="store_true",
                    help="with --sparse: the bigger sparse cases (tests/data/scalesim/sparse_large)")
    ap.add_argument("--random", default="", metavar="SEED:COUNT",
                    help="with --sparse: COUNT random one-layer sparse cases (a spot check, not committed)")
    a = ap.parse_args(argv)

    import scalesim  # noqa: F401
    from importlib.metadata import version
    ver = version("scalesim")
    if ver != "3.0.0":
        print(f"WARNING: scalesim version {ver} != 3.0.0", file=sys.stderr)

    if a.random:
        seed, count = (int(x) for x in a.random.split(":"))
        suite = build_random_sparse_cases(seed, count)
    else:
        suite = (build_large_sparse_cases() if a.large else build_sparse_cases()) if a.sparse else build_cases()
    cases = [c for c in suite if a.only in c["name"]]
    out = os.path.abspath(a.out)
    os.makedirs(os.path.join(out, "cases"), exist_ok=True)
    work = [(c, os.path.join(out, "cases", c["name"])) for c in cases]

    t0 = time.time()
    results = {}
    with mp.Pool(a.jobs) as pool:
        for name, rows, wall in pool.imap_unordered(run_case, work):
            results[name] = (rows, wall)
            print(f"{name:32s} {wall:7.2f} s", flush=True)

    all_rows = []
    for c in cases:
        all_rows += results[c["name"]][0]
    fields = list(all_rows[0].keys())
    with open(os.path.join(out, "golden.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        for r in all_rows:
            w.writerow({k: (repr(v) if isinstance(v, float) else v) for k, v in r.items()})
    keys = ("name", "rows", "cols", "dataflow", "preset", "kind", "mode", "ifmap_kb", "filter_kb",
            "ofmap_kb", "bw")
    index = dict(scalesim_version=ver,
                 conv_layers=[] if a.random else _layers("conv", a.sparse, a.large),
                 gemm_layers=[] if a.random else _layers("gemm", a.sparse, a.large),
                 mem_presets=SPARSE_MEM_PRESETS if a.sparse else MEM_PRESETS,
                 cases=[{**{k: c[k] for k in keys},
                         **({"sparse_rep": c["sparse_rep"], "block": c.get("block", 0),
                             "seed": c.get("seed", 40)} if a.sparse else {})} for c in cases])
    with open(os.path.join(out, "cases.json"), "w") as f:
        json.dump(index, f, indent=1)
    print(f"{len(cases)} cases, {len(all_rows)} layer rows, {time.time() - t0:.1f} s wall")


if __name__ == "__main__":
    main()
