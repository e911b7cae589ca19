"""Fuzzing the native spec reader: mutated shipped specs end in a SpecError (exit 2) or load,
never in another exception or a traceback, and within a bounded time (issue 19).

Seeds: arch/*.yaml, workloads/*.yaml, docs/sweeps/*.yaml and the constraint and mapping files
in tests/fuzz/seeds. The default tier runs a fast sample; the slow tier (-m slow) ≥ 10,000
cases. A failure names the seed file and the mutation seed: `replay(name, seed)` rebuilds it.
"""
from __future__ import annotations

import contextlib
import io
import os
import random
import shutil
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accelsim.cli import main
from accelsim.dse.spec import load_sweep
from accelsim.errors import SpecError
from conftest import REPO
from mutate import assert_memory_bounded, mutate, mutate_tree

SEEDS = sorted([*(f"arch/{p.name}" for p in (REPO / "arch").glob("*.yaml")),
                *(f"workloads/{p.name}" for p in (REPO / "workloads").glob("*.yaml")),
                *(f"docs/sweeps/{p.name}" for p in (REPO / "docs" / "sweeps").glob("*.yaml")),
                *(f"tests/fuzz/seeds/{p.name}" for p in (Path(__file__).parent / "seeds").glob("*.yaml"))])
CASE_SECONDS = 10.0  # generous: the machine may be busy; a hang or a bomb takes far longer


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A copy of the seed files in their folders (so relative paths resolve), with the
    hostile neighbours a mutated `extends:` may name: a FIFO, a symlink loop, a folder, a
    link out of the tree."""
    root = tmp_path_factory.mktemp("fuzz")
    for rel in SEEDS:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / rel, root / rel)
    for folder in {(root / rel).parent for rel in SEEDS}:
        os.mkfifo(folder / "fifo")
        (folder / "loop.yaml").symlink_to(folder / "loop.yaml")
        (folder / "folder").mkdir()
        (folder / "link_out.yaml").symlink_to("/etc/hostname")
    return root


def run_case(root: Path, rel: str, seed: int) -> tuple[int, str]:
    """Check one mutated file the way `accelsim check` (or a sweep load) does; returns the exit code and
    stderr. Any exception but SpecError propagates and fails the test."""
    data = replay(rel, seed)
    path = (root / rel).with_name("fuzzed_" + Path(rel).name)
    path.write_bytes(data)
    err = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        if rel.startswith("docs/sweeps/"):
            try:
                load_sweep(path)
                code = 0
            except SpecError as exc:
                print(exc.render(), file=err)
                code = 2
        else:
            code = main(["check", str(path)])
    elapsed = time.perf_counter() - start
    assert elapsed < CASE_SECONDS, f"{rel} seed {seed}: {elapsed:.1f} s"
    assert_memory_bounded(f"{rel} seed {seed}")
    assert code in (0, 2), f"{rel} seed {seed}: exit {code}"
    text = err.getvalue()
    assert "Traceback" not in text
    if code == 2:
        assert "problem" in text and len(text) < 100_000, f"{rel} seed {seed}: {text[:500]}"
    return code, text


def replay(rel: str, seed: int) -> bytes:
    """The mutated bytes of a case: half the seeds mutate the text, half the loaded tree."""
    rng, text = random.Random(seed), (REPO / rel).read_bytes()
    if seed % 2:
        tree = mutate_tree(text.decode(), rng)
        if tree is not None:
            return tree.encode()
    return mutate(text, rng)


def test_every_seed_is_valid(corpus):
    for rel in SEEDS:
        path = corpus / rel
        if rel.startswith("docs/sweeps/"):
            load_sweep(path)
        else:
            with contextlib.redirect_stdout(io.StringIO()):
                assert main(["check", str(path)]) == 0, rel


_SETTINGS = dict(deadline=None, suppress_health_check=list(HealthCheck), database=None)


@settings(max_examples=300, derandomize=True, **_SETTINGS)
@given(rel=st.sampled_from(SEEDS), seed=st.integers(0, 2**32 - 1))
def test_fuzz_fast_sample(corpus, rel, seed):
    run_case(corpus, rel, seed)


@pytest.mark.slow
@settings(max_examples=10_000, **_SETTINGS)
@given(rel=st.sampled_from(SEEDS), seed=st.integers(0, 2**32 - 1))
def test_fuzz_slow_10k(corpus, rel, seed):
    run_case(corpus, rel, seed)
