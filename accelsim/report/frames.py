"""Results as tables (pandas DataFrames); dse/export.py writes them to CSV or Parquet.

The frames are flattened from the JSON's per-layer dicts (report/serialize.py `layer_dict`), so a
number in a frame is the number `accelsim run --json` writes: one formula, in one place. A column
is the dotted path of its value in a JSON layer, e.g. `energy_breakdown_pj.dynamic.GLB` is
`layer["energy_breakdown_pj"]["dynamic"]["GLB"]`; the layer's `name` is the column `layer`.
Values are per copy of a layer (as in the JSON); `count` says how many copies the workload runs.

pandas is imported inside the functions: importing accelsim does not import it.
"""
from __future__ import annotations

import json
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


def layers_frame(result):
    """A pandas DataFrame of a WorkloadResult (or of the JSON's layer dicts), one row per layer:
    the numbers of `accelsim run --json`'s layers, flattened to dotted columns (docs/api.md).
    Values are per copy of a layer; `count` is the copies."""
    import pandas as pd
    return pd.DataFrame(layer_rows(_layer_dicts(result)))


def levels_frame(result):
    """A pandas DataFrame of a WorkloadResult (or of the JSON's layer dicts), one row per layer ×
    memory level × tensor: reads, fills, updates (totals over the level's instances, and per
    instance), tile elements and dynamic energy (pJ), as in the JSON's layers."""
    import pandas as pd
    return pd.DataFrame(level_rows(_layer_dicts(result)), columns=list(LEVEL_COLUMNS))


def _layer_dicts(result) -> list[dict]:
    if isinstance(result, list):
        return result
    from .serialize import layer_dict
    return [layer_dict(l, result.area.total_mm2) for l in result.layers]


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
