"""pack_problem, built from cached parts (the layer's, the arch's at its energies, both's), equals the
one-piece packing it replaced (tests/kernels/naive_packed.py), field by field and bit for bit, on
every shipped arch with dense and sparse layers; and a cache hit never mixes up two archs or two
energies objects."""
from __future__ import annotations

from dataclasses import fields, replace

import numpy as np
import pytest
from conftest import ARCH_DIR
from naive_packed import pack_problem_reference

from accelsim.energy.model import action_energies
from accelsim.ir.layers import conv2d, matmul
from accelsim.ir.workload import DENSE, Density
from accelsim.load import load_arch
from accelsim.model.packed import PackedProblem, pack_problem

LAYERS = [matmul(m=97, n=64, k=768), conv2d(c=16, k=32, h=15, w=15, r=3, s=3, stride=2)]


def assert_same(got: PackedProblem, want: PackedProblem) -> None:
    for f in fields(PackedProblem):
        a, b = getattr(got, f.name), getattr(want, f.name)
        if isinstance(b, np.ndarray):
            assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b), f.name
        else:
            assert type(a) is type(b) and a == b, f.name


@pytest.mark.parametrize("arch_file", sorted(p.name for p in ARCH_DIR.glob("*.yaml")))
def test_parts_equal_the_one_piece_packing(arch_file):
    arch = load_arch(ARCH_DIR / arch_file)
    energies = action_energies(arch)
    for einsum in LAYERS:
        for density in (DENSE, Density(0.5, 0.25)):
            for _ in range(2):  # the second time from the caches
                assert_same(pack_problem(arch, einsum, energies, density),
                            pack_problem_reference(arch, einsum, energies, density))
        assert_same(pack_problem(arch, einsum), pack_problem_reference(arch, einsum))


def test_a_cache_hit_is_per_arch_and_energies_object():
    arch = load_arch(ARCH_DIR / "simba_like.yaml")
    energies = action_energies(arch)
    other = replace(energies, mac_pj=energies.mac_pj * 3, read_pj={k: v * 2 for k, v in energies.read_pj.items()})
    bigger = replace(arch, frequency_hz=arch.frequency_hz * 2)  # leakage per cycle halves
    einsum = LAYERS[0]
    pack_problem(arch, einsum, energies)
    for a, e in ((arch, other), (bigger, energies), (arch, energies)):
        assert_same(pack_problem(a, einsum, e), pack_problem_reference(a, einsum, e))


def test_archs_share_mixed_parts_only_when_they_agree_on_what_they_read():
    """mixed_part's cache is shared by archs equal in all it reads (a sweep's size variants), and
    never by two that differ there: a fan-out without multicast merges nothing."""
    from accelsim.model.packed import mixed_part, mixed_reads
    arch = load_arch(ARCH_DIR / "simba_like.yaml")
    bigger = load_arch(ARCH_DIR / "simba_like.yaml", ["levels.PE_array.x=8", "levels.GlobalBuffer.size=256KiB"])
    unicast = load_arch(ARCH_DIR / "simba_like.yaml", ["levels.PE_array.multicast=false"])
    assert mixed_reads(arch) == mixed_reads(bigger) != mixed_reads(unicast)
    einsum = LAYERS[1]
    assert mixed_part(arch, einsum, DENSE)[0] is mixed_part(bigger, einsum, DENSE)[0]  # one cached array
    for a in (arch, unicast, bigger):
        assert_same(pack_problem(a, einsum, action_energies(a)), pack_problem_reference(a, einsum, action_energies(a)))
    assert mixed_part(arch, einsum, DENSE)[0].any() and not np.array_equal(mixed_part(unicast, einsum, DENSE)[0],
                                                                          mixed_part(arch, einsum, DENSE)[0])


def test_a_convention_of_another_class_packs_with_a_mixed_part_of_its_own(monkeypatch):
    """A plugin's convention may read more of the arch than the built-in ones: its arch is not shared
    (it once became a dict key, and an Arch holds dicts: TypeError on every layer)."""
    from dataclasses import replace

    from accelsim.counting.conventions import CONVENTIONS, CountingConvention, convention_of
    from accelsim.model.packed import mixed_reads

    class Mine(CountingConvention):
        pass

    arch = load_arch(ARCH_DIR / "simba_like.yaml")
    monkeypatch.setitem(CONVENTIONS._items, "mine", Mine(**{**vars(convention_of(arch)), "name": "mine"}))
    mine = replace(arch, counting="mine")
    twin = replace(arch, counting="mine")
    assert mixed_reads(mine) != mixed_reads(twin)  # each its own: nothing says what Mine reads
    einsum = LAYERS[1]
    assert_same(pack_problem(mine, einsum, action_energies(mine)), pack_problem_reference(mine, einsum, action_energies(mine)))
