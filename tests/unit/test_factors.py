"""Divisors by factorization against trial division, and bounded on large dims."""
from hypothesis import given, settings, strategies as st

from accelsim.ir.factors import divisors, is_prime, prime_factors


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 20000))
def test_divisors_equal_trial_division(n):
    assert divisors(n) == tuple(d for d in range(1, n + 1) if n % d == 0)


@settings(max_examples=100, deadline=None)
@given(st.integers(2, 2**63))
def test_prime_factors_multiply_back_to_n(n):
    factors = prime_factors(n)
    product = 1
    for p, e in factors.items():
        assert is_prime(p)
        product *= p ** e
    assert product == n


def test_large_dims_factor_without_trying_every_integer():
    # A Mersenne prime and a product of two primes near 2^31: trial division to n (or to √n for
    # the prime near 2^61) would take years or minutes; factorization takes milliseconds.
    assert divisors(2**61 - 1) == (1, 2**61 - 1)
    p, q = 2**31 - 1, 2147483659  # both prime
    assert divisors(p * q) == (1, p, q, p * q)
    assert len(divisors(2**62)) == 63
