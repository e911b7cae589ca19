"""SCALE-Sim v3 config + topology → accelsim arch and workload YAML, and back.

``import_scalesim`` writes three files into ``out_dir``:

* ``<run>.arch.yaml``: DRAM → IfmapSRAM (inputs) → FilterSRAM (weights) → OfmapSRAM (outputs)
  → spatial {x: ArrayWidth, y: ArrayHeight, interconnect: systolic} → MAC, with the top-level
  ``dataflow`` os|ws|is.  SCALE-Sim's bandwidth mode is carried by the DRAM level:
  ``InterfaceBandwidth: CALC`` (bandwidth computed so nothing stalls) leaves the DRAM
  bandwidths unlimited; ``USER`` gives ``read_bandwidth`` (the ifmap/filter read bandwidth,
  [layout] *SRAMBankBandwidth in v3) and ``write_bandwidth`` (``Bandwidth``, the OFMAP drain).
* ``<run>.workload.yaml``: one conv2d (no padding, SCALE-Sim has none; ``ceil_mode: true`` where
  SCALE-Sim's last window overhangs the ifmap) or matmul per row.
* ``<run>.scalesim.yaml``: a sidecar with everything SCALE-Sim-specific that the arch schema
  cannot say (different ifmap and filter read bandwidths; the exact topology rows; the source files).

``systolic_params(arch, einsum)`` goes the other way: it reads a loaded ``Arch`` and one
einsum (conv2d, matmul or fully_connected from accelsim.ir.layers) and returns the
``SystolicLayer`` and ``SystolicConfig`` for accelsim.model.systolic.
"""
from __future__ import annotations

import configparser
from dataclasses import dataclass
from pathlib import Path

import yaml

from accelsim.errors import MappingError, Problem, SpecError
from accelsim.model.systolic import DATAFLOWS, SystolicConfig, SystolicLayer

__all__ = ["ScaleSimImport", "import_scalesim", "layer_from_einsum", "read_scalesim_config",
           "read_topology", "systolic_params"]

ROLES = ("inputs", "weights", "outputs")
SRAM_LEVELS = (("IfmapSRAM", "IfmapSramSzkB", "inputs"), ("FilterSRAM", "FilterSramSzkB", "weights"),
               ("OfmapSRAM", "OfmapSramSzkB", "outputs"))


@dataclass(frozen=True)
class ScaleSimImport:
    arch_path: Path
    workload_path: Path
    sidecar_path: Path
    config: SystolicConfig
    layers: tuple[SystolicLayer, ...]


def _err(msg, file, key=""):
    return SpecError([Problem(msg, str(file), None, key)])


def read_scalesim_config(path) -> dict:
    """The SCALE-Sim .cfg keys accelsim needs (same sections and names as SCALE-Sim)."""
    cp = configparser.ConfigParser()
    if not cp.read(path):
        raise _err("cannot read the SCALE-Sim config", path)
    try:
        ap = cp["architecture_presets"]
        cfg = dict(
            run_name=cp.get("general", "run_name", fallback=Path(path).stem).strip(),
            rows=ap.getint("ArrayHeight"), cols=ap.getint("ArrayWidth"),
            ifmap_kb=ap.getfloat("IfmapSramSzkB"), filter_kb=ap.getfloat("FilterSramSzkB"),
            ofmap_kb=ap.getfloat("OfmapSramSzkB"),
            dataflow=ap.get("Dataflow").strip().lower(),
            bandwidth=int(ap.get("Bandwidth").split(",")[0]),
            mode=cp.get("run_presets", "InterfaceBandwidth", fallback="CALC").strip().upper(),
        )
        lay = cp["layout"] if cp.has_section("layout") else {}
        cfg["ifmap_read_bw"] = int(lay.get("IfmapSRAMBankBandwidth", cfg["bandwidth"]))
        cfg["filter_read_bw"] = int(lay.get("FilterSRAMBankBandwidth", cfg["bandwidth"]))
    except (KeyError, ValueError, TypeError, configparser.Error) as exc:
        raise _err(f"incomplete or malformed SCALE-Sim config: {exc}", path) from exc
    if cfg["dataflow"] not in DATAFLOWS:
        raise _err(f"Dataflow must be one of {DATAFLOWS}", path, "architecture_presets.Dataflow")
    if cfg["mode"] not in ("CALC", "USER"):
        raise _err("InterfaceBandwidth must be CALC or USER", path, "run_presets.InterfaceBandwidth")
    return cfg


def read_topology(path, gemm: bool) -> list[SystolicLayer]:
    """Rows as SCALE-Sim reads them: the last comma-separated field of each row is dropped
    (so rows end with a comma), the first row is a header."""
    layers = []
    lines = Path(path).read_text().splitlines()
    for lineno, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split(",")][:-1]
        try:
            if gemm:
                name, M, N, K = fields[0], *map(int, fields[1:4])
                layers.append(SystolicLayer.from_gemm(M, N, K, name=name))
            else:
                name, H, W, R, S, C, F, s = fields[0], *map(int, fields[1:8])
                if "DP" in name:
                    raise ValueError("depthwise ('DP') layers are not supported")
                layers.append(SystolicLayer(H, W, R, S, C, F, s, name=name))
        except (ValueError, IndexError) as exc:
            raise SpecError([Problem(f"bad topology row: {exc}", str(path), lineno)]) from exc
    if not layers:
        raise _err("the topology has no layers", path)
    return layers


def _kib(kb: float) -> str:
    return f"{kb:g}KiB"


def import_scalesim(cfg_path, topology_path, gemm: bool, out_dir) -> ScaleSimImport:
    cfg = read_scalesim_config(cfg_path)
    layers = read_topology(topology_path, gemm)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    run = cfg["run_name"] or "scalesim"
    user = cfg["mode"] == "USER"
    dram = {"name": "DRAM", "class": "dram", "size": "unlimited", "word_bits": 8,
            "keeps": list(ROLES)}
    if user:
        dram["read_bandwidth"] = f"{min(cfg['ifmap_read_bw'], cfg['filter_read_bw'])} words/cycle"
        dram["write_bandwidth"] = f"{cfg['bandwidth']} words/cycle"
    levels = [{"memory": dram}]
    for name, key, role in SRAM_LEVELS:
        kb = cfg[{"IfmapSramSzkB": "ifmap_kb", "FilterSramSzkB": "filter_kb",
                  "OfmapSramSzkB": "ofmap_kb"}[key]]
        levels.append({"memory": {"name": name, "class": "sram", "size": _kib(kb), "word_bits": 8,
                                  "keeps": [role], "double_buffered": True}})
    levels.append({"spatial": {"name": "PE_array", "x": cfg["cols"], "y": cfg["rows"],
                               "interconnect": "systolic"}})
    levels.append({"compute": {"name": "MAC", "format": "int8"}})
    arch = {"name": f"scalesim_{run}",
            "description": f"imported from SCALE-Sim config {Path(cfg_path).name} "
                           f"({cfg['mode']} bandwidth)",
            "dataflow": cfg["dataflow"],
            "technology": {"node": "45nm", "energy_table": "horowitz_45nm"},
            "operating_point": {"voltage": "0.9V", "frequency": "1GHz"},
            "levels": levels}
    wl_layers = []
    for L in layers:
        if gemm:
            M, N, K = L.H, L.F, L.W
            wl_layers.append({"name": L.name, "matmul": {"m": M, "n": N, "k": K}})
        else:
            conv = {"c": L.C, "k": L.F, "h": L.H, "w": L.W, "r": L.R, "s": L.S, "stride": L.stride}
            if (L.H - L.R) % L.stride or (L.W - L.S) % L.stride:
                conv["ceil_mode"] = True  # SCALE-Sim keeps windows that overhang the ifmap
            wl_layers.append({"name": L.name, "conv2d": conv})
    workload = {"name": f"scalesim_{run}", "description": f"imported from SCALE-Sim topology "
                f"{Path(topology_path).name}", "source": str(topology_path), "layers": wl_layers}
    config = SystolicConfig.from_kb(cfg["rows"], cfg["cols"], cfg["dataflow"], cfg["ifmap_kb"],
                                    cfg["filter_kb"], cfg["ofmap_kb"],
                                    bandwidth_mode=cfg["mode"], bandwidth=cfg["bandwidth"],
                                    ifmap_read_bw=cfg["ifmap_read_bw"],
                                    filter_read_bw=cfg["filter_read_bw"])
    sidecar = {"scalesim": {"config": str(cfg_path), "topology": str(topology_path), "gemm": gemm,
                            "interface_bandwidth": cfg["mode"], "bandwidth": cfg["bandwidth"],
                            "ifmap_read_bandwidth": cfg["ifmap_read_bw"],
                            "filter_read_bandwidth": cfg["filter_read_bw"],
                            "word_bytes": 1,
                            "layers": [dict(name=L.name, H=L.H, W=L.W, R=L.R, S=L.S, C=L.C,
                                            F=L.F, stride=L.stride) for L in layers]}}
    paths = (out / f"{run}.arch.yaml", out / f"{run}.workload.yaml", out / f"{run}.scalesim.yaml")
    header = f"# Written by accelsim.importers.scalesim from {Path(cfg_path).name}\n"
    for path, data in zip(paths, (arch, workload, sidecar)):
        path.write_text(header + yaml.safe_dump(data, sort_keys=False))
    return ScaleSimImport(*paths, config, tuple(layers))


# ------------------------------------------------------------------------------------------
# Arch + einsum → systolic kernel parameters
# ------------------------------------------------------------------------------------------

def layer_from_einsum(einsum, name="", input_size: tuple[int, int] | None = None) -> SystolicLayer:
    """SCALE-Sim's view of a layer. `input_size` is a convolution's (padded) input H × W; without
    it the input is the windows' exact footprint (no overhang)."""
    b = einsum.bound
    dims = set(b)
    if dims == {"m", "n", "k"}:
        I, W = einsum.tensor("inputs"), einsum.tensor("weights")
        if W is None or [t.dim for ax in I.axes for t in ax] != ["m", "k"]:
            raise MappingError(f"{name}: matmul einsum must be O[m,n] += I[m,k] * W[k,n]")
        return SystolicLayer.from_gemm(b["m"], b["n"], b["k"], name=name)
    if dims == {"n", "k", "c", "p", "q", "r", "s"} and einsum.tensor("weights") is not None:
        if b["n"] != 1:
            raise MappingError(f"{name}: SCALE-Sim's systolic model has no batch (n = {b['n']})")
        axes = einsum.tensor("inputs").axes
        coef = {t.dim: t.coef for ax in axes[2:] for t in ax}
        if coef.get("r", 1) != 1 or coef.get("s", 1) != 1:
            raise MappingError(f"{name}: dilated convolutions are not supported")
        sh, sw = coef.get("p", 1), coef.get("q", 1)
        if sh != sw:
            raise MappingError(f"{name}: SCALE-Sim uses one stride for both directions "
                               f"(got {sh} and {sw})")
        # the exact input footprint: SCALE-Sim's ceil((H − R + s)/s) then gives p and q back
        H, W = input_size or (sh * (b["p"] - 1) + b["r"], sw * (b["q"] - 1) + b["s"])
        layer = SystolicLayer(H, W, b["r"], b["s"], b["c"], b["k"], sh, name=name)
        if layer.gemm_view()[0] != b["p"] * b["q"]:
            raise MappingError(f"{name}: SCALE-Sim computes ⌈(H−R+s)/s⌉ output rows; this layer drops "
                               f"its overhanging windows — write it with ceil_mode: true")
        return layer
    raise MappingError(f"{name}: only conv2d (groups=1), matmul and fully_connected layers map "
                       f"onto the SCALE-Sim systolic model (dims {sorted(dims)})")


def systolic_params(arch, einsum, name: str = "",
                    input_size: tuple[int, int] | None = None) -> tuple[SystolicLayer, SystolicConfig]:
    """SCALE-Sim parameters of `einsum` on `arch` (an accelsim Arch).

    * array: the systolic spatial level (else the only spatial level), rows = y, cols = x;
    * dataflow: ``arch.dataflow`` (os, ws or is);
    * SRAM words per operand: for each tensor, the memory below the top DRAM and closest to
      the array that keeps it; a level chosen by several tensors is split evenly among them;
    * bandwidth: unlimited top-level read bandwidth means CALC; otherwise USER with the top
      level's read bandwidth for ifmap and filter and its write bandwidth (default: the read
      bandwidth) for the OFMAP drain, rounded down to whole words per cycle.
    """
    from accelsim.ir.arch import Memory, Spatial
    levels = list(arch.levels)
    spatial = [i for i, l in enumerate(levels) if isinstance(l, Spatial)]
    sys_idx = [i for i in spatial if levels[i].interconnect == "systolic"]
    if not (sys_idx or len(spatial) == 1):
        raise MappingError(f"arch {arch.name}: no systolic spatial level")
    si = (sys_idx or spatial)[0]
    array = levels[si]
    if arch.dataflow not in DATAFLOWS:
        raise MappingError(f"arch {arch.name}: dataflow must be one of {DATAFLOWS} for the "
                           f"systolic model, got {arch.dataflow!r}")
    top = levels[0]
    mems = [(i, l) for i, l in enumerate(levels[1:si], start=1) if isinstance(l, Memory)]
    chosen = {}
    for role in ROLES:
        keep = [(i, l) for i, l in mems if role in l.keeps]
        if not keep:
            raise MappingError(f"arch {arch.name}: no on-chip memory above the array keeps {role}")
        chosen[role] = keep[-1]
    words = {}
    for role, (i, l) in chosen.items():
        share = sum(1 for j, _ in chosen.values() if j == i)
        if l.size_bits is None:
            raise MappingError(f"arch {arch.name}: {l.name} must have a finite size")
        words[role] = l.size_bits // l.word_bits // share
    if top.read_bw_words is None:
        mode, bw, rbw = "CALC", 10, None
    else:
        mode = "USER"
        rbw = int(top.read_bw_words)
        bw = int(top.write_bw_words) if top.write_bw_words is not None else rbw
    cfg = SystolicConfig(array.y, array.x, arch.dataflow, words["inputs"], words["weights"],
                         words["outputs"], bandwidth_mode=mode, bandwidth=bw,
                         ifmap_read_bw=rbw, filter_read_bw=rbw)
    return layer_from_einsum(einsum, name, input_size), cfg
