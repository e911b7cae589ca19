"""accelsim/jit.py's decorators: kernels and helpers compile without LLVM's loop vectorizer, and
helpers without a Python entry point (a call from Python is a TypeError that names the helper, not
a jump to an entry point that does not exist: a crash)."""
import ast
from pathlib import Path

import numpy as np
import pytest
from numba import config, njit

from accelsim.counting import ragged_kernel
from accelsim.jit import LINK_ONLY, _LinkOnlyLibrary, helper, kernel

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(config.DISABLE_JIT, reason="without the JIT a helper is the plain Python function")
def test_a_helper_called_from_python_is_a_clear_error():
    member = np.zeros(4, dtype=np.bool_)
    with pytest.raises(TypeError, match=r"ragged_kernel\._clear is compiled for kernels only"):
        ragged_kernel._clear(member, np.int64(4))
    ragged_kernel._clear.py_func(member, 4)  # the Python function stays callable (slow references)


def _dot(a, b):
    total = 0
    for i in range(a.shape[0]):
        total += a[i] * b[i]
    return total


@pytest.mark.skipif(config.DISABLE_JIT, reason="without the JIT nothing is compiled")
@pytest.mark.skipif(not config.LOOP_VECTORIZE, reason="the loop vectorizer is off in this process (NUMBA_LOOP_VECTORIZE=0)")
def test_a_kernel_compiles_without_the_loop_vectorizer_and_leaves_the_setting_as_it_was():
    a = np.arange(1000, dtype=np.int64)
    plain, ours = njit(_dot), kernel(cache=False)(_dot)
    assert plain(a, a) == ours(a, a) == int(a @ a)

    def vectorized(dispatcher):
        return "vector.body" in "".join(dispatcher.inspect_llvm().values())
    assert vectorized(plain) and not vectorized(ours)  # the same loop: Numba's default vectorizes it
    assert config.LOOP_VECTORIZE  # the process's own setting, back after the kernel's compile


@helper(forceinline=True)
def _twice(x):
    return 2 * x


def _quadruple_sum(a):
    total = 0
    for i in range(a.shape[0]):
        total += _twice(_twice(a[i]))
    return total


@pytest.mark.skipif(config.DISABLE_JIT, reason="without the JIT nothing is compiled")
def test_a_helper_is_compiled_only_for_linking_into_its_kernels():
    """With the Numba internals _LinkOnlyLibrary relies on (else helpers fall back to full libraries
    and the first compiles are slower: this fails to say so), a helper's library has no machine
    code and the kernel that links it runs right."""
    assert LINK_ONLY
    a = np.arange(100, dtype=np.int64)
    assert kernel(cache=False)(_quadruple_sum)(a) == 4 * int(a.sum())
    (compiled,) = _twice.overloads.values()
    assert isinstance(compiled.library, _LinkOnlyLibrary)
    engine = compiled.library._codegen._engine
    assert not engine.is_symbol_defined(compiled.fndesc.mangled_name)  # never made machine code


@helper(_nrt=True)
def _checked(x):
    if x < 0:
        raise ValueError("negative", x)  # run-time arguments: reached through the helper's environment
    return x


def _checked_sum(a):
    total = 0
    for i in range(a.shape[0]):
        total += _checked(a[i])
    return total


@pytest.mark.skipif(config.DISABLE_JIT, reason="without the JIT nothing is compiled")
def test_a_helper_reaches_its_environment_in_the_process_that_compiled_its_kernel():
    """A link-only helper's environment global is set in each kernel that links it (jit.
    _set_environments), as Numba sets it when it loads a kernel from the cache: here the kernels are
    compiled, not loaded, and one reaches the helper through another kernel."""
    outer = kernel(cache=False)(_checked_sum)
    inner = kernel(cache=False)(lambda a: outer(a) + 1)
    assert outer(np.arange(5)) == 10 and inner(np.arange(5)) == 11
    for run in (outer, inner):
        with pytest.raises(ValueError) as raised:
            run(np.array([1, -3]))
        assert raised.value.args == ("negative", -3)


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")


def _decorated_by(node, names) -> bool:
    return any((isinstance(d, ast.Call) and getattr(d.func, "id", None) in names) or getattr(d, "id", None) in names
               for d in node.decorator_list)


def _imports(tree, module: str) -> dict:
    """Local name -> the dotted name it stands for (`from m import f as g`: g -> m.f; `import m as n`: n -> m)."""
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".")[:-node.level]
                base = ".".join(parts + ([base] if base else []))
            for alias in node.names:
                names[alias.asname or alias.name] = f"{base}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                names[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else alias.name.split(".")[0]
    return names


def test_no_python_code_calls_a_helper():
    """Every call of a helper (accelsim/jit.py) by name or through its module, found in the package,
    the tests and the benchmarks, is inside a jitted function: Python never calls one (it would be a
    TypeError at run time)."""
    files = [*(REPO / "accelsim").rglob("*.py"), *(REPO / "tests").rglob("*.py"), *(REPO / "benchmarks").rglob("*.py")]
    trees = {path: ast.parse(path.read_text()) for path in files}
    helpers = {f"{_module_name(path)}.{node.name}" for path, tree in trees.items() if path.is_relative_to(REPO / "accelsim")
               for node in tree.body if isinstance(node, ast.FunctionDef) and _decorated_by(node, {"helper"})}
    assert len(helpers) > 100  # the counting, ragged-loop, search, template, network, walk and emulator helpers
    calls = []
    for path, tree in trees.items():
        module = _module_name(path)
        imported = _imports(tree, module)
        own = {node.name: f"{module}.{node.name}" for node in tree.body if isinstance(node, ast.FunctionDef)}

        def visit(node, jitted: bool):
            if isinstance(node, ast.FunctionDef):
                jitted = jitted or _decorated_by(node, {"helper", "kernel", "njit", "jit"})
            if isinstance(node, ast.Call) and not jitted:
                f = node.func
                if isinstance(f, ast.Name):
                    target = imported.get(f.id) or own.get(f.id)
                elif isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id in imported:
                    target = f"{imported[f.value.id]}.{f.attr}"
                else:
                    target = None
                if target in helpers:
                    calls.append(f"{path.relative_to(REPO)}:{node.lineno} calls {target}")
            for child in ast.iter_child_nodes(node):
                visit(child, jitted)
        visit(tree, False)
