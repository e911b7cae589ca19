"""Numba's cache of accelsim's compiled kernels: where it is, clearing it, and keeping it current.

Numba caches a `cache=True` kernel beside its source and checks only that source file's stamp: a
kernel that inlines a function from another module (the search kernels inline the counting kernel)
would load stale machine code after that module changes. `refresh` (run when accelsim is imported)
keeps a digest of every kernel module's source and clears the cache when it changes.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
NUMBA_CACHE_SUFFIXES = (".nbi", ".nbc")
STAMP = "kernel_sources.sha256"  # in the package's own __pycache__


def numba_cache_files(package_dir) -> list[Path]:
    """The Numba cache files of a package: *.nbi and *.nbc in the __pycache__ folders under
    `package_dir`, where Numba writes them for `cache=True` kernels (beside each source file).
    Only regular files inside `package_dir` (no symlinks, nothing reached through one)."""
    root = Path(package_dir).resolve()
    return sorted(p for p in root.rglob("__pycache__/*")
                  if p.suffix in NUMBA_CACHE_SUFFIXES and p.is_file() and not p.is_symlink()
                  and p.resolve().is_relative_to(root))


def clear_numba_cache(package_dir) -> tuple[int, int]:
    """Delete the Numba cache files of a package; returns (files, bytes) removed."""
    files = size = 0
    for path in numba_cache_files(package_dir):
        try:
            n = path.stat().st_size
            path.unlink()
        except FileNotFoundError:  # removed meanwhile (another process clearing or recompiling)
            continue
        files, size = files + 1, size + n
    return files, size


def cache_location_notes(package_dir: Path) -> list[str]:
    """Where Numba writes instead of the package's __pycache__ folders (which these commands cover)."""
    notes = []
    if os.environ.get("NUMBA_CACHE_DIR"):
        notes.append(f"NUMBA_CACHE_DIR is set: Numba writes new cache files under "
                     f"{os.environ['NUMBA_CACHE_DIR']}, which accelsim cache does not touch")
    if not os.access(package_dir, os.W_OK):
        notes.append(f"{package_dir} is read-only: Numba writes new cache files to its user-wide "
                     f"cache folder, which accelsim cache does not touch")
    return notes


def kernel_sources_digest(package_dir=PACKAGE) -> str:
    """SHA-256 of every module of the package that defines jitted code, in path order."""
    digest = hashlib.sha256()
    for path in sorted(Path(package_dir).rglob("*.py")):
        text = path.read_bytes()
        if b"numba" in text:
            digest.update(str(path.relative_to(package_dir)).encode() + b"\0" + text + b"\0")
    return digest.hexdigest()


def refresh(package_dir=PACKAGE) -> bool:
    """Clear the package's Numba cache if a kernel module changed since it was written; returns
    whether it did. Silent where the package cannot be written (Numba caches elsewhere then)."""
    package_dir = Path(package_dir)
    stamp = package_dir / "__pycache__" / STAMP
    digest = kernel_sources_digest(package_dir)
    try:
        if stamp.read_text() == digest:
            return False
    except OSError:
        pass  # no stamp yet
    try:
        clear_numba_cache(package_dir)
        stamp.parent.mkdir(exist_ok=True)
        tmp = stamp.with_name(f".{STAMP}.{os.getpid()}")
        tmp.write_text(digest)
        os.replace(tmp, stamp)
    except OSError:
        return False
    return True


def is_compiled(kernel) -> bool:
    """Whether Numba's cache holds this kernel already (its index file exists). Read through a
    private attribute of Numba's dispatcher; where that fails, say yes (no note is better than a
    wrong one)."""
    try:
        return os.path.exists(kernel._cache._cache_file._index_path)
    except AttributeError:
        return True


def compile_note(options) -> str | None:
    """A line to print before a run whose kernels are not in the cache yet: what compiles, and
    roughly how long it takes once (measured on a 2-core machine; docs/dse.md)."""
    from .counting.nest_kernel import evaluate_nest
    from .model.scalesim.calc import systolic_calc_kernel
    from .model.tile_events import walk_tile_events
    from .search.search_kernels import search_hill_climb

    wanted = [("the counting kernel", evaluate_nest, 15)]
    if options.dataflow == "search" or options.dataflow is None:  # None: search if the arch names no template
        wanted.append(("the mapper's search kernels", search_hill_climb, 40))
    if options.performance_model == "cycle":
        wanted.append(("the cycle model", walk_tile_events, 5))
    if options.performance_model == "scalesim":
        wanted.append(("the SCALE-Sim emulator", systolic_calc_kernel, 6))
    pending = [(what, seconds) for what, kernel, seconds in wanted if not is_compiled(kernel)]
    if not pending:
        return None
    return (f"accelsim: compiling {' and '.join(w for w, _ in pending)} once (about "
            f"{sum(s for _, s in pending)} s); later runs load {'it' if len(pending) == 1 else 'them'} "
            f"from the cache")
