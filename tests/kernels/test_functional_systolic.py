"""The register-level functional array (accelsim/model/functional.py): it computes A @ B and
takes exactly the systolic kernel's cycles per fold."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from accelsim.model.functional import run_functional_systolic
from accelsim.model.scalesim import (SystolicConfig, SystolicLayer, fold_geometry,
                                     simulate_systolic)


@pytest.mark.parametrize("df", ["os", "ws", "is"])
def test_hand_case(df):
    rng = np.random.default_rng(1)
    A = rng.integers(-9, 10, size=(5, 7))
    B = rng.integers(-9, 10, size=(7, 3))
    res = run_functional_systolic(A, B, 2, 3, df)
    np.testing.assert_array_equal(res.output, A @ B)
    g = fold_geometry(df, 2, 3, 5, 3, 7)
    assert res.fold_cycles == (g["cycles_per_fold"],) * g["folds"]


def test_floats():
    rng = np.random.default_rng(2)
    A, B = rng.normal(size=(4, 6)), rng.normal(size=(6, 5))
    for df in ("os", "ws", "is"):
        np.testing.assert_allclose(run_functional_systolic(A, B, 3, 2, df).output, A @ B)


@settings(max_examples=40, deadline=None)
@given(M=st.integers(1, 7), N=st.integers(1, 7), K=st.integers(1, 7), rows=st.integers(1, 4),
       cols=st.integers(1, 4), df=st.sampled_from(["os", "ws", "is"]),
       seed=st.integers(0, 2**16))
def test_random_shapes(M, N, K, rows, cols, df, seed):
    rng = np.random.default_rng(seed)
    A = rng.integers(-50, 50, size=(M, K))
    B = rng.integers(-50, 50, size=(K, N))
    res = run_functional_systolic(A, B, rows, cols, df)
    np.testing.assert_array_equal(res.output, A @ B)
    g = fold_geometry(df, rows, cols, M, N, K)
    assert res.fold_cycles == (g["cycles_per_fold"],) * g["folds"]
    # the kernel without SCALE-Sim's "−1" reports the same stall-free total
    kern = simulate_systolic(SystolicLayer.from_gemm(M, N, K),
                             SystolicConfig(rows, cols, df, 10**5, 10**5, 10**5),
                             scalesim_compat=False)
    assert kern.stall_cycles == 0
    assert res.cycles == kern.total_cycles
