"""Shared pieces of the Timeloop importer: YAML reading with Timeloop's tags, SpecErrors, data-space
names, and the factor / permutation text Timeloop uses in mappings and constraints."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

from ..errors import Problem, SpecError

ROLES = {"weights": "weights", "inputs": "inputs", "outputs": "outputs"}
ALL_ROLES = ("weights", "inputs", "outputs")


class _Loader(yaml.SafeLoader):
    """Timeloop's tags (!Container, !Component, …) load as mappings with a `_tag` key."""


def _tagged(loader, suffix, node):
    if isinstance(node, yaml.MappingNode):
        return {"_tag": suffix, **loader.construct_mapping(node, deep=True)}
    return {"_tag": suffix}


_Loader.add_multi_constructor("!", _tagged)


def err(message, file, key="", allowed=(), suggestion=None) -> SpecError:
    return SpecError(Problem(message, str(file), None, key, tuple(allowed), suggestion))


def read_yaml(path) -> dict:
    try:
        data = yaml.load(Path(path).read_text(), Loader=_Loader)
    except (OSError, yaml.YAMLError) as exc:
        raise err(f"cannot read Timeloop file: {exc}", path) from None
    if not isinstance(data, dict):
        raise err("a Timeloop spec must be a mapping", path)
    return data


def role(name: str, file, key="problem.shape.data_spaces") -> str:
    r = ROLES.get(str(name).lower())
    if r is None:
        raise err(f"data space '{name}' is not one of Weights, Inputs, Outputs", file, key,
                  allowed=("Weights", "Inputs", "Outputs"))
    return r


def parse_factors(text, file, where) -> dict[str, int]:
    """'R=3 P=16', 'R=3,P=16', 'R3 P16' (the mapper's output) or a list ['R=3', 'P=16'].

    Only fixed factors: Timeloop's `<=` / `>=` bounds have no accelsim counterpart."""
    items = text if isinstance(text, list) else re.split(r"[\s,]+", str(text).split("#")[0])
    out = {}
    for item in (str(i).strip() for i in items):
        if not item:
            continue
        match = re.fullmatch(r"([A-Za-z_]\w*?)\s*=?\s*(\d+)", item)
        if not match:
            raise err(f"cannot read factor '{item}'", file, where,
                      suggestion="write fixed factors, e.g. 'R=3 P=16' (bounds like R<=3 are not supported)")
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
