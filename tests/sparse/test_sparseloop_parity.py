"""Parity with Sparseloop (Timeloop v3) on the exercises' sparse reference cases.

Each case's own Timeloop inputs (arch with sparse_optimizations, problem with densities, the
mapper's chosen mapping and its ERT) go through `accelsim import timeloop` and run; the reference
stats (ref/timeloop-mapper.stats.txt, parsed at test time from the shared folder, nothing copied)
must match:
  * computes: algorithmic, actual, gated, skipped -- exactly;
  * per level and data space: algorithmic / actual / gated / skipped scalar reads, fills and
    updates, the per-rank (metadata, payload) format reads, fills and updates in each class, the
    utilized data capacity and the per-rank format capacity -- exactly;
  * cycles -- exactly;
  * energy per component and in total, given the ERT: Timeloop prints fJ per actual compute to
    0.01 fJ, so we allow a relative 1e-4 plus that half-unit rounding (as tests/validation/test_timeloop.py).
"""
from __future__ import annotations

from pathlib import Path

import pytest
from conftest import require_shared
from sparseloop_stats import number, parse

import accelsim
from accelsim.importers.timeloop import import_timeloop

REFCASES = Path(__file__).resolve().parents[3] / "shared" / "timeloop_refcases"
ENERGY_REL = 1e-4
OPS = {"read": "reads", "fill": "fills", "update": "updates"}
CLASSES = {"actual": "Actual", "gated": "Gated", "skipped": "Skipped"}

# The cases that reproduce Sparseloop exactly (docs/sparsity.md lists the rest and why not).
CASES = ["S_01.2.1-DUDU-dot-product", "S_01.2.2-SUDU-dot-product", "S_01.2.3-SCDU-dot-product",
         "S_02.2.1-spMspM", "S_02.2.2-spMspM-tiled", "S_03.2.1-conv1d", "S_03.2.2-conv1d+oc",
         "S_03.2.3-conv1d+oc-spatial", "S_04.2.1-eyeriss-like-gating", "S_04.2.2-eyeriss-like-gating-mapspace-search",
         "S_04.2.3-eyeriss-like-onchip-compression",
         "E_sparse_tensor_core_like"]


def run_case(case_id: str, tmp_path, form: str = "nodes"):
    """`form`: the case's own `nodes:` arch with its problem file, or the flattened spec Timeloop's
    front end wrote (ref/parsed-processed-input.yaml, with top-level sparse_optimizations)."""
    folder = REFCASES / case_id
    stats = parse(require_shared(folder / "ref" / "timeloop-mapper.stats.txt",
                                 f"Sparseloop's reference stats for {case_id}"))
    if form == "parsed":
        arch, problem = folder / "ref" / "parsed-processed-input.yaml", None
    else:
        arch, problem = folder / "inputs" / "arch.yaml", folder / "inputs" / "problem.yaml"
        problem = problem if problem.is_file() else folder / "inputs" / "_include" / "default_problem.yaml"
    imp = import_timeloop(arch, problem, tmp_path,
                          folder / "ref" / "timeloop-mapper.map.yaml", folder / "ref" / "timeloop-mapper.ERT.yaml")
    arch, wl = accelsim.load_arch(imp.arch_path), accelsim.load_workload(imp.workload_path)
    result = accelsim.simulate(arch, wl, mappings=accelsim.load_mapping_file(imp.mapping_path, arch, wl))
    names = {"Weights": "weights", "Inputs": "inputs", "Outputs": "outputs", **imp.data_spaces}
    return stats, result.layers[0], names


def _ranks(value, n: int) -> list:
    """A stat that is 0 or {Timeloop rank: (md, pl)} → [[md, pl], ...] outer → inner."""
    if not isinstance(value, dict):
        assert number(value) == 0
        return [[0, 0]] * n
    return [[int(v) for v in value[n - 1 - i]] for i in range(n)]


def problems_of(stats, L, names) -> list[str]:
    out = []

    def check(what, got, want):
        if got != want:
            out.append(f"{what}: accelsim {got} != Sparseloop {want}")

    sparse = L.extra.get("sparse")
    mac = stats.components[0].stats
    computes = sparse["computes"] if sparse else {"algorithmic": L.macs, "random_compute": L.counts.macs,
                                                  "gated_compute": 0, "skipped_compute": 0}
    check("algorithmic computes", computes["algorithmic"], number(mac["Algorithmic Computes (total)"]))
    check("actual computes", computes["random_compute"], number(mac["Actual Computes (total)"]))
    check("gated computes", computes["gated_compute"], number(mac["Gated Computes (total)"]))
    check("skipped computes", computes["skipped_compute"], number(mac["Skipped Computes (total)"]))
    check("cycles", L.cycles, stats.cycles)
    for comp in stats.components[1:]:
        for ds, vals in comp.dataspaces.items():
            role, where = names[ds], f"{comp.name}.{ds}"
            rec = (sparse or {}).get("levels", {}).get(comp.name, {}).get(role)
            level = next(lvl for lvl in L.counts.levels if lvl.name == comp.name)
            if rec is None:  # a dense run: the counts are the actual ones
                c = level.tensors[role]
                rec = {"algorithmic": {"read": c.reads, "fill": c.fills, "update": c.updates},
                       "actual": {"read": c.reads, "fill": c.fills, "update": c.updates},
                       "gated": dict.fromkeys(OPS, 0), "skipped": dict.fromkeys(OPS, 0), "capacity": c.tile_elements}
            for op, plural in OPS.items():
                check(f"{where} algorithmic {plural}", rec["algorithmic"][op],
                      number(vals[f"Algorithmic scalar {plural} (per-instance)"]))
                for cls, label in CLASSES.items():
                    check(f"{where} {cls} {plural}", rec[cls][op], number(vals[f"{label} scalar {plural} (per-instance)"]))
            check(f"{where} capacity", rec["capacity"], number(vals["Max utilized data storage capacity"]))
            n = len(rec.get("format", []))
            cap = vals["Max utilized Repr format storage capacity"]
            check(f"{where} format capacity", rec.get("metadata_capacity", []),
                  _ranks(cap, n) if n else [])
            for op, plural in OPS.items():
                for cls, label in CLASSES.items():
                    want = _ranks(vals[f"{label} scalar format {plural} (per-instance)"], n) if n else []
                    got = rec["metadata"]["random" if cls == "actual" else cls][op] if n else []
                    check(f"{where} {cls} format {plural}", got, want)
    # energy: per component, and in total
    half_unit_pj = 0.005 * stats.actual_computes / 1000
    got = {c: L.energy.dynamic_pj.get(c, 0.0) + L.energy.leakage_pj.get(c, 0.0)
           for c in set(L.energy.dynamic_pj) | set(L.energy.leakage_pj)}
    for name, fj in stats.fj_per_compute.items():
        want = fj * stats.actual_computes / 1000
        have = L.energy_pj if name == "Total" else got.get(name, 0.0)
        if have != pytest.approx(want, rel=ENERGY_REL, abs=half_unit_pj):
            out.append(f"energy of {name}: accelsim {have:.5f} pJ != Sparseloop {want:.5f} pJ")
    return out


# the flattened form of two cases in the default tier (top-level targets over one and over three
# levels), of every case under -m slow: the default tier stays within its time budget
PARSED_FAST = ("S_02.2.1-spMspM", "S_04.2.3-eyeriss-like-onchip-compression")
FORMS = [(c, "nodes") for c in CASES] + [
    pytest.param(c, "parsed", marks=() if c in PARSED_FAST else pytest.mark.slow) for c in CASES]


@pytest.mark.parametrize("case_id, form", FORMS)
def test_sparseloop_case(case_id, form, tmp_path):
    stats, layer, names = run_case(case_id, tmp_path, form)
    problems = problems_of(stats, layer, names)
    assert not problems, f"{case_id} disagrees with Sparseloop:\n  " + "\n  ".join(problems)


def test_import_command_and_json(tmp_path, capsys):
    """`accelsim import timeloop` then `accelsim run --json` on SCDU: the JSON carries the split."""
    import json

    from accelsim.cli import main
    case = REFCASES / "S_01.2.3-SCDU-dot-product"
    stats = parse(require_shared(case / "ref" / "timeloop-mapper.stats.txt", "Sparseloop's SCDU stats"))
    out = tmp_path / "scdu"
    assert main(["import", "timeloop", "--arch", str(case / "inputs" / "arch.yaml"), "--problem",
                 str(case / "inputs" / "problem.yaml"), "--mapping", str(case / "inputs" / "mapping.yaml"),
                 "--ert", str(case / "ref" / "timeloop-mapper.ERT.yaml"), "--out", str(out)]) == 0
    assert main(["run", str(out / "timeloop.arch.yaml"), str(out / "timeloop.workload.yaml"), "--mapping",
                 str(out / "timeloop.map.yaml"), "--json", str(tmp_path / "r.json")]) == 0
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["totals"]["cycles"] == stats.cycles
    b = data["layers"][0]["sparse"]["levels"]["Buffer"]["inputs"]   # Sparseloop's B
    want = stats.component("Buffer").dataspaces["B"]
    assert b["skipped"]["read"] == number(want["Skipped scalar reads (per-instance)"])
    assert b["actual"]["read"] == number(want["Actual scalar reads (per-instance)"])
