"""SCALE-Sim v3 config + topology → accelsim arch and workload YAML, and back.

``import_scalesim`` writes three files into ``out_dir``:

* ``<run>.arch.yaml``: DRAM → IfmapSRAM (inputs) → FilterSRAM (weights) → OfmapSRAM (outputs)
  → spatial {x: ArrayWidth, y: ArrayHeight, interconnect: systolic} → MAC, with the top-level
  ``dataflow`` os|ws|is.  SCALE-Sim's bandwidth mode is carried by the DRAM level:
  ``InterfaceBandwidth: CALC`` (bandwidth computed so nothing stalls) leaves the DRAM
  bandwidths unlimited; ``USER`` gives ``read_bandwidth`` (the ifmap/filter read bandwidth,
  [layout] *SRAMBankBandwidth in v3) and ``write_bandwidth`` (``Bandwidth``, the OFMAP drain).
  [sparsity] SparsitySupport = true becomes ``structured_sparsity: {representation: SparseRep}``,
  with ``row_wise: {block_size: BlockSize, seed: RandomNumberGeneratorSeed}`` when
  OptimizedMapping = true (row-wise N:M; else layer-wise N:M from the topology column).
* ``<run>.workload.yaml``: one conv2d (no padding, SCALE-Sim has none; ``ceil_mode: true`` where
  SCALE-Sim's last window overhangs the ifmap) or matmul per row; a row's sparsity column
  ``N:M`` becomes the layer's ``weight_nm``.
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

from ..errors import Problem, SpecError, did_you_mean
from ..model.scalesim import DATAFLOWS, SystolicConfig, SystolicLayer
from ..model.scalesim.layer import ROLES
from ..model.scalesim.sparsity import rowwise_check
from ..spec.files import read_text, short

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


def _err(msg, file, key="", line=None, allowed=(), suggestion=None):
    return SpecError([Problem(msg, str(file), line, key, tuple(allowed), suggestion)])


# SCALE-Sim v3's config: section → {key: what accelsim does with it}. Keys are case-insensitive,
# as in SCALE-Sim's configparser. "read" keys are imported; the others are accepted and dropped,
# each with why (some only in the state SCALE-Sim's defaults give them: see _ONLY).
_DRAM_TRACE = "SCALE-Sim's Ramulator DRAM trace interface; accelsim models DRAM by bandwidth"
_TRACE_ADDR = "a base address in SCALE-Sim's access traces; accelsim writes no traces"
_BANKS = "SCALE-Sim's custom SRAM layout, used only with *CustomLayout = true (refused)"
CONFIG_KEYS = {
    "general": {"run_name": "read"},
    "run_presets": {"InterfaceBandwidth": "read", "UseRamulatorTrace": _DRAM_TRACE},
    "architecture_presets": {
        "ArrayHeight": "read", "ArrayWidth": "read", "IfmapSramSzkB": "read", "FilterSramSzkB": "read",
        "OfmapSramSzkB": "read", "Bandwidth": "read", "Dataflow": "read",
        "IfmapOffset": _TRACE_ADDR, "FilterOffset": _TRACE_ADDR, "OfmapOffset": _TRACE_ADDR,
        "ReadRequestBuffer": _DRAM_TRACE, "WriteRequestBuffer": _DRAM_TRACE},
    "layout": {
        "IfmapSRAMBankBandwidth": "read", "FilterSRAMBankBandwidth": "read",
        "IfmapCustomLayout": "read", "FilterCustomLayout": "read",
        "IfmapSRAMBankNum": _BANKS, "IfmapSRAMBankPort": _BANKS, "FilterSRAMBankNum": _BANKS,
        "FilterSRAMBankPort": _BANKS},
    "sparsity": {"SparsitySupport": "read", "SparseRep": "read", "OptimizedMapping": "read",
                 "BlockSize": "read", "RandomNumberGeneratorSeed": "read"},
}
SPARSE_REPS = ("ellpack_block", "csr", "csc")
# Switches accelsim reads only to check that they are off: it has no model of what they turn on.
_ONLY_FALSE = {("layout", "ifmapcustomlayout"): "SCALE-Sim's custom SRAM layout (bank conflicts)",
               ("layout", "filtercustomlayout"): "SCALE-Sim's custom SRAM layout (bank conflicts)"}
_REQUIRED = ("ArrayHeight", "ArrayWidth", "IfmapSramSzkB", "FilterSramSzkB", "OfmapSramSzkB", "Bandwidth", "Dataflow")
MAX_ARRAY = 1 << 16           # PEs per side; SCALE-Sim's largest published arrays are 256 wide
MAX_DIM = 1 << 24             # a topology dimension (H, W, R, S, C, F, M, N, K)


def _config_lines(text: str) -> dict:
    """(section, lowercased key) → line, and section → line, found the way configparser reads them."""
    lines, section = {}, None
    for lineno, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped[0] in "#;" or raw[:1].isspace():
            continue
        if stripped.startswith("[") and "]" in stripped:
            section = stripped[1:stripped.index("]")]
            lines.setdefault(section, lineno)
        elif section is not None:
            key = stripped.split("=", 1)[0].split(":", 1)[0].strip().lower()
            lines.setdefault((section, key), lineno)
    return lines


def read_scalesim_config(path) -> dict:
    """The SCALE-Sim .cfg keys accelsim needs (same sections and names as SCALE-Sim), read through
    the hardened reader; unknown sections and keys are refused with the allowed ones."""
    text = read_text(path)
    cp = _parse_config(text, path)
    lines = _config_lines(text)
    _check_config_keys(cp, path, lines)
    get = _config_getter(cp, path, lines)
    if not cp.has_section("architecture_presets"):
        raise _err("missing section [architecture_presets]", path, "architecture_presets",
                   allowed=tuple(f"{k} = ..." for k in _REQUIRED))
    for (section, key), what in _ONLY_FALSE.items():
        if cp.has_option(section, key):
            try:
                on = cp.getboolean(section, key)
            except ValueError:
                raise _err(f"{key} must be true or false", path, f"{section}.{key}",
                           line=lines.get((section, key))) from None
            if on:
                raise _err(f"{what} is not supported", path, f"{section}.{key}", line=lines.get((section, key)),
                           allowed=("False",))
    cfg = dict(
        run_name=get("general", "run_name", str, fallback=Path(path).stem) if cp.has_section("general")
        else Path(path).stem,
        rows=get("architecture_presets", "ArrayHeight", int), cols=get("architecture_presets", "ArrayWidth", int),
        ifmap_kb=get("architecture_presets", "IfmapSramSzkB", float),
        filter_kb=get("architecture_presets", "FilterSramSzkB", float),
        ofmap_kb=get("architecture_presets", "OfmapSramSzkB", float),
        dataflow=get("architecture_presets", "Dataflow", str).lower(),
        bandwidth=get("architecture_presets", "Bandwidth", int),
        mode=(get("run_presets", "InterfaceBandwidth", str, fallback="CALC") if cp.has_section("run_presets")
              else "CALC").upper(),
    )
    has_layout = cp.has_section("layout")
    cfg["ifmap_read_bw"] = get("layout", "IfmapSRAMBankBandwidth", int, cfg["bandwidth"]) if has_layout else cfg["bandwidth"]
    cfg["filter_read_bw"] = get("layout", "FilterSRAMBankBandwidth", int, cfg["bandwidth"]) if has_layout else cfg["bandwidth"]
    _check_config_values(cfg, path, lines)
    cfg.update(_read_sparsity(cp, path, lines, get, cfg))
    return cfg


def _read_sparsity(cp, path, lines, get, cfg) -> dict:
    """[sparsity] as SCALE-Sim 3.0.0's scale_config reads it: sparse_rep (None when
    SparsitySupport is false), and for OptimizedMapping = true (row-wise N:M) the block size
    and the generator's seed (rowwise_block 0: layer-wise N:M from the topology)."""
    def flag(key):
        where, line = f"sparsity.{key}", lines.get(("sparsity", key.lower()))
        raw = cp.get("sparsity", key).strip()
        if raw.lower() not in ("true", "false"):
            raise _err(f"{key} = {short(raw, 40)!r} must be true or false", path, where, line=line,
                       allowed=("true", "false"))
        return raw.lower() == "true"

    def line(key):
        return lines.get(("sparsity", key.lower()))

    out = {"sparse_rep": None, "rowwise_block": 0, "sparse_seed": 40}
    if not cp.has_option("sparsity", "SparsitySupport") or not flag("SparsitySupport"):
        return out
    rep = get("sparsity", "SparseRep", str)
    if rep not in SPARSE_REPS:
        raise _err(f"SparseRep = {short(rep, 40)!r} is not a representation SCALE-Sim 3.0.0 computes",
                   path, "sparsity.SparseRep", line=line("SparseRep"), allowed=SPARSE_REPS,
                   suggestion=did_you_mean(rep, SPARSE_REPS))
    out["sparse_rep"] = rep
    if not cp.has_option("sparsity", "OptimizedMapping"):
        raise _err("missing key OptimizedMapping in [sparsity] (SCALE-Sim reads it when SparsitySupport "
                   "is true)", path, "sparsity.OptimizedMapping", line=lines.get("sparsity"),
                   allowed=("true", "false"))
    seed = get("sparsity", "RandomNumberGeneratorSeed", str)     # SCALE-Sim int()s it when sparse
    if not seed.isdigit() or int(seed) >= 2 ** 32:
        raise _err(f"RandomNumberGeneratorSeed = {short(seed, 40)!r} is not a seed numpy accepts", path,
                   "sparsity.RandomNumberGeneratorSeed", line=line("RandomNumberGeneratorSeed"),
                   allowed=("an integer from 0 to 2**32 - 1 (SCALE-Sim's default: 40)",))
    if flag("OptimizedMapping"):
        if cfg["dataflow"] != "ws":
            raise _err(f"OptimizedMapping = true (row-wise N:M) with Dataflow = {cfg['dataflow']}: SCALE-Sim "
                       "3.0.0 runs it on ws only (os and is stop on a dimension mismatch)", path,
                       "sparsity.OptimizedMapping", line=line("OptimizedMapping"), allowed=("false",),
                       suggestion="Dataflow = ws, or layer-wise N:M (OptimizedMapping = false)")
        block = get("sparsity", "BlockSize", int)
        why = rowwise_check(cfg["rows"], block)
        if why:
            raise _err(f"BlockSize = {block}: {why}", path, "sparsity.BlockSize", line=line("BlockSize"),
                       allowed=tuple(str(b) for b in range(2, cfg["rows"] + 1, 2) if (2 * cfg["rows"]) % b == 0))
        out.update(rowwise_block=block, sparse_seed=int(seed))
    offset = get("architecture_presets", "FilterOffset", int, fallback=10000000, positive=False)
    if offset == 0:     # the weight at address 0 would read as a pruned zero when condensing
        raise _err("FilterOffset = 0 with SparsitySupport: SCALE-Sim 3.0.0 takes the filter word at "
                   "address 0 for a pruned weight", path, "architecture_presets.FilterOffset",
                   line=lines.get(("architecture_presets", "filteroffset")), allowed=("a positive address",),
                   suggestion="FilterOffset = 10000000 (SCALE-Sim's default)")
    return out


def _parse_config(text: str, path) -> configparser.ConfigParser:
    cp = configparser.ConfigParser(interpolation=None)
    try:
        cp.read_string(text, source=str(path))
    except configparser.Error as exc:
        line = getattr(exc, "lineno", None)
        if line is None and getattr(exc, "errors", None):
            line = exc.errors[0][0]
        message = str(exc.message if hasattr(exc, "message") else exc).split("\n")[0]
        raise _err(f"cannot read the SCALE-Sim config: {short(message, 200)}", path, line=line) from None
    return cp


def _check_config_keys(cp, path, lines) -> None:
    """Every section and key is one SCALE-Sim v3 defines (CONFIG_KEYS); all unknown ones at once."""
    problems = []
    for section in cp.sections():
        known = CONFIG_KEYS.get(section)
        if known is None:
            problems.append(Problem(f"unknown section [{short(section, 60)}]", str(path), lines.get(section), section,
                                    tuple(CONFIG_KEYS), did_you_mean(section, CONFIG_KEYS)))
            continue
        lowered = {k.lower(): k for k in known}
        for key in cp[section]:
            if key not in lowered:
                problems.append(Problem(f"unknown key '{short(key, 60)}' in [{section}]", str(path),
                                        lines.get((section, key)), f"{section}.{key}", tuple(known),
                                        did_you_mean(key, known) or did_you_mean(key, lowered)))
    if problems:
        raise SpecError(problems)


def _config_getter(cp, path, lines):
    """get(section, key, kind, fallback, positive): a value of the config, checked, with its line."""
    def get(section, key, kind, fallback=None, positive=True):
        where, line = f"{section}.{key}", lines.get((section, key.lower()), lines.get(section))
        if not cp.has_option(section, key):
            if fallback is not None:
                return fallback
            raise _err(f"missing key {key} in [{section}]", path, where, line=line)
        raw = cp.get(section, key).strip()
        if kind is str:
            return raw
        try:
            value = kind(raw.split(",")[0] if key == "Bandwidth" else raw)
        except ValueError:
            value = None
        if value is None or value != value or value in (float("inf"), float("-inf")) or (positive and value <= 0):
            raise _err(f"{key} = {short(raw, 40)!r} is not a {'positive ' if positive else ''}"
                       f"{'integer' if kind is int else 'number'}", path, where, line=line)
        return value
    return get


def _check_config_values(cfg: dict, path, lines) -> None:
    for key in ("rows", "cols"):
        if cfg[key] > MAX_ARRAY:
            raise _err(f"an array of {cfg[key]:,} PEs per side", path, "architecture_presets."
                       + ("ArrayHeight" if key == "rows" else "ArrayWidth"), allowed=(f"at most {MAX_ARRAY:,}",))
    if cfg["dataflow"] not in DATAFLOWS:
        raise _err(f"Dataflow must be one of {DATAFLOWS}", path, "architecture_presets.Dataflow",
                   line=lines.get(("architecture_presets", "dataflow")), allowed=DATAFLOWS)
    if cfg["mode"] not in ("CALC", "USER"):
        raise _err("InterfaceBandwidth must be CALC or USER", path, "run_presets.InterfaceBandwidth",
                   line=lines.get(("run_presets", "interfacebandwidth")), allowed=("CALC", "USER"))
    if cfg["run_name"] and not all(c.isalnum() or c in "-_." for c in cfg["run_name"]) \
            or cfg["run_name"].startswith("."):
        raise _err(f"run_name {short(cfg['run_name'], 40)!r} cannot name the written files", path, "general.run_name",
                   line=lines.get(("general", "run_name")), allowed=("letters, digits, '-', '_', '.'",))


def _weight_nm(text: str, path, lineno) -> tuple[int, int]:
    """SCALE-Sim's topology sparsity column: 'N:M', N non-zeros in every M weights."""
    parts = text.split(":")
    try:
        n, m = (int(p) for p in parts) if len(parts) == 2 else (0, 0)
    except ValueError:
        n = m = 0
    if not 1 <= n <= m <= 1024:
        raise SpecError([Problem(f"bad topology row: sparsity {short(text, 40)!r}", str(path), lineno,
                                 allowed=("N:M with 1 <= N <= M <= 1024, e.g. 2:4",),
                                 suggestion="leave the column out for a dense layer (1:1)")])
    return n, m


def read_topology(path, gemm: bool) -> list[SystolicLayer]:
    """Rows as SCALE-Sim reads them: the last comma-separated field of each row is dropped
    (so rows end with a comma), the first row is a header.  An optional field after the
    shape is the weights' N:M sparsity (SCALE-Sim's default without it: 1:1)."""
    layers = []
    lines = read_text(path).splitlines()
    names = ("M", "N", "K") if gemm else ("IFMAP Height", "IFMAP Width", "Filter Height", "Filter Width",
                                          "Channels", "Num Filter", "Strides")
    for lineno, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split(",")][:-1]
        row = f"name, {', '.join(names)},"
        if not len(names) + 1 <= len(fields) <= len(names) + 2:
            raise SpecError([Problem(f"bad topology row: {len(fields)} fields before the last comma",
                                     str(path), lineno, allowed=(row, row + " N:M,"))])
        nm = _weight_nm(fields[-1], path, lineno) if len(fields) == len(names) + 2 else (1, 1)
        values = []
        for name, text in zip(names, fields[1:]):
            try:
                value = int(text)
            except ValueError:
                value = None
            if value is None or not 0 < value <= MAX_DIM:
                raise SpecError([Problem(f"bad topology row: {name} is {short(text, 40)!r}", str(path), lineno,
                                         allowed=(f"whole numbers from 1 to {MAX_DIM:,}",))])
            values.append(value)
        name = fields[0]
        if gemm:
            layers.append(SystolicLayer.from_gemm(*values, name=name, weight_nm=nm))
        else:
            H, W, R, S, C, F, s = values
            if "DP" in name:
                raise SpecError([Problem("depthwise ('DP') layers are not supported", str(path), lineno)])
            if R > H or S > W:
                raise SpecError([Problem(f"bad topology row: a {R}x{S} filter on a {H}x{W} ifmap", str(path),
                                         lineno, allowed=("filters no larger than the ifmap",))])
            layers.append(SystolicLayer(H, W, R, S, C, F, s, name=name, weight_nm=nm))
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
    if cfg["sparse_rep"]:
        arch["structured_sparsity"] = {"representation": cfg["sparse_rep"]}
        if cfg["rowwise_block"]:
            arch["structured_sparsity"]["row_wise"] = {"block_size": cfg["rowwise_block"],
                                                       "seed": cfg["sparse_seed"]}
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
        if L.weight_nm != (1, 1):
            wl_layers[-1]["weight_nm"] = f"{L.weight_nm[0]}:{L.weight_nm[1]}"
    workload = {"name": f"scalesim_{run}", "description": f"imported from SCALE-Sim topology "
                f"{Path(topology_path).name}", "source": str(topology_path), "layers": wl_layers}
    config = SystolicConfig.from_kb(cfg["rows"], cfg["cols"], cfg["dataflow"], cfg["ifmap_kb"],
                                    cfg["filter_kb"], cfg["ofmap_kb"],
                                    bandwidth_mode=cfg["mode"], bandwidth=cfg["bandwidth"],
                                    ifmap_read_bw=cfg["ifmap_read_bw"],
                                    filter_read_bw=cfg["filter_read_bw"],
                                    sparse_rep=cfg["sparse_rep"], rowwise_block=cfg["rowwise_block"],
                                    sparse_seed=cfg["sparse_seed"])
    sidecar = {"scalesim": {"config": str(cfg_path), "topology": str(topology_path), "gemm": gemm,
                            "interface_bandwidth": cfg["mode"], "bandwidth": cfg["bandwidth"],
                            "ifmap_read_bandwidth": cfg["ifmap_read_bw"],
                            "filter_read_bandwidth": cfg["filter_read_bw"],
                            "word_bytes": 1, "sparse_rep": cfg["sparse_rep"],
                            "rowwise_block": cfg["rowwise_block"], "sparse_seed": cfg["sparse_seed"],
                            "layers": [dict(name=L.name, H=L.H, W=L.W, R=L.R, S=L.S, C=L.C,
                                            F=L.F, stride=L.stride,
                                            sparsity=f"{L.weight_nm[0]}:{L.weight_nm[1]}")
                                       for L in layers]}}
    paths = (out / f"{run}.arch.yaml", out / f"{run}.workload.yaml", out / f"{run}.scalesim.yaml")
    header = f"# Written by accelsim.importers.scalesim from {Path(cfg_path).name}\n"
    for path, data in zip(paths, (arch, workload, sidecar)):
        path.write_text(header + yaml.safe_dump(data, sort_keys=False))
    return ScaleSimImport(*paths, config, tuple(layers))
