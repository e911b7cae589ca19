"""A resumable result store: SQLite, one transaction per finished point, keyed by the point.

A killed sweep loses at most the points in flight; rerunning skips every stored key, so nothing
is computed twice and nothing is stored twice (the key is the primary key). Only a 'failed' row
is ever replaced, and only when a sweep is asked to retry failures.

Opening refuses what is not a store — an empty file, a file that is not SQLite, a damaged one, a
database of another program — with a SpecError naming the file; only an absent path makes a new
store. Closing checkpoints the WAL into the database file, so the store is one self-contained file.
"""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

COLUMNS = ("key", "sweep", "workload", "dataflow", "model", "overrides", "status", "reason", "macs",
           "cycles", "latency_s", "energy_pj", "energy_chip_pj", "utilization", "tops", "tops_per_watt",
           "tops_per_watt_chip", "frequency_hz", "voltage_v", "peak_macs_per_cycle", "detail", "mapper",
           "traceback")
STATUSES = ("ok", "infeasible", "failed")
JSON_COLUMNS = {"overrides": "[]", "detail": "{}", "mapper": "{}"}  # stored as JSON text, and when absent

SCHEMA = """CREATE TABLE IF NOT EXISTS points (
    key TEXT PRIMARY KEY, sweep TEXT, workload TEXT, dataflow TEXT, model TEXT, overrides TEXT,
    status TEXT, reason TEXT, macs INTEGER, cycles INTEGER, latency_s REAL, energy_pj REAL,
    energy_chip_pj REAL, utilization REAL, tops REAL, tops_per_watt REAL, tops_per_watt_chip REAL,
    frequency_hz REAL, voltage_v REAL, peak_macs_per_cycle INTEGER, detail TEXT,
    finished_at TEXT DEFAULT CURRENT_TIMESTAMP, mapper TEXT, traceback TEXT)"""
SQLITE_HEADER = b"SQLite format 3\x00"
WHAT_TO_DO = "move it away or delete it to start a new store, or give another --store"
READ_ADVICE = "give the path of a sweep's store (the .sqlite file `accelsim sweep` writes)"


def _refuse_non_store_file(path: Path, advice: str = WHAT_TO_DO) -> None:
    """A SpecError if the file at `path` cannot be a store: a folder, empty, or not SQLite."""
    from ..errors import SpecError
    if path.is_dir():
        raise SpecError(f"{path}: is a folder, not a sweep store (a SQLite file); give a file path")
    try:
        with open(path, "rb") as f:
            head = f.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise SpecError(f"{path}: cannot read the sweep store ({exc.strerror or exc})") from None
    if not head:
        raise SpecError(f"{path}: an empty file (0 bytes), not a sweep store; it was not made into one "
                        f"— {advice}")
    if head != SQLITE_HEADER:
        raise SpecError(f"{path}: not a SQLite file, so not a sweep store; {advice}")


def _check_points_table(db, path: Path, allow_empty: bool, advice: str = WHAT_TO_DO) -> None:
    """A SpecError if the database holds other tables but no sweep `points` table (another
    program's database), or a `points` table without a sweep store's key and status."""
    from ..errors import SpecError
    tables = [n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    if "points" not in tables:
        if allow_empty and not tables:
            return
        listed = f" (its tables: {', '.join(sorted(tables)[:8])})" if tables else ""
        raise SpecError(f"{path}: a SQLite database but not a sweep store: no table 'points'{listed}; "
                        f"{advice}")
    present = {name for _, name, *_ in db.execute("PRAGMA table_info(points)")}
    if not {"key", "status"} <= present:
        raise SpecError(f"{path}: its table 'points' is not a sweep store's (no columns key and status); "
                        f"{advice}")


class Store:
    """A sweep's store, opened for writing: an absent path becomes a new store; an existing file
    must be one (or an empty SQLite database). Use as a context manager, or call `close`."""

    def __init__(self, path):
        from ..errors import SpecError
        self.path = Path(path)
        existed = self.path.exists()
        if existed:
            _refuse_non_store_file(self.path)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = None
        try:
            self.db = sqlite3.connect(self.path, timeout=30)
            _check_points_table(self.db, self.path, allow_empty=True)
            self.db.execute("PRAGMA journal_mode=WAL")  # a kill never leaves a half-written row
            # A commit reaches the WAL file before it returns, so a killed sweep (even SIGKILL) keeps
            # every point it stored; without an fsync per point (~3 ms, which at hundreds of points per
            # second was the parent's main cost), only a power loss or OS crash may lose the last
            # points stored, which a rerun then evaluates again. The WAL is synced at checkpoints.
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute(SCHEMA)
            present = {name for _, name, *_ in self.db.execute("PRAGMA table_info(points)")}
            for column in [c for c in COLUMNS if c not in present]:  # a store from before the column
                self.db.execute(f"ALTER TABLE points ADD COLUMN {column} TEXT")
            self.db.commit()
        except SpecError:
            self._close_quietly()
            raise
        except sqlite3.DatabaseError as exc:
            self._close_quietly()
            what = "not a sweep store: a damaged SQLite file" if existed else "cannot create the sweep store"
            raise SpecError(f"{self.path}: {what} ({exc}); {WHAT_TO_DO}") from None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def statuses(self) -> dict[str, str]:
        """key → status of every stored point (reading them all also finds a damaged file)."""
        from ..errors import SpecError
        try:
            return dict(self.db.execute("SELECT key, status FROM points"))
        except sqlite3.DatabaseError as exc:
            raise SpecError(f"{self.path}: a damaged sweep store ({exc}); `sqlite3 {self.path.name} "
                            f".recover` may save its rows; or {WHAT_TO_DO}") from None

    def done_keys(self) -> set[str]:
        return set(self.statuses())

    def add(self, sweep: str, row: dict, replace: bool = False) -> None:
        """Store one finished point in its own transaction. A key already stored is kept as it is,
        unless `replace` (a retried failure: its 'failed' row gives way to the new one)."""
        values = dict(row, sweep=sweep, detail=row.get("energy_by_component_pj"))
        for column, absent in JSON_COLUMNS.items():  # mapper: layer → the mapper's search summary
            values[column] = absent if values.get(column) is None else json.dumps(values[column])
        verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
        try:
            with self.db:  # one transaction per point
                self.db.execute(f"{verb} INTO points ({', '.join(COLUMNS)}) VALUES "
                                f"({', '.join('?' * len(COLUMNS))})", [values.get(c) for c in COLUMNS])
        except sqlite3.OperationalError as exc:  # e.g. another sweep holds the store for over 30 s
            from ..errors import SpecError
            raise SpecError(f"{self.path}: cannot store a finished point ({exc}); is another sweep writing "
                            f"to this store? Run one sweep per store; the points stored so far are kept") from None

    def rows(self) -> list[dict]:
        return _decoded_rows(self.db)

    def close(self) -> None:
        """Checkpoint the WAL into the database file (leaving no -wal content behind) and close."""
        if self.db is None:
            return
        try:
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            pass  # another connection still reads: its close checkpoints; the data is safe either way
        finally:
            self._close_quietly()

    def _close_quietly(self) -> None:
        if self.db is not None:
            try:
                self.db.close()
            except sqlite3.Error:
                pass
            self.db = None


def _decoded_rows(db) -> list[dict]:
    """Every stored point in order, its JSON columns decoded and its overrides as `axes`."""
    cur = db.execute("SELECT * FROM points ORDER BY rowid")
    names = [d[0] for d in cur.description]
    out = []
    for values in cur:
        row = dict(zip(names, values))
        for column, absent in JSON_COLUMNS.items():
            row[column] = json.loads(row.get(column) or absent)
        row["axes"] = dict(o.split("=", 1) for o in row["overrides"])
        out.append(row)
    return out


def read_rows(path) -> list[dict]:
    """The rows of a store, opened read-only (nothing is created or migrated), or a SpecError
    saying why `path` is not a sweep store."""
    from ..errors import SpecError
    path = Path(path)
    if not path.exists():
        raise SpecError(f"{path}: no such store (a sweep's SQLite file)")
    _refuse_non_store_file(path, READ_ADVICE)
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            _check_points_table(db, path, allow_empty=False, advice=READ_ADVICE)
            return _decoded_rows(db)
        finally:
            db.close()
    except SpecError:
        raise
    except sqlite3.DatabaseError as exc:
        raise SpecError(f"{path}: not a sweep store: a damaged SQLite file ({exc})") from None
    except (ValueError, KeyError, AttributeError, TypeError) as exc:
        raise SpecError(f"{path}: not a sweep store ({type(exc).__name__}: {exc})") from None


def store_frame(path):
    """A store as a pandas DataFrame, one row per point, in the order they finished. The table's
    columns (docs/api.md) plus, expanded: one column per sweep axis (its path, e.g.
    `arch.levels.GLB.size`, the value as text as in the override) and `detail.<component>.dynamic`
    / `.leakage` (pJ, summed over the workload); `overrides` and `mapper` stay JSON text."""
    import pandas as pd

    from ..report.frames import flatten
    base = [*COLUMNS[:COLUMNS.index("detail")], "finished_at", "mapper", "traceback"]
    records = []
    for row in read_rows(path):
        axes, detail = row.pop("axes"), row.pop("detail")
        record = {c: row.get(c) for c in base}
        record["overrides"] = json.dumps(row["overrides"])
        record["mapper"] = json.dumps(row["mapper"]) if row["mapper"] else None
        record.update(axes)
        record.update(flatten(detail, "detail") if detail else {})
        records.append(record)
    return pd.DataFrame(records) if records else pd.DataFrame(columns=base)
