"""Evaluate an arch file's `claims:` block: each published figure against the model.

A claim names a metric, the workload it was measured on (relative to the arch file), the
conditions (voltage, frequency, precision, density) and the energy boundary. Calibration claims
are figures the arch's constants were fitted to; prediction claims were not, so their errors are
the model's test.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import SpecError
from .ir.arch import Arch
from .load import load_arch, load_workload
from .options import SimOptions
from .results import WorkloadResult
from .simulate import simulate

METRICS = {
    "tops_per_watt": lambda r, b: r.tops_per_watt()[b],
    "tops": lambda r, b: r.tops,
    "utilization": lambda r, b: r.utilization,
    "inferences_per_second": lambda r, b: r.inferences_per_second,
    "inferences_per_second_per_watt": lambda r, b: r.inferences_per_second_per_watt(b),
    "energy_per_mac_pj": lambda r, b: r.boundary_energy_pj()[b] / r.macs,
}


@dataclass(frozen=True)
class ClaimResult:
    name: str
    metric: str
    role: str
    claimed: float
    modelled: float
    tolerance: float
    conditions: str
    source: str

    @property
    def error(self) -> float:
        return self.modelled / self.claimed - 1.0

    @property
    def within(self) -> bool:
        return abs(self.error) <= self.tolerance


def _conditions_text(c) -> str:
    parts = []
    if c.voltage is not None:
        parts.append(f"{c.voltage:g} V")
    if c.frequency is not None:
        parts.append(f"{c.frequency / 1e6:g} MHz")
    if c.precision:
        parts.append(c.precision)
    if c.density is not None:
        parts.append(f"density {c.density:g}")
    return ", ".join(parts)


def evaluate_claim(arch_path, claim, model: str = "analytical") -> tuple[ClaimResult, WorkloadResult]:
    c = claim.conditions
    overrides = []
    if c.voltage is not None:
        overrides.append(f"operating_point.voltage={c.voltage}V")
    if c.frequency is not None:
        overrides.append(f"operating_point.frequency={c.frequency}Hz")
    arch = load_arch(arch_path, overrides)
    workload_path = Path(arch_path).parent / claim.workload
    if not workload_path.exists():
        raise SpecError(f"{arch_path}: claim '{claim.name}': workload file {workload_path} does not exist")
    result = simulate(arch, load_workload(workload_path),
                      SimOptions(model=model, precision=c.precision, density=c.density))
    modelled = METRICS[claim.metric](result, claim.boundary)
    return ClaimResult(claim.name, claim.metric, claim.role, claim.value, modelled, claim.tolerance,
                       _conditions_text(c), claim.source), result


def evaluate_claims(arch_path, model: str = "analytical") -> list[ClaimResult]:
    arch: Arch = load_arch(arch_path)
    if not arch.claims:
        raise SpecError(f"{arch_path}: the arch has no `claims:` block to evaluate")
    return [evaluate_claim(arch_path, claim, model)[0] for claim in arch.claims]


def render_claims(results: list[ClaimResult]) -> str:
    rows = [("claim", "role", "metric", "conditions", "claimed", "modelled", "error", "tol", "ok")]
    for r in results:
        rows.append((r.name, r.role, r.metric, r.conditions, f"{r.claimed:.4g}", f"{r.modelled:.4g}",
                     f"{100 * r.error:+.1f}%", f"{100 * r.tolerance:.0f}%", "yes" if r.within else "NO"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for role in ("calibration", "prediction"):
        subset = [r for r in results if r.role == role]
        if subset:
            worst = max(abs(r.error) for r in subset)
            lines.append(f"{role}: {sum(r.within for r in subset)}/{len(subset)} within tolerance, "
                         f"largest |error| {100 * worst:.1f}%")
    return "\n".join(lines)
