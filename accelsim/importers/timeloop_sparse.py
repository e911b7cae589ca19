"""Sparseloop's inputs → accelsim: a component's (or the flattened spec's per-target)
`sparse_optimizations` → the memory level's `sparse:` block; problem `densities` → the layer's
`sparsity:` (docs/sparsity.md)."""
from __future__ import annotations

from .timeloop_common import err, role

FORMATS = {"UB": "UB", "B": "B", "RLE": "RLE", "CP": "CP", "UOP": "UOP"}   # Sparseloop's rank formats
ERT_ACTIONS = ("metadata_read", "metadata_write", "metadata_update", "gated_read", "gated_write", "gated_update",
               "skipped_read", "skipped_write", "skipped_update", "gated_metadata_read", "skipped_metadata_read",
               "decompression_count", "compression_count")
DISTRIBUTIONS = {"fixed_structured": "fixed_structured", "fixed-structured": "fixed_structured",
                 "hypergeometric": "hypergeometric"}


def sparse_block(spec: dict, attrs: dict, energies: dict | None, file, where: str, roles: dict) -> dict:
    """The accelsim `sparse:` block of one memory level from its Sparseloop directives."""
    out: dict = {}
    allowed = ("representation_format", "action_optimization", "name", "version")
    for key in spec:
        if key not in allowed:
            raise err(f"sparse_optimizations key '{key}' is not supported", file, f"{where}.{key}", allowed=allowed,
                      suggestion="compute_optimization belongs on the MAC; spatial skipping is not modelled (docs/sparsity.md)")
    fmt = (spec.get("representation_format") or {}).get("data_spaces") or []
    formats = {}
    for i, ds in enumerate(fmt):
        w = f"{where}.representation_format.data_spaces.{i}"
        r = role(ds.get("name"), file, f"{w}.name", roles)
        ranks = []
        for j, rank in enumerate(ds.get("ranks") or []):
            f = str(rank.get("format", "")).upper()
            if f not in FORMATS:
                raise err(f"rank format '{rank.get('format')}' is not supported", file, f"{w}.ranks.{j}.format",
                          allowed=tuple(FORMATS))
            extra = [k for k in rank if k not in ("format", "flattened_rankIDs", "flattened_rankids")]
            if extra:
                raise err(f"rank keys {extra} (explicit word bits) are not supported", file,
                          f"{w}.ranks.{j}", allowed=("format", "flattened_rankIDs"),
                          suggestion="drop them: the level's metadata_datawidth sizes every rank's words")
            flat = rank.get("flattened_rankIDs", rank.get("flattened_rankids"))
            if flat:
                if len(flat) != 1:
                    raise err("a rank with more than one flattening list is not supported", file,
                              f"{w}.ranks.{j}.flattened_rankIDs", suggestion="give one list of dims per rank")
                ranks.append({"format": FORMATS[f], "flatten": [str(d).lower() for d in flat[0]]})
            else:
                ranks.append(FORMATS[f])
        if not ranks:
            raise err(f"{ds.get('name')}: a representation format needs `ranks`", file, f"{w}.ranks")
        formats[r] = ranks
    if formats:
        out["formats"] = formats
    for i, opt in enumerate(spec.get("action_optimization") or []):
        w = f"{where}.action_optimization.{i}"
        kind = opt.get("type")
        if kind not in ("gating", "skipping"):
            raise err(f"action optimization type '{kind}' is not supported", file, f"{w}.type",
                      allowed=("gating", "skipping"), suggestion="spatial_skipping is not modelled (docs/sparsity.md)")
        options = opt.get("options") or []
        if len(options) != 1:
            raise err(f"an action optimization with {len(options)} options: accelsim takes exactly one "
                      "(Sparseloop picks the one that saves most energy)", file, f"{w}.options",
                      suggestion="list each option as its own action_optimization entry")
        o = options[0]
        target = role(o.get("target"), file, f"{w}.options.0.target", roles)
        cond = [role(c, file, f"{w}.options.0.condition_on", roles) for c in o.get("condition_on") or []]
        if not cond:
            raise err("an action optimization needs condition_on", file, f"{w}.options.0.condition_on")
        out.setdefault(kind, []).append({"target": target, "condition_on": cond})
    if "metadata_datawidth" in attrs or "metadata_word_bits" in attrs:
        out["metadata_word_bits"] = int(attrs.get("metadata_datawidth", attrs.get("metadata_word_bits")))
    if "metadata_storage_width" in attrs or "metadata_width" in attrs:
        out["metadata_width_bits"] = int(attrs.get("metadata_storage_width", attrs.get("metadata_width")))
    if "metadata_storage_depth" in attrs or "metadata_depth" in attrs:
        out["metadata_depth"] = int(attrs.get("metadata_storage_depth", attrs.get("metadata_depth")))
    named = {a: f"{energies[a]}pJ" for a in ERT_ACTIONS if energies and a in energies}
    if named:
        out["energy"] = named
    return out


COMPUTE_TYPES = {"gate_on_zero_operand": "gate_on_zero_operand", "gating": "gate_on_zero_operand",
                 "skip_on_not_aligned_operands": "skip_on_not_aligned_operands",
                 "skipping": "skip_on_not_aligned_operands"}
# Timeloop's ERT names for a gated / skipped compute (src/model/topology.hpp), first found wins
COMPUTE_ERT = {"gated_compute": ("mac_gated", "mult_gated", "compute_gated"),
               "skipped_compute": ("mac_skipped", "mult_skipped", "compute_skipped")}


def compute_block(spec: dict, energies: dict | None, file, where: str) -> dict:
    """The compute level's `sparse:` block from a MAC's `compute_optimization`."""
    allowed = ("compute_optimization", "name", "version")
    for key in spec:
        if key not in allowed:
            raise err(f"sparse_optimizations key '{key}' is not supported on the MAC", file, f"{where}.{key}",
                      allowed=allowed)
    out: dict = {}
    for i, opt in enumerate(spec.get("compute_optimization") or []):
        kind = opt.get("type") if isinstance(opt, dict) else None
        if kind not in COMPUTE_TYPES:
            raise err(f"compute optimization type '{kind}' is not supported", file,
                      f"{where}.compute_optimization.{i}.type", allowed=tuple(COMPUTE_TYPES))
        out[COMPUTE_TYPES[kind]] = True
    named = {}
    for ours, names in COMPUTE_ERT.items():
        found = next((n for n in names if energies and n in energies), None)
        if found:
            named[ours] = f"{energies[found]}pJ"
    if named:
        out["energy"] = named
    return out


def attach_targets(imp, data: dict, attrs_of: dict, ert: dict | None, file) -> None:
    """The flattened spec's top-level `sparse_optimizations: {targets: [...]}` onto its levels."""
    body = data.get("sparse_optimizations") or {}
    targets = body.get("targets") if isinstance(body, dict) else None
    if not targets:
        return
    memories = {l["memory"]["name"]: l["memory"] for l in imp.arch["levels"] if "memory" in l}
    computes = {l["compute"]["name"]: l["compute"] for l in imp.arch["levels"] if "compute" in l}
    for i, t in enumerate(targets):
        w = f"sparse_optimizations.targets.{i}"
        name = t.get("name")
        if name in computes:
            computes[name]["sparse"] = compute_block(t, (ert or {}).get(name), file, w)
            continue
        if name not in memories:
            raise err(f"sparse_optimizations target '{name}' is not a storage or compute level", file, f"{w}.name",
                      allowed=tuple(memories) + tuple(computes))
        memories[name]["sparse"] = sparse_block(t, attrs_of.get(name, {}), (ert or {}).get(name), file, w, imp.roles)


def sparsity_of(problem: dict, roles: dict, file) -> dict:
    """problem.instance.densities → a layer's `sparsity:`."""
    out = {}
    for name, d in ((problem.get("instance") or {}).get("densities") or {}).items():
        w = f"problem.instance.densities.{name}"
        r = role(name, file, w, roles)
        kind = str(d.get("distribution", "")) if isinstance(d, dict) else "fixed_structured"
        if kind not in DISTRIBUTIONS:
            raise err(f"density distribution '{kind}' is not supported", file, f"{w}.distribution",
                      allowed=tuple(DISTRIBUTIONS), suggestion="banded densities are not modelled")
        density = float(d.get("density") if isinstance(d, dict) else d)
        out[r] = {"distribution": DISTRIBUTIONS[kind], "density": density}
    return out


def complete_sparse_levels(imp, ert: dict | None) -> None:
    """In a sparse design every storage level prices its sparse actions: an uncompressed level
    under a compressed one pays (de)compression, so it gets a `sparse:` block with its ERT
    energies and metadata widths even without optimizations of its own."""
    for level in imp.arch["levels"]:
        memory = level.get("memory")
        if memory is None or "sparse" in memory:
            continue
        block = sparse_block({}, imp.attributes.get(memory["name"], {}), (ert or {}).get(memory["name"]),
                             None, "", imp.roles)
        if block:
            memory["sparse"] = block
