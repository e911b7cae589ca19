"""Load architecture, workload and mapping files into validated frozen objects."""
from __future__ import annotations

import inspect
import os
from dataclasses import replace
from pathlib import Path

from .counting.conventions import CONVENTIONS
from .errors import ProblemList, SpecError, did_you_mean
from .ir.arch import Arch, build_arch
from .ir.einsum import parse_einsum
from .ir.expressions import evaluate, names_in
from .ir.layers import LAYER_BUILDERS
from .ir.workload import DENSE, Density, Layer, VectorOp, Workload, pad_einsum
from .mapping.dataflows import DATAFLOWS
from .mapping.mapping import LevelMapping, Loop, Mapping
from .spec.files import allowed_roots, open_regular, resolve_inside
from .spec.schema import (
    LAYER_KINDS,
    ArchSpec,
    ConstraintsSpec,
    MappingSpec,
    WorkloadSpec,
)
from .spec.validate import apply_overrides, load_with_extends, validate_model
from .spec.yaml_io import locate


def _load_raw(path, overrides):
    data = load_with_extends(path)
    if overrides:
        data = apply_overrides(data, list(overrides))
    return data


def load_arch(path, overrides=()) -> Arch:
    return arch_from_data(path, _load_raw(path, overrides))


def arch_from_data(path, data) -> Arch:
    """The arch of an arch file's data as `load_arch` reads it (load_with_extends, then any
    overrides applied): a sweep parses the file once and builds each variant from a copy."""
    spec = validate_model(ArchSpec, data, str(path))
    _check_registered_names(spec, str(path), data)
    arch = build_arch(spec, str(path), lambda p: locate(data, p)[1])
    if spec.constraints:
        from .search.constraints import arch_constraints
        levels, names = arch_constraints(spec.constraints, arch, str(path), lambda p: locate(data, p)[1])
        arch = replace(arch, constraints=levels, constraint_names=names)
    if spec.technology.table_file is not None:
        table = _table_file(spec.technology.table_file, path, data)
        arch = replace(arch, energy_table=table.name, tech_table=table)
    return arch


def _table_file(name: str, arch_path, data):
    """The arch's own technology table: a path relative to the file that names it (the arch, or a
    base it extends; an override names it relative to the arch), confined as `extends:` is (the
    arch's folder tree, or a path the user allowed), read through the hardened reader."""
    from .energy.tables import load_table_file

    key = ("technology", "table_file")
    file, line = locate(data, key)
    base = Path(file) if file and Path(file).is_file() else Path(arch_path)
    where = {"file": file or str(arch_path), "line": line, "key_path": "technology.table_file"}
    path = resolve_inside(base.parent / name, allowed_roots(arch_path), where["file"], line, where["key_path"], name)
    return load_table_file(path, **where)


def _check_registered_names(spec: ArchSpec, path: str, data) -> None:
    """The arch's dataflow template, counting convention and technology table name registered
    ones (a table file, technology.table_file, is read by _table_file)."""
    from .energy.tables import table_names

    problems = ProblemList(path)
    for key, registry in (("dataflow", DATAFLOWS), ("counting", CONVENTIONS)):
        name = getattr(spec, key)
        if name is not None and name not in registry:
            problems.add(f"unknown {registry.what} '{name}'", key, locate(data, (key,))[1],
                         allowed=registry.names())
    table = spec.technology.energy_table
    if table is not None and table not in table_names():
        problems.add(f"unknown energy table '{table}'", "technology.energy_table",
                     locate(data, ("technology", "energy_table"))[1], allowed=table_names(),
                     suggestion=did_you_mean(table, table_names()) or "see `accelsim info tables`")
    problems.raise_if_any()


def load_workload(path, overrides=()) -> Workload:
    return workload_from_data(_load_raw(path, overrides), path)


def workload_from_data(data, path) -> Workload:
    """A Workload from a workload spec's data (a parsed file, or what an importer built), checked
    as a file is; `path` names it in errors."""
    spec = validate_model(WorkloadSpec, data, str(path))
    problems = ProblemList(str(path))
    layers, seen, precision_source = [], set(), {}
    for i, layer in enumerate(spec.layers):
        where = ("layers", i)
        if layer.name in seen:
            problems.add(f"layer name '{layer.name}' is used twice", f"layers.{i}.name",
                         locate(data, where + ("name",))[1])
        seen.add(layer.name)
        kinds = [k for k in LAYER_KINDS if getattr(layer, k) is not None]
        if len(kinds) != 1:
            problems.add(f"a layer needs exactly one kind, got {kinds or 'none'}", f"layers.{i}",
                         locate(data, where)[1], allowed=LAYER_KINDS)
            continue
        kind = kinds[0]
        params = spec.parameters
        try:
            count = evaluate(layer.count, params)
            if count < 1:
                raise ValueError(f"count must be ≥ 1, got {count}")
        except ValueError as exc:
            problems.add(str(exc), f"layers.{i}.count", locate(data, where + ("count",))[1])
            continue
        try:
            if kind == "einsum":
                dims = {d: evaluate(v, params) for d, v in layer.einsum.dims.items()}
                einsum = parse_einsum(layer.einsum.expression, dims)
            else:
                values = {k: v if isinstance(v, bool) else evaluate(v, params)
                          for k, v in getattr(layer, kind).items()}
                einsum = _build(kind, values)
        except (ValueError, TypeError) as exc:
            problems.add(str(exc), f"layers.{i}.{kind}", locate(data, where + (kind,))[1],
                         allowed=_params(kind) if kind != "einsum" else ())
            continue
        precision = layer.precision or spec.precision
        try:
            density = _density(layer.density, path, precision) or _density(spec.density, path, precision) or DENSE
        except (OSError, ValueError, EOFError) as exc:
            problems.add(f"density: {exc}", f"layers.{i}.density", locate(data, where + ("density",))[1],
                         suggestion="give a fraction in [0, 1], an existing .npy file, or named data (gaussian, relu)")
            continue
        pad = layer.pad if layer.pad is not None else spec.pad
        bad = [f"{d}: {m}" for d, m in pad.items() if m < 1]
        if bad:
            problems.add(f"pad multiples must be ≥ 1, got {', '.join(bad)}", f"layers.{i}.pad",
                         locate(data, where + ("pad",))[1])
            continue
        weight_nm = None
        if layer.weight_nm is not None:
            weight_nm = tuple(int(x) for x in layer.weight_nm.split(":"))
            if weight_nm[0] > weight_nm[1]:
                problems.add(f"weight_nm '{layer.weight_nm}' keeps more than M of every M weights",
                             f"layers.{i}.weight_nm", locate(data, where + ("weight_nm",))[1],
                             suggestion="write N:M with N <= M, e.g. 2:4")
                continue
        input_size = None if kind == "einsum" else _input_size(kind, values)
        try:
            sparsity = _sparsity(layer.sparsity, einsum, path)
        except ValueError as exc:
            problems.add(f"sparsity: {exc}", f"layers.{i}.sparsity", locate(data, where + ("sparsity",))[1],
                         suggestion="see docs/sparsity.md for the density models and their fields")
            continue
        if precision is not None:
            key = where + ("precision",) if layer.precision else ("precision",)
            precision_source[layer.name] = (str(path), locate(data, key)[1], ".".join(map(str, key)))
        layers.append(Layer(layer.name, einsum, count, precision, density,
                            pad_einsum(einsum, pad), input_size,
                            None if kind == "einsum" else _input_elements(kind, values), sparsity,
                            weight_nm=weight_nm))
    vector = _vector_ops(spec, data, problems)
    used = set()
    for op in spec.vector:
        used |= names_in(op.elements) | names_in(op.count)
    for layer in spec.layers:
        used |= names_in(layer.count)
        for kind in LAYER_KINDS:
            fields = getattr(layer, kind)
            if fields is not None:
                values = fields.dims.values() if kind == "einsum" else fields.values()
                for v in values:
                    used |= names_in(v)
    for name in spec.parameters:
        if name not in used:
            problems.add(f"parameter '{name}' is not used by any layer", f"parameters.{name}",
                         locate(data, ("parameters", name))[1],
                         suggestion=did_you_mean(name, used) or "remove it or use it in a layer field")
    if spec.phase is not None:
        need = ("batch", "seq") if spec.phase == "prefill" else ("batch",)
        for name in need:
            if name not in spec.parameters:
                problems.add(f"a {spec.phase} workload needs the parameter '{name}' (sequences per "
                             f"batch{', prompt tokens per sequence' if name == 'seq' else ''})",
                             "parameters", locate(data, ("phase",))[1])
    problems.raise_if_any()
    return Workload(spec.name, spec.description, tuple(layers), spec.phase, dict(spec.parameters),
                    vector, precision_source)


def _vector_ops(spec: WorkloadSpec, data, problems: ProblemList) -> tuple[VectorOp, ...]:
    """The workload's non-MAC work: element counts, evaluated and checked."""
    ops = []
    for i, op in enumerate(spec.vector):
        values = {}
        for key in ("elements", "count"):
            try:
                values[key] = evaluate(getattr(op, key), spec.parameters)
                if values[key] < 1:
                    raise ValueError(f"{key} must be ≥ 1, got {values[key]}")
            except ValueError as exc:
                problems.add(str(exc), f"vector.{i}.{key}", locate(data, ("vector", i, key))[1])
        if len(values) == 2:
            ops.append(VectorOp(op.name, op.op, values["elements"], values["count"]))
    return tuple(ops)


def _density(spec, workload_path, precision) -> Density | None:
    """A Density from a spec value; tensors (.npy paths) are measured in the layer's format."""
    if spec is None or isinstance(spec, (int, float)):
        return Density.of(spec)

    from .energy.formats import DISTRIBUTIONS, format_density

    def value(v):
        if not isinstance(v, str):
            return v
        if v in DISTRIBUTIONS:  # named data: measured in the layer's format, again in simulate()
            return format_density(v, precision)

        from .energy.activity import quantized_density
        return quantized_density(_load_npy(Path(workload_path), v), precision)
    def named(v):
        return v if isinstance(v, str) and v in DISTRIBUTIONS else None
    return Density(value(spec.inputs), value(spec.weights), named(spec.inputs), named(spec.weights))


def _sparsity(spec, einsum, workload_path) -> tuple:
    """((role, density model), ...) from a layer's `sparsity:`; ValueError on a tensor the layer
    lacks, an axis it does not index, or an unreadable .npy file."""
    if not spec:
        return ()
    from .sparse.density import model_from_spec

    out = []
    for role, entry in spec.items():
        tensor = einsum.tensor(role)
        if tensor is None:
            raise ValueError(f"the layer has no {role} tensor (it has {', '.join(einsum.roles)})")
        if entry.distribution == "structured" and entry.axis not in tensor.dims:
            raise ValueError(f"{role}: axis '{entry.axis}' is not a dim of the tensor ({', '.join(sorted(tensor.dims))})")
        out.append((role, model_from_spec(entry.model_dump(), einsum.tensor_size(role),
                                          lambda name: _load_npy(Path(workload_path), name))))
    return tuple(out)


MAX_NPY_BYTES = 2**31


def _load_npy(workload_path: Path, name: str):
    """A .npy tensor beside the workload: a regular file in its folder tree (or an allowed path),
    no pickles, and no header promising more data than the file holds. ValueError otherwise."""
    import numpy as np
    from numpy.lib import format as npy

    try:
        path = resolve_inside(workload_path.parent / name, allowed_roots(workload_path), None, None, "", name)
        fd = open_regular(path)
    except SpecError as exc:
        raise ValueError(exc.problems[0].message) from None
    with os.fdopen(fd, "rb") as f:
        size = os.fstat(fd).st_size
        try:
            version = npy.read_magic(f)
            readers = {(1, 0): npy.read_array_header_1_0, (2, 0): npy.read_array_header_2_0}
            if version not in readers:
                raise ValueError(f"unsupported .npy version {version}")
            shape, _, dtype = readers[version](f)
        except (ValueError, EOFError, SyntaxError, TypeError) as exc:
            raise ValueError(f"{name} is not a .npy file ({exc})") from None
        need = int(np.prod(shape, dtype=object)) * dtype.itemsize
        if dtype.hasobject or need > min(size, MAX_NPY_BYTES):
            raise ValueError(f"{name}: the header promises {need:,} bytes of {dtype}, the file holds {size:,}")
        f.seek(0)
        return np.load(f, allow_pickle=False)


BOOL_PARAMS = ("ceil_mode",)


def _input_size(kind: str, params: dict) -> tuple[int, int] | None:
    """The padded input (height, width) of a convolution: what a SCALE-Sim topology lists."""
    if kind != "conv2d":
        return None
    pad = params.get("padding", 0)
    return params["h"] + 2 * pad, params["w"] + 2 * pad


def _input_elements(kind: str, params: dict) -> int | None:
    """A windowed layer's input as the layer before wrote it, without the zero border its einsum
    includes: what inter-layer residency compares with that layer's outputs."""
    if kind not in ("conv2d", "depthwise_conv2d", "pool2d"):
        return None
    return params.get("n", 1) * params["c"] * params["h"] * params["w"]


def _params(kind: str) -> tuple[str, ...]:
    return tuple(inspect.signature(LAYER_BUILDERS.get(kind)).parameters)


def _build(kind: str, params: dict):
    allowed = _params(kind)
    unknown = [k for k in params if k not in allowed]
    if unknown:
        hint = did_you_mean(unknown[0], allowed)
        raise ValueError(f"unknown parameter(s) {unknown} for {kind}" + (f"; {hint}" if hint else ""))
    for key, value in params.items():
        if key in BOOL_PARAMS:
            if not isinstance(value, bool):
                raise ValueError(f"{kind}.{key} must be true or false, got {value!r}")
            continue
        minimum = 0 if key == "padding" else 1
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise ValueError(f"{kind}.{key} must be an integer ≥ {minimum}, got {value!r}")
    return LAYER_BUILDERS.get(kind)(**params)


def load_mapping_file(path, arch: Arch, workload: Workload) -> dict[str, Mapping]:
    """Explicit mappings, one per layer named in the file."""
    data = _load_raw(path, ())
    spec = validate_model(MappingSpec, data, str(path))
    problems = ProblemList(str(path))
    layer_names = [l.name for l in workload.layers]
    level_names = [l.name for l in arch.levels[:-1]]
    out = {}
    for layer_name, per_level in spec.layers.items():
        line = locate(data, ("layers", layer_name))[1]
        if layer_name not in layer_names:
            problems.add(f"no layer '{layer_name}' in workload {workload.name}", f"layers.{layer_name}",
                         line, allowed=layer_names, suggestion=did_you_mean(layer_name, layer_names))
            continue
        unknown = [n for n in per_level if n not in level_names]
        for name in unknown:
            problems.add(f"no level '{name}' in arch {arch.name}", f"layers.{layer_name}.{name}",
                         locate(data, ("layers", layer_name, name))[1], allowed=level_names,
                         suggestion=did_you_mean(name, level_names))
        if unknown:
            continue
        levels = []
        for name in level_names:
            m = per_level.get(name)
            if m is None:
                levels.append(LevelMapping(name))
                continue
            loops = [Loop(d, b) for d, b in m.temporal.items()]
            if m.spatial is not None:  # the axes in the file's order (outer first), x then y if unsaid
                raw = ((data.get("layers") or {}).get(layer_name) or {}).get(name) or {}
                written = [a for a in (raw.get("spatial") or {}) if a in ("x", "y")] if isinstance(raw, dict) else []
                for axis in written + [a for a in ("x", "y") if a not in written]:
                    loops += [Loop(d, b, axis) for d, b in getattr(m.spatial, axis).items()]
            levels.append(LevelMapping(name, tuple(loops), frozenset(m.bypass)))
        out[layer_name] = Mapping(tuple(levels), "explicit")
    problems.raise_if_any()
    return out


def load_constraints(path, arch: Arch):
    """Mapper constraints and settings (accelsim's format; `import timeloop` writes one)."""
    from .search.constraints import build_constraints
    data = _load_raw(path, ())
    spec = validate_model(ConstraintsSpec, data, str(path))
    return build_constraints(spec, arch, str(path), lambda p: locate(data, p)[1])


def spec_file_kind(path) -> str:
    """'arch', 'workload', 'constraints', 'sweep' or 'mapping', judged from the top-level keys."""
    data = load_with_extends(path)
    if "levels" in data:
        return "arch"
    if "workloads" in data or "axes" in data:
        return "sweep"
    if "constraints" in data or "mapper" in data:
        return "constraints"
    if "layers" in data and isinstance(data["layers"], list):
        return "workload"
    if "layers" in data:
        return "mapping"
    raise SpecError(f"{Path(path)}: cannot tell what this file describes: an arch has 'levels', "
                    f"a workload has a list of 'layers', a mapping has 'layers' keyed by name, a sweep "
                    f"has 'workloads' and 'axes', a constraints file has 'constraints' or 'mapper'")
