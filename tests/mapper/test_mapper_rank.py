"""Ranking by the cycle model: the search keeps its K best distinct points (checked against a brute
force over the whole mapspace), and `rank: cycle` picks among them by the objective with the cycle
model's cycles, never worse by that model than the search's own best."""
import pytest

from accelsim.energy.model import action_energies
from accelsim.ir.einsum import parse_einsum
from accelsim.mapping.lower import lower
from accelsim.model.cycle import simulate_cycles
from accelsim.search.constraints import Constraints, LevelConstraint
from accelsim.search.mapper import best_points, search_mapping
from test_mapper import ARCH_TEXT, EINSUM, all_points, settings

# DRAM slow both ways and a larger layer: every best point takes 48 cycles by the bandwidth bound,
# but their fills and drains stall the walk differently (93 to 112 cycles).
SLOW_DRAM = ARCH_TEXT.replace("read_bandwidth: 1 words/cycle", "read_bandwidth: 1 words/cycle, write_bandwidth: 1 "
                              "words/cycle")
LARGER = parse_einsum("O[k,p] += I[p+r] * W[k,r]", {"k": 4, "r": 3, "p": 8})


@pytest.fixture(scope="module")
def arch(arch_from_text):
    return arch_from_text(ARCH_TEXT)


def _distinct_best(points, k):
    """The k best (energy, cycles) pairs by score, one per pair, as the kernels keep them."""
    seen, best = set(), []
    for s, e, c, _ in sorted(points, key=lambda p: p[0]):
        key = (round(e, 6), c)
        if key not in seen:
            seen.add(key)
            best.append((s, e, c))
    return best[:k]


@pytest.mark.parametrize("search", ["exhaustive", "random"])
def test_the_kernels_keep_the_k_best_distinct_points(arch, search):
    constraints = Constraints({"GLB": LevelConstraint(keep=frozenset({"weights", "inputs", "outputs"}))},
                              settings("edp", search, evaluations=20_000))
    found = best_points(arch, EINSUM, action_energies(arch), constraints, k=6)
    want = _distinct_best(all_points(arch, EINSUM, constraints, "edp"), 6)
    assert len(found.points) == len(want) == 6
    for point, (s, e, c) in zip(found.points, want):
        assert point.energy_pj * point.cycles == pytest.approx(s[0], rel=1e-12)
        assert point.energy_pj == pytest.approx(e, rel=1e-9) and point.cycles == c


@pytest.mark.parametrize("objective", ["cycles", "edp"])
def test_rank_by_cycle_model_picks_the_best_candidate_by_that_model(arch_from_text, objective):
    slow = arch_from_text(SLOW_DRAM)
    energies = action_energies(slow)
    by_bound = search_mapping(slow, LARGER, energies, Constraints({}, settings(objective, "exhaustive")))
    ranked = search_mapping(slow, LARGER, energies,
                            Constraints({}, settings(objective, "exhaustive", rank="cycle", candidates=24)))
    assert ranked.ranked_by == "cycle" and ranked.ranked == 24
    # every candidate walked by the cycle model: the chosen one is the best of them by the objective
    candidates = best_points(slow, LARGER, energies, Constraints({}, settings(objective, "exhaustive")), k=24)
    walked = {}
    for p in candidates.points:
        cycles = simulate_cycles(slow, LARGER, lower(slow, LARGER, p.mapping)).cycles
        energy = p.energy_pj + p.per_cycle_pj * (cycles - p.cycles)
        walked[p.mapping] = cycles if objective == "cycles" else energy * cycles
    assert ranked.ranked_cycles == simulate_cycles(slow, LARGER, lower(slow, LARGER, ranked.mapping)).cycles
    assert walked[ranked.mapping] == pytest.approx(min(walked.values()), rel=1e-12)
    # never worse by the cycle model than the bound's own best (which is among the candidates) ...
    assert walked[ranked.mapping] <= walked[by_bound.mapping] * (1 + 1e-12)
    if objective == "cycles":  # ... and here the bound's best stalls: ranking changes the answer
        assert walked[ranked.mapping] < walked[by_bound.mapping]


def test_rank_setting_errors_are_clear(tmp_path, arch):
    from accelsim.errors import SpecError
    from accelsim.load import load_constraints

    path = tmp_path / "c.yaml"
    path.write_text("mapper: {rank: walk}\n")
    with pytest.raises(SpecError, match="rank"):
        load_constraints(path, arch)


def test_cli_rank_cycle_records_the_ranking_and_needs_the_mapper(tmp_path, capsys):
    import json

    from accelsim.cli import main
    from conftest import ARCH_DIR, WORKLOAD_DIR

    out = tmp_path / "r.json"
    args = ["run", str(ARCH_DIR / "simple_ws.yaml"), str(WORKLOAD_DIR / "gemm_tiny.yaml")]
    assert main(args + ["--dataflow", "search", "--rank", "cycle", "--model", "cycle", "--json", str(out)]) == 0
    layer = json.loads(out.read_text())["layers"][0]
    assert layer["mapper"]["ranked_by"] == "cycle" and layer["mapper"]["ranked"] >= 1
    assert layer["mapper"]["ranked_cycles"] == layer["cycles"]  # the run's cycle model agrees with the ranking
    capsys.readouterr()
    assert main(args + ["--rank", "cycle"]) == 2
    assert "--rank guides the mapper" in capsys.readouterr().err
