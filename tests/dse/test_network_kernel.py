"""The whole-network kernel's path (dse/network.py, model/network_kernel.py) against its slow
reference, `simulate` one layer at a time: every LayerResult equal field for field (counts,
energies, mappings, cycles: bit for bit, the energy computed by the same functions), so every
stored row is too.

The kernel takes minutes to compile; `accelsim cache warm` compiles it (the CI runs it before the
default tier, .ci/run), so these tests load it from Numba's cache. On a cold cache the first of
them compiles it (≈ 1.5–2.5 min on 2 shared cores)."""
import importlib
import os
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import ARCH_DIR, WORKLOAD_DIR

from accelsim.dse import evaluate
from accelsim.dse.network import covered, network_pack, network_result
from accelsim.dse.spec import load_sweep
from accelsim.errors import MappingError, SpecError
from accelsim.load import load_arch, load_workload
from accelsim.mapping.template_pack import map_layer_fast
from accelsim.options import SimOptions

simulate = importlib.import_module("accelsim.simulate")  # the module (the package exports its function)


def _outcome(run):
    try:
        return run()
    except (MappingError, SpecError) as exc:
        return f"{type(exc).__name__}: {exc}"


def _same(arch, workload, options):
    """The network path's result (or error) equals simulate's; returns it (None: the path declined)."""
    fast = _outcome(lambda: network_result(arch, workload, options))
    if fast is None:
        return None
    slow = _outcome(lambda: simulate.simulate(arch, workload, options, map_template=map_layer_fast))
    if isinstance(slow, str) or isinstance(fast, str):
        assert fast == slow
        return fast
    assert fast.layers == slow.layers  # counts, energy breakdowns, mappings, cycles, extras
    assert (fast.macs, fast.cycles, fast.latency_s, fast.boundary_energy_pj(), fast.energy_by_component_pj(),
            fast.options) == (slow.macs, slow.cycles, slow.latency_s, slow.boundary_energy_pj(),
                              slow.energy_by_component_pj(), slow.options)
    return fast


def test_the_kernels_rules_check_of_the_templates_mapping_is_simulates():
    """network_result takes the kernel's checks of a template's mapping where they say it passes
    (check_mapping's and the Rules'), instead of simulate's: per layer, the kernel's Rules verdict
    (pack.obeys) is check_hardware's, over array sides and templates where the constraints hold
    and where they break (os and is put the wrong dims on Simba's vector MACs), and the results
    are simulate's."""
    workload = load_workload(WORKLOAD_DIR / "resnet50.yaml")
    seen = set()
    for x, y, dataflow in ((5, 3, "ws"), (4, 8, "ws"), (3, 2, "os"), (8, 8, "is")):
        arch = load_arch(ARCH_DIR / "simba_like.yaml", [f"levels.PE_array.x={x}", f"levels.PE_array.y={y}"])
        _same(arch, workload, SimOptions(dataflow=dataflow))
        pack = network_pack(workload, dataflow, len(arch.levels))
        for l, layer in enumerate(pack.distinct):
            if pack.status[l] != 0 or pack.rule_entry[l] < 0:
                continue
            _, mapping = pack.mapping(arch, l)
            try:
                simulate.check_hardware(arch, layer, mapping)
                want = True
            except MappingError:
                want = False
            assert bool(pack.obeys[l]) == want, (x, y, dataflow, layer.name)
            seen.add(want)
            if dataflow != "ws":
                break  # (the point stops at its first layer)
    assert seen == {True, False}


def test_the_network_path_equals_simulate_on_resnet50_and_bert(monkeypatch):
    base = load_arch(ARCH_DIR / "simba_like.yaml")
    calls = []
    real = simulate.simulate_layer
    monkeypatch.setattr(simulate, "simulate_layer", lambda *a: calls.append(a[1].name) or real(*a))
    for name, x, size in (("resnet50", 1, "32KiB"), ("bert_base", 8, "64KiB")):
        workload = load_workload(WORKLOAD_DIR / f"{name}.yaml")
        arch = load_arch(ARCH_DIR / "simba_like.yaml", [f"levels.PE_array.x={x}", f"levels.GlobalBuffer.size={size}"])
        calls.clear()
        fast = network_result(arch, workload, SimOptions(dataflow="ws"))
        fallback = len(calls)
        assert fast is not None and _same(arch, workload, SimOptions(dataflow="ws"))
        if x == 1:  # both kinds of layer ran: from the kernel's arrays, and the ragged fallback's
            assert 0 < fallback < len(network_pack(workload, "ws", len(arch.levels)).distinct)
    assert base.constraints  # Simba's hardware constraints were checked on every layer


def test_the_network_path_declines_what_it_does_not_cover():
    arch = load_arch(ARCH_DIR / "simba_like.yaml")
    workload = load_workload(WORKLOAD_DIR / "conv_tiny.yaml")
    assert not covered(arch, workload, SimOptions(model="cycle", dataflow="ws"))
    assert not covered(arch, workload, SimOptions(dataflow="rs"))       # not a generic template
    assert not covered(arch, workload, SimOptions(dataflow="ws", density=0.5))
    other_format = replace(workload, layers=(replace(workload.layers[0], precision="int4"),) + workload.layers[1:])
    assert not covered(arch, other_format, SimOptions(dataflow="ws"))


def test_a_layer_that_does_not_fit_fails_as_in_simulate():
    """A layer whose tiles do not fit (or that the hardware refuses) is simulate's own layer: the
    same error, word for word."""
    workload = load_workload(WORKLOAD_DIR / "conv_tiny.yaml")
    cases = [(load_arch(ARCH_DIR / "simple_ws.yaml", ["levels.GLB.size=16b", "levels.pe_spad.size=16b"]), "ws"),
             (load_arch(ARCH_DIR / "simba_like.yaml"), "os")]
    for arch, dataflow in cases:
        with pytest.raises(MappingError) as fast:
            network_result(arch, workload, SimOptions(dataflow=dataflow))
        with pytest.raises(MappingError) as slow:
            simulate.simulate(arch, workload, SimOptions(dataflow=dataflow), map_template=map_layer_fast)
        assert str(fast.value) == str(slow.value)
    roomier = load_arch(ARCH_DIR / "simple_ws.yaml", ["levels.GLB.size=32b", "levels.pe_spad.size=16b"])
    assert _same(roomier, workload, SimOptions(dataflow="ws"))


@pytest.mark.parametrize("arch_file, workload", [("simple_ws", "gemm_small"), ("simple_ws", "conv_tiny"),
                                                 ("tpu_like", "conv_tiny")])
def test_the_network_path_equals_simulate_on_small_archs(arch_file, workload):
    workload = load_workload(WORKLOAD_DIR / f"{workload}.yaml")
    outcomes = [_same(load_arch(ARCH_DIR / f"{arch_file}.yaml"), workload, SimOptions(dataflow=dataflow))
                for dataflow in ("ws", "os", "is")]
    assert any(o is not None and not isinstance(o, str) for o in outcomes)


BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.mark.slow
@pytest.mark.parametrize("grid", ["issue15", "large"])
def test_the_benchmark_grids_rows_equal_simulate(tmp_path, monkeypatch, grid):
    """benchmarks/bench_sweep.py's grids (ResNet-50 and BERT-Base on Simba × array × buffer ×
    dataflow), every point: the row with the network path (evaluate_point's: the row-only path,
    network_result(…, row_only=True)) equals the row without it (simulate's LayerResults), bit for bit."""
    monkeypatch.syspath_prepend(str(BENCH))
    import bench_sweep
    path = tmp_path / "s.yaml"
    path.write_text(bench_sweep.SWEEP.replace("MODEL", "analytical").replace("AXES", bench_sweep.GRIDS[grid]))
    points = load_sweep(path).points()
    used = []
    real = evaluate._network_result
    monkeypatch.setattr(evaluate, "_network_result", lambda *a: used.append(1) or real(*a))
    fast = [evaluate.evaluate_point(p) for p in points]
    monkeypatch.setattr(evaluate, "_network_result", lambda *a: None)
    assert fast == [evaluate.evaluate_point(p) for p in points]
    assert len(used) == len(points) and {r["status"] for r in fast} == {"ok", "infeasible"}


def test_cache_warm_compiles_the_network_kernel():
    """`accelsim cache warm` (cli warm_kernels) runs network_result on compile_ahead's tiny GEMM: the
    point must be one the network path covers, or the kernel would first compile in a test or a sweep."""
    from accelsim.compile_ahead import warm_problem
    arch, workload = warm_problem()
    assert covered(arch, workload, SimOptions(dataflow="ws"))
    assert network_pack(workload, "ws", len(arch.levels)).ok
    assert _same(arch, workload, SimOptions(dataflow="ws"))


def test_the_parent_loads_and_packs_the_sweeps_workloads_before_its_workers_fork(tmp_path):
    """load_kernels (run in a sweep's parent) leaves the template points' workloads in the points'
    own cache and their network packs built, so a forked worker inherits them instead of building them."""
    from accelsim.dse.network import _PACKS
    if not evaluate._network_kernel_ready():  # the parent preloads only for the cached kernel
        message = "the network kernel is not in Numba's cache: run `accelsim cache warm` first"
        if os.environ.get("CI"):
            pytest.fail(message + " (the CI does, before this tier)")
        pytest.skip(message)
    path = tmp_path / "s.yaml"
    path.write_text(f"""name: t
arch: {ARCH_DIR / 'simple_ws.yaml'}
workloads: [{WORKLOAD_DIR / 'conv_tiny.yaml'}, {WORKLOAD_DIR / 'gemm_small.yaml'}]
model: analytical
dataflows: [ws, rs]
axes:
  arch.levels.GLB.size: [32KiB, 64KiB]
""")
    points = load_sweep(path).points()
    evaluate._workload.cache_clear()
    evaluate.load_kernels(points)
    loaded = [evaluate._workload(evaluate._stamp(p.workload), (), p.allowed_paths) for p in points[:1]]
    assert evaluate._workload.cache_info().hits >= 1 and evaluate._workload.cache_info().currsize == 2
    packed = {(held[0].name, key[1]) for key, held in _PACKS.items()}
    assert {("conv_tiny", "ws"), ("gemm_small", "ws")} <= packed and not any(d == "rs" for _, d in packed)
    assert loaded[0].name in ("conv_tiny", "gemm_small")


def test_the_checks_verdict_is_kept_per_mapping_and_what_the_checks_read_of_the_arch():
    """pack.verdict keeps simulate's checks' verdict per kernel mapping and _check_reads (the
    fan-outs' sides, the kept tensors, the constraints): a verdict kept for one arch never answers
    for an arch that differs in those; arch variants of the buffers' sizes share it; a kept verdict
    equals the checks' own."""
    from accelsim.dse.network import BREAKS_MAPPING, PASSES, _check_reads
    from accelsim.mapping.mapping import check_mapping
    workload = load_workload(WORKLOAD_DIR / "conv_tiny.yaml")
    wide = load_arch(ARCH_DIR / "simba_like.yaml", ["levels.PE_array.x=8"])
    narrow = load_arch(ARCH_DIR / "simba_like.yaml", ["levels.PE_array.x=1"])
    roomy = load_arch(ARCH_DIR / "simba_like.yaml", ["levels.PE_array.x=8", "levels.GlobalBuffer.size=512KiB"])
    assert _check_reads(wide) == _check_reads(roomy) and _check_reads(wide) != _check_reads(narrow)
    free = replace(wide, constraints={})
    assert _check_reads(free) != _check_reads(wide)
    assert _same(wide, workload, SimOptions(dataflow="ws"))  # the pack now holds wide's mappings and verdicts
    pack = network_pack(workload, "ws", len(wide.levels))
    spread = [(key, m) for key, m in pack.mappings.items() if any(l.axis == "x" and l.bound > 1
                                                                  for lm in m.levels for l in lm.loops)]
    assert spread  # a mapping that unrolls x: the narrow array's fan-out cannot hold it
    for key, mapping in spread:
        layer = pack.distinct[key[0]]
        assert pack.verdict(wide, key[0], key, mapping) == PASSES
        assert pack.verdict(narrow, key[0], key, mapping) == BREAKS_MAPPING  # kept for wide, not used for narrow
        with pytest.raises(MappingError):
            check_mapping(narrow, layer.run_einsum, mapping)
        assert pack.verdict(roomy, key[0], key, mapping) == PASSES
    assert _same(roomy, workload, SimOptions(dataflow="ws"))  # a kept verdict: the same result as simulate's
    assert _same(narrow, workload, SimOptions(dataflow="ws"))


def _rows(points, monkeypatch, row_only, extras=None):
    """evaluate_point's rows with the network path, with or without `row_only`; each result's
    layers' extras appended to `extras` if given."""
    from accelsim.dse import network

    def run(arch, workload, options, **_):
        result = network_result(arch, workload, options, row_only)
        if extras is not None and result is not None:
            extras.append([(layer.name, layer.extra) for layer in result.layers])
        return result
    monkeypatch.setattr(network, "network_result", run)
    monkeypatch.setattr(evaluate, "_network_kernel_ready", lambda: True)  # (compiled here if not cached)
    return [evaluate.evaluate_point(p) for p in points]


def test_the_row_only_path_gives_the_object_paths_rows_and_energies(tmp_path, monkeypatch):
    """The sweep's row path (network_result(…, row_only=True): the energy priced from the kernel's
    arrays, no count objects) gives the same rows, bit for bit, as the LayerResults built in full, on
    points of both benchmark grids (ResNet-50 and BERT-Base on Simba: ws, os, is), and the same
    BlockCounts per layer as the count objects give, for the templates' mappings and for the ragged
    candidates the choice kernel takes."""
    from accelsim.dse.network import _block_counts
    from accelsim.energy.model import BlockCounts, block_counts
    from accelsim.model import analytical
    monkeypatch.syspath_prepend(str(BENCH))
    import bench_sweep
    points = []
    for grid, picks in (("issue15", (0, 5, 13, 30)), ("large", (200, 361, 500))):
        path = tmp_path / f"{grid}.yaml"
        path.write_text(bench_sweep.SWEEP.replace("MODEL", "analytical").replace("AXES", bench_sweep.GRIDS[grid]))
        grid_points = load_sweep(path).points()
        points += [grid_points[i] for i in picks]
    # the row path's BlockCounts equal energy.model.block_counts of action_counts on the same arrays
    seen = []
    real_block_counts = _block_counts
    def checked(arch, einsum, keeps, result, ragged):
        priced = real_block_counts(arch, einsum, keeps, result, ragged)
        nest = type("Nest", (), {"roles": einsum.roles, "keeps": keeps})
        assert priced == block_counts(analytical.action_counts(arch, einsum, nest, result, ragged))
        seen.append((priced, ragged))
        return priced
    from accelsim.dse import network
    monkeypatch.setattr(network, "_block_counts", checked)
    extras_row, extras_full = [], []
    assert _rows(points, monkeypatch, True, extras_row) == _rows(points, monkeypatch, False, extras_full)
    assert extras_row == extras_full  # a ragged layer's extra says which dims run ragged, as simulate's does
    assert any("ragged" in extra for layers in extras_row for _, extra in layers)
    assert len(seen) > 20 and all(isinstance(b, BlockCounts) for b, _ in seen)
    assert any(ragged for _, ragged in seen)  # ragged candidates the choice kernel took, priced alike
    assert {r["status"] for r in _rows(points, monkeypatch, True)} == {"ok", "infeasible"}


def _counting_choices(monkeypatch):
    """The candidates network_kernel.choose_ragged chose (≥ 0; −1: the template's), per layer asked."""
    from accelsim.dse import network
    calls, real = [], network.choose_ragged
    monkeypatch.setattr(network, "choose_ragged", lambda *a: real(*a) or calls.extend(a[-1].tolist()))
    return calls


def test_the_choice_kernel_chooses_as_simulate_does(monkeypatch):
    """Layers whose template leaves MACs idle take the templates' ragged choice in the choice kernel
    (network_kernel.choose_ragged): the same mapping and counts as simulate's choice, in Python."""
    calls = _counting_choices(monkeypatch)
    for name, x, y in (("resnet50", 1, 8), ("bert_base", 16, 4), ("alexnet", 4, 2)):
        arch = load_arch(ARCH_DIR / "simba_like.yaml", [f"levels.PE_array.x={x}", f"levels.PE_array.y={y}"])
        assert _same(arch, load_workload(WORKLOAD_DIR / f"{name}.yaml"), SimOptions(dataflow="ws"))
    assert any(best >= 0 for best in calls) and any(best < 0 for best in calls)  # candidates and templates won


def test_a_chosen_candidate_the_hardware_refuses_leaves_the_choice_to_simulate(monkeypatch):
    """The kernel checks the constraints its Rules say (dse/network.hardware_rules); when its choice
    breaks one they do not (here a stand-in check that refuses every ragged mapping), simulate's
    choice, which passes over that candidate, decides."""
    real = simulate._violations

    def no_ragged(arch, layer, mapping):
        over = [d for d, b in layer.run_einsum.bound.items() if mapping.factor(d) > b]
        return real(arch, layer, mapping) + ([f"ragged on {over}"] if over else [])
    monkeypatch.setattr(simulate, "_violations", no_ragged)
    calls = _counting_choices(monkeypatch)
    python = []
    real_choice = simulate.choose_template_counted
    monkeypatch.setattr(simulate, "choose_template_counted", lambda *a: python.append(1) or real_choice(*a))
    arch = load_arch(ARCH_DIR / "simba_like.yaml", ["levels.PE_array.x=1"])
    workload = load_workload(WORKLOAD_DIR / "resnet50.yaml")
    network_result(arch, workload, SimOptions(dataflow="ws"))
    assert any(best >= 0 for best in calls) and python  # the kernel chose a ragged one; simulate decided
    fast = _same(arch, workload, SimOptions(dataflow="ws"))
    assert fast and not any(layer.counts.ragged for layer in fast.layers)


def test_cache_warm_compiles_the_choice_kernel(monkeypatch):
    """`accelsim cache warm` runs compile_ahead's odd-dims GEMM through the network path: its template
    leaves MACs idle, so the choice kernel compiles there, not in a sweep."""
    from accelsim.compile_ahead import odd_dims_workload, warm_problem
    arch, _ = warm_problem()
    calls = _counting_choices(monkeypatch)
    assert _same(arch, odd_dims_workload(), SimOptions(dataflow="ws")) and calls


def test_a_floor_passes_over_a_candidate_only_where_it_cannot_come_first(monkeypatch):
    """choose_ragged's _cannot_win, in the choice's order (late, then EDP): a candidate whose floor EDP
    is above the best's (beyond the rounding margin) is passed over if the best is not late, or if
    its floor cycles are above the limit (late too); a late best loses to any candidate that may be
    in time. The limit is asked lazily: padded layers whose floor is at or above the cycles compared
    are not counted. (On shipped layers the late case was never decisive in the sweeps tried, so
    it is checked here directly, on a real candidate set's records.)"""
    import numpy as np
    from numba import njit

    from accelsim.dse import network
    from accelsim.ir.layers import matmul
    from accelsim.ir.workload import Layer, Workload
    from accelsim.model.network_kernel import UNCOUNTED, _cannot_win
    calls, real = [], network.choose_ragged
    monkeypatch.setattr(network, "choose_ragged", lambda *a: calls.append(a) or real(*a))
    arch = load_arch(ARCH_DIR / "simba_like.yaml", ["levels.PE_array.x=3", "levels.PE_array.y=5"])
    network_result(arch, Workload("tokens", "", (Layer("t", matmul(m=197, n=384, k=384)),)), SimOptions(dataflow="ws"))
    assert calls
    a = calls[0]  # (CANDIDATE_RECORDS' lists, SET_RECORDS' lists, …: choose_ragged's arguments)
    lists, (arc, arch_arrays, mixed), l = a[:13], a[28:31], a[33][0]
    index, part = a[13][a[34][0]], a[21][l]  # the first layer asked: its candidate set, its layer part
    n = len(index)
    padded = (*lists[:9], lists[11], index, np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64),
              np.ones(n, dtype=np.bool_), lists[12])

    jitted = njit(lambda *args: _cannot_win(*args))

    def cannot_win(floor_cycles, floor_pj, best_edp, best_late, pad):
        return jitted(np.int64(floor_cycles), floor_pj, best_edp, np.bool_(best_late), padded, pad, arc, arch_arrays,
                      mixed, l, part)

    def counted(cycles):  # every padded layer counted OK: the limit is `cycles`
        return (np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64), np.full(n, cycles, dtype=np.int64))
    best_edp = 1000.0
    assert not cannot_win(100, 5.0, best_edp, False, counted(100))  # EDP 500: may win
    assert not cannot_win(100, 10.0 * (1 + 1e-10), best_edp, False, counted(100))  # within the margin
    assert cannot_win(100, 20.0, best_edp, False, counted(100))  # EDP above a best in time
    assert not cannot_win(50, 40.0, best_edp, True, counted(100))  # a late best: this one may be in time
    assert cannot_win(150, 20.0, best_edp, True, counted(100))  # late too (150 > 100), and EDP above
    lazy = (np.full(n, 1000, dtype=np.int64), np.full(n, UNCOUNTED, dtype=np.int64), np.zeros(n, dtype=np.int64))
    # no padded layer can count under 150 cycles, so the limit may be above the candidate's: it may be
    # in time, and no padded layer is counted to find out
    assert not cannot_win(150, 20.0, best_edp, True, lazy)
    assert (lazy[1] == UNCOUNTED).all()


def test_a_count_kept_from_an_earlier_point_is_checked_and_priced_again(monkeypatch):
    """choose_ragged keeps each padded record's last ragged count (its PaddedMemo) and, at a later
    point whose arch differs only in capacities and energies (count_key), checks the capacities and
    prices the counts again instead of counting; and its fan-outs' reach per fanout_key: every point
    of a sequence that revisits sizes, and changes a bandwidth (a new count key) and an array side
    in between, equals simulate's, and kept counts were used (the memo's condition, re-derived
    here: the record's count key and nest unchanged)."""
    from accelsim.dse import network
    from accelsim.ir.workload import Workload
    reused, real = [], network.choose_ragged

    def counting(*a):  # (choose_ragged's arguments: see the kernel)
        memos, key, sets = a[12], a[31], [(a[13][s], a[14][s]) for s in a[34]]  # (index, status) per layer
        before = {int(p): (int(memos[p].count[0]), memos[p].loops.loop_bound.copy()) for index, _ in sets
                  for p in index}
        real(*a)
        for index, status in sets:
            for c, p in enumerate(index):
                held, bounds = before[int(p)]
                if status[c] == 0 and held == key and (bounds == memos[p].loops.loop_bound).all():
                    reused.append(int(p))
    monkeypatch.setattr(network, "choose_ragged", counting)
    monkeypatch.setattr(evaluate, "_network_kernel_ready", lambda: True)
    layers = load_workload(WORKLOAD_DIR / "resnet50.yaml").layers
    workload = Workload("resnet50_part", "", tuple(layers[:30]))
    # (a y of 4 shares the padded layers of the x side, 5, whose reach differs: fanout_key)
    sequence = [("64KiB", 16, 3), ("256KiB", 16, 3), ("32KiB", 16, 3), ("256KiB", 4, 3), ("64KiB", 16, 4),
                ("64KiB", 4, 3), ("16KiB", 16, 3), ("64KiB", 16, 3)]
    for size, bandwidth, y in sequence:
        arch = load_arch(ARCH_DIR / "simba_like.yaml", ["levels.PE_array.x=5", f"levels.PE_array.y={y}",
                                                        f"levels.GlobalBuffer.size={size}",
                                                        f"levels.DRAM.read_bandwidth={bandwidth} words/cycle"])
        assert _same(arch, workload, SimOptions(dataflow="ws")) is not None
    assert len(set(reused)) >= 3, reused



def test_the_warm_up_passes_over_what_the_fast_path_does_not_cover():
    """warm_network_kernels on an arch without a template dataflow, or with an unknown one: quietly
    nothing."""
    from accelsim.dse.network import warm_network_kernels
    arch = load_arch(ARCH_DIR / "simba_like.yaml")
    warm_network_kernels(replace(arch, dataflow=None), SimOptions())
    warm_network_kernels(arch, SimOptions(dataflow="no such dataflow"))


_WARMED_APPENDS = """
import json
from numba.core.registry import CPUDispatcher
from accelsim.dse.network import _PACKS, SET_RECORDS, _appended, warm_network_kernels
from accelsim.load import load_arch
from accelsim.options import SimOptions
warm_network_kernels(load_arch({arch!r}), SimOptions(dataflow="ws"))
compiled, real = [], CPUDispatcher.compile
def counted(self, sig):
    compiled.append(self.py_func.__name__)
    return real(self, sig)
CPUDispatcher.compile = counted
pack = next(p for w, p in _PACKS.values() if w.name == "warm_odd")
padded = next(p for p in pack.padded.values() if p.items is not None)
cands = next(c for c in pack.candidates.values() if c.ok and c.padded)
rules = next(r for r, _ in pack.rules.values() if r is not None)
before = [len(pack.padded_lists[0]), len(pack.set_lists[0]), len(pack.rule_lists[0])]
compiled.clear()  # (len from Python, read here only to check the indices)
pack.padded_lists, p = _appended(pack.padded_lists, padded.items)
pack.set_lists, s = _appended(pack.set_lists, tuple(getattr(cands, k) for k in SET_RECORDS))
pack.rule_lists, r = _appended(pack.rule_lists, (rules,))
print(json.dumps([before, [p, s, r], compiled]))
"""


@pytest.mark.slow
def test_the_warm_up_leaves_the_workers_appends_nothing_to_compile():
    """After warm_network_kernels (a sweep's parent, before its workers fork), a worker's next append
    of a padded layer, a candidate set or a Rules to the pack's typed lists compiles nothing (each
    worker compiled a typed list's len once per item type, reading the new entry's index), in a
    fresh process (here earlier tests may have compiled it), and gives the entry's index."""
    import json
    import subprocess
    import sys
    script = _WARMED_APPENDS.format(arch=str(ARCH_DIR / "simba_like.yaml"))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    before, indices, compiled = json.loads(done.stdout.strip().splitlines()[-1])
    assert indices == before and compiled == [], (before, indices, compiled)
