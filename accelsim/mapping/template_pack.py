"""Packing for the template kernel (mapping/template_kernel.py): a layer and a generic template's
orders, and an arch, as its arrays; and the kernel's result as the Mapping `dataflows.map_layer`
returns. The orders come from the template's own functions (dataflows.py), so the kernel only
makes the choices that need no order of their own."""
from __future__ import annotations

from functools import lru_cache
from itertools import permutations

import numpy as np

from ..counting.nest import AXIS_CODE
from ..counting.records import Nest, nest_loops
from ..ir.arch import Arch, Memory, Spatial
from ..ir.einsum import ROLES, Einsum
from ..ir.factors import divisors
from .dataflows import (
    DATAFLOWS,
    RELEVANCE_CLASSES,
    SIMPLE_TEMPLATES,
    _temporal_priority,
    dim_classes,
    map_layer,
)
from .mapping import LevelMapping, Loop, Mapping
from .template_kernel import (
    BEST,
    COMPUTE,
    M_BEST,
    MEMORY,
    SPATIAL,
    TemplateArch,
    TemplateLayer,
    lower_best,
    map_layer_kernel,
    template_scratch,
)

MAX_INT64_WORDS = 2 ** 62  # the traffic estimate must stay exact in int64 (see pack_layer)


def supported(dataflow: str) -> bool:
    """Is `dataflow` a template this kernel reproduces (the generic rule: no template hooks)?"""
    return dataflow in SIMPLE_TEMPLATES


@lru_cache(maxsize=4096)
def pack_layer(einsum: Einsum, dataflow: str) -> TemplateLayer | None:
    """The layer and the template's orders as arrays; None when the kernel cannot reproduce the
    template exactly (two tensors with one role, a non-positive coefficient, or a layer so large
    that the traffic estimate might leave int64): the caller then runs the Python template."""
    if not supported(dataflow):
        return None
    template = DATAFLOWS.get(dataflow)
    dims, roles = einsum.dims, einsum.roles
    if len(set(roles)) != len(roles) or any(r not in ROLES for r in roles):
        return None
    if any(term.coef < 1 for t in einsum.tensors for axis in t.axes for term in axis):
        return None
    if _traffic_bound(einsum) >= MAX_INT64_WORDS:
        return None
    index = {d: n for n, d in enumerate(dims)}

    def ids(names):
        return np.array([index[d] for d in names], dtype=np.int64)
    divs = [divisors(b) for b in einsum.bounds]
    divs_arr = np.zeros((len(dims), max(len(v) for v in divs)), dtype=np.int64)
    for d, v in enumerate(divs):
        divs_arr[d, :len(v)] = sorted(v)
    n_axes = max(len(t.axes) for t in einsum.tensors)
    n_terms = max(len(axis) for t in einsum.tensors for axis in t.axes)
    term_dim = np.zeros((len(roles), n_axes, n_terms), dtype=np.int64)
    term_coef = np.zeros((len(roles), n_axes, n_terms), dtype=np.int64)
    terms = np.zeros((len(roles), n_axes), dtype=np.int64)
    has_dim = np.zeros((len(roles), len(dims)), dtype=np.bool_)
    for ti, t in enumerate(einsum.tensors):
        for a, axis in enumerate(t.axes):
            terms[ti, a] = len(axis)
            for q, term in enumerate(axis):
                term_dim[ti, a, q], term_coef[ti, a, q] = index[term.dim], term.coef
        for d in t.dims:
            has_dim[ti, index[d]] = True
    y_pref, x_pref = template.axes(einsum)
    wide = [d for d in y_pref if d not in x_pref] + x_pref
    priority = _temporal_priority(einsum, template.priority(einsum))
    classes = dim_classes(einsum)
    groups = [[d for d in priority if d in classes[c]] for c in RELEVANCE_CLASSES]
    orders = [priority] + [[d for g in perm for d in g] for perm in permutations(groups)]
    held = [-1] + [roles.index(r) for r in ("weights", "inputs", "outputs") if r in roles]
    return TemplateLayer(
        np.array(einsum.bounds, dtype=np.int64), divs_arr, np.array([len(v) for v in divs], dtype=np.int64),
        np.array([len(t.axes) for t in einsum.tensors], dtype=np.int64), term_dim, term_coef, terms, has_dim,
        np.array([ROLES.index(r) for r in roles], dtype=np.int64), np.array([r == "outputs" for r in roles]),
        np.array([roles.index(r) if r in roles else -1 for r in ROLES], dtype=np.int64),
        np.array(held, dtype=np.int64), ids(priority), np.array([ids(o) for o in orders], dtype=np.int64),
        ids(y_pref), len(y_pref), ids(x_pref), len(x_pref), ids(wide), len(wide))


def _traffic_bound(einsum: Einsum) -> float:
    """An upper bound on the kernel's traffic estimate (and every product in it). A tensor's term is
    words · visits · (2 · reloads − 1) < 2 · words · visits · reloads; its tile spans at most
    Σ coef · ext ≤ (Σ coef) · Π ext points on each axis, and the loops above its keeper multiply
    to at most Π bounds / Π ext (the loops at and below the keeper and the fan-outs make the ext),
    so when no dim indexes two of its axes the term is below 2 · Π_axes(Σ coef) · MACs. Otherwise
    the tile is bounded by the tensor's points and the loops by the MACs."""
    total = 0.0
    for t in einsum.tensors:
        dims = [term.dim for axis in t.axes for term in axis]
        if len(dims) == len(set(dims)):
            total += 2.0 * float(np.prod([sum(term.coef for term in axis) for axis in t.axes])) * einsum.macs
        else:
            points = np.prod([1 + sum(term.coef * (einsum.bound[term.dim] - 1) for term in axis)
                              for axis in t.axes], dtype=float)
            total += 2.0 * points * einsum.macs
    return total


def pack_arch(arch: Arch) -> TemplateArch:
    """The arch's levels, capacities, fan-outs and keeps, as the kernel reads them."""
    n = len(arch.levels)
    kind = np.full(n, COMPUTE, dtype=np.int64)
    cap = np.full(n, -1, dtype=np.int64)
    fan_x, fan_y = np.ones(n, dtype=np.int64), np.ones(n, dtype=np.int64)
    keeps, forced = np.zeros((n, len(ROLES)), dtype=np.bool_), np.zeros((n, len(ROLES)), dtype=np.bool_)
    wide_bit = np.full(n, -1, dtype=np.int64)
    for i, level in enumerate(arch.levels):
        if isinstance(level, Memory):
            kind[i] = MEMORY
            cap[i] = -1 if level.capacity_words is None else level.capacity_words
            keeps[i] = [r in level.keeps for r in ROLES]
            constraint = arch.constraints.get(level.name)
            keep = set(constraint.keep) if constraint is not None else set()
            if level.name == arch.residency_level:
                keep |= {"inputs", "outputs"}
            forced[i] = [r in keep for r in ROLES]
        elif isinstance(level, Spatial):
            kind[i], fan_x[i], fan_y[i] = SPATIAL, level.x, level.y
    # dataflows._x_options: every fan-out but the innermost with rows and columns and a free x.
    fanouts = [i for i, level in enumerate(arch.levels[:-1]) if isinstance(level, Spatial)]
    bit = 0
    for i in fanouts[:-1]:
        level = arch.levels[i]
        constraint = arch.constraints.get(level.name)
        if level.x > 1 and level.y > 1 and not (constraint is not None and constraint.x[1] is not None):
            wide_bit[i], bit = bit, bit + 1
    memories = np.array([i for i, level in enumerate(arch.levels) if isinstance(level, Memory)], dtype=np.int64)
    return TemplateArch(kind, cap, fan_x, fan_y, keeps, forced, wide_bit, memories)


# ---------------------------------------------------------------------------------------------
# Python wrappers.

_AXIS_NAME = {code: name for name, code in AXIS_CODE.items()}


def packed_arch(arch: Arch, _memo={}) -> TemplateArch:  # noqa: B006 — one arch at a time is enough
    """pack_arch(arch), kept for the last arch asked (a sweep worker asks for one arch many times)."""
    held = _memo.get("arch")
    if held is None or held[0] is not arch:
        held = (arch, pack_arch(arch))
        _memo["arch"] = held
    return held[1]


MAX_LAYERS = 4096
_LOOPS: dict = {}  # (dim, bound, axis code) -> Loop: frozen, so one object serves every mapping


def _loop(dim: str, bound: int, axis: int) -> Loop:
    loop = _LOOPS.get((dim, bound, axis))
    if loop is None:
        if len(_LOOPS) >= MAX_LAYERS:
            _LOOPS.clear()
        loop = _LOOPS[(dim, bound, axis)] = Loop(dim, bound, _AXIS_NAME[axis])
    return loop


_LAYERS: dict = {}  # (id(einsum), dataflow, levels) -> (einsum, TemplateLayer, TemplateScratch)


def _packed_layer(einsum: Einsum, dataflow: str, n_levels: int):
    """pack_layer's result and the kernel's work arrays (each call overwrites them), kept by the
    einsum's identity: a sweep worker maps the same layer objects point after point, and hashing
    an Einsum costs more than the kernel's dispatch. The memo holds the einsum, so its id stays its."""
    key = (id(einsum), dataflow, n_levels)
    held = _LAYERS.get(key)
    if held is None or held[0] is not einsum:
        layer = pack_layer(einsum, dataflow)
        held = (einsum, layer, None if layer is None else template_scratch(layer, n_levels))
        if len(_LAYERS) >= MAX_LAYERS:
            _LAYERS.clear()
        _LAYERS[key] = held
    return held[1], held[2]


def template_mapping(arch: Arch, einsum: Einsum, dataflow: str) -> Mapping | None:
    """The Mapping `dataflows.map_layer(arch, einsum, dataflow)` returns, from the kernel; None
    if the kernel does not cover this template or layer (then call map_layer)."""
    layer, sc = _packed_layer(einsum, dataflow, len(arch.levels))
    if layer is None:
        return None
    map_layer_kernel(layer, packed_arch(arch), sc)
    return scratch_mapping(arch, einsum, dataflow, sc)


def scratch_mapping(arch: Arch, einsum: Einsum, dataflow: str, sc) -> Mapping:
    """The Mapping the kernel left in its scratch's BEST slot (map_layer_kernel has run on `sc`)."""
    dims = einsum.dims
    n, dim, bound, axis = (sc.s_n[BEST].tolist(), sc.s_dim[BEST].tolist(), sc.s_bound[BEST].tolist(),
                           sc.s_axis[BEST].tolist())
    bypass = sc.mask[M_BEST].tolist()
    levels = []
    for i, level in enumerate(arch.levels[:-1]):
        k = n[i]
        key = (level.name, dims, tuple(dim[i][:k]), tuple(bound[i][:k]), tuple(axis[i][:k]), tuple(bypass[i]))
        held = _LEVEL_MAPPINGS.get(key)
        if held is None:
            if len(_LEVEL_MAPPINGS) >= MAX_LAYERS:
                _LEVEL_MAPPINGS.clear()
            held = _LEVEL_MAPPINGS[key] = LevelMapping(
                level.name, tuple(_loop(dims[d], b, a) for d, b, a in zip(key[2], key[3], key[4])), _bypassed(key[5]))
        levels.append(held)
    return Mapping(tuple(levels), dataflow)


# (level name, dims, the level's loops' dim indices, bounds and axis codes, bypass mask) -> LevelMapping:
# frozen, so one object serves every mapping (a sweep's points share most levels but the outermost)
_LEVEL_MAPPINGS: dict = {}


@lru_cache(maxsize=64)
def _bypassed(mask: tuple) -> frozenset:
    """The roles a level's bypass mask (one bool per ROLES) names: one frozenset per mask."""
    return frozenset(r for k, r in enumerate(ROLES) if mask[k])


def template_nest(arch: Arch, einsum: Einsum, dataflow: str) -> Nest | None:
    """evaluate_nest's `nest` for the template's mapping, written by the kernel without a Mapping
    (what model/packed.nest_record(mapping/lower.lower(arch, einsum, map_layer(...))) gives);
    None if the kernel does not cover this template or layer."""
    layer, sc = _packed_layer(einsum, dataflow, len(arch.levels))
    if layer is None:
        return None
    arc = packed_arch(arch)
    map_layer_kernel(layer, arc, sc)
    loops = nest_loops(sc.s_dim.shape[1] * sc.s_dim.shape[2])
    keeps = np.zeros((len(arch.levels), len(einsum.roles)), dtype=np.bool_)
    n = lower_best(layer, arc, sc, *loops, keeps)
    return Nest(*(a[:n] for a in loops), n, keeps)


def map_layer_fast(arch: Arch, einsum: Einsum, dataflow: str) -> Mapping:
    """`dataflows.map_layer`, from the kernel where it covers the template (the same Mapping)."""
    return template_mapping(arch, einsum, dataflow) or map_layer(arch, einsum, dataflow)
