"""Numba's cache of accelsim's compiled kernels: where it is, clearing it, and keeping it current.

Numba caches a `cache=True` kernel beside its source and checks only that source file's stamp: a
kernel that inlines a function from another module (the search kernels inline the counting kernel)
would load stale machine code after that module changes, and so would a kernel reading a constant
from a module without kernels (the column codes in counting/records.py). `refresh` (run when
accelsim is imported) keeps a digest of the kernel modules and every package module they import,
and clears the cache when it changes. Which modules those are is remembered under a stamp of the
tree (each module's size and change times), so a warm start hashes them without parsing the package.
A process still running old code can write stale entries after a newer one refreshed: run
`accelsim cache clear` after such a mix.
"""
from __future__ import annotations

import ast
import hashlib
import json
import os
from pathlib import Path

from .files import write_atomic
from .version import files_digest

PACKAGE = Path(__file__).resolve().parent
NUMBA_CACHE_SUFFIXES = (".nbi", ".nbc")
STAMP = "kernel_sources.sha256"  # in the package's own __pycache__
SOURCES_MEMO = "kernel_sources.json"  # which modules those are, under a stamp of the tree (beside it)


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


def kernel_sources(package_dir=PACKAGE) -> list[Path]:
    """The modules a compiled kernel can depend on: every module of the package that imports numba
    or the package's jit decorators (jit.py), and every package module those import, transitively
    (Numba bakes imported constants, e.g. the column codes in counting/records.py, into the
    compiled code)."""
    package_dir = Path(package_dir)
    # Each module parsed once, keeping only its module-level imports (whole trees kept alive slow
    # the parse of the next ones down: the collector walks them).
    statements = {path: [node for node in ast.parse(path.read_bytes(), str(path)).body
                         if isinstance(node, (ast.Import, ast.ImportFrom))]
                  for path in package_dir.rglob("*.py")}
    imports = {}  # path -> the package modules it imports, resolved once (each costs a few stats)

    def imported(path):
        if path not in imports:
            imports[path] = _imported_modules(path, statements[path], package_dir)
        return imports[path]

    decorators = package_dir / "jit.py"
    modules = {path for path, nodes in statements.items() if _imports_numba(nodes) or decorators in imported(path)}
    todo = list(modules)
    while todo:
        for path in imported(todo.pop()):
            if path not in modules:
                modules.add(path)
                todo.append(path)
    return sorted(modules)


def _imports_numba(statements) -> bool:
    return any(name.split(".")[0] == "numba" for node in statements for name in _import_names(node))


def _import_names(node) -> list[str]:
    return [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]


def _imported_modules(path: Path, statements, package_dir: Path) -> set[Path]:
    """The package's modules (files) that `path` imports at module level (its import `statements`:
    what a kernel can see)."""
    found = set()
    here = path.parent
    for node in statements:
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            base = here
            for _ in range(node.level - 1):
                base = base.parent
            target = base.joinpath(*node.module.split(".")) if node.module else base
            names = [target / alias.name for alias in node.names] + ([target] if node.module else [])
        else:
            dotted = [node.module] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            names = [package_dir.joinpath(*d.split(".")[1:]) for d in dotted
                     if d and d.split(".")[0] == package_dir.name]
        for name in names:
            for candidate in (name.with_suffix(".py"), name / "__init__.py"):
                if candidate.is_file() and candidate.resolve().is_relative_to(package_dir.resolve()):
                    found.add(candidate)
    return found


def _tree_stamp(package_dir: Path) -> str:
    """Each module's path, inode, size and change times: any edit, new or removed module changes it.
    Reading it costs a stat per module, not a parse."""
    entries = []
    for path in sorted(package_dir.rglob("*.py")):
        s = path.stat()
        entries.append(f"{path.relative_to(package_dir)}\0{s.st_ino}\0{s.st_size}\0{s.st_mtime_ns}\0{s.st_ctime_ns}")
    return hashlib.sha256("\n".join(entries).encode()).hexdigest()


def _kernel_sources_remembered(package_dir: Path) -> list[Path]:
    """kernel_sources, parsed again only when a module changed (the parse of every module costs
    ~0.15 s, a third of a warm run's start-up). The contents of the modules found are still hashed
    on every refresh: this saves finding them, never checking them."""
    memo = package_dir / "__pycache__" / SOURCES_MEMO
    stamp = _tree_stamp(package_dir)
    try:
        saved = json.loads(memo.read_text())
        if saved["stamp"] == stamp:
            return [package_dir / name for name in saved["sources"]]
    except (OSError, ValueError, KeyError, TypeError):
        pass  # none yet, or unreadable: find them
    sources = kernel_sources(package_dir)
    try:
        write_atomic(memo, json.dumps({"stamp": stamp,
                                       "sources": [str(p.relative_to(package_dir)) for p in sources]}))
    except OSError:
        pass  # a read-only install finds them every time
    return sources


def cache_folders(package_dir=PACKAGE) -> list[Path]:
    """Where Numba keeps this package's kernels: beside the sources, and under NUMBA_CACHE_DIR
    (which mirrors the source folders) when it is set."""
    folders = [Path(package_dir)]
    if os.environ.get("NUMBA_CACHE_DIR"):
        folders.append(Path(os.environ["NUMBA_CACHE_DIR"]) / str(Path(package_dir).resolve()).lstrip(os.sep))
    return folders


def refresh(package_dir=PACKAGE) -> bool:
    """Clear the package's Numba cache if a kernel module changed since it was written; returns
    whether it did. Silent where the package cannot be written (Numba caches elsewhere then)."""
    package_dir = Path(package_dir)
    stamp = package_dir / "__pycache__" / STAMP
    digest = files_digest(_kernel_sources_remembered(package_dir), package_dir)
    try:
        if stamp.read_text() == digest:
            return False
    except OSError:
        pass  # no stamp yet
    try:
        for folder in cache_folders(package_dir):
            if folder.is_dir():
                clear_numba_cache(folder)
        write_atomic(stamp, digest)
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


def _wanted(options) -> list[tuple]:
    """(what, dispatcher, CPU seconds to compile once) of the kernels a run with `options` calls."""
    from .counting.nest_kernel import evaluate_nest

    wanted = [("the counting kernel", evaluate_nest, 6)]
    if options.dataflow == "search" or options.dataflow is None:  # None: search if the arch names no template
        from .search.search_kernels import search_heuristic
        wanted.append(("the mapper's search kernel", search_heuristic, 5))
    if options.performance_model in ("analytical", "cycle"):  # templates' and the mapper's padded layers run ragged
        from .counting.ragged_kernel import evaluate_ragged  # imported only when it runs (start-up)
        wanted.append(("the ragged-loop kernel", evaluate_ragged, 11))
    if options.performance_model == "cycle":
        from .model.tile_events import walk_steps
        wanted.append(("the cycle model", walk_steps, 7))
    if options.performance_model == "scalesim":
        from .model.scalesim.calc import systolic_calc_kernel
        wanted.append(("the SCALE-Sim emulator", systolic_calc_kernel, 7))
    return wanted


def compile_note(*options, template_kernel: bool = False, later: str = "runs") -> str | None:
    """A line to print before a run (or a sweep: every point's options) whose kernels are not in the
    cache yet: what compiles, and roughly how long it takes once (measured on a 2-core machine;
    docs/dse.md). `template_kernel`: the sweeps' template kernel too (mapping/template_kernel.py)."""
    wanted = {}
    for one in options:
        for what, kernel, seconds in _wanted(one):
            wanted.setdefault(what, (kernel, seconds))
    if template_kernel:
        from .mapping.template_kernel import map_layer_kernel
        wanted["the sweeps' template kernel"] = (map_layer_kernel, 6)
    pending = [(what, seconds) for what, (kernel, seconds) in wanted.items() if not is_compiled(kernel)]
    if not pending:
        return None
    return (f"accelsim: compiling {' and '.join(w for w, _ in pending)} once (about "
            f"{sum(s for _, s in pending)} s of CPU); later {later} load "
            f"{'it' if len(pending) == 1 else 'them'} from the cache")
