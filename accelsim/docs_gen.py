"""The spec reference, generated from the pydantic schema (docs/spec-reference.md)."""
from __future__ import annotations

import typing

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from . import units
from .spec import quantities, schema

SECTIONS = [
    ("Architecture file", [schema.ArchSpec, schema.Technology, schema.OperatingPoint,
                           schema.VoltageFrequency, schema.VFPoint, schema.LevelSpec,
                           schema.MemorySpec, schema.AccessEnergies, schema.SpatialSpec,
                           schema.ComputeSpec, schema.ComputeEnergies, schema.FormatSpec,
                           schema.OverheadSpec, schema.DomainSpec, schema.ClaimSpec, schema.ClaimConditions,
                           schema.ResidencySpec, schema.SparseMemorySpec, schema.RankSpec,
                           schema.SparseActionSpec, schema.SparseEnergies, schema.SparseComputeSpec,
                           schema.SparseComputeEnergies]),
    ("Workload file", [schema.WorkloadSpec, schema.LayerSpec, schema.DensitySpec, schema.TensorSparsitySpec,
                       schema.EinsumSpec,
                       schema.VectorOpSpec]),
    ("Mapping file", [schema.MappingSpec, schema.LevelMappingSpec, schema.SpatialLoops]),
    ("Mapper constraints file", [schema.ConstraintsSpec, schema.LevelConstraintSpec, schema.AxisConstraint,
                                 schema.MapperSettingsSpec]),
]


_QUANTITY_NAMES = {
    "SizeBitsOrUnlimited": "size ('64KiB', '512b') or 'unlimited'", "SizeBits": "size ('64KiB')",
    "FrequencyHz": "frequency ('1GHz')", "VoltageV": "voltage ('0.8V')", "EnergyPJ": "energy ('2.1pJ')",
    "PowerW": "power ('1mW')", "NodeNm": "length ('45nm')", "BandwidthText": "bandwidth ('16 words/cycle')",
}


_PARSER_NAMES = {
    units.parse_size_bits: "size ('64KiB')", units.parse_frequency_hz: "frequency ('1GHz')",
    units.parse_voltage_v: "voltage ('0.8V')", units.parse_energy_pj: "energy ('2.1pJ')",
    units.parse_power_w: "power ('1mW')", units.parse_node_nm: "length ('45nm')",
}


def _field_type(field) -> str:
    """A field's type as a reader should write it; quantities show their unit."""
    for meta in field.metadata:
        name = _PARSER_NAMES.get(getattr(meta, "func", None))
        if name:
            return name
    return _type_name(field.annotation)


def _type_name(annotation) -> str:
    for name, alias in vars(quantities).items():
        if name in _QUANTITY_NAMES and annotation == alias:
            return _QUANTITY_NAMES[name]
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Union:
        inner = [a for a in args if a is not type(None)]
        return " or ".join(_type_name(a) for a in inner)
    if origin is typing.Literal:
        return " \\| ".join(repr(a) for a in args)
    if origin in (list, dict):
        return f"{origin.__name__}[{', '.join(_type_name(a) for a in args)}]"
    if origin is typing.Annotated:
        return _type_name(args[0])
    return getattr(annotation, "__name__", str(annotation))


def spec_reference() -> str:
    out = ["# Spec reference", "",
           "Generated from the schema in `accelsim/spec/schema.py` by `accelsim info schema`;",
           "a test checks that this file is current. Unknown keys are errors.", ""]
    for title, models in SECTIONS:
        out += [f"## {title}", ""]
        for model in models:
            out += [f"### {model.__name__}", ""]
            doc = (model.__doc__ or "").strip()
            if doc and not doc.startswith("Usage docs") and model.__doc__ is not BaseModel.__doc__:
                out += [doc, ""]
            out += ["| key | type | required / default | meaning |", "|---|---|---|---|"]
            for name, field in model.model_fields.items():
                key = field.alias or name
                if field.is_required():
                    req = "required"
                elif field.default is PydanticUndefined or field.default_factory is not None:
                    req = "optional (empty)"
                else:
                    req = f"default `{field.default!r}`"
                desc = (field.description or "").replace("|", "\\|")
                out.append(f"| `{key}` | `{_field_type(field)}` | {req} | {desc} |")
            out.append("")
    return "\n".join(out)
