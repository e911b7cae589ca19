"""Mapper constraints and settings: the file format, checked against the arch, and objectives.

A constraints file (docs/dse.md) fixes factors, orders, allowed spatial dims and keep/bypass
per level, and says what to minimize and how to search. Level names are checked against the
arch when the file is loaded; dims are checked per layer (a constraint on a dim a layer does not
have is met by that layer when its factor is 1).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ProblemList, did_you_mean
from ..ir.arch import Arch, Memory, Spatial
from ..spec.schema import ConstraintsSpec, LevelConstraintSpec, MapperSettingsSpec


@dataclass(frozen=True)
class LevelConstraint:
    factors: dict = field(default_factory=dict)
    order: tuple = ()
    keep: frozenset = frozenset()
    bypass: frozenset = frozenset()
    x: tuple = ({}, None)  # (fixed factors, allowed dims or None)
    y: tuple = ({}, None)

    def axis(self, axis: int) -> tuple:
        return self.x if axis == 0 else self.y


@dataclass(frozen=True)
class Objective:
    """Minimize (primary, secondary) lexicographically; each is energy^a · cycles^b."""

    weights: tuple = ((1.0, 1.0), (0.0, 0.0))  # ((a1, b1), (a2, b2)); default: edp
    text: str = "edp"


METRIC_WEIGHTS = {"energy": (1.0, 0.0), "cycles": (0.0, 1.0), "edp": (1.0, 1.0)}


def objective_from(spec) -> Objective:
    if isinstance(spec, str):
        return Objective((METRIC_WEIGHTS[spec], (0.0, 0.0)), spec)
    if isinstance(spec, list):
        if not 1 <= len(spec) <= 2:
            raise ValueError("a lexicographic objective lists one or two metrics")
        second = METRIC_WEIGHTS[spec[1]] if len(spec) == 2 else (0.0, 0.0)
        return Objective((METRIC_WEIGHTS[spec[0]], second), " then ".join(spec))
    a, b = spec.get("energy", 0.0), spec.get("cycles", 0.0)
    return Objective(((a, b), (0.0, 0.0)), f"energy^{a:g} × cycles^{b:g}")


@dataclass(frozen=True)
class MapperSettings:
    objective: Objective = Objective()
    search: str = "auto"
    evaluations: int = 300_000
    exhaustive_limit: int = 5_000_000
    seed: int = 0


@dataclass(frozen=True)
class Constraints:
    levels: dict = field(default_factory=dict)  # level name -> LevelConstraint
    settings: MapperSettings = MapperSettings()


NO_CONSTRAINTS = Constraints()


def _level(c: LevelConstraintSpec) -> LevelConstraint:
    def axis(a):
        return ({}, None) if a is None else (dict(a.factors), None if a.dims is None else tuple(a.dims))
    return LevelConstraint(dict(c.factors), tuple(c.order or ()), frozenset(c.keep), frozenset(c.bypass),
                           axis(c.x), axis(c.y))


def settings_from(spec: MapperSettingsSpec) -> MapperSettings:
    return MapperSettings(objective_from(spec.objective), spec.search, spec.evaluations,
                          spec.exhaustive_limit, spec.seed)


def build_constraints(spec: ConstraintsSpec, arch: Arch, file: str | None, line_of) -> Constraints:
    """Check the level-level rules the schema cannot see and freeze the constraints."""
    problems = ProblemList(file)
    names = [l.name for l in arch.levels[:-1]]
    for name, c in spec.constraints.items():
        where = ("constraints", name)
        if name not in names:
            problems.add(f"no level '{name}' in arch {arch.name}", ".".join(where), line_of(where),
                         allowed=tuple(names), suggestion=did_you_mean(name, names))
            continue
        level = arch.level(name)
        if isinstance(level, Spatial) and (c.factors or c.order or c.keep or c.bypass):
            problems.add(f"'{name}' is a spatial level: constrain its axes with x: / y:", ".".join(where),
                         line_of(where), allowed=("x", "y"))
        if isinstance(level, Memory) and (c.x or c.y):
            problems.add(f"'{name}' is a memory level: x: / y: belong to spatial levels", ".".join(where),
                         line_of(where), allowed=("factors", "order", "keep", "bypass"))
        both = set(c.keep) & set(c.bypass)
        if both:
            problems.add(f"'{name}' both keeps and bypasses {sorted(both)}", ".".join(where), line_of(where))
        if isinstance(level, Memory):
            unkept = set(c.keep) - level.keeps
            if unkept:
                problems.add(f"'{name}' must keep {sorted(unkept)} but the arch level never keeps them",
                             ".".join(where + ("keep",)), line_of(where + ("keep",)), allowed=tuple(sorted(level.keeps)))
        for key, factors in (("factors", c.factors), ("x", c.x.factors if c.x else {}), ("y", c.y.factors if c.y else {})):
            for d, f in factors.items():
                if f < 1:
                    problems.add(f"factor {d}={f} must be ≥ 1", ".".join(where + (key, d)), line_of(where + (key,)))
    problems.raise_if_any()
    return Constraints({n: _level(c) for n, c in spec.constraints.items()}, settings_from(spec.mapper))
