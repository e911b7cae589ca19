"""A resumable result store: SQLite, one transaction per finished point, keyed by the point.

A killed sweep loses at most the points in flight; rerunning skips every stored key, so nothing
is computed twice and nothing is stored twice (the key is the primary key).
"""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

COLUMNS = ("key", "sweep", "workload", "dataflow", "model", "overrides", "status", "reason", "macs",
           "cycles", "latency_s", "energy_pj", "energy_chip_pj", "utilization", "tops", "tops_per_watt",
           "tops_per_watt_chip", "frequency_hz", "voltage_v", "peak_macs_per_cycle", "detail", "mapper")
JSON_COLUMNS = {"overrides": "[]", "detail": "{}", "mapper": "{}"}  # stored as JSON text, and when absent

SCHEMA = """CREATE TABLE IF NOT EXISTS points (
    key TEXT PRIMARY KEY, sweep TEXT, workload TEXT, dataflow TEXT, model TEXT, overrides TEXT,
    status TEXT, reason TEXT, macs INTEGER, cycles INTEGER, latency_s REAL, energy_pj REAL,
    energy_chip_pj REAL, utilization REAL, tops REAL, tops_per_watt REAL, tops_per_watt_chip REAL,
    frequency_hz REAL, voltage_v REAL, peak_macs_per_cycle INTEGER, detail TEXT,
    finished_at TEXT DEFAULT CURRENT_TIMESTAMP, mapper TEXT)"""


class Store:
    def __init__(self, path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path)
        self.db.execute("PRAGMA journal_mode=WAL")  # a kill never leaves a half-written row
        self.db.execute(SCHEMA)
        present = {name for _, name, *_ in self.db.execute("PRAGMA table_info(points)")}
        for column in set(COLUMNS) - present:  # a store from before the column existed
            self.db.execute(f"ALTER TABLE points ADD COLUMN {column} TEXT")
        self.db.commit()

    def done_keys(self) -> set[str]:
        return {k for (k,) in self.db.execute("SELECT key FROM points")}

    def add(self, sweep: str, row: dict) -> None:
        values = dict(row, sweep=sweep, detail=row.get("energy_by_component_pj"))
        for column, absent in JSON_COLUMNS.items():  # mapper: layer → the mapper's search summary
            values[column] = absent if values.get(column) is None else json.dumps(values[column])
        with self.db:  # one transaction per point
            self.db.execute(f"INSERT OR IGNORE INTO points ({', '.join(COLUMNS)}) VALUES "
                            f"({', '.join('?' * len(COLUMNS))})", [values.get(c) for c in COLUMNS])

    def rows(self) -> list[dict]:
        return _decoded_rows(self.db)

    def close(self) -> None:
        self.db.close()


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
    if not path.is_file():
        raise SpecError(f"{path}: no such store (a sweep's SQLite file)")
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            if db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='points'").fetchone() is None:
                raise SpecError(f"{path}: not a sweep store (no table 'points')")
            return _decoded_rows(db)
        finally:
            db.close()
    except SpecError:
        raise
    except (sqlite3.DatabaseError, ValueError, KeyError, AttributeError, TypeError) as exc:
        raise SpecError(f"{path}: not a sweep store ({type(exc).__name__}: {exc})") from None


def store_frame(path):
    """A store as a pandas DataFrame, one row per point, in the order they finished. The table's
    columns (docs/api.md) plus, expanded: one column per sweep axis (its path, e.g.
    `arch.levels.GLB.size`, the value as text as in the override) and `detail.<component>.dynamic`
    / `.leakage` (pJ, summed over the workload); `overrides` and `mapper` stay JSON text."""
    import pandas as pd

    from ..report.frames import flatten
    base = [*COLUMNS[:COLUMNS.index("detail")], "finished_at", "mapper"]
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
