"""Sweeps that survive: a point that raises, hangs or loses its worker is a 'failed' row and the
sweep goes on; reruns skip failures unless asked; a SIGKILLed sweep leaves no workers; stores that
are not stores are clear errors; the WAL is checkpointed; Dask says when it waits for workers.

Points misbehave through `accelsim.dse.evaluate.evaluate_point`, replaced with monkeypatch: local
workers are forked after the patch, so they run the replacement (no environment variable involved).
"""
import io
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import ARCH_DIR, REPO, WORKLOAD_DIR

from accelsim.cli import main
from accelsim.dse import evaluate, runner
from accelsim.dse.runner import run_sweep
from accelsim.dse.spec import load_sweep
from accelsim.dse.store import Store, read_rows
from accelsim.errors import AccelsimBug, SpecError

SWEEP = f"""name: t
arch: {ARCH_DIR / 'simple_ws.yaml'}
workloads: [{WORKLOAD_DIR / 'conv_tiny.yaml'}]
dataflows: [ws, os]
axes:
  arch.levels.PE_array.x: [4, 8, 16]
  arch.levels.PE_array.y: [4, 16]
"""
REAL_EVALUATE = evaluate.evaluate_point
BUG = "arch.levels.PE_array.x=8"    # the points (2 of 12) that misbehave: x = 8, y = 4
BUG_Y = "arch.levels.PE_array.y=4"


def misbehaving(point) -> bool:
    return BUG in point.overrides and BUG_Y in point.overrides


def recurse(n):
    return recurse(n + 1) + 1


def raising(point):
    if misbehaving(point):
        if point.dataflow == "ws":
            raise AccelsimBug("fills != parent reads × multicast at GLB")
        recurse(0)  # a real RecursionError
    return REAL_EVALUATE(point)


@pytest.fixture
def sweep_file(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(SWEEP)
    return path


def new_children(before) -> list[int]:
    """Our live children that were not there `before` (other tests may leave helpers, such as
    multiprocessing's resource tracker)."""
    return sorted(set(children_of(os.getpid())) - set(before))


def children_of(pid: int) -> list[int]:
    """Live (not zombie) child processes of `pid`."""
    try:
        import psutil
    except ImportError:
        psutil = None
    if psutil:
        try:
            kids = psutil.Process(pid).children()
        except psutil.NoSuchProcess:
            return []
        return [k.pid for k in kids if _alive(k.pid)]
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                out.append(int(entry))
    return out


def _alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_a_point_that_raises_is_failed_and_the_others_finish(sweep_file, tmp_path, monkeypatch):
    store = tmp_path / "s.sqlite"
    monkeypatch.setattr(evaluate, "evaluate_point", raising)
    before = children_of(os.getpid())
    counts = run_sweep(load_sweep(sweep_file), jobs=2, store_path=store, progress=False)
    assert (counts["ok"], counts["failed"], counts["infeasible"]) == (10, 2, 0)
    failed = {r["dataflow"]: r for r in read_rows(store) if r["status"] == "failed"}
    assert failed["ws"]["reason"] == "AccelsimBug: fills != parent reads × multicast at GLB"
    assert failed["os"]["reason"].startswith("RecursionError: maximum recursion depth")
    for row in failed.values():  # the traceback is kept for debugging; metrics are NULL
        assert "Traceback (most recent call last)" in row["traceback"] and row["cycles"] is None
        assert row["axes"]["arch.levels.PE_array.x"] == "8"
    assert new_children(before) == []  # the pool's workers are gone

    again = run_sweep(load_sweep(sweep_file), jobs=2, store_path=store, progress=False)
    assert again == {"total": 12, "skipped": 12, "skipped_failed": 2, "ok": 0, "infeasible": 0, "failed": 0}

    monkeypatch.setattr(evaluate, "evaluate_point", REAL_EVALUATE)  # fixed: retry the failures
    ok_before = {r["key"]: r["finished_at"] for r in read_rows(store) if r["status"] == "ok"}
    retried = run_sweep(load_sweep(sweep_file), jobs=2, store_path=store, progress=False, retry_failed=True)
    assert (retried["skipped"], retried["ok"], retried["failed"]) == (10, 2, 0)
    rows = read_rows(store)
    assert len(rows) == len({r["key"] for r in rows}) == 12 and {r["status"] for r in rows} == {"ok"}
    assert {r["key"]: r["finished_at"] for r in rows if r["key"] in ok_before} == ok_before  # untouched
    assert all(not r["traceback"] for r in rows)


def test_the_cli_names_failures_without_tracebacks(sweep_file, tmp_path, monkeypatch, capsys):
    store = str(tmp_path / "s.sqlite")
    monkeypatch.setattr(evaluate, "evaluate_point", raising)
    assert main(["sweep", str(sweep_file), "--store", store, "--jobs", "2"]) == 1
    out = capsys.readouterr().out
    assert "10 run, 0 infeasible, 2 failed" in out
    assert "failed: conv_tiny ws arch.levels.PE_array.x=8 arch.levels.PE_array.y=4: AccelsimBug: fills" in out
    assert "Traceback" not in out and "--retry-failed" in out
    assert main(["sweep", str(sweep_file), "--store", store]) == 0  # skipped, still listed
    out = capsys.readouterr().out
    assert "12 already in" in out and out.count("  failed: ") == 2
    monkeypatch.setattr(evaluate, "evaluate_point", REAL_EVALUATE)
    assert main(["sweep", str(sweep_file), "--store", store, "--retry-failed", "--point-timeout", "120"]) == 0
    out = capsys.readouterr().out
    assert "2 run, 0 infeasible, 0 failed" in out and "failed:" not in out


def killing_itself(point):
    if misbehaving(point) and point.dataflow == "os":
        os.kill(os.getpid(), signal.SIGKILL)
    return REAL_EVALUATE(point)


def test_a_worker_killed_mid_point_is_failed_and_replaced(sweep_file, tmp_path, monkeypatch):
    monkeypatch.setattr(evaluate, "evaluate_point", killing_itself)
    counts = run_sweep(load_sweep(sweep_file), jobs=1, store_path=tmp_path / "s.sqlite", progress=False)
    assert (counts["ok"], counts["failed"]) == (11, 1)
    [row] = [r for r in read_rows(tmp_path / "s.sqlite") if r["status"] == "failed"]
    assert row["reason"] == "the worker process died mid-point (killed by SIGKILL)"


def hanging(point):
    if misbehaving(point) and point.dataflow == "ws":
        time.sleep(3600)
    return REAL_EVALUATE(point)


def test_a_hanging_point_is_stopped_by_the_timeout(sweep_file, tmp_path, monkeypatch):
    monkeypatch.setattr(evaluate, "evaluate_point", hanging)
    before, start = children_of(os.getpid()), time.monotonic()
    counts = run_sweep(load_sweep(sweep_file), jobs=1, store_path=tmp_path / "s.sqlite", progress=False,
                       point_timeout_s=5)
    assert time.monotonic() - start < 120
    assert (counts["ok"], counts["failed"]) == (11, 1)  # the one worker was replaced and went on
    [row] = [r for r in read_rows(tmp_path / "s.sqlite") if r["status"] == "failed"]
    assert row["reason"] == "timeout after 5 s" and row["dataflow"] == "ws"
    assert new_children(before) == []
    with pytest.raises(SpecError, match="positive number of seconds"):
        run_sweep(load_sweep(sweep_file), store_path=tmp_path / "s.sqlite", point_timeout_s=0)
    with pytest.raises(SpecError, match="local pool only"):
        run_sweep(load_sweep(sweep_file), store_path=tmp_path / "s.sqlite", point_timeout_s=5,
                  scheduler="tcp://127.0.0.1:1")


KILLED_PARENT = """
import sys, time
import accelsim.dse.evaluate as evaluate
def hang(point):
    time.sleep(3600)
evaluate.evaluate_point = hang
from accelsim.dse.runner import run_sweep
from accelsim.dse.spec import load_sweep
run_sweep(load_sweep(sys.argv[1]), jobs=2, store_path=sys.argv[2], progress=False)
"""


def test_a_sigkilled_sweep_leaves_no_workers(sweep_file, tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", KILLED_PARENT, str(sweep_file), str(tmp_path / "s.sqlite")],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers, deadline = [], time.monotonic() + 120
    while len(workers) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
        workers = children_of(proc.pid)
    assert len(workers) == 2, "the sweep must be running its two workers"
    os.kill(proc.pid, signal.SIGKILL)  # the parent only: the workers must end by themselves
    proc.wait()
    deadline = time.monotonic() + 20
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [pid for pid in workers if _alive(pid)]
    for pid in left:  # do not leave them behind even when the test fails
        os.kill(pid, signal.SIGKILL)
    assert left == []


@pytest.mark.parametrize("content, match", [
    (b"", r"an empty file \(0 bytes\), not a sweep store"),
    (b"name,cycles\nx,1\n" * 10, "not a SQLite file"),
    (b"SQLite format 3\x00" + b"\x01" * 300, "a damaged SQLite file"),
])
def test_a_file_that_is_not_a_store_is_a_clear_error(sweep_file, tmp_path, content, match, capsys):
    store = tmp_path / "s.sqlite"
    store.write_bytes(content)
    with pytest.raises(SpecError, match=match) as info:
        run_sweep(load_sweep(sweep_file), store_path=store, progress=False)
    assert str(store) in str(info.value) and "start a new store" in str(info.value)
    assert store.read_bytes() == content  # never made into a new store
    assert main(["sweep", str(sweep_file), "--store", str(store)]) == 2
    err = capsys.readouterr().err
    assert str(store) in err and "Traceback" not in err
    if content:
        with pytest.raises(SpecError, match=match):
            read_rows(store)


def test_another_programs_database_is_not_a_store(sweep_file, tmp_path):
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE measurements (x)")
    with pytest.raises(SpecError, match=r"no table 'points' \(its tables: measurements\)"):
        Store(other)
    points = tmp_path / "points.sqlite"
    with sqlite3.connect(points) as db:
        db.execute("CREATE TABLE points (x, y)")
    with pytest.raises(SpecError, match="not a sweep store's"):
        run_sweep(load_sweep(sweep_file), store_path=points, progress=False)
    with pytest.raises(SpecError, match="is a folder"):
        Store(tmp_path)
    for path, table in ((other, "measurements"), (points, "points")):  # untouched
        with sqlite3.connect(path) as db:
            assert [n for (n,) in db.execute("SELECT name FROM sqlite_master")] == [table]


def test_the_wal_is_checkpointed_on_exit(sweep_file, tmp_path, monkeypatch):
    store = tmp_path / "s.sqlite"
    wal = tmp_path / "s.sqlite-wal"
    Store(store).close()
    reader = sqlite3.connect(store)  # another connection stays open: SQLite alone would keep the WAL
    reader.execute("SELECT count(*) FROM points").fetchall()
    run_sweep(load_sweep(sweep_file), jobs=2, store_path=store, progress=False)
    assert not wal.exists() or wal.stat().st_size == 0
    assert reader.execute("SELECT count(*) FROM points").fetchone() == (12,)

    real_add, calls = Store.add, []

    def add_then_interrupt(self, *args, **kwargs):  # Ctrl-C in the parent after one point
        real_add(self, *args, **kwargs)
        calls.append(1)
        raise KeyboardInterrupt

    monkeypatch.setattr(Store, "add", add_then_interrupt)
    before = children_of(os.getpid())
    with pytest.raises(KeyboardInterrupt):
        run_sweep(load_sweep(sweep_file), jobs=2, store_path=tmp_path / "k.sqlite", progress=False)
    assert calls == [1] and len(read_rows(tmp_path / "k.sqlite")) == 1
    assert not (tmp_path / "k.sqlite-wal").exists() or (tmp_path / "k.sqlite-wal").stat().st_size == 0
    assert new_children(before) == []
    reader.close()


def test_a_dask_sweep_without_workers_says_it_is_waiting(sweep_file, tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed", reason="Dask is the optional extra accelsim[dask]")
    monkeypatch.setattr(runner, "DASK_WAIT_NOTICE_S", 0.5)
    monkeypatch.setattr(evaluate, "evaluate_point", raising)  # in-process workers run it too
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    with distributed.LocalCluster(n_workers=0, processes=False, dashboard_address=None) as cluster:
        out = {}
        thread = threading.Thread(target=lambda: out.update(run_sweep(
            load_sweep(sweep_file), scheduler=cluster.scheduler_address, store_path=tmp_path / "d.sqlite",
            progress=False)))
        thread.start()
        deadline = time.monotonic() + 60
        while "waiting for Dask workers" not in err.getvalue() and time.monotonic() < deadline:
            time.sleep(0.1)
        cluster.scale(1)
        thread.join(180)
    assert not thread.is_alive()
    notice = [line for line in err.getvalue().splitlines() if "waiting for Dask workers" in line]
    assert len(notice) == 1 and cluster.scheduler_address in notice[0]
    assert (out["ok"], out["failed"]) == (10, 2)
    reasons = sorted(r["reason"].split(":")[0] for r in read_rows(tmp_path / "d.sqlite") if r["status"] == "failed")
    assert reasons == ["AccelsimBug", "RecursionError"]


def test_a_store_damaged_inside_is_a_clear_error(sweep_file, tmp_path):
    store = tmp_path / "s.sqlite"
    with Store(store) as good:
        for i in range(300):
            good.add("t", {"key": f"k{i}", "status": "ok", "reason": "x" * 200})
    data = bytearray(store.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    data[2 * page:] = b"\xff" * (len(data) - 2 * page)  # the header page survives, the rows do not
    store.write_bytes(bytes(data))
    with pytest.raises(SpecError, match="damaged") as info:
        run_sweep(load_sweep(sweep_file), store_path=store, progress=False)
    assert str(store) in str(info.value)


def test_a_store_locked_by_another_writer_is_a_clear_error(tmp_path):
    import sqlite3
    path = tmp_path / "s.sqlite"
    store = Store(path)
    store.db.execute("PRAGMA busy_timeout = 100")  # do not wait the full 30 s in a test
    other = sqlite3.connect(path)
    other.execute("BEGIN EXCLUSIVE")  # another process writing
    try:
        with pytest.raises(SpecError, match="is another sweep writing to this store"):
            store.add("s", {"key": "k", "status": "ok"})
    finally:
        other.rollback()
        other.close()
        store.close()
