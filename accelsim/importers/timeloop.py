"""Timeloop v0.4 specs → accelsim arch, workload and mapping files.

Covers what the tutorial reference cases use:

* architecture: a `nodes:` list of `!Container` (a `spatial: {meshX, meshY}` fan-out becomes an
  accelsim spatial level; the first container's `global_cycle_seconds` sets the clock) and
  `!Component` (DRAM, SRAM, regfile → memory levels; a `*mac` class → the compute level; size =
  depth × width, word = datawidth, block = width);
* problem: dimensions, data spaces with projections (`[[R], [P]]` sums, `[P, Wstride]`
  coefficient terms), instance bounds → one accelsim `einsum` layer;
* mapping: `temporal` / `spatial` factors and permutations — Timeloop writes permutations
  INNER → OUTER, accelsim lists loops outer → inner — with `split` sending the first dims of a
  spatial permutation to X and the rest to Y, and `dataspace` bypass directives;
* ERT: per-action energies (read, write, update, compute; `leak` per cycle → leakage power).

The outermost memory becomes `size: unlimited` (accelsim's top level holds the whole layer).
Anything else is a SpecError naming the file, the key and what is supported.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..errors import Problem, SpecError

ROLES = {"weights": "weights", "inputs": "inputs", "outputs": "outputs"}
MEMORY_CLASSES = {"dram": "dram", "sram": "sram", "regfile": "regfile", "smartbuffer_sram": "sram",
                  "smartbuffer_regfile": "regfile", "storage": "regfile"}
LETTERS = {"outputs": "O", "inputs": "I", "weights": "W"}


class _Loader(yaml.SafeLoader):
    """Timeloop's tags (!Container, !Component, …) load as mappings with a `_tag` key."""


def _tagged(loader, suffix, node):
    data = loader.construct_mapping(node, deep=True) if isinstance(node, yaml.MappingNode) else {}
    return {"_tag": suffix, **data}


_Loader.add_multi_constructor("!", _tagged)


def _err(message, file, key="", allowed=(), suggestion=None):
    return SpecError(Problem(message, str(file), None, key, tuple(allowed), suggestion))


def read_yaml(path) -> dict:
    try:
        data = yaml.load(Path(path).read_text(), Loader=_Loader)
    except (OSError, yaml.YAMLError) as exc:
        raise _err(f"cannot read Timeloop file: {exc}", path) from None
    if not isinstance(data, dict):
        raise _err("a Timeloop spec must be a mapping", path)
    return data


def _role(name: str, file) -> str:
    role = ROLES.get(name.lower())
    if role is None:
        raise _err(f"data space '{name}' is not one of Weights, Inputs, Outputs", file,
                   "problem.shape.data_spaces", allowed=("Weights", "Inputs", "Outputs"))
    return role


# ----------------------------------------------------------------------------- problem

def convert_problem(data: dict, file) -> dict:
    """A Timeloop problem → an accelsim workload with one einsum layer."""
    problem = data.get("problem", data)
    shape, instance = problem.get("shape"), problem.get("instance")
    if not shape or instance is None:
        raise _err("expected problem.shape and problem.instance", file, "problem")
    dims = [d for d in shape["dimensions"]]
    coefs = {c["name"]: c.get("default", 1) for c in shape.get("coefficients", [])}
    coefs.update({k: v for k, v in instance.items() if k in coefs})
    operands = {}
    for ds in shape["data_spaces"]:
        role = _role(ds["name"], file)
        axes = []
        for axis in ds["projection"]:
            terms = []
            for term in axis:
                if len(term) == 1:
                    terms.append(term[0].lower())
                elif len(term) == 2:
                    coef = coefs.get(term[1], term[1])
                    terms.append(term[0].lower() if coef == 1 else f"{coef}*{term[0].lower()}")
                else:
                    raise _err(f"projection term {term} of {ds['name']}: expected [dim] or [dim, coefficient]",
                               file, "problem.shape.data_spaces")
            axes.append("+".join(terms))
        operands[role] = f"{LETTERS[role]}[{','.join(axes)}]"
    missing = [r for r in ("outputs", "inputs", "weights") if r not in operands]
    if missing:
        raise _err(f"the problem has no {missing} data space", file, "problem.shape.data_spaces")
    expression = f"{operands['outputs']} += {operands['inputs']} * {operands['weights']}"
    bounds = {}
    for d in dims:
        if d not in instance:
            raise _err(f"dimension {d} has no bound in problem.instance", file, f"problem.instance.{d}")
        bounds[d.lower()] = int(instance[d])
    return {"name": shape.get("name", "timeloop").lower(), "source": f"imported from Timeloop problem {Path(file).name}",
            "layers": [{"name": shape.get("name", "layer").lower(), "einsum": {"expression": expression, "dims": bounds}}]}


# ----------------------------------------------------------------------------- ERT

def read_ert(path) -> dict[str, dict[str, float]]:
    """Component name → {action: pJ}."""
    data = read_yaml(path)
    out = {}
    for table in data.get("ERT", {}).get("tables", []):
        name = re.sub(r"\[.*\]$", "", table["name"]).split(".")[-1]
        out[name] = {a["name"]: float(a["energy"]) for a in table["actions"]}
    if not out:
        raise _err("no ERT tables found", path, "ERT.tables")
    return out


# ----------------------------------------------------------------------------- architecture

def convert_arch(data: dict, file, ert: dict | None) -> dict:
    arch = data.get("architecture", data)
    nodes = arch.get("nodes")
    if arch.get("version") not in (0.4, "0.4") or not isinstance(nodes, list):
        raise _err("only Timeloop v0.4 architectures with a `nodes:` list are supported", file,
                   "architecture.version", suggestion="the tutorial cases' format")
    cycle_s, node_nm, levels = 1e-9, None, []
    for i, node in enumerate(nodes):
        tag, name = node.get("_tag"), node.get("name")
        attrs = node.get("attributes", {}) or {}
        if "global_cycle_seconds" in attrs:
            cycle_s = float(attrs["global_cycle_seconds"])
        if "technology" in attrs:
            node_nm = str(attrs["technology"])
        where = f"architecture.nodes.{i}"
        if tag == "Container":
            mesh = node.get("spatial", {}) or {}
            x, y = int(mesh.get("meshX", 1)), int(mesh.get("meshY", 1))
            if x * y > 1:
                levels.append({"spatial": {"name": name, "x": x, "y": y}})
        elif tag == "Component":
            levels.append(_component(node, attrs, where, file, ert, cycle_s))
        else:
            raise _err(f"node tag !{tag} is not supported", file, where, allowed=("!Container", "!Component"))
    if not levels or "compute" not in levels[-1]:
        raise _err("the architecture must end with a MAC component", file, "architecture.nodes")
    top = levels[0].get("memory")
    if top is None:
        raise _err("the outermost node must be a storage component", file, "architecture.nodes")
    top["size"] = "unlimited"
    return {"name": "timeloop_import", "description": f"imported from Timeloop arch {Path(file).name}",
            "technology": {"node": node_nm or "45nm", "energy_table": "horowitz_45nm", "nominal_voltage": "0.9V"},
            "operating_point": {"voltage": "0.9V", "frequency": f"{1e-6 / cycle_s:g}MHz"},
            "levels": levels}


def _component(node, attrs, where, file, ert, cycle_s) -> dict:
    name, cls = node["name"], str(node.get("class", "")).lower()
    energies = (ert or {}).get(name)
    if cls.endswith("mac"):
        width = int(attrs.get("width", attrs.get("datawidth", 8)))
        fmt = f"int{width}" if cls.startswith("int") else ("fp32" if width >= 32 else "fp16")
        compute = {"name": name, "format": fmt}
        if energies:
            compute["energy"] = {"mac": f"{energies.get('compute', energies.get('mac_random', 0.0))}pJ"}
        return {"compute": compute}
    kind = MEMORY_CLASSES.get(cls)
    if kind is None:
        raise _err(f"component class '{cls}' is not supported", file, f"{where}.class",
                   allowed=tuple(MEMORY_CLASSES) + ("intmac", "fpmac"))
    word = int(attrs.get("datawidth", attrs.get("word-bits", 8)))
    width = int(attrs.get("width", word))
    memory = {"name": name, "class": kind, "word_bits": word, "width_bits": width,
              "keeps": ["weights", "inputs", "outputs"]}
    depth = attrs.get("depth")
    memory["size"] = "unlimited" if kind == "dram" or depth is None else f"{int(depth) * width}b"
    if energies:
        memory["energy"] = {a: f"{energies.get(a, 0.0)}pJ" for a in ("read", "write", "update")}
        memory["leakage_power"] = f"{energies.get('leak', 0.0) * 1e-12 / cycle_s:g}W"
    return {"memory": memory}


# ----------------------------------------------------------------------------- mapping

def _factors(text, file, where) -> dict[str, int]:
    """'R=3 P=16' (inputs) or 'R3 P16' (the mapper's output)."""
    out = {}
    for item in str(text).split():
        match = re.fullmatch(r"([A-Za-z_]\w*?)=?(\d+)", item)
        if not match:
            raise _err(f"cannot read factor '{item}'", file, where, suggestion="write e.g. 'R=3 P=16'")
        out[match.group(1)] = int(match.group(2))
    return out


def convert_mapping(data: dict, file, arch: dict, layer_name: str) -> dict:
    entries = data.get("mapping", data)
    if not isinstance(entries, list):
        raise _err("expected a `mapping:` list", file, "mapping")
    names = [next(iter(l.values()))["name"] for l in arch["levels"] if "compute" not in l]
    spatial = {l["spatial"]["name"] for l in arch["levels"] if "spatial" in l}
    out = {name: {} for name in names}
    for i, e in enumerate(entries):
        where, target, kind = f"mapping.{i}", e.get("target"), e.get("type")
        if kind in ("dataspace", "datatype"):
            if target not in out:
                raise _err(f"mapping target '{target}' is not a storage level", file, where, allowed=tuple(names))
            bypass = sorted(_role(d, file) for d in e.get("bypass", []))
            if bypass:
                out[target]["bypass"] = bypass
            continue
        factors = _factors(e.get("factors", ""), file, f"{where}.factors")
        order = [d for d in reversed(str(e.get("permutation", "")))]   # Timeloop: inner → outer
        order = [d for d in factors if d not in order] + order            # unlisted dims outermost
        loops = {d.lower(): factors[d] for d in order if factors.get(d, 1) > 1}
        if kind == "temporal":
            if target not in out or target in spatial:
                raise _err(f"temporal target '{target}' is not a storage level", file, where, allowed=tuple(names))
            out[target]["temporal"] = loops
        elif kind == "spatial":
            if not loops:
                continue  # a spatial directive with all factors 1 (e.g. on a 1x1 container)
            if target not in spatial:
                raise _err(f"spatial target '{target}' is not a container with a mesh", file, where,
                           allowed=tuple(sorted(spatial)))
            inner_to_outer = [d for d in str(e.get("permutation", "")) if factors.get(d, 1) > 1]
            split = int(e.get("split", len(inner_to_outer)))
            x = {d.lower(): factors[d] for d in reversed(inner_to_outer[:split])}
            y = {d.lower(): factors[d] for d in reversed(inner_to_outer[split:])}
            out[target]["spatial"] = {k: v for k, v in (("x", x), ("y", y)) if v}
        else:
            raise _err(f"mapping type '{kind}' is not supported", file, f"{where}.type",
                       allowed=("temporal", "spatial", "dataspace", "datatype"))
    return {"layers": {layer_name: {k: v for k, v in out.items() if v}}}


# ----------------------------------------------------------------------------- files

@dataclass(frozen=True)
class TimeloopImport:
    arch_path: Path
    workload_path: Path
    mapping_path: Path | None


def import_timeloop(arch_path, problem_path, out_dir, mapping_path=None, ert_path=None) -> TimeloopImport:
    ert = read_ert(ert_path) if ert_path else None
    arch = convert_arch(read_yaml(arch_path), arch_path, ert)
    workload = convert_problem(read_yaml(problem_path), problem_path)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    header = f"# Written by accelsim.importers.timeloop from {Path(arch_path).name}, {Path(problem_path).name}\n"
    paths = [out / "timeloop.arch.yaml", out / "timeloop.workload.yaml"]
    docs = [arch, workload]
    if mapping_path:
        paths.append(out / "timeloop.map.yaml")
        docs.append(convert_mapping(read_yaml(mapping_path), mapping_path, arch, workload["layers"][0]["name"]))
    for path, doc in zip(paths, docs):
        path.write_text(header + yaml.safe_dump(doc, sort_keys=False))
    return TimeloopImport(paths[0], paths[1], paths[2] if mapping_path else None)
