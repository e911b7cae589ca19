"""The spec reference, generated from the pydantic schema (docs/spec-reference.md)."""
from __future__ import annotations

import typing

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from .spec import schema

SECTIONS = [
    ("Architecture file", [schema.ArchSpec, schema.Technology, schema.OperatingPoint,
                           schema.VoltageFrequency, schema.VFPoint, schema.LevelSpec,
                           schema.MemorySpec, schema.AccessEnergies, schema.SpatialSpec,
                           schema.ComputeSpec, schema.ComputeEnergies]),
    ("Workload file", [schema.WorkloadSpec, schema.LayerSpec, schema.EinsumSpec]),
    ("Mapping file", [schema.MappingSpec, schema.LevelMappingSpec, schema.SpatialLoops]),
]


def _type_name(annotation) -> str:
    text = str(annotation).replace("typing.", "").replace("accelsim.spec.schema.", "")
    text = text.replace("<class '", "").replace("'>", "")
    if hasattr(annotation, "__metadata__"):  # Annotated quantity types: show the base type
        return _type_name(typing.get_args(annotation)[0])
    return text


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
                out.append(f"| `{key}` | `{_type_name(field.annotation)}` | {req} | {desc} |")
            out.append("")
    return "\n".join(out)
