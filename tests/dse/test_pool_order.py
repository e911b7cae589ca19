"""The local pool's order of points (dse/pool._ByArch): a worker keeps to the arch variants of its
run (it has built and cached them, and what neighbouring variants share), takes over the end of
another's run once its own is done, and every point is given exactly once."""
import os
import signal

from accelsim.dse import evaluate
from accelsim.dse.pool import LocalPool, _ByArch
from accelsim.dse.spec import Point


def _points(sizes=(1, 2, 4, 8)):
    """Two workloads × arch variants × two dataflows, in a sweep's order (workload outermost)."""
    return [Point("arch.yaml", wl, (f"arch.levels.PE_array.x={x}", "workload.batch=2"), df, "analytical",
                  f"{wl[0]}{x}{df}") for wl in ("a.yaml", "b.yaml") for x in sizes for df in ("ws", "os")]


def _run(queue, turns):
    """Take points for the workers in the order `turns` (worker numbers, repeated to the end)."""
    last, given, k = {}, [], 0
    while queue:
        worker = turns[k % len(turns)]
        point, last[worker] = queue.take(worker, last.get(worker))
        given.append((worker, point.key))
        k += 1
    return given


def test_one_worker_runs_each_arch_variant_s_points_together():
    given = _run(_ByArch(_points(), 1), [0])
    assert [key for _, key in given] == ["a1ws", "a1os", "b1ws", "b1os", "a2ws", "a2os", "b2ws", "b2os",
                                         "a4ws", "a4os", "b4ws", "b4os", "a8ws", "a8os", "b8ws", "b8os"]


def test_two_workers_each_run_half_the_variants():
    given = _run(_ByArch(_points(), 2), [0, 1])
    assert sorted(key for _, key in given) == sorted(p.key for p in _points())  # each point once
    assert {key[1] for w, key in given if w == 0} == {"1", "2"}
    assert {key[1] for w, key in given if w == 1} == {"4", "8"}


def test_a_worker_done_with_its_run_takes_the_end_of_another_s():
    queue = _ByArch(_points(), 2)
    given = _run(queue, [0, 0, 0, 0, 0, 0, 0, 0, 0, 1])  # worker 0 is 9 times as fast
    assert sorted(key for _, key in given) == sorted(p.key for p in _points())
    first_of_1 = next(key for w, key in given if w == 1)
    assert first_of_1 == "a4ws"  # its run's first variant
    stolen = [key for w, key in given if w == 0 and key[1] in "48"]
    assert stolen and stolen[0] == "a8ws"  # worker 0 took the last variant of worker 1's run


def test_workload_overrides_do_not_split_an_arch_variant():
    a = Point("arch.yaml", "w.yaml", ("arch.x=1", "workload.batch=1"), "ws", "analytical", "k1")
    b = Point("arch.yaml", "w.yaml", ("arch.x=1", "workload.batch=2"), "ws", "analytical", "k2")
    c = Point("arch.yaml", "w.yaml", ("arch.x=2", "workload.batch=1"), "ws", "analytical", "k3")
    assert [key for _, key in _run(_ByArch([a, c, b], 1), [0])] == ["k1", "k2", "k3"]


def _dies_on_a1(point):
    if point.key == "a1":
        os.kill(os.getpid(), signal.SIGKILL)
    return {"key": point.key, "status": "ok"}


def test_a_replaced_worker_goes_on_with_the_variant_it_was_running(monkeypatch):
    """A worker that dies mid-point is replaced; the fresh process takes the rest of the variant it
    was running (its points must be built by some worker anyway), not the next variant of its run,
    which would leave that variant's points to the end of the sweep."""
    monkeypatch.setattr(evaluate, "evaluate_point", _dies_on_a1)  # the workers fork after the patch
    points = [Point("arch.yaml", "w.yaml", (f"arch.levels.PE_array.x={x}",), "ws", "analytical", f"{v}{k}")
              for v, x in (("a", 1), ("b", 2)) for k in (1, 2, 3)]
    with LocalPool(1) as pool:
        rows = list(pool.rows(points))
    assert [row["key"] for row in rows] == ["a1", "a2", "a3", "b1", "b2", "b3"]
    assert rows[0]["status"] == "failed" and {row["status"] for row in rows[1:]} == {"ok"}
