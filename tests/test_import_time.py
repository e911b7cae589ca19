"""No test module runs a model at import time: collection stays fast, and a model error fails a
test instead of breaking the collection of a whole module. Fixtures and test bodies may simulate."""
import subprocess
import sys

import pytest
from conftest import REPO

# Imports every test module with the model entry points replaced by functions that refuse to run;
# prints each module whose import called one.
GUARD = r"""
import importlib.util
import sys
from pathlib import Path

import accelsim
from accelsim.search import mapper
from accelsim.model import analytical, cycle
from accelsim.model.scalesim import api as systolic

simulate_module = sys.modules["accelsim.simulate"]


def refuse(name):
    def run(*args, **kwargs):
        raise RuntimeError(f"{name} called while importing the module")
    return run


for module, name in ((accelsim, "simulate"), (simulate_module, "simulate"),
                     (simulate_module, "simulate_layer"), (analytical, "analyze"),
                     (cycle, "simulate_cycles"), (systolic, "simulate_systolic"),
                     (mapper, "search_mapping")):
    setattr(module, name, refuse(f"{module.__name__}.{name}"))

tests = Path(sys.argv[1])
sys.path.insert(0, str(tests))
for path in sorted(tests.rglob("test_*.py")):
    sys.path.insert(0, str(path.parent))  # as pytest's rootdir-relative imports do
    spec = importlib.util.spec_from_file_location(f"_guard_{path.stem}", path)
    module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)  # dataclasses look it up
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        print(f"{path.relative_to(tests)}: {exc!r}")
"""


def test_no_test_module_simulates_at_import():
    proc = subprocess.run([sys.executable, "-c", GUARD, str(REPO / "tests")], capture_output=True,
                          text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "", "test modules that run a model (or fail) at import:\n" + proc.stdout


def test_the_kernel_module_list_is_found_again_only_when_a_module_changes(tmp_path, monkeypatch):
    # refresh() runs at every import: it remembers which modules the kernels depend on (parsing
    # every module costs ~0.15 s) under a stamp of the tree, and finds them again when it changes.
    from accelsim import kernel_cache
    pkg = tmp_path / "pkg"
    (pkg / "__pycache__").mkdir(parents=True)
    (pkg / "kernel.py").write_text("from numba import njit\n")
    plain = pkg / "plain.py"
    plain.write_text("x = 1\n")
    cached = pkg / "__pycache__" / "kernel.f-1.py311.nbi"
    assert kernel_cache.refresh(pkg)
    cached.write_bytes(b"x")

    def parse_refused(package_dir):
        raise AssertionError("parsed again although no module changed")
    with monkeypatch.context() as m:
        m.setattr(kernel_cache, "kernel_sources", parse_refused)
        assert not kernel_cache.refresh(pkg) and cached.exists()
    plain.write_text("from numba import njit\nx = 2\n")  # a module that now holds a kernel
    assert kernel_cache.refresh(pkg) and not cached.exists()
    cached.write_bytes(b"x")
    plain.write_text("from numba import njit\nx = 3\n")  # the same size: its content is still hashed
    assert kernel_cache.refresh(pkg) and not cached.exists()
    (pkg / "__pycache__" / kernel_cache.SOURCES_MEMO).write_text("{not json")
    assert not kernel_cache.refresh(pkg)  # an unreadable memo: found again, same digest


RUN_IMPORTS = r"""
import sys
from accelsim.cli import main

code = main(sys.argv[1:])
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"matplotlib", "pandas", "sqlite3", "tqdm"})
print("HEAVY", heavy, code)
"""


@pytest.mark.parametrize("model", [["--model", "cycle", "--scalesim-compat"], []], ids=["scalesim-compat", "analytical"])
def test_a_run_imports_no_plotting_or_table_library(tmp_path, model):
    # matplotlib and pandas are for `accelsim plot` / `export` / the store's frames: a run (table and
    # JSON), SCALE-Sim-compatible or the default analytical one, loads neither (they cost ~0.3 s of
    # start-up), nor the sweep store or the progress bars.
    out = tmp_path / "r.json"
    proc = subprocess.run([sys.executable, "-c", RUN_IMPORTS, "run", str(REPO / "arch" / "simple_os.yaml"),
                           str(REPO / "workloads" / "gemm_tiny.yaml"), *model,
                           "--json", str(out)], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "HEAVY [] 0", proc.stdout[-2000:]
    assert out.exists()


GC_AFTER_IMPORT = r"""
import gc
import weakref


class Node:
    pass


a, b = Node(), Node()
a.other, b.other = b, a  # a cycle made before the import, garbage after it
alive = weakref.ref(a)
del a, b
import accelsim  # noqa: E402,F401

gc.collect()
print(gc.isenabled(), gc.get_freeze_count(), alive() is None)
"""


FROZEN_BEFORE_IMPORT = r"""
import gc
import weakref


class Node:
    pass


a, b = Node(), Node()
a.other, b.other = b, a
alive = weakref.ref(a)
gc.freeze()  # the caller's: its garbage cycle stays uncollected
del a, b
import accelsim  # noqa: E402,F401

gc.collect()
print(alive() is not None)
"""


def test_importing_accelsim_leaves_the_collector_as_it_was():
    # The package pauses collection while it imports and moves what it made to the oldest
    # generation (freeze + unfreeze): nothing stays frozen, a caller's garbage is still collected,
    # and what a caller froze before the import stays frozen.
    proc = subprocess.run([sys.executable, "-c", GC_AFTER_IMPORT], capture_output=True, text=True, cwd=REPO,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "0", "True"]
    proc = subprocess.run([sys.executable, "-c", FROZEN_BEFORE_IMPORT], capture_output=True, text=True, cwd=REPO,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True"]
