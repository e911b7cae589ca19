"""The mapper's searches in worker processes (simulate's search_processes): the same results as
searched one after another, in the layers' order, each distinct shape searched once, a failing
search raising the same error for the same layer, and the on-disk cache written as before."""
import importlib
import os
from dataclasses import replace

import pytest
from test_mapper import ARCH_TEXT, EINSUM

import accelsim
from accelsim.errors import MappingError
from accelsim.ir.einsum import parse_einsum
from accelsim.ir.workload import Layer, Workload

simulate_module = importlib.import_module("accelsim.simulate")  # accelsim.simulate is the function

OTHER = parse_einsum("O[k,p] += I[p+r] * W[k,r]", {"k": 4, "r": 3, "p": 4})
WORKLOAD = Workload("w", "", (Layer("a", EINSUM), Layer("b", OTHER), Layer("c", EINSUM, count=2)))


@pytest.fixture(scope="module")
def arch(arch_from_text):
    return arch_from_text(ARCH_TEXT)


def _run(arch, processes, folder=None):
    return accelsim.simulate(arch, WORKLOAD, accelsim.SimOptions(dataflow="search"), search_cache=folder,
                             search_processes=processes)


def _layers(result):
    return [(l.name, l.mapping, l.cycles, l.energy, l.extra) for l in result.layers]


def test_searches_in_processes_equal_searches_in_turn(arch, tmp_path, monkeypatch):
    serial = _run(arch, 1)
    pids = tmp_path / "pids"
    searched = simulate_module._search_layer

    def recorded(*args):  # the workers are forked: they run this too
        with open(pids, "a") as f:
            f.write(f"{os.getpid()}\n")
        return searched(*args)
    monkeypatch.setattr(simulate_module, "_search_layer", recorded)
    parallel = _run(arch, 2, tmp_path / "cache")
    assert _layers(parallel) == _layers(serial)
    ran = pids.read_text().split()
    assert len(ran) == 2 and str(os.getpid()) not in ran  # each shape once, both in workers
    assert len(list((tmp_path / "cache").rglob("*.json"))) == 2
    assert _layers(_run(arch, 2, tmp_path / "cache")) == _layers(serial)  # from the cache: no workers needed


def test_a_failing_search_in_a_worker_fails_for_its_layer(arch, monkeypatch):
    searched = simulate_module._search_layer

    def failing(constraints, layer_arch, layer, *rest):
        if layer.run_einsum == OTHER:
            raise MappingError("no mapping fits")
        return searched(constraints, layer_arch, layer, *rest)
    monkeypatch.setattr(simulate_module, "_search_layer", failing)
    errors = []
    for processes in (1, 2):
        with pytest.raises(MappingError) as caught:
            _run(arch, processes)
        errors.append(str(caught.value))
    assert errors[0] == errors[1] == "layer 'b': no mapping fits"


def test_one_distinct_search_starts_no_workers(arch, monkeypatch):
    started = []
    monkeypatch.setattr(simulate_module.multiprocessing, "get_context", lambda *a: started.append(a))
    one = replace(WORKLOAD, layers=WORKLOAD.layers[::2])
    accelsim.simulate(arch, one, accelsim.SimOptions(dataflow="search"), search_processes=2)
    assert started == []
