"""Timeloop v0.4 specs → accelsim arch, workload, mapping and constraints files.

Covers what the tutorial and example reference cases use:

* architecture (timeloop_arch): the `nodes:` list users write (containers, meshes, components,
  `!Parallel` groups) or the flattened spec Timeloop was fed (`parsed-processed-input.yaml`);
* problem: dimensions, data spaces with projections (`[[R], [P]]` sums, `[P, Wstride]`
  coefficient terms), instance bounds → one accelsim `einsum` layer; a spec file with a
  `problem:` section (parsed-processed-input.yaml) can serve as both arch and problem. Data
  spaces may have any names (GEMM's A, B, Z): the read-write one is `outputs`, the read-only
  ones `weights` then `inputs` (timeloop_common.data_space_roles), in every file that names
  them; the written files' headers record the translation. Sparseloop's `sparse_optimizations`
  (formats, gating, skipping on storage components, importers/timeloop_sparse.py) become the levels'
  `sparse:` blocks and the problem's `densities` the layer's `sparsity:`; `densities` without
  them change nothing in Timeloop and are ignored (noted);
* mapping: `temporal` / `spatial` factors and permutations — Timeloop writes permutations
  INNER → OUTER, accelsim lists loops outer → inner — with `split` sending the first dims of a
  spatial permutation to X and the rest to Y, and `dataspace` bypass directives;
* constraints and mapper settings (timeloop_constraints);
* ERT: per-action energies (read, write, update, compute; `leak` per cycle → leakage power).

The outermost memory becomes `size: unlimited` (accelsim's top level holds the whole layer).
Anything else is a SpecError naming the file, the key and what is supported.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..errors import Problem, SpecError, did_you_mean
from .timeloop_arch import ArchImport, convert_arch, no_sparse_optimizations
from .timeloop_common import (
    data_space_roles,
    describe_roles,
    err,
    parse_factors,
    read_yaml,
    role,
)
from .timeloop_constraints import convert_constraints, convert_mapper
from .timeloop_sparse import attach_targets, complete_sparse_levels, sparsity_of

LETTERS = {"outputs": "O", "inputs": "I", "weights": "W"}


# ----------------------------------------------------------------------------- problem

def convert_problem(data: dict, file, roles: dict[str, str] | None = None) -> dict:
    """A Timeloop problem → an accelsim workload with one einsum layer. `roles`: the data-space
    translation (data_space_roles of this problem, the default)."""
    problem = data.get("problem", data)
    shape, instance = problem.get("shape"), problem.get("instance")
    if not shape or instance is None:
        raise err("expected problem.shape and problem.instance", file, "problem")
    roles = roles if roles is not None else data_space_roles(problem, file)
    dims = [str(d) for d in shape["dimensions"]]
    coefs = {str(c["name"]): c.get("default", 1) for c in shape.get("coefficients") or []}
    if not isinstance(instance, dict):
        raise err("expected problem.instance: a mapping of dimensions to bounds", file, "problem.instance")
    # Dropped: padding is no term of Timeloop's problem shape, and the input's H and W follow from
    # the projections (P, R, strides); the exercises' instances carry H, W, Hpad, Wpad for reference
    # and Timeloop ignores them too.
    known = dims + list(coefs) + ["densities", "H", "W", "Hpad", "Wpad"]
    unknown = [k for k in instance if str(k) not in known]
    if unknown:
        raise SpecError([Problem(f"problem.instance names '{k}', which is not a dimension or coefficient of the "
                                 "problem", str(file), getattr(instance, "line_of", lambda _: None)(k),
                                 f"problem.instance.{k}", tuple(known), did_you_mean(k, known)) for k in unknown])
    coefs.update({k: v for k, v in instance.items() if k in coefs})
    operands = {}
    for ds in shape["data_spaces"]:
        r = role(ds["name"], file, "problem.shape.data_spaces", roles)
        axes = []
        for axis in ds["projection"]:
            terms = []
            for term in axis:
                if len(term) == 1:
                    terms.append(str(term[0]).lower())
                elif len(term) == 2:
                    coef = coefs.get(str(term[1]), term[1])
                    terms.append(str(term[0]).lower() if coef == 1 else f"{coef}*{str(term[0]).lower()}")
                else:
                    raise err(f"projection term {term} of {ds['name']}: expected [dim] or [dim, coefficient]",
                               file, "problem.shape.data_spaces")
            axes.append("+".join(terms))
        operands[r] = f"{LETTERS[r]}[{','.join(axes)}]"
    missing = [r for r in ("outputs", "inputs", "weights") if r not in operands]
    if missing:
        raise err(f"the problem has no {missing} data space", file, "problem.shape.data_spaces")
    expression = f"{operands['outputs']} += {operands['inputs']} * {operands['weights']}"
    bounds = {}
    for d in dims:
        if d not in instance:
            raise err(f"dimension {d} has no bound in problem.instance", file, f"problem.instance.{d}")
        bounds[d.lower()] = int(instance[d])
    return {"name": str(shape.get("name", "timeloop")).lower(), "source": f"imported from Timeloop problem {Path(file).name}",
            "layers": [{"name": str(shape.get("name", "layer")).lower(), "einsum": {"expression": expression, "dims": bounds}}]}


# ----------------------------------------------------------------------------- ERT

def read_ert(path) -> dict[str, dict[str, float]]:
    """Component name → {action: pJ}."""
    data = read_yaml(path)
    out = {}
    for table in data.get("ERT", {}).get("tables", []):
        name = re.sub(r"\[.*\]$", "", str(table["name"])).split(".")[-1]
        out[name] = {str(a["name"]): float(a["energy"]) for a in table["actions"]}
    if not out:
        raise err("no ERT tables found", path, "ERT.tables")
    return out


# ----------------------------------------------------------------------------- mapping

def convert_mapping(data: dict, file, imp: ArchImport, dims: list[str], layer_name: str) -> dict:
    """A Timeloop mapping → an accelsim mapping file. `dims` are Timeloop's dimension names in
    problem order (where Timeloop puts the dims a permutation leaves out)."""
    entries = data.get("mapping", data)
    if not isinstance(entries, list):
        raise err("expected a `mapping:` list", file, "mapping")
    levels = {next(iter(l.values()))["name"]: l for l in imp.arch["levels"] if "compute" not in l}
    keeps = {n: l["memory"]["keeps"] for n, l in levels.items() if "memory" in l}
    out = {name: {} for name in levels}
    storage_names = tuple(sorted(imp.storage))
    for i, e in enumerate(entries):
        where, target, kind = f"mapping.{i}", e.get("target"), e.get("type")
        if kind in ("dataspace", "datatype", "bypass"):
            if target not in imp.storage:
                raise err(f"mapping target '{target}' is not a storage level", file, where, allowed=storage_names)
            name = imp.storage[target]
            if name is None:
                continue  # a dummy level between fan-outs holds nothing anyway
            for d in e.get("keep") or []:  # kept is the default; still a name the problem must have
                role(d, file, f"{where}.keep", imp.roles)
            bypass = sorted(r for r in {role(d, file, f"{where}.bypass", imp.roles) for d in e.get("bypass") or []}
                            if r in keeps[name])
            if bypass:
                out[name]["bypass"] = bypass
            continue
        factors = parse_factors(e.get("factors", ""), file, f"{where}.factors")
        unknown = [d for d in factors if d not in dims]
        if unknown:
            raise err(f"factors name {unknown}, which are not problem dimensions", file, f"{where}.factors",
                      allowed=tuple(dims))
        # Timeloop appends the dims a permutation leaves out, in problem order, as the outermost
        # loops (timeloop src/mapping/parser.cpp, lines ~305-315).
        listed = list(str(e.get("permutation", "")).replace(" ", ""))
        inner_to_outer = listed + [d for d in dims if d not in listed]
        if kind == "temporal":
            loops = {d.lower(): factors[d] for d in reversed(inner_to_outer) if factors.get(d, 1) > 1}
            name = imp.storage.get(target, "?")
            if name is None and not loops:
                continue  # a dummy level's all-1 temporal directive
            if name not in keeps:
                raise err(f"temporal target '{target}' is not a storage level", file, where, allowed=storage_names)
            out[name]["temporal"] = loops
        elif kind == "spatial":
            used = [d for d in inner_to_outer if factors.get(d, 1) > 1]
            if not used:
                continue  # all factors 1 (e.g. a 1x1 container)
            if target not in imp.spatial:
                raise err(f"spatial target '{target}' has no fan-out below it", file, where,
                          allowed=tuple(sorted(imp.spatial)))
            # The split counts positions in the whole permutation, unit factors included (Timeloop
            # src/mapping/parser.cpp ~line 366: idim < split → X); the default puts all on X.
            split = int(e.get("split", len(inner_to_outer)))
            x = {d.lower(): factors[d] for d in reversed(inner_to_outer[:split]) if d in used}
            y = {d.lower(): factors[d] for d in reversed(inner_to_outer[split:]) if d in used}
            out[imp.spatial[target]]["spatial"] = {k: v for k, v in (("x", x), ("y", y)) if v}
        else:
            raise err(f"mapping type '{kind}' is not supported", file, f"{where}.type",
                      allowed=("temporal", "spatial", "dataspace", "datatype"))
    return {"layers": {layer_name: {k: v for k, v in out.items() if v}}}


# ----------------------------------------------------------------------------- files

@dataclass(frozen=True)
class TimeloopImport:
    arch_path: Path
    workload_path: Path
    mapping_path: Path | None
    constraints_path: Path | None = None
    data_spaces: dict = field(default_factory=dict)  # Timeloop data-space name → accelsim tensor role
    notes: tuple = ()                                # what was accepted but not written, and why


def _densities_note(problem: dict) -> str | None:
    densities = (problem.get("instance") or {}).get("densities")
    if not densities:
        return None
    given = ", ".join(f"{n}: {d.get('density', d) if isinstance(d, dict) else d}" for n, d in densities.items())
    return (f"problem.instance.densities ({given}) not modelled: without sparse_optimizations Timeloop's "
            "counts are dense too (densities only size compressed tiles)")


def import_timeloop(arch_path, problem_path, out_dir, mapping_path=None, ert_path=None,
                    constraints_path=None, mapper_path=None) -> TimeloopImport:
    """Write DIR/timeloop.{arch,workload}.yaml, and .map.yaml / .constraints.yaml when there is a
    mapping / any constraint or mapper setting. `problem_path` may be None when the arch file has
    a `problem:` section (Timeloop's parsed-processed-input.yaml). Each file's header names the
    data-space translation when the names are not Weights, Inputs, Outputs, and what was accepted
    without being written (ignored densities, constraints that cannot bind)."""
    ert = read_ert(ert_path) if ert_path else None
    arch_data = read_yaml(arch_path)
    if problem_path is None:
        if "problem" not in arch_data:
            raise err("no problem given and the arch file has no `problem:` section", arch_path, "problem",
                      suggestion="pass --problem P.yaml")
        problem_path, problem_data = arch_path, arch_data
    else:
        problem_data = read_yaml(problem_path)
    if problem_data is not arch_data:
        no_sparse_optimizations(problem_data, problem_path, "")
    problem = problem_data.get("problem", problem_data)
    roles = data_space_roles(problem, problem_path)
    imp = convert_arch(arch_data, arch_path, ert, roles)
    attach_targets(imp, arch_data, imp.attributes, ert, arch_path)
    workload = convert_problem(problem_data, problem_path, roles)
    sparse_arch = any("sparse" in l.get("memory", l.get("compute", {})) for l in imp.arch["levels"])
    if sparse_arch:
        complete_sparse_levels(imp, ert)
    if sparse_arch and (problem.get("instance") or {}).get("densities"):
        workload["layers"][0]["sparsity"] = sparsity_of(problem, roles, problem_path)
    dims = list(problem["shape"]["dimensions"])
    bounds = {d: int(problem["instance"][d]) for d in dims}
    layer = workload["layers"][0]["name"]

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sources = ", ".join(dict.fromkeys(Path(p).name for p in (arch_path, problem_path)))
    translation = describe_roles(roles)
    header = f"# Written by accelsim.importers.timeloop from {sources}\n" + (f"# {translation}\n" if translation else "")
    notes = {"workload": [n for n in [None if sparse_arch else _densities_note(problem)] if n], "constraints": []}
    files = {"arch": (out / "timeloop.arch.yaml", imp.arch), "workload": (out / "timeloop.workload.yaml", workload)}
    if mapping_path:
        files["mapping"] = (out / "timeloop.map.yaml",
                            convert_mapping(read_yaml(mapping_path), mapping_path, imp, dims, layer))
    targets = list(imp.targets)
    for path in [constraints_path] if constraints_path else []:
        data = read_yaml(path)
        body = data.get("mapspace_constraints", data.get("mapspace", data))
        listed = body.get("targets", body.get("constraints")) if isinstance(body, dict) else body
        if not isinstance(listed, list):
            raise err("expected `mapspace_constraints: {targets: [...]}`", path, "mapspace_constraints.targets")
        targets += [{**t, "_where": f"mapspace_constraints.targets.{i}", "_file": path} for i, t in enumerate(listed)]
    constraints = convert_constraints(targets, imp, bounds, arch_path, notes["constraints"])
    if mapper_path:
        constraints["mapper"] = convert_mapper(read_yaml(mapper_path), mapper_path)
    if constraints:
        files["constraints"] = (out / "timeloop.constraints.yaml", constraints)
    for kind, (path, doc) in files.items():
        lines = "".join(f"# note: {n}\n" for n in notes.get(kind, []))
        path.write_text(header + lines + yaml.safe_dump(doc, sort_keys=False, default_flow_style=None))
    return TimeloopImport(files["arch"][0], files["workload"][0],
                          files["mapping"][0] if "mapping" in files else None,
                          files["constraints"][0] if "constraints" in files else None,
                          dict(roles), tuple(notes["workload"] + notes["constraints"]))
