"""The keys accelsim reads in Timeloop v0.4 files, the keys it deliberately drops, and a check
that refuses every other key (with the allowed keys and a did-you-mean) and every value of the
wrong shape, at file:line, before any conversion runs (issue 19: `Depth: 64` used to import as
an unlimited buffer).

Known keys come from two places: what the importer reads, and what the public reference cases
(/work/shared/timeloop_refcases: the Timeloop/Accelergy exercises) write — a key a real Timeloop
input uses is by definition known. Each dropped key says why it changes nothing accelsim models.
Timeloop v3 spells some keys with hyphens (`multiple-buffering`); only the two the importer reads
in both spellings (`cluster-size`, `read-write`) are known, the others get a did-you-mean.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import Problem, did_you_mean
from ..spec.files import short

# ----------------------------------------------------------------------------- schema language

@dataclass(frozen=True)
class Map:
    """A mapping with these keys. `read`: key → schema of the value (None: any value);
    `dropped`: keys accepted and ignored, each with why; `variables`: extra key names allowed
    (e.g. a problem's dimension names), found at check time."""
    read: dict
    dropped: dict = field(default_factory=dict)
    name: str = "mapping"
    required: tuple = ()


@dataclass(frozen=True)
class ListOf:
    item: object


@dataclass(frozen=True)
class Names:
    """A mapping whose keys are names the user chooses (data spaces, dims), each valued `item`."""
    item: object


@dataclass(frozen=True)
class Leaf:
    """A scalar: 'int' (an integer or a string of one), 'num' (a number or a numeric string),
    'str' (any scalar), 'bool'. `or_list`: a list of such scalars is accepted too."""
    kind: str
    or_list: bool = False


INT, NUM, TEXT, BOOL = Leaf("int"), Leaf("num"), Leaf("str"), Leaf("bool")
TEXTS = Leaf("str", or_list=True)

# ----------------------------------------------------------------------------- component attributes

_ESTIMATOR = "Accelergy's energy/area estimators read it; accelsim takes per-action energies from the ERT"
_SPARSE = "Sparseloop metadata/compression attribute; accelsim models dense tensors (as Timeloop does " \
          "without sparse_optimizations)"
_MAPPER = "a Timeloop mapper filter on candidate mappings, not a property of the hardware"
ATTRIBUTES = Map(
    read={
        "depth": INT, "width": INT, "datawidth": INT, "word-bits": INT, "word_bits": INT, "block_size": INT,
        "cluster_size": INT, "cluster-size": INT, "multiple_buffering": NUM,
        "read_bandwidth": NUM, "write_bandwidth": NUM, "shared_bandwidth": NUM,
        "multiplier_width": INT, "meshX": INT, "meshY": INT, "global_cycle_seconds": Leaf("positive"), "technology": TEXT,
    },
    dropped={
        # n_banks: an Accelergy attribute the CACTI/Aladdin plug-ins use for a buffer's energy and
        # area; Timeloop's nest analysis does not use it for counts or cycles (see timeloop_arch).
        "n_banks": _ESTIMATOR, "n_rdwr_ports": _ESTIMATOR, "nports": _ESTIMATOR, "num_ports": _ESTIMATOR,
        "adder_width": _ESTIMATOR, "type": _ESTIMATOR, "update_fifo_depth": _ESTIMATOR,
        "has_power_gating": _ESTIMATOR, "power_gated_at": _ESTIMATOR, "version": "a spec version tag",
        "metadata_counter_width": _SPARSE, "metadata_datawidth": _SPARSE, "metadata_storage_depth": _SPARSE,
        "metadata_storage_width": _SPARSE, "compression_supported": _SPARSE, "decompression_supported": _SPARSE,
        "reduction_supported": _SPARSE,
        "allow_overbooking": _MAPPER, "min_utilization": _MAPPER,
        # The exercises' templates pass their variables down as container attributes; the flattened
        # file has them substituted already.
        "DATAWIDTH": "a template variable", "INPUT_WEIGHT_DATAWIDTH": "a template variable",
        "PSUM_DATAWIDTH": "a template variable",
    }, name="attributes")

_OPEN = None  # any value: bodies the importer checks itself (constraint targets) or never reads
# Constraint targets: mappings whose keys and values timeloop_constraints checks itself.
TARGET = Names(_OPEN)
TARGETS = ListOf(TARGET)
NODE_CONSTRAINTS = Map({"dataspace": TARGET, "spatial": TARGET, "temporal": TARGET}, name="constraints")
_NOT_READ = "accelsim does not read it"
NODE = Map(
    read={"_tag": TEXT, "name": TEXT, "class": TEXT, "attributes": ATTRIBUTES, "constraints": NODE_CONSTRAINTS,
          "sparse_optimizations": _OPEN, "spatial": Map({"meshX": INT, "meshY": INT}, name="spatial"),
          "nodes": None},  # set below (recursive)
    dropped={"subclass": "Accelergy's plug-in subclass, for its energy estimate",
             "required_actions": "the actions Accelergy must estimate", "enabled": "a template switch"},
    name="node")
NODE.read["nodes"] = ListOf(NODE)
LOCAL = Map(read={"name": TEXT, "class": TEXT, "attributes": ATTRIBUTES, "sparse_optimizations": _OPEN},
            dropped=NODE.dropped, name="local")
SUBTREE = Map(read={"name": TEXT, "attributes": ATTRIBUTES, "local": ListOf(LOCAL), "subtree": None}, name="subtree")
SUBTREE.read["subtree"] = ListOf(SUBTREE)
ARCHITECTURE = Map({"version": TEXT, "nodes": ListOf(NODE), "subtree": ListOf(SUBTREE)}, name="architecture")

DATA_SPACE = Map({"name": TEXT, "projection": ListOf(ListOf(ListOf(TEXT))), "read_write": BOOL, "read-write": BOOL},
                 name="data space", required=("name", "projection"))
SHAPE = Map({"name": TEXT, "dimensions": ListOf(TEXT), "data_spaces": ListOf(DATA_SPACE),
             "coefficients": ListOf(Map({"name": TEXT, "default": NUM}, name="coefficient", required=("name",)))},
            name="shape", required=("dimensions", "data_spaces"))
DENSITY = Map({"density": NUM, "distribution": TEXT},
              dropped={"band_width": _SPARSE, "workload_tensor_size": _SPARSE}, name="density")
# problem.instance's own keys (dimension and coefficient names) are checked against the shape in
# timeloop.convert_problem; here only their values.
INSTANCE = "instance"
PROBLEM = Map({"version": TEXT, "shape": SHAPE, "instance": INSTANCE}, name="problem")

MAPPING_ENTRY = Map({"target": TEXT, "type": TEXT, "factors": TEXTS, "permutation": TEXTS, "split": INT,
                     "keep": ListOf(TEXT), "bypass": ListOf(TEXT)}, name="mapping entry")
_SEARCH = "a setting of Timeloop's search (threads, logging, termination); accelsim's mapper has its own"
MAPPER = Map(
    read={"algorithm": TEXT, "optimization_metric": _OPEN, "optimization_metrics": ListOf(TEXT)},
    dropped={k: _SEARCH for k in (
        "version", "diagnostics", "live_status", "num_threads", "timeout", "victory_condition", "search_size",
        "max_permutations_per_if_visit", "max_temporal_loops_in_a_mapping", "emit_whoop_nest", "filter_revisits",
        "log_interval", "log_oaves", "log_oaves_mappings", "log_stats", "log_suboptimal", "out_prefix",
        "penalize_consecutive_bypass_fails", "sync_interval")},
    name="mapper")
ERT = Map({"version": TEXT, "tables": ListOf(Map({"name": TEXT, "actions": ListOf(Map(
    {"name": TEXT, "energy": NUM}, dropped={"arguments": "action arguments; accelsim charges one energy per action"},
    name="action", required=("name", "energy")))}, name="ERT table", required=("name", "actions")))}, name="ERT")
ART = Map({"version": TEXT, "tables": ListOf(Map({"name": TEXT, "area": NUM}, name="ART table"))}, name="ART")

TOP = Map(
    read={"architecture": ARCHITECTURE, "architecture_constraints": Map({"targets": TARGETS}, name="constraints"),
          "problem": PROBLEM, "mapping": ListOf(MAPPING_ENTRY), "mapper": MAPPER,
          "mapspace_constraints": Map({"version": TEXT, "targets": TARGETS}, name="constraints"),
          "mapspace": Map({"version": TEXT, "targets": TARGETS, "constraints": TARGETS},
                          dropped={"template": "Timeloop's mapspace template (uber); accelsim searches its own"},
                          name="mapspace"),
          "ERT": ERT, "sparse_optimizations": _OPEN},
    dropped={"ART": "areas; accelsim estimates areas from its technology table instead (docs/area.md)",
             "compound_components": "Accelergy's component definitions: energies come from the ERT",
             "components": "Accelergy's component definitions: energies come from the ERT",
             "constraints": "the exercises' unused constraint list (pass constraints with --constraints)",
             "globals": "Accelergy plug-in and environment settings",
             "variables": "template variables, substituted by Timeloop's front end",
             "dumped_by_timeloop_front_end": "a marker the front end writes"},
    name="Timeloop file")


# ----------------------------------------------------------------------------- the check

_KIND_WORDS = {"int": "an integer", "num": "a number", "positive": "a positive number", "str": "a name or number",
               "bool": "true or false"}


def _leaf_ok(kind: str, value) -> bool:
    """Whether `value` is what the importer's int() / float() / str() of it expects."""
    if kind == "bool" or isinstance(value, bool):
        return kind in ("bool", "str") and isinstance(value, bool)
    if value is None or isinstance(value, (dict, list)):
        return False
    if kind == "str":
        return True
    try:
        number = float(value)
        if number != number or abs(number) == float("inf"):
            return False
        if kind == "int":
            return number.is_integer() if isinstance(value, float) else int(value) is not None
        return number > 0 if kind == "positive" else True
    except (TypeError, ValueError, OverflowError):
        return False


def check(data, schema, file, path: tuple = (), problems: list | None = None, at: int | None = None) -> list[Problem]:
    """Every unknown key and wrongly shaped value in `data` under `schema`, as Problems."""
    problems = [] if problems is None else problems
    if schema is None or len(problems) >= 50:
        return problems
    where = ".".join(str(p) for p in path)

    def line_of(container, key):
        return container.line_of(key) if hasattr(container, "line_of") else None

    def add(message, line, key_path=where, allowed=(), suggestion=None):
        problems.append(Problem(message, str(file), line, key_path, tuple(allowed), suggestion))

    line = getattr(data, "line", None) or at  # a scalar's line: that of its key or list item
    if schema == INSTANCE:  # dimension and coefficient bounds, and `densities`
        if not isinstance(data, dict):
            add(f"expected a mapping of dimensions to bounds, found {short(repr(data), 60)}", line)
            return problems
        for key, value in data.items():
            if key != "densities":
                check(value, NUM, file, path + (key,), problems, line_of(data, key))
            elif not isinstance(value, dict):
                add(f"expected a mapping of data spaces to densities, found {short(repr(value), 60)}",
                    line_of(data, key), f"{where}.densities")
            else:
                for name, density in value.items():
                    check(density, NUM if not isinstance(density, dict) else DENSITY, file,
                          path + (key, name), problems, line_of(value, name))
        return problems
    if isinstance(schema, Leaf):
        if schema.or_list and isinstance(data, list):
            for i, item in enumerate(data):
                check(item, Leaf(schema.kind), file, path + (i,), problems, line_of(data, i))
        elif not _leaf_ok(schema.kind, data):
            add(f"expected {_KIND_WORDS[schema.kind]}, found {short(repr(data), 60)}", line, allowed=(
                _KIND_WORDS[schema.kind] + (" or a list of them" if schema.or_list else ""),))
        return problems
    if isinstance(schema, ListOf):
        if not isinstance(data, list):
            add(f"expected a list, found {short(repr(data), 60)}", line)
            return problems
        for i, item in enumerate(data):
            check(item, schema.item, file, path + (i,), problems, line_of(data, i))
        return problems
    if not isinstance(data, dict):
        add(f"expected a {schema.name if isinstance(schema, Map) else 'mapping'}, found {short(repr(data), 60)}",
            line)
        return problems
    if isinstance(schema, Names):
        for key, value in data.items():
            check(value, schema.item, file, path + (key,), problems, line_of(data, key))
        return problems
    for key in schema.required:
        if key not in data:
            add(f"the {schema.name} has no `{key}`", line, allowed=tuple(f"{k}: ..." for k in schema.required))
    allowed = tuple(schema.read) + tuple(schema.dropped)
    shown = tuple(k for k in allowed if k != "_tag")
    for key, value in data.items():
        if key in schema.read:
            check(value, schema.read[key], file, path + (key,), problems, line_of(data, key))
        elif key not in schema.dropped:
            add(f"unknown {schema.name} key '{short(key, 60)}'", line_of(data, key), ".".join(map(str, path + (key,))),
                allowed=shown, suggestion=did_you_mean(key, shown))
    return problems
