"""The local pool's order of points (dse/pool._ByArch): a worker keeps to the arch variant it ran
last (it has built and cached that variant), and every point is given exactly once."""
from accelsim.dse.pool import _ByArch
from accelsim.dse.spec import Point


def _points():
    """Two workloads × three arch variants × two dataflows, in a sweep's order (workload outermost)."""
    return [Point("arch.yaml", wl, (f"arch.levels.PE_array.x={x}", "workload.batch=2"), df, "analytical",
                  f"{wl}{x}{df}") for wl in ("a.yaml", "b.yaml") for x in (1, 2, 4) for df in ("ws", "os")]


def test_one_worker_runs_each_arch_variant_s_points_together():
    queue, last, order = _ByArch(_points()), None, []
    while queue:
        point, last = queue.take(last, set())
        order.append(point.key)
    assert order == ["a.yaml1ws", "a.yaml1os", "b.yaml1ws", "b.yaml1os", "a.yaml2ws", "a.yaml2os",
                     "b.yaml2ws", "b.yaml2os", "a.yaml4ws", "a.yaml4os", "b.yaml4ws", "b.yaml4os"]


def test_two_workers_keep_to_their_variants_and_share_the_last():
    points = _points()
    queue, given = _ByArch(points), []
    first, v1 = queue.take(None, set())
    second, v2 = queue.take(None, {v1})
    assert v1 != v2 and first.key == "a.yaml1ws" and second.key == "a.yaml2ws"  # a variant each
    given += [first, second]
    last = {1: v1, 2: v2}
    turn = 1
    while queue:  # the workers finish in turn
        other = last[3 - turn]
        point, last[turn] = queue.take(last[turn], {other})
        given.append(point)
        turn = 3 - turn
    assert sorted(p.key for p in given) == sorted(p.key for p in points)  # each point once
    variants_of = {}
    for p in given:
        variants_of.setdefault(p.overrides[0], set()).add(p.key)
    assert all(len(keys) == 4 for keys in variants_of.values())


def test_workload_overrides_do_not_split_an_arch_variant():
    a = Point("arch.yaml", "w.yaml", ("arch.x=1", "workload.batch=1"), "ws", "analytical", "k1")
    b = Point("arch.yaml", "w.yaml", ("arch.x=1", "workload.batch=2"), "ws", "analytical", "k2")
    c = Point("arch.yaml", "w.yaml", ("arch.x=2", "workload.batch=1"), "ws", "analytical", "k3")
    queue = _ByArch([a, c, b])
    assert [queue.take(None, set())[0].key for _ in range(3)] == ["k1", "k2", "k3"]
