"""The decorators for accelsim's jitted functions: `kernel` for one Python calls (it may be called
from other jitted code too), `helper` for one that only jitted code calls.

Both compile without LLVM's loop vectorizer. The kernels' loops run over a few dims, levels or
tensors, where a vectorized loop and its scalar remainder only add code, and that code was 14 % of
a first compile (the counting, search and ragged-loop kernels: 33.7 s of CPU with it, 29.0 s
without), with no change in run time (the warm ResNet-50 search, the cycle model, the sweep and the
SCALE-Sim emulator) and identical results (docs/dse.md, "The first run after an install"). Numba
reads its setting (numba.config.LOOP_VECTORIZE, NUMBA_LOOP_VECTORIZE) as it builds each pass
pipeline, so `kernel` sets it for the duration of its own compiles only, under Numba's compiler
lock: other Numba code in the process keeps its own setting. A helper is compiled inside the
compile of the kernel that calls it.

Why helpers have a decorator of their own: Numba compiles every @njit function with two entry points besides its body: a CPython wrapper
(unboxing each argument from a Python object) and a C wrapper (for first-class function calls).
A kernel's helper is compiled on its own when a kernel first calls it, wrappers included, and the
helpers take the kernels' records (named tuples of up to ~60 arrays), so the wrappers are long:
they were a quarter of the counting and ragged-loop kernels' compile time (docs/dse.md, "The first
run after an install"). A helper is only ever called from compiled code, so it is compiled without
them, as Numba compiles its own overloads. Calling one from Python raises a TypeError instead of
jumping to the entry point it does not have; `.py_func` is the Python function (slow references).
"""
from __future__ import annotations

from contextlib import contextmanager

from numba import config, njit
from numba.core.compiler_lock import global_compiler_lock
from numba.core.registry import CPUDispatcher


@contextmanager
def _kernel_compile_settings():
    """Numba's settings for compiling accelsim's kernels (the module docstring says why)."""
    with global_compiler_lock:  # no other thread compiles meanwhile, with the setting changed under it
        saved = config.LOOP_VECTORIZE
        config.LOOP_VECTORIZE = 0
        try:
            yield
        finally:
            config.LOOP_VECTORIZE = saved


class KernelDispatcher(CPUDispatcher):
    """A dispatcher that compiles (or loads from the cache) under _kernel_compile_settings."""

    def compile(self, sig):
        with _kernel_compile_settings():
            return super().compile(sig)


def kernel(**options):
    """@njit(cache=True, **options) for a function Python calls, compiled under
    _kernel_compile_settings."""
    def decorate(func):
        jitted = njit(**{"cache": True, **options})(func)
        if not config.DISABLE_JIT:  # (without the JIT, the plain function)
            jitted.__class__ = KernelDispatcher  # (a subclass adding no state)
        return jitted
    return decorate


class HelperDispatcher(KernelDispatcher):
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
