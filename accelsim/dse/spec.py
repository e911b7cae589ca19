"""Sweep files: a base architecture, workloads, axes of overrides, dataflows and the model.

```yaml
name: array_size
arch: ../../arch/tpu_like.yaml            # paths are relative to the sweep file
workloads: [../../workloads/resnet50.yaml]
model: analytical                         # or cycle
dataflows: [ws, os, is]                   # or [arch]: the arch's own; search: the mapper
combine: zip                              # zip: axes advance together; cartesian: every combination
axes:
  arch.levels.PE_array.x: [8, 16, 32]
  arch.levels.PE_array.y: {range: [8, 33, 8]}   # start, stop (exclusive), step
store: array_size.sqlite                  # default: <name>.sqlite beside the sweep file
mapper:                                   # only with search in dataflows
  constraints: my.constraints.yaml        # relative to the sweep file; optional
  objective: edp                          # any key of the constraints file's mapper: block
  seed: 0                                 #   overrides that file's value
```
"""
from __future__ import annotations

import hashlib
import itertools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Optional, Union

from pydantic import Field, ValidationError, field_validator, model_validator

from ..errors import Problem, SpecError
from ..spec.files import allowed_paths, allowed_roots, resolve_inside
from ..spec.schema import ConstraintsSpec, MapperSettingsSpec, Strict
from ..spec.validate import load_with_extends, validate_model
from ..spec.yaml_io import locate
from ..version import source_digest

Scalar = Union[int, float, str]


MAX_RANGE_VALUES = 100_000  # values of one range axis: beyond, a typo (a missing step), not a sweep


class RangeSpec(Strict):
    range: list[Union[int, float]] = Field(min_length=2, max_length=3, description="[start, stop) "
                                           "with an optional step (default 1); it must hold at least one value")

    @model_validator(mode="after")
    def _not_empty(self):
        start, stop, *step = self.range
        step = step[0] if step else 1
        if not all(math.isfinite(v) for v in self.range):
            raise ValueError(f"range {self.range}: start, stop and step must be finite numbers")
        if step == 0:
            raise ValueError(f"range {self.range}: the step is 0; give [start, stop, step] with step ≠ 0")
        count = math.ceil((stop - start) / step)
        if count < 1:
            raise ValueError(f"range {self.range} holds no value: [start, stop) is empty with step {step} "
                             f"(for a falling range give a negative step)")
        if count > MAX_RANGE_VALUES:
            raise ValueError(f"range {self.range} holds {count:,} values, more than {MAX_RANGE_VALUES:,}")
        return self


class SweepMapperSpec(MapperSettingsSpec):
    """The mapper of the sweep's `search` points: a constraints file, and any key of a constraints
    file's `mapper:` block, parsed as there. A key given here replaces the file's value; keys not
    given keep it (or the mapper's defaults without a file)."""

    constraints: Optional[str] = Field(None, description="mapper constraints file, relative to the "
                                       "sweep file; checked against each point's arch")

    def settings_overrides(self) -> dict:
        """The mapper: keys this section sets, in the constraints file's form."""
        return self.model_dump(include=self.model_fields_set - {"constraints"})


class SweepSpec(Strict):
    name: str
    description: str = ""
    arch: str = Field(description="base architecture file, relative to the sweep file")
    workloads: list[str] = Field(min_length=1, description="workload files, relative to the sweep file")
    model: Literal["analytical", "cycle"] = "analytical"
    dataflows: list[str] = Field(default_factory=lambda: ["arch"], description="dataflow templates; "
                                 "'arch' means the arch's own")
    combine: Literal["cartesian", "zip"] = "cartesian"
    axes: dict[str, Union[list[Scalar], RangeSpec]] = Field(default_factory=dict, description="dotted "
        "override path (arch.…, workload.…, or mapper.KEY for a key of the mapper: section, which "
        "varies the search points only) → values")
    store: Optional[str] = Field(None, description="SQLite store, relative to the sweep file; "
                                 "default <name>.sqlite beside it")
    mapper: Optional[SweepMapperSpec] = Field(None, description="constraints and settings of the "
                                              "mapper for the 'search' dataflow")

    @field_validator("axes")
    @classmethod
    def _axis_paths(cls, axes):
        mapper_keys = set(MapperSettingsSpec.model_fields)
        for path, values in axes.items():
            if not path.startswith(("arch.", "workload.", "mapper.")):
                raise ValueError(f"axis '{path}' must start with 'arch.', 'workload.' or 'mapper.'")
            if isinstance(values, list) and not values:
                raise ValueError(f"axis '{path}' has no values")
            if not path.startswith("mapper."):
                continue
            key = path.removeprefix("mapper.")
            if key not in mapper_keys:
                raise ValueError(f"axis '{path}': the mapper has no setting '{key}' "
                                 f"(settings: {', '.join(sorted(mapper_keys))})")
            for value in axis_values(values):  # each parsed as a constraints file's mapper: block
                try:
                    MapperSettingsSpec.model_validate({key: value})
                except ValidationError as exc:
                    raise ValueError(f"axis '{path}': value {value!r}: {exc.errors()[0]['msg']}") from None
        return axes

    @model_validator(mode="after")
    def _checks(self):
        for path in self.axes:
            if path.startswith("mapper.") and "search" not in self.dataflows:
                raise ValueError(f"axis '{path}' varies the mapper, which runs only for dataflow 'search'; "
                                 f"add search to dataflows")
        if self.combine == "zip":
            lengths = {p: len(axis_values(v)) for p, v in self.axes.items()}
            if len(set(lengths.values())) > 1:
                raise ValueError(f"combine: zip needs axes of equal length, got {lengths}")
        return self


def axis_values(values) -> list:
    if isinstance(values, RangeSpec):
        start, stop, *step = values.range
        step = step[0] if step else 1
        out, v = [], start
        while (v < stop) if step > 0 else (v > stop):
            out.append(v)
            v += step
        return out
    return list(values)


@dataclass(frozen=True)
class Point:
    """One design point: everything needed to simulate it, and a stable key."""

    arch: str
    workload: str
    overrides: tuple[str, ...]   # "arch.X=V" / "workload.X=V"
    dataflow: str | None
    model: str
    key: str
    constraints: str | None = None       # the mapper's constraints file (search points only)
    mapper_settings: dict | None = None  # mapper: keys replacing the constraints file's
    allowed_paths: tuple[str, ...] = ()  # --allow-path: where the specs' extends: may reach (not in the key)

    def label(self) -> dict:
        return {"workload": Path(self.workload).stem, "dataflow": self.dataflow or "arch",
                "overrides": list(self.overrides)}


def spec_hash(path: Path, memo: dict | None = None) -> str:
    """SHA-256 of a spec as it loads: the file merged over every `extends:` base it names, so an
    edited base changes the points that use it. `memo` keeps the hashes of one listing of points."""
    if memo is not None and path in memo:
        return memo[path]
    merged = load_with_extends(path)
    digest = hashlib.sha256(json.dumps(merged, sort_keys=True, default=str).encode()).hexdigest()
    if memo is not None:
        memo[path] = digest
    return digest


def point_key(arch: Path, workload: Path, overrides, dataflow, model, constraints: Path | None = None,
              mapper_settings: dict | None = None, memo: dict | None = None) -> str:
    """Same inputs (specs with their bases, overrides, options, accelsim's source) → same key."""
    inputs = [spec_hash(arch, memo), spec_hash(workload, memo), list(overrides), dataflow, model, source_digest()]
    if constraints or mapper_settings:  # appended only then: points without them keep their old keys
        inputs.append([spec_hash(constraints, memo) if constraints else None, mapper_settings or {}])
    blob = json.dumps(inputs, sort_keys=True)  # sorted: the same settings in any key order
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


@dataclass(frozen=True)
class Sweep:
    spec: SweepSpec
    path: Path

    @property
    def store_path(self) -> Path:
        return self.path.parent / (self.spec.store or f"{self.spec.name}.sqlite")

    def points(self) -> list[Point]:
        base = self.path.parent
        arch = (base / self.spec.arch).resolve()
        names = list(self.spec.axes)
        columns = [axis_values(v) for v in self.spec.axes.values()]
        combos = list(zip(*columns)) if self.spec.combine == "zip" else list(itertools.product(*columns))
        out, seen, memo = [], set(), {}
        for wl_name in self.spec.workloads:
            workload = (base / wl_name).resolve()
            for combo in combos or [()]:
                for df in self.spec.dataflows:
                    dataflow = None if df == "arch" else df
                    # mapper.* axes vary the search points only; the others would repeat
                    values = [(n, v) for n, v in zip(names, combo)
                              if dataflow == "search" or not n.startswith("mapper.")]
                    overrides = tuple(f"{n}={v}" for n, v in values)
                    constraints, settings = self._mapper_inputs(dataflow)
                    if any(n.startswith("mapper.") for n, _ in values):
                        settings = {**(settings or {}), **{n.removeprefix("mapper."): v for n, v in values
                                                           if n.startswith("mapper.")}}
                    key = point_key(arch, workload, overrides, dataflow, self.spec.model, constraints, settings,
                                    memo)
                    if key not in seen:
                        seen.add(key)
                        out.append(Point(str(arch), str(workload), overrides, dataflow, self.spec.model, key,
                                         str(constraints) if constraints else None, settings, allowed_paths()))
        return out

    def _mapper_inputs(self, dataflow) -> tuple[Path | None, dict | None]:
        """The constraints file and setting overrides of a point; only search points run the mapper."""
        mapper = self.spec.mapper
        if dataflow != "search" or mapper is None:
            return None, None
        constraints = (self.path.parent / mapper.constraints).resolve() if mapper.constraints else None
        return constraints, mapper.settings_overrides() or None


def _exists(path: Path) -> bool:
    try:  # a name too long for the file system, or with a NUL in it, names no file
        return path.exists()
    except (OSError, ValueError):
        return False


def load_sweep(path) -> Sweep:
    path = Path(path)
    data = load_with_extends(path)
    spec = validate_model(SweepSpec, data, str(path))
    constraints = [spec.mapper.constraints] if spec.mapper and spec.mapper.constraints else []
    for rel in constraints:  # like extends: inside the sweep's folder tree or an allowed path
        resolve_inside(path.parent / rel, allowed_roots(path), str(path), data.get("mapper").line_of("constraints"),
                       "mapper.constraints", rel)
    for rel in [spec.arch, *spec.workloads, *constraints]:
        if not _exists(path.parent / rel):
            raise SpecError(f"{path}: file {rel!r} does not exist (paths are relative to the sweep file)")
    from ..mapping.dataflows import DATAFLOWS
    unknown = [d for d in spec.dataflows if d not in ("arch", "search") and d not in DATAFLOWS]
    if unknown:
        raise SpecError(f"{path}: unknown dataflow(s) {unknown}; choose from arch, search (the mapper), "
                        f"{', '.join(DATAFLOWS.names())}")
    _check_mapper_section(spec, path, data)
    return Sweep(spec, path)


def _check_mapper_section(spec: SweepSpec, path: Path, data) -> None:
    """A mapper: section needs search points; its constraints file must pass the schema here, once
    (level names depend on each point's arch: they are checked per point, a bad one makes that
    point an infeasible row)."""
    if spec.mapper is None:
        return
    if "search" not in spec.dataflows:
        file, line = locate(data, ("mapper",))
        raise SpecError(Problem(
            f"configures the mapper of dataflow 'search', but dataflows is [{', '.join(spec.dataflows)}]",
            file or str(path), line, "mapper", allowed=("a mapper: section only with 'search' in dataflows",),
            suggestion=f"add search to dataflows ([{', '.join(spec.dataflows + ['search'])}]) or remove mapper:"))
    if spec.mapper.constraints:
        constraints = path.parent / spec.mapper.constraints
        validate_model(ConstraintsSpec, load_with_extends(constraints), str(constraints))
