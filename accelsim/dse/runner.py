"""Run a sweep's points on a local process pool or a Dask cluster; stream rows into the store.

Both executors are used the same way — submit every pending point, take results as they
complete — so the local and the distributed paths share this code.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import as_completed as local_as_completed

from .evaluate import evaluate_point
from .spec import Sweep, load_sweep
from .store import Store


class Progress:
    """One stderr line: points done, rate and ETA."""

    def __init__(self, total: int, skipped: int, stream=sys.stderr):
        self.total, self.skipped, self.stream = total, skipped, stream
        self.done, self.start = 0, time.monotonic()

    def step(self) -> None:
        self.done += 1
        elapsed = time.monotonic() - self.start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        left = self.total - self.skipped - self.done
        eta = left / rate if rate > 0 else float("inf")
        self.stream.write(f"\r{self.skipped + self.done}/{self.total} points  {rate:.1f} points/s  "
                          f"ETA {eta:.0f} s   ")
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")


def _executor(jobs: int, scheduler: str | None):
    if scheduler:
        try:
            from distributed import Client, as_completed
        except ImportError:
            from ..errors import SpecError
            raise SpecError("--scheduler needs Dask: pip install 'accelsim[dask]'") from None
        client = Client(scheduler)
        return client, as_completed, client.close
    pool = ProcessPoolExecutor(max_workers=jobs)
    return pool, local_as_completed, pool.shutdown


def run_sweep(sweep: Sweep, jobs: int = 1, scheduler: str | None = None, store_path=None,
              progress: bool = True) -> dict:
    """Evaluate every point not yet in the store. Returns counts of points by outcome."""
    store = Store(store_path or sweep.store_path)
    points = sweep.points()
    done = store.done_keys()
    pending = [p for p in points if p.key not in done]
    bar = Progress(len(points), len(points) - len(pending)) if progress else None
    counts = {"total": len(points), "skipped": len(points) - len(pending), "ok": 0, "infeasible": 0}
    if pending:
        executor, as_completed, close = _executor(jobs, scheduler)
        try:
            futures = [executor.submit(evaluate_point, p) for p in pending]
            for future in as_completed(futures):
                row = future.result()
                store.add(sweep.spec.name, row)
                counts[row["status"]] += 1
                if bar:
                    bar.step()
        finally:
            close()
            if bar:
                bar.close()
    store.close()
    return counts


@dataclass(frozen=True)
class SweepRun:
    """What `sweep` did: the store the rows are in and how many points had each outcome."""

    name: str
    store: Path
    total: int
    skipped: int      # already in the store: not run again
    ok: int
    infeasible: int

    def rows(self) -> list[dict]:
        """Every point in the store (those of earlier runs too), as `Store.rows` gives them."""
        from .store import read_rows
        return read_rows(self.store)

    def frame(self):
        """The store as a pandas DataFrame (`accelsim.dse.store.store_frame`)."""
        from .store import store_frame
        return store_frame(self.store)


def sweep(sweep_file, store=None, jobs: int = 1, scheduler: str | None = None,
          progress: bool = False) -> SweepRun:
    """Run a sweep file (a path, or a `Sweep` from `load_sweep`) into its resumable SQLite store
    (default: the sweep file's `store:`, else <name>.sqlite beside it), as `accelsim sweep` does:
    points already stored are skipped. `jobs` local processes, or a Dask `scheduler` address."""
    spec = sweep_file if isinstance(sweep_file, Sweep) else load_sweep(sweep_file)
    store_path = Path(store) if store else spec.store_path
    counts = run_sweep(spec, jobs=jobs, scheduler=scheduler, store_path=store_path, progress=progress)
    return SweepRun(spec.spec.name, store_path, counts["total"], counts["skipped"], counts["ok"],
                    counts["infeasible"])
