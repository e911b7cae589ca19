"""The command line. Thin: parsing, calling the library (cli/commands.py), printing; exit 2 on bad
input."""
from __future__ import annotations

import argparse
import sys

from ..errors import MappingError, SpecError
from ..version import __version__
from .commands import (
    EXIT_SPEC_ERROR,
    cmd_cache,
    cmd_check,
    cmd_claims,
    cmd_dvfs,
    cmd_export,
    cmd_import,
    cmd_import_onnx,
    cmd_import_timeloop,
    cmd_info,
    cmd_llm,
    cmd_plot,
    cmd_run,
    cmd_sweep,
    default_search_cache,
)

DESCRIPTION = ("accelsim simulates DNN accelerators: run a workload on an architecture (run), check published "
               "claims (claims), sweep a design space (sweep, plot), validate specs (check), convert a peer's "
               "specs (import), show references (info), manage compiled kernels (cache).")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="accelsim", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"accelsim {__version__}")
    from ..model.performance import PERFORMANCE_MODELS
    models = PERFORMANCE_MODELS.names()
    sub = parser.add_subparsers(dest="command", required=True)
    _add_run_parsers(sub, models)
    _add_dse_parsers(sub)
    _add_tool_parsers(sub)
    _add_export_parser(sub)
    _add_dvfs_parser(sub, models)
    return parser


def _add_dvfs_parser(sub, models) -> None:
    """dvfs: energy-to-completion vs a domain's clock, per layer, and per-layer schedules."""
    dvfs = sub.add_parser("dvfs", help="sweep a clock domain's frequency (V from its V-f table): per-layer "
                          "runtime, power, energy split, the energy-optimal clock, per-layer DVFS schedules")
    dvfs.add_argument("arch", help="architecture YAML")
    dvfs.add_argument("workload", help="workload YAML")
    dvfs.add_argument("--domain", default="core", help="the clock domain to sweep (default: core)")
    dvfs.add_argument("--points", type=int, default=14, help="clocks evenly over the domain's range (default 14)")
    dvfs.add_argument("--frequencies", help="explicit clocks instead, e.g. 210MHz,600MHz,1440MHz")
    dvfs.add_argument("--dataflow", help="dataflow template or 'search' (default: the arch's, else the mapper); "
                      "the mappings are found once, at the arch's own operating point")
    dvfs.add_argument("--model", default="analytical", choices=models, help="performance model")
    dvfs.add_argument("--set", action="append", metavar="PATH=VALUE",
                      help="override a spec field, e.g. workload.parameters.seq=2048 (repeatable)")
    dvfs.add_argument("--latency-budget", help="also schedule within this runtime: '1.2x' (of the fastest "
                      "single clock's) or e.g. '150us'")
    dvfs.add_argument("--energy-budget", help="also schedule for the shortest runtime within this energy: "
                      "'1.1x' (of the least-energy single clock's) or e.g. '2mJ'")
    dvfs.add_argument("--switch-time", default="20us", help="time of one clock/voltage switch (default 20us)")
    dvfs.add_argument("--switch-energy", default="0J", help="energy of one switch on top of the static power "
                      "drawn during it (default 0J)")
    dvfs.add_argument("--json", metavar="PATH", help="write the study as JSON (for accelsim plot ucurve)")
    _add_search_cache(dvfs)
    _add_allow_path(dvfs)
    dvfs.set_defaults(func=cmd_dvfs)


def _add_export_parser(sub) -> None:
    """export: a sweep store or a run's JSON as a table (CSV, or Parquet with accelsim[parquet])."""
    export = sub.add_parser("export", help="write a sweep store or a run's JSON as a CSV or Parquet table")
    export.add_argument("source", help="sweep store (.sqlite): one row per point; or a run's JSON "
                        "(accelsim run --json): one row per layer")
    out = export.add_mutually_exclusive_group(required=True)
    out.add_argument("--csv", metavar="OUT", help="write a .csv file")
    out.add_argument("--parquet", metavar="OUT", help="write a .parquet file (needs accelsim[parquet])")
    export.add_argument("--levels", action="store_true", help="run JSON only: one row per layer × memory "
                        "level × tensor (reads, fills, updates, tile, energy) instead of per layer")
    export.set_defaults(func=cmd_export)


def _add_run_parsers(sub, models) -> None:
    """run and claims: they simulate."""
    run = sub.add_parser("run", help="simulate a workload on an architecture")
    run.add_argument("arch", help="architecture YAML")
    run.add_argument("workload", help="workload YAML, or an ONNX model (.onnx, imported on the fly: docs/onnx.md)")
    run.add_argument("--mapping", help="explicit per-layer mappings (YAML); other layers use --dataflow")
    run.add_argument("--dataflow", help="dataflow template: ws, os, is, rs, ..., or 'search' for the mapper "
                     "(default: the arch's own template, else the mapper)")
    run.add_argument("--constraints", help="mapper constraints and settings (YAML) for --dataflow search")
    run.add_argument("--seed", type=int, help="mapper random seed (overrides the constraints file's)")
    run.add_argument("--rank", choices=("analytical", "cycle"),
                     help="mapper: rank its best points by the analytical bound (default) or by the cycle model's "
                          "walk (stalls, fill/drain, skew); overrides the constraints file's `rank`")
    run.add_argument("--save-mapping", metavar="PATH", help="write every layer's mapping as a mapping file")
    run.add_argument("--model", default="analytical", choices=models, help="performance model")
    run.add_argument("--scalesim-compat", action="store_true",
                     help="with --model cycle on a systolic array: count as SCALE-Sim v3.0.0 does")
    run.add_argument("--set", action="append", metavar="PATH=VALUE",
                     help="override a spec field, e.g. arch.levels.GLB.size=64KiB (repeatable)")
    run.add_argument("--voltage", help="operating voltage, e.g. 0.6V (same as --set arch.operating_point.voltage=...)")
    run.add_argument("--frequency", help="clock, e.g. 800MHz; with a V-f table, omit it to run at f_max(V)")
    run.add_argument("--precision", help="number format of every layer, e.g. int8, int4, int4_vsq "
                     "(overrides the workload's precision fields)")
    run.add_argument("--density", help="non-zero fraction of both operands of every layer, 0..1 "
                     "(energy only; overrides the workload's density fields)")
    run.add_argument("--json", metavar="PATH", help="also write the result as JSON")
    _add_search_cache(run)
    run.add_argument("--show-mapping", action="store_true", help="print each layer's loop nest")
    _add_onnx_dim(run)
    _add_allow_path(run)
    run.set_defaults(func=cmd_run)

    llm = sub.add_parser("llm", help="LLM inference: a prefill and a decode workload → time to first "
                         "token, tokens/s, J/token (docs/llm.md)")
    llm.add_argument("arch", help="architecture YAML")
    llm.add_argument("--prefill", required=True, help="workload YAML with 'phase: prefill'")
    llm.add_argument("--decode", required=True, help="workload YAML with 'phase: decode'")
    llm.add_argument("--batch", type=int, help="sequences per batch, in both workloads "
                     "(same as --set workload.parameters.batch=...)")
    llm.add_argument("--seq", type=int, help="prompt tokens (same as --set prefill.parameters.seq=...)")
    llm.add_argument("--context", type=int, help="KV-cache entries the decode step attends to "
                     "(same as --set decode.parameters.context=...)")
    llm.add_argument("--set", action="append", metavar="PATH=VALUE",
                     help="override a spec field: arch.*, workload.* (both workloads), prefill.* or decode.*")
    llm.add_argument("--dataflow", help="dataflow template or 'search' (default: the arch's own, else the mapper)")
    llm.add_argument("--model", default="analytical", choices=models, help="performance model")
    llm.add_argument("--layers", action="store_true", help="also print both per-layer tables")
    _add_search_cache(llm)
    _add_allow_path(llm)
    llm.set_defaults(func=cmd_llm)

    claims = sub.add_parser("claims", help="evaluate the published figures in an arch's claims: block")
    claims.add_argument("arch", help="architecture YAML with a claims: block")
    claims.add_argument("--model", default="analytical", choices=models, help="performance model")
    claims.add_argument("--json", metavar="PATH", help="also write the comparison as JSON")
    claims.add_argument("--strict", action="store_true", help="exit 1 when a claim misses its tolerance")
    _add_allow_path(claims)
    claims.set_defaults(func=cmd_claims)


def _add_dse_parsers(sub) -> None:
    """sweep and plot: design-space exploration."""
    sweep = sub.add_parser("sweep", help="run a sweep file into a resumable SQLite store")
    sweep.add_argument("file", help="sweep YAML")
    sweep.add_argument("--jobs", type=int, default=1, help="local worker processes (default 1)")
    sweep.add_argument("--scheduler", help="Dask scheduler address (needs accelsim[dask]); default: local pool")
    sweep.add_argument("--store", help="SQLite store (default: the sweep file's store)")
    sweep.add_argument("--retry-failed", action="store_true", help="run the points stored as failed "
                       "again, replacing their rows (default: a rerun skips every stored point)")
    sweep.add_argument("--point-timeout", type=float, metavar="SECONDS", help="a point running longer "
                       "is stopped and stored as failed (local pool only; default: no limit)")
    _add_allow_path(sweep)
    sweep.set_defaults(func=cmd_sweep)

    from ..dse.plot import KINDS
    plot = sub.add_parser("plot", help="plot a sweep store or a run's JSON (PNG or SVG)")
    plot.add_argument("kind", choices=KINDS)
    plot.add_argument("source", help="sweep store (.sqlite) for pareto/heatmap/frequency, run JSON for "
                      "breakdown/roofline, a DVFS study (accelsim dvfs --json) for ucurve")
    plot.add_argument("--out", required=True, help="output .png or .svg")
    plot.add_argument("--x", help="heatmap: axis path for x")
    plot.add_argument("--y", help="heatmap: axis path (or column, e.g. dataflow) for y")
    plot.add_argument("--metric", default="tops_per_watt", help="heatmap: column to colour by")
    plot.add_argument("--where", action="append", metavar="COLUMN=VALUE",
                      help="store plots: keep rows whose column or axis has this value (repeatable)")
    plot.add_argument("--by", default="component", choices=["component", "tensor"], help="breakdown grouping")
    plot.add_argument("--boundary", default="system", choices=["system", "chip"],
                      help="ucurve: energy at the system boundary, or the chip's (off-chip memory left out)")
    plot.set_defaults(func=cmd_plot)


def _add_tool_parsers(sub) -> None:
    """check, import, info, cache: tools around the simulator."""
    check = sub.add_parser("check", help="validate spec files without simulating (exit 2 on errors)")
    check.add_argument("files", nargs="+")
    _add_allow_path(check)
    check.set_defaults(func=cmd_check)

    imp = sub.add_parser("import", help="convert a peer's specs into accelsim files")
    imp_sub = imp.add_subparsers(dest="peer", required=True)
    scs = imp_sub.add_parser("scalesim", help="SCALE-Sim v3 .cfg + topology CSV; prints SCALE-Sim's report")
    scs.add_argument("--config", required=True, help="SCALE-Sim .cfg")
    scs.add_argument("--topology", required=True, help="SCALE-Sim topology CSV (conv rows, or GEMM rows with --gemm)")
    scs.add_argument("--gemm", action="store_true", help="the topology holds GEMM rows (name, M, N, K)")
    scs.add_argument("--out", required=True, help="folder for the accelsim arch and workload files")
    scs.add_argument("--json", metavar="PATH", help="also write the per-layer report as JSON")
    scs.set_defaults(func=cmd_import)

    tl = imp_sub.add_parser("timeloop", help="Timeloop v0.4 arch + problem [+ mapping] [+ constraints] [+ ERT]")
    tl.add_argument("--arch", required=True, help="Timeloop architecture YAML (v0.4 nodes list, or "
                    "Timeloop's flattened parsed-processed-input.yaml)")
    tl.add_argument("--problem", help="Timeloop problem YAML (omit if the arch file has a problem: section)")
    tl.add_argument("--mapping", help="Timeloop mapping YAML (permutations inner to outer)")
    tl.add_argument("--constraints", help="Timeloop mapspace_constraints YAML → timeloop.constraints.yaml")
    tl.add_argument("--mapper", help="Timeloop mapper: section (objective, search) → the constraints file")
    tl.add_argument("--ert", help="Accelergy ERT YAML: per-action energies to use")
    tl.add_argument("--out", required=True, help="folder for the accelsim files")
    tl.set_defaults(func=cmd_import_timeloop)

    ox = imp_sub.add_parser("onnx", help="ONNX model → accelsim workload YAML (needs accelsim[onnx])")
    ox.add_argument("model", help="ONNX model (.onnx); weights are not read, only shapes")
    ox.add_argument("--out", required=True, help="the workload YAML to write")
    _add_onnx_dim(ox)
    ox.set_defaults(func=cmd_import_onnx)

    info = sub.add_parser("info", help="spec reference, energy tables, dataflows")
    info.add_argument("topic", nargs="?", default="schema", choices=["schema", "tables", "dataflows"])
    info.add_argument("files", nargs="*", metavar="FILE", help="with 'tables': show only the tables these "
                      "files give: a technology table file, or an arch file (the table it names)")
    info.set_defaults(func=cmd_info)

    cache = sub.add_parser("cache", help="Numba's cache of compiled kernels: where it is and its size "
                           "(info), or delete it (clear)")
    cache_sub = cache.add_subparsers(dest="action", required=True)
    cache_sub.add_parser("info", help="where accelsim's Numba cache lives, how many files and bytes")
    cache_sub.add_parser("warm", help="compile every kernel once now (about a minute after an install), "
                         "so that the first run, search or test does not")
    cache_sub.add_parser("clear", help="delete accelsim's Numba cache files (*.nbi, *.nbc in the "
                         "__pycache__ folders of the accelsim package) and print what was removed; "
                         "the kernels recompile on the next run")
    cache.set_defaults(func=cmd_cache)


def _add_search_cache(parser) -> None:
    parser.add_argument("--search-cache", metavar="DIR", default=default_search_cache(),
                        help="where the mapper keeps its results across runs, keyed by everything that decides "
                             "them (default: %(default)s)")
    parser.add_argument("--no-search-cache", action="store_true", help="search every layer afresh")


def _add_onnx_dim(parser) -> None:
    parser.add_argument("--dim", action="append", metavar="NAME=VALUE", default=[],
                        help="ONNX models: the value of a symbolic input dim, e.g. --dim batch_size=1 (repeatable)")


def _add_allow_path(parser) -> None:
    parser.add_argument("--allow-path", action="append", metavar="PATH", default=[],
                        help="a file or folder that `extends:` may reach besides the spec's own folder "
                             "tree (repeatable; docs/concepts.md#files-a-spec-may-read)")


def main(argv=None) -> int:
    from ..spec.files import allow_paths

    args = build_parser().parse_args(argv)
    _show_progress_logs()
    try:
        with allow_paths(getattr(args, "allow_path", ())):
            return args.func(args)
    except (SpecError, MappingError) as exc:
        text = exc.render() if isinstance(exc, SpecError) else f"mapping error: {exc}"
        print(text, file=sys.stderr)
        return EXIT_SPEC_ERROR


def _show_progress_logs() -> None:
    """The library logs progress of long work (logger 'accelsim', INFO); the CLI shows it on stderr."""
    import logging

    logger = logging.getLogger("accelsim")
    if not any(getattr(h, "accelsim_cli", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("accelsim: %(message)s"))
        handler.accelsim_cli = True
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
