"""No test module runs a model at import time: collection stays fast, and a model error fails a
test instead of breaking the collection of a whole module. Fixtures and test bodies may simulate."""
import subprocess
import sys

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
                     (simulate_module, "_simulate_layer"), (analytical, "analyze"),
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
