"""The CLI's commands: each parses nothing, calls the library and prints (accelsim/cli/__init__.py
builds the parser and maps errors to exit codes)."""
from __future__ import annotations

import hashlib
import sys
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from ..errors import SpecError
from ..options import SimOptions
from ..version import __version__

EXIT_SPEC_ERROR = 2  # bad input (a SpecError): the CLI's exit code


def _split_overrides(items: list[str]) -> tuple[list[str], list[str]]:
    arch, workload = [], []
    for item in items:
        target, _, rest = item.partition(".")
        if target == "arch" and rest:
            arch.append(rest)
        elif target == "workload" and rest:
            workload.append(rest)
        else:
            raise SpecError(f"--set {item!r}: start the path with 'arch.' or 'workload.', "
                            f"e.g. --set arch.levels.GLB.size=64KiB or --set workload.parameters.seq=384")
    return arch, workload


def _file_hash(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def _record_table_file(arch, inputs: dict) -> None:
    """A technology table file is an input of the run: its path and content hash go with the result."""
    if arch.tech_table is not None:
        inputs["technology_table"] = {"path": arch.tech_table.path, "sha256_16": arch.tech_table.sha256_16}


def cmd_run(args) -> int:
    from ..load import load_arch, load_mapping_file, load_workload
    from ..mapping.mapping import render_mapping
    from ..report.serialize import write_json
    from ..report.table import render_result
    from ..simulate import simulate

    shorthands = [f"arch.operating_point.{key}={value}"
                  for key, value in (("voltage", args.voltage), ("frequency", args.frequency)) if value]
    density = None
    if args.density is not None:
        try:
            density = float(args.density)
        except ValueError:
            raise SpecError(f"--density {args.density!r}: give the non-zero fraction as a number "
                            f"between 0 and 1, e.g. --density 0.5") from None
    arch_over, wl_over = _split_overrides(shorthands + (args.set or []))
    arch = load_arch(args.arch, arch_over)
    if Path(args.workload).suffix.lower() == ".onnx":
        workload = _onnx_workload(args.workload, getattr(args, "dim", None), wl_over)
    else:
        if getattr(args, "dim", None):
            raise SpecError("--dim binds the symbolic dims of an ONNX model's inputs: use it with a .onnx workload")
        workload = load_workload(args.workload, wl_over)
    mappings = load_mapping_file(args.mapping, arch, workload) if args.mapping else None
    for flag, given in (("--constraints", args.constraints), ("--rank", args.rank)):
        if given and args.dataflow != "search":
            raise SpecError(f"{flag} guides the mapper: use it with --dataflow search")
    options = SimOptions(model=args.model, dataflow=args.dataflow, mapping_file=args.mapping,
                         constraints_file=args.constraints, mapper_seed=args.seed,
                         mapper_settings={"rank": args.rank} if args.rank else None,
                         scalesim_compat=args.scalesim_compat, precision=args.precision, density=density)
    inputs = {"arch": {"path": str(args.arch), "sha256_16": _file_hash(args.arch)},
              "workload": {"path": str(args.workload), "sha256_16": _file_hash(args.workload)},
              "overrides": shorthands + list(args.set or [])}
    _record_table_file(arch, inputs)
    for key in ("mapping", "constraints"):
        if getattr(args, key):
            inputs[key] = {"path": str(getattr(args, key)), "sha256_16": _file_hash(getattr(args, key))}
    from ..kernel_cache import compile_note
    resolved = replace(options, dataflow=options.dataflow or arch.dataflow or "search")
    if note := compile_note(resolved):
        print(note, file=sys.stderr, flush=True)
        _compile_ahead(resolved)
    from ..compile_ahead import usable_cpus
    with _layer_progress(len(workload.layers)) as progress:  # distinct searches in a process per CPU
        result = simulate(arch, workload, options, mappings, inputs,
                          search_cache=None if args.no_search_cache else args.search_cache, progress=progress,
                          search_processes=usable_cpus())
    if args.save_mapping:
        from ..mapping.mapping_file import save_mapping_file
        save_mapping_file(args.save_mapping, {l.name: l.mapping for l in result.layers})
        print(f"wrote the mappings to {args.save_mapping} (reload with --mapping)")
    if args.show_mapping:
        for layer, l in zip(workload.layers, result.layers):
            print(f"== {layer.name}: {layer.einsum.render()}")
            print(render_mapping(arch, l.mapping, layer.run_einsum))
            print()
    print(render_result(result))
    if workload.vector:
        print(_vector_line(workload))
    if args.json:
        write_json(result, args.json, workload.vector)
        print(f"\nwrote {args.json}")
    return 0


def _parse_dims(items) -> dict[str, int]:
    dims = {}
    for item in items or ():
        name, _, value = item.partition("=")
        if not name or not value.strip().isdigit() or int(value) < 1:
            raise SpecError(f"--dim {item!r}: write NAME=VALUE with a positive integer, e.g. --dim batch_size=1")
        dims[name.strip()] = int(value)
    return dims


def _onnx_workload(path, dim_items, overrides):
    """An ONNX model imported in memory, then checked (and --set applied) as a workload file is."""
    from ..importers.onnx_import import onnx_workload_data
    from ..load import workload_from_data
    from ..spec.validate import apply_overrides

    data = onnx_workload_data(path, _parse_dims(dim_items))
    return workload_from_data(apply_overrides(data, list(overrides)) if overrides else data, path)


def _vector_line(workload) -> str:
    """The workload's non-MAC work: counted, not simulated, not in the MAC totals."""
    from collections import Counter

    by_op = Counter()
    for v in workload.vector:
        by_op[v.op] += v.elements * v.count
    top = ", ".join(f"{op} {n:,}" for op, n in by_op.most_common(6))
    return (f"vector work (counted, not simulated; not in the MAC totals): {workload.vector_elements:,} "
            f"element operations in {len(workload.vector)} ops ({top}{', ...' if len(by_op) > 6 else ''})")


def cmd_import_onnx(args) -> int:
    """ONNX model → workload YAML, with the MAC, pooling and vector totals."""
    from ..importers.onnx_import import import_onnx

    imp = import_onnx(args.model, args.out, _parse_dims(args.dim))
    s = imp.summary
    print(f"wrote {imp.workload_path}: {s['layers']} layers, {s['vector_ops']} vector ops")
    print(f"MACs (Conv, Gemm, MatMul): {s['macs']:,}")
    if s["pool_window_ops"]:
        print(f"pooling window operations (one-operand layers, not MACs): {s['pool_window_ops']:,}")
    if s["vector_ops"]:
        print(f"vector work (element operations, counted, not simulated): {s['vector_elements']:,} ("
              + ", ".join(f"{op} {n:,}" for op, n in s["vector_by_op"].items()) + ")")
    print(f"run it: accelsim run ARCH {imp.workload_path}")
    return 0


def cmd_llm(args) -> int:
    """Prefill + decode of one LLM on one arch: time to first token, tokens/s, J/token."""
    from ..load import load_arch, load_workload
    from ..report.llm import llm_metrics, phase_parameters, render_llm
    from ..report.table import render_result
    from ..simulate import simulate

    arch_over, prefill_over, decode_over = [], [], []
    shorthands = [f"workload.parameters.batch={args.batch}"] if args.batch else []
    shorthands += [f"prefill.parameters.seq={args.seq}"] if args.seq else []
    shorthands += [f"decode.parameters.context={args.context}"] if args.context else []
    for item in shorthands + (args.set or []):
        target, _, rest = item.partition(".")
        lists = {"arch": [arch_over], "workload": [prefill_over, decode_over],
                 "prefill": [prefill_over], "decode": [decode_over]}.get(target if rest else None)
        if lists is None:
            raise SpecError(f"--set {item!r}: start the path with 'arch.', 'workload.' (both "
                            f"workloads), 'prefill.' or 'decode.', e.g. --set decode.parameters.context=2048")
        for target_list in lists:
            target_list.append(rest)
    arch = load_arch(args.arch, arch_over)
    prefill_w = load_workload(args.prefill, prefill_over)
    decode_w = load_workload(args.decode, decode_over)
    batch, prompt, context = phase_parameters(prefill_w, decode_w)
    options = SimOptions(model=args.model, dataflow=args.dataflow)
    results = []
    for path, workload in ((args.prefill, prefill_w), (args.decode, decode_w)):
        inputs = {"arch": {"path": str(args.arch), "sha256_16": _file_hash(args.arch)},
                  "workload": {"path": str(path), "sha256_16": _file_hash(path)},
                  "overrides": shorthands + list(args.set or [])}
        _record_table_file(arch, inputs)
        with _layer_progress(len(workload.layers)) as progress:
            results.append(simulate(arch, workload, options, None, inputs,
                                    search_cache=None if args.no_search_cache else args.search_cache,
                                    progress=progress))
    if args.layers:
        for result in results:
            print(render_result(result))
            print()
    print(render_llm(llm_metrics(*results, batch, prompt, context), *results))
    return 0


SCALESIM_COLUMNS = (("layer", None), ("total_cycles", "Total Cycles"), ("stall_cycles", "Stall Cycles"),
                    ("total_cycles_incl_prefetch", "incl. prefetch"), ("overall_util_pct", "util %"),
                    ("mapping_efficiency_pct", "map eff %"), ("ifmap_sram_reads", "ifmap SRAM rd"),
                    ("filter_sram_reads", "filter SRAM rd"), ("ofmap_sram_writes", "ofmap SRAM wr"),
                    ("ifmap_dram_reads", "ifmap DRAM rd"), ("filter_dram_reads", "filter DRAM rd"),
                    ("ofmap_dram_writes", "ofmap DRAM wr"))
# SparsitySupport = true: SCALE-Sim's SPARSE_REPORT storage figures (words)
SCALESIM_SPARSE_COLUMNS = (("original_filter_storage", "filter words"),
                           ("new_filter_storage", "sparse+meta words"), ("filter_metadata_storage", "meta words"))


def cmd_import(args) -> int:
    """SCALE-Sim config + topology → accelsim files, and SCALE-Sim's per-layer report."""
    import json

    from ..files import write_atomic
    from ..importers.scalesim import import_scalesim
    from ..model.scalesim import simulate_systolic

    imported = import_scalesim(args.config, args.topology, args.gemm, args.out)
    rows = []
    for layer in imported.layers:
        result = simulate_systolic(layer, imported.config, scalesim_compat=True)
        rows.append({"layer": layer.name, **result.as_dict()})
    print(f"wrote {imported.arch_path}, {imported.workload_path}, {imported.sidecar_path}")
    print(f"\nSCALE-Sim v3.0.0-compatible report ({imported.config.dataflow}, "
          f"{imported.config.rows}x{imported.config.cols}, {imported.config.bandwidth_mode} bandwidth):")
    columns = SCALESIM_COLUMNS + (SCALESIM_SPARSE_COLUMNS if imported.config.sparse_rep else ())
    widths = [max(len(h or k), *(len(f"{r[k]:.4g}" if isinstance(r[k], float) else str(r[k])) for r in rows))
              for k, h in columns]
    print("  ".join((h or k).rjust(w) for (k, h), w in zip(columns, widths)))
    for r in rows:
        print("  ".join((f"{r[k]:.4g}" if isinstance(r[k], float) else str(r[k])).rjust(w)
                        for (k, _), w in zip(columns, widths)))
    if args.json:
        write_atomic(args.json, json.dumps({"accelsim_version": __version__, "scalesim_compat": True,
                                            "config": str(args.config), "topology": str(args.topology),
                                            "layers": rows}, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 0


def cmd_claims(args) -> int:
    import json

    from ..claims import evaluate_claims, render_claims
    from ..files import write_atomic

    results = evaluate_claims(args.arch, args.model)
    print(f"claims of {args.arch} ({args.model} model):\n")
    print(render_claims(results))
    if args.json:
        write_atomic(args.json, json.dumps([{**r.__dict__, "error": r.error, "within": r.within}
                                            for r in results], indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 1 if args.strict and not all(r.within for r in results) else 0


def cmd_sweep(args) -> int:
    from ..dse.runner import sweep

    run = sweep(args.file, store=args.store, jobs=args.jobs, scheduler=args.scheduler, progress=True,
                retry_failed=args.retry_failed, point_timeout_s=args.point_timeout, prepare=_compile_for_sweep)
    print(f"{run.name}: {run.total} points, {run.skipped} already in {run.store}, "
          f"{run.ok} run, {run.infeasible} infeasible, {run.failed} failed")
    if run.failed or run.skipped_failed:
        failures = run.failures()
        for row in failures[:10]:
            print(f"  failed: {' '.join([row['workload'], row['dataflow'], *row['overrides']])}: {row['reason']}")
        if len(failures) > 10:
            print(f"  ... and {len(failures) - 10} more (the store's status and reason columns)")
        print("  (tracebacks are in the store's traceback column; --retry-failed runs failed points again)")
    return 1 if run.failed else 0


def cmd_export(args) -> int:
    from ..dse.export import export

    fmt, out = ("csv", args.csv) if args.csv else ("parquet", args.parquet)
    path, rows = export(args.source, out, fmt, levels=args.levels)
    print(f"wrote {path} ({rows} rows)")
    return 0


def cmd_plot(args) -> int:
    from ..dse.plot import plot

    kwargs = {}
    if args.kind in ("heatmap", "pareto", "frequency"):
        kwargs["where"] = dict(w.split("=", 1) for w in args.where or [])
    if args.kind == "heatmap":
        if not (args.x and args.y):
            raise SpecError("accelsim plot heatmap needs --x and --y (axis paths of the sweep)")
        kwargs.update(x=args.x, y=args.y, metric=args.metric)
    elif args.kind == "breakdown":
        kwargs = {"by": args.by}
    elif args.kind == "ucurve":
        kwargs = {"boundary": args.boundary}
    plot(args.kind, args.source, args.out, **kwargs)
    print(f"wrote {args.out}")
    return 0


def cmd_import_timeloop(args) -> int:
    from ..importers.timeloop import import_timeloop

    imp = import_timeloop(args.arch, args.problem, args.out, args.mapping, args.ert,
                          args.constraints, args.mapper)
    written = [p for p in (imp.arch_path, imp.workload_path, imp.mapping_path, imp.constraints_path) if p]
    print("wrote " + ", ".join(str(p) for p in written))
    if any(name.lower() != role for name, role in imp.data_spaces.items()):
        print("data spaces: " + ", ".join(f"{name} → {role}" for name, role in imp.data_spaces.items()))
    for note in imp.notes:
        print(f"note: {note}")
    run = f"accelsim run {imp.arch_path} {imp.workload_path}"
    print(f"run it: {run}" + (f" --mapping {imp.mapping_path}" if imp.mapping_path else " --dataflow ws"))
    return 0


def cmd_check(args) -> int:
    from ..load import load_arch, load_workload, spec_file_kind
    from ..spec.schema import ConstraintsSpec, MappingSpec
    from ..spec.validate import load_with_extends, validate_model

    failed = False
    for path in args.files:
        try:
            kind = spec_file_kind(path)
            if kind == "arch":
                load_arch(path)
            elif kind == "workload":
                load_workload(path)
            elif kind == "constraints":
                validate_model(ConstraintsSpec, load_with_extends(path), str(path))
            elif kind == "sweep":
                from ..dse.spec import load_sweep
                load_sweep(path).points()  # the points' keys read the arch and workloads too
            else:
                validate_model(MappingSpec, load_with_extends(path), str(path))
            print(f"{path}: ok ({kind})")
        except SpecError as exc:
            failed = True
            print(exc.render(), file=sys.stderr)
    return EXIT_SPEC_ERROR if failed else 0


def _table_of(path):
    """The technology table a file gives: a table file's own, or the one an arch file names."""
    from ..energy.tables import arch_table, load_table_file
    from ..load import load_arch
    from ..spec.yaml_io import load_yaml_file

    data = load_yaml_file(path)
    if "levels" in data or "extends" in data:
        return arch_table(load_arch(path))
    return load_table_file(path)


def cmd_info(args) -> int:
    from ..docs_gen import spec_reference
    from ..energy.tables import describe_table, table_names
    from ..mapping.dataflows import DATAFLOWS

    if args.files and args.topic != "tables":
        raise SpecError(f"files are read only by `accelsim info tables`, not by `info {args.topic}`")
    if args.topic == "schema":
        print(spec_reference())
    elif args.topic == "tables":
        tables = [_table_of(path) for path in args.files] or table_names()
        print("\n\n".join(describe_table(t) for t in tables))
    else:
        print("dataflows: " + ", ".join(DATAFLOWS.names()))
    return 0


@contextmanager
def _layer_progress(total: int):
    """A progress bar on stderr, one step per layer, with the mapper's evaluations/s when it
    searched; silent when stderr is not a terminal (logs and pipes stay clean)."""
    if not getattr(sys.stderr, "isatty", lambda: False)():  # tqdm's disable=None would hide it: skip its import
        yield None
        return
    from tqdm import tqdm

    # mininterval=0: a layer can take seconds (a search), so every step is shown
    with tqdm(total=total, unit="layer", file=sys.stderr, disable=None, leave=False, mininterval=0) as bar:
        def step(done, total, name, search):
            info = {"layer": name}
            if search is not None and search.seconds > 0:
                info["search"] = f"{search.evaluations / search.seconds / 1e6:.2f} M evals/s"
            bar.set_postfix(info, refresh=False)
            bar.update(done - bar.n)
        yield step


def _compile_ahead(*options, extra=()) -> None:
    """Compile the uncached kernels of runs with these options (and the `extra` jobs) in parallel
    processes first (compile_ahead.py), saying so."""
    from ..compile_ahead import compile_in_parallel, jobs_for, pending

    jobs = list(dict.fromkeys([job for one in options for job in jobs_for(one)] + list(extra)))
    compile_in_parallel(pending(jobs), report=lambda line: print(f"accelsim: {line}", file=sys.stderr, flush=True))


def _compile_for_sweep(points) -> None:
    """Before a sweep's workers start: say what compiles and compile it in parallel processes, so
    the workers load every kernel from the cache instead of each compiling it (or a progress line
    standing at 0 points/s for a minute with no word why)."""
    from ..compile_ahead import TEMPLATE
    from ..dse.evaluate import point_options
    from ..kernel_cache import compile_note
    from ..load import load_arch
    from ..mapping.template_pack import supported

    own = {}  # the base arch's own dataflow, for the points that run it

    def resolved(point):
        options = point_options(point)
        if options.dataflow is None:
            # an axis may set the arch's dataflow (--set's form: arch.dataflow=os)
            given = [o.partition("=")[2] for o in point.overrides if o.startswith("arch.dataflow=")]
            if point.arch not in own:
                try:
                    own[point.arch] = load_arch(point.arch).dataflow
                except SpecError:  # the point reports it as its own error
                    own[point.arch] = None
            options = replace(options, dataflow=(given[-1] if given else own[point.arch]) or "search")
        return options

    options = list({repr(o): o for o in map(resolved, points)}.values())  # (mapper_settings: a dict)
    templates = any(supported(o.dataflow) for o in options)  # evaluate_point maps them with map_layer_fast
    if note := compile_note(*options, template_kernel=templates, later="sweeps"):
        print(note, file=sys.stderr, flush=True)
        _compile_ahead(*options, extra=[TEMPLATE] if templates else [])


def cmd_cache(args) -> int:
    from ..kernel_cache import (
        PACKAGE,
        cache_location_notes,
        clear_numba_cache,
        numba_cache_files,
    )
    from ..units import format_si

    package_dir = PACKAGE
    if args.action == "warm":
        seconds = warm_kernels(report=lambda line: print(line, flush=True))
        print(f"accelsim's kernels (counting, mapper, templates, cycle model, SCALE-Sim emulator) are compiled and "
              f"cached ({seconds:.1f} s); later runs load them")
    elif args.action == "clear":
        files, size = clear_numba_cache(package_dir)
        print(f"removed {files} Numba cache files (*.nbi, *.nbc), {size:,} bytes ({format_si(size, 'B')}), "
              f"from the __pycache__ folders under {package_dir}")
    else:
        paths = numba_cache_files(package_dir)
        size = sum(p.stat().st_size for p in paths)
        print(f"Numba cache of accelsim's kernels: the __pycache__ folders under {package_dir}")
        print(f"{len(paths)} files (*.nbi, *.nbc), {size:,} bytes ({format_si(size, 'B')}); "
              f"clear it with: accelsim cache clear")
    for note in cache_location_notes(package_dir):
        print(f"note: {note}")
    return 0


def warm_kernels(report=None) -> float:
    """Run every kernel once on a tiny problem (Numba compiles and caches them); returns seconds.
    The counting, ragged-loop and search kernels compile first, in parallel processes
    (compile_ahead.py); `report(line)` hears those."""
    import time

    from ..compile_ahead import JOBS, compile_in_parallel, pending, warm_problem
    from ..dse.network import warm_network_kernels
    from ..options import SimOptions
    from ..simulate import simulate

    start = time.perf_counter()
    compile_in_parallel(pending(JOBS), report=report)
    arch, workload = warm_problem()
    simulate(arch, workload, SimOptions(model="cycle"))  # the counting kernel and the tile walk
    from ..mapping.dataflows import map_layer
    from ..mapping.lower import lower
    from ..model.packed import evaluate_packed, pack_problem
    einsum = workload.layers[0].run_einsum  # the ragged-loop kernel (templates' and the mapper's padded layers)
    evaluate_packed(pack_problem(arch, einsum), lower(arch, einsum, map_layer(arch, einsum, "os")), ragged=True)
    from ..mapping.template_pack import template_nest
    template_nest(arch, workload.layers[0].run_einsum, "ws")  # the sweeps' template kernel
    warm_network_kernels(arch, SimOptions(dataflow="ws"))  # the sweeps' whole-network and choice kernels
    unlimited = replace(arch, levels=tuple(replace(l, read_bw_words=None, write_bw_words=None)
                                           if l.name == "DRAM" else l for l in arch.levels))
    for variant in (arch, unlimited):  # SCALE-Sim's USER and CALC bandwidth modes
        simulate(variant, workload, SimOptions(model="cycle", scalesim_compat=True))
    for settings in ({"search": "exhaustive"},  # and random sampling + hill climbing:
                     {"search": "auto", "exhaustive_limit": 1, "evaluations": 2000}):
        simulate(arch, workload, SimOptions(dataflow="search", mapper_settings=settings))
    return time.perf_counter() - start


def default_search_cache() -> str:
    """The mapper's cache folder: $XDG_CACHE_HOME/accelsim/search, else ~/.cache/accelsim/search."""
    import os
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "accelsim", "search")


def _dvfs_budget(text, unit_parser, what: str):
    """A budget as (multiple, None) for '1.1x' (of the best single clock's) or (None, value) for a
    quantity with a unit; parsed before the sweep so a typo fails at once."""
    if text is None:
        return None
    try:
        multiple, value = (float(text[:-1]), None) if text.endswith("x") else (None, unit_parser(text))
        if (multiple if value is None else value) <= 0:
            raise ValueError
        return multiple, value
    except ValueError:
        raise SpecError(f"--{what}-budget {text!r}: give a positive multiple of the best single clock's, e.g. "
                        f"1.1x, or a positive quantity with its unit, e.g. {'120us' if what == 'latency' else '2mJ'}"
                        ) from None


def _resolve_budget(parsed, reference):
    if parsed is None:
        return None
    multiple, value = parsed
    return value if multiple is None else multiple * reference


def cmd_dvfs(args) -> int:
    """Energy-to-completion vs one domain's clock, per layer; per-layer schedules vs one clock."""
    from .. import units
    from ..dvfs.report import dvfs_dict, render_dvfs, schedule_dict
    from ..dvfs.schedule import (
        best_single_point,
        fastest_single_point,
        per_layer_schedule,
    )
    from ..dvfs.sweep import dvfs_sweep
    from ..files import write_atomic
    from ..load import load_arch, load_workload

    arch_over, wl_over = _split_overrides(args.set or [])
    arch = load_arch(args.arch, arch_over)
    workload = load_workload(args.workload, wl_over)
    frequencies = None
    if args.frequencies:
        try:
            frequencies = [units.parse_frequency_hz(f) for f in args.frequencies.split(",")]
        except ValueError as exc:
            raise SpecError(f"--frequencies {args.frequencies!r}: {exc}; e.g. 210MHz,800MHz,1440MHz") from None
    try:
        switch_time = units.parse_time_s(args.switch_time)
        switch_energy = units.parse_energy_pj(args.switch_energy) * 1e-12
    except ValueError as exc:
        raise SpecError(f"--switch-time / --switch-energy: {exc}; e.g. --switch-time 20us --switch-energy 0J") from None
    latency_parsed = _dvfs_budget(args.latency_budget, units.parse_time_s, "latency")
    energy_parsed = _dvfs_budget(args.energy_budget, lambda t: units.parse_energy_pj(t) * 1e-12, "energy")
    options = SimOptions(model=args.model, dataflow=args.dataflow)
    sweep = dvfs_sweep(arch, workload, args.domain, frequencies, args.points, options,
                       search_cache=None if args.no_search_cache else args.search_cache)
    fastest = best_single_point(sweep)      # the least energy of one clock for every layer
    quickest = fastest_single_point(sweep)  # the shortest runtime of one clock
    budgets = [("no budget: least energy", {}, None, None)]
    if quickest is not None:
        budgets.append(("latency budget: the fastest single clock's runtime", {"latency_s": quickest.runtime_s},
                        quickest.runtime_s, None))
    latency = _resolve_budget(latency_parsed, quickest.runtime_s if quickest else 0.0)
    energy = _resolve_budget(energy_parsed, fastest.energy_j if fastest else 0.0)
    if latency is not None:
        budgets.append((f"latency budget {args.latency_budget}", {"latency_s": latency}, latency, None))
    if energy is not None:
        budgets.append((f"energy budget {args.energy_budget}", {"energy_j": energy}, None, energy))
    schedules = []
    for label, budget, lat, en in budgets:
        per_layer = per_layer_schedule(sweep, lat, en, switch_time, switch_energy)
        single = best_single_point(sweep, lat, en)
        schedules.append(schedule_dict(label, budget, per_layer, single, sweep))
    data = dvfs_dict(sweep, schedules)
    data["switch"] = {"time_s": switch_time, "energy_j": switch_energy}
    print(render_dvfs(data))
    if args.json:
        import json
        write_atomic(args.json, json.dumps(data, indent=2, allow_nan=False) + "\n")
        print(f"\nwrote {args.json}")
    return 0
