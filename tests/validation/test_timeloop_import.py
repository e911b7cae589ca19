"""`accelsim import timeloop`: the reference cases' own Timeloop v0.4 inputs, converted and run,
reproduce Timeloop's stats (counts, cycles, utilization exact; energy per component to 1e-4, as in
test_timeloop.py). Fixed-mapping cases use their input mapping and timeloop-model's ERT; the mapper
cases use the mapping the mapper chose (ref/timeloop-mapper.map.yaml) and its ERT.

Imported archs carry `counting: timeloop` (Timeloop's multicast, MAC-operand and leakage
conventions), so every case reproduces Timeloop's raw numbers. Under accelsim's own counting the
same cases differ; a second test applies each convention to accelsim's counts by an independent
formula from Timeloop's source (no reference numbers), demands exact parity, and checks that
nothing else differs — the mode and the formulas cross-check each other. See CONVENTIONS below."""
from __future__ import annotations

import math
import re
from dataclasses import replace

import pytest
import yaml

import accelsim
from accelsim.importers.timeloop import import_timeloop
from test_timeloop import REFCASES, parity_problems, refcase_stats

MODEL_CASES = ["T00_conv1d_1level", "T01_conv1d_2level_ws", "T01_conv1d_2level_os",
               "T02_conv1d_oc_2level_os", "T02_conv1d_oc_2level_os_tiled", "T03_conv1d_oc_3level",
               "T03_conv1d_oc_3level_bypass", "T04_conv1d_oc_ic_16pe_cp", "T04_conv1d_oc_ic_16pe_kp"]
MAPPER_CASES = ["T05_mapper_baked", "T05_mapper_freebypass", "T05_mapper_null"]


def inputs(case_id):
    folder = REFCASES / case_id / "inputs"
    files = sorted(folder.glob("*.yaml"))
    pick = lambda key: next(f for f in files if key in f.name)  # noqa: E731
    return pick("arch"), pick("prob"), folder


def run_imported(case_id, tool, tmp_path):
    arch, problem, folder = inputs(case_id)
    mapping = (next(folder.glob("*.map.yaml")) if tool == "timeloop-model"
               else REFCASES / case_id / "ref" / "timeloop-mapper.map.yaml")
    imp = import_timeloop(arch, problem, tmp_path, mapping, REFCASES / case_id / "ref" / f"{tool}.ERT.yaml")
    a = accelsim.load_arch(imp.arch_path)
    w = accelsim.load_workload(imp.workload_path)
    result = accelsim.simulate(a, w, mappings=accelsim.load_mapping_file(imp.mapping_path, a, w))
    return result.layers[0]


@pytest.mark.parametrize("case_id, tool", [(c, "timeloop-model") for c in MODEL_CASES]
                         + [(c, "timeloop-mapper") for c in MAPPER_CASES])
def test_imported_case_reproduces_timeloop(case_id, tool, tmp_path):
    ref = refcase_stats(case_id, tool)
    problems = parity_problems(ref, run_imported(case_id, tool, tmp_path))
    assert not problems, f"{case_id} (imported) disagrees with Timeloop:\n  " + "\n  ".join(problems)


def test_import_command(tmp_path, capsys):
    from accelsim.cli import main
    ref = refcase_stats("T04_conv1d_oc_ic_16pe_kp")
    arch, problem, folder = inputs("T04_conv1d_oc_ic_16pe_kp")
    out = tmp_path / "t04"
    assert main(["import", "timeloop", "--arch", str(arch), "--problem", str(problem),
                 "--mapping", str(next(folder.glob("*.map.yaml"))), "--ert",
                 str(REFCASES / "T04_conv1d_oc_ic_16pe_kp" / "ref" / "timeloop-model.ERT.yaml"),
                 "--out", str(out)]) == 0
    assert main(["run", str(out / "timeloop.arch.yaml"), str(out / "timeloop.workload.yaml"),
                 "--mapping", str(out / "timeloop.map.yaml"), "--json", str(tmp_path / "r.json")]) == 0
    import json
    totals = json.loads((tmp_path / "r.json").read_text())["totals"]
    assert totals["cycles"] == ref.cycles
    assert totals["energy_pj"] == pytest.approx(ref.fj_per_compute["Total"] * ref.computes / 1000, rel=1e-4)



# ----------------------------------------------------------------------------- T06, TA, E, I24

# Where accelsim's own counting (counting: accelsim) differs from Timeloop's. Each entry turns
# accelsim's counts into Timeloop's by Timeloop's rule, independently of counting: timeloop.
#
# multicast(parent, child, tensor): Timeloop multicasts a parent read only to children whose
#   deltas are *identical* (src/loop-analysis/nest-analysis.cpp, ComputeAccurateMulticastedAccesses,
#   ~lines 1606-1700: `delta.CheckEquality`), so partially overlapping sibling tiles (Eyeriss's
#   diagonal input reuse, h = q + s across the PE columns) are each read in full: its parent reads
#   = the child's fills over all instances ÷ the fan-out over dims the tensor ignores. accelsim
#   reads the union of the sibling tiles once.
# operand_reuse(level, tensor): when the nest's innermost loop is spatial, Timeloop's per-loop
#   delta analysis gives an empty delta across the innermost temporal loops at `level` that the
#   tensor ignores (nest-analysis.cpp ~lines 883-905 count every iteration only when loop 0 is
#   temporal), i.e. the MAC keeps its operand; accelsim has no storage there and reads every step.
# leakage: Timeloop leaks only the utilized instances of a buffer (src/model/buffer.cpp,
#   ComputeLeaksPerCycle ~2093-2129 and FinalizeBufferEnergy ~2376); accelsim leaks every instance.
# cluster(level): Timeloop charges a clustered buffer's access energy to min(utilized, instances /
#   N) clusters, as if the utilized instances were spread out (buffer.cpp, ComputeScalarAccesses
#   ~2066-2081); accelsim to the clusters the mapping's fan-out positions touch.
EYERISS_GLB = ("multicast", "shared_glb", "ifmap_spad", "inputs")
FLAT_CASES = [  # (case, arch source, conventions)
    ("T06_eyeriss_vgg02_l5", "nodes", [EYERISS_GLB]),
    ("T06_eyeriss_vgg02_l5", "parsed", [EYERISS_GLB]),
    ("TA_eyeriss_intmac", "parsed", [EYERISS_GLB]),
    ("TA_eyeriss_fpmac", "parsed", [EYERISS_GLB]),
    ("E_eyeriss_like", "parsed", [EYERISS_GLB, ("leakage",)]),
    ("E_simple_weight_stationary", "parsed", [("leakage",)]),
    ("E_simple_weight_stationary", "nodes", [("leakage",)]),
    ("E_simple_output_stationary", "parsed", [("leakage",)]),
    ("I24_dse_8pe", "parsed", [("operand_reuse", "buffer", "inputs")]),
    # GEMM data spaces A, B, Z (→ weights, inputs, outputs); a dense run: `densities` without
    # sparse_optimizations change nothing in Timeloop. LRF: 64 of 1024 instances utilized.
    ("E_sparse_tensor_core_like", "parsed", [("leakage",)]),
    ("E_sparse_tensor_core_like", "nodes", [("leakage",)]),
    # PEWeightRegs: 64 instances share a 512-bit array; 48 of 256 utilized.
    ("E_simba_like", "parsed", [("leakage",), ("cluster", "PEWeightRegs")]),
]


def import_flat_case(case_id, form, tmp_path):
    refcase_stats(case_id, "timeloop-mapper")  # skips when the reference cases are absent
    folder = REFCASES / case_id
    if form == "parsed":
        arch, problem = folder / "ref" / "parsed-processed-input.yaml", None
    elif case_id.startswith("T06"):
        arch, problem = folder / "inputs" / "eyeriss_like.yaml", folder / "inputs" / "VGG02_layer5.yaml"
    else:  # top.yaml.jinja2: the design's own problem.yaml if it has one, else the default problem
        arch, problem = folder / "inputs" / "arch.yaml", folder / "inputs" / "problem.yaml"
        problem = problem if problem.is_file() else folder / "inputs" / "_include" / "default_problem.yaml"
    return import_timeloop(arch, problem, tmp_path, folder / "ref" / "timeloop-mapper.map.yaml",
                           folder / "ref" / "timeloop-mapper.ERT.yaml")


def in_roles(ref, imp):
    """Timeloop's stats with data spaces named by the roles the import gave them (A → Weights, …),
    as test_timeloop.parity_problems compares them."""
    name = {"weights": "Weights", "inputs": "Inputs", "outputs": "Outputs"}
    return replace(ref, components=[replace(c, dataspaces={name[imp.data_spaces[d]]: v for d, v in c.dataspaces.items()})
                                    for c in ref.components])


def _tensor_dims(workload: dict, tensor: str) -> set[str]:
    letter = {"outputs": "O", "inputs": "I", "weights": "W"}[tensor]
    index = re.search(rf"{letter}\[([^\]]*)\]", workload["layers"][0]["einsum"]["expression"]).group(1)
    return set(re.findall(r"[a-z]+", index))


def with_timeloop_conventions(L, imp, conventions):
    """accelsim's layer result with the given Timeloop conventions applied to its own counts."""
    arch = yaml.safe_load(imp.arch_path.read_text())
    workload = yaml.safe_load(imp.workload_path.read_text())
    mapping = next(iter(yaml.safe_load(imp.mapping_path.read_text())["layers"].values()))
    names = [next(iter(l.values()))["name"] for l in arch["levels"]]
    memory = {l["memory"]["name"]: l["memory"] for l in arch["levels"] if "memory" in l}
    levels = {lvl.name: lvl for lvl in L.counts.levels}
    reads = {}
    for kind, *args in conventions:
        if kind == "multicast":
            parent, child, tensor = args
            between = names[names.index(parent) + 1:names.index(child)]
            ignored = math.prod(f for s in between for axis in (mapping.get(s, {}).get("spatial") or {}).values()
                                for d, f in axis.items() if d not in _tensor_dims(workload, tensor))
            total = levels[child].tensors[tensor].fills * levels[child].instances
            assert total % ignored == 0
            reads[parent, tensor] = total // ignored
        elif kind == "operand_reuse":
            level, tensor = args
            below = names[names.index(level) + 1:-1]
            assert below and all(n not in memory or not mapping.get(n, {}).get("temporal") for n in below), \
                "the rule needs the nest's innermost loop to be spatial"
            reuse = 1
            for d, f in reversed(list(mapping[level]["temporal"].items())):
                if d in _tensor_dims(workload, tensor):
                    break
                reuse *= f
            assert levels[level].tensors[tensor].reads % reuse == 0
            reads[level, tensor] = levels[level].tensors[tensor].reads // reuse
    dynamic, leakage = dict(L.energy.dynamic_pj), dict(L.energy.leakage_pj)
    new_levels = []
    for lvl in L.counts.levels:
        tensors = dict(lvl.tensors)
        for (name, tensor), n in reads.items():
            if name == lvl.name:
                read_pj = float(memory[name]["energy"]["read"].removesuffix("pJ"))
                blocks = math.ceil(n / lvl.block_words) - math.ceil(tensors[tensor].reads / lvl.block_words)
                dynamic[name] += lvl.instances * blocks * read_pj
                tensors[tensor] = replace(tensors[tensor], reads=n)
        new_levels.append(replace(lvl, tensors=tensors))
        if ("leakage",) in [tuple(c) for c in conventions] and lvl.name in leakage:
            leakage[lvl.name] *= lvl.instances / lvl.hardware_instances
        if ("cluster", lvl.name) in [tuple(c) for c in conventions]:
            n = memory[lvl.name]["cluster"]  # accelsim charges the clusters the mapping's fan-out touches
            dynamic[lvl.name] *= min(lvl.instances, lvl.hardware_instances // n) / lvl.charged_instances
    return replace(L, counts=replace(L.counts, levels=tuple(new_levels)),
                   energy=replace(L.energy, dynamic_pj=dynamic, leakage_pj=leakage))


def _affected(L, conventions) -> set[str]:
    """Problem-line prefixes the conventions explain."""
    out = {"total energy"}
    for kind, *args in conventions:
        if kind == "multicast":
            out |= {f"{args[0]}.{args[2]} reads", f"energy of {args[0]}"}
        elif kind == "operand_reuse":
            out |= {f"{args[0]}.{args[1]} reads", f"energy of {args[0]}"}
        elif kind == "cluster":
            out |= {f"energy of {args[0]}"}
        else:
            out |= {f"energy of {l.name}" for l in L.counts.levels if l.instances < l.hardware_instances}
    return out


def run_flat_case(imp, counting):
    a = accelsim.load_arch(imp.arch_path, [f"counting={counting}"])
    w = accelsim.load_workload(imp.workload_path)
    return accelsim.simulate(a, w, mappings=accelsim.load_mapping_file(imp.mapping_path, a, w)).layers[0]


@pytest.mark.parametrize("case_id, form", [c[:2] for c in FLAT_CASES], ids=[f"{c}-{f}" for c, f, _ in FLAT_CASES])
def test_flattened_and_parallel_cases_reproduce_timeloop(case_id, form, tmp_path):
    imp = import_flat_case(case_id, form, tmp_path)
    ref = in_roles(refcase_stats(case_id, "timeloop-mapper"), imp)
    assert "counting: timeloop" in imp.arch_path.read_text()
    problems = parity_problems(ref, run_flat_case(imp, "timeloop"))
    assert not problems, f"{case_id} ({form}) disagrees with Timeloop:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("case_id, form, conventions", FLAT_CASES,
                         ids=[f"{c}-{f}" for c, f, _ in FLAT_CASES])
def test_accelsim_counting_differs_only_by_the_conventions(case_id, form, conventions, tmp_path):
    imp = import_flat_case(case_id, form, tmp_path)
    ref = in_roles(refcase_stats(case_id, "timeloop-mapper"), imp)
    L = run_flat_case(imp, "accelsim")
    raw = parity_problems(ref, L)
    affected = _affected(L, conventions)
    unexplained = [p for p in raw if not any(p.startswith(a) for a in affected)]
    assert raw and not unexplained, f"{case_id}: differences beyond the documented ones:\n  " + "\n  ".join(unexplained)
    problems = parity_problems(ref, with_timeloop_conventions(L, imp, conventions))
    assert not problems, f"{case_id} ({form}) disagrees with Timeloop:\n  " + "\n  ".join(problems)


def test_eyeriss_glb_input_reads_differ_by_the_diagonal_overlap(tmp_path):
    """T06 in numbers: 42 PE (q, s) pairs need 16 distinct input rows h = q + s; accelsim reads those
    16 once, Timeloop the 42 separately (the M4 copies are identical, so both multicast them)."""
    ref = refcase_stats("T06_eyeriss_vgg02_l5", "timeloop-mapper")
    imp = import_flat_case("T06_eyeriss_vgg02_l5", "parsed", tmp_path)
    L = run_flat_case(imp, "accelsim")
    got = next(l for l in L.counts.levels if l.name == "shared_glb").tensors["inputs"].reads
    want = int(ref.component("shared_glb").dataspaces["Inputs"]["Scalar reads (per-instance)"].split()[0])
    assert got * (14 * 3) == want * (14 + 3 - 1)


def test_simba_register_cluster(tmp_path):
    """E_simba_like's 512-bit weight register, cluster_size 64: each of the 256 instances holds one
    8-bit word (block 512 / (64 × 8) = 1, buffer.cpp ParseSpecs) and the array's access energy is
    charged per utilized cluster. Timeloop v3 spells it `cluster-size` (buffer.cpp @ v3.0.3,
    line 268): the same import."""
    refcase_stats("E_simba_like", "timeloop-mapper")
    folder = REFCASES / "E_simba_like" / "ref"
    regs = lambda imp: next(l["memory"] for l in yaml.safe_load(imp.arch_path.read_text())["levels"]  # noqa: E731
                            if l.get("memory", {}).get("name") == "PEWeightRegs")
    imp = import_timeloop(folder / "parsed-processed-input.yaml", None, tmp_path / "a")
    assert {k: regs(imp)[k] for k in ("cluster", "width_bits", "word_bits", "size")} == \
        {"cluster": 64, "width_bits": 512, "word_bits": 8, "size": "8b"}
    path = tmp_path / "hyphen.yaml"
    path.write_text((folder / "parsed-processed-input.yaml").read_text().replace("cluster_size: 64", "cluster-size: 64"))
    assert regs(import_timeloop(path, None, tmp_path / "b")) == regs(imp)
    bad = tmp_path / "bad.yaml"  # a width that leaves each instance part of a word: a SpecError at the source
    bad.write_text((folder / "parsed-processed-input.yaml").read_text().replace("cluster_size: 64", "cluster_size: 128"))
    with pytest.raises(accelsim.SpecError, match=r"PEWeightRegs: cluster_size 128 needs a width .* 512") as info:
        import_timeloop(bad, None, tmp_path / "d")
    assert info.value.problems[0].key_path.endswith("attributes.width")
    # Simba's PE constraint has no split, but meshY is 1: everything goes to X.
    imp = import_flat_case("E_simba_like", "parsed", tmp_path / "c")
    assert yaml.safe_load(imp.constraints_path.read_text())["constraints"]["PE"] == {"x": {"dims": ["m", "c"]},
                                                                                     "y": {"dims": []}}


def test_parallel_group_becomes_consecutive_levels_in_timeloop_order(tmp_path):
    """Eyeriss's !Parallel spads: consecutive levels, each keeping its own tensor, ordered as in
    Timeloop's flattened architecture (ifmap, weights, psum outer → inner)."""
    ref = refcase_stats("T06_eyeriss_vgg02_l5", "timeloop-mapper")
    imp = import_flat_case("T06_eyeriss_vgg02_l5", "nodes", tmp_path)
    levels = yaml.safe_load(imp.arch_path.read_text())["levels"]
    names = [next(iter(l.values()))["name"] for l in levels]
    assert names == ["DRAM", "shared_glb", "PE_column", "PE", "ifmap_spad", "weights_spad", "psum_spad", "mac"]
    flat = (REFCASES / "T06_eyeriss_vgg02_l5" / "ref" / "timeloop-mapper.flattened_architecture.yaml").read_text()
    flat_order = [n for n in re.findall(r"\.(\w+)\[", flat) if not n.startswith("inter_")]
    assert flat_order == [n for n in names if n not in ("PE_column", "PE")]
    assert [c.name for c in ref.components if c.dataspaces][:3] == ["psum_spad", "weights_spad", "ifmap_spad"]
    keeps = {l["memory"]["name"]: l["memory"]["keeps"] for l in levels if "memory" in l}
    assert (keeps["ifmap_spad"], keeps["weights_spad"], keeps["psum_spad"]) == (["inputs"], ["weights"], ["outputs"])
    psum = next(l["memory"] for l in levels if "memory" in l and l["memory"]["name"] == "psum_spad")
    assert (psum["word_bits"], psum["size"], psum["read_bandwidth"]) == (16, "256b", "2 words/cycle")


# ----------------------------------------------------------------------------- constraints

def _constraints(tmp_path, arch, problem=None, constraints=None, mapper=None):
    imp = import_timeloop(arch, problem, tmp_path, constraints_path=constraints, mapper_path=mapper)
    return yaml.safe_load(imp.constraints_path.read_text()) if imp.constraints_path else None


def test_t05_constraints_convert(tmp_path):
    refcase_stats("T05_mapper_baked", "timeloop-mapper")
    arch, problem, folder = inputs("T05_mapper_baked")
    got = _constraints(tmp_path / "baked", arch, problem, folder / "conv1d+oc-3level-1mapping.constraints.yaml",
                       folder / "exhaustive.mapper.yaml")
    c = got["constraints"]
    # GlobalBuffer `factors: R=1 P=16 K=16`, `permutation: PRK` (inner → outer: P innermost, then R, K).
    assert c["GlobalBuffer"]["factors"] == {"r": 1, "p": 16, "k": 16}
    assert c["GlobalBuffer"]["order"] == ["k", "p"]           # R (factor 1) has no loop
    assert c["RegisterFile"] == {"factors": {"r": 3, "p": 1, "k": 2}, "order": ["k", "r"],
                                 "keep": ["weights", "inputs", "outputs"]}
    assert c["MainMemory"] == {"factors": {"r": 1, "p": 1, "k": 1}}
    # `optimization_metric: [delay, energy]` is a list, which Timeloop skips for its default edp.
    assert got["mapper"] == {"objective": "edp", "search": "exhaustive", "seed": 0}

    arch, problem, folder = inputs("T05_mapper_freebypass")
    free = _constraints(tmp_path / "free", arch, problem, folder / "conv1d+oc-3level-freebypass.constraints.yaml")
    assert "keep" not in free["constraints"]["GlobalBuffer"] and "mapper" not in free
    arch, problem, folder = inputs("T05_mapper_null")
    assert _constraints(tmp_path / "null", arch, problem, folder / "null.constraints.yaml") is None


def test_t06_embedded_constraints_convert(tmp_path):
    refcase_stats("T06_eyeriss_vgg02_l5", "timeloop-mapper")
    folder = REFCASES / "T06_eyeriss_vgg02_l5"
    got = _constraints(tmp_path / "n", folder / "inputs" / "eyeriss_like.yaml", folder / "inputs" / "VGG02_layer5.yaml",
                       mapper=folder / "inputs" / "mapper.yaml")
    c = got["constraints"]
    assert c["shared_glb"] == {"keep": ["inputs", "outputs"], "bypass": ["weights"]}
    # PE_column: permutation [N, C, P, R, S, Q, M], split 7 (= all on X), N C P R S fixed to 1.
    assert set(c["PE_column"]["x"]["dims"]) == {"q", "m"} and c["PE_column"]["y"]["dims"] == []
    # PE: [N, P, Q, R, S, C, M], split 4: N P Q R (all 1) on X, S C M on Y.
    assert c["PE"]["x"]["dims"] == [] and set(c["PE"]["y"]["dims"]) == {"s", "c", "m"}
    # weights_spad: [N, M, P, Q, S, C, R] with N M P Q S = 1: C innermost, R above it.
    assert c["weights_spad"]["order"] == ["r", "c"]
    assert c["weights_spad"]["factors"] == {"n": 1, "m": 1, "p": 1, "q": 1, "s": 1}
    assert c["psum_spad"]["order"] == ["m"] and c["ifmap_spad"]["keep"] == ["inputs"]
    assert got["mapper"] == {"objective": ["cycles", "energy"], "search": "random", "seed": 0}
    # The flattened spec Timeloop read says the same (its spads also list the bypasses, which the
    # !Parallel import already makes structural).
    flat = _constraints(tmp_path / "p", folder / "ref" / "parsed-processed-input.yaml")["constraints"]
    for name, entry in flat.items():
        assert {k: v for k, v in entry.items() if not (k == "bypass" and name.endswith("_spad"))} == c[name]


def test_split_counts_the_front_ends_unit_dims(tmp_path):
    """simple_ws's PE constraint `[C, M]`, split 1: Timeloop's front end prepends the unit dims
    (NQPSR), so X gets only N and C, M both land on Y (the mapper's choice was split 0)."""
    refcase_stats("E_simple_weight_stationary", "timeloop-mapper")
    folder = REFCASES / "E_simple_weight_stationary"
    nodes = _constraints(tmp_path / "n", folder / "inputs" / "arch.yaml", folder / "inputs" / "_include" / "default_problem.yaml")
    assert nodes["constraints"]["PE"] == {"x": {"dims": []}, "y": {"dims": ["c", "m"]}}
    assert nodes["constraints"]["pe_spad"]["order"] == ["s", "r", "q", "p"]  # [P, Q, R, S]: P innermost
    flat = _constraints(tmp_path / "p", folder / "ref" / "parsed-processed-input.yaml")
    assert flat["constraints"]["PE"] == nodes["constraints"]["PE"]


@pytest.mark.parametrize("target, message", [
    ({"target": "GlobalBuffer", "type": "temporal", "permutation": "P_K"}, "pins outermost loops"),
    ({"target": "GlobalBuffer", "type": "temporal", "factors": "K<=4"}, "factor bound K<=4 at GlobalBuffer: mappings "
                                                                        "with K factors up to 32"),
    ({"target": "GlobalBuffer", "type": "temporal", "factors": "K>=4"}, "cannot read factor 'K>=4'"),
    ({"target": "GlobalBuffer", "type": "temporal", "maximize_dims": [["K"]]}, r"\['maximize_dims'\] are not supported"),
    ({"target": "GlobalBuffer", "type": "utilization", "min": 0.5}, "constraint type 'utilization'"),
    ({"target": "Nowhere", "type": "temporal", "factors": "K=2"}, "'Nowhere' is not a storage level"),
    ({"target": "GlobalBuffer", "type": "temporal", "factors": "K=64"}, "exceeds the problem's K=32"),
])
def test_unsupported_constraints_are_spec_errors(target, message, tmp_path):
    refcase_stats("T05_mapper_baked", "timeloop-mapper")
    arch, problem, _ = inputs("T05_mapper_baked")
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"mapspace_constraints": {"targets": [target]}}))
    with pytest.raises(accelsim.SpecError, match=message):
        import_timeloop(arch, problem, tmp_path / "out", constraints_path=path)


def test_unsupported_metric_is_a_spec_error(tmp_path):
    refcase_stats("T05_mapper_baked", "timeloop-mapper")
    arch, problem, _ = inputs("T05_mapper_baked")
    path = tmp_path / "m.yaml"
    path.write_text("mapper: {optimization_metrics: [last_level_accesses], algorithm: random}\n")
    with pytest.raises(accelsim.SpecError, match=r"\['last_level_accesses'\] are not supported"):
        import_timeloop(arch, problem, tmp_path / "out", mapper_path=path)


def test_import_command_with_constraints(tmp_path, capsys):
    from accelsim.cli import main
    refcase_stats("T05_mapper_baked", "timeloop-mapper")
    arch, problem, folder = inputs("T05_mapper_baked")
    assert main(["import", "timeloop", "--arch", str(arch), "--problem", str(problem), "--constraints",
                 str(folder / "conv1d+oc-3level-1mapping.constraints.yaml"), "--mapper",
                 str(folder / "exhaustive.mapper.yaml"), "--out", str(tmp_path)]) == 0
    assert "timeloop.constraints.yaml" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("mapspace_constraints: {targets: [{target: GlobalBuffer, type: temporal, permutation: P_K}]}\n")
    assert main(["import", "timeloop", "--arch", str(arch), "--problem", str(problem), "--constraints", str(bad),
                 "--out", str(tmp_path / "b")]) != 0
    assert "pins outermost loops" in capsys.readouterr().err


# ----------------------------------------------------------------------------- data-space names

GEMM_ARCH = """\
architecture:
  version: 0.4
  nodes:
  - !Container {name: system, attributes: {technology: 45nm}}
  - !Component {name: DRAM, class: DRAM, attributes: {width: 64, datawidth: 8}}
  - !Component {name: Buffer, class: SRAM, attributes: {depth: 1024, width: 64, datawidth: 8}}
  - !Container {name: PE, spatial: {meshX: 4}}
  - !Parallel
    nodes:
    - !Component {name: a_reg, class: regfile, attributes: {depth: 4, width: 8, datawidth: 8},
                  constraints: {dataspace: {keep: [A]}}}
    - !Component {name: z_reg, class: regfile, attributes: {depth: 4, width: 8, datawidth: 8},
                  constraints: {dataspace: {keep: [Z]}}}
  - !Component {name: mac, class: intmac, attributes: {multiplier_width: 8}}
"""
GEMM_SPACES = [{"name": "A", "projection": [[["M"]], [["K"]]]},
               {"name": "B", "projection": [[["N"]], [["K"]]]},
               {"name": "Z", "projection": [[["M"]], [["N"]]], "read-write": True}]  # Timeloop's other spelling
GEMM_MAPPING = {"mapping": [
    {"target": "DRAM", "type": "temporal", "factors": "M=2 N=4 K=1", "permutation": "KNM"},
    {"target": "Buffer", "type": "temporal", "factors": "M=1 N=1 K=2", "permutation": "KMN"},
    {"target": "Buffer", "type": "datatype", "keep": ["A", "Z"], "bypass": ["B"]},
    {"target": "PE", "type": "spatial", "factors": "M=4 N=1 K=1", "permutation": "MNK"}]}


def _gemm(tmp_path, spaces=GEMM_SPACES, mapping=GEMM_MAPPING, constraints=None, arch=GEMM_ARCH):
    files = {"arch.yaml": arch, "prob.yaml": yaml.safe_dump({"problem": {
        "version": 0.4, "shape": {"name": "gemm", "dimensions": ["M", "N", "K"], "data_spaces": spaces},
        "instance": {"M": 8, "N": 4, "K": 2}}}), "map.yaml": yaml.safe_dump(mapping)}
    if constraints is not None:
        files["c.yaml"] = yaml.safe_dump({"mapspace_constraints": {"targets": constraints}})
    tmp_path.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return import_timeloop(tmp_path / "arch.yaml", tmp_path / "prob.yaml", tmp_path / "out", tmp_path / "map.yaml",
                           constraints_path=tmp_path / "c.yaml" if constraints is not None else None)


@pytest.mark.parametrize("only", [{"bypass_only": ["B"]}, {"keep_only": ["Z", "A"]}])
def test_gemm_data_space_names_become_roles_everywhere(only, tmp_path):
    """A, B, Z: the read-write Z is the output, the read-only A then B are weights then inputs, in
    the problem, the !Parallel keeps, the mapping's bypass and the constraints' keep/bypass."""
    imp = _gemm(tmp_path, constraints=[{"target": "Buffer", "type": "bypass", **only}])
    assert imp.data_spaces == {"A": "weights", "B": "inputs", "Z": "outputs"}
    translation = "# Timeloop data spaces → accelsim tensors: A → weights, B → inputs, Z → outputs\n"
    for path in (imp.arch_path, imp.workload_path, imp.mapping_path, imp.constraints_path):
        assert translation in path.read_text()
    workload = yaml.safe_load(imp.workload_path.read_text())
    assert workload["layers"][0]["einsum"]["expression"] == "O[m,n] += I[n,k] * W[m,k]"
    keeps = {l["memory"]["name"]: l["memory"]["keeps"] for l in yaml.safe_load(imp.arch_path.read_text())["levels"]
             if "memory" in l}
    assert (keeps["a_reg"], keeps["z_reg"]) == (["weights"], ["outputs"])
    assert next(iter(yaml.safe_load(imp.mapping_path.read_text())["layers"].values()))["Buffer"]["bypass"] == ["inputs"]
    c = yaml.safe_load(imp.constraints_path.read_text())["constraints"]
    assert (c["Buffer"]["keep"], c["Buffer"]["bypass"]) == (["weights", "outputs"], ["inputs"])
    assert c["a_reg"] == {"keep": ["weights"]} and c["z_reg"] == {"keep": ["outputs"]}
    L = run_flat_case(imp, "timeloop")  # the files load and run: B (inputs) goes DRAM → MAC
    assert L.counts.macs == 8 * 4 * 2
    assert {lvl.name: sorted(lvl.tensors) for lvl in L.counts.levels} == {
        "DRAM": ["inputs", "outputs", "weights"], "Buffer": ["outputs", "weights"], "a_reg": ["weights"],
        "z_reg": ["outputs"]}


def test_factor_bound_is_dropped_only_when_it_cannot_bind(tmp_path):
    pe = {"target": "PE", "type": "spatial", "factors": "M=4 N=1 K=1", "permutation": "MNK", "split": 3}
    imp = _gemm(tmp_path / "a", constraints=[pe, {"target": "Buffer", "type": "temporal", "factors": "M<=2 N<=4"}])
    assert "Buffer: M<=2 cannot bind (at most M=2 there), not written" in imp.notes
    assert "# note: Buffer: N<=4 cannot bind (at most N=4 there), not written" in imp.constraints_path.read_text()
    with pytest.raises(accelsim.SpecError, match=r"factor bound M<=1 at Buffer: mappings with M factors up to 2"):
        _gemm(tmp_path / "b", constraints=[pe, {"target": "Buffer", "type": "temporal", "factors": "M<=1"}])


def _spaces(rw=(), names=("A", "B", "Z")):
    return [{"name": n, "projection": [[["M"]], [["K"]]], **({"read_write": True} if n in rw else {})}
            for n in names]


@pytest.mark.parametrize("spaces, message, allowed", [
    (_spaces(["Z"], ("A", "B", "C", "Z")), r"the problem has 4 data spaces \(A, B, C, Z\); accelsim layers are "
                                           r"`outputs \+= inputs \* weights`", True),
    (_spaces(), r"none of the data spaces A, B, Z is marked `read_write: true`", True),
    (_spaces(["B", "Z"]), r"more than one data space \(B, Z\) is marked `read_write: true`", True),
    (_spaces(["Inputs"], ("Weights", "Inputs", "Outputs")), r"\['Inputs'\] marked `read_write: true`, but data "
                                                            "spaces named Weights, Inputs, Outputs keep", True),
    (_spaces(["Z"], ("A", "Outputs", "Z")), r"data space 'Outputs' is read-only, which contradicts its name", False),
])
def test_unusable_data_spaces_are_spec_errors(spaces, message, allowed, tmp_path):
    with pytest.raises(accelsim.SpecError, match=message) as info:
        _gemm(tmp_path, spaces)
    problem = info.value.problems[0]
    assert problem.file.endswith("prob.yaml") and problem.key_path == "problem.shape.data_spaces"
    assert bool(problem.allowed) == allowed and (problem.suggestion or not allowed)


def test_unknown_data_space_and_sparse_optimizations_are_spec_errors(tmp_path):
    bad = {"mapping": GEMM_MAPPING["mapping"][:2] + [{"target": "Buffer", "type": "datatype", "bypass": ["Inputs"]}]}
    with pytest.raises(accelsim.SpecError, match="data space 'Inputs' is not one of the problem's data spaces "
                                                 "A, B, Z") as info:
        _gemm(tmp_path / "a", mapping=bad)
    assert info.value.problems[0].key_path == "mapping.2.bypass"
    assert info.value.problems[0].allowed == ("A", "B", "Z")
    sparse = GEMM_ARCH.replace("attributes: {depth: 1024, width: 64, datawidth: 8}",
                               "attributes: {depth: 1024, width: 64, datawidth: 8},\n"
                               "                sparse_optimizations: {action_optimization: [{type: gating}]}")
    # Sparseloop's optimizations are imported (tests/sparse/); a gating without options is an error
    with pytest.raises(accelsim.SpecError, match="an action optimization with 0 options") as info:
        _gemm(tmp_path / "b", arch=sparse)
    assert info.value.problems[0].key_path == "architecture.nodes.2.sparse_optimizations.action_optimization.0.options"


def test_sparse_tensor_core_imports_dense(tmp_path):
    """E_sparse_tensor_core_like: A's `density: 0.5` is noted, not modelled (the reference run has
    no sparse_optimizations and its counts are dense: 64 MACs, all 64 A words read from SMEM); the
    arch's `K=16` on the PE fan-out exceeds K=1 and its factor bounds cannot bind, as Timeloop's
    mapping shows (M is 4 × 16 on the two fan-outs)."""
    ref = refcase_stats("E_sparse_tensor_core_like", "timeloop-mapper")
    assert ref.computes == 64 and ref.component("SMEM").dataspaces["A"]["Scalar reads (per-instance)"] == "64"
    imp = import_flat_case("E_sparse_tensor_core_like", "parsed", tmp_path)
    assert imp.data_spaces == {"A": "weights", "B": "inputs", "Z": "outputs"}
    assert imp.notes == (
        "problem.instance.densities (A: 0.5) not modelled: without sparse_optimizations Timeloop's counts are "
        "dense too (densities only size compressed tiles)",
        "inter_PE_spatial: K=16 exceeds the problem's K=1, ignored as Timeloop does",
        "SMEM: M<=8 cannot bind (at most M=1 there), not written",
        "SMEM: N<=8 cannot bind (at most N=1 there), not written",
        "LRF: N<=128 cannot bind (at most N=1 there), not written")
