"""The mapper: exhaustive search equals a brute force over the unpruned mapspace; heuristics are
reproducible; constraints hold in what it returns; objectives order as they say; files round-trip."""
from itertools import permutations, product
from math import prod

import pytest

import accelsim
from accelsim.energy.model import action_energies, layer_energy
from accelsim.errors import MappingError, SpecError
from accelsim.ir.arch import Memory
from accelsim.ir.einsum import parse_einsum
from accelsim.load import load_constraints
from accelsim.search.constraints import Constraints, LevelConstraint, MapperSettings, objective_from
from accelsim.mapping.lower import lower
from accelsim.search.mapper import search_mapping
from accelsim.mapping.mapping import LevelMapping, Loop, Mapping, check_mapping
from accelsim.search.mapspace import TEMPORAL, build_mapspace
from accelsim.model.analytical import analyze
from conftest import ARCH_DIR, REPO, WORKLOAD_DIR

ARCH_TEXT = """
name: t
technology: {node: 45nm, energy_table: horowitz_45nm}
operating_point: {voltage: 0.9V, frequency: 1GHz}
levels:
  - memory: {name: DRAM, class: dram, size: unlimited, word_bits: 8, width_bits: 64, keeps: [weights, inputs, outputs],
             read_bandwidth: 1 words/cycle}
  - memory: {name: GLB, class: sram, size: 256b, word_bits: 8, width_bits: 32, keeps: [weights, inputs, outputs]}
  - spatial: {name: PE, x: 2}
  - memory: {name: RF, class: regfile, size: 64b, word_bits: 8, keeps: [weights, inputs, outputs]}
  - compute: {name: MAC, format: int8}
"""
EINSUM = parse_einsum("O[k,p] += I[p+r] * W[k,r]", {"k": 2, "r": 3, "p": 4})


@pytest.fixture(scope="module")
def arch(arch_from_text):
    return arch_from_text(ARCH_TEXT)


def settings(objective="edp", search="auto", **kw):
    return MapperSettings(objective_from(objective), search, **kw)


def score(objective, energy, cycles):
    if isinstance(objective, dict):  # a weighted mix: energy^a · cycles^b
        return (energy ** objective.get("energy", 0.0) * cycles ** objective.get("cycles", 0.0),)
    return {"edp": (energy * cycles,), "energy": (energy,), "cycles": (cycles,)}.get(
        objective if isinstance(objective, str) else None) or tuple(
        energy if m == "energy" else cycles for m in objective)


def brute_force(arch, einsum, constraints, objective):
    """The best score over every point (all_points)."""
    return min(s for s, _, _, _ in all_points(arch, einsum, constraints, objective))


def all_points(arch, einsum, constraints, objective):
    """(score, energy pJ, cycles, mapping) of every factorization × every order of every level ×
    every bypass choice that fits, through the Python model: no pruning, so it checks that the
    kernels' prunes lose nothing."""
    space = build_mapspace(arch, einsum, constraints)
    energies = action_energies(arch)
    per_dim = [space.rows[space.row_start[d]:space.row_start[d + 1]] for d in range(len(space.dims))]
    free = [(int(i), r) for i, t in zip(*space.keep_free.nonzero()) for r in [space.roles[t]]]
    points = []
    for rows in product(*per_dim):
        fac = {(s, d): int(rows[d][s]) for d in range(len(space.dims)) for s in range(space.n_slots)}
        if any(prod(fac[s, d] for d in range(len(space.dims))) > space.slot_size[s]
               for s in range(space.n_slots) if space.slot_axis[s] != TEMPORAL):
            continue  # a fan-out axis over-full
        per_level = {}
        for s in range(space.n_slots):
            i, axis = int(space.slot_level[s]), int(space.slot_axis[s])
            loops = [(space.dims[d], fac[s, d]) for d in range(len(space.dims)) if fac[s, d] > 1]
            per_level.setdefault(i, []).append((axis, loops))
        options = []
        for i in sorted(per_level):
            slot_loops = per_level[i]
            if slot_loops[0][0] == TEMPORAL:
                options.append([tuple(Loop(d, b) for d, b in order) for order in permutations(slot_loops[0][1])])
            else:
                options.append([tuple(Loop(d, b, "x" if a == 0 else "y") for a, loops in slot_loops for d, b in loops)])
        for orders in product(*options):
            for bits in product([False, True], repeat=len(free)):
                bypass = {}
                for (i, role), off in zip(free, bits):
                    if off:
                        bypass.setdefault(i, set()).add(role)
                levels, loops_by_level = [], dict(zip(sorted(per_level), orders))
                for i, level in enumerate(arch.levels[:-1]):
                    forced = {r for r in level.keeps if not space.keep_base[i, space.roles.index(r)]} \
                        if isinstance(level, Memory) else set()
                    levels.append(LevelMapping(level.name, loops_by_level.get(i, ()),
                                               frozenset(bypass.get(i, set()) | forced)))
                mapping = Mapping(tuple(levels))
                check_mapping(arch, einsum, mapping)
                try:
                    counts = analyze(arch, einsum, lower(arch, einsum, mapping))
                except MappingError:
                    continue
                e = layer_energy(arch, counts, energies, counts.cycles / arch.frequency_hz, counts.cycles).total_pj
                points.append((score(objective, e, counts.cycles), e, counts.cycles, mapping))
    return points


@pytest.mark.parametrize("objective", ["edp", "energy", ["cycles", "energy"], {"energy": 2.0, "cycles": 0.5}])
def test_exhaustive_search_equals_brute_force(arch, objective):
    """Named objectives score as products in the kernel, weighted mixes as sums of logs (_objective)."""
    constraints = Constraints({"GLB": LevelConstraint(keep=frozenset({"weights", "inputs", "outputs"}))},
                              settings(objective, "exhaustive"))
    found = search_mapping(arch, EINSUM, action_energies(arch), constraints)
    want = brute_force(arch, EINSUM, constraints, objective)
    got = score(objective, found.energy_pj, found.cycles)
    assert got == pytest.approx(want, rel=1e-12)
    assert found.evaluations <= found.mapspace_size


def test_objectives_order_as_they_say(arch):
    energies = action_energies(arch)
    by = {o: search_mapping(arch, EINSUM, energies, Constraints({}, settings(o, "exhaustive")))
          for o in ("energy", "cycles", "edp")}
    assert by["energy"].energy_pj <= min(r.energy_pj for r in by.values()) * (1 + 1e-12)
    assert by["cycles"].cycles <= min(r.cycles for r in by.values())
    edp = {o: r.energy_pj * r.cycles for o, r in by.items()}
    assert edp["edp"] <= min(edp.values()) * (1 + 1e-12)


def test_heuristic_is_reproducible_and_reaches_the_optimum_of_a_small_space(arch):
    energies = action_energies(arch)
    optimum = search_mapping(arch, EINSUM, energies, Constraints({}, settings("edp", "exhaustive")))
    runs = [search_mapping(arch, EINSUM, energies, Constraints({}, settings("edp", "auto", evaluations=20_000,
                                                                             exhaustive_limit=1, seed=7)))
            for _ in range(2)]
    assert runs[0].algorithm == "random+hill_climb"
    assert runs[0].mapping == runs[1].mapping
    assert runs[0].energy_pj * runs[0].cycles == pytest.approx(optimum.energy_pj * optimum.cycles, rel=1e-12)


def test_returned_mappings_honour_the_constraints():
    arch = accelsim.load_arch(ARCH_DIR / "eyeriss_like.yaml")
    layer = next(l for l in accelsim.load_workload(WORKLOAD_DIR / "alexnet.yaml").layers if l.name == "conv3")
    spatial = [l for l in arch.levels if not isinstance(l, Memory)][:-1]
    memories = [l.name for l in arch.memories]
    inner = memories[-1]
    constraints = Constraints({
        memories[0]: LevelConstraint(order=("c",)),
        inner: LevelConstraint(factors={"k": 1}),
        spatial[0].name: LevelConstraint(x=({}, ("q", "p")), y=({"r": 3}, ("r", "c"))),
    }, settings("energy", evaluations=40_000))
    result = search_mapping(arch, layer.run_einsum, action_energies(arch), constraints)
    m = result.mapping
    assert all(l.dim != "k" for l in m.at(inner).loops)
    top = [l.dim for l in m.at(memories[0]).loops]
    assert "c" not in top or top[-1] == "c"
    fan = m.at(spatial[0].name).loops
    assert all(l.dim in ("q", "p") for l in fan if l.axis == "x")
    assert all(l.dim in ("r", "c") for l in fan if l.axis == "y")
    assert prod(l.bound for l in fan if l.axis == "y" and l.dim == "r") == 3


def test_no_feasible_mapping_is_a_mapping_error(arch):
    huge = parse_einsum("O[k,p] += I[p+r] * W[k,r]", {"k": 64, "r": 3, "p": 64})
    tight = Constraints({"GLB": LevelConstraint(keep=frozenset({"weights", "inputs", "outputs"}), factors={"k": 64})},
                        settings("edp", "exhaustive"))
    with pytest.raises(MappingError, match="no mapping that fits"):
        search_mapping(arch, huge, action_energies(arch), tight)


def test_constraints_file_errors_name_the_level(arch, tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("constraints:\n  GBL: {factors: {k: 1}}\nmapper: {objective: edp}\n")
    with pytest.raises(SpecError, match="did you mean 'GLB'") as info:
        load_constraints(path, arch)
    assert "c.yaml" in info.value.render()
    path.write_text("constraints:\n  PE: {factors: {k: 1}}\n")
    with pytest.raises(SpecError, match="spatial level"):
        load_constraints(path, arch)
    path.write_text("mapper: {objective: speed}\n")
    with pytest.raises(SpecError, match="objective"):
        load_constraints(path, arch)
    path.write_text("mapper: {seed: -1}\n")
    with pytest.raises(SpecError, match="seed") as info:
        load_constraints(path, arch)
    assert "greater than or equal to 0" in info.value.render()


def test_search_from_the_cli_saves_a_mapping_that_reloads_to_the_same_result(tmp_path):
    import json

    from accelsim.cli import main
    folder = REPO / "tests" / "validation" / "timeloop"
    arch, wl = str(folder / "tl_3level.arch.yaml"), str(folder / "conv1d_oc.workload.yaml")
    (tmp_path / "c.yaml").write_text("mapper: {objective: energy}\n")
    assert main(["run", arch, wl, "--dataflow", "search", "--constraints", str(tmp_path / "c.yaml"),
                 "--save-mapping", str(tmp_path / "m.yaml"), "--json", str(tmp_path / "a.json")]) == 0
    assert main(["run", arch, wl, "--mapping", str(tmp_path / "m.yaml"), "--json", str(tmp_path / "b.json")]) == 0
    a, b = (json.loads((tmp_path / f).read_text()) for f in ("a.json", "b.json"))
    assert a["totals"]["energy_pj"] == b["totals"]["energy_pj"]
    assert a["totals"]["cycles"] == b["totals"]["cycles"]
    searched = a["layers"][0]["mapper"]  # the search is recorded with the searched layer
    assert searched["algorithm"] == "exhaustive" and searched["evaluations"] == searched["mapspace_size"] == 263_360
    assert "mapper" not in b["layers"][0]


def test_sparse_data_search_ranks_the_energy_it_reports(arch_from_text):
    """With sparse operands the MACs' energy depends on the mapping (the operand the innermost
    temporal loop holds, the spatial reduction's fan-in): the search ranks the same full
    data-dependent energy that simulate reports, and its exhaustive optimum beats every other
    mapping under that energy."""
    from accelsim.energy.activity import layer_activity
    from accelsim.ir.workload import Density, Layer, Workload
    text = ARCH_TEXT.replace("compute: {name: MAC, format: int8}",
                             "compute: {name: MAC, format: int8, switching_share: 0.8, reduction_tree_share: 0.3}")
    arch = arch_from_text(text)
    density = Density(0.3, 0.6)
    constraints = Constraints({}, settings("energy", "exhaustive"))
    found = search_mapping(arch, EINSUM, action_energies(arch), constraints, density)
    layer = Layer("l", EINSUM, density=density)
    reported = accelsim.simulate(arch, Workload("w", "", (layer,)), mappings={"l": found.mapping}).layers[0]
    assert reported.energy.total_pj == pytest.approx(found.energy_pj, rel=1e-12)
    dense = search_mapping(arch, EINSUM, action_energies(arch), constraints)
    energies = action_energies(arch)
    for mapping in (dense.mapping, found.mapping):
        counts = analyze(arch, EINSUM, lower(arch, EINSUM, mapping))
        e = layer_energy(arch, counts, energies, counts.cycles / arch.frequency_hz, counts.cycles,
                         layer_activity(arch, EINSUM, mapping, density)).total_pj
        assert found.energy_pj <= e * (1 + 1e-12)


def test_an_arch_without_a_template_is_mapped_by_the_mapper(arch):
    # ARCH_TEXT names no dataflow: the run searches (as --dataflow search does) instead of refusing.
    from accelsim.ir.workload import Layer, Workload
    workload = Workload("w", "", (Layer("l", EINSUM),))
    assert arch.dataflow is None
    result = accelsim.simulate(arch, workload)
    searched = accelsim.simulate(arch, workload, accelsim.SimOptions(dataflow="search"))
    assert result.options["dataflow"] == "search" and "mapper" in result.layers[0].extra
    assert result.layers[0].mapping == searched.layers[0].mapping
