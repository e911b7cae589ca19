"""The rs template's temporal loops (mapping/rs_temporal.py) and the movement cost that chooses them
(mapping/movement_cost.py, ISCA 2016's normalized costs: DRAM 200, buffer 6, network 2, RF 1)."""
import accelsim
from accelsim.counting.reuse import tile_size
from accelsim.ir.einsum import parse_einsum
from accelsim.ir.layers import conv2d
from accelsim.mapping.dataflows import map_layer
from accelsim.mapping.mapping import Loop
from accelsim.mapping.movement_cost import MovementCost
from accelsim.options import SimOptions
from conftest import ARCH_DIR

GEMM = parse_einsum("O[m,n] += A[m,k] * B[k,n]", {"m": 4, "n": 8, "k": 2})  # A: inputs, B: weights


def test_movement_cost_by_hand():
    # simple_ws: DRAM (0) keeps all, GLB (1) keeps all, PE_array (2), pe_spad (3) keeps weights.
    arch = accelsim.load_arch(ARCH_DIR / "simple_ws.yaml")
    cost = MovementCost(arch, GEMM)
    loops = {0: [Loop("m", 4)], 1: [], 2: [Loop("n", 8, "x")], 3: [Loop("k", 2)]}
    # A: DRAM → GLB, a 2-word tile (k) per m: 4 × (2·200 + 2·6). B: DRAM → GLB once, 16 words:
    # 16·200 + 16·6; GLB → 8 spads once: the GLB reads the 16-word union, each spad writes 2 words
    # across the network: 16·6 + 8·2·(1 + 2). O: 8 words per m, written once: 4 × (8·200 + 8·6).
    assert cost(loops) == 4 * 412 + 3296 + 144 + 4 * 1648
    # The reduction k outside m at DRAM: each O tile goes up twice and comes back once (2·8 − 4
    # moves), B is fetched once per k, A once per (k, m).
    loops = {0: [Loop("k", 2), Loop("m", 4)], 1: [], 2: [Loop("n", 8, "x")], 3: []}
    assert cost(loops) == 8 * 206 + 2 * 1648 + 2 * (8 * 6 + 8 * 3) + 12 * 1648


def test_the_pes_filters_stay_in_their_spad():
    """eyeriss_like's ifmap spad sits above its filter spad: no loop there iterates over filters or
    channels (it would stream filters into the PE for every ifmap window)."""
    arch = accelsim.load_arch(ARCH_DIR / "eyeriss_like.yaml")
    for e in (conv2d(c=512, k=512, h=28, w=28, r=3, s=3, padding=1),
              conv2d(c=128, k=256, h=56, w=56, r=3, s=3, padding=1),
              conv2d(c=3, k=64, h=224, w=224, r=3, s=3, padding=1)):
        mapping = map_layer(arch, e, "rs")
        assert not [l for l in mapping.at("ifmap_spad").loops if l.dim in e.tensor("weights").dims]
        assert not [l for l in mapping.at("PE_array").loops if l.dim == "s"]


def test_vgg_conv4_filters_are_not_re_read_per_ofmap_column(tmp_path):
    """VGG-16 conv4_2 on eyeriss_like (the GLB keeps no weights): the filters leave DRAM at most twice
    (the rounds the template had before read them 28 times, once per ofmap column)."""
    arch = accelsim.load_arch(ARCH_DIR / "eyeriss_like.yaml")
    path = tmp_path / "one.yaml"
    path.write_text("name: one\nlayers:\n  - name: conv4_2\n"
                    "    conv2d: {n: 1, c: 512, k: 512, h: 28, w: 28, r: 3, s: 3, padding: 1}\n")
    workload = accelsim.load_workload(path)
    result = accelsim.simulate(arch, workload, SimOptions(dataflow="rs"))
    e = workload.layers[0].einsum
    dram = next(lv for lv in result.layers[0].counts.levels if lv.name == "DRAM")
    weights = tile_size(e.tensor("weights").axes, [(d, b, 1) for d, b in e.bound.items()])
    assert dram.tensors["weights"].reads <= 2 * weights
