"""spec/yaml_io.copy_tree against copy.deepcopy: the same tree, line maps and shared (aliased) nodes."""
import copy
from datetime import date
from pathlib import Path

from accelsim.spec.validate import load_with_extends
from accelsim.spec.yaml_io import SourcedDict, SourcedList, copy_tree, load_yaml_text

ARCH = Path(__file__).resolve().parents[2] / "arch"


def _shape(node, seen=None):
    """The tree as plain data with each node's type and attributes, and which nodes are shared."""
    seen = {} if seen is None else seen
    if isinstance(node, (dict, list)):
        if id(node) in seen:
            return ("shared", seen[id(node)])
        seen[id(node)] = len(seen)
        attributes = sorted((k, repr(v)) for k, v in getattr(node, "__dict__", {}).items())
        items = ([(k, _shape(v, seen)) for k, v in node.items()] if isinstance(node, dict)
                 else [_shape(v, seen) for v in node])
        return (type(node).__name__, attributes, items)
    return (type(node).__name__, node)


def _no_node_in_common(a, b):
    ids = set()

    def walk(node, out):
        if isinstance(node, (dict, list)):
            out.add(id(node))
            for v in (node.values() if isinstance(node, dict) else node):
                walk(v, out)
            for v in getattr(node, "__dict__", {}).values():
                walk(v, out)
    walk(a, ids)
    other = set()
    walk(b, other)
    return not ids & other


def test_copy_tree_is_deepcopy_on_every_arch_file():
    for path in sorted(ARCH.glob("*.yaml")):
        data = load_with_extends(str(path))
        copied = copy_tree(data)
        assert _shape(copied) == _shape(copy.deepcopy(data)) == _shape(data), path.name
        assert _no_node_in_common(data, copied), path.name


def test_copy_tree_keeps_aliases_shared_and_copies_other_types():
    data = load_yaml_text("a: &x {b: [1, 2]}\nc: *x\nd: [*x, 2024-01-02, 1.5, null, true]\n", "t")
    copied = copy_tree(data)
    assert isinstance(copied, SourcedDict) and isinstance(copied["a"]["b"], SourcedList)
    assert copied["a"] is copied["c"] is copied["d"][0] and copied["a"] is not data["a"]
    assert copied["d"][1] == date(2024, 1, 2)
    assert _shape(copied) == _shape(copy.deepcopy(data))
    copied["a"]["b"].append(3)
    assert data["a"]["b"] == [1, 2]
