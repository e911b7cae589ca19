"""model/packed.lowest_scoring scores candidates only to compare two (simulate's score counts the
padded layers for its cycle limit): the choice equals scoring every counted candidate."""
from conftest import ARCH_DIR

from accelsim.counting.records import OK
from accelsim.energy.model import action_energies
from accelsim.ir.layers import matmul
from accelsim.load import load_arch
from accelsim.mapping.dataflows import map_layer
from accelsim.mapping.lower import lower
from accelsim.mapping.ragged import padded_candidates
from accelsim.model.packed import evaluate_packed, lowest_scoring, pack_problem


def _eager(problem, arch, einsum, candidates, score):
    """The choice as it was made before: every counted candidate scored, the first best kept."""
    best, best_score, seen = None, None, []
    for mapping in candidates:
        if mapping in seen:
            continue
        seen.append(mapping)
        result = evaluate_packed(problem, lower(arch, einsum, mapping))
        if result.status == OK and (best_score is None or score(result.energy_pj, result.cycles) < best_score):
            best, best_score = mapping, score(result.energy_pj, result.cycles)
    return best


def test_a_lone_candidate_wins_unscored_and_several_are_compared_as_before():
    arch = load_arch(ARCH_DIR / "simba_like.yaml")
    einsum = matmul(m=13, n=17, k=19)  # primes: the padded layers give ragged candidates
    problem = pack_problem(arch, einsum, action_energies(arch))
    template = map_layer(arch, einsum, "ws")
    candidates = [template] + [r for _, _, r in padded_candidates(arch, einsum, template,
                                                                   lambda padded: map_layer(arch, padded, "ws"))]
    assert len({id(m) for m in candidates}) >= 3
    calls = []

    def score(energy, cycles):
        calls.append(cycles)
        return energy * cycles
    best, result = lowest_scoring(problem, arch, einsum, [template], score)
    assert best is template and result.status == OK and calls == []
    for objective in (score, lambda e, c: c, lambda e, c: -e):
        best, _ = lowest_scoring(problem, arch, einsum, candidates, objective)
        assert best is _eager(problem, arch, einsum, candidates, objective)
    assert calls  # compared
