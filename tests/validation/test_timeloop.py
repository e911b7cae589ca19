"""Parity with Timeloop + Accelergy on the tutorial reference cases.

Each case is described in accelsim's own YAML under tests/validation/timeloop/ (arch with the
reference ERT energies, workload, mapping). The reference numbers are parsed at test time from
`timeloop-model.stats.txt` in the shared reference-case folder (../shared/timeloop_refcases
relative to the repository root); nothing from that folder is copied into the repository.

Compared per case:
  * per memory level and per tensor: scalar reads, fills and updates (per instance), utilized
    capacity and utilized instances -- exactly;
  * MACs, utilized MAC instances, cycles and utilization -- exactly;
  * total energy and energy per component (dynamic + leakage) -- to a relative 1e-4 (see
    ENERGY_REL below).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import accelsim
from conftest import require_shared

HERE = Path(__file__).parent / "timeloop"
REFCASES = Path(__file__).resolve().parents[3] / "shared" / "timeloop_refcases"

# Timeloop dataspace names → accelsim tensor roles.
ROLE = {"Weights": "weights", "Inputs": "inputs", "Outputs": "outputs"}

# Timeloop prints energy per component as fJ per compute rounded to 0.01 fJ. The reference
# energy is rebuilt as fJ/Compute × computes / 1000, so it carries a rounding error of up to
# 0.005 fJ × computes; relative to the smallest component here (~700 fJ/compute) that is
# < 1e-5. We compare with a relative tolerance of 1e-4 (0.01 %, well inside 0.1 %), plus an
# absolute allowance of exactly that half-unit rounding error for tiny components.
ENERGY_REL = 1e-4


@dataclass(frozen=True)
class Case:
    arch: str
    workload: str
    mapping: str
    overrides: tuple[str, ...] = ()


CASES = {
    "T00_conv1d_1level": Case("tl_1level.arch.yaml", "conv1d.workload.yaml", "t00.map.yaml"),
    "T01_conv1d_2level_ws": Case("tl_2level.arch.yaml", "conv1d.workload.yaml", "t01_ws.map.yaml"),
    "T01_conv1d_2level_os": Case("tl_2level.arch.yaml", "conv1d.workload.yaml", "t01_os.map.yaml"),
    "T02_conv1d_oc_2level_os": Case("tl_2level.arch.yaml", "conv1d_oc.workload.yaml",
                                    "t02_os.map.yaml"),
    "T02_conv1d_oc_2level_os_tiled": Case("tl_2level.arch.yaml", "conv1d_oc.workload.yaml",
                                          "t02_os_tiled.map.yaml"),
    "T03_conv1d_oc_3level": Case("tl_3level.arch.yaml", "conv1d_oc.workload.yaml", "t03.map.yaml"),
    "T03_conv1d_oc_3level_bypass": Case("tl_3level.arch.yaml", "conv1d_oc.workload.yaml",
                                        "t03_bypass.map.yaml"),
    "T04_conv1d_oc_ic_16pe_cp": Case("tl_3level.arch.yaml", "conv1d_oc_ic.workload.yaml",
                                     "t04_cp.map.yaml", ("levels.PE.x=16",)),
    "T04_conv1d_oc_ic_16pe_kp": Case("tl_3level.arch.yaml", "conv1d_oc_ic.workload.yaml",
                                     "t04_kp.map.yaml", ("levels.PE.x=16",)),
}


# ----------------------------------------------------------------------------- stats.txt parser

@dataclass
class Component:
    name: str
    stats: dict = field(default_factory=dict)       # level-wide "key : value" lines
    dataspaces: dict = field(default_factory=dict)  # dataspace name -> {key: value}


@dataclass
class TimeloopStats:
    components: list            # Component, in file order (Level 0 = arithmetic first)
    cycles: int
    utilization_pct: float
    computes: int
    fj_per_compute: dict        # component name (and "Total") -> fJ per compute

    def component(self, name: str) -> Component:
        return next(c for c in self.components if c.name == name)


_HEADING = re.compile(r"^=== (.+?) ===\s*$")
_DATASPACE = re.compile(r"^\s+([A-Za-z_]\w*):\s*$")
_KEY_VALUE = re.compile(r"^\s+([^:]+?)\s*:\s*(.*?)\s*$")


def parse_stats(path: Path) -> TimeloopStats:
    """Read what we compare from a timeloop-model.stats.txt; fail loudly on anything missing."""
    lines = path.read_text().splitlines()
    try:
        end = next(i for i, line in enumerate(lines) if line.strip() == "Networks")
    except StopIteration:
        raise AssertionError(f"{path}: no 'Networks' section after the levels") from None

    components: list[Component] = []
    current: Component | None = None
    dataspace: dict | None = None
    for line in lines[:end]:
        if m := _HEADING.match(line):
            current, dataspace = Component(m.group(1)), None
            components.append(current)
        elif current is None:
            continue
        elif m := _DATASPACE.match(line):
            dataspace = current.dataspaces.setdefault(m.group(1), {})
        elif m := _KEY_VALUE.match(line):
            (dataspace if dataspace is not None else current.stats)[m.group(1)] = m.group(2)

    summary = lines[end:]
    text = "\n".join(summary)

    def one(pattern: str) -> str:
        m = re.search(pattern, text, re.M)
        assert m, f"{path}: summary has no line matching {pattern!r}"
        return m.group(1)

    fj: dict[str, float] = {}
    start = next(i for i, line in enumerate(summary) if line.strip() == "fJ/Compute")
    for line in summary[start + 1:]:
        m = re.match(r"^\s+(\S+)\s*=\s*([-+0-9.eE]+)\s*$", line)
        if not m:
            break
        fj[m.group(1)] = float(m.group(2))
    assert "Total" in fj, f"{path}: no 'Total' line under fJ/Compute"
    return TimeloopStats(components, int(one(r"^Cycles:\s*(\d+)")),
                         float(one(r"^Utilization:\s*([0-9.]+)\s*%")),
                         int(one(r"^Computes\s*=\s*(\d+)")), fj)


def _int(value: str) -> int:
    """'16 (16*1)' → 16; '1536' → 1536."""
    return int(value.split()[0])


# ----------------------------------------------------------------------------- the test

def _simulate(case: Case):
    arch = accelsim.load_arch(HERE / case.arch, overrides=list(case.overrides))
    wl = accelsim.load_workload(HERE / case.workload)
    maps = accelsim.load_mapping_file(HERE / case.mapping, arch, wl)
    res = accelsim.simulate(arch, wl, mappings=maps)
    assert len(res.layers) == 1
    return res.layers[0]


def refcase_stats(case_id: str, tool: str = "timeloop-model") -> TimeloopStats:
    """The reference stats of a case, or a skip saying why they are absent."""
    return parse_stats(require_shared(REFCASES / case_id / "ref" / f"{tool}.stats.txt",
                                      f"Timeloop's reference stats for {case_id}"))


def parity_problems(ref: TimeloopStats, L) -> list[str]:
    """Every way one accelsim layer result `L` differs from Timeloop's stats."""
    problems: list[str] = []

    def check(what: str, got, want):
        if got != want:
            problems.append(f"{what}: accelsim {got} != Timeloop {want}")

    # Compute level (Timeloop's Level 0, the arithmetic unit).
    macc = ref.components[0]
    check("computes", L.counts.macs, ref.computes)
    check("computes (MACC stats)", L.counts.macs, _int(macc.stats["Computes (total)"]))
    check("utilized MAC instances", L.counts.compute_instances, _int(macc.stats["Utilized instances"]))

    # Storage levels: Timeloop lists them bottom-up, accelsim top-down.
    tl_levels = [c for c in ref.components[1:]]
    got_names = [lvl.name for lvl in L.counts.levels]
    want_names = [c.name for c in reversed(tl_levels)]
    check("memory levels (top-down)", got_names, want_names)
    for lvl in L.counts.levels:
        try:
            comp = ref.component(lvl.name)
        except StopIteration:
            continue  # already reported by the level-name check
        want_roles = {ROLE[d] for d in comp.dataspaces}
        check(f"{lvl.name}: tensors kept", sorted(lvl.tensors), sorted(want_roles))
        for ds, vals in comp.dataspaces.items():
            role = ROLE[ds]
            c = lvl.tensors.get(role)
            if c is None:
                continue
            where = f"{lvl.name}.{role}"
            check(f"{where} reads", c.reads, _int(vals["Scalar reads (per-instance)"]))
            check(f"{where} fills", c.fills, _int(vals["Scalar fills (per-instance)"]))
            check(f"{where} updates", c.updates, _int(vals["Scalar updates (per-instance)"]))
            check(f"{where} utilized capacity", c.tile_elements, _int(vals["Utilized capacity"]))
            check(f"{where} utilized instances", lvl.instances,
                  _int(vals["Utilized instances (max)"]))

    # Cycles and utilization (Timeloop prints utilization as a percentage with 2 decimals).
    check("cycles", L.cycles, ref.cycles)
    check("utilization %", round(L.utilization * 100, 2), ref.utilization_pct)

    # Energy: Timeloop's per-component energy includes that component's leakage.
    half_unit_pj = 0.005 * ref.computes / 1000  # rounding of the 0.01 fJ/compute print

    def close(got: float, want: float) -> bool:
        return got == pytest.approx(want, rel=ENERGY_REL, abs=half_unit_pj)

    want_total = ref.fj_per_compute["Total"] * ref.computes / 1000
    if not close(L.energy_pj, want_total):
        problems.append(f"total energy: accelsim {L.energy_pj:.4f} pJ != Timeloop {want_total:.4f} pJ "
                        f"({(L.energy_pj / want_total - 1) * 100:+.4f} %)")
    components = set(L.energy.dynamic_pj) | set(L.energy.leakage_pj)
    got_by_comp = {c: L.energy.dynamic_pj.get(c, 0.0) + L.energy.leakage_pj.get(c, 0.0)
                   for c in components}
    for name, fj in ref.fj_per_compute.items():
        if name == "Total":
            continue
        want = fj * ref.computes / 1000
        if name not in got_by_comp:
            problems.append(f"energy of {name}: accelsim has no such component (Timeloop {want:.4f} pJ)")
        elif not close(got_by_comp[name], want):
            got = got_by_comp[name]
            problems.append(f"energy of {name}: accelsim {got:.4f} pJ != Timeloop {want:.4f} pJ "
                            f"({(got / want - 1) * 100:+.4f} %)")
    for name, got in got_by_comp.items():
        if name not in ref.fj_per_compute and got != 0:
            problems.append(f"energy of {name}: accelsim {got:.4f} pJ, Timeloop reports none")

    return problems


@pytest.mark.parametrize("case_id", list(CASES))
def test_timeloop_parity(case_id):
    problems = parity_problems(refcase_stats(case_id), _simulate(CASES[case_id]))
    assert not problems, f"{case_id} disagrees with Timeloop:\n  " + "\n  ".join(problems)


def test_parser_reads_worked_example():
    """The parser itself, on the README's worked example (T03): guards against silent misparses."""
    ref = refcase_stats("T03_conv1d_oc_3level")
    assert [c.name for c in ref.components] == ["MACC", "RegisterFile", "GlobalBuffer", "MainMemory"]
    glb = ref.component("GlobalBuffer").dataspaces
    assert _int(glb["Inputs"]["Scalar fills (per-instance)"]) == 18
    assert _int(glb["Inputs"]["Scalar reads (per-instance)"]) == 288
    assert _int(glb["Outputs"]["Scalar updates (per-instance)"]) == 512
    assert (ref.cycles, ref.utilization_pct, ref.computes) == (1536, 100.0, 1536)
    assert ref.fj_per_compute["Total"] * ref.computes / 1000 == pytest.approx(49352.46, abs=0.01)
