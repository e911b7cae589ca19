"""YAML loading that remembers where every key came from and rejects duplicate keys.

PyYAML's safe_load keeps the last of two duplicate keys silently; this loader reports
them instead. Mappings load as `SourcedDict` and sequences as `SourcedList`, which carry
the file and the line of each key or item so validation errors can point at them.

Every input is hostile: besides the file checks of `files.py` (size, regular file, UTF-8,
control characters), the loader refuses nesting deeper than `MAX_DEPTH`, aliases that
expand the document by more than `MAX_ALIAS_EXPANSION` nodes (billion laughs) or refer to
the node that contains them, integers outside 64 bits, and keys that are lists or mappings.
Each is a SpecError at file:line; nothing else escapes (a RecursionError or a constructor's
ValueError is turned into one too).
"""
from __future__ import annotations

import copy
from pathlib import Path

import yaml

from ..errors import Problem, SpecError
from .files import check_characters, read_text, short

MAX_DEPTH = 64
MAX_ALIAS_EXPANSION = 100_000
MAX_INT_DIGITS = 100
INT_RANGE = (-(2**63), 2**63 - 1)


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


_ATOMS = frozenset((str, int, float, bool, type(None)))


def copy_tree(node, memo: dict | None = None):
    """copy.deepcopy(node) for a loaded spec (dicts, lists, SourcedDict and SourcedList with their
    line maps, scalars), several times faster: a sweep builds each arch variant from a copy of its
    parsed file. A node met twice (a YAML alias) is copied once and stays shared, as deepcopy keeps
    it; any other type goes to deepcopy."""
    kind = type(node)
    if kind in _ATOMS:
        return node
    if memo is None:
        memo = {}
    held = memo.get(id(node))
    if held is not None:
        return held
    if kind is dict or kind is SourcedDict:
        new = memo[id(node)] = kind()
        for key, value in node.items():
            new[copy_tree(key, memo)] = copy_tree(value, memo)
    elif kind is list or kind is SourcedList:
        new = memo[id(node)] = kind()
        new.extend(copy_tree(value, memo) for value in node)
    else:
        return copy.deepcopy(node, memo)
    attributes = getattr(node, "__dict__", None)  # file, line, key_lines / item_lines
    if attributes:
        new.__dict__.update({name: copy_tree(value, memo) for name, value in attributes.items()})
    return new


class _Refused(Exception):
    """A hostile construct found while loading; carries its Problem."""

    def __init__(self, problem: Problem):
        super().__init__(problem.message)
        self.problem = problem


def _line(node_or_event) -> int | None:
    mark = getattr(node_or_event, "start_mark", None)
    return mark.line + 1 if mark is not None else None


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that builds Sourced containers, records duplicate keys and bounds the input."""

    def __init__(self, stream, file: str | None):
        super().__init__(stream)
        self.file = file
        self.duplicates: list[Problem] = []
        self.path: list = []
        self.paths: dict[int, tuple] = {}  # id(node) -> its key path, for errors found constructing
        self.open_anchors: set[str] = set()
        self.anchored: dict[str, yaml.Node] = {}  # compose_document forgets its anchors

    def key_path(self, node=None) -> str:
        """Dotted key path of `node` (by default, of the node being composed)."""
        path = self.path if node is None else self.paths.get(id(node), ())
        parts = [short(p, 40) for p in path if p is not None]
        if len(parts) > 8:
            parts = parts[:3] + [f"…({len(parts) - 6} more)…"] + parts[-3:]
        return ".".join(parts)

    def compose_node(self, parent, index):
        event = self.peek_event()
        if parent is not None:  # index: the key node of a mapping value, the position in a list
            self.path.append(index.value if isinstance(index, yaml.ScalarNode) else index)
        try:
            if isinstance(event, yaml.AliasEvent) and event.anchor in self.open_anchors:
                raise _Refused(Problem(f"alias *{short(event.anchor)} refers to the node that contains it "
                                       f"(a recursive structure)", self.file, _line(event), self.key_path(),
                                       allowed=("aliases to nodes defined before them, not around them",)))
            if len(self.path) >= MAX_DEPTH:
                raise _Refused(Problem(f"nesting deeper than {MAX_DEPTH} levels", self.file, _line(event),
                                       self.key_path(), allowed=(f"at most {MAX_DEPTH} nested lists and mappings",)))
            anchor = None if isinstance(event, yaml.AliasEvent) else getattr(event, "anchor", None)
            if anchor is not None:
                self.open_anchors.add(anchor)
            try:
                node = super().compose_node(parent, index)
            finally:
                self.open_anchors.discard(anchor)
            if anchor is not None:
                self.anchored[anchor] = node
            self.paths.setdefault(id(node), tuple(self.path))
            return node
        finally:
            if parent is not None:
                self.path.pop()

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep)
        except (yaml.YAMLError, _Refused, RecursionError):
            raise
        except Exception as exc:  # a date such as 2024-13-45, '!!bool maybe', ...
            what = node.value if isinstance(node, yaml.ScalarNode) else node.tag
            raise _Refused(Problem(f"cannot read the value {short(what)!r}: {short(exc, 200)}",
                                   self.file, _line(node), self.key_path(node))) from None


def _children(node):
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return node.value
    return ()


def _check_expansion(loader: _StrictLoader, root) -> None:
    """Refuse aliases that blow the document up (billion laughs): count nodes as if expanded."""
    sizes: dict[int, int] = {}
    stack = [(root, False)]
    while stack:
        node, done = stack.pop()
        if id(node) in sizes:
            continue
        if done:
            sizes[id(node)] = 1 + sum(sizes.get(id(c), 1) for c in _children(node))
            continue
        stack.append((node, True))
        stack.extend((c, False) for c in _children(node) if id(c) not in sizes)
    expanded, distinct = sizes.get(id(root), 1), len(sizes)
    if expanded - distinct > MAX_ALIAS_EXPANSION:
        worst = max(loader.anchored.items(), key=lambda item: sizes.get(id(item[1]), 0), default=None)
        where = (f"; the anchor &{short(worst[0])} alone expands to {sizes.get(id(worst[1]), 0):,} nodes"
                 if worst else "")
        raise _Refused(Problem(
            f"aliases expand this document to {expanded:,} nodes from {distinct:,}{where}",
            loader.file, _line(worst[1]) if worst else None, loader.key_path(worst[1]) if worst else "",
            allowed=(f"aliases adding at most {MAX_ALIAS_EXPANSION:,} nodes",),
            suggestion="write the values out, or use fewer nested aliases"))


def _construct_int(loader: _StrictLoader, node: yaml.ScalarNode) -> int:
    digits = sum(ch.isalnum() for ch in node.value)
    if digits > MAX_INT_DIGITS:
        raise _Refused(Problem(f"an integer of {digits:,} digits ({short(node.value, 20)})", loader.file,
                               _line(node), loader.key_path(node), allowed=("integers that fit in 64 bits",)))
    value = yaml.SafeLoader.construct_yaml_int(loader, node)
    if not INT_RANGE[0] <= value <= INT_RANGE[1]:
        raise _Refused(Problem(f"the integer {short(node.value, 40)} does not fit in 64 bits",
                               loader.file, _line(node), loader.key_path(node),
                               allowed=(f"integers from {INT_RANGE[0]:,} to {INT_RANGE[1]:,}",)))
    return value


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> SourcedDict:
    loader.flatten_mapping(node)
    out = SourcedDict()
    out.file, out.line, out.key_lines = loader.file, node.start_mark.line + 1, {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            kind = "a list" if isinstance(key_node, yaml.SequenceNode) else "a mapping"
            raise _Refused(Problem(f"a key is {kind}", loader.file, _line(key_node), loader.key_path(node),
                                   allowed=("keys that are names or numbers",),
                                   suggestion="write the key as a plain name"))
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if key in out:
            loader.duplicates.append(Problem(
                f"duplicate key '{short(key)}' (first given on line {out.key_lines[key]})",
                loader.file, line, short(key), suggestion="remove one of the two entries"))
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
_StrictLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)


class _TaggedLoader(_StrictLoader):
    """The strict loader, also reading local tags on mappings (`!Component {name: x}`, Timeloop's
    !Container, !Parallel, ...) as a SourcedDict whose first key `_tag` holds the tag's name."""


def _construct_tagged(loader: _TaggedLoader, suffix: str, node) -> SourcedDict:
    if isinstance(node, yaml.MappingNode):
        body = _construct_mapping(loader, node)
    elif isinstance(node, yaml.ScalarNode) and node.value == "":
        body = SourcedDict()
        body.file, body.line, body.key_lines = loader.file, _line(node), {}
    else:
        raise _Refused(Problem(f"the tag !{short(suffix, 40)} is on a {'list' if isinstance(node, yaml.SequenceNode) else 'value'}",
                               loader.file, _line(node), loader.key_path(node),
                               allowed=("tags on mappings, e.g. !Component {name: buffer}",)))
    if "_tag" in body:
        raise _Refused(Problem("a tagged mapping has its own `_tag` key", loader.file, body.line_of("_tag"),
                               loader.key_path(node), suggestion="remove the `_tag` key"))
    out = SourcedDict()
    out["_tag"] = suffix
    out.update(body)
    out.file, out.line = body.file, body.line
    out.key_lines = {"_tag": body.line, **body.key_lines}
    return out


_TaggedLoader.add_multi_constructor("!", _construct_tagged)


def load_yaml_text(text: str, file: str | None = None, local_tags: bool = False):
    """Parse YAML text; syntax errors and duplicate keys become a SpecError. `local_tags`: read
    `!Name {...}` mappings as SourcedDicts with a `_tag` key (Timeloop's node tags); otherwise a
    local tag is a SpecError."""
    check_characters(text, file)
    loader = (_TaggedLoader if local_tags else _StrictLoader)(text, file)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expansion(loader, node)
        data = loader.construct_document(node)
    except _Refused as exc:
        raise SpecError(exc.problem) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise SpecError(Problem(f"YAML syntax error: {short(exc.problem, 200)}", file,
                                mark.line + 1 if mark else None)) from None
    except yaml.YAMLError as exc:
        raise SpecError(Problem(f"YAML error: {short(exc, 200)}", file)) from None
    except RecursionError:  # a merge-key chain (<<: *a) or a constructor recursing too deep
        raise SpecError(Problem("the document nests too deeply", file,
                                allowed=(f"at most {MAX_DEPTH} nested lists, mappings and merges",))) from None
    finally:
        loader.dispose()
    if loader.duplicates:
        raise SpecError(loader.duplicates)
    return data


def load_yaml_file(path, line: int | None = None, key_path: str = "",
                   file_for_errors: str | None = None, local_tags: bool = False) -> SourcedDict:
    """Load one YAML file whose top level must be a mapping (`line`, `key_path` and
    `file_for_errors` locate the reference to it, for errors opening it; `local_tags` as for
    load_yaml_text)."""
    path = Path(path)
    text = read_text(path, line, key_path, file_for_errors=file_for_errors)
    data = load_yaml_text(text, str(path), local_tags)
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
