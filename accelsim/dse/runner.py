"""Run a sweep's points on a local process pool or a Dask cluster; stream rows into the store.

Both executors yield one row per point as it finishes, so the local and the distributed paths
share the storing. A point never stops a sweep: an exception, a timeout or a lost worker makes it a
'failed' row (docs/dse.md, "Failures and interruptions").
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import SpecError
from .evaluate import evaluate_or_fail, exception_reason, failed_row, load_kernels
from .pool import LocalPool
from .spec import Sweep, load_sweep
from .store import Store


class Progress:
    """One stderr line: points done, rate and ETA, redrawn at most every PROGRESS_EVERY_S and as
    the last row is stored (a line per row cost the parent a write and a flush per point, and
    filled a redirected log with a line per point)."""

    def __init__(self, total: int, skipped: int, stream=sys.stderr):
        self.total, self.skipped, self.stream = total, skipped, stream
        self.done, self.start, self.shown = 0, time.monotonic(), None

    def step(self) -> None:
        self.done += 1
        now = time.monotonic()
        if self.shown is not None and now - self.shown < PROGRESS_EVERY_S and not self._last():
            return
        self.shown = now
        elapsed = now - self.start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        left = self.total - self.skipped - self.done
        eta = left / rate if rate > 0 else float("inf")
        self.stream.write(f"\r{self.skipped + self.done}/{self.total} points  {rate:.1f} points/s  "
                          f"ETA {eta:.0f} s   ")
        self.stream.flush()

    def _last(self) -> bool:
        return self.skipped + self.done >= self.total

    def close(self) -> None:
        self.stream.write("\n")


PROGRESS_EVERY_S = 0.1  # the progress line's redraw interval


def _dask_rows(points, scheduler: str):
    """Rows of `points` evaluated on the Dask cluster at `scheduler`, as each finishes. A point whose
    task fails (its worker was lost too often: KilledWorker) is a 'failed' row. While the cluster
    has no worker for DASK_WAIT_NOTICE_S, says once on stderr that the sweep is waiting."""
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise SpecError("--scheduler needs Dask: pip install 'accelsim[dask]'") from None
    try:
        client = Client(scheduler)
    except (OSError, TimeoutError) as exc:
        raise SpecError(f"--scheduler {scheduler}: cannot reach the Dask scheduler "
                        f"({type(exc).__name__}: {exc})") from None
    try:
        futures = {client.submit(evaluate_or_fail, p, pure=False): p for p in points}
        finished = as_completed(futures)
        idle_since, told, last_look = None, False, 0.0
        while not finished.is_empty():
            if finished.has_ready():
                for future in finished.next_batch(block=False):
                    try:
                        yield future.result()
                    except Exception as exc:  # noqa: BLE001 — the task, not the sweep, failed
                        yield failed_row(futures[future], f"Dask: {exception_reason(exc)}")
                continue
            time.sleep(DASK_POLL_S)
            now = time.monotonic()
            if now - last_look < min(1.0, DASK_WAIT_NOTICE_S / 2):
                continue
            last_look = now
            if _dask_workers(client):
                idle_since, told = None, False
            elif idle_since is None:
                idle_since = now
            elif not told and now - idle_since >= DASK_WAIT_NOTICE_S:
                told = True
                sys.stderr.write(f"\nwaiting for Dask workers at {scheduler}: none has been connected "
                                 f"for {now - idle_since:.0f} s; the sweep goes on when one joins\n")
                sys.stderr.flush()
    finally:
        client.close()


DASK_POLL_S = 0.1          # how often the Dask path looks for finished points
DASK_WAIT_NOTICE_S = 10.0  # no Dask worker for this long: say that the sweep is waiting


def _dask_workers(client) -> int:
    try:
        return len(client.scheduler_info(n_workers=-1).get("workers", {}))
    except Exception:  # noqa: BLE001 — the scheduler is busy or reconnecting: assume workers
        return 1


def _check_timeout(point_timeout_s, scheduler) -> None:
    if point_timeout_s is None:
        return
    if not point_timeout_s > 0:
        raise SpecError(f"--point-timeout must be a positive number of seconds, got {point_timeout_s}")
    if scheduler:
        raise SpecError("--point-timeout works with the local pool only (a running Dask task cannot be "
                        "stopped); set Dask's own limits on the cluster, or drop --scheduler")


def run_sweep(sweep: Sweep, jobs: int = 1, scheduler: str | None = None, store_path=None,
              progress: bool = True, retry_failed: bool = False,
              point_timeout_s: float | None = None, prepare=None) -> dict:
    """Evaluate every point not yet in the store (and, with `retry_failed`, the 'failed' ones
    again, their rows replaced). Returns counts of points by outcome: total, skipped (stored
    already: not run), skipped_failed (of those, how many are 'failed'), ok, infeasible, failed.

    A point that raises, overruns `point_timeout_s` (local pool only) or loses its worker is a
    'failed' row and the sweep goes on. Leaving, however it happens, ends the workers and
    checkpoints the store's WAL. `prepare(points)` hears the points a local pool is about to run,
    before it starts (the CLI compiles their kernels ahead: cli/commands._compile_for_sweep)."""
    _check_timeout(point_timeout_s, scheduler)
    with Store(store_path or sweep.store_path) as store:
        points = sweep.points()
        stored = store.statuses()
        retry = {k for k, status in stored.items() if status == "failed"} if retry_failed else set()
        pending = [p for p in points if p.key not in stored or p.key in retry]
        skipped = len(points) - len(pending)
        counts = {"total": len(points), "skipped": skipped, "ok": 0, "infeasible": 0, "failed": 0,
                  "skipped_failed": sum(1 for p in points if stored.get(p.key) == "failed" and p.key not in retry)}
        if not pending:
            return counts
        if prepare and not scheduler:  # (a Dask cluster's workers compile on their own machines)
            prepare(pending)
        bar = Progress(len(points), skipped) if progress else None
        if not scheduler:
            load_kernels(pending)
        pool = None if scheduler else LocalPool(jobs, point_timeout_s)
        rows = _dask_rows(pending, scheduler) if scheduler else pool.rows(pending)
        try:
            for row in rows:
                store.add(sweep.spec.name, row, replace=row["key"] in retry)
                counts[row["status"]] += 1
                if bar:
                    bar.step()
        finally:
            rows.close()  # the Dask client closes now, not when the generator is collected
            if pool:
                pool.close()
            if bar:
                bar.close()
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
    failed: int = 0           # failed in this run (an exception, a timeout, a lost worker)
    skipped_failed: int = 0   # stored as failed by an earlier run and not rerun (retry_failed=False)

    def failures(self) -> list[dict]:
        """The store's 'failed' rows of this sweep (this run's and earlier ones'), with their
        `reason` (type: message) and `traceback`."""
        return [r for r in self.rows() if r["status"] == "failed" and r["sweep"] == self.name]

    def rows(self) -> list[dict]:
        """Every point in the store (those of earlier runs too), as `Store.rows` gives them."""
        from .store import read_rows
        return read_rows(self.store)

    def frame(self):
        """The store as a pandas DataFrame (`accelsim.dse.store.store_frame`)."""
        from .store import store_frame
        return store_frame(self.store)


def sweep(sweep_file, store=None, jobs: int = 1, scheduler: str | None = None,
          progress: bool = False, retry_failed: bool = False,
          point_timeout_s: float | None = None, prepare=None) -> SweepRun:
    """Run a sweep file (a path, or a `Sweep` from `load_sweep`) into its resumable SQLite store
    (default: the sweep file's `store:`, else <name>.sqlite beside it), as `accelsim sweep` does:
    points already stored are skipped — 'failed' ones too unless `retry_failed`. `jobs` local
    processes, or a Dask `scheduler` address; `point_timeout_s` bounds each point (local pool)."""
    spec = sweep_file if isinstance(sweep_file, Sweep) else load_sweep(sweep_file)
    store_path = Path(store) if store else spec.store_path
    counts = run_sweep(spec, jobs=jobs, scheduler=scheduler, store_path=store_path, progress=progress,
                       retry_failed=retry_failed, point_timeout_s=point_timeout_s, prepare=prepare)
    return SweepRun(spec.spec.name, store_path, counts["total"], counts["skipped"], counts["ok"],
                    counts["infeasible"], counts["failed"], counts["skipped_failed"])
