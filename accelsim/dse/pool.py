"""The local pool: worker processes that we start, feed one point at a time, and kill.

`concurrent.futures` cannot stop a running task, and a worker that dies takes its pool down with it
(BrokenProcessPool). Here each worker is a `multiprocessing.Process` with its own pipe:

* a point that runs past its deadline: the worker is killed (SIGKILL) and replaced, and the point
  is a 'failed' row with reason 'timeout after N s';
* a worker that dies mid-point (a segfault, the OOM killer, a kill by hand): the point is a
  'failed' row saying how the worker ended, and a new worker takes its place;
* the parent dies, even by SIGKILL: each worker asks Linux to kill it when its parent ends
  (prctl PR_SET_PDEATHSIG) and, elsewhere, a thread polls os.getppid();
* Ctrl-C: workers ignore SIGINT; the parent kills them on its way out.

A worker holds up to IN_FLIGHT points: it starts the next one as soon as it has sent a row, without
waiting for the parent to wake up, store the row and send another (on 2 cores beside another job,
≈ 8 % more points a second; nothing measurable on an idle machine). The first point it holds is
the running one: its deadline runs from when the parent saw the row before it; when a worker dies
or overruns, that point fails and the others it held go back to the queue.

Workers are forked where the platform allows it (they inherit the loaded modules and compiled
kernels, so starting a replacement costs milliseconds), spawned elsewhere.
"""
from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import deque
from multiprocessing.connection import wait

from . import evaluate

_PR_SET_PDEATHSIG = 1
IN_FLIGHT = 2  # points given to a worker and not yet returned (the first one is running)
WORKER_GC_YOUNG = 10_000  # a worker's young-generation threshold (the interpreter's default: 700)


def _die_with_parent(parent_pid: int) -> None:
    """End this process when `parent_pid` ends, however it ends."""
    armed = False
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            libc = ctypes.CDLL(None, use_errno=True)
            armed = libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
        except (OSError, AttributeError):
            armed = False
    if os.getppid() != parent_pid:  # the parent died before the request was in place
        os._exit(1)
    if not armed:
        def watch() -> None:
            while os.getppid() == parent_pid:
                time.sleep(1.0)
            os._exit(1)
        threading.Thread(target=watch, daemon=True, name="accelsim-parent-watch").start()


def _worker_main(conn, parent_pid: int) -> None:
    # What the worker inherited (modules, kernels, the preloaded workloads and packs) lives as long
    # as it does: out of the collector's sight, a collection no longer walks it (≈ 5 % of a sweep's
    # CPU in full collections) nor writes to its pages (copy-on-write), as the gc docs advise for fork.
    gc.freeze()
    # A point allocates tens of thousands of short-lived objects and few cycles: young collections
    # every WORKER_GC_YOUNG allocations instead of 700 (the older generations' counts as before)
    # take the collector from ≈ 3 % of a worker's time to ≈ 1 % (docs/dse.md, session 25).
    gc.set_threshold(WORKER_GC_YOUNG, *gc.get_threshold()[1:])
    _die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    while True:
        try:
            point = conn.recv()
        except (EOFError, OSError):
            return
        if point is None:
            return
        row = evaluate.evaluate_or_fail(point)
        try:
            conn.send(row)
        except (EOFError, OSError):
            return
        except Exception as exc:  # noqa: BLE001 — a row that does not pickle is that point's failure
            conn.send(evaluate.failed_row(point, f"its result could not be sent back: "
                                                 f"{evaluate.exception_reason(exc)}"))


def _context():
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods and sys.platform != "darwin" else "spawn")


class _Worker:
    def __init__(self, ctx):
        self.conn, child = ctx.Pipe(duplex=True)
        self.proc = ctx.Process(target=_worker_main, args=(child, os.getpid()), daemon=True,
                                name="accelsim-sweep-worker")
        self.proc.start()
        child.close()
        self.points = deque()  # given and not yet returned, in order: the first is running
        self.deadline = None   # the running point's
        self.variant = None  # the arch variant of the last point it was given (_ByArch)

    def give(self, point, variant, timeout_s: float | None) -> None:
        if not self.points:
            self.deadline = time.monotonic() + timeout_s if timeout_s else None
        self.points.append(point)
        self.variant = variant
        self.conn.send(point)

    def returned(self, timeout_s: float | None) -> None:
        """The running point's row came back: the next one it holds is running now."""
        self.points.popleft()
        self.deadline = time.monotonic() + timeout_s if timeout_s and self.points else None

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(5)
        self.conn.close()
        if self.proc.exitcode is not None:
            self.proc.close()


def _how_it_ended(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"


class _ByArch:
    """The points left, grouped by arch variant (evaluate.arch_variant). A worker builds and caches
    each arch variant it runs (the parse, the action energies, the packed arch) and what it shares
    with its neighbours in the sweep's order (the layers padded to the same fan-out sides, when only
    a buffer's size changes), and a variant serves several points (its workloads and dataflows).
    So the variants, in the order each first appears, are cut into one run per worker: a worker
    takes the points of the variant it ran last, then the next variant of its run; once its run is
    done it takes the last variant of the longest run left, then any point left."""

    def __init__(self, points, workers: int = 1):
        self.groups: dict = {}  # variant -> deque of its points left (a dict keeps the first-seen order)
        for point in points:
            self.groups.setdefault(evaluate.arch_variant(point), deque()).append(point)
        variants, workers = list(self.groups), max(1, workers)
        size = -(-len(variants) // workers)
        self.runs = [deque(variants[k * size:(k + 1) * size]) for k in range(workers)]

    def __bool__(self) -> bool:
        return bool(self.groups)

    def put_back(self, points) -> None:
        """Points given to a worker that died before it ran them: first in line for their variant."""
        for point in reversed(points):
            self.groups.setdefault(evaluate.arch_variant(point), deque()).appendleft(point)

    def take(self, worker: int, last):
        """(point, variant): the next point for worker number `worker`, whose last point was of
        variant `last` (None: it has run none)."""
        if last in self.groups:
            variant = last
        elif self.runs[worker]:
            variant = self.runs[worker].popleft()
        elif any(self.runs):
            variant = max(self.runs, key=len).pop()  # the end of another worker's run
        else:
            variant = next(iter(self.groups))  # a variant another worker is running
        group = self.groups[variant]
        point = group.popleft()
        if not group:
            del self.groups[variant]
        return point, variant


class LocalPool:
    """`jobs` worker processes; `rows(points)` yields one row per point as each finishes.
    Use as a context manager: leaving it (normally, by an exception or Ctrl-C) ends every worker."""

    def __init__(self, jobs: int, timeout_s: float | None = None):
        self.jobs, self.timeout_s = max(1, jobs), timeout_s
        self.ctx = _context()
        self.workers: list[_Worker] = []

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def rows(self, points):
        while len(self.workers) < min(self.jobs, len(points)):
            self.workers.append(_Worker(self.ctx))
        queue = _ByArch(points, len(self.workers))
        for worker in self.workers:
            self._top_up(worker, queue)
        while True:
            busy = [w for w in self.workers if w.points]
            if not busy:
                return
            deadlines = [w.deadline for w in busy if w.deadline is not None]
            wait_s = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
            wait([w.conn for w in busy] + [w.proc.sentinel for w in busy], wait_s)
            for worker in busy:
                row = self._finished(worker, queue)
                if row is None:
                    continue
                self._top_up(worker, queue)  # (before the caller stores the row)
                yield row

    def _top_up(self, worker: _Worker, queue: _ByArch) -> None:
        """Give the worker (or its replacement) points until it holds IN_FLIGHT."""
        while queue and len(worker.points) < IN_FLIGHT:
            worker.give(*queue.take(self.workers.index(worker), worker.variant), self.timeout_s)

    def _finished(self, worker: _Worker, queue: _ByArch) -> dict | None:
        """The row of the worker's running point if it is done (a result, a death or a timeout), else
        None. A dead or timed-out worker is replaced in place, and the other points it held go back
        to the queue."""
        point = worker.points[0]
        try:
            if worker.conn.poll():
                row = worker.conn.recv()
                worker.returned(self.timeout_s)
                return row
        except (EOFError, OSError):
            pass  # the worker is gone: below
        if worker.proc.is_alive():
            if worker.deadline is None or time.monotonic() < worker.deadline:
                return None
            reason = f"timeout after {self.timeout_s:g} s"
        else:
            reason = f"the worker process died mid-point ({_how_it_ended(worker.proc.exitcode)})"
        queue.put_back(list(worker.points)[1:])
        worker.kill()
        self._replace(worker)
        return evaluate.failed_row(point, reason)

    def _replace(self, worker: _Worker) -> None:
        fresh = _Worker(self.ctx)
        worker.conn, worker.proc, worker.points, worker.deadline = fresh.conn, fresh.proc, deque(), None
        # worker.variant stays: the new process goes on with the rest of that variant (some worker
        # must build it for them; left, its points would wait for the end of every run)

    def close(self) -> None:
        for worker in self.workers:
            if not worker.points and worker.proc.is_alive():
                try:
                    worker.conn.send(None)  # idle: let it return
                except (OSError, ValueError):
                    pass
        end = time.monotonic() + 2
        for worker in self.workers:
            if not worker.points:
                worker.proc.join(max(0.0, end - time.monotonic()))
            worker.kill()
        self.workers = []
