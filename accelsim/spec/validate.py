"""Turn raw YAML into validated spec models; every problem becomes one located `Problem`."""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ValidationError

from ..errors import Problem, SpecError, did_you_mean
from .files import allowed_roots, resolve_inside, short
from .yaml_io import SourcedDict, copy_tree, load_yaml_file, load_yaml_text, locate

MAX_EXTENDS_CHAIN = 32


def _model_at(model: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    """The model that `loc` points into (None: not a model's key)."""
    current = model
    for key in loc[:-1]:
        if isinstance(key, int) or current is None:
            continue
        field = _field_by_name(current, key)
        if field is None:
            return None
        current = _inner_model(field.annotation)
    return current


def _allowed_keys(model: type[BaseModel] | None) -> list[str]:
    """Field names (aliases where set) of `model`."""
    return [f.alias or name for name, f in model.model_fields.items()] if model is not None else []


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


def _clean_loc(loc: tuple, data=None) -> tuple:
    """`loc` without the validator names pydantic inserts ('function-before[...]'); a key of
    the data that looks like one (a user may write 'a[b]: 1') stays."""
    out, node = [], data
    for k in loc:
        if isinstance(node, (dict, list)):
            try:
                present = k in node if isinstance(node, dict) else isinstance(k, int) and -len(node) <= k < len(node)
            except TypeError:
                present = False
            if present:
                out.append(k)
                node = node[k]
                continue
        if isinstance(k, str) and "[" in k and "]" in k:
            continue
        out.append(k)
        node = None
    return tuple(out)


def validate_model(model: type[BaseModel], data, file: str | None = None):
    """Validate `data` against `model`; raise SpecError listing every problem."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = _clean_loc(err["loc"], data)
            src_file, line = locate(data, loc)
            key_path = ".".join(short(k, 40) for k in loc)
            allowed, suggestion = (), None
            if err["type"] == "extra_forbidden":
                inner = _model_at(model, loc)
                allowed = tuple(_allowed_keys(inner))
                message = f"unknown key '{short(loc[-1] if loc else '')}'"
                # a model may say what a key that is no near miss usually means (UNKNOWN_KEY_HINT)
                suggestion = (did_you_mean(loc[-1] if loc else "", allowed)
                              or getattr(inner, "UNKNOWN_KEY_HINT", None) or "remove it")
            elif err["type"] == "missing":
                message = "required key is missing"
                suggestion = f"add '{loc[-1] if loc else ''}'"
            elif err["type"] == "literal_error":
                expected = err.get("ctx", {}).get("expected", "")
                allowed = tuple(x.strip().strip("'") for x in expected.replace(" or ", ",").split(","))
                message = f"{short(repr(err['input']))} is not allowed"
                suggestion = did_you_mean(err["input"], allowed)
            else:
                message = err["msg"].removeprefix("Value error, ")
                if "input" in err and not isinstance(err["input"], (dict, list)):
                    message += f" (got {short(repr(err['input']))})"
            problems.append(Problem(message, src_file or file, line, key_path, allowed, suggestion))
        raise SpecError(problems) from None


# ----------------------------------------------------------------------------- overrides

def apply_overrides(data, overrides: list[str], origin: str = "--set"):
    """Apply 'dotted.path=value' overrides; list items may be named by index or by `name`."""
    items, problems = [], []
    for text in overrides:
        if "=" not in text:
            problems.append(Problem(f"override {short(text)!r} needs the form dotted.path=value", origin))
            continue
        path_text, value_text = text.split("=", 1)
        items.append((path_text, _override_value(value_text, origin) if value_text.strip() else None, None))
    if problems:
        raise SpecError(problems)
    return _apply_values(data, items, origin)


def _override_value(text: str, origin: str):
    """An override's value parsed as YAML, once per text and origin (a sweep applies the same few
    values to every arch variant); a copy, so that the tree it goes into never shares the cached
    one's lists and mappings."""
    return copy_tree(_parsed_value(text, origin))


@lru_cache(maxsize=1024)
def _parsed_value(text: str, origin: str):
    return load_yaml_text(text, origin)


def _apply_values(data, items, origin: str):
    """Set (dotted path, value, line) items in a copy of `data`; values are not re-parsed, so
    a `set:` value built from aliases is never expanded into text."""
    data = copy_tree(data)
    problems = []
    for path_text, value, line in items:
        if not isinstance(path_text, str) or not path_text.strip():
            problems.append(Problem(f"{short(path_text)!r} is not a dotted path", origin, line,
                                    allowed=("dotted.path: value, e.g. levels.GLB.size: 64KiB",)))
            continue
        try:
            _set_path(data, path_text.strip().split("."), value)
        except KeyError as exc:
            problems.append(Problem(str(exc.args[0]), origin, line, short(path_text)))
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
                raise KeyError(f"no key '{short(part)}' here; keys: {short(', '.join(map(str, node)), 400)}"
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

def load_with_extends(path, seen: tuple = (), roots: tuple[str, ...] | None = None,
                      _referrer: tuple = (None, None)) -> SourcedDict:
    """Load a YAML file; if it has `extends: base.yaml`, deep-merge it over its base.

    Bases must lie in the first file's folder tree or in a path the user allowed
    (`files.allow_paths`, the CLI's --allow-path); `roots` overrides both."""
    path = Path(path)
    if roots is None:
        roots = allowed_roots(path)
    ref_file, ref_line = _referrer
    data = load_yaml_file(path, ref_line, "extends" if ref_file else "", ref_file)
    base_name = data.get("extends")
    if base_name is None:
        return data
    line = data.line_of("extends")
    if not isinstance(base_name, str) or not base_name.strip():
        raise SpecError(Problem(f"extends must name a file, got {short(repr(base_name))}", str(path), line,
                                "extends", allowed=("a path to a YAML file, relative to this file",)))
    if len(seen) >= MAX_EXTENDS_CHAIN:
        raise SpecError(Problem(f"more than {MAX_EXTENDS_CHAIN} files extend one another", str(path), line,
                                "extends", allowed=(f"chains of at most {MAX_EXTENDS_CHAIN} files",)))
    base_path = resolve_inside(path.parent / base_name, roots, str(path), line, "extends", base_name)
    if base_path in seen or base_path == Path(os.path.realpath(path)):
        raise SpecError(Problem("extends forms a cycle", str(path), line, "extends"))
    base = load_with_extends(base_path, seen + (Path(os.path.realpath(path)),), roots, (str(path), line))
    settings = data.pop("set", None) or {}
    merged = _merge(base, data)
    merged.pop("extends", None)
    if settings:
        if not isinstance(settings, dict):
            raise SpecError(Problem("'set' must map dotted paths to values", str(path), data.line, "set"))
        merged = _apply_values(merged, [(k, v, settings.line_of(k)) for k, v in settings.items()], str(path))
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
