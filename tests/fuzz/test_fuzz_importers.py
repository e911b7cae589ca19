"""Fuzzing the importers (issue 19): mutated Timeloop inputs (the reference cases' own files) and
SCALE-Sim inputs (tests/data/scalesim) either import or raise a SpecError, never another
exception, each within a bounded time. The default tier runs a fast sample; the slow tier
(-m slow) ≥ 1,000 cases per importer. A failure names the case and the mutation seed:
`timeloop_case(i, seed)` / `scalesim_case(i, seed)` rebuild it.
"""
from __future__ import annotations

import random
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accelsim.errors import SpecError
from accelsim.importers.scalesim import import_scalesim
from accelsim.importers.timeloop import import_timeloop
from conftest import REPO
from mutate import assert_memory_bounded, mutate, mutate_tree

REFCASES = REPO.parent / "shared" / "timeloop_refcases"
CASE_SECONDS = 10.0  # generous: the machine may be busy; a hang or a bomb takes far longer


def _timeloop_seeds() -> list[dict]:
    """Import calls that succeed on the unmutated files: role → path."""
    out = []
    for case in ("T00_conv1d_1level", "T03_conv1d_oc_3level_bypass", "T04_conv1d_oc_ic_16pe_kp"):
        folder = REFCASES / case / "inputs"
        if folder.is_dir():
            files = sorted(folder.glob("*.yaml"))
            pick = lambda key: next(f for f in files if key in f.name)  # noqa: E731
            out.append({"arch": pick("arch"), "problem": pick("prob"), "mapping": next(folder.glob("*.map.yaml")),
                        "ert": REFCASES / case / "ref" / "timeloop-model.ERT.yaml"})
    folder = REFCASES / "T05_mapper_baked" / "inputs"
    if folder.is_dir():
        out.append({"arch": next(folder.glob("*arch.yaml")), "problem": next(folder.glob("*prob.yaml")),
                    "constraints": next(folder.glob("*constraints.yaml")), "mapper": folder / "exhaustive.mapper.yaml"})
    for case in ("T06_eyeriss_vgg02_l5", "E_simba_like", "E_sparse_tensor_core_like"):
        ref = REFCASES / case / "ref"
        if ref.is_dir():
            out.append({"arch": ref / "parsed-processed-input.yaml", "mapping": ref / "timeloop-mapper.map.yaml",
                        "ert": ref / "timeloop-mapper.ERT.yaml"})
    folder = REFCASES / "T06_eyeriss_vgg02_l5" / "inputs"
    if folder.is_dir():
        out.append({"arch": folder / "eyeriss_like.yaml", "problem": folder / "VGG02_layer5.yaml",
                    "mapper": folder / "mapper.yaml"})
    return out


TIMELOOP = _timeloop_seeds()
SCALESIM = sorted((REPO / "tests" / "data" / "scalesim" / "cases").iterdir())[:12]


def _mutated(data: bytes, seed: int, tree: bool) -> bytes:
    rng = random.Random(seed)
    if tree and seed % 2:
        text = mutate_tree(data.decode(), rng)
        if text is not None:
            return text.encode()
    return mutate(data, rng)


def timeloop_case(i: int, seed: int, out: Path) -> dict:
    """Seed import `i` with one of its files mutated (which one: from `seed`); the call's kwargs."""
    seed_files = TIMELOOP[i % len(TIMELOOP)]
    role = sorted(seed_files)[seed % len(seed_files)]
    mutated = out / f"fuzzed_{role}.yaml"
    # The custom tags (!Component) do not survive mutate_tree's safe_load: those files mutate as bytes.
    data = seed_files[role].read_bytes()
    mutated.write_bytes(_mutated(data, seed, tree=b"!" not in data))
    files = {**seed_files, role: mutated}
    return dict(arch_path=files["arch"], problem_path=files.get("problem"), out_dir=out / "out",
                mapping_path=files.get("mapping"), ert_path=files.get("ert"),
                constraints_path=files.get("constraints"), mapper_path=files.get("mapper"))


def scalesim_case(i: int, seed: int, out: Path) -> dict:
    folder = SCALESIM[i % len(SCALESIM)]
    cfg, topology = folder / "config.cfg", folder / "topology.csv"
    target = cfg if seed % 2 else topology
    mutated = out / f"fuzzed_{target.name}"
    mutated.write_bytes(_mutated(target.read_bytes(), seed, tree=False))
    return dict(cfg_path=mutated if target == cfg else cfg, topology_path=mutated if target == topology else topology,
                gemm="gemm" in folder.name, out_dir=out / "out")


def _run(call, kwargs, label):
    start = time.perf_counter()
    try:
        call(**kwargs)
        outcome = "imported"
    except SpecError as exc:
        text = exc.render()
        assert exc.problems and len(text) < 100_000, label
        assert all(p.file for p in exc.problems), f"{label}: a problem without its file:\n{text[:500]}"
        outcome = "refused"
    elapsed = time.perf_counter() - start
    assert elapsed < CASE_SECONDS, f"{label}: {elapsed:.1f} s"
    assert_memory_bounded(label)
    return outcome


def run_timeloop(i, seed, tmp):
    return _run(import_timeloop, timeloop_case(i, seed, tmp), f"timeloop_case({i}, {seed})")


def run_scalesim(i, seed, tmp):
    return _run(import_scalesim, scalesim_case(i, seed, tmp), f"scalesim_case({i}, {seed})")


def test_seeds_import(tmp_path):
    if not TIMELOOP:
        pytest.skip("the Timeloop reference cases are not present")
    for i, files in enumerate(TIMELOOP):
        import_timeloop(files["arch"], files.get("problem"), tmp_path / str(i), files.get("mapping"),
                        files.get("ert"), files.get("constraints"), files.get("mapper"))
    for folder in SCALESIM:
        import_scalesim(folder / "config.cfg", folder / "topology.csv", "gemm" in folder.name, tmp_path / folder.name)


_SETTINGS = dict(deadline=None, suppress_health_check=list(HealthCheck), database=None)


@settings(max_examples=60, derandomize=True, **_SETTINGS)
@given(i=st.integers(0, 100), seed=st.integers(0, 2**32 - 1))
def test_fuzz_timeloop_fast_sample(tmp_path_factory, i, seed):
    if not TIMELOOP:
        pytest.skip("the Timeloop reference cases are not present")
    run_timeloop(i, seed, tmp_path_factory.mktemp("tl"))


@settings(max_examples=60, derandomize=True, **_SETTINGS)
@given(i=st.integers(0, 100), seed=st.integers(0, 2**32 - 1))
def test_fuzz_scalesim_fast_sample(tmp_path_factory, i, seed):
    run_scalesim(i, seed, tmp_path_factory.mktemp("ss"))


@pytest.mark.slow
@pytest.mark.parametrize("importer", ["timeloop", "scalesim"])
def test_fuzz_importers_1000(importer, tmp_path):
    """≥ 1,000 mutated inputs per importer, 0 tracebacks; counts how many import and how many are refused."""
    if importer == "timeloop" and not TIMELOOP:
        pytest.skip("the Timeloop reference cases are not present")
    run = run_timeloop if importer == "timeloop" else run_scalesim
    counts = {"imported": 0, "refused": 0}
    for n in range(1000):
        case = tmp_path / str(n)
        case.mkdir()
        counts[run(n, 1_000_003 * n + 17, case)] += 1
    assert sum(counts.values()) == 1000
    print(f"{importer}: {counts}")
