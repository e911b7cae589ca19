"""Einsum keeps its hash and tensor sizes once computed: the same values as computing them afresh,
and never carried into a pickle or a copy (another process seeds string hashes differently)."""
import copy
import pickle
from dataclasses import replace

from accelsim.ir.layers import matmul


def test_memoized_hash_and_sizes_equal_fresh_ones():
    e = matmul(m=3, n=5, k=7)
    assert hash(e) == hash((e.dims, e.bounds, e.tensors)) == hash(e)
    assert e.tensor_size("outputs") == 15 and e.tensor_size("weights") == 35 and e.tensor_size("outputs") == 15
    other = replace(e, bounds=(4, 5, 7) if e.dims[0] == "m" else e.bounds)
    assert replace(e) == e and hash(replace(e)) == hash(e)
    assert other.tensor_size("outputs") == (20 if e.dims[0] == "m" else 15)


def test_pickles_and_copies_carry_no_memo():
    e = matmul(m=3, n=5, k=7)
    hash(e), e.tensor_size("inputs")
    for twin in (pickle.loads(pickle.dumps(e)), copy.deepcopy(e), copy.copy(e)):
        assert twin == e and "_hash" not in twin.__dict__ and "_sizes" not in twin.__dict__
        assert hash(twin) == hash(e)
