"""Results as tables (pandas DataFrames) and their export to CSV or Parquet.

The frames are flattened from the JSON's per-layer dicts (report/serialize.py `layer_dict`), so a
number in a frame is the number `accelsim run --json` writes: one formula, in one place. A column
is the dotted path of its value in a JSON layer, e.g. `energy_breakdown_pj.dynamic.GLB` is
`layer["energy_breakdown_pj"]["dynamic"]["GLB"]`; the layer's `name` is the column `layer`.
Values are per copy of a layer (as in the JSON); `count` says how many copies the workload runs.

pandas is imported inside the functions: importing accelsim does not import it.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from ..errors import SpecError

# Per-layer keys that are not columns of the layers frame: the counts are the levels frame's rows,
# and the mapping (loops per level) stays in the JSON; its dataflow is the column `dataflow`.
_NOT_LAYER_COLUMNS = ("name", "levels", "mapping")
LEVEL_COLUMNS = ("layer", "count", "level", "instances", "level_cycles", "tensor", "reads", "fills",
                 "updates", "reads_per_instance", "fills_per_instance", "updates_per_instance",
                 "tile_elements", "energy_pj")
FORMATS = {"csv": ".csv", "parquet": ".parquet"}


def flatten(value, prefix: str = "", out: dict | None = None) -> dict:
    """Nested dicts → one level, keys joined with '.'; lists are kept as JSON text."""
    out = {} if out is None else out
    if isinstance(value, dict) and value:
        for key, item in value.items():
            flatten(item, f"{prefix}.{key}" if prefix else str(key), out)
    elif isinstance(value, (list, tuple)):
        out[prefix] = json.dumps(value)
    else:
        out[prefix] = None if isinstance(value, dict) else value  # an empty dict: no value
    return out


def layer_rows(layers: list[dict]) -> list[dict]:
    """One flat row per JSON layer dict."""
    rows = []
    for layer in layers:
        row = {"layer": layer["name"], "dataflow": layer.get("mapping", {}).get("dataflow")}
        for key, value in layer.items():
            if key not in _NOT_LAYER_COLUMNS:
                flatten(value, key, row)
        rows.append(row)
    return rows


def level_rows(layers: list[dict]) -> list[dict]:
    """One row per JSON layer × memory level × tensor: its counts (totals over the level's instances,
    and per instance), tile size and dynamic energy (pJ) from the JSON's by-tensor breakdown."""
    rows = []
    for layer in layers:
        by_tensor = layer["energy_breakdown_pj"]["by_tensor"]
        for level, counts in layer["levels"].items():
            for tensor, c in counts["tensors"].items():
                rows.append({"layer": layer["name"], "count": layer["count"], "level": level,
                             "instances": counts["instances"], "level_cycles": counts["cycles"],
                             "tensor": tensor, **{k: c[k] for k in LEVEL_COLUMNS[6:-1]},
                             "energy_pj": by_tensor.get(level, {}).get(tensor, 0.0)})
    return rows


def layers_frame(layers: list[dict]):
    import pandas as pd
    return pd.DataFrame(layer_rows(layers))


def levels_frame(layers: list[dict]):
    import pandas as pd
    return pd.DataFrame(level_rows(layers), columns=list(LEVEL_COLUMNS))


def load_run_json(path) -> dict:
    """A result written by `accelsim run --json`, or a SpecError saying it is not one."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise SpecError(f"{path}: not a result of `accelsim run --json` ({exc})") from None
    if not (isinstance(data, dict) and isinstance(data.get("layers"), list) and "totals" in data
            and all(isinstance(l, dict) and {"name", "levels", "energy_breakdown_pj"} <= l.keys()
                    for l in data["layers"])):
        raise SpecError(f"{path}: not a result of `accelsim run --json` (no layers with counts and energy)")
    return data


SQLITE_MAGIC = b"SQLite format 3\x00"


def is_sqlite(path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


def source_frame(source, levels: bool = False):
    """The frame of a sweep store (one row per point) or of a run's JSON (one row per layer, or
    with `levels` one per layer × level × tensor)."""
    path = Path(source)
    if not path.is_file():
        raise SpecError(f"{source}: no such file (give a sweep store .sqlite or a run's JSON from "
                        f"`accelsim run --json`)")
    if is_sqlite(path):
        if levels:
            raise SpecError(f"{source}: a sweep store has one row per point, no per-level counts; "
                            f"--levels needs a run's JSON (`accelsim run --json`)")
        from ..dse.store import store_frame
        return store_frame(path)
    layers = load_run_json(path)["layers"]
    return levels_frame(layers) if levels else layers_frame(layers)


def _check_out(out: Path, fmt: str) -> None:
    """Before any work: the format is known, `out` has its extension, and Parquet's engine is there."""
    if fmt not in FORMATS:
        raise SpecError(f"unknown export format {fmt!r}; choose from {', '.join(FORMATS)}")
    if out.suffix.lower() != FORMATS[fmt]:
        raise SpecError(f"{out}: a {fmt} export is written to a {FORMATS[fmt]} file")
    if fmt == "parquet":
        import importlib.util
        if importlib.util.find_spec("pyarrow") is None:
            raise SpecError("Parquet export needs pyarrow: pip install 'accelsim[parquet]' "
                            "(or export --csv)")


def write_frame(frame, out, fmt: str) -> Path:
    """Write a frame as CSV or Parquet, atomically (a temporary file renamed over `out`)."""
    out = Path(out)
    _check_out(out, fmt)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    os.close(fd)
    try:
        if fmt == "csv":
            frame.to_csv(tmp, index=False)
        else:
            frame.to_parquet(tmp, index=False)
        os.replace(tmp, out)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return out


def export(source, out, fmt: str, levels: bool = False) -> tuple[Path, int]:
    """`accelsim export`: a store's or a run's frame written to `out`. Returns the path and row count."""
    _check_out(Path(out), fmt)
    frame = source_frame(source, levels)
    return write_frame(frame, out, fmt), len(frame)
