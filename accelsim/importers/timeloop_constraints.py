"""Timeloop mapspace constraints and mapper settings → an accelsim constraints file.

Timeloop semantics this follows (NVlabs/timeloop @ 4cf6d4c, timeloop-python @ b8aaf2c):

* Permutations are INNER → OUTER. A partial one fixes only the innermost loops: the level's nest
  is <listed prefix><unlisted dims, any order><dims after '_', outermost>
  (src/mapspaces/subspaces.cpp, PermutationSpace::InitLevel, lines 247-282). accelsim's `order`
  lists the innermost loops outer → inner with the unlisted dims above them, i.e. the reversed
  prefix. A '_' suffix (pinned outermost loops) is only accepted when no free dim is left
  between prefix and suffix.
* Timeloop's front end first prepends (innermost) every dim whose factor is fixed to 1 and every
  dim of bound 1 to each temporal and spatial permutation
  (pytimeloop/timeloopfe/v4/processors/permutation_optimizer.py, lines 30-37); the flattened
  parsed-processed-input.yaml shows the result. We do the same (it is idempotent), then drop
  those loop-less dims from `order` and `dims`.
* Spatial `split: k`: the first k dims of that (prepended) permutation go to X, the rest to Y
  (src/mapspaces/uber.cpp, AssignSpatialTilingDirections_Level_Expand, lines ~865-882; a user
  split disables unit-factor pruning so it keeps counting the unit dims, uber.cpp lines
  434-441). So Eyeriss's `[N, P, Q, R, S, C, M]`, split 4 puts N P Q R (all factor 1) on X and
  S, C, M on Y; simple_ws's `[C, M]`, split 1 becomes NQPSRCM, split 1: only N (bound 1) on X.
  Without a split, Timeloop searches every split point of the permutation; when one axis of the
  fan-out is 1 wide, every split point is equivalent to all dims on the other axis.
* `factors: R=0` means the full bound (src/mapping/constraints.cpp, ParseFactors ~line 1010). A
  factor above the dim's bound is ignored, with a warning (ParseFactors ~lines 1045-1058): we do
  the same when that bound is 1 (the factor is 1 whatever is written, as for a generic arch's
  `K=16` on a GEMM with K=1) and raise a SpecError otherwise (a likely mistake).
* `D<=n` is an upper bound on the factor (ParseMaxFactors ~line 1089). accelsim's constraints fix
  factors and cannot bound them, so a bound is accepted only when it cannot bind: when the dim's
  other fixed factors leave at most n for this level (M=64 with M=4 and M=16 fixed on the
  fan-outs leaves 1: E_sparse_tensor_core_like's `M<=8`), or n is at least the fan-out of a
  spatial level. Otherwise it is a SpecError. `>=` bounds are not supported.
* `factors_only: [...]`: the listed factors, every other dim 1; `keep_only` / `bypass_only`: the
  complement is bypassed / kept (timeloopfe/v4/processors/constraint_macro.py, lines 180-194,
  241-265). `maximize_dims` is a search the front end runs (greedy_allocate, lines 275-338):
  not supported here; import the parsed-processed-input.yaml, where its result is fixed factors.
* Re-specifying a factor, permutation, split or keep/bypass flag at one level is an error, as in
  Timeloop (constraints.cpp ~lines 617-693, 1266-1296).
"""
from __future__ import annotations

from math import prod

from ..errors import did_you_mean
from .timeloop_arch import ArchImport
from .timeloop_common import ALL_ROLES, err, parse_factors, parse_permutation, role

KNOWN_KEYS = {"target", "type", "factors", "permutation", "split", "keep", "bypass", "factors_only",
              "keep_only", "bypass_only", "name"}
TYPES = ("temporal", "spatial", "dataspace", "datatype", "bypass", "bypassing")
METRICS = {"delay": "cycles", "energy": "energy", "edp": "edp"}
# Timeloop's search algorithms (src/search/search-factory.cpp, lines 49-75); its default is hybrid.
SEARCHES = {"exhaustive": "exhaustive", "linear_pruned": "exhaustive", "random": "random",
            "random_pruned": "random", "hybrid": "random"}


def convert_constraints(targets: list, imp: ArchImport, bounds: dict[str, int], default_file,
                        notes: list | None = None) -> dict:
    """Timeloop-style targets (embedded and from mapspace files) → {'constraints': {...}} or {}.
    What was accepted but not written (ignored factors, implied bounds) is appended to `notes`."""
    per_level: dict[str, dict] = {}
    notes = [] if notes is None else notes
    converted = [_Target(t, imp, bounds, t.get("_file", default_file), notes) for t in targets]
    for target in converted:
        target.apply(per_level)
    for target in converted:  # bounds are judged against every fixed factor, from any file
        target.check_max_factors(per_level)
    order = [next(iter(l.values()))["name"] for l in imp.arch["levels"]]
    out = {name: per_level[name] for name in order if per_level.get(name)}
    return {"constraints": out} if out else {}


def _fixed_factors(per_level, dim) -> dict[tuple[str, str], int]:
    """(level, 't' | 'x' | 'y') → the factor fixed for `dim` (lowercase) there."""
    out = {}
    for name, entry in per_level.items():
        if dim in entry.get("factors", {}):
            out[name, "t"] = entry["factors"][dim]
        for axis in ("x", "y"):
            if dim in (entry.get(axis) or {}).get("factors", {}):
                out[name, axis] = entry[axis]["factors"][dim]
    return out


class _Target:
    def __init__(self, t, imp, bounds, file, notes):
        self.t, self.imp, self.bounds, self.file, self.notes = t, imp, bounds, file, notes
        self.max_factors: dict[str, int] = {}
        self.level = None  # the accelsim level the bounds apply to (None: a dummy level)
        self.where = t.get("_where", "targets")
        self.kind = t.get("type")
        if self.kind not in TYPES:
            raise err(f"constraint type '{self.kind}' is not supported", file, f"{self.where}.type", allowed=TYPES)
        unknown = sorted((str(k) for k in t if k not in KNOWN_KEYS and k not in ("_where", "_file")), key=str)
        if unknown:
            raise err(f"constraint key(s) {unknown} are not supported", file, f"{self.where}.{unknown[0]}",
                      allowed=tuple(sorted(KNOWN_KEYS)),
                      suggestion="maximize_dims is resolved by Timeloop's front end: import its "
                                 "ref/parsed-processed-input.yaml" if "maximize_dims" in unknown
                      else did_you_mean(unknown[0], KNOWN_KEYS))
        split = t.get("split")
        if split is not None and (isinstance(split, bool) or not isinstance(split, int) or split < 0):
            raise err(f"split {split!r} is not a whole number", file, f"{self.where}.split",
                      allowed=("split: a position in the permutation, 0 or more",))
        self.name = t.get("target", t.get("name"))

    def apply(self, per_level):
        if self.kind == "temporal":
            self._temporal(per_level)
        elif self.kind == "spatial":
            self._spatial(per_level)
        else:
            self._dataspace(per_level)

    # -- pieces ---------------------------------------------------------------------------------

    def _factors(self) -> dict[str, int]:
        t, where = self.t, f"{self.where}.factors"
        factors = parse_factors(t.get("factors") or "", self.file, where, self.max_factors)
        for d in self.max_factors:
            if d not in self.bounds:
                raise err(f"factor bound on '{d}', which is not a problem dimension", self.file, where,
                          allowed=tuple(self.bounds))
        if t.get("factors_only") is not None:
            only = parse_factors(t["factors_only"], self.file, f"{self.where}.factors_only")
            clash = sorted(set(only) & set(factors))
            if clash:
                raise err(f"factors_only repeats {clash} from factors", self.file, f"{self.where}.factors_only")
            factors.update(only)
            factors.update({d: 1 for d in self.bounds if d not in factors})
        for d, f in list(factors.items()):
            if d not in self.bounds:
                raise err(f"factor of '{d}', which is not a problem dimension", self.file, where,
                          allowed=tuple(self.bounds))
            if f == 0:
                factors[d] = self.bounds[d]
            elif f > self.bounds[d] == 1:
                del factors[d]  # Timeloop ignores it; a dim of bound 1 has factor 1 everywhere
                self.notes.append(f"{self.name}: {d}={f} exceeds the problem's {d}=1, ignored as Timeloop does")
            elif f > self.bounds[d]:
                raise err(f"factor {d}={f} exceeds the problem's {d}={self.bounds[d]} (Timeloop ignores "
                          "it with a warning)", self.file, where)
        return factors

    def _nest(self, factors) -> tuple[list, list, list]:
        """(prefix, free, suffix) inner → outer, after the front end's unit-dim prepend."""
        prefix, suffix = parse_permutation(self.t.get("permutation") or "", self.file, f"{self.where}.permutation")
        for d in prefix + suffix:
            if d not in self.bounds:
                raise err(f"permutation names '{d}', which is not a problem dimension", self.file,
                          f"{self.where}.permutation", allowed=tuple(self.bounds))
        listed = set(prefix + suffix)
        units = [d for d, f in factors.items() if f == 1] + [d for d, b in self.bounds.items() if b == 1]
        for d in units:
            if d not in listed:
                prefix.insert(0, d)
                listed.add(d)
        return prefix, [d for d in self.bounds if d not in listed], suffix

    def _loops(self, dims, factors) -> list[str]:
        """Dims that can have a loop here (not fixed to 1, bound > 1), lowercased."""
        return [d.lower() for d in dims if factors.get(d) != 1 and self.bounds[d] > 1]

    def _level(self, per_level, table, what):
        name = table.get(self.name, "?")
        if name == "?":
            raise err(f"{self.kind} constraint target '{self.name}' is not {what}", self.file,
                      f"{self.where}.target", allowed=tuple(sorted(k for k, v in table.items() if v)))
        return name if name is None else per_level.setdefault(name, {})

    def _put(self, entry, key, value):
        if key in entry:
            raise err(f"re-specification of {key} at {self.name}", self.file, self.where,
                      suggestion="Timeloop rejects this too: it may be a conflict between the "
                                 "architecture's and the mapspace's constraints")
        entry[key] = value

    # -- kinds ----------------------------------------------------------------------------------

    def _temporal(self, per_level):
        factors = self._factors()
        prefix, free, suffix = self._nest(factors)
        if suffix and self._loops(free, factors):
            raise err(f"permutation {self.t.get('permutation')!r} pins outermost loops ('_' suffix) with "
                      f"free dims {self._loops(free, factors)} between: accelsim's `order` only fixes the "
                      "innermost loops", self.file, f"{self.where}.permutation")
        order = list(reversed(self._loops(prefix + (free + suffix if suffix else []), factors)))
        entry = self._level(per_level, self.imp.storage, "a storage level")
        self.level = self.imp.storage[self.name]
        if entry is None:  # a dummy level between fan-outs: only all-1 directives make sense
            if any(f != 1 for f in factors.values()):
                raise err(f"temporal factors at '{self.name}', which holds no data", self.file, self.where)
            return
        existing = entry.setdefault("factors", {})
        for d, f in factors.items():
            self._put(existing, d.lower(), f)
        if not existing:
            del entry["factors"]
        if order:
            self._put(entry, "order", order)

    def _spatial(self, per_level):
        factors = self._factors()
        prefix, free, suffix = self._nest(factors)
        name = self.imp.spatial.get(self.name)
        if name is None:
            raise err(f"spatial constraint target '{self.name}' has no fan-out below it", self.file,
                      f"{self.where}.target", allowed=tuple(sorted(self.imp.spatial)))
        entry = per_level.setdefault(name, {})
        self.level = name
        split = self.t.get("split")
        nest = prefix + free + suffix
        fan_x, fan_y = self.imp.fanout[name]
        if split is None and self._loops(prefix + suffix, factors) and len(self._loops(nest, factors)) > 1 \
                and 1 in (fan_x, fan_y):
            # Every split point Timeloop tries is equivalent to "all dims on the axis with a
            # fan-out": a dim placed on a 1-wide axis can only have factor 1 there, the same as
            # factor 1 on the other axis (e.g. Simba's PE: meshX 16, meshY 1, [M, C, ...]).
            split = len(nest) if fan_y == 1 else 0
        axes = {"x": {}, "y": {}}
        if split is not None:
            split = int(split)
            if len(prefix) < split < len(prefix) + len(free) and self._loops(free, factors):
                raise err(f"split {split} falls among dims the permutation leaves free "
                          f"({self._loops(free, factors)}), so which of them go to X is searched",
                          self.file, f"{self.where}.split", suggestion="list them in the permutation")
            axes["x"]["dims"], axes["y"]["dims"] = self._loops(nest[:split], factors), self._loops(nest[split:], factors)
        else:
            # Timeloop tries every split point: X is any prefix of the nest. Unordered dims sets
            # say that only when at most one listed dim can have a loop.
            listed = self._loops(prefix + suffix, factors)
            if listed and len(self._loops(nest, factors)) > 1:
                raise err("a spatial permutation without a split orders which dims may go to X; "
                          "accelsim's per-axis dims cannot say that", self.file, f"{self.where}.split",
                          suggestion="add `split:`")
        for d, f in factors.items():
            if f == 1:
                if split is None:
                    for axis in axes.values():
                        axis.setdefault("factors", {})[d.lower()] = 1
                continue
            if split is None:
                raise err(f"spatial factor {d}={f} without a split: which axis it is on is searched",
                          self.file, f"{self.where}.factors", suggestion="add `split:`")
            axis = "x" if d.lower() in axes["x"]["dims"] else "y"
            axes[axis].setdefault("factors", {})[d.lower()] = f
        for key, axis in axes.items():
            if axis:
                self._put(entry, key, axis)

    def check_max_factors(self, per_level):
        """Drop the `D<=n` bounds no mapping could exceed (noted); any other is a SpecError."""
        if self.level is None:
            if self.max_factors:
                self.notes.append(f"{self.name}: factor bounds {self._bounds_text()} on a level that holds no "
                                  "data (its factors are all 1)")
            return
        spatial = self.kind == "spatial"
        here = ("x", "y") if spatial else ("t",)
        for d, n in self.max_factors.items():
            fixed = _fixed_factors(per_level, d.lower())
            own = [f for (lvl, a), f in fixed.items() if lvl == self.level and a in here]
            others = prod(f for (lvl, a), f in fixed.items() if not (lvl == self.level and a in here))
            largest = self.bounds[d] // others  # factorizations are perfect: the factors multiply to the bound
            if spatial:
                largest = prod(own) if len(own) == 2 else min(largest, prod(self.imp.fanout[self.level]))
            elif own:
                largest = own[0]
            if largest <= n:
                self.notes.append(f"{self.name}: {d}<={n} cannot bind (at most {d}={largest} there), not written")
                continue
            raise err(f"factor bound {d}<={n} at {self.name}: mappings with {d} factors up to {largest} there "
                      "meet the other constraints, and accelsim's constraints fix factors but cannot bound "
                      "them", self.file, f"{self.where}.factors",
                      allowed=("fixed factors (D=n)", "bounds that the other fixed factors already imply"),
                      suggestion=f"fix the factor (e.g. {d}={n}) to search a subset of Timeloop's mapspace, or "
                                 "remove the bound to search a superset")

    def _bounds_text(self):
        return " ".join(f"{d}<={n}" for d, n in self.max_factors.items())

    def _dataspace(self, per_level):
        t = self.t
        keep = [role(d, self.file, f"{self.where}.keep", self.imp.roles) for d in t.get("keep") or []]
        bypass = [role(d, self.file, f"{self.where}.bypass", self.imp.roles) for d in t.get("bypass") or []]
        if t.get("keep_only") is not None:
            only = [role(d, self.file, f"{self.where}.keep_only", self.imp.roles) for d in t["keep_only"]]
            keep, bypass = keep + only, bypass + [r for r in ALL_ROLES if r not in only]
        if t.get("bypass_only") is not None:
            only = [role(d, self.file, f"{self.where}.bypass_only", self.imp.roles) for d in t["bypass_only"]]
            keep, bypass = keep + [r for r in ALL_ROLES if r not in only], bypass + only
        entry = self._level(per_level, self.imp.storage, "a storage level")
        if entry is None:
            return  # dummy levels hold nothing
        name = self.imp.storage[self.name]
        keeps = next(l["memory"]["keeps"] for l in self.imp.arch["levels"]
                     if "memory" in l and l["memory"]["name"] == name)
        for key, roles in (("keep", keep), ("bypass", bypass)):
            roles = [r for r in ALL_ROLES if r in roles and (key == "keep" or r in keeps)]
            seen = set(entry.get("keep", [])) | set(entry.get("bypass", []))
            if seen & set(roles):
                raise err(f"re-specification of keep/bypass of {sorted(seen & set(roles))} at {self.name}",
                          self.file, self.where)
            if roles:
                entry[key] = entry.get(key, []) + roles


def convert_mapper(data: dict, file) -> dict:
    """A Timeloop `mapper:` section → accelsim's `mapper:` block."""
    if not isinstance(data.get("mapper"), dict):
        raise err("expected a `mapper:` section", file, "mapper")
    body = data["mapper"]
    # Timeloop reads a scalar `optimization_metric` first, else the `optimization_metrics` list,
    # else edp (src/applications/mapper/mapper.cpp, lines ~159-170). A *list* under
    # `optimization_metric` is not a scalar, so Timeloop skips it (compound-config.cpp line 428):
    # T05's `optimization_metric: [delay, energy]` ran with edp, and so does the import.
    if isinstance(body.get("optimization_metric"), str):
        raw, where = [body["optimization_metric"]], "mapper.optimization_metric"
    elif "optimization_metrics" in body:
        raw, where = list(body["optimization_metrics"] or []), "mapper.optimization_metrics"
        if not raw:
            raise err("optimization_metrics is empty", file, where, allowed=tuple(METRICS))
    else:
        raw, where = ["edp"], "mapper"
    bad = [m for m in raw if m not in METRICS]
    if bad:
        raise err(f"optimization metric(s) {bad} are not supported", file, where, allowed=tuple(METRICS))
    metrics = [METRICS[m] for m in raw]
    algorithm = body.get("algorithm", "hybrid")
    if algorithm not in SEARCHES:
        raise err(f"search algorithm '{algorithm}' is not supported", file, "mapper.algorithm",
                  allowed=tuple(SEARCHES))
    # Timeloop seeds nothing; accelsim's random searches are seeded, 0 for reproducibility.
    return {"objective": metrics[0] if len(metrics) == 1 else metrics, "search": SEARCHES[algorithm], "seed": 0}
