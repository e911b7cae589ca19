"""The shipped workloads in workloads/: they load, names are unique, and their MAC counts match
published totals (CNNs, with citations and stated tolerances) or closed forms computed here
from the models' hyper-parameters (transformers, toy files), never from the loaded shapes.

Counting convention: one MAC = one multiply-accumulate ("mult-add"). Published totals count
the convolution and fully connected (and attention matmul) layers only, so the sums below
skip layers without a weights operand (pooling): `layer.einsum.tensor("weights") is None`.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `import accelsim` also when pytest is not started from ROOT
    sys.path.insert(0, str(ROOT))

from accelsim.load import load_workload  # noqa: E402

WORKLOADS = ROOT / "workloads"
SHIPPED = ["alexnet", "alexnet_eyeriss_zeros", "gemm_8k_2of4", "vgg16", "resnet50", "mobilenet_v1", "bert_base", "bert_large", "gpt2",
           "gemm_small", "gemm_tiny", "conv_tiny",
           # the 5 nm VS-Quant chip's workloads (Keller et al., JSSC 2023)
           "matmul_benchmark", "bert_base_s128", "bert_base_s384", "bert_large_s128",
           "bert_large_s384", "deit_small", "deit_base", "resnet50_vsquant",
           # LLM inference phases (tests/unit/test_llm.py)
           "gpt2_prefill", "gpt2_decode", "llama2_7b_prefill", "llama2_7b_decode",
           # the DVFS study (docs/dvfs.md)
           "decoder_layer", "decoder_mixed",
           # TPU v1's six apps, shapes assumed from Table 1 (tests/validation/test_tpu_v1.py)
           "tpu_v1_mlp0", "tpu_v1_mlp1", "tpu_v1_lstm0", "tpu_v1_lstm1", "tpu_v1_cnn0", "tpu_v1_cnn1",
           # 2:4 structured-sparse weights (arch/sparse_tc_like.yaml, docs/sparsity.md)
           "bert_base_2of4", "resnet50_2of4"]


def load(name, overrides=()):
    return load_workload(WORKLOADS / f"{name}.yaml", overrides=list(overrides))


def compute_layers(w):
    """Layers with two operands (conv, depthwise conv, fc, matmul, batched matmul)."""
    return [l for l in w.layers if l.einsum.tensor("weights") is not None]


def conv_layers(w):
    """Convolutions (incl. depthwise): the einsums with r and s filter dimensions."""
    return [l for l in compute_layers(w) if "r" in l.einsum.bound]


def macs(layers):
    return sum(l.einsum.macs * l.count for l in layers)


def weights(layers):
    return sum(l.einsum.tensor_size("weights") * l.count for l in layers)


# ----------------------------------------------------------------------------- every file

def test_the_shipped_set_is_complete():
    assert sorted(p.stem for p in WORKLOADS.glob("*.yaml")) == sorted(SHIPPED)


@pytest.mark.parametrize("path", sorted(WORKLOADS.glob("*.yaml")), ids=lambda p: p.stem)
def test_workload_loads(path):
    w = load_workload(path)
    assert w.name == path.stem
    assert w.layers and w.macs > 0
    assert all(l.count >= 1 and l.einsum.macs > 0 for l in w.layers)


@pytest.mark.parametrize("path", sorted(WORKLOADS.glob("*.yaml")), ids=lambda p: p.stem)
def test_layer_names_are_unique(path):
    # Read the raw YAML, so this does not rely on the loader's own duplicate check.
    raw = yaml.safe_load(path.read_text())
    while "layers" not in raw:  # a file that `extends:` another takes its layers from the base
        path = path.parent / raw["extends"]
        raw = yaml.safe_load(path.read_text())
    names = [entry["name"] for entry in raw["layers"]]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    assert not duplicates, f"{path.name}: duplicate layer names {duplicates}"
    assert [l.name for l in load_workload(path).layers] == names


# ----------------------------------------------------------------------------- AlexNet

def test_alexnet_macs_match_eyeriss_and_sze():
    # Chen et al., "Eyeriss", ISSCC 2016, Sec. 14.5: "AlexNet uses 2.3 million weights ... and
    # requires 666 million MACs per 227x227 image". Both figures cover the 5 CONV layers only
    # (Sze et al., "Efficient Processing of Deep Neural Networks: A Tutorial and Survey",
    # Proc. IEEE 2017, Table 3: CONV MACs 666M, FC MACs 58.6M, total 724M; CONV weights 2.3M).
    w = load("alexnet")
    convs = conv_layers(w)
    assert [l.name for l in convs] == ["conv1", "conv2", "conv3", "conv4", "conv5"]
    assert macs(convs) == pytest.approx(666e6, rel=0.01)          # within 1%
    assert macs(compute_layers(w)) == pytest.approx(724e6, rel=0.01)
    assert weights(convs) == pytest.approx(2.3e6, abs=0.05e6)     # published to 0.1M
    # the two-GPU groups halve the MACs of conv2/4/5 relative to dense convolutions
    conv2 = next(l for l in convs if l.name == "conv2")
    assert conv2.einsum.macs == 27 * 27 * 256 * (96 // 2) * 5 * 5


# ----------------------------------------------------------------------------- VGG-16

def test_vgg16_macs_match_eyeriss_and_sze():
    # Eyeriss, ISSCC 2016: "VGG16 uses 14.7 million weights ... and requires 15.3 billion MACs
    # per 224x224 image" (13 CONV layers; Sze et al. 2017, Table 3: FC 124M, total 15.5G MACs).
    w = load("vgg16")
    convs = conv_layers(w)
    assert len(convs) == 13
    assert macs(convs) == pytest.approx(15.3e9, rel=0.01)         # within 1%
    assert macs(compute_layers(w)) == pytest.approx(15.5e9, rel=0.01)
    assert weights(convs) == pytest.approx(14.7e6, abs=0.05e6)


# ----------------------------------------------------------------------------- ResNet-50

RESNET_STAGES = {2: 3, 3: 4, 4: 6, 5: 3}   # blocks per stage, He et al. Table 1


def resnet50_expected_names():
    names = ["conv1"]
    for stage, blocks in RESNET_STAGES.items():
        for b in "abcdef"[:blocks]:
            names += [f"res{stage}{b}_branch2{x}" for x in "abc"]
            if b == "a":
                names.append(f"res{stage}a_branch1")
    return names + ["fc"]


def test_resnet50_layers_and_names():
    w = load("resnet50")
    layers = compute_layers(w)
    assert len(layers) == 54                  # 53 convolutions + fc
    assert len(conv_layers(w)) == 53
    assert [l.name for l in layers] == resnet50_expected_names()


def test_resnet50_uses_v1_5_strides():
    # torchvision v1.5: the first block of stages 3-5 downsamples in the 3x3 conv, not the 1x1.
    layers = {l.name: l.einsum.bound for l in load("resnet50").layers}
    for stage, size in [(3, 28), (4, 14), (5, 7)]:
        assert layers[f"res{stage}a_branch2a"]["p"] == 2 * size
        assert layers[f"res{stage}a_branch2b"]["p"] == size
        assert layers[f"res{stage}a_branch1"]["p"] == size
    assert layers["fc"] == {"m": 1, "n": 1000, "k": 2048}


def test_resnet50_macs():
    # torchvision resnet50 (v1.5) is commonly reported as 4.09 GMACs (e.g. fvcore/ptflops,
    # counting conv + fc multiply-adds; He et al. CVPR 2016 Table 1 give 3.8e9 "FLOPs" =
    # multiply-adds for the v1 strides). Within 2% of 4.09e9.
    w = load("resnet50")
    assert macs(compute_layers(w)) == pytest.approx(4.09e9, rel=0.02)


def test_resnet50_with_v1_strides_matches_sze():
    # Moving the stride back to branch2a (the original v1 / Caffe model) must give
    # Sze et al. 2017, Table 3: ResNet-50 CONV MACs 3.86G, FC MACs 2M (total 3.9G).
    # CONV within 1%; the total is printed to two digits, so within its rounding.
    overrides = []
    for stage, size in [(3, 28), (4, 14), (5, 7)]:
        overrides += [f"layers.res{stage}a_branch2a.conv2d.stride=2",
                      f"layers.res{stage}a_branch2b.conv2d.stride=1",
                      f"layers.res{stage}a_branch2b.conv2d.h={size}",
                      f"layers.res{stage}a_branch2b.conv2d.w={size}"]
    w = load("resnet50", overrides)
    assert macs(conv_layers(w)) == pytest.approx(3.86e9, rel=0.01)
    assert macs(compute_layers(w)) == pytest.approx(3.9e9, abs=0.05e9)   # published to 0.1G


# ----------------------------------------------------------------------------- MobileNet v1

def test_mobilenet_v1_macs_and_parameters():
    # Howard et al., arXiv:1704.04861, Tables 4, 6 and 8: 1.0 MobileNet-224 has 569 million
    # Mult-Adds and 4.2 million parameters (conv + fc weights; batch norm not counted).
    w = load("mobilenet_v1")
    layers = compute_layers(w)
    assert len(layers) == 1 + 2 * 13 + 1
    assert macs(layers) == pytest.approx(569e6, rel=0.01)         # within 1%
    assert weights(layers) == pytest.approx(4.2e6, abs=0.05e6)


# ----------------------------------------------------------------------------- transformers

def encoder_macs(s, h, f, layers):
    """MACs of `layers` transformer layers on s tokens, hidden h, FFN width f.

    Per layer: Q, K, V and output projections, each s x h times h x h:      4*s*h^2
    attention scores Q.K^T, per head s x d times d x s (heads*d = h):        s^2*h
    softmax(scores).V, per head s x s times s x d:                           s^2*h
    FFN up (s x h times h x f) and down (s x f times f x h):                 2*s*h*f
    With f = 4h this is 4*s*h^2 + 2*s^2*h + 2*s*h*4h per layer. The head count only splits
    the attention products; it does not change their MACs.
    """
    return layers * (4 * s * h * h + 2 * s * s * h + 2 * s * h * f)


BERT = {"bert_base": dict(h=768, heads=12, layers=12),
        "bert_large": dict(h=1024, heads=16, layers=24)}


@pytest.mark.parametrize("name", BERT)
@pytest.mark.parametrize("seq", [128, 384])
def test_bert_macs_closed_form(name, seq):
    # Devlin et al. 2019: BERT-Base L=12, H=768, A=12; BERT-Large L=24, H=1024, A=16; FFN = 4H.
    hp = BERT[name]
    h = hp["h"]
    w = load(name, [f"parameters.seq={seq}"])
    assert w.macs == encoder_macs(seq, h, 4 * h, hp["layers"])
    assert w.macs == hp["layers"] * (4 * seq * h**2 + 2 * seq**2 * h + 2 * seq * h * 4 * h)
    qk = next(l for l in w.layers if l.name == "attn_qk")
    assert qk.einsum.bound == {"b": hp["heads"], "m": seq, "n": seq, "k": h // hp["heads"]}
    assert qk.count == hp["layers"]


def test_bert_base_default_seq_is_128():
    assert load("bert_base").macs == encoder_macs(128, 768, 3072, 12)    # 11.17 GMACs


def test_overriding_seq_changes_macs_as_the_formula_says():
    base = load("bert_base").macs
    longer = load("bert_base", ["parameters.seq=384"]).macs
    h, L = 768, 12
    # linear terms triple, the two attention products grow 9x
    assert longer - base == L * ((4 * h * h + 8 * h * h) * (384 - 128) + 2 * h * (384**2 - 128**2))
    assert load("bert_base", ["parameters.seq=256", "parameters.num_layers=6"]).macs == \
        encoder_macs(256, 768, 3072, 6)


@pytest.mark.parametrize("seq", [128, 1024])
def test_gpt2_prefill_macs_closed_form(seq):
    # GPT-2 small: 12 layers, hidden 768, 12 heads, FFN 4*768, vocab 50257; the LM head maps
    # every prompt position to vocabulary logits: s*h*V.
    h, L, vocab = 768, 12, 50257
    w = load("gpt2", [f"parameters.seq={seq}"])
    assert w.macs == encoder_macs(seq, h, 4 * h, L) + seq * h * vocab
    lm_head = next(l for l in w.layers if l.name == "lm_head")
    assert lm_head.count == 1 and lm_head.einsum.macs == seq * h * vocab


@pytest.mark.parametrize(("d", "heads", "f", "s", "b"), [(768, 12, 3072, 512, 1), (2048, 16, 8192, 2048, 2)])
def test_decoder_layer_macs_closed_form(d, heads, f, s, b):
    # per layer: Q, K, V, O 4·B·s·d² + Q·Kᵀ and P·V 2·B·s²·d + FFN 2·B·s·d·f (heads split d, not MACs)
    w = load("decoder_layer", [f"parameters.d_model={d}", f"parameters.heads={heads}", f"parameters.ffn={f}",
                               f"parameters.seq={s}", f"parameters.batch={b}"])
    assert w.macs == 4 * b * s * d * d + 2 * b * s * s * d + 2 * b * s * d * f


def test_decoder_mixed_macs_closed_form():
    # a prefill chunk of s tokens (as decoder_layer, batch 1) and a decode step of B sequences over
    # c cached tokens: 4·B·d² + 2·B·c·d + 2·B·d·f
    d, f, s, b, c = 768, 3072, 512, 8, 1024
    w = load("decoder_mixed")
    assert w.macs == (4 * s * d * d + 2 * s * s * d + 2 * s * d * f) + (4 * b * d * d + 2 * b * c * d + 2 * b * d * f)


# ----------------------------------------------------------------------------- batch

# The batch dimension each builder's `n` argument becomes (fully_connected is a matmul, M = n).
BATCH_DIM = {"conv2d": "n", "depthwise_conv2d": "n", "pool2d": "n", "fully_connected": "m"}


def layer_kinds(path):
    """{layer name: builder kind} from the file as written (through `extends:`), not the loader."""
    from accelsim.spec.schema import LAYER_KINDS
    from accelsim.spec.validate import load_with_extends
    return {entry["name"]: next(k for k in entry if k in LAYER_KINDS)
            for entry in load_with_extends(path)["layers"]}


# CNNs found from the files: every workload with a convolution layer.
CNN_WORKLOADS = sorted(p.stem for p in WORKLOADS.glob("*.yaml")
                       if {"conv2d", "depthwise_conv2d"} & set(layer_kinds(p).values()))


def test_cnn_workloads_are_found():
    assert CNN_WORKLOADS, "no workload in workloads/ has a conv2d or depthwise_conv2d layer"


# Apps defined at their published batch (Jouppi et al., ISCA 2017, Table 1), not at 1.
PUBLISHED_BATCH = {"tpu_v1_cnn0": 8, "tpu_v1_cnn1": 32}


@pytest.mark.parametrize("name", CNN_WORKLOADS)
def test_cnn_batch_is_a_parameter_that_scales_every_layer(name):
    # Invariant, not a golden number: `parameters.batch` defaults to 1 (or the published batch
    # above), and batch 4 multiplies every layer's MACs by exactly 4 and sets the batch dim of
    # every conv/pool/fc layer to 4, leaving all its other dims alone.
    kinds = layer_kinds(WORKLOADS / f"{name}.yaml")
    one, default, four = load(name, ["parameters.batch=1"]), load(name), load(name, ["parameters.batch=4"])
    as_default = load(name, [f"parameters.batch={PUBLISHED_BATCH.get(name, 1)}"])
    assert [l.einsum for l in default.layers] == [l.einsum for l in as_default.layers]
    assert [l.name for l in four.layers] == [l.name for l in one.layers]
    for l1, l4 in zip(one.layers, four.layers):
        assert l4.count == l1.count, l1.name
        assert l4.einsum.macs == 4 * l1.einsum.macs, l1.name
        kind = kinds[l1.name]
        if kind in BATCH_DIM:
            dim = BATCH_DIM[kind]
            assert l1.einsum.bound[dim] == 1 and l4.einsum.bound[dim] == 4, (l1.name, kind)
            assert {d: b for d, b in l4.einsum.bound.items() if d != dim} == \
                {d: b for d, b in l1.einsum.bound.items() if d != dim}, l1.name
    assert four.macs == 4 * one.macs


# ----------------------------------------------------------------------------- toy files

def test_small_files_closed_form():
    assert load("gemm_tiny").macs == 16**3
    assert load("gemm_small").macs == 64 * 64 * 64 + 128 * 256 * 64 + 256 * 128 * 512
    # 3x3 pad 1 keeps 16x16; 1x1 stride 2 gives 8x8
    assert load("conv_tiny").macs == 16 * 16 * 32 * 16 * 9 + 8 * 8 * 64 * 32


def test_conv2d_ceil_mode_keeps_the_overhanging_window():
    # PyTorch's ceil_mode (and SCALE-Sim's E = ceil((H - R + s)/s)): 8 rows, 3-tap window,
    # stride 2 gives floor 3 windows, ceil 4 (the last one overhangs by one row).
    from accelsim.ir.layers import conv2d, conv_output_size
    assert conv_output_size(8, 3, 2, 0, 1) == 3 and conv_output_size(8, 3, 2, 0, 1, True) == 4
    assert conv_output_size(7, 3, 2, 0, 1, True) == conv_output_size(7, 3, 2, 0, 1) == 3  # exact fit
    assert conv2d(1, 1, 8, 8, 3, 3, stride=2, ceil_mode=True).bound["p"] == 4


def test_ceil_mode_must_be_a_boolean(tmp_path):
    from accelsim.errors import SpecError
    bad = tmp_path / "w.yaml"
    bad.write_text("name: w\nlayers:\n  - name: c\n    conv2d: {c: 1, k: 1, h: 8, w: 8, r: 3, s: 3, ceil_mode: 1}\n")
    with pytest.raises(SpecError, match="ceil_mode must be true or false"):
        load_workload(bad)
