"""On-disk cache of the mapper's results: a layer shape searched once on this machine is not searched
again by a later run.

The key is a SHA-256 of everything that decides a search's result: the mapspace's version
(MAPSPACE), accelsim's own source (every .py file of the package, so any edit invalidates the
cache), the arch as the layer runs it (levels,
operating point, counting convention), its per-action energies, the layer's einsum and operand
density, and the constraints with the mapper settings (objective, algorithm, seed, budget). The
value is the mapping and the search's record, as JSON, written atomically; an unreadable entry is
searched again and overwritten.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import warnings
from pathlib import Path

import numpy as np

from ..files import write_atomic
from ..mapping.mapping import LevelMapping, Loop, Mapping
from ..version import source_digest
from .mapper import MapperResult

FORMAT = 2  # of the entries; bump when their layout changes (2: the key is stored and checked)
MAPSPACE = 2  # bump when the mapspace changes answers (2: ragged factors in the mapspace); in the key


def canonical(value):
    """A JSON-able form of a spec object that does not depend on hash order or object identity."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: canonical(getattr(value, f.name)) for f in dataclasses.fields(value)
                if f.name != "source"}  # where a file was read from does not change a search
    if isinstance(value, dict):
        return sorted([canonical(k), canonical(v)] for k, v in value.items())
    if isinstance(value, (set, frozenset)):
        return sorted((canonical(v) for v in value), key=json.dumps)
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, float):
        return repr(value)
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return canonical(value.item())
    return repr(value)  # enums, functions: their repr names them


def search_key(arch, einsum, energies, constraints, density, ragged: bool = False) -> str:
    """`ragged`: the search may answer with a ragged mapping (search/ragged.py), which only some
    runs can count, so it is a different search."""
    payload = [FORMAT, MAPSPACE, source_digest(), canonical(arch), canonical(einsum), canonical(energies),
               canonical(constraints), canonical(density)] + (["ragged"] if ragged else [])
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


class SearchCache:
    def __init__(self, folder):
        self.folder = Path(folder)

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str) -> MapperResult | None:
        try:
            entry = json.loads(self._path(key).read_text())
            if not isinstance(entry, dict) or entry.get("format") != FORMAT or entry.get("key") != key:
                return None
            return _result_from(entry)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None  # missing or damaged: search again

    def put(self, key: str, result: MapperResult) -> bool:
        """Keep a result; False (with a warning) where the folder cannot be written: a cache that
        cannot be kept costs time on the next run, never this run's result."""
        entry = {"format": FORMAT, "key": key, **{f.name: getattr(result, f.name) for f in dataclasses.fields(result)
                                      if f.name != "mapping"},
                 "mapping": {"dataflow": result.mapping.dataflow,
                             "levels": [{"level": m.level, "bypass": sorted(m.bypass),
                                         "loops": [[l.dim, l.bound, l.axis] for l in m.loops]}
                                        for m in result.mapping.levels]}}
        try:
            write_atomic(self._path(key), json.dumps(entry, sort_keys=True))
        except OSError as exc:
            warnings.warn(f"the mapper's search cache was not written ({exc}); the next run searches again",
                          stacklevel=2)
            return False
        return True


def _result_from(entry: dict) -> MapperResult:
    levels = tuple(LevelMapping(m["level"], tuple(Loop(d, int(b), a) for d, b, a in m["loops"]),
                                frozenset(m["bypass"])) for m in entry["mapping"]["levels"])
    fields = {f.name: entry[f.name] for f in dataclasses.fields(MapperResult) if f.name != "mapping"}
    return MapperResult(mapping=Mapping(levels, entry["mapping"]["dataflow"]), **fields)
