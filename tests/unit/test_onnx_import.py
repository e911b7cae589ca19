"""ONNX import (docs/onnx.md): small graphs built with onnx.helper, each layer's MACs against the
closed form of its op (independent of accelsim's builders), vector work counted apart from the
MACs, a BERT encoder built from its config against the closed form, and the errors a user gets.

Needs the optional package onnx (accelsim[onnx]); without it these tests skip, except under CI
(the CI environment variable set), where its absence is a failure."""
from __future__ import annotations

import json
import sys
from math import prod
from pathlib import Path

import pytest

from accelsim.cli import main
from accelsim.errors import SpecError
from accelsim.importers.onnx_import import onnx_workload_data, summarize
from accelsim.ir.layers import conv2d
from accelsim.load import load_workload, workload_from_data

try:
    import onnx
    from onnx import TensorProto, helper
except ImportError:  # skipped below (a failure under CI), without breaking the module's import
    onnx = TensorProto = helper = None

pytestmark = pytest.mark.usefixtures("needs_onnx")  # conftest: skip without onnx, fail under CI


OPSET = 17
REPO = Path(__file__).resolve().parents[2]


def weight(name: str, shape) -> TensorProto:
    """An initializer with a shape and no values (as a model whose weights live elsewhere)."""
    t = helper.make_tensor_value_info(name, TensorProto.FLOAT, shape).type.tensor_type
    tensor = TensorProto(name=name, data_type=t.elem_type, dims=list(shape))
    entry = tensor.external_data.add()
    entry.key, entry.value = "location", "absent.bin"
    tensor.data_location = TensorProto.EXTERNAL
    return tensor


def ints(name: str, values) -> TensorProto:
    return helper.make_tensor(name, TensorProto.INT64, [len(values)], list(values))


def save(tmp_path, nodes, inputs: dict, initializers=(), name="m", dims_out=None) -> str:
    graph = helper.make_graph(
        nodes, name, [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs.items()],
        [helper.make_tensor_value_info(nodes[-1].output[0], TensorProto.FLOAT, dims_out)],
        initializer=list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    path = tmp_path / f"{name}.onnx"
    onnx.save_model(model, str(path))
    return str(path)


def imported(path, dims=None):
    data = onnx_workload_data(path, dims)
    return data, workload_from_data(data, path)


def out_size(size, k, s, d, before, after, ceil_mode=False):
    span = size + before + after - d * (k - 1) - 1
    return -(-span // s) + 1 if ceil_mode else span // s + 1


# ---------------------------------------------------------------------------------------- MAC ops

def test_conv_groups_dilation_asymmetric_pads_and_strides(tmp_path):
    n, c, h, w, k, g, r, s = 2, 8, 15, 17, 12, 2, 3, 5
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="conv", group=g, strides=[2, 1],
                            dilations=[2, 1], pads=[1, 0, 2, 2])
    path = save(tmp_path, [node], {"x": [n, c, h, w]}, [weight("w", [k, c // g, r, s])])
    data, wl = imported(path)
    p, q = out_size(h, r, 2, 2, 1, 2), out_size(w, s, 1, 1, 0, 2)
    assert (p, q) == (7, 15)
    assert "einsum" in data["layers"][0]          # per-axis strides and pads: an explicit einsum
    assert wl.macs == n * k * p * q * (c // g) * r * s
    einsum = wl.layers[0].einsum
    assert einsum.tensor_size("outputs") == n * k * p * q
    assert einsum.tensor_size("weights") == k * (c // g) * r * s
    # the input points the windows read: rows 2p + 2r are the even rows 0..16 of the padded input
    # (stride and dilation are both 2), columns q + s span Q + S − 1
    rows = {2 * pp + 2 * rr for pp in range(p) for rr in range(r)}
    assert einsum.tensor_size("inputs") == n * c * len(rows) * (q + s - 1) and len(rows) == 9


def test_symmetric_conv_uses_the_conv2d_builder(tmp_path):
    node = helper.make_node("Conv", ["x", "w"], ["y"], strides=[2, 2], pads=[3, 3, 3, 3])
    path = save(tmp_path, [node], {"x": [1, 3, 224, 224]}, [weight("w", [64, 3, 7, 7])])
    data, wl = imported(path)
    assert data["layers"][0]["conv2d"] == {"n": 1, "c": 3, "h": 224, "w": 224, "r": 7, "s": 7, "k": 64,
                                           "stride": 2, "padding": 3}
    assert wl.layers[0].einsum == conv2d(c=3, k=64, h=224, w=224, r=7, s=7, stride=2, padding=3)
    assert wl.macs == 64 * 112 * 112 * 3 * 7 * 7          # ResNet's stem: 118,013,952


def test_auto_pad_same_upper(tmp_path):
    node = helper.make_node("Conv", ["x", "w"], ["y"], strides=[2, 2], auto_pad="SAME_UPPER")
    path = save(tmp_path, [node], {"x": [1, 4, 9, 10]}, [weight("w", [6, 4, 3, 3])])
    _, wl = imported(path)
    assert wl.macs == 6 * 5 * 5 * 4 * 3 * 3               # SAME: ⌈9/2⌉ × ⌈10/2⌉ outputs


def test_depthwise_and_channel_multiplier(tmp_path):
    dw = helper.make_node("Conv", ["x", "w1"], ["y"], name="dw", group=32, pads=[1, 1, 1, 1])
    mult = helper.make_node("Conv", ["y", "w2"], ["z"], name="mult", group=32)
    path = save(tmp_path, [dw, mult], {"x": [1, 32, 14, 14]},
                [weight("w1", [32, 1, 3, 3]), weight("w2", [64, 1, 1, 1])])
    data, wl = imported(path)
    assert data["layers"][0]["depthwise_conv2d"] == {"n": 1, "c": 32, "h": 14, "w": 14, "r": 3, "s": 3,
                                                     "padding": 1}
    assert data["layers"][1]["conv2d"]["groups"] == 32
    assert [l.einsum.macs for l in wl.layers] == [32 * 14 * 14 * 9, 64 * 14 * 14 * 1]


def test_conv1d(tmp_path):
    node = helper.make_node("Conv", ["x", "w"], ["y"], strides=[3], pads=[2, 0])
    path = save(tmp_path, [node], {"x": [1, 5, 40]}, [weight("w", [7, 5, 4])])
    _, wl = imported(path)
    assert wl.macs == 7 * out_size(40, 4, 3, 1, 2, 0) * 5 * 4


@pytest.mark.parametrize("trans_a,trans_b", [(0, 0), (0, 1), (1, 0), (1, 1)])
def test_gemm_transposed(tmp_path, trans_a, trans_b):
    m, n, k = 4, 16, 32
    node = helper.make_node("Gemm", ["a", "b", "c"], ["y"], transA=trans_a, transB=trans_b)
    path = save(tmp_path, [node], {"a": [k, m] if trans_a else [m, k]},
                [weight("b", [n, k] if trans_b else [k, n]), weight("c", [n])])
    data, wl = imported(path)
    assert data["layers"][0]["matmul"] == {"m": m, "n": n, "k": k}
    assert wl.macs == m * n * k and not wl.vector            # the bias is part of the Gemm


@pytest.mark.parametrize("a,b,kind,macs", [
    ([2, 3, 5, 7], [2, 3, 7, 4], "batched_matmul", 2 * 3 * 5 * 4 * 7),   # attention: both batched
    ([2, 5, 7], [7, 4], "matmul", 2 * 5 * 4 * 7),                         # a shared weight
    ([2, 1, 5, 7], [1, 3, 7, 4], "einsum", 2 * 3 * 5 * 4 * 7),            # broadcast batch dims
    ([5, 7], [3, 7, 4], "einsum", 3 * 5 * 4 * 7),                         # the first operand shared
    ([7], [7, 4], "matmul", 7 * 4),                                       # a vector on the left
])
def test_batched_matmul(tmp_path, a, b, kind, macs):
    node = helper.make_node("MatMul", ["a", "b"], ["y"])
    path = save(tmp_path, [node], {"a": a, "b": b})
    data, wl = imported(path)
    assert kind in data["layers"][0]
    assert wl.macs == macs


# ------------------------------------------------------------------------------- pooling, vector

def test_pooling_layers_are_not_macs(tmp_path):
    nodes = [helper.make_node("MaxPool", ["x"], ["a"], name="max", kernel_shape=[3, 3], strides=[2, 2],
                              pads=[1, 1, 1, 1]),
             helper.make_node("AveragePool", ["a"], ["b"], name="ceil", kernel_shape=[3, 3], strides=[2, 2],
                              ceil_mode=1),
             helper.make_node("GlobalAveragePool", ["b"], ["c"], name="gap"),
             helper.make_node("Flatten", ["c"], ["d"]),
             helper.make_node("Gemm", ["d", "w"], ["y"], name="fc", transB=1)]
    path = save(tmp_path, nodes, {"x": [1, 16, 32, 32]}, [weight("w", [10, 16])])
    data, wl = imported(path)
    assert [next(k for k in l if k != "name") for l in data["layers"]] == ["pool2d", "einsum", "pool2d", "matmul"]
    p1 = out_size(32, 3, 2, 1, 1, 1)
    p2 = out_size(p1, 3, 2, 1, 0, 0, ceil_mode=True)
    assert (p1, p2) == (16, 8)
    assert [l.einsum.macs for l in wl.layers] == [16 * p1 * p1 * 9, 16 * p2 * p2 * 9, 16 * p2 * p2, 160]
    assert summarize(data)["macs"] == 160                       # only the Gemm multiplies
    assert summarize(data)["pool_window_ops"] == 16 * (p1 * p1 * 9 + p2 * p2 * 9 + p2 * p2)


def test_elementwise_and_normalization_are_vector_work(tmp_path):
    shape = [1, 8, 6, 6]
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("BatchNormalization", ["c", "g", "b", "m", "v"], ["bn"], name="bn"),
             helper.make_node("Relu", ["bn"], ["r"], name="relu"),
             helper.make_node("Add", ["r", "x"], ["s"], name="add"),
             helper.make_node("Mul", ["s", "scale"], ["sc"], name="mul_broadcast"),
             helper.make_node("Reshape", ["sc", "shape"], ["flat"]),
             helper.make_node("Softmax", ["flat"], ["sm"], name="softmax", axis=-1),
             helper.make_node("LayerNormalization", ["sm", "ln_g"], ["y"], name="ln", axis=-1)]
    inits = [weight("w", [8, 8, 3, 3]), *(weight(n, [8]) for n in "gbmv"), weight("scale", [1, 8, 1, 1]),
             ints("shape", [1, 288]), weight("ln_g", [288])]
    path = save(tmp_path, nodes, {"x": shape}, inits)
    _, wl = imported(path)
    assert [l.name for l in wl.layers] == ["conv"]
    assert wl.macs == 8 * 36 * 8 * 9
    assert [(v.name, v.op, v.elements) for v in wl.vector] == [
        ("bn", "BatchNormalization", 288), ("relu", "Relu", 288), ("add", "Add", 288),
        ("mul_broadcast", "Mul", 288), ("softmax", "Softmax", 288), ("ln", "LayerNormalization", 288)]
    assert wl.vector_elements == 6 * 288


def test_shape_arithmetic_is_folded_and_does_no_work(tmp_path):
    """ShuffleNet's `x.view(b, c // 2, ...)`: Shape → Gather → Div → Unsqueeze → Concat → Reshape.
    onnx's own data propagation stops at Div; the importer folds the chain to find the shape, and
    counts no work for it."""
    nodes = [helper.make_node("Shape", ["x"], ["sh"]),
             helper.make_node("Gather", ["sh", "one"], ["c"], axis=0),
             helper.make_node("Div", ["c", "two"], ["half"], name="shape_div"),
             helper.make_node("Unsqueeze", ["half", "axes"], ["half1"]),
             helper.make_node("Concat", ["batch", "half1", "minus1"], ["target"], axis=0),
             helper.make_node("Reshape", ["x", "target"], ["split"]),
             helper.make_node("Flatten", ["split"], ["flat"]),
             helper.make_node("MatMul", ["flat", "w"], ["y"], name="fc")]
    inits = [helper.make_tensor("one", TensorProto.INT64, [], [1]), helper.make_tensor("two", TensorProto.INT64, [], [2]),
             ints("axes", [0]), ints("batch", [2]), ints("minus1", [-1]), weight("w", [3 * 4 * 4 * 2, 5])]
    path = save(tmp_path, nodes, {"x": [2, 6, 4, 4]}, inits)
    data, wl = imported(path)
    assert [l.name for l in wl.layers] == ["fc"] and wl.macs == 2 * 96 * 5 and not wl.vector
    assert data["layers"][0]["matmul"] == {"m": 2, "n": 5, "k": 96}


# ---------------------------------------------------------------------------------------- BERT

def bert_encoder(path, layers, seq, hidden, heads, ffn):
    """A BERT encoder stack as exporters write it: per layer Q, K, V MatMuls, per-head Q·Kᵀ and
    softmax·V MatMuls, the output projection, LayerNorm, the FFN with an Erf GELU, LayerNorm."""
    d = hidden // heads
    nodes, inits = [], [ints("split_heads", [1, seq, heads, d]), ints("merge_heads", [1, seq, hidden]),
                        helper.make_tensor("sqrt_d", TensorProto.FLOAT, [], [d ** 0.5]),
                        helper.make_tensor("half", TensorProto.FLOAT, [], [0.5]),
                        helper.make_tensor("one", TensorProto.FLOAT, [], [1.0]),
                        helper.make_tensor("sqrt2", TensorProto.FLOAT, [], [2 ** 0.5])]
    x = "x"
    for i in range(layers):
        def t(name, i=i):
            return f"l{i}.{name}"

        def linear(src, name, k, n, t=t, nodes=nodes, inits=inits):
            inits.extend([weight(t(name + ".w"), [k, n]), weight(t(name + ".b"), [n])])
            nodes.append(helper.make_node("MatMul", [src, t(name + ".w")], [t(name + ".mm")], name=t(name)))
            nodes.append(helper.make_node("Add", [t(name + ".mm"), t(name + ".b")], [t(name + ".out")],
                                          name=t(name + ".bias")))
            return t(name + ".out")
        heads_of = {}
        for proj, perm in (("q", [0, 2, 1, 3]), ("k", [0, 2, 3, 1]), ("v", [0, 2, 1, 3])):
            out = linear(x, proj, hidden, hidden)
            nodes.append(helper.make_node("Reshape", [out, "split_heads"], [t(proj + ".split")]))
            nodes.append(helper.make_node("Transpose", [t(proj + ".split")], [t(proj + ".heads")], perm=perm))
            heads_of[proj] = t(proj + ".heads")
        nodes += [helper.make_node("MatMul", [heads_of["q"], heads_of["k"]], [t("scores")], name=t("qk")),
                  helper.make_node("Div", [t("scores"), "sqrt_d"], [t("scaled")], name=t("scale")),
                  helper.make_node("Softmax", [t("scaled")], [t("probs")], name=t("softmax"), axis=-1),
                  helper.make_node("MatMul", [t("probs"), heads_of["v"]], [t("ctx")], name=t("av")),
                  helper.make_node("Transpose", [t("ctx")], [t("ctx.t")], perm=[0, 2, 1, 3]),
                  helper.make_node("Reshape", [t("ctx.t"), "merge_heads"], [t("ctx.m")])]
        attn = linear(t("ctx.m"), "o", hidden, hidden)
        inits += [weight(t("ln1.g"), [hidden]), weight(t("ln2.g"), [hidden])]
        nodes += [helper.make_node("Add", [attn, x], [t("res1")], name=t("res1")),
                  helper.make_node("LayerNormalization", [t("res1"), t("ln1.g")], [t("h1")], name=t("ln1"))]
        up = linear(t("h1"), "fc1", hidden, ffn)
        nodes += [helper.make_node("Div", [up, "sqrt2"], [t("g.div")], name=t("gelu.div")),
                  helper.make_node("Erf", [t("g.div")], [t("g.erf")], name=t("gelu.erf")),
                  helper.make_node("Add", [t("g.erf"), "one"], [t("g.add")], name=t("gelu.add")),
                  helper.make_node("Mul", [up, t("g.add")], [t("g.mul")], name=t("gelu.mul")),
                  helper.make_node("Mul", [t("g.mul"), "half"], [t("g.out")], name=t("gelu.half"))]
        down = linear(t("g.out"), "fc2", ffn, hidden)
        nodes += [helper.make_node("Add", [down, t("h1")], [t("res2")], name=t("res2")),
                  helper.make_node("LayerNormalization", [t("res2"), t("ln2.g")], [t("out")], name=t("ln2"))]
        x = t("out")
    graph = helper.make_graph(nodes, "bert", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, seq, hidden])],
                              [helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, seq, hidden])],
                              initializer=inits)
    onnx.save_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)]), str(path))
    return str(path)


def test_bert_base_encoder_matches_the_closed_form(tmp_path):
    """BERT-Base (Devlin et al. 2019: L=12, H=768, A=12, FFN 4H) at 128 tokens: the MACs are
    L·(4·s·h² + 2·s²·h + 2·s·h·f) (the four projections, Q·Kᵀ and softmax·V, the FFN), the same
    total as workloads/bert_base.yaml; softmax streams A·s² elements per layer."""
    L, s, h, a, f = 12, 128, 768, 12, 3072
    data, wl = imported(bert_encoder(tmp_path / "bert.onnx", L, s, h, a, f))
    assert wl.macs == L * (4 * s * h * h + 2 * s * s * h + 2 * s * h * f)
    assert wl.macs == load_workload(REPO / "workloads" / "bert_base.yaml").macs
    kinds = [next(k for k in layer if k != "name") for layer in data["layers"][:6]]
    assert kinds == ["matmul"] * 3 + ["batched_matmul"] * 2 + ["matmul"]
    assert data["layers"][3]["batched_matmul"] == {"b": a, "m": s, "n": s, "k": h // a}
    softmax = [v for v in wl.vector if v.op == "Softmax"]
    assert len(softmax) == L and all(v.elements == a * s * s for v in softmax)
    assert sum(v.elements for v in wl.vector if v.op == "LayerNormalization") == L * 2 * s * h
    assert sum(v.elements for v in wl.vector if v.op == "Erf") == L * s * f


# ------------------------------------------------------------------------------------ errors, CLI

def test_symbolic_batch_needs_a_dim(tmp_path, capsys):
    node = helper.make_node("MatMul", ["a", "w"], ["y"])
    path = save(tmp_path, [node], {"a": ["batch", 8]}, [weight("w", [8, 4])])
    with pytest.raises(SpecError, match="batch") as info:
        onnx_workload_data(path)
    assert "--dim batch=1" in info.value.render()
    _, wl = imported(path, {"batch": 3})
    assert wl.macs == 3 * 8 * 4
    with pytest.raises(SpecError, match="no symbolic input dim"):
        onnx_workload_data(path, {"batch": 1, "seq": 2})


def test_unsupported_op_is_named(tmp_path):
    nodes = [helper.make_node("MatMul", ["a", "w"], ["m"]),
             helper.make_node("Resize", ["m", "", "scales"], ["y"], name="up")]
    path = save(tmp_path, nodes, {"a": [1, 1, 4, 8]},
                [weight("w", [8, 4]), helper.make_tensor("scales", TensorProto.FLOAT, [4], [1, 1, 2, 2])])
    with pytest.raises(SpecError, match="ONNX op Resize is not supported") as info:
        onnx_workload_data(path)
    assert "docs/onnx.md" in info.value.render()


def test_not_an_onnx_file(tmp_path, capsys):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\xff\xff\xff not a protobuf")
    assert main(["import", "onnx", str(bad), "--out", str(tmp_path / "w.yaml")]) == 2
    assert "not an ONNX model" in capsys.readouterr().err
    assert main(["import", "onnx", str(tmp_path / "missing.onnx"), "--out", str(tmp_path / "w.yaml")]) == 2


def test_missing_onnx_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(SpecError, match=r"accelsim\[onnx\]"):
        onnx_workload_data(tmp_path / "any.onnx")


def test_import_command_writes_a_workload_that_loads(tmp_path, capsys):
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["y"], name="relu")]
    path = save(tmp_path, nodes, {"x": [1, 4, 8, 8]}, [weight("w", [8, 4, 3, 3])])
    out = tmp_path / "out" / "tiny.yaml"
    assert main(["import", "onnx", path, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"MACs (Conv, Gemm, MatMul): {8 * 64 * 4 * 9:,}" in printed
    wl = load_workload(out)
    assert wl.macs == 8 * 64 * 4 * 9 and [(v.op, v.elements) for v in wl.vector] == [("Relu", 8 * 64)]
    assert prod(wl.layers[0].einsum.bounds) == wl.macs


@pytest.mark.parametrize("equation,a,b,macs", [
    ("BGHID,BGHJD->BGHIJ", [2, 4, 3, 5, 8], [2, 4, 3, 6, 8], 2 * 4 * 3 * 5 * 6 * 8),   # MaxViT's Q·Kᵀ
    ("bij,bjk->bik", [3, 4, 5], [3, 5, 6], 3 * 4 * 5 * 6),
    ("...ij,jk", [2, 3, 4, 5], [5, 6], 2 * 3 * 4 * 5 * 6),                                # implicit output
    ("i,i->", [7], [7], 7),                                                               # a dot product
])
def test_einsum(tmp_path, equation, a, b, macs):
    node = helper.make_node("Einsum", ["a", "b"], ["y"], equation=equation)
    path = save(tmp_path, [node], {"a": a, "b": b})
    data, wl = imported(path)
    assert "einsum" in data["layers"][0] and wl.macs == macs


def test_run_takes_an_onnx_model(tmp_path, capsys):
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["y"], name="relu")]
    path = save(tmp_path, nodes, {"x": ["batch", 4, 8, 8]}, [weight("w", [8, 4, 3, 3])])
    arch = str(REPO / "arch" / "simple_ws.yaml")
    assert main(["run", arch, path, "--dim", "batch=2", "--json", str(tmp_path / "out.json")]) == 0
    printed = capsys.readouterr().out
    assert f"totals: {2 * 8 * 64 * 4 * 9:,} MACs" in printed
    assert "vector work (counted, not simulated; not in the MAC totals): 1,024 element operations" in printed
    vector = json.loads((tmp_path / "out.json").read_text())["vector_work"]
    assert vector["element_operations"] == 1024 and [v["op"] for v in vector["ops"]] == ["Relu"]
    assert main(["run", arch, path]) == 2                      # the batch is symbolic
    assert "--dim batch=1" in capsys.readouterr().err
    assert main(["run", arch, str(REPO / "workloads" / "gemm_tiny.yaml"), "--dim", "batch=2"]) == 2
