"""Compile a run's uncached kernels in parallel processes before the run, so the first run after an
install waits for the longest chain of compiles instead of their sum.

Numba compiles a kernel at its first call, in the calling process, one kernel after another. The
kernels a search run needs are independent (the mapper's search kernel calls the counting kernel
at its address, search/model_call.py, so it compiles without it). On two CPUs a search run's
chains are [the counting kernel, then the search kernel] (≈ 6 + 5 s of CPU) and [the ragged-loop
kernel] (≈ 11 s), one process each, at once (a third would only share the same two CPUs). The
children are forked where that is safe (they start with this process's imports), else spawned.
Each job calls its kernels on a tiny problem (the `accelsim cache warm` GEMM), so Numba compiles
them with the signatures a run uses and writes its on-disk cache; the run then loads them. A chain
that fails leaves nothing behind but a note: the run compiles what is missing itself, as it would
without this module.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

COUNTING, RAGGED, SEARCH, TEMPLATE = "counting", "ragged", "search", "template"


@dataclass(frozen=True)
class Job:
    what: str              # what it compiles, for the progress lines
    after: str | None = None  # a job it runs after, in its process (the chains balance on two CPUs)


JOBS = {COUNTING: Job("the counting kernel"),
        RAGGED: Job("the ragged-loop kernel"),
        SEARCH: Job("the mapper's search kernel", after=COUNTING),
        TEMPLATE: Job("the sweeps' template kernel")}


def _kernel(job: str):
    """The dispatcher whose cache entry says the job's kernels are compiled."""
    if job == COUNTING:
        from .counting.nest_kernel import evaluate_nest
        return evaluate_nest
    if job == RAGGED:
        from .counting.ragged_kernel import evaluate_ragged
        return evaluate_ragged
    if job == TEMPLATE:
        from .mapping.template_kernel import map_layer_kernel
        return map_layer_kernel
    from .search.search_kernels import search_heuristic
    return search_heuristic


def jobs_for(options) -> list[str]:
    """The jobs a run with these SimOptions needs (dataflow None: it searches if the arch names no
    template; as kernel_cache.compile_note)."""
    jobs = [COUNTING]
    if options.performance_model in ("analytical", "cycle"):  # templates' and the mapper's padded layers run ragged
        jobs.append(RAGGED)
    if options.dataflow in ("search", None):
        jobs.append(SEARCH)
    return jobs


def pending(jobs) -> list[str]:
    """Of `jobs`, those whose kernels Numba's cache does not hold yet (none when the JIT is off)."""
    from .kernel_cache import is_compiled

    if os.environ.get("NUMBA_DISABLE_JIT", "0") not in ("", "0"):
        return []
    return [job for job in jobs if not is_compiled(_kernel(job))]


def chains(jobs) -> list[list[str]]:
    """`jobs` as the processes that run them: a job after one of the others runs in its process,
    right after it; every other job starts a process."""
    out = []
    for job in jobs:
        first = JOBS[job].after
        chain = next((c for c in out if first in c), None) if first in jobs else None
        if chain is None:
            out.append([job])
        else:
            chain.append(job)
    return out


def compile_in_parallel(jobs, processes: int | None = None, report=None) -> dict[str, float]:
    """Run `jobs` (names in JOBS) in child processes, one per chain (see chains), at most
    `processes` at once (default: the CPUs this process may use); returns each finished chain's
    wall seconds by its jobs joined with '+'. `report(line)` hears each start, end and failure. A
    failed chain is reported and left to the run (its kernels compile at their first call)."""
    report = report or (lambda line: None)
    processes = processes or usable_cpus()
    todo, running, done = chains(jobs), [], {}
    n_chains = len(todo)
    fork = _can_fork()
    if fork:  # what the jobs import, imported once here (the run needs it too) instead of in each child
        try:
            _import_for(jobs)
        except Exception:  # noqa: BLE001 — spawned children report it as their chain's failure
            fork = False
    try:
        while todo or running:
            while todo and len(running) < processes:
                chain = todo.pop(0)
                # A file, not a pipe: Numba's warnings cannot fill it and block; closed when the process ends.
                log = tempfile.TemporaryFile()  # noqa: SIM115
                proc = _forked(chain, log) if fork else _spawned(chain, log)
                running.append((chain, proc, log, time.perf_counter()))
                report(f"compiling {_what(chain)} (process {len(done) + len(running)} of {n_chains})")
            time.sleep(0.05)  # poll our own children only: a caller's other children are not ours to reap
            for entry in list(running):
                chain, proc, log, start = entry
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid == 0:
                    continue
                running.remove(entry)
                proc.returncode = os.waitstatus_to_exitcode(status)
                if proc.returncode == 0 and not pending(chain):
                    done["+".join(chain)] = time.perf_counter() - start
                    report(f"compiled {_what(chain)} in {done['+'.join(chain)]:.1f} s "
                           f"(CPU {usage.ru_utime + usage.ru_stime:.1f} s)")
                elif proc.returncode == 0:  # Numba could not write its cache: the run compiles them again
                    report(f"compiled {_what(chain)} in a separate process, but Numba's cache did not keep "
                           f"{'it' if len(chain) == 1 else 'them'}; the run compiles what is missing itself")
                else:
                    log.seek(0)
                    lines = log.read().decode(errors="replace").strip().splitlines()
                    report(f"compiling {_what(chain)} in a separate process failed "
                           f"({lines[-1] if lines else f'exit status {proc.returncode}'}); "
                           f"the run compiles what is missing itself")
                log.close()
    finally:  # interrupted: stop the children (Numba writes a cache entry whole or not at all)
        for _, proc, log, _ in running:
            proc.kill()
            proc.wait()
            log.close()
    return done


def _can_fork() -> bool:
    """Fork the children where the platform forks by default and this process runs one thread (a
    forked copy of a threaded process may deadlock)."""
    return sys.platform == "linux" and threading.active_count() == 1


def _import_for(jobs) -> None:
    from .mapping import dataflows, lower  # noqa: F401
    from .model import packed  # noqa: F401
    if SEARCH in jobs:
        from .search import mapper  # noqa: F401


def _forked(chain, log) -> _Child:
    """A forked child that runs the chain's jobs: it has this process's imports already (a spawned
    one spends ≈ 0.45 s of CPU importing them before it compiles). Its stderr goes to `log`."""
    sys.stdout.flush()
    sys.stderr.flush()
    # Ctrl-C blocked until the child ignores it (the parent kills its children on Ctrl-C): a
    # KeyboardInterrupt in the child before its os._exit would run the caller's code on in it.
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        pid = os.fork()
        if pid == 0:
            _child(chain, log, mask)  # never returns
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    return _Child(pid)


def _child(chain, log, mask) -> None:
    """A forked child's life: run the chain's jobs, then leave at once, whatever happens (no exit
    handlers of the parent's); exit status 1 and the traceback in `log` if a job fails."""
    code = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        os.dup2(log.fileno(), 2)
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
        for job in chain:
            run_job(job)
        code = 0
    except BaseException:  # noqa: BLE001 (a failed chain: its last line is the parent's report)
        try:
            log.write(traceback.format_exc().encode())
        except BaseException:  # noqa: BLE001 (a log that cannot be written: the exit status says it)
            pass
    finally:
        try:
            sys.stderr.flush()
            log.flush()
        except BaseException:  # noqa: BLE001
            pass
        os._exit(code)


def _spawned(chain, log) -> subprocess.Popen:
    """A new interpreter that runs the chain's jobs; it imports this very package, wherever the
    parent found it. Its stderr goes to `log`."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (str(Path(__file__).resolve().parents[1]),
                                                                     os.environ.get("PYTHONPATH"))))}
    return subprocess.Popen([sys.executable, "-m", __name__, *chain], stdout=subprocess.DEVNULL, stderr=log, env=env)


class _Child:
    """A forked child, as much of a Popen as compile_in_parallel uses (the parent reaps it by pid)."""

    def __init__(self, pid: int):
        self.pid, self.returncode = pid, None

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def wait(self) -> None:
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass


def usable_cpus() -> int:
    """The CPUs this process may use."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def _what(chain) -> str:
    return ", then ".join(JOBS[job].what for job in chain)


# A tiny GEMM on a systolic array: enough to call every kernel once (here and `accelsim cache warm`).
WARM_ARCH = """name: warm
technology: {node: 45nm, energy_table: horowitz_45nm}
operating_point: {voltage: 0.9V, frequency: 1GHz}
dataflow: os
levels:
  - memory: {name: DRAM, class: dram, size: unlimited, word_bits: 8, keeps: [weights, inputs, outputs],
             read_bandwidth: 4 words/cycle, write_bandwidth: 4 words/cycle}
  - memory: {name: SRAM, class: sram, size: 64KiB, word_bits: 8, keeps: [weights, inputs, outputs]}
  - spatial: {name: PE, x: 4, y: 4, interconnect: systolic}
  - memory: {name: RF, class: regfile, size: 64b, word_bits: 8, keeps: [outputs]}
  - compute: {name: MAC, format: int8}
"""
WARM_WORKLOAD = """name: warm
layers:
  - {name: small, matmul: {m: 8, n: 8, k: 8}}
"""


def warm_problem():
    """(arch, workload) of the tiny GEMM."""
    from .load import load_arch, load_workload

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "arch.yaml").write_text(WARM_ARCH)
        (Path(tmp) / "workload.yaml").write_text(WARM_WORKLOAD)
        return load_arch(Path(tmp) / "arch.yaml"), load_workload(Path(tmp) / "workload.yaml")


def odd_dims_workload():
    """A GEMM whose prime dims leave MACs idle under a template on an array of sides up to 128: the
    templates' ragged choice runs on it (warming the sweeps' choice kernel)."""
    from .ir.layers import matmul
    from .ir.workload import Layer, Workload
    return Workload("warm_odd", "", (Layer("odd", matmul(m=97, n=101, k=103)),))


def run_job(job: str) -> None:
    """Compile the job's kernels in this process: call them once on the `accelsim cache warm` GEMM."""
    arch, workload = warm_problem()
    einsum = workload.layers[0].run_einsum
    if job in (COUNTING, RAGGED):
        from .mapping.dataflows import map_layer
        from .mapping.lower import lower
        from .model.packed import evaluate_packed, pack_problem
        evaluate_packed(pack_problem(arch, einsum), lower(arch, einsum, map_layer(arch, einsum, "os")),
                        ragged=job == RAGGED)
    elif job == SEARCH:  # random sampling and hill climbing (the mapspace is past the exhaustive limit)
        from .energy.model import action_energies
        from .search.constraints import Constraints, MapperSettings
        from .search.mapper import best_points
        settings = MapperSettings(search="auto", exhaustive_limit=1, evaluations=200)
        best_points(arch, einsum, action_energies(arch), Constraints(settings=settings), compile_only=True)
    elif job == TEMPLATE:
        from .ir.layers import matmul
        from .mapping.template_pack import template_mapping
        template_mapping(arch, matmul(m=2, n=2, k=2), "ws")
    else:
        raise ValueError(f"unknown compile job {job!r}; the jobs are {', '.join(JOBS)}")


if __name__ == "__main__":
    for name in sys.argv[1:]:  # a chain, in order
        run_job(name)
