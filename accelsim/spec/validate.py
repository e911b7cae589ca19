"""Turn raw YAML into validated spec models; every problem becomes one located `Problem`."""
from __future__ import annotations

import copy
from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError

from ..errors import Problem, SpecError, did_you_mean
from .yaml_io import SourcedDict, load_yaml_file, load_yaml_text, locate


def _allowed_keys(model: type[BaseModel], loc: tuple) -> list[str]:
    """Field names (aliases where set) of the model that `loc` points into."""
    current = model
    for key in loc[:-1]:
        if isinstance(key, int) or current is None:
            continue
        field = _field_by_name(current, key)
        if field is None:
            return []
        current = _inner_model(field.annotation)
    if current is None:
        return []
    return [f.alias or name for name, f in current.model_fields.items()]


def _field_by_name(model, key):
    for name, field in model.model_fields.items():
        if key in (name, field.alias):
            return field
    return None


def _inner_model(annotation):
    """The BaseModel inside Optional[...], list[...] or dict[str, ...]."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _clean_loc(loc: tuple) -> tuple:
    # pydantic inserts validator names such as 'function-before[...]' into locations.
    return tuple(k for k in loc if not (isinstance(k, str) and ("[" in k and "]" in k)))


def validate_model(model: type[BaseModel], data, file: str | None = None):
    """Validate `data` against `model`; raise SpecError listing every problem."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = _clean_loc(err["loc"])
            src_file, line = locate(data, loc)
            key_path = ".".join(str(k) for k in loc)
            allowed, suggestion = (), None
            if err["type"] == "extra_forbidden":
                allowed = tuple(_allowed_keys(model, loc))
                message = f"unknown key '{loc[-1]}'"
                suggestion = did_you_mean(loc[-1], allowed) or "remove it"
            elif err["type"] == "missing":
                message = "required key is missing"
                suggestion = f"add '{loc[-1]}'"
            elif err["type"] == "literal_error":
                expected = err.get("ctx", {}).get("expected", "")
                allowed = tuple(x.strip().strip("'") for x in expected.replace(" or ", ",").split(","))
                message = f"{err['input']!r} is not allowed"
                suggestion = did_you_mean(err["input"], allowed)
            else:
                message = err["msg"].removeprefix("Value error, ")
                if "input" in err and not isinstance(err["input"], (dict, list)):
                    message += f" (got {err['input']!r})"
            problems.append(Problem(message, src_file or file, line, key_path, allowed, suggestion))
        raise SpecError(problems) from None


# ----------------------------------------------------------------------------- overrides

def apply_overrides(data, overrides: list[str], origin: str = "--set"):
    """Apply 'dotted.path=value' overrides; list items may be named by index or by `name`."""
    data = copy.deepcopy(data)
    problems = []
    for text in overrides:
        if "=" not in text:
            problems.append(Problem(f"override {text!r} needs the form dotted.path=value", origin))
            continue
        path_text, value_text = text.split("=", 1)
        value = load_yaml_text(value_text, origin) if value_text.strip() else None
        try:
            _set_path(data, path_text.strip().split("."), value)
        except KeyError as exc:
            problems.append(Problem(str(exc.args[0]), origin, None, path_text))
    if problems:
        raise SpecError(problems)
    return data


def _set_path(node, parts: list[str], value):
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, list):
            index, body_key = _list_index(node, part)
            if last:
                node[index] = value
            else:
                node = node[index] if body_key is None else node[index][body_key]
        elif isinstance(node, dict):
            if last:
                node[part] = value
            elif part in node:
                node = node[part]
            else:
                hint = did_you_mean(part, node)
                raise KeyError(f"no key '{part}' here; keys: {', '.join(map(str, node))}"
                               + (f"; {hint}" if hint else ""))
        else:
            raise KeyError(f"cannot descend into '{part}': the value there is not a mapping or list")


def _named_body(item):
    """The dict holding `name`: the item itself, or for level entries {memory: {...}} its body."""
    if isinstance(item, dict) and "name" in item:
        return item, None
    if isinstance(item, dict) and len(item) == 1:
        key, inner = next(iter(item.items()))
        if isinstance(inner, dict) and "name" in inner:
            return inner, key
    return None, None


def _list_index(items: list, part: str) -> tuple[int, str | None]:
    """Index of a list item by number or by its `name` (and the key of a level's body)."""
    if part.lstrip("-").isdigit():
        index = int(part)
        if not -len(items) <= index < len(items):
            raise KeyError(f"index {index} is out of range (the list has {len(items)} items)")
        return index, None
    names = []
    for i, item in enumerate(items):
        body, key = _named_body(item)
        if body is not None:
            names.append(str(body["name"]))
            if body["name"] == part:
                return i, key
    hint = did_you_mean(part, names)
    raise KeyError(f"no list item named '{part}'; names: {', '.join(names)}" + (f"; {hint}" if hint else ""))


# ----------------------------------------------------------------------------- extends

def _plain(value):
    """Sourced containers as plain dicts and lists, for dumping."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _yaml_text(value) -> str:
    return yaml.safe_dump(_plain(value), default_flow_style=True).strip().removesuffix("...").strip()


def load_with_extends(path, seen: tuple = ()) -> SourcedDict:
    """Load a YAML file; if it has `extends: base.yaml`, deep-merge it over its base."""
    path = Path(path)
    data = load_yaml_file(path)
    base_name = data.get("extends")
    if base_name is None:
        return data
    base_path = (path.parent / str(base_name)).resolve()
    if base_path in seen:
        raise SpecError(Problem("extends forms a cycle", str(path), data.line_of("extends"), "extends"))
    base = load_with_extends(base_path, seen + (path.resolve(),))
    settings = data.pop("set", None) or {}
    merged = _merge(base, data)
    merged.pop("extends", None)
    if settings:
        if not isinstance(settings, dict):
            raise SpecError(Problem("'set' must map dotted paths to values", str(path), data.line, "set"))
        merged = apply_overrides(merged, [f"{k}={_yaml_text(v)}" for k, v in settings.items()], str(path))
    return merged


def _merge(base, override):
    if isinstance(base, dict) and isinstance(override, dict):
        out = SourcedDict(base)
        out.file, out.line = override.file, override.line
        out.key_lines = dict(getattr(base, "key_lines", {}))
        for key, value in override.items():
            out[key] = _merge(base[key], value) if key in base else value
            out.key_lines[key] = override.line_of(key)
        return out
    return override


def line_in_file(path: str | None, key_path: tuple) -> int | None:
    """The line of a key in a spec file (through `extends:`), for an error found after loading."""
    if path is None:
        return None
    return locate(load_with_extends(path), key_path)[1]
