"""Evaluate one design point in a worker: a row of metrics, the reason it is infeasible, or the
exception that made it fail."""
from __future__ import annotations

import os
import traceback as _traceback
from functools import lru_cache

from ..errors import MappingError, SpecError
from ..options import SimOptions
from ..results import ops_per_pj
from ..spec.files import allow_paths
from .spec import Point


def _split(overrides):
    """The arch's and the workload's overrides (mapper.* ones are in the point's mapper settings)."""
    arch, workload = [], []
    for item in overrides:
        target, _, rest = item.partition(".")
        if target in ("arch", "workload"):
            (arch if target == "arch" else workload).append(rest)
    return arch, workload


def arch_variant(point: Point) -> tuple:
    """What names the arch a point runs (its file and arch overrides): the key of _arch's cache,
    which the local pool groups a worker's points by."""
    return point.arch, tuple(_split(point.overrides)[0]), point.allowed_paths


def point_options(point: Point) -> SimOptions:
    """The options a point runs with, as `accelsim run` takes them (the mapper's from the sweep)."""
    return SimOptions(model=point.model, dataflow=point.dataflow, constraints_file=point.constraints,
                      mapper_settings=point.mapper_settings)


def _stamp(path: str) -> tuple:
    """A spec file's identity for the caches below: a file edited during a sweep is read again."""
    try:
        s = os.stat(path)
    except (OSError, ValueError):
        return (path,)  # loading it reports why, as a SpecError (an infeasible row)
    return path, s.st_ino, s.st_size, s.st_mtime_ns


@lru_cache(maxsize=256)
def _arch(stamp: tuple, overrides: tuple, allowed: tuple):
    """An arch as a point loads it. Every workload and dataflow of a sweep shares its arch
    variants, and parsing and validating one costs ~10 ms, more than evaluating a small network:
    a worker builds each (file, overrides) once, from the file parsed once (most of that cost is
    the YAML parse). Arch objects are frozen; errors are not kept."""
    from ..load import arch_from_data
    from ..spec.validate import apply_overrides
    from ..spec.yaml_io import copy_tree
    with allow_paths(allowed):
        data = _arch_data(stamp, allowed)  # apply_overrides works on a copy; so does a variant without any
        return arch_from_data(stamp[0], apply_overrides(data, list(overrides)) if overrides else copy_tree(data))


@lru_cache(maxsize=16)
def _arch_data(stamp: tuple, allowed: tuple):
    """An arch file as load_arch parses it (`extends:` merged), before overrides; each variant is
    built from a copy of it."""
    from ..spec.validate import load_with_extends
    with allow_paths(allowed):
        return load_with_extends(stamp[0])


@lru_cache(maxsize=64)
def _workload(stamp: tuple, overrides: tuple, allowed: tuple):
    """A workload as a point loads it, once per worker (ResNet-50's file takes ~50 ms to read)."""
    from ..load import load_workload
    with allow_paths(allowed):
        return load_workload(stamp[0], list(overrides))


def evaluate_point(point: Point) -> dict:
    """Metrics of one point. Spec and mapping errors make an infeasible row, not a crash."""
    from ..mapping.template_pack import map_layer_fast
    from ..simulate import simulate

    row = {"key": point.key, **point.label(), "model": point.model}
    arch_over, wl_over = _split(point.overrides)
    try:
        with allow_paths(point.allowed_paths):  # a worker process has its own context: the point carries them
            arch = _arch(_stamp(point.arch), tuple(arch_over), point.allowed_paths)
            workload = _workload(_stamp(point.workload), tuple(wl_over), point.allowed_paths)
            # the whole network in one jitted call where it covers the point (the same result), else
            # simulate with the templates' mappings from their jitted kernel (the same Mapping as
            # dataflows.map_layer)
            result = (_network_result(arch, workload, point_options(point))
                      or simulate(arch, workload, point_options(point), map_template=map_layer_fast))
    except (SpecError, MappingError) as exc:
        reason = exc.problems[0].message if isinstance(exc, SpecError) else str(exc)
        return {**row, "status": "infeasible", "reason": reason}
    energy = result.boundary_energy_pj()
    tpw = ops_per_pj(result.macs, energy)  # result.tops_per_watt(), without summing the energies again
    return {**row, "status": "ok", "reason": "",
            "macs": result.macs, "cycles": result.cycles, "latency_s": result.latency_s,
            "energy_pj": energy["system"], "energy_chip_pj": energy["chip"],
            "utilization": result.utilization, "tops": result.tops,
            "tops_per_watt": tpw["system"], "tops_per_watt_chip": tpw["chip"],
            "frequency_hz": arch.frequency_hz, "voltage_v": arch.voltage_v,
            "peak_macs_per_cycle": arch.peak_macs_per_cycle,
            "energy_by_component_pj": result.energy_by_component_pj(),
            "mapper": {layer.name: layer.extra["mapper"] for layer in result.layers if "mapper" in layer.extra}}


def _network_result(arch, workload, options):
    """dse/network.network_result (the result a row reads: `row_only`) once its kernel is in Numba's cache (`accelsim cache warm`
    compiles it; compiling it in a sweep, minutes on 2 cores, would cost more than it saves
    unless the sweep is very large), else None (simulate runs the point)."""
    if not _network_kernel_ready():
        return None
    from .network import network_result
    return network_result(arch, workload, options, row_only=True)  # the row's figures only (same bits)


@lru_cache(maxsize=1)
def _network_kernel_ready() -> bool:
    from numba import config

    from ..kernel_cache import is_compiled
    from ..model.network_kernel import choose_ragged, evaluate_network
    if config.DISABLE_JIT:  # a plain function then: the network in Python is no faster than simulate
        return False
    return all(bool(kernel.signatures) or is_compiled(kernel) for kernel in (evaluate_network, choose_ragged))


PRELOADED_WORKLOADS = 8  # at most this many of a sweep's workloads are loaded and packed in the parent


def load_kernels(points) -> None:
    """Load the kernels here, in the parent before its workers fork: they inherit them instead of
    each loading them from Numba's cache (or, on a cold cache, each compiling them). With the
    whole-network kernel, its kernels and the sweep's first workloads and their network packs (each
    worker would read the files and build the packs again: ≈ 0.2–0.4 s a worker for ResNet-50 and
    BERT-Base), and simulate's per-layer kernels (the template and counting kernels) only where
    some point may need them (_all_network). A point whose files do not load is left to report
    that itself."""
    from ..ir.layers import matmul
    from ..mapping.template_pack import supported, template_mapping
    point = next((p for p in points if supported(p.dataflow)), None)
    if point is None:
        return
    try:
        with allow_paths(point.allowed_paths):
            arch = _arch(_stamp(point.arch), tuple(_split(point.overrides)[0]), point.allowed_paths)
            network = _network_kernel_ready()
            if network:  # the whole-network kernels, from the cache
                from .network import warm_network_kernels
                warm_network_kernels(arch, point_options(point))
                _preload_workloads(points, len(arch.levels))
                network = _all_network(points, arch)
            if not network:  # simulate's per-layer kernels (the network path does not run them)
                mapping = template_mapping(arch, matmul(m=2, n=2, k=2), point.dataflow)
                _load_counting_kernels(arch, matmul(m=2, n=2, k=2), mapping)
    except Exception:  # noqa: BLE001 — only a warm-up: the points report their own errors
        return


def _all_network(points, arch) -> bool:
    """Does the network path run every point (the first point's arch standing for the others:
    their overrides change sizes, which network.covered does not read), each workload among the
    preloaded ones? Then simulate's per-layer kernels, which that path does not call, are left to
    a worker that meets a layer needing them: loading them in each worker costs no more wall time
    than in the parent before it forks them (a core each), and left unloaded saves ≈ 0.2 s of a
    sweep's start-up."""
    from .network import covered, network_pack
    runs = {(p.workload, tuple(_split(p.overrides)[1]), p.allowed_paths, p.dataflow, p.model, p.constraints,
             p.mapper_settings is None) for p in points}
    if len({run[:3] for run in runs}) > PRELOADED_WORKLOADS:
        return False
    for path, overrides, allowed, dataflow, model, constraints, no_mapper in runs:
        if model != "analytical" or constraints or not no_mapper:
            return False
        try:
            with allow_paths(allowed):
                workload = _workload(_stamp(path), overrides, allowed)
        except Exception:  # noqa: BLE001 — the point reports its own error
            return False
        options = SimOptions(model=model, dataflow=dataflow)
        if not (covered(arch, workload, options)
                and network_pack(workload, dataflow or arch.dataflow, len(arch.levels)).ok):
            return False
    return True


def _load_counting_kernels(arch, einsum, mapping) -> None:
    """The counting kernels, dense and ragged (the templates' ragged choice counts its candidates
    with them, as simulate does), loaded from Numba's cache here: each worker would load them
    again (≈ 50 ms of CPU a worker)."""
    from ..energy.model import action_energies
    from ..mapping.lower import lower
    from ..model.packed import evaluate_packed, pack_problem
    if mapping is None:
        return
    problem, nest = pack_problem(arch, einsum, action_energies(arch)), lower(arch, einsum, mapping)
    for ragged in (False, True):  # (the ragged kernel counts a dense nest too)
        evaluate_packed(problem, nest, ragged)


def _preload_workloads(points, n_levels: int) -> None:
    """The workloads of the sweep's template points (the first PRELOADED_WORKLOADS), loaded as a
    point loads them (_workload's cache) and packed for the network kernel per template (its
    packs are kept per workload object, which a forked worker inherits)."""
    from ..mapping.template_pack import supported
    from .network import network_pack
    done = set()
    for p in points:
        key = (p.workload, tuple(_split(p.overrides)[1]), p.allowed_paths, p.dataflow)
        if p.model != "analytical" or not supported(p.dataflow) or key in done:  # (network.covered's rule)
            continue
        if len({k[:3] for k in done} | {key[:3]}) > PRELOADED_WORKLOADS:
            return
        done.add(key)
        try:
            with allow_paths(p.allowed_paths):
                network_pack(_workload(_stamp(p.workload), key[1], p.allowed_paths), p.dataflow, n_levels)
        except Exception:  # noqa: BLE001 — the point reports its own error
            continue


REASON_CHARS = 500          # a failed row's reason: the exception's type and message, cut short
TRACEBACK_CHARS = 20_000    # kept in the store for debugging, never printed by the CLI


def failed_row(point: Point, reason: str, traceback: str = "") -> dict:
    """The row of a point that failed: an exception, a timeout, or its worker died."""
    if len(reason) > REASON_CHARS:
        reason = reason[:REASON_CHARS - 1] + "…"
    return {"key": point.key, **point.label(), "model": point.model, "status": "failed",
            "reason": reason, "traceback": traceback[-TRACEBACK_CHARS:] or None}


def exception_reason(exc: BaseException) -> str:
    """'TypeName: message' (the first line of the message; the type alone when it has none)."""
    message = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {message[0]}" if message else type(exc).__name__


def evaluate_or_fail(point: Point) -> dict:
    """`evaluate_point`, with any other exception (an AccelsimBug, a numpy error, a RecursionError,
    even SystemExit) made a 'failed' row with its type, message and traceback: one bad point never
    stops a sweep. Calls `evaluate_point` through this module, so tests can replace it."""
    try:
        return evaluate_point(point)
    except (Exception, SystemExit) as exc:  # noqa: BLE001 — recorded as data, per point
        return failed_row(point, exception_reason(exc), _traceback.format_exc())
