"""The package map has no cycles: walk every import in accelsim/ (module level and inside
functions) and check that the graph of its units — each subpackage, each top-level module, and
the package's face (accelsim/__init__.py) — is acyclic, and that the core never imports the
importers. docs/architecture.md draws the layers this test keeps."""
import ast
import functools
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "accelsim"
# Modules of the layers above the core: a peer's file format is read into the core's objects, never
# the other way round.
IMPORTERS = {"importers", "cli", "__main__"}


def _unit(parts: tuple[str, ...]) -> str:
    """The unit a module belongs to: its subpackage, or the top-level module itself."""
    if not parts or parts == ("__init__",):
        return "accelsim"
    return parts[0]


def _module_parts(path: Path) -> tuple[str, ...]:
    rel = path.relative_to(PACKAGE).with_suffix("")
    return rel.parts


def _is_module(parts: tuple[str, ...]) -> bool:
    path = PACKAGE.joinpath(*parts)
    return path.with_suffix(".py").is_file() or path.is_dir()


def _imported_units(path: Path) -> set[str]:
    parts = _module_parts(path)
    package = parts[:-1] if parts[-1] != "__init__" else parts[:-1]
    units = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            base = package[:len(package) - (node.level - 1)] if node.level > 1 else package
            target = base + tuple(node.module.split(".")) if node.module else base
            if node.module is None:  # `from . import a, b`: modules of `base`, or names in its __init__
                units |= {_unit(base + (alias.name,)) if _is_module(base + (alias.name,)) else _unit(base)
                          for alias in node.names}
            else:
                units.add(_unit(target))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [node.module] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            for name in names:
                if name and (name == "accelsim" or name.startswith("accelsim.")):
                    units.add(_unit(tuple(name.split(".")[1:])))
    return units


@functools.cache  # one walk of the package's sources serves every test here
def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        unit = _unit(_module_parts(path))
        graph.setdefault(unit, set()).update(u for u in _imported_units(path) if u != unit)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle as a list of units (first == last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def visit(u: str):
        state[u] = 1
        stack.append(u)
        for v in sorted(graph.get(u, ())):
            if state.get(v) == 1:
                return stack[stack.index(v):] + [v]
            if v not in state and (found := visit(v)):
                return found
        stack.pop()
        state[u] = 2
        return None

    for u in sorted(graph):
        if u not in state and (found := visit(u)):
            return found
    return None


def test_the_finder_sees_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycle_between_packages():
    graph = import_graph()
    assert {"counting", "ir", "mapping", "model", "search", "energy"} <= set(graph)  # the walk sees them
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle between packages: " + " → ".join(cycle)


@pytest.mark.parametrize("unit", ["counting", "ir", "mapping", "model", "search", "energy", "simulate", "results"])
def test_core_never_imports_the_importers(unit):
    assert not import_graph()[unit] & IMPORTERS, f"{unit} imports {import_graph()[unit] & IMPORTERS}"
