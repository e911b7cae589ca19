"""No kernel is compiled for a literal argument (compile time, docs/dse.md#the-first-run-after-an-install).

Numba types a constant argument (0, True, a module constant such as ALL) as a literal and compiles
the callee once per literal value, besides its int64 signature: the ragged-loop kernel compiled
_moved four times and took 38.5 s of CPU where 25 s do. The kernels pass typed values
(np.int64(0)); this test compiles them afresh (an empty Numba cache, in a child process) and lists
every signature of theirs that holds a literal type.
"""
import os
import subprocess
import sys

import pytest

from conftest import REPO

# The kernels on a first run's and a sweep's compile chains. The SCALE-Sim emulator (model/scalesim)
# specializes its fold functions on the operand on purpose and is not listed.
CHECKED = ("accelsim.counting.", "accelsim.search.", "accelsim.model.tile_events", "accelsim.mapping.template_kernel")

SCRIPT = f"""
import sys
from accelsim.compile_ahead import COUNTING, RAGGED, SEARCH, TEMPLATE, run_job, warm_problem
from accelsim.options import SimOptions
from accelsim.simulate import simulate
for job in (COUNTING, RAGGED, SEARCH, TEMPLATE):
    run_job(job)
arch, workload = warm_problem()
simulate(arch, workload, SimOptions(model="cycle"))
from numba.core import types
from numba.core.registry import CPUDispatcher
for name, module in sorted(sys.modules.items()):
    if module is None or not name.startswith({CHECKED!r}):
        continue
    for fname, f in vars(module).items():
        if isinstance(f, CPUDispatcher) and f.__module__ == name:
            for sig in f.signatures:
                literal = [f"arg {{i}}: {{a}}" for i, a in enumerate(sig) if isinstance(a, types.Literal)]
                if literal:
                    print(f"{{name}}.{{fname}}: {{', '.join(literal)}}")
"""


@pytest.mark.slow
def test_no_kernel_compiles_for_a_literal_argument(tmp_path):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path), "PYTHONPATH": str(REPO)}
    env.pop("NUMBA_DISABLE_JIT", None)
    run = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=1200)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout == "", "kernels compiled for literal arguments (pass np.int64(...)):\n" + run.stdout
