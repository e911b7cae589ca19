"""The decorators for accelsim's jitted functions: `kernel` for one Python calls (it may be called
from other jitted code too), `helper` for one that only jitted code calls. They exist to make the
first compile after an install shorter (docs/dse.md, "The first run after an install"); the code
they compile runs as fast and counts the same.

Both compile without LLVM's loop vectorizer. The kernels' loops run over a few dims, levels or
tensors, where a vectorized loop and its scalar remainder only add code, and that code was 14 % of
a first compile (the counting, search and ragged-loop kernels: 33.7 s of CPU with it, 29.0 s
without), with no change in run time (the warm ResNet-50 search, the cycle model, the sweep and the
SCALE-Sim emulator) and identical results. Numba reads its setting (numba.config.LOOP_VECTORIZE,
NUMBA_LOOP_VECTORIZE) as it builds each pass pipeline, so `kernel` sets it for the duration of its
own compiles only, under Numba's compiler lock: other Numba code in the process keeps its own
setting, unless it is first compiled inside a kernel's compile (a NumPy overload a kernel uses).
A helper is compiled inside the compile of the kernel that calls it.

A helper is compiled as little as a kernel needs of it. Numba compiles every @njit function with a
CPython wrapper (unboxing each argument from a Python object) and a C wrapper (for first-class
function calls), optimizes its whole module and makes machine code of it; a kernel then links the
helper's module, optimizes it again with its own and makes its own machine code. The helpers take
the kernels' records (named tuples of up to ~60 arrays), so the wrappers are long (a quarter of the
counting and ragged-loop kernels' compile time), and the rest was done again in each kernel. So a
helper has no wrappers, as Numba's own overloads have none, and its library stops after the
per-function passes (_LinkOnlyLibrary); the kernel linking it does the rest once. Calling a helper
from Python raises a TypeError instead of jumping to the entry point it does not have; `.py_func`
is the Python function (slow references).
"""
from __future__ import annotations

from contextlib import contextmanager

from numba import config, njit
from numba.core.codegen import JITCodeLibrary
from numba.core.compiler import CompilerBase, DefaultPassBuilder
from numba.core.compiler_lock import global_compiler_lock
from numba.core.compiler_machinery import FunctionPass, register_pass
from numba.core.environment import lookup_environment
from numba.core.registry import CPUDispatcher
from numba.core.typed_passes import NoPythonSupportedFeatureValidation


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
    """A dispatcher that compiles (or loads from the cache) under _kernel_compile_settings, and
    sets its helpers' environments (_set_environments)."""

    def compile(self, sig):
        with _kernel_compile_settings():
            return super().compile(sig)

    def add_overload(self, cres):
        super().add_overload(cres)
        _set_environments(cres.library)


def _set_environments(library):
    """Point every Numba environment global a kernel's module defines at its Environment, as Numba
    does when it loads a kernel from its cache (CompileResult._rebuild). A helper's environment
    (the Python objects its code may reach: a print, an exception with run-time arguments) is set
    nowhere else: its _LinkOnlyLibrary is not in the execution engine. A kernel loaded from the
    cache has no module text here, and a helper's own library is in no engine (nothing to do)."""
    if isinstance(library, _LinkOnlyLibrary):
        return
    engine = library.codegen._engine
    for gv in library._final_module.global_variables:
        env = lookup_environment(gv.name) if gv.name.startswith("_ZN08NumbaEnv") else None
        if env is not None and engine.get_global_value_address(gv.name):
            library.codegen.set_env(gv.name, env)


def kernel(**options):
    """@njit(cache=True, **options) for a function Python calls, compiled under
    _kernel_compile_settings."""
    return _decorator(KernelDispatcher, {"cache": True, **options})


def _decorator(dispatcher_class, njit_options):
    """njit(**njit_options), its dispatcher made a `dispatcher_class` (a subclass adding no state;
    without the JIT, the plain function)."""
    def decorate(func):
        jitted = njit(**njit_options)(func)
        if not config.DISABLE_JIT:
            jitted.__class__ = dispatcher_class
        return jitted
    return decorate


class HelperDispatcher(KernelDispatcher):
    """A dispatcher whose compiled code has no Python entry point."""

    def __call__(self, *args, **kwargs):
        raise TypeError(f"{self.py_func.__module__}.{self.py_func.__qualname__} is compiled for kernels only "
                        f"(accelsim/jit.py: no Python entry point); call it from a jitted function, or call "
                        f"its .py_func")


class _LinkOnlyLibrary(JITCodeLibrary):
    """A helper's compiled code, kept only to be linked into the kernels that call it.

    Numba runs the full module optimization on every library, emits its machine code, and
    optimizes a library's code again in every module that links it. A helper's own machine code
    is never run (it has no entry point, and each kernel holds its own inlined copy), and its
    module is optimized as part of each kernel that links it; so its library stops after the
    per-function passes (which shrink its code before it is copied into its callers): no module
    passes, no machine code, no execution-engine entry. Its own environment global is therefore
    nowhere to set (its codegen, _NoEnvironment, skips that); each kernel's copy of it is set when
    the kernel is compiled (_set_environments) or loaded from the cache (Numba)."""

    def __init__(self, codegen, name):
        super().__init__(_NoEnvironment(codegen), name)

    def _optimize_final_module(self):
        pass

    def _finalize_final_module(self):
        self._finalize_dynamic_globals()
        self._verify_declare_only_symbols()
        self._finalized = True


class _NoEnvironment:
    """The codegen, but setting no environment: _LinkOnlyLibrary's code is not in the engine, where
    setting one would write through a null address."""

    def __init__(self, codegen):
        self._codegen = codegen

    def set_env(self, env_name, env):
        pass

    def __getattr__(self, name):
        return getattr(self._codegen, name)


@register_pass(mutates_CFG=False, analysis_only=False)
class _LinkOnly(FunctionPass):
    """Give the function a _LinkOnlyLibrary (before lowering, which would create a full one)."""
    _name = "accelsim_link_only_library"

    def __init__(self):
        FunctionPass.__init__(self)

    def run_pass(self, state):
        state.library = _LinkOnlyLibrary(state.targetctx.codegen(), state.func_id.func_qualname)
        return True


class _HelperCompiler(CompilerBase):
    """Numba's nopython pipeline, with a _LinkOnlyLibrary."""

    def define_pipelines(self):
        pm = DefaultPassBuilder.define_nopython_pipeline(self.state)
        pm.add_pass_after(_LinkOnly, NoPythonSupportedFeatureValidation)
        pm.finalize()
        return [pm]


# The Numba internals _LinkOnlyLibrary relies on (checked against numba 0.68): where they differ,
# helpers compile as Numba's own overloads do, into full (and cached) libraries.
LINK_ONLY = all(callable(getattr(JITCodeLibrary, name, None)) for name in (
    "_optimize_final_module", "_finalize_final_module", "_finalize_dynamic_globals", "_verify_declare_only_symbols"))


def helper(**options):
    """@njit(_nrt=False, **options) for a function only jitted code calls, compiled without its
    Python and C entry points (`_nrt=True` for one that allocates), into a _LinkOnlyLibrary (not
    cached: a kernel's cache entry holds its helpers' code)."""
    compiled = {"cache": False, "pipeline_class": _HelperCompiler} if LINK_ONLY else {"cache": True}
    return _decorator(HelperDispatcher, {"_nrt": False, **options, "no_cpython_wrapper": True,
                                         "no_cfunc_wrapper": True, **compiled})
