"""YAML loading that remembers where every key came from and rejects duplicate keys.

PyYAML's safe_load keeps the last of two duplicate keys silently; this loader reports
them instead. Mappings load as `SourcedDict` and sequences as `SourcedList`, which carry
the file and the line of each key or item so validation errors can point at them.
"""
from __future__ import annotations

from pathlib import Path

import yaml

from ..errors import Problem, SpecError


class SourcedDict(dict):
    """A dict that knows the file and line of each of its keys."""

    file: str | None = None
    line: int | None = None
    key_lines: dict

    def line_of(self, key) -> int | None:
        return self.key_lines.get(key, self.line)


class SourcedList(list):
    """A list that knows the file and line of each of its items."""

    file: str | None = None
    line: int | None = None
    item_lines: list

    def line_of(self, index: int) -> int | None:
        if 0 <= index < len(self.item_lines):
            return self.item_lines[index]
        return self.line


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that builds Sourced containers and records duplicate keys."""

    def __init__(self, stream, file: str | None):
        super().__init__(stream)
        self.file = file
        self.duplicates: list[Problem] = []


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> SourcedDict:
    loader.flatten_mapping(node)
    out = SourcedDict()
    out.file, out.line, out.key_lines = loader.file, node.start_mark.line + 1, {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if key in out:
            loader.duplicates.append(Problem(
                f"duplicate key '{key}' (first given on line {out.key_lines[key]})",
                loader.file, line, str(key), suggestion="remove one of the two entries"))
            continue
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = line
    return out


def _construct_sequence(loader: _StrictLoader, node: yaml.SequenceNode) -> SourcedList:
    out = SourcedList(loader.construct_object(child, deep=True) for child in node.value)
    out.file, out.line = loader.file, node.start_mark.line + 1
    out.item_lines = [child.start_mark.line + 1 for child in node.value]
    return out


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def load_yaml_text(text: str, file: str | None = None):
    """Parse YAML text; syntax errors and duplicate keys become a SpecError."""
    loader = _StrictLoader(text, file)
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise SpecError(Problem(f"YAML syntax error: {exc.problem}", file,
                                mark.line + 1 if mark else None)) from None
    finally:
        loader.dispose()
    if loader.duplicates:
        raise SpecError(loader.duplicates)
    return data


def load_yaml_file(path) -> SourcedDict:
    """Load one YAML file whose top level must be a mapping."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise SpecError(Problem(f"cannot read file: {exc.strerror}", str(path))) from None
    data = load_yaml_text(text, str(path))
    if not isinstance(data, dict):
        raise SpecError(Problem("the top level must be a mapping of keys to values", str(path), 1))
    return data


def locate(data, path: tuple) -> tuple[str | None, int | None]:
    """File and line of the deepest node of `path` that exists in `data`."""
    file, line = getattr(data, "file", None), getattr(data, "line", None)
    node = data
    for key in path:
        if isinstance(node, SourcedDict) and key in node:
            file, line = node.file, node.line_of(key)
            node = node[key]
        elif isinstance(node, SourcedList) and isinstance(key, int) and 0 <= key < len(node):
            file, line = node.file, node.line_of(key)
            node = node[key]
        else:
            break
    return file, line
