"""accelsim: analytical and cycle-level DNN accelerator simulation from YAML specs."""
import gc as _gc

# No cyclic collections while the package imports: it makes ~10^5 objects and no garbage, and
# collecting them over and over costs about a tenth of a short run. Collection resumes afterwards.
_gc_was_enabled = _gc.isenabled()
_gc.disable()
try:
    from .kernel_cache import refresh as _refresh_kernel_cache
    from .version import __version__

    _refresh_kernel_cache()  # before any kernel loads from the cache: a changed kernel module clears it

    from .errors import AccelsimBug, MappingError, SpecError
    from .load import load_arch, load_mapping_file, load_workload
    from .options import SimOptions
    from .simulate import simulate
finally:
    # What the imports made is long-lived: straight into the oldest generation (freeze, then
    # unfreeze), not walked by a young collection on the first allocation after enable (≈ 25 ms).
    # Nothing stays frozen: a full collection still sees every object. Not when the caller froze
    # objects of its own (unfreeze would thaw them).
    if _gc.get_freeze_count() == 0:
        _gc.freeze()
        _gc.unfreeze()
    if _gc_was_enabled:
        _gc.enable()

# Sweeps load on first use (sqlite3, the process pool): `import accelsim` stays quick.
_LAZY = {"sweep": "dse.runner", "SweepRun": "dse.runner", "store_frame": "dse.store",
         "layers_frame": "report.frames", "levels_frame": "report.frames"}


def __getattr__(name):
    if name in _LAZY:
        from importlib import import_module
        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["load_arch", "load_workload", "load_mapping_file", "simulate", "SimOptions", "sweep", "SweepRun",
           "store_frame", "layers_frame", "levels_frame",
           "SpecError", "MappingError", "AccelsimBug", "__version__"]
