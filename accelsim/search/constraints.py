"""Mapper constraints and settings: the file format, checked against the arch, and objectives.

A constraints file (docs/dse.md) fixes factors, orders, allowed spatial dims and keep/bypass
per level, and says what to minimize and how to search. Level names are checked against the
arch when the file is loaded; dims are checked per layer (a constraint on a dim a layer does not
have is met by that layer when its factor is 1).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from math import prod

from ..errors import MappingError, Problem, ProblemList, SpecError, did_you_mean
from ..ir.arch import Arch, Memory, Spatial
from ..ir.einsum import Einsum
from ..mapping.dataflows import RELEVANCE_CLASSES, dim_classes, window_pairs
from ..mapping.mapping import Mapping
from ..spec.schema import ConstraintsSpec, LevelConstraintSpec, MapperSettingsSpec


@dataclass(frozen=True)
class LevelConstraint:
    factors: dict = field(default_factory=dict)
    order: tuple = ()
    keep: frozenset = frozenset()
    bypass: frozenset = frozenset()
    x: tuple = ({}, None)  # (fixed factors, allowed dims or None)
    y: tuple = ({}, None)
    # Names (dims, relevance classes, window terms) that may not unroll on x / y; for_layer turns
    # them into the allowed dims, so a dim a layer does not have excludes nothing there.
    exclude_x: tuple = ()
    exclude_y: tuple = ()

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
    rank: str = "analytical"   # whose cycles pick among the search's best points: analytical or cycle
    candidates: int = 8        # with rank cycle: how many of the best distinct points the cycle model walks


@dataclass(frozen=True)
class LayerConstraints:
    """Level constraints for the layers whose name matches `name` (a shell pattern) and whose dims
    have the bounds in `shape` (either may be None: any)."""
    name: str | None
    shape: dict | None
    levels: dict  # level name -> LevelConstraint

    def selects(self, layer_name: str, bound: dict) -> bool:
        return (self.name is None or fnmatchcase(layer_name, self.name)) and \
            (self.shape is None or all(d in bound and bound[d] == f for d, f in self.shape.items()))


@dataclass(frozen=True)
class NameSite:
    """A name an x/y `dims:` or `exclude:` list gives, and where: checked against the workload's
    dims once it is known (check_names), so a misspelt name is an error at its line."""
    name: str
    file: str | None
    line: int | None
    key_path: str


@dataclass(frozen=True)
class Constraints:
    levels: dict = field(default_factory=dict)  # level name -> LevelConstraint
    settings: MapperSettings = MapperSettings()
    layers: tuple = ()  # LayerConstraints, applied in order to the layers they select
    hardware: dict = field(default_factory=dict)  # the arch's own (with_hardware), merged per layer
    names: tuple = ()   # NameSite of every dims/exclude name, the file's and (with_hardware) the arch's

    def for_layer(self, layer_name: str, einsum: Einsum) -> Constraints:
        """This layer's constraints: the arch's, the file's own and every layer entry that selects it,
        each with the relevance classes in its x/y dims lists (reduction, out_channel, ...) replaced
        by this layer's dims first, then merged (so a class and a dim of it intersect as they should)."""
        classes = {**dim_classes(einsum), **window_terms(einsum)}

        def own(levels):
            return {n: _with_dims(c, classes) for n, c in levels.items()}
        levels = merge_levels(own(self.hardware), own(self.levels),
                              "the constraints file (against the arch's constraints)")
        for entry in self.layers:
            if entry.selects(layer_name, einsum.bound):
                levels = merge_levels(levels, own(entry.levels), f"the layers entry for {entry.name or entry.shape}")
        return Constraints(levels, self.settings)


NO_CONSTRAINTS = Constraints()


# Names for a layer's sliding-window taps in x/y dims lists (mapping/dataflows.py: window_pairs): the
# first window's tap (conv2d's filter rows r) and the others' (its filter columns s); none in a matmul.
WINDOW_TERMS = ("row_taps", "column_taps")


def window_terms(einsum: Einsum) -> dict[str, list[str]]:
    taps = [t for _, t in window_pairs(einsum)]
    return {"row_taps": taps[:1], "column_taps": taps[1:]}


def _with_dims(c: LevelConstraint, classes: dict) -> LevelConstraint:
    """The axes' allowed dims with every class or window term replaced by the layer's dims, and the
    excluded names taken out of them (of all the layer's dims if the axis lists none)."""
    every = tuple(d for name in RELEVANCE_CLASSES for d in classes[name])

    def expand(axis, exclude):
        factors, only = axis
        if only is None and not exclude:
            return axis
        dims = every if only is None else tuple(d for name in only for d in classes.get(name, [name]))
        banned = {d for name in exclude for d in classes.get(name, [name])}
        return factors, tuple(d for d in dims if d not in banned)
    return replace(c, x=expand(c.x, c.exclude_x), y=expand(c.y, c.exclude_y), exclude_x=(), exclude_y=())


def merge_levels(first: dict, second: dict, what: str) -> dict:
    """Both sets of level constraints at once (the mapper must meet each): factors and keep/bypass
    add up, allowed spatial dims intersect; a contradiction is a MappingError naming `what`."""
    merged = dict(first)
    for name, b in second.items():
        a = merged.get(name)
        merged[name] = b if a is None else _merge_level(name, a, b, what)
    return merged


def _merge_level(name: str, a: LevelConstraint, b: LevelConstraint, what: str) -> LevelConstraint:
    def conflict(text):
        return MappingError(f"{what} contradicts the constraints before it at '{name}': {text}")

    def factors(fa: dict, fb: dict, where: str) -> dict:
        for d in fa.keys() & fb.keys():
            if fa[d] != fb[d]:
                raise conflict(f"{where} {d}={fa[d]} and {d}={fb[d]}")
        return {**fa, **fb}

    def axis(xa, xb, key):
        dims = xa[1] if xb[1] is None else xb[1] if xa[1] is None else tuple(d for d in xa[1] if d in xb[1])
        return factors(xa[0], xb[0], f"{key} factors"), dims

    if a.order and b.order and a.order != b.order:
        raise conflict(f"order {list(a.order)} and {list(b.order)}")
    keep, bypass = a.keep | b.keep, a.bypass | b.bypass
    if keep & bypass:
        raise conflict(f"{sorted(keep & bypass)} must be both kept and bypassed")
    return LevelConstraint(factors(a.factors, b.factors, "factors"), a.order or b.order, keep, bypass,
                           axis(a.x, b.x, "x"), axis(a.y, b.y, "y"),
                           tuple(dict.fromkeys(a.exclude_x + b.exclude_x)), tuple(dict.fromkeys(a.exclude_y + b.exclude_y)))


def violations(arch: Arch, mapping: Mapping, levels: dict) -> list[str]:
    """How `mapping` leaves the level constraints (for_layer's, dims resolved): what a template or a
    mapping file must not do on hardware that cannot."""
    found = []
    for level, m in zip(arch.levels, mapping.levels):
        c = levels.get(level.name)
        if c is not None:
            found += _level_violations(level, m, c)
    return found


_LEVEL_VIOLATIONS: dict = {}  # (id(level mapping), id(constraint), what is read of the level) -> (m, c, found)


def _level_violations(level, m, c: LevelConstraint) -> tuple[str, ...]:
    """One level's violations, once per level mapping and constraint object and what is read of the
    level (its name, kind and kept tensors): a sweep's mappings share their inner levels' objects
    (template_pack.scratch_mapping), and its arch variants their resolved constraints."""
    key = (id(m), id(c), level.name, isinstance(level, Spatial), getattr(level, "keeps", None))
    held = _LEVEL_VIOLATIONS.get(key)
    if held is not None:  # (the entry holds m and c, so no other object has their ids meanwhile)
        return held[2]
    found = tuple(_check_level(level, m, c))
    if len(_LEVEL_VIOLATIONS) >= 4096:
        _LEVEL_VIOLATIONS.clear()
    _LEVEL_VIOLATIONS[key] = (m, c, found)  # (holds m and c: their ids stay theirs)
    return found


def _check_level(level, m, c: LevelConstraint) -> list[str]:
    found = []
    loops = [l for l in m.loops if l.bound > 1]
    if isinstance(level, Spatial):
        for key, (fixed, only) in (("x", c.x), ("y", c.y)):
            on_axis = [l for l in loops if l.axis == key]
            for d, f in fixed.items():
                got = prod(l.bound for l in on_axis if l.dim == d)
                if got != f:
                    found.append(f"{level.name}: {key} must unroll {d} by {f}, the mapping unrolls {got}")
            if only is not None:
                bad = sorted({l.dim for l in on_axis if l.dim not in only and l.dim not in fixed})
                if bad:
                    found.append(f"{level.name}: {key} may unroll only {list(only)}, the mapping unrolls {bad}")
        return found
    for d, f in c.factors.items():
        got = prod(l.bound for l in loops if l.dim == d)
        if got != f:
            found.append(f"{level.name}: the factor of {d} must be {f}, the mapping has {got}")
    kept = {r for r in level.keeps if r not in m.bypass}
    if c.keep - kept:
        found.append(f"{level.name}: must keep {sorted(c.keep - kept)}, the mapping bypasses them")
    if c.bypass & kept:
        found.append(f"{level.name}: cannot keep {sorted(c.bypass & kept)}, the mapping keeps them")
    if c.order:
        dims = [l.dim for l in loops]
        listed = [d for d in dims if d in c.order]
        tail = dims[len(dims) - len(listed):]
        if tail != listed or listed != [d for d in c.order if d in listed]:
            found.append(f"{level.name}: the innermost loops must be {list(c.order)} (outer → inner), "
                         f"the mapping has {dims}")
    return found


def _level(c: LevelConstraintSpec) -> LevelConstraint:
    def axis(a):
        return ({}, None) if a is None else (dict(a.factors), None if a.dims is None else tuple(a.dims))
    def exclude(a):
        return () if a is None or a.exclude is None else tuple(a.exclude)
    return LevelConstraint(dict(c.factors), tuple(c.order or ()), frozenset(c.keep), frozenset(c.bypass),
                           axis(c.x), axis(c.y), exclude(c.x), exclude(c.y))


def settings_from(spec: MapperSettingsSpec) -> MapperSettings:
    return MapperSettings(objective_from(spec.objective), spec.search, spec.evaluations,
                          spec.exhaustive_limit, spec.seed, spec.rank, spec.candidates)


def build_constraints(spec: ConstraintsSpec, arch: Arch, file: str | None, line_of) -> Constraints:
    """Check the level-level rules the schema cannot see and freeze the constraints; the arch's own
    (what its hardware cannot do) are merged in per run (with_hardware)."""
    problems = ProblemList(file)
    levels = _check_levels(spec.constraints, ("constraints",), arch, problems, line_of)
    layers = tuple(LayerConstraints(entry.name, dict(entry.shape) if entry.shape is not None else None,
                                    _check_levels(entry.constraints, ("layers", i, "constraints"), arch, problems,
                                                  line_of))
                   for i, entry in enumerate(spec.layers))
    problems.raise_if_any()
    names = _name_sites(spec.constraints, ("constraints",), file, line_of) + tuple(
        site for i, entry in enumerate(spec.layers)
        for site in _name_sites(entry.constraints, ("layers", i, "constraints"), file, line_of))
    return Constraints(levels, settings_from(spec.mapper), layers, names=names)


def arch_constraints(spec_levels: dict, arch: Arch, file: str | None, line_of) -> tuple[dict, tuple]:
    """An arch file's `constraints:` block (what its hardware cannot do), checked and frozen, and
    the NameSite of every name its axes list (checked per workload: check_names)."""
    problems = ProblemList(file)
    levels = _check_levels(spec_levels, ("constraints",), arch, problems, line_of)
    problems.raise_if_any()
    return levels, _name_sites(spec_levels, ("constraints",), file, line_of)


def _name_sites(spec_levels: dict, at: tuple, file: str | None, line_of) -> tuple:
    return tuple(NameSite(name, file, line_of(where), ".".join(map(str, where)))
                 for level, c in spec_levels.items() for axis in ("x", "y") if getattr(c, axis) is not None
                 for key in ("dims", "exclude") for where in [at + (level, axis, key)]
                 for name in getattr(getattr(c, axis), key) or ())


def with_hardware(constraints: Constraints, arch: Arch) -> Constraints:
    """`constraints` with the arch's own beside them: for_layer merges both, so the mapper searches
    what both allow."""
    return replace(constraints, hardware=arch.constraints, names=constraints.names + arch.constraint_names)


def check_against_workload(constraints: Constraints, layers) -> list[str]:
    """What in the constraints no layer of the workload can use: a dims or exclude name that is
    neither a relevance class nor any layer's dim is an error (check_names); returns the notes for
    layers entries that select no layer (worth a warning: the file may serve other workloads)."""
    check_names(constraints.names, layers)
    return [f"the constraints' layers entry for {entry.name or entry.shape} selects no layer of the workload"
            for entry in constraints.layers
            if not any(entry.selects(l.name, l.run_einsum.bound) for l in layers)]


def check_names(sites: tuple, layers) -> None:
    """SpecError (at each name's file and line) for x/y dims or exclude names that are neither a
    relevance class, a window term nor a dim of any of `layers`: such a name would constrain nothing."""
    known = sorted(set(RELEVANCE_CLASSES) | set(WINDOW_TERMS) | {d for l in layers for d in l.run_einsum.dims})
    unknown = [site for site in sites if site.name not in known]
    if unknown:
        raise SpecError([Problem(f"'{site.name}' is neither a relevance class, a window term nor a dim of any "
                                 f"layer of the workload", site.file, site.line, site.key_path, tuple(known),
                                 did_you_mean(site.name, known)) for site in unknown])


def _check_levels(spec_levels: dict, at: tuple, arch: Arch, problems: ProblemList, line_of) -> dict:
    """Check one block of level constraints against the arch; the frozen block."""
    names = [l.name for l in arch.levels[:-1]]
    for name, c in spec_levels.items():
        where = at + (name,)
        if name not in names:
            problems.add(f"no level '{name}' in arch {arch.name}", ".".join(map(str, where)), line_of(where),
                         allowed=tuple(names), suggestion=did_you_mean(name, names))
            continue
        level = arch.level(name)
        if isinstance(level, Spatial) and (c.factors or c.order or c.keep or c.bypass):
            problems.add(f"'{name}' is a spatial level: constrain its axes with x: / y:", ".".join(map(str, where)),
                         line_of(where), allowed=("x", "y"))
        if isinstance(level, Memory) and (c.x or c.y):
            problems.add(f"'{name}' is a memory level: x: / y: belong to spatial levels", ".".join(map(str, where)),
                         line_of(where), allowed=("factors", "order", "keep", "bypass"))
        both = set(c.keep) & set(c.bypass)
        if both:
            problems.add(f"'{name}' both keeps and bypasses {sorted(both)}", ".".join(map(str, where)), line_of(where))
        if isinstance(level, Memory):
            unkept = set(c.keep) - level.keeps
            if unkept:
                problems.add(f"'{name}' must keep {sorted(unkept)} but the arch level never keeps them",
                             ".".join(map(str, where + ("keep",))), line_of(where + ("keep",)), allowed=tuple(sorted(level.keeps)))
        for key, factors in (("factors", c.factors), ("x", c.x.factors if c.x else {}), ("y", c.y.factors if c.y else {})):
            for d, f in factors.items():
                if f < 1:
                    problems.add(f"factor {d}={f} must be ≥ 1", ".".join(map(str, where + (key, d))), line_of(where + (key,)))
    return {n: _level(c) for n, c in spec_levels.items() if n in names}
