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
        cur = self.db.execute("SELECT * FROM points ORDER BY rowid")
        names = [d[0] for d in cur.description]
        out = []
        for values in cur:
            row = dict(zip(names, values))
            for column, absent in JSON_COLUMNS.items():
                row[column] = json.loads(row[column] or absent)
            row["axes"] = dict(o.split("=", 1) for o in row["overrides"])
            out.append(row)
        return out

    def close(self) -> None:
        self.db.close()
