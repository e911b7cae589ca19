"""`helper`: the decorator for a jitted function that only kernels call.

Numba compiles every @njit function with two entry points besides its body: a CPython wrapper
(unboxing each argument from a Python object) and a C wrapper (for first-class function calls).
A kernel's helper is compiled on its own when a kernel first calls it, wrappers included, and the
helpers take the kernels' records (named tuples of up to ~60 arrays), so the wrappers are long:
they were a quarter of the counting and ragged-loop kernels' compile time (docs/dse.md, "The first
run after an install"). A helper is only ever called from compiled code, so it is compiled without
them, as Numba compiles its own overloads. Calling one from Python raises a TypeError instead of
jumping to the entry point it does not have; `.py_func` is the Python function (slow references).
"""
from __future__ import annotations

from numba import config, njit
from numba.core.registry import CPUDispatcher


class HelperDispatcher(CPUDispatcher):
    """A dispatcher whose compiled code has no Python entry point."""

    def __call__(self, *args, **kwargs):
        raise TypeError(f"{self.py_func.__module__}.{self.py_func.__qualname__} is compiled for kernels only "
                        f"(accelsim/jit.py: no Python entry point); call it from a jitted function, or call "
                        f"its .py_func")


def helper(**options):
    """@njit(cache=True, _nrt=False, **options) for a function only jitted code calls, compiled
    without its Python and C entry points (`_nrt=True` for one that allocates)."""
    def decorate(func):
        jitted = njit(**{"cache": True, "_nrt": False, **options, "no_cpython_wrapper": True,
                         "no_cfunc_wrapper": True})(func)
        if config.DISABLE_JIT:  # the plain function: Python calls it
            return jitted
        jitted.__class__ = HelperDispatcher  # (a subclass adding no state: calls from Python raise)
        return jitted
    return decorate
