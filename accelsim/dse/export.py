"""`accelsim export`: a sweep store's or a run's frame written to CSV or Parquet, atomically."""
from __future__ import annotations

from pathlib import Path

from ..errors import SpecError
from ..files import atomic_path
from ..report.frames import FORMATS, layers_frame, levels_frame, load_run_json
from .store import store_frame

SQLITE_MAGIC = b"SQLite format 3\x00"


def is_sqlite(path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


def source_frame(source, levels: bool = False):
    """The frame of a sweep store (one row per point) or of a run's JSON (one row per layer, or
    with `levels` one per layer × level × tensor)."""
    path = Path(source)
    if not path.is_file():
        raise SpecError(f"{source}: no such file (give a sweep store .sqlite or a run's JSON from "
                        f"`accelsim run --json`)")
    if is_sqlite(path):
        if levels:
            raise SpecError(f"{source}: a sweep store has one row per point, no per-level counts; "
                            f"--levels needs a run's JSON (`accelsim run --json`)")
        return store_frame(path)
    layers = load_run_json(path)["layers"]
    return levels_frame(layers) if levels else layers_frame(layers)


def _check_out(out: Path, fmt: str) -> None:
    """Before any work: the format is known, `out` has its extension, and Parquet's engine is there."""
    if fmt not in FORMATS:
        raise SpecError(f"unknown export format {fmt!r}; choose from {', '.join(FORMATS)}")
    if out.suffix.lower() != FORMATS[fmt]:
        raise SpecError(f"{out}: a {fmt} export is written to a {FORMATS[fmt]} file")
    if fmt == "parquet":
        import importlib.util
        if importlib.util.find_spec("pyarrow") is None:
            raise SpecError("Parquet export needs pyarrow: pip install 'accelsim[parquet]' "
                            "(or export --csv)")


def write_frame(frame, out, fmt: str) -> Path:
    """Write a frame as CSV or Parquet, atomically (a temporary file renamed over `out`)."""
    out = Path(out)
    _check_out(out, fmt)
    with atomic_path(out) as tmp:
        if fmt == "csv":
            frame.to_csv(tmp, index=False)
        else:
            frame.to_parquet(tmp, index=False)
    return out


def export(source, out, fmt: str, levels: bool = False) -> tuple[Path, int]:
    """`accelsim export`: a store's or a run's frame written to `out`. Returns the path and row count."""
    _check_out(Path(out), fmt)
    frame = source_frame(source, levels)
    return write_frame(frame, out, fmt), len(frame)
