"""search/ragged.py: when dense tiles leave the array idle, the mapper also searches the ragged
mapspace and runs a ragged mapping when the objective prefers it."""
import accelsim
from accelsim.energy.model import action_energies
from accelsim.ir.einsum import parse_einsum
from accelsim.mapping.mapping import check_mapping
from accelsim.mapping.ragged import spatial_positions
from accelsim.search.constraints import NO_CONSTRAINTS
from accelsim.search.mapper import search_mapping
from accelsim.search.ragged import search_with_ragged
from conftest import ARCH_DIR


def test_a_prime_gemm_fills_the_array_and_halves_the_edp():
    arch = accelsim.load_arch(ARCH_DIR / "simple_ws.yaml")  # 16 × 16 PEs
    einsum = parse_einsum("O[m,n] += I[m,k] * W[k,n]", {"m": 13, "n": 17, "k": 31})
    energies = action_energies(arch)
    dense = search_mapping(arch, einsum, energies, NO_CONSTRAINTS)
    ragged = search_with_ragged(arch, einsum, energies, NO_CONSTRAINTS)
    check_mapping(arch, einsum, ragged.mapping)
    assert spatial_positions(dense.mapping) <= 17  # primes: one dim on the array at most
    assert spatial_positions(ragged.mapping) > 4 * spatial_positions(dense.mapping)
    assert ragged.energy_pj * ragged.cycles < 0.5 * dense.energy_pj * dense.cycles  # EDP, the default objective
    assert ragged.evaluations > dense.evaluations  # the ragged mapspace was searched too
