"""Kernel helpers (accelsim/jit.py) are compiled without a Python entry point: a call from Python
is a TypeError that names the helper, not a jump to an entry point that does not exist (a crash)."""
import numpy as np
import pytest
from numba import config

from accelsim.counting import ragged_kernel


@pytest.mark.skipif(config.DISABLE_JIT, reason="without the JIT a helper is the plain Python function")
def test_a_helper_called_from_python_is_a_clear_error():
    member = np.zeros(4, dtype=np.bool_)
    with pytest.raises(TypeError, match=r"ragged_kernel\._clear is compiled for kernels only"):
        ragged_kernel._clear(member, np.int64(4))
    ragged_kernel._clear.py_func(member, 4)  # the Python function stays callable (slow references)

