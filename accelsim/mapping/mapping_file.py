"""Mappings as a mapping file (the format `--mapping` and load_mapping_file read)."""
from __future__ import annotations

import yaml

from ..files import write_atomic
from .mapping import Mapping


def mapping_file_data(mappings: dict[str, Mapping]) -> dict:
    """{layers: {layer: {level: {temporal, spatial, bypass}}}}; temporal loops outer → inner, and
    a level's spatial axes outer first (the order matters to a ragged dim on both axes)."""
    layers = {}
    for name, mapping in mappings.items():
        levels = {}
        for m in mapping.levels:
            entry = {}
            temporal = {l.dim: l.bound for l in m.loops if l.axis is None}
            axes = list(dict.fromkeys(l.axis for l in m.loops if l.axis is not None))  # outer first
            spatial = {axis: {l.dim: l.bound for l in m.loops if l.axis == axis} for axis in axes}
            if temporal:
                entry["temporal"] = temporal
            if any(spatial.values()):
                entry["spatial"] = {k: v for k, v in spatial.items() if v}
            if m.bypass:
                entry["bypass"] = sorted(m.bypass)
            if entry:
                levels[m.level] = entry
        layers[name] = levels
    return {"layers": layers}


def save_mapping_file(path, mappings: dict[str, Mapping]) -> None:
    write_atomic(path, "# Written by accelsim (the mapper's choices); reload with --mapping\n"
                 + yaml.safe_dump(mapping_file_data(mappings), sort_keys=False))
