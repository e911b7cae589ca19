"""Timeloop v0.4 architectures → accelsim levels.

Two input forms:

* the `nodes:` list users write: `!Container` (a `spatial: {meshX, meshY}` fan-out becomes an
  accelsim spatial level named after the container), `!Component` (storage → memory level; a
  `*mac` class → the compute level), `!Parallel` (components side by side, e.g. Eyeriss's
  per-PE ifmap / weights / psum scratchpads), `!Hierarchical` (a nested list);
* the flattened `subtree:` form Timeloop's front end writes to `parsed-processed-input.yaml`:
  `local:` lists of `name[1..N]` components, with `inter_<X>_spatial` dummy storage levels whose
  instance counts (meshX × meshY) give the fan-outs.

A `!Parallel` group becomes consecutive accelsim memory levels in the order written: Timeloop's
front end flattens it that way (the group's members appear in declaration order, outer → inner,
in `timeloop-mapper.flattened_architecture.yaml`, and bottom-up in reverse in the stats file:
T06's psum_spad is Level 1, weights_spad 2, ifmap_spad 3). Each member keeps only the data spaces
its own `constraints.dataspace.keep` names: it is a physically separate buffer for them.

Embedded constraints (`constraints:` of nodes, `architecture_constraints:` of the flattened
form) are returned as Timeloop-style targets for timeloop_constraints.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .timeloop_common import ALL_ROLES, CANONICAL, err, role
from .timeloop_sparse import compute_block, sparse_block

MEMORY_CLASSES = {"dram": "dram", "sram": "sram", "regfile": "regfile", "smartbuffer_sram": "sram",
                  "smartbuffer_regfile": "regfile", "smartbuffer_rf": "regfile", "storage": "regfile",
                  # Sparseloop's compound buffers with a metadata storage beside the data storage
                  "smartbuffer_metadata": "sram", "regfile_metadata": "regfile"}
NAME_RANGE = re.compile(r"^(.*?)\[(\d+)\.\.(\d+)\]$")
DUMMY = re.compile(r"^inter_(.+)_spatial$")


@dataclass
class ArchImport:
    arch: dict
    storage: dict = field(default_factory=dict)   # Timeloop target → accelsim memory level (None: dummy)
    spatial: dict = field(default_factory=dict)   # Timeloop target → accelsim spatial level
    targets: list = field(default_factory=list)   # embedded constraints, Timeloop-style
    fanout: dict = field(default_factory=dict)    # accelsim spatial level → (x, y)
    roles: dict = field(default_factory=lambda: dict(CANONICAL))  # Timeloop data space → accelsim tensor
    attributes: dict = field(default_factory=dict)  # component name → its attributes (metadata widths)


def convert_arch(data: dict, file, ert: dict | None, roles: dict[str, str] | None = None) -> ArchImport:
    """`roles` translates the problem's data-space names (timeloop_common.data_space_roles); by
    default they are Weights, Inputs, Outputs."""
    arch = data.get("architecture", data)
    if arch.get("version") not in (0.4, "0.4"):
        raise err("only Timeloop v0.4 architectures are supported", file, "architecture.version")
    if isinstance(arch.get("nodes"), list):
        builder = _Builder(file, ert, roles)
        builder.nodes(arch["nodes"], "architecture.nodes")
    elif isinstance(arch.get("subtree"), list):
        builder = _Builder(file, ert, roles)
        builder.subtree(arch["subtree"], "architecture.subtree")
        for i, t in enumerate((data.get("architecture_constraints") or {}).get("targets") or []):
            builder.out.targets.append({**t, "_where": f"architecture_constraints.targets.{i}"})
    else:
        raise err("expected `architecture.nodes` (a v0.4 spec) or `architecture.subtree` (Timeloop's "
                  "parsed-processed-input.yaml)", file, "architecture")
    return builder.finish()


def no_sparse_optimizations(node: dict, file, where: str) -> None:
    """`sparse_optimizations` belong on a storage component or the MAC (or the flattened spec's
    top-level `sparse_optimizations: {targets}`, importers/timeloop_sparse.py); anywhere else (a
    container) they are not modelled."""
    if node.get("sparse_optimizations"):
        raise err("sparse_optimizations here are not supported: accelsim models Sparseloop's formats, gating "
                  "and skipping on storage components and the MAC only", file, f"{where}.sparse_optimizations" if where
                  else "sparse_optimizations",
                  suggestion="move them to a storage component or the MAC")


class _Builder:
    def __init__(self, file, ert, roles=None):
        self.file, self.ert = file, ert or {}
        self.levels: list[dict] = []
        self.cycle_s, self.node_nm = 1e-9, None
        self.out = ArchImport({}, roles=dict(roles or CANONICAL))
        self.mesh = (1, 1, 1)           # flattened form: instances, meshX, meshY of the last local
        self.last_local = None

    # -- shared ---------------------------------------------------------------------------------

    def _attrs(self, attrs):
        if "global_cycle_seconds" in attrs:
            self.cycle_s = float(attrs["global_cycle_seconds"])
        if "technology" in attrs and re.fullmatch(r"\d+\s*nm", str(attrs["technology"])):
            self.node_nm = str(attrs["technology"]).replace(" ", "")

    def _spatial(self, name, x, y, aliases):
        self.levels.append({"spatial": {"name": name, "x": x, "y": y}})
        self.out.fanout[name] = (x, y)
        for a in aliases:
            self.out.spatial[a] = name

    def _component(self, node, where, keeps=ALL_ROLES):
        if node.get("name") in (None, ""):
            raise err("a component without a `name`", self.file, where, allowed=("name: ...",))
        name = str(node["name"])
        attrs = node.get("attributes", {}) or {}
        cls = str(node.get("class", "")).lower()
        energies = self.ert.get(name)
        if cls.endswith("mac"):
            bits = int(attrs.get("multiplier_width", attrs.get("datawidth", attrs.get("width", 8))))
            fmt = f"int{bits}" if not cls.startswith("fp") else ("fp32" if bits >= 32 else "fp16")
            compute = {"name": name, "format": fmt}
            if energies:
                compute["energy"] = {"mac": f"{energies.get('compute', energies.get('mac_random', 0.0))}pJ"}
            if node.get("sparse_optimizations"):
                compute["sparse"] = compute_block(node["sparse_optimizations"], energies, self.file,
                                                  f"{where}.sparse_optimizations")
            self.levels.append({"compute": compute})
            return
        if self.levels and "compute" in self.levels[-1]:
            raise err(f"'{name}' comes after the MAC; the MAC must be the innermost component",
                      self.file, where)
        kind = MEMORY_CLASSES.get(cls)
        if kind is None:
            raise err(f"component class '{cls}' is not supported", self.file, f"{where}.class",
                      allowed=tuple(MEMORY_CLASSES) + ("intmac", "fpmac"))
        # cluster_size N (v3.0.3 spells it `cluster-size`, buffer.cpp line 268): N instances share
        # one `width`-bit array, so each instance has block_size = width / (N * word_bits) words
        # (NVlabs/timeloop @ 4cf6d4c, src/model/buffer.cpp, ParseSpecs line 317) and size =
        # depth * block_size (line 349), and the ERT's per-action energy (of the whole array) is
        # charged per utilized cluster (ComputeScalarAccesses, FinalizeBufferEnergy): accelsim's
        # memory `cluster: N`, charged as Timeloop does under counting: timeloop.
        cluster_key = next((k for k in ("cluster_size", "cluster-size") if k in attrs), "cluster_size")
        cluster = int(attrs.get(cluster_key, 1))
        if cluster > 1 and "block_size" in attrs:
            raise err(f"{name}: {cluster_key} {cluster} with block_size is not supported", self.file,
                      f"{where}.attributes.block_size", allowed=("width", "datawidth", cluster_key),
                      suggestion="give the shared array's width instead of block_size")
        buffering = attrs.get("multiple_buffering", 1)
        if buffering not in (1, 2):
            raise err(f"{name}: multiple_buffering {buffering} has no accelsim counterpart", self.file,
                      f"{where}.attributes.multiple_buffering", allowed=("multiple_buffering: 1", "multiple_buffering: 2"))
        word = int(attrs.get("datawidth", attrs.get("word-bits", attrs.get("word_bits", 8))))
        width = int(attrs["block_size"]) * word if "block_size" in attrs else int(attrs.get("width", word))
        if cluster > 1 and width % (cluster * word):
            raise err(f"{name}: {cluster_key} {cluster} needs a width that is a multiple of {cluster_key} × "
                      f"datawidth ({cluster} × {word}); width is {width}", self.file, f"{where}.attributes.width",
                      allowed=(f"width: a multiple of {cluster * word}",),
                      suggestion="Timeloop gives each instance width / (cluster_size × datawidth) words per access")
        memory = {"name": name, "class": kind, "word_bits": word, "width_bits": width, "keeps": list(keeps),
                  # Timeloop rounds a layer's accesses of one action up to blocks once (buffer.cpp,
                  # ComputeScalarAccesses); said here too, so the file keeps it under any counting
                  "block_rounding": "layer"}
        if cluster > 1:
            memory["cluster"] = cluster
        depth = attrs.get("depth")
        memory["size"] = "unlimited" if kind == "dram" or depth is None else f"{int(depth) * width // cluster}b"
        # Timeloop's bandwidths are words per cycle per instance; fills and updates share the
        # write port (its "Write Bandwidth" stat is (fills + updates) / cycles), and
        # shared_bandwidth bounds reads + writes together.
        for key in ("read_bandwidth", "write_bandwidth", "shared_bandwidth"):
            if attrs.get(key) is not None:
                memory[key] = f"{float(attrs[key]):g} words/cycle"
        if int(attrs.get("multiple_buffering", 1)) == 2:
            memory["double_buffered"] = True
        # n_banks is accepted and dropped: it is an Accelergy attribute that the area/energy
        # plug-ins (CACTI, Aladdin tables) read to estimate a buffer's per-action energy and area.
        # Timeloop's nest analysis does not use it for access counts or cycles (its own bank
        # count, num-banks, only feeds its built-in SRAM energy/area estimate), and accelsim has
        # no bank model either; per-action energies come from the ERT when one is given.
        if energies:
            memory["energy"] = {a: f"{energies.get(a, 0.0)}pJ" for a in ("read", "write", "update")}
            memory["leakage_power"] = f"{energies.get('leak', 0.0) * 1e-12 / self.cycle_s:g}W"
        if node.get("sparse_optimizations"):
            memory["sparse"] = sparse_block(node["sparse_optimizations"], attrs, energies, self.file,
                                            f"{where}.sparse_optimizations", self.out.roles)
        self.out.attributes[name] = attrs
        self.levels.append({"memory": memory})
        self.out.storage[name] = name

    def finish(self) -> ArchImport:
        if not self.levels or "compute" not in self.levels[-1]:
            raise err("the architecture must end with a MAC component", self.file, "architecture")
        top = self.levels[0].get("memory")
        if top is None:
            raise err("the outermost level must be a storage component", self.file, "architecture")
        top["size"] = "unlimited"  # accelsim's top level holds the whole layer
        self.out.arch = {
            "name": "timeloop_import", "description": f"imported from Timeloop arch {Path(self.file).name}",
            "technology": {"node": self.node_nm or "45nm", "energy_table": "horowitz_45nm",
                           "nominal_voltage": "0.9V"},
            "operating_point": {"voltage": "0.9V", "frequency": f"{1e-6 / self.cycle_s:g}MHz"},
            "counting": "timeloop",  # reproduce Timeloop's numbers (multicast, MAC operands, leakage)
            "levels": self.levels}
        return self.out

    def _node_constraints(self, node, target, where, kinds):
        for kind, body in (node.get("constraints") or {}).items():
            if kind not in kinds:
                raise err(f"constraint '{kind}' is not supported on {target}", self.file,
                          f"{where}.constraints.{kind}", allowed=kinds)
            self.out.targets.append({**(body or {}), "type": kind, "target": target,
                                     "_where": f"{where}.constraints.{kind}"})

    # -- nodes: form ----------------------------------------------------------------------------

    def nodes(self, nodes, where):
        for i, node in enumerate(nodes):
            w, tag = f"{where}.{i}", node.get("_tag")
            self._attrs(node.get("attributes", {}) or {})
            if tag != "Component":
                no_sparse_optimizations(node, self.file, w)
            if tag in ("Container", "Component") and node.get("name") in (None, ""):
                raise err(f"a !{tag} without a `name`", self.file, w, allowed=("name: ...",))
            if tag == "Container":
                mesh = node.get("spatial", {}) or {}
                x, y = int(mesh.get("meshX", 1)), int(mesh.get("meshY", 1))
                if x * y > 1:
                    self._spatial(node["name"], x, y, (node["name"], f"inter_{node['name']}_spatial"))
                    self.out.storage[f"inter_{node['name']}_spatial"] = None  # Timeloop's dummy level
                self._node_constraints(node, node["name"], w, ("spatial",) if x * y > 1 else ())
            elif tag == "Component":
                if node.get("spatial"):
                    raise err(f"'{node.get('name')}': a component with its own `spatial:` mesh is not "
                              "supported", self.file, f"{w}.spatial",
                              suggestion="import Timeloop's ref/parsed-processed-input.yaml instead")
                self._component(node, w)
                self._node_constraints(node, node["name"], w, ("dataspace", "temporal"))
            elif tag == "Parallel":
                for j, member in enumerate(node.get("nodes") or []):
                    mw = f"{w}.nodes.{j}"
                    if member.get("_tag") != "Component":
                        raise err("a !Parallel group may only hold !Component nodes", self.file, mw)
                    keep = ((member.get("constraints") or {}).get("dataspace") or {}).get("keep")
                    kept = {role(d, self.file, f"{mw}.constraints.dataspace.keep", self.out.roles) for d in keep or ()}
                    keeps = [r for r in ALL_ROLES if r in kept] if keep else ALL_ROLES
                    self._component(member, mw, keeps)
                    self._node_constraints(member, member["name"], mw, ("dataspace", "temporal"))
            elif tag == "Hierarchical":
                self.nodes(node.get("nodes") or [], f"{w}.nodes")
            else:
                raise err(f"node tag !{tag} is not supported", self.file, w,
                          allowed=("!Container", "!Component", "!Parallel", "!Hierarchical"))

    # -- flattened subtree: form ----------------------------------------------------------------

    def subtree(self, trees, where):
        if len(trees) > 1:
            raise err("more than one subtree at one level (a heterogeneous architecture) is not supported",
                      self.file, where)
        for i, tree in enumerate(trees):
            w = f"{where}.{i}"
            self._attrs(tree.get("attributes", {}) or {})
            for j, local in enumerate(tree.get("local") or []):
                self._local(local, f"{w}.local.{j}")
            self.subtree(tree.get("subtree") or [], f"{w}.subtree")

    def _local(self, local, where):
        no_sparse_optimizations(local, self.file, where)
        m = NAME_RANGE.match(str(local.get("name", "")))
        name, n = (m.group(1), int(m.group(3)) - int(m.group(2)) + 1) if m else (local.get("name"), 1)
        attrs = local.get("attributes", {}) or {}
        mx, my = int(attrs.get("meshX", 1)), int(attrs.get("meshY", 1))
        prev_n, prev_x, prev_y = self.mesh
        if n != prev_n:
            x, y = mx // prev_x, my // prev_y
            if n % prev_n or x * prev_x != mx or y * prev_y != my or x * y != n // prev_n:
                raise err(f"'{name}': {n} instances (mesh {mx}x{my}) do not fan out evenly from "
                          f"{prev_n} (mesh {prev_x}x{prev_y})", self.file, where)
            parent = self.last_local
            d = DUMMY.match(parent or "")
            self._spatial(d.group(1) if d else f"{parent}_fanout", x, y,
                          (parent,) + ((d.group(1),) if d else ()))
        self.mesh, self.last_local = (n, mx, my), name
        if str(local.get("class", "")).lower() == "dummy_storage":
            self.out.storage[name] = None
            return
        self._component({**local, "name": name}, where)
