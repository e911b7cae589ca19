"""Sweeps: points, infeasible rows, a killed sweep resumes with nothing lost or repeated,
the Dask path, and plots drawn from the stored results."""
import os
import signal
import sqlite3
import subprocess
import sys
import time

import matplotlib.image
import pytest

import accelsim
from accelsim.dse.plot import pareto_front, plot
from accelsim.dse.runner import run_sweep
from accelsim.dse.spec import load_sweep
from accelsim.dse.store import Store
from accelsim.errors import SpecError
from conftest import ARCH_DIR, REPO, WORKLOAD_DIR

SWEEP = f"""name: t
arch: {ARCH_DIR / 'simple_ws.yaml'}
workloads: [{WORKLOAD_DIR / 'conv_tiny.yaml'}]
dataflows: [ws, os]
axes:
  arch.levels.PE_array.x: [4, 8, 16]
  arch.levels.PE_array.y: {{range: [4, 17, 12]}}
"""


def write(tmp_path, text, name="s.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_points_cartesian_and_zip(tmp_path):
    sweep = load_sweep(write(tmp_path, SWEEP))
    points = sweep.points()
    assert len(points) == 3 * 2 * 2 and len({p.key for p in points}) == len(points)
    zipped = load_sweep(write(tmp_path, SWEEP.replace("{range: [4, 17, 12]}", "[4, 8, 16]") + "combine: zip\n"))
    assert len(zipped.points()) == 3 * 2
    assert points[0].key == load_sweep(tmp_path / "s.yaml").points()[0].key  # stable keys


def test_spec_errors(tmp_path):
    with pytest.raises(SpecError, match="equal length"):
        load_sweep(write(tmp_path, SWEEP + "combine: zip\n"))
    with pytest.raises(SpecError, match="must start with 'arch.', 'workload.' or 'mapper.'"):
        load_sweep(write(tmp_path, SWEEP + "  levels.x: [1]\n"))
    with pytest.raises(SpecError, match="unknown dataflow"):
        load_sweep(write(tmp_path, SWEEP.replace("[ws, os]", "[ws, xs]")))


# One PE: the constraints forbid unrolling on both axes, which no unconstrained search would pick.
ONE_PE = "constraints:\n  PE_array: {x: {dims: []}, y: {dims: []}}\nmapper: {objective: cycles}\n"
MAPPER_SWEEP = f"""name: m
arch: {ARCH_DIR / 'simple_ws.yaml'}
workloads: [{WORKLOAD_DIR / 'gemm_tiny.yaml'}]
dataflows: [ws, search]
mapper:
  constraints: c.yaml
  objective: energy
  evaluations: 2000
"""


def mapper_sweep(tmp_path, constraints=ONE_PE, sweep=MAPPER_SWEEP):
    write(tmp_path, constraints, "c.yaml")
    return load_sweep(write(tmp_path, sweep))


def points_by_dataflow(sweep):
    return {p.dataflow: p for p in sweep.points()}


def rows_by_dataflow(store):
    return {r["dataflow"]: r for r in Store(store).rows()}


def test_a_mapper_section_guides_the_search_points(tmp_path):
    from accelsim.dse.evaluate import point_options
    from accelsim.simulate import simulate

    sweep = mapper_sweep(tmp_path)
    counts = run_sweep(sweep, jobs=1, store_path=tmp_path / "m.sqlite", progress=False)
    rows = rows_by_dataflow(tmp_path / "m.sqlite")
    assert counts["ok"] == 2
    assert rows["search"]["utilization"] <= 1 / 256 < rows["ws"]["utilization"]  # one PE of 16×16
    search = points_by_dataflow(sweep)["search"]
    layer = simulate(accelsim.load_arch(search.arch), accelsim.load_workload(search.workload),
                     point_options(search)).layers[0]
    assert layer.extra["mapper"]["objective"] == "energy"  # the sweep's objective, not the file's
    assert rows["search"]["mapper"] == {layer.name: layer.extra["mapper"]}  # stored with the row
    assert rows["ws"]["mapper"] == {}


def test_a_store_from_before_the_mapper_column_gains_it(tmp_path):
    import sqlite3
    from accelsim.dse import store as S
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.execute(S.SCHEMA.replace(", mapper TEXT)", ")"))
    db.execute("INSERT INTO points (key, status, overrides, detail) VALUES ('k', 'ok', '[]', '{}')")
    db.commit()
    db.close()
    store = Store(path)
    store.add("s", {"key": "k2", "status": "ok", "mapper": {"l": {"algorithm": "exhaustive"}}})
    assert [r["mapper"] for r in store.rows()] == [{}, {"l": {"algorithm": "exhaustive"}}]


def test_mapper_settings_and_constraints_are_in_the_point_key(tmp_path):
    keys = lambda sweep: {df: p.key for df, p in points_by_dataflow(sweep).items()}  # noqa: E731
    base = keys(mapper_sweep(tmp_path))
    seeded = keys(mapper_sweep(tmp_path, sweep=MAPPER_SWEEP + "  seed: 3\n"))
    edited = keys(mapper_sweep(tmp_path, constraints=ONE_PE.replace("cycles", "edp")))
    plain = keys(mapper_sweep(tmp_path, sweep=MAPPER_SWEEP.split("mapper:")[0]))
    assert len({base["search"], seeded["search"], edited["search"], plain["search"]}) == 4
    assert base["ws"] == seeded["ws"] == edited["ws"] == plain["ws"]  # the mapper does not run there


def test_a_bad_level_in_the_constraints_makes_infeasible_rows(tmp_path):
    sweep = mapper_sweep(tmp_path, constraints="constraints:\n  GBL: {factors: {k: 1}}\n")
    run_sweep(sweep, jobs=1, store_path=tmp_path / "m.sqlite", progress=False)
    rows = rows_by_dataflow(tmp_path / "m.sqlite")
    assert rows["ws"]["status"] == "ok"
    assert rows["search"]["status"] == "infeasible" and "no level 'GBL'" in rows["search"]["reason"]


def test_mapper_section_spec_errors(tmp_path):
    with pytest.raises(SpecError, match="configures the mapper of dataflow 'search'") as info:
        mapper_sweep(tmp_path, sweep=MAPPER_SWEEP.replace("[ws, search]", "[ws, os]"))
    problem = info.value.problems[0]
    assert (problem.key_path, problem.line) == ("mapper", 5) and "s.yaml" in problem.file
    assert problem.allowed and "add search to dataflows ([ws, os, search])" in problem.suggestion
    with pytest.raises(SpecError, match="'speed' is not allowed") as info:
        mapper_sweep(tmp_path, sweep=MAPPER_SWEEP.replace("objective: energy", "objective: speed"))
    assert info.value.problems[0].key_path.startswith("mapper.objective")
    with pytest.raises(SpecError, match="did you mean 'seed'"):
        mapper_sweep(tmp_path, sweep=MAPPER_SWEEP + "  seeds: 3\n")
    with pytest.raises(SpecError, match="'missing.yaml' does not exist"):
        mapper_sweep(tmp_path, sweep=MAPPER_SWEEP.replace("c.yaml", "missing.yaml"))
    with pytest.raises(SpecError, match="c.yaml.*unknown key 'constraint'"):  # the file's schema, at load
        mapper_sweep(tmp_path, constraints="constraint: {}\n")


def test_infeasible_points_are_rows_with_a_reason(tmp_path):
    text = SWEEP.replace("[4, 8, 16]", "[4, 0]")  # x = 0 is not a valid array
    sweep = load_sweep(write(tmp_path, text))
    counts = run_sweep(sweep, jobs=1, store_path=tmp_path / "s.sqlite", progress=False)
    rows = Store(tmp_path / "s.sqlite").rows()
    bad = [r for r in rows if r["status"] == "infeasible"]
    assert counts["infeasible"] == len(bad) == 4 and all(r["reason"] for r in bad)


def test_rerun_skips_finished_points(tmp_path):
    sweep = load_sweep(write(tmp_path, SWEEP))
    prepared = []  # `prepare` hears the points about to run (the CLI compiles their kernels): none the second time
    first = run_sweep(sweep, jobs=2, store_path=tmp_path / "s.sqlite", progress=False, prepare=prepared.append)
    second = run_sweep(sweep, jobs=2, store_path=tmp_path / "s.sqlite", progress=False, prepare=prepared.append)
    assert first["ok"] == 12 and second == {"total": 12, "skipped": 12, "ok": 0, "infeasible": 0, "failed": 0,
                                         "skipped_failed": 0}
    assert [len(points) for points in prepared] == [12]


def test_a_killed_sweep_resumes_with_nothing_lost(tmp_path):
    # Many small points, one worker, so the kill lands mid-run.
    values = ", ".join(str(v) for v in range(2, 42))
    path = write(tmp_path, SWEEP.replace("[4, 8, 16]", f"[{values}]"))
    store = tmp_path / "s.sqlite"
    cmd = [sys.executable, "-m", "accelsim", "sweep", str(path), "--jobs", "1", "--store", str(store)]
    proc = subprocess.Popen(cmd, cwd=REPO, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            start_new_session=True)
    finished_before = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if store.exists():
            try:
                finished_before = sqlite3.connect(store).execute(
                    "SELECT key, finished_at FROM points ORDER BY rowid").fetchall()
            except sqlite3.OperationalError:
                pass
        if len(finished_before) >= 5 or proc.poll() is not None:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    total = 40 * 2 * 2
    assert 5 <= len(finished_before) < total, "the kill must land mid-run"
    counts = run_sweep(load_sweep(path), jobs=2, store_path=store, progress=False)
    rows = sqlite3.connect(store).execute("SELECT key, finished_at FROM points ORDER BY rowid").fetchall()
    assert len(rows) == len({k for k, _ in rows}) == total          # complete, no duplicates
    assert rows[:len(finished_before)] == finished_before            # finished points untouched
    assert counts["skipped"] >= len(finished_before) and counts["skipped"] + counts["ok"] == total


def test_dask_local_cluster_gives_the_same_rows(tmp_path):
    distributed = pytest.importorskip("distributed", reason="Dask is the optional extra accelsim[dask]")
    sweep = load_sweep(write(tmp_path, SWEEP))
    run_sweep(sweep, jobs=2, store_path=tmp_path / "local.sqlite", progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        run_sweep(sweep, scheduler=cluster.scheduler_address, store_path=tmp_path / "dask.sqlite",
                  progress=False)
    pick = lambda rows: {r["key"]: (r["cycles"], r["energy_pj"]) for r in rows}  # noqa: E731
    assert pick(Store(tmp_path / "dask.sqlite").rows()) == pick(Store(tmp_path / "local.sqlite").rows())


def test_pareto_front_is_the_non_dominated_set():
    xs, ys = [1, 2, 3, 2, 4], [5, 3, 4, 6, 1]
    front = set(pareto_front(xs, ys))
    dominated = {i for i in range(5) if any(xs[j] <= xs[i] and ys[j] <= ys[i] and (xs[j], ys[j]) != (xs[i], ys[i])
                                            for j in range(5))}
    assert front == set(range(5)) - dominated == {0, 1, 4}


def test_plots_come_from_the_stored_results(tmp_path):
    sweep = load_sweep(write(tmp_path, SWEEP))
    store = tmp_path / "s.sqlite"
    run_sweep(sweep, jobs=2, store_path=store, progress=False)
    rows = Store(store).rows()
    drawn = plot("pareto", store, tmp_path / "p.png")
    assert sorted(drawn["x"]) == sorted(r["latency_s"] for r in rows)
    heat = plot("heatmap", store, tmp_path / "h.svg", x="arch.levels.PE_array.x", y="dataflow",
                where={"arch.levels.PE_array.y": "4"})
    want = {(r["axes"]["arch.levels.PE_array.x"], r["dataflow"]): r["tops_per_watt"] for r in rows
            if r["axes"]["arch.levels.PE_array.y"] == "4"}
    for (x, df), v in want.items():
        assert heat["grid"][heat["y"].index(df), heat["x"].index(x)] == v
    assert matplotlib.image.imread(tmp_path / "p.png").shape[2] in (3, 4)
    assert (tmp_path / "h.svg").read_text().lstrip().startswith("<?xml")


def test_breakdown_and_roofline_from_a_run(tmp_path):
    from accelsim.cli import main
    out = tmp_path / "r.json"
    assert main(["run", str(ARCH_DIR / "simba_like.yaml"), str(WORKLOAD_DIR / "conv_tiny.yaml"),
                 "--json", str(out)]) == 0
    import json
    data = json.loads(out.read_text())
    stacks = plot("breakdown", out, tmp_path / "b.png")
    total = sum(sum(v) for v in stacks.values())
    assert total == pytest.approx(data["totals"]["energy_pj"])
    tensors = plot("breakdown", out, tmp_path / "t.png", by="tensor")
    assert sum(sum(v) for v in tensors.values()) == pytest.approx(data["totals"]["energy_pj"])
    roof = plot("roofline", out, tmp_path / "r.svg")
    assert roof["levels"]  # simba_like's DRAM has finite bandwidth
    for level in roof["levels"].values():  # no point above its level's roof or the compute roof
        for _, intensity, attained in level["points"]:
            assert attained <= min(roof["peak"], intensity * level["words_per_s"]) * (1 + 1e-9)
    with pytest.raises(SpecError, match="not a result of"):
        plot("roofline", tmp_path / "b.png", tmp_path / "r2.svg")
    with pytest.raises(SpecError, match="png or .svg"):
        plot("roofline", out, tmp_path / "r.pdf")


def test_mapper_settings_as_axes_vary_the_search_points_only(tmp_path):
    sweep = mapper_sweep(tmp_path, sweep=MAPPER_SWEEP + "axes:\n  mapper.seed: [1, 2]\n  mapper.objective: [energy, edp]\n")
    points = sweep.points()
    search = [p for p in points if p.dataflow == "search"]
    assert len([p for p in points if p.dataflow == "ws"]) == 1  # not repeated per mapper setting
    assert sorted((p.mapper_settings["seed"], p.mapper_settings["objective"]) for p in search) == \
        [(1, "edp"), (1, "energy"), (2, "edp"), (2, "energy")]
    assert all(p.mapper_settings["evaluations"] == 2000 for p in search)  # the section's own keys stay
    run_sweep(sweep, jobs=1, store_path=tmp_path / "m.sqlite", progress=False)
    rows = [r for r in Store(tmp_path / "m.sqlite").rows() if r["dataflow"] == "search"]
    assert sorted((r["axes"]["mapper.objective"], next(iter(r["mapper"].values()))["objective"]) for r in rows) == \
        [("edp", "edp"), ("edp", "edp"), ("energy", "energy"), ("energy", "energy")]
    for bad, message in (("mapper.seeds: [1]", "no setting 'seeds'"), ("mapper.objective: [speed]", "value 'speed'")):
        with pytest.raises(SpecError, match=message):
            mapper_sweep(tmp_path, sweep=MAPPER_SWEEP + f"axes:\n  {bad}\n")
    with pytest.raises(SpecError, match="runs only for dataflow 'search'"):
        mapper_sweep(tmp_path, sweep=MAPPER_SWEEP.split("mapper:")[0].replace("[ws, search]", "[ws]")
                     + "axes:\n  mapper.seed: [1]\n")


def test_plots_of_a_store_with_two_workloads_need_a_selection(tmp_path):
    two = SWEEP.replace(f"workloads: [{WORKLOAD_DIR / 'conv_tiny.yaml'}]",
                        f"workloads: [{WORKLOAD_DIR / 'conv_tiny.yaml'}, {WORKLOAD_DIR / 'gemm_tiny.yaml'}]")
    two = two.replace("[4, 8, 16]", "[4, 8]").replace("{range: [4, 17, 12]}", "[4]")
    store = tmp_path / "s.sqlite"
    run_sweep(load_sweep(write(tmp_path, two)), jobs=1, store_path=store, progress=False)
    rows = Store(store).rows()
    names = sorted({r["workload"] for r in rows})
    assert len(names) == 2
    for kind, kwargs in (("pareto", {}), ("heatmap", {"x": "arch.levels.PE_array.x", "y": "dataflow"})):
        with pytest.raises(SpecError, match="span 2 workloads"):
            plot(kind, store, tmp_path / f"{kind}.png", **kwargs)
        drawn = plot(kind, store, tmp_path / f"{kind}.png", where={"workload": names[0]}, **kwargs)
        assert drawn  # one workload's points only
    picked = plot("pareto", store, tmp_path / "p.png", where={"workload": names[1]})
    assert sorted(picked["x"]) == sorted(r["latency_s"] for r in rows if r["workload"] == names[1])
    with pytest.raises(SpecError, match="unknown heatmap metric 'tops_per_wat'"):
        plot("heatmap", store, tmp_path / "h.png", x="dataflow", y="dataflow", metric="tops_per_wat")
    (tmp_path / "junk.sqlite").write_text("not a database, but long enough to be read as one" * 40)
    with pytest.raises(SpecError, match="not a sweep store"):
        plot("pareto", tmp_path / "junk.sqlite", tmp_path / "j.png")


def test_editing_an_extends_base_changes_the_points_that_use_it(tmp_path):
    # A sweep's workload that extends a base: the points' keys follow the base's content, so a
    # resumed sweep reruns them after the base changed (and only then).
    (tmp_path / "base.yaml").write_text((WORKLOAD_DIR / "conv_tiny.yaml").read_text())
    (tmp_path / "w.yaml").write_text("extends: base.yaml\n")
    text = SWEEP.replace(f"workloads: [{WORKLOAD_DIR / 'conv_tiny.yaml'}]", f"workloads: [{tmp_path / 'w.yaml'}]")
    keys = lambda: [p.key for p in load_sweep(write(tmp_path, text)).points()]  # noqa: E731
    before = keys()
    assert keys() == before
    (tmp_path / "base.yaml").write_text((tmp_path / "base.yaml").read_text().replace("name: conv_tiny", "name: other"))
    after = keys()
    assert not set(before) & set(after)


@pytest.mark.parametrize("axis, message", [
    ("[]", "has no values"),
    ("{range: [10, 4, 1]}", "holds no value"),
    ("{range: [4, 10, 0]}", "the step is 0"),
    ("{range: [0, 1000000000]}", "more than 100,000"),
])
def test_empty_or_invalid_sweep_axes_are_refused(tmp_path, axis, message):
    # An empty range once produced one point without the override, silently.
    text = SWEEP.replace("arch.levels.PE_array.y: {range: [4, 17, 12]}", f"arch.levels.PE_array.y: {axis}")
    with pytest.raises(SpecError, match=message):
        load_sweep(write(tmp_path, text))


def test_allowed_paths_reach_the_sweep_workers(tmp_path):
    # The workload extends a base outside its folder tree: --allow-path lets the listing and every
    # worker process (which has its own context) read it.
    from accelsim.cli import main
    (tmp_path / "bases").mkdir()
    (tmp_path / "bases" / "base.yaml").write_text((WORKLOAD_DIR / "conv_tiny.yaml").read_text())
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "w.yaml").write_text("extends: ../bases/base.yaml\n")
    text = SWEEP.replace(f"workloads: [{WORKLOAD_DIR / 'conv_tiny.yaml'}]", f"workloads: [{tmp_path / 'specs' / 'w.yaml'}]")
    path = write(tmp_path, text.replace("[4, 8, 16]", "[4, 8]").replace("{range: [4, 17, 12]}", "[4]"))
    assert main(["sweep", str(path), "--jobs", "2"]) == 2  # outside the folder tree: refused
    assert main(["sweep", str(path), "--jobs", "2", "--allow-path", str(tmp_path / "bases")]) == 0
    rows = Store(tmp_path / "t.sqlite").rows()
    assert len(rows) == 4 and all(r["status"] == "ok" for r in rows)


def test_a_sweeps_constraints_file_is_confined_like_extends(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "c.yaml").write_text(ONE_PE)
    (tmp_path / "s").mkdir()
    text = MAPPER_SWEEP.replace("constraints: c.yaml", "constraints: ../elsewhere/c.yaml")
    assert "../elsewhere/c.yaml" in text
    with pytest.raises(SpecError, match="outside the folders this spec may read"):
        load_sweep(write(tmp_path / "s", text))


def test_the_progress_line_is_redrawn_at_most_every_interval_and_at_the_end(monkeypatch):
    import io

    from accelsim.dse import runner
    clock = [100.0]
    monkeypatch.setattr(runner.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(runner, "PROGRESS_EVERY_S", 0.125)
    stream = io.StringIO()
    bar = runner.Progress(total=50, skipped=10, stream=stream)
    for _ in range(40):  # 40 rows 1/64 s apart: the first, then one every 8 rows, and the last
        clock[0] += 1 / 64
        bar.step()
    shown = [int(line.split("/")[0]) for line in stream.getvalue().split("\r")[1:]]
    assert shown == [11, 19, 27, 35, 43, 50]
