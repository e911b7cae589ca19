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

The other way (a loaded ``Arch`` and one einsum → ``SystolicLayer`` and ``SystolicConfig``)
is ``systolic_params`` in accelsim.model.scalesim, where the core can reach it.
"""
from __future__ import annotations

import configparser
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..errors import Problem, SpecError
from ..model.scalesim import DATAFLOWS, SystolicConfig, SystolicLayer
from ..model.scalesim.layer import ROLES

__all__ = ["ScaleSimImport", "import_scalesim", "read_scalesim_config", "read_topology"]

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
