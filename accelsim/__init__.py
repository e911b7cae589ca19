"""accelsim: analytical and cycle-level DNN accelerator simulation from YAML specs."""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("accelsim")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+src"

from .kernel_cache import refresh as _refresh_kernel_cache  # noqa: E402

_refresh_kernel_cache()  # before any kernel loads from the cache: a changed kernel module clears it

from .errors import AccelsimBug, MappingError, SpecError  # noqa: E402
from .load import load_arch, load_mapping_file, load_workload  # noqa: E402
from .options import SimOptions  # noqa: E402
from .simulate import simulate  # noqa: E402

# Sweeps load on first use (sqlite3, the process pool): `import accelsim` stays quick.
_LAZY = {"sweep": "dse.runner", "SweepRun": "dse.runner", "store_frame": "dse.store"}


def __getattr__(name):
    if name in _LAZY:
        from importlib import import_module
        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["load_arch", "load_workload", "load_mapping_file", "simulate", "SimOptions", "sweep", "SweepRun",
           "store_frame",
           "SpecError", "MappingError", "AccelsimBug", "__version__"]
