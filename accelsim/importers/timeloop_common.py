"""Shared pieces of the Timeloop importer: YAML reading with Timeloop's tags, SpecErrors, data-space
names, and the factor / permutation text Timeloop uses in mappings and constraints."""
from __future__ import annotations

import re

from ..errors import Problem, SpecError
from ..spec.yaml_io import load_yaml_file, locate
from .timeloop_keys import TOP, check

ALL_ROLES = ("weights", "inputs", "outputs")
# Timeloop's own conv shape (and the tutorials) name the data spaces after accelsim's roles.
CANONICAL = {r: r for r in ALL_ROLES}


# The documents read so far (path → data), so an error naming a key path can give its line.
# Bounded: only the files of the import under way are ever looked up.
_LOADED: dict[str, object] = {}


def _line(file, key) -> int | None:
    data = _LOADED.get(str(file))
    if data is None or not key:
        return None
    path = tuple(int(p) if p.isdigit() else p for p in str(key).split("."))
    return locate(data, path)[1]


def err(message, file, key="", allowed=(), suggestion=None) -> SpecError:
    return SpecError(Problem(message, str(file), _line(file, key), key, tuple(allowed), suggestion))


def read_yaml(path) -> dict:
    """A Timeloop YAML file read through accelsim's hardened reader (regular files, size, UTF-8,
    depth and alias limits, duplicate keys), Timeloop's tags (!Container, !Component, ...) as
    mappings with a `_tag` key, and every key checked against timeloop_keys (unknown keys and
    wrongly shaped values are a SpecError listing them all, at file:line)."""
    data = load_yaml_file(path, local_tags=True)
    if len(_LOADED) > 32:
        _LOADED.clear()
    _LOADED[str(path)] = data
    problems = check(data, TOP, path)
    if problems:
        raise SpecError(problems)
    return data


def data_space_roles(problem: dict, file, key="problem.shape.data_spaces") -> dict[str, str]:
    """Timeloop data-space name → accelsim tensor role, in the problem's order.

    Named exactly Weights, Inputs, Outputs (any case): each keeps its meaning. Otherwise (e.g.
    GEMM's A, B, Z) the one data space marked `read_write: true` — Timeloop's output; its
    front end also accepts `read-write` — becomes `outputs`, and the two read-only ones, in the
    order the problem lists them, `weights` then `inputs`; a read-only one named Weights or
    Inputs keeps that role. accelsim's layers have exactly two operands and one output."""
    spaces = (problem.get("shape") or {}).get("data_spaces")
    if not isinstance(spaces, list) or not all(isinstance(d, dict) and "name" in d for d in spaces):
        raise err("expected a list of data spaces, each with a `name`", file, key)
    names = [str(d["name"]) for d in spaces]
    if len(set(names)) != len(names):
        raise err(f"data space names {names} repeat", file, key)

    def read_write(i, d):
        keys = [k for k in ("read_write", "read-write") if k in d]
        value = d[keys[0]] if keys else False
        if len(keys) > 1 or not isinstance(value, bool):
            raise err(f"data space '{d['name']}': read_write must be given once, as true or false", file,
                      f"{key}.{i}.{keys[0] if keys else 'read_write'}")
        return value

    rw = [n for i, (n, d) in enumerate(zip(names, spaces)) if read_write(i, d)]
    if sorted(n.lower() for n in names) == sorted(ALL_ROLES):
        if rw and [r.lower() for r in rw] != ["outputs"]:
            raise err(f"{rw} marked `read_write: true`, but data spaces named Weights, Inputs, Outputs keep "
                      "their meaning", file, key, allowed=("Outputs: read_write: true",),
                      suggestion="mark only Outputs read-write, or rename the data spaces")
        return {n: n.lower() for n in names}
    shape = "accelsim layers are `outputs += inputs * weights`: two read-only operands, one read-write output"
    if len(names) != 3:
        raise err(f"the problem has {len(names)} data spaces ({', '.join(names)}); {shape}", file, key,
                  allowed=("two read-only data spaces and one with `read_write: true`",),
                  suggestion="write it as einsum layers of two operands each" if len(names) > 3 else None)
    if len(rw) != 1:
        which = (f"none of the data spaces {', '.join(names)} is" if not rw else
                 f"more than one data space ({', '.join(rw)}) is")
        raise err(f"{which} marked `read_write: true`; {shape}", file, key,
                  allowed=tuple(f"{n}: read_write: true" for n in names),
                  suggestion="mark only the output (the data space the problem accumulates into) "
                             "`read_write: true`, as Timeloop requires")
    wrong = [n for n in names if n.lower() in CANONICAL and (n in rw) != (n.lower() == "outputs")]
    if wrong:
        raise err(f"data space '{wrong[0]}' is {'read-write' if wrong[0] in rw else 'read-only'}, which "
                  "contradicts its name", file, key, suggestion="rename it")
    out = {rw[0]: "outputs"}
    operands = [n for n in names if n not in rw]
    named = {n.lower(): n for n in operands if n.lower() in CANONICAL}
    rest = iter(n for n in operands if n not in named.values())
    for r in ("weights", "inputs"):
        out[named[r] if r in named else next(rest)] = r
    return {n: out[n] for n in names}


def describe_roles(roles: dict[str, str]) -> str | None:
    """The translation as one line for a written file's header, or None when names are roles."""
    if all(n.lower() == r for n, r in roles.items()):
        return None
    return "Timeloop data spaces → accelsim tensors: " + ", ".join(f"{n} → {r}" for n, r in roles.items())


def role(name: str, file, key="problem.shape.data_spaces", roles: dict[str, str] | None = None) -> str:
    """The accelsim role of a data space named in an arch, mapping or constraint."""
    roles = roles if roles is not None else CANONICAL
    r = roles.get(str(name))
    if r is None:  # Timeloop's names are case-sensitive; accept a case-only difference if unique
        folded = [v for k, v in roles.items() if k.lower() == str(name).lower()]
        r = folded[0] if len(folded) == 1 else None
    if r is None:
        known = tuple(k.capitalize() if k in CANONICAL else k for k in roles)
        raise err(f"data space '{name}' is not one of the problem's data spaces {', '.join(known)}", file, key,
                  allowed=known)
    return r


def parse_factors(text, file, where, max_factors: dict | None = None) -> dict[str, int]:
    """'R=3 P=16', 'R=3,P=16', 'R3 P16' (the mapper's output) or a list ['R=3', 'P=16'].

    Fixed factors; with `max_factors` (a dict, filled in place) also Timeloop's upper bounds
    'M<=8' (src/mapping/constraints.cpp, ParseMaxFactors ~line 1089). `>=` bounds have no
    accelsim counterpart."""
    items = text if isinstance(text, list) else re.split(r"[\s,]+", str(text).split("#")[0])
    out = {}
    for item in (str(i).strip() for i in items):
        if not item:
            continue
        bound = re.fullmatch(r"([A-Za-z_]\w*?)\s*<=\s*(\d+)", item) if max_factors is not None else None
        if bound:
            max_factors[bound.group(1)] = int(bound.group(2))
            continue
        match = re.fullmatch(r"([A-Za-z_]\w*?)\s*=?\s*(\d+)", item)
        if not match:
            raise err(f"cannot read factor '{item}'", file, where,
                      suggestion="write fixed factors, e.g. 'R=3 P=16'" + (
                          " or upper bounds (R<=3); lower bounds like R>=3 are not supported"
                          if max_factors is not None else " (bounds like R<=3 are not supported here)"))
        out[match.group(1)] = int(match.group(2))
    return out


def parse_permutation(value, file, where) -> tuple[list[str], list[str]]:
    """Timeloop permutation → (prefix, suffix), both INNER → OUTER.

    A string lists one dim per character; a list one dim per item. Timeloop's '_' splits the
    listed innermost dims (prefix) from the listed outermost ones (suffix)
    (timeloop src/mapping/constraints.cpp, Constraints::ParsePermutations, lines ~1204-1238)."""
    items = [str(v) for v in value] if isinstance(value, list) else [c for c in str(value).split("#")[0]
                                                                     if not c.isspace()]
    if items.count("_") > 1:
        raise err(f"permutation {value!r} has more than one '_'", file, where)
    if "_" in items:
        i = items.index("_")
        return items[:i], items[i + 1:]
    return items, []
