"""TPU v1 (arch/tpu_v1.yaml) against Jouppi et al., "In-Datacenter Performance Analysis of a
Tensor Processing Unit", ISCA 2017 (arXiv 1704.04760). docs/validation.md#tpu-v1 has the tables.

Inputs to the model (never compared with it): Sec. 2 and Table 2 (array, buffers, 700 MHz, 34
GB/s) for the arch; Table 1 (layer counts, weights, ops/weight byte, batch) for the workloads,
whose shapes are assumed (one rule, stated in each workload file). What is compared: the derived
peak and ridge point (Table 2, Fig. 5), which bound each app is under (Sec. 4, Fig. 5), and the
measured TOPS per app (Table 3, row 9).
"""
from __future__ import annotations

from functools import cache

import pytest
from conftest import ARCH_DIR, WORKLOAD_DIR

from accelsim import load_arch, load_workload, simulate
from accelsim.claims import evaluate_claims

ARCH = ARCH_DIR / "tpu_v1.yaml"
APPS = ("mlp0", "mlp1", "lstm0", "lstm1", "cnn0", "cnn1")

# Table 1: FC and Conv layers, weights (as printed, in millions), TPU ops/weight byte, batch.
TABLE1 = {"mlp0": (5, 0, 20, 200, 200), "mlp1": (4, 0, 5, 168, 168), "lstm0": (24, 0, 52, 64, 64),
          "lstm1": (37, 0, 34, 96, 96), "cnn0": (0, 16, 8, 2888, 8), "cnn1": (4, 72, 100, 1750, 32)}
# Table 3: row 6 (non-matrix cycles, share of all cycles) and row 9 (TeraOps/s, measured).
NON_MATRIX = {"mlp0": 0.175, "mlp1": 0.319, "lstm0": 0.179, "lstm1": 0.103, "cnn0": 0.218, "cnn1": 0.187}
TOPS = {"mlp0": 12.3, "mlp1": 9.7, "lstm0": 3.7, "lstm1": 2.8, "cnn0": 86.0, "cnn1": 14.1}
# Table 7: the paper's own performance model differs from the counters by up to 11.2 % (cycles).
PAPER_MODEL_ERROR = 0.112
# The band each app's modelled TOPS should fall in, set before any run: the model has no
# non-matrix time, so at most it is measured / (1 - row 6), and it may be off by the paper's own
# model error either way. Outcomes outside the band are documented (docs/validation.md#tpu-v1),
# each with its reason; the test holds each app to its documented outcome.
EXPECTED = {"mlp0": "within", "mlp1": "below", "lstm0": "within", "lstm1": "above", "cnn0": "within",
            "cnn1": "above"}


@cache
def run(app: str, residency: bool = True):
    arch = load_arch(ARCH, [] if residency else ["residency="])
    return simulate(arch, load_workload(WORKLOAD_DIR / f"tpu_v1_{app}.yaml"))


def band(app: str) -> tuple[float, float]:
    return TOPS[app] * (1 - PAPER_MODEL_ERROR), TOPS[app] / (1 - NON_MATRIX[app]) * (1 + PAPER_MODEL_ERROR)


@pytest.mark.parametrize("app", APPS)
def test_workloads_match_table_1(app):
    """The assumed shapes keep what Table 1 publishes: layer counts, weights to the printed
    digits (half a unit of the last digit), and MACs per weight byte (0.5 %)."""
    fc, conv, weights_m, ops_per_byte, batch = TABLE1[app]
    workload = load_workload(WORKLOAD_DIR / f"tpu_v1_{app}.yaml")
    kinds = [len(l.einsum.dims) for l in workload.layers]  # matmul: 3 dims, conv: 7
    assert (kinds.count(3), kinds.count(7)) == (fc, conv)
    weights = sum(l.einsum.tensor_size("weights") * l.count for l in workload.layers)
    assert abs(weights / 1e6 - weights_m) <= 0.5
    assert workload.macs / weights == pytest.approx(ops_per_byte, rel=0.005)  # int8: one byte per weight
    assert workload.parameters["batch"] == batch


def test_peak_and_ridge_point_claims():
    """Table 2's 92 TOPS and Fig. 5's ridge at 1350 ops per weight byte, both derived (1 %: the
    paper's rounding)."""
    results = {r.metric: r for r in evaluate_claims(ARCH)}
    assert results["peak_tops"].modelled == pytest.approx(2 * 65536 * 700e6 / 1e12, rel=1e-12)
    assert results["ridge_macs_per_dram_byte"].modelled == pytest.approx(65536 * 700e6 / 34e9, rel=1e-12)
    assert all(r.within for r in results.values())


# Sec. 4 / Fig. 5: "the MLPs and LSTMs are memory bound, and CNNs are computation bound". CNN1's
# assumed 382-channel layers run as 512-channel tiles, so the model fetches 1.77x its weights and
# places it left of the ridge: a documented divergence (docs/validation.md#tpu-v1).
PLACEMENT = {"mlp0": "memory", "mlp1": "memory", "lstm0": "memory", "lstm1": "memory", "cnn0": "compute",
             "cnn1": "memory"}


@pytest.mark.parametrize("batch, cycles", [(64, 4 * 256), (255, 4 * 256), (256, 4 * 256), (512, 4 * 512)])
def test_weight_shift_hides_behind_a_tile_of_256_cycles_or_more(write, batch, cycles):
    """Sec. 2: a 64 KiB tile takes 256 cycles to shift in, hidden by the array's double buffer; a
    tile used for B < 256 cycles (batch B) waits for the shift. Weight memory unlimited here, so
    only the array and the shift count: 4 tiles of 256 x 256 take 4 x max(B, 256) cycles."""
    path = write("gemm.yaml", f"name: g\nlayers:\n  - {{name: fc, fully_connected: {{n: {batch}, c_in: 512, "
                              f"c_out: 512}}}}\n")
    arch = load_arch(ARCH, ["levels.DRAM.shared_bandwidth="])
    result = simulate(arch, load_workload(path))
    assert result.layers[0].counts.compute_cycles == 4 * batch
    assert result.cycles == cycles


@pytest.mark.slow
@pytest.mark.parametrize("app", APPS)
def test_roofline_placement(app):
    """Each app's MACs per DRAM byte against the ridge point places it; no app exceeds its roofline
    (peak, or 34 GB/s x its MACs per DRAM byte), and the memory-bound ones sit on it."""
    result = run(app)
    dram_bytes = sum(c.reads + c.fills + c.updates for l in result.layers for lc in l.counts.levels
                     if lc.name == "DRAM" for c in lc.tensors.values())
    intensity = result.macs / dram_bytes
    assert ("memory" if intensity < 65536 * 700e6 / 34e9 else "compute") == PLACEMENT[app]
    roof = min(2 * 65536 * 700e6, 2 * 34e9 * intensity) / 1e12
    assert result.tops <= roof * (1 + 1e-9)
    if app.startswith(("mlp", "lstm")):  # on the slanted roof: the weight memory is busy all the time
        assert result.tops == pytest.approx(roof, rel=1e-3)


@pytest.mark.slow
def test_residency_leaves_only_weights_and_the_ends_in_dram():
    """MLP0: with activations in the Unified Buffer, DRAM moves the (tile-padded) weights, the
    first layer's inputs and the last layer's outputs; without, every layer's activations too."""
    on, off = run("mlp0"), run("mlp0", residency=False)

    def dram(result):
        return sum(c.reads + c.fills + c.updates for l in result.layers for lc in l.counts.levels
                   if lc.name == "DRAM" for c in lc.tensors.values())
    padded = 5 * 2048 * 2048
    assert dram(on) == padded + 2 * 200 * 2048
    assert dram(off) == padded + 2 * 5 * 200 * 2048
    assert on.tops > off.tops


@pytest.mark.slow
@pytest.mark.parametrize("app", APPS)
def test_tops_against_table_3(app):
    low, high = band(app)
    tops = run(app).tops
    outcome = "below" if tops < low else "above" if tops > high else "within"
    assert outcome == EXPECTED[app], f"{app}: {tops:.2f} TOPS, band [{low:.2f}, {high:.2f}] (Table 3: {TOPS[app]})"
