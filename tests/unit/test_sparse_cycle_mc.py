"""Load imbalance against Monte Carlo (docs/sparsity.md, "The cycle model under sparsity").

Each trial draws a real tensor with exactly round(d·T) non-zeros at uniformly random positions
(the hypergeometric model), maps it onto the PEs with the layer's own mapping (every MAC point's
step, PE and leader element from the lowered nest), counts each PE's effectual MACs in each step,
takes the real busiest PE per step and sums over the steps. The arch has no bandwidth limit, so the
model's cycles are steps × E[busiest PE] exactly; the model must match the trials' mean within
4 standard errors plus the stated bias of its independence assumption (PEs' tiles are drawn
without replacement from one tensor, or overlap; the closed form treats them as independent).
"""
from __future__ import annotations

from math import ceil

import numpy as np
import pytest
from test_sparse_cycle import setup

import accelsim
from accelsim.ir.arch import Memory
from accelsim.mapping.lower import lower

UNLIMITED = [f"levels.{m}.{p}_bandwidth=" for m in ("DRAM", "GLB") for p in ("read", "write")]
CONV_MAPPING = """
layers:
  g:
    DRAM: {temporal: {p: 4}}
    GLB: {temporal: {c: 4, k: 2}}
    PE: {spatial: {x: {p: 8}, y: {k: 4}}}
    RF: {temporal: {r: 3, c: 4}}
"""
CONV = "{expression: 'O[k,p] += I[c,p+r] * W[k,c,r]', dims: {k: 8, c: 16, p: 32, r: 3}}"


def monte_carlo(arch, layer, mapping, leader_shape, leader_index, density, trials, seed=1):
    """(mean, standard error) over the trials of Σ_steps max_PE (effectual MACs)."""
    nest = lower(arch, layer.run_einsum, mapping)
    bounds = [int(b) for b in nest.loop_bound]
    grid = np.indices(bounds).reshape(len(bounds), -1)          # each loop's index, per MAC point
    at = {}
    for j in range(nest.n_loops):
        d = nest.dims[nest.loop_dim[j]]
        at[d] = at.get(d, 0) + grid[j] * int(nest.loop_stride[j])
    first = int(nest.level_start[[i for i, lvl in enumerate(arch.levels) if isinstance(lvl, Memory)][-1]])
    steps = [j for j in range(first) if not nest.loop_spatial[j]]
    pes = [j for j in range(nest.n_loops) if nest.loop_spatial[j]]
    step = np.ravel_multi_index([grid[j] for j in steps], [bounds[j] for j in steps])
    pe = np.ravel_multi_index([grid[j] for j in pes], [bounds[j] for j in pes])
    n_pes = int(pe.max()) + 1
    key, size = step * n_pes + pe, (int(step.max()) + 1) * n_pes
    index = leader_index(at)
    total = int(np.prod(leader_shape))
    nnz = round(density * total)
    rng = np.random.default_rng(seed)
    sums = np.empty(trials)
    for t in range(trials):
        nonzero = (rng.permutation(total) < nnz).reshape(leader_shape)
        per = np.bincount(key, weights=nonzero[index], minlength=size).reshape(-1, n_pes)
        sums[t] = per.max(axis=1).sum()
    return sums.mean(), sums.std(ddof=1) / np.sqrt(trials)


def modelled(arch, wl, maps):
    lr = accelsim.simulate(arch, wl, accelsim.SimOptions(model="cycle"), mappings=maps).layers[0]
    cm = lr.extra["cycle_model"]
    assert lr.cycles == ceil(cm["steps"] * cm["compute_cycles_per_step"] - 1e-9)  # no bandwidth limit: compute only
    return lr, cm["steps"] * cm["compute_cycles_per_step"]


def check(model, mean, se, bias):
    assert abs(model - mean) <= 4 * se + bias * mean, (model, mean, se)


def test_weight_skipping_matmul_matches_monte_carlo(tmp_path):
    """32 PEs hold disjoint 4-weight tiles (k × n); measured: model within 0.3 % of 200 trials at
    densities 0.1–0.9 (tests below, slow), bias allowed 1 %."""
    arch, wl, maps = setup(tmp_path, extra_arch=UNLIMITED)
    lr, model = modelled(arch, wl, maps)
    mean, se = monte_carlo(arch, wl.layers[0], lr.mapping, (64, 32), lambda at: (at["k"], at["n"]), 0.3, 60)
    check(model, mean, se, 0.01)
    assert lr.extra["load_imbalance"] > 2  # the effect is large here: not a test that cannot fail


@pytest.mark.slow
@pytest.mark.parametrize("density", [0.1, 0.2, 0.3, 0.5, 0.7, 0.9])
def test_weight_skipping_matmul_over_densities(tmp_path, density):
    arch, wl, maps = setup(tmp_path, weights=f"{{distribution: hypergeometric, density: {density}}}",
                           extra_arch=UNLIMITED)
    lr, model = modelled(arch, wl, maps)
    mean, se = monte_carlo(arch, wl.layers[0], lr.mapping, (64, 32), lambda at: (at["k"], at["n"]), density, 400)
    check(model, mean, se, 0.01)


@pytest.mark.slow
@pytest.mark.parametrize("density, bias", [(0.1, 0.17), (0.2, 0.11), (0.5, 0.055), (0.8, 0.025)])
def test_input_skipping_conv_with_overlapping_windows(tmp_path, density, bias):
    """Weights skipped on the inputs of a conv: the 8 PEs along p hold overlapping input windows (3
    taps, stride 1: neighbours share 2 of 3 positions), so their counts are positively correlated and
    the independent-PE closed form overestimates E[max]. Measured (1000 trials): +16 % at density
    0.1, +10.5 % at 0.2, +5.1 % at 0.5, +2.3 % at 0.8 (docs/sparsity.md); the model must stay above
    the trials and within those bounds."""
    arch, wl, maps = setup(tmp_path, weights=None, skipping="{target: weights, condition_on: [inputs]}",
                           mapping=CONV_MAPPING, extra_arch=UNLIMITED)
    (tmp_path / "w.yaml").write_text(f"name: g\nlayers:\n- name: g\n  einsum: {CONV}\n  sparsity: "
                                     f"{{inputs: {{distribution: hypergeometric, density: {density}}}}}\n")
    wl = accelsim.load_workload(tmp_path / "w.yaml")
    maps = accelsim.load_mapping_file(tmp_path / "m.yaml", arch, wl)
    lr, model = modelled(arch, wl, maps)
    assert lr.extra["cycle_model"]["imbalance"]["leader"] == "inputs"
    mean, se = monte_carlo(arch, wl.layers[0], lr.mapping, (16, 34), lambda at: (at["c"], at["p"] + at["r"]),
                           density, 400)
    assert model >= mean - 4 * se
    check(model, mean, se, bias)

