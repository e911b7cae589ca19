"""The mapper's on-disk cache: a hit gives the same result as the search, without searching; the
key follows everything that decides a search and nothing else (not hash order, not file paths)."""
import os
import subprocess
import sys
from dataclasses import replace

import pytest

import accelsim
from accelsim.energy.model import action_energies
from accelsim.ir.workload import Density, Layer, Workload
from accelsim.search import mapper
from accelsim.search.cache import SearchCache, search_key
from accelsim.search.constraints import NO_CONSTRAINTS
from conftest import REPO
from test_mapper import ARCH_TEXT, EINSUM

WORKLOAD = Workload("w", "", (Layer("a", EINSUM), Layer("b", EINSUM, count=2)))


@pytest.fixture(scope="module")
def arch(arch_from_text):
    return arch_from_text(ARCH_TEXT)


def _search(arch, folder, **options):
    return accelsim.simulate(arch, WORKLOAD, accelsim.SimOptions(dataflow="search", **options), search_cache=folder)


def test_a_cached_search_equals_the_search_and_does_not_search(arch, tmp_path, monkeypatch):
    first = _search(arch, tmp_path)
    assert len(list(tmp_path.rglob("*.json"))) == 1  # one shape, one entry

    def refuse(*args, **kwargs):
        raise AssertionError("searched although the result was cached")
    monkeypatch.setattr(mapper, "search_mapping", refuse)
    again = _search(arch, tmp_path)
    for a, b in zip(first.layers, again.layers):
        assert (a.mapping, a.cycles, a.energy, a.extra) == (b.mapping, b.cycles, b.energy, b.extra)


def test_a_damaged_entry_is_searched_again_and_rewritten(arch, tmp_path):
    first = _search(arch, tmp_path)
    (entry,) = tmp_path.rglob("*.json")
    entry.write_text("{not json")
    again = _search(arch, tmp_path)
    assert again.layers[0].mapping == first.layers[0].mapping
    assert SearchCache(tmp_path).get(entry.stem) is not None


def test_the_key_follows_what_decides_the_search(arch, arch_from_text):
    energies = action_energies(arch)
    base = search_key(arch, EINSUM, energies, NO_CONSTRAINTS, Density(1.0, 1.0))
    bigger = arch_from_text(ARCH_TEXT.replace("size: 256b", "size: 512b"))
    seeded = replace(NO_CONSTRAINTS, settings=replace(NO_CONSTRAINTS.settings, seed=7))
    assert search_key(replace(arch, source="elsewhere.yaml"), EINSUM, energies, NO_CONSTRAINTS,
                      Density(1.0, 1.0)) == base
    others = [search_key(bigger, EINSUM, energies, NO_CONSTRAINTS, Density(1.0, 1.0)),
              search_key(arch, EINSUM, energies, seeded, Density(1.0, 1.0)),
              search_key(arch, EINSUM, energies, NO_CONSTRAINTS, Density(0.5, 1.0))]
    assert base not in others and len(set(others)) == 3
    assert search_key(arch, EINSUM, energies, NO_CONSTRAINTS, Density(1.0, 1.0), ragged=True) != base


def test_the_key_follows_the_mapspace_version(arch, monkeypatch):
    """A change to what the mapspace holds (cache.MAPSPACE) changes every key."""
    from accelsim.search import cache
    energies = action_energies(arch)
    base = search_key(arch, EINSUM, energies, NO_CONSTRAINTS, Density(1.0, 1.0))
    monkeypatch.setattr(cache, "MAPSPACE", cache.MAPSPACE + 1)
    assert search_key(arch, EINSUM, energies, NO_CONSTRAINTS, Density(1.0, 1.0)) != base


def test_the_key_does_not_depend_on_hash_order():
    # frozensets of strings iterate in PYTHONHASHSEED's order; the key must not.
    code = ("import accelsim; from accelsim.energy.model import action_energies; "
            "from accelsim.search.cache import search_key; from accelsim.search.constraints import NO_CONSTRAINTS; "
            "from accelsim.ir.workload import DENSE; a = accelsim.load_arch('arch/eyeriss_like.yaml'); "
            "w = accelsim.load_workload('workloads/conv_tiny.yaml'); "
            "print(search_key(a, w.layers[0].einsum, action_energies(a), NO_CONSTRAINTS, DENSE))")
    keys = {subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2", "3")}
    assert len(keys) == 1


def test_entries_that_are_not_results_and_unwritable_folders_cost_time_only(arch, tmp_path):
    first = _search(arch, tmp_path)
    (entry,) = tmp_path.rglob("*.json")
    for damaged in ("[]", "null", '{"format": 2}'):
        entry.write_text(damaged)
        assert _search(arch, tmp_path).layers[0].mapping == first.layers[0].mapping
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    with pytest.warns(UserWarning, match="search cache was not written"):
        assert _search(arch, blocked / "cache").layers[0].mapping == first.layers[0].mapping
