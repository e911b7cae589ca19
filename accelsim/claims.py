"""Evaluate an arch file's `claims:` block: each published figure against the model.

A claim names a metric, the workload it was measured on (relative to the arch file), the
conditions (voltage, frequency, precision, density) and the energy boundary. Three roles:

* calibration: figures the arch's constants were fitted to (their errors show the fit);
* prediction: figures nothing was fitted to, so their errors are the model's test; a prediction
  on a workload whose operand densities are assumed (not measured) also shows how it moves when
  those densities move (DENSITY_FACTORS, and dense operands);
* derived: figures that follow from others by a formula (peak TOPS = 2 × MACs/cycle × f from the
  published structure and clock; inferences/s/W = TOPS/W / ops per inference), so agreeing with
  them tests nothing beyond what they are derived from.

New metrics (e.g. area) are one entry in METRICS; new roles one entry in ROLES.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from .energy.formats import density_in_format
from .errors import SpecError
from .ir.arch import Arch
from .ir.workload import Density, Workload
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
    "area_mm2": lambda r, b: r.area.total_mm2,  # the counted on-chip area (energy/area.py)
    # the arch's own figures (the claim's workload is run but does not change them)
    "peak_tops": lambda r, b: r.peak_tops,
    "ridge_macs_per_dram_byte": lambda r, b: ridge_macs_per_byte(r.arch),
}
HARDWARE_METRICS = ("area_mm2", "peak_tops", "ridge_macs_per_dram_byte")  # properties of the arch, not of a run: no density sensitivity
ROLES = ("calibration", "prediction", "derived")  # the order they are reported in
DENSITY_FACTORS = (0.8, 1.2)  # a prediction's assumed operand densities scaled by these (capped at 1)


def ridge_macs_per_byte(arch: Arch) -> float:
    """The roofline's knee: peak MACs per cycle over the bytes per cycle the outermost memory can
    read (its read or shared bandwidth, the lower if both are given)."""
    top = arch.memories[0]
    limits = [bw for bw in (top.read_bw_words, top.shared_bw_words) if bw]
    if not limits:
        raise SpecError(f"arch '{arch.name}': {top.name} has no read bandwidth, so there is no ridge point")
    return arch.peak_macs_per_cycle / (min(limits) * top.word_bits / 8)


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
    derivation: str = ""
    sensitivity: dict = field(default_factory=dict)  # label -> modelled value at other densities

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
    if c.dataflow:
        parts.append(f"dataflow {c.dataflow}")
    return ", ".join(parts)


def _condition_overrides(c) -> list[str]:
    overrides = []
    if c.voltage is not None:
        overrides.append(f"operating_point.voltage={c.voltage}V")
    if c.frequency is not None:
        overrides.append(f"operating_point.frequency={c.frequency}Hz")
    return overrides


def evaluate_claim(arch_path, claim, model: str = "analytical") -> tuple[ClaimResult, WorkloadResult]:
    c = claim.conditions
    arch = load_arch(arch_path, _condition_overrides(c))
    workload_path = Path(arch_path).parent / claim.workload
    if not workload_path.exists():
        raise SpecError(f"{arch_path}: claim '{claim.name}': workload file {workload_path} does not exist")
    workload = load_workload(workload_path)
    options = SimOptions(model=model, precision=c.precision, density=c.density, dataflow=c.dataflow)
    result = simulate(arch, workload, options)
    modelled = METRICS[claim.metric](result, claim.boundary)
    sensitivity = {}
    if (claim.role == "prediction" and c.density is None and claim.metric not in HARDWARE_METRICS
            and _assumes_densities(workload)):
        for label, factor in [*((f"densities x{f:g}", f) for f in DENSITY_FACTORS), ("dense", None)]:
            moved = simulate(arch, scaled_densities(arch, workload, c.precision, factor), options)
            sensitivity[label] = METRICS[claim.metric](moved, claim.boundary)
    return ClaimResult(claim.name, claim.metric, claim.role, claim.value, modelled, claim.tolerance,
                       _conditions_text(c), claim.source, claim.derivation, sensitivity), result


def _assumes_densities(workload: Workload) -> bool:
    return any(l.density.inputs < 1.0 or l.density.weights < 1.0 or l.density.inputs_data or l.density.weights_data
               for l in workload.layers)


def scaled_densities(arch: Arch, workload: Workload, precision: str | None, factor: float | None) -> Workload:
    """`workload` with every layer's operand densities (as measured in its format) times `factor`,
    capped at 1; factor None: dense operands."""
    layers = []
    for layer in workload.layers:
        d = density_in_format(layer.density, precision or layer.precision or arch.compute.format)
        moved = Density() if factor is None else Density(min(1.0, d.inputs * factor), min(1.0, d.weights * factor))
        layers.append(replace(layer, density=moved))
    return replace(workload, layers=tuple(layers))


def evaluate_claims(arch_path, model: str = "analytical") -> list[ClaimResult]:
    arch: Arch = load_arch(arch_path)
    if not arch.claims:
        raise SpecError(f"{arch_path}: the arch has no `claims:` block to evaluate")
    return [evaluate_claim(arch_path, claim, model)[0] for claim in arch.claims]


ROLE_TITLES = {"calibration": "calibration (the arch's constants were fitted to these)",
               "prediction": "predictions (nothing was fitted to these: the errors test the model)",
               "derived": "derived figures (follow from other figures by a formula: no independent test)"}


def render_claims(results: list[ClaimResult]) -> str:
    """One table per role, then the density sensitivity of the predictions and the derivations."""
    header = ("claim", "metric", "conditions", "claimed", "modelled", "error", "tol", "ok")
    lines = []
    for role in ROLES:
        subset = [r for r in results if r.role == role]
        if not subset:
            continue
        rows = [header] + [(r.name, r.metric, r.conditions, f"{r.claimed:.4g}", f"{r.modelled:.4g}",
                            f"{100 * r.error:+.1f}%", f"{100 * r.tolerance:.0f}%", "yes" if r.within else "NO")
                           for r in subset]
        lines += ["", f"{ROLE_TITLES[role]}:", *_table(rows)]
        if role == "derived":
            lines += [f"  {r.name}: {r.derivation}" for r in subset]
        sensitive = [r for r in subset if r.sensitivity]
        if sensitive:
            lines.append("  modelled with the workload's assumed operand densities moved:")
            for r in sensitive:
                moved = ", ".join(f"{label} {v:.4g} ({100 * (v / r.modelled - 1):+.1f}%)" for label, v in r.sensitivity.items())
                lines.append(f"  {r.name}: {moved}")
        worst = max(abs(r.error) for r in subset)
        lines.append(f"{role}: {sum(r.within for r in subset)}/{len(subset)} within tolerance, "
                     f"largest |error| {100 * worst:.1f}%")
    return "\n".join(lines[1:])


def _table(rows) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines
