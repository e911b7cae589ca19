"""LLM inference workloads (prefill and decode phases) and their metrics (accelsim/report/llm.py).

MAC counts are closed forms computed here from the model hyper-parameters, never from the
loaded shapes. With B = batch, s = seq, c = context, L = num_layers, d = d_model, H = heads,
G = kv_heads, d_kv = G·d/H, f = ffn, V = vocab, F = 2 (GELU MLP) or 3 (SwiGLU):
  prefill = L·B·(s·d² + 2·s·d·d_kv + 2·s²·d + s·d² + F·s·d·f) + B·d·V
  decode  = L·B·(d² + 2·d·d_kv + 2·c·d + d² + F·d·f) + B·d·V
(Q, K+V projections, Q·Kᵀ + P·V over all H query heads, output projection, FFN; the LM head
on one token per sequence.) KV cache per layer: written B·s·d_kv (prefill) or B·d_kv (decode)
elements for each of K and V; read by decode 2·B·c·d_kv elements.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from accelsim.errors import SpecError  # noqa: E402
from accelsim.load import load_arch, load_workload  # noqa: E402
from accelsim.report.llm import llm_metrics, phase_parameters  # noqa: E402
from accelsim.results import BOUNDARIES  # noqa: E402

WORKLOADS = ROOT / "workloads"
MODELS = {
    "gpt2": dict(L=12, d=768, H=12, G=12, f=3072, V=50257, F=2),
    "llama2_7b": dict(L=32, d=4096, H=32, G=32, f=11008, V=32000, F=3),
}


def load(name, **params):
    return load_workload(WORKLOADS / f"{name}.yaml",
                         overrides=[f"parameters.{k}={v}" for k, v in params.items()])


def prefill_macs(L, d, H, G, f, V, F, B, s):
    d_kv = G * d // H
    return L * B * (s * d * d + 2 * s * d * d_kv + 2 * s * s * d + s * d * d + F * s * d * f) + B * d * V


def decode_macs(L, d, H, G, f, V, F, B, c):
    d_kv = G * d // H
    return L * B * (d * d + 2 * d * d_kv + 2 * c * d + d * d + F * d * f) + B * d * V


def layer(w, name):
    return next(l for l in w.layers if l.name == name)


# ----------------------------------------------------------------------------- MAC counts

@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("B,s", [(1, 128), (4, 77), (2, 1)])
def test_prefill_macs_closed_form(model, B, s):
    w = load(f"{model}_prefill", batch=B, seq=s)
    assert w.phase == "prefill"
    assert w.macs == prefill_macs(**MODELS[model], B=B, s=s)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("B,c", [(1, 128), (8, 1000), (3, 1)])
def test_decode_macs_closed_form(model, B, c):
    w = load(f"{model}_decode", batch=B, context=c)
    assert w.phase == "decode"
    assert w.macs == decode_macs(**MODELS[model], B=B, c=c)


def test_shipped_defaults():
    # GPT-2 small prefill of 128 tokens: 10.87 GMACs in the 12 layers + 38.6 M for one LM-head row
    assert load("gpt2_prefill").macs == 12 * (128 * 768 * 768 * 4 + 2 * 128 * 128 * 768 + 2 * 128 * 768 * 3072) \
        + 768 * 50257 == 11_212_223_232
    # Llama-2-7B decode: one MAC per weight that multiplies. The Hugging Face model has
    # 6,738,415,616 parameters; the embedding table (32000 × 4096, a lookup) and the RMS-norm
    # gains (65 × 4096, elementwise) do no MACs; context 1 adds 2·d attention MACs per layer.
    w = load("llama2_7b_decode", context=1)
    assert w.macs == 6_738_415_616 - 32000 * 4096 - 65 * 4096 + 32 * 2 * 4096
    assert {l.name for l in w.layers} >= {"ffn_gate", "ffn_up", "ffn_down"}       # SwiGLU
    assert "ffn_gate" not in {l.name for l in load("gpt2_decode").layers}         # GELU MLP


@pytest.mark.parametrize("name", ["gpt2_prefill", "gpt2_decode", "llama2_7b_prefill", "llama2_7b_decode"])
def test_batch_scales_macs_linearly(name):
    one, four = load(name, batch=1), load(name, batch=4)
    assert four.macs == 4 * one.macs
    for a, b in zip(one.layers, four.layers):
        assert b.einsum.macs == 4 * a.einsum.macs


def test_lm_head_runs_on_the_last_prompt_token_only():
    w = load("llama2_7b_prefill", batch=3, seq=500)
    assert layer(w, "lm_head").einsum.macs == 3 * 4096 * 32000
    assert layer(w, "lm_head").count == 1
    assert all(l.count == 32 for l in w.layers if l.name != "lm_head")


# ----------------------------------------------------------------------------- KV cache and GQA

def test_decode_reads_and_writes_the_kv_cache_as_tensors():
    B, c, d = 2, 300, 4096
    w = load("llama2_7b_decode", batch=B, context=c)
    qk, pv = layer(w, "attn_qk").einsum, layer(w, "attn_pv").einsum
    assert qk.tensor("weights").name == "K_cache" and pv.tensor("weights").name == "V_cache"
    assert qk.tensor_size("weights") == pv.tensor_size("weights") == B * c * d      # read per layer
    k, v = layer(w, "attn_k").einsum, layer(w, "attn_v").einsum
    assert k.tensor("outputs").name == "K_new" and v.tensor("outputs").name == "V_new"
    assert k.tensor_size("outputs") == v.tensor_size("outputs") == B * d             # written per layer
    pre = load("llama2_7b_prefill", batch=B, seq=c)
    assert layer(pre, "attn_k").einsum.tensor("outputs").name == "K_cache"
    assert layer(pre, "attn_k").einsum.tensor_size("outputs") == B * c * d          # the prompt's K


@pytest.mark.parametrize("phase,length", [("prefill", "seq"), ("decode", "context")])
def test_gqa_shrinks_kv_projections_and_cache_not_attention(phase, length):
    # Llama-2-70B-style grouping on the 7B shapes: 32 query heads share 8 K/V heads.
    mha = load(f"llama2_7b_{phase}", **{length: 256})
    gqa = load(f"llama2_7b_{phase}", **{length: 256, "kv_heads": 8})
    ratio = 8 / 32
    for name in ("attn_k", "attn_v"):
        assert layer(gqa, name).einsum.macs == ratio * layer(mha, name).einsum.macs
    for name in ("attn_qk", "attn_pv"):
        assert layer(gqa, name).einsum.macs == layer(mha, name).einsum.macs        # every query head attends
        assert layer(gqa, name).einsum.tensor_size("weights") == \
            ratio * layer(mha, name).einsum.tensor_size("weights")                  # the cache shrinks
        assert layer(gqa, name).einsum.tensor_size("inputs") == \
            layer(mha, name).einsum.tensor_size("inputs")
    p = dict(MODELS["llama2_7b"], G=8)
    expected = prefill_macs(**p, B=1, s=256) if phase == "prefill" else decode_macs(**p, B=1, c=256)
    assert gqa.macs == expected


def test_phase_needs_batch_and_seq(tmp_path):
    text = (WORKLOADS / "gpt2_prefill.yaml").read_text().replace("batch: 1, ", "")
    text = text.replace("batch*seq", "seq").replace("b: batch, ", "").replace("m: batch,", "m: 1,")
    text = text.replace("S[b,", "S[").replace("Q[b,", "Q[").replace("K_cache[b,", "K_cache[") \
        .replace("A[b,", "A[").replace("P[b,", "P[").replace("V_cache[b,", "V_cache[")
    path = tmp_path / "gpt2_prefill.yaml"
    path.write_text(text)
    with pytest.raises(SpecError, match="needs the parameter 'batch'"):
        load_workload(path)


def test_phase_parameters_checks_the_pair():
    pre, dec = load("gpt2_prefill", batch=4, seq=64), load("gpt2_decode", batch=4, context=65)
    assert phase_parameters(pre, dec) == (4, 64, 65)
    with pytest.raises(SpecError, match="phase: prefill"):
        phase_parameters(dec, dec)
    with pytest.raises(SpecError, match="batch 4 and the decode batch 2"):
        phase_parameters(pre, load("gpt2_decode", batch=2))


# ----------------------------------------------------------------------------- runs and metrics

@pytest.fixture(scope="module")
def runs():
    """Each shipped LLM workload once on simba_like (analytical model, the arch's ws dataflow)."""
    from accelsim.options import SimOptions
    from accelsim.simulate import simulate
    arch = load_arch(ROOT / "arch" / "simba_like.yaml")
    options = SimOptions(model="analytical")
    out = {}
    for name, params in [("gpt2_prefill", {"batch": 2, "seq": 64}), ("gpt2_decode", {"batch": 2, "context": 65}),
                         ("llama2_7b_prefill", {}), ("llama2_7b_decode", {})]:
        w = load(name, **params)
        out[name] = (w, simulate(arch, w, options))
    return out


@pytest.mark.parametrize("name", ["gpt2_prefill", "gpt2_decode", "llama2_7b_prefill", "llama2_7b_decode"])
def test_shipped_llm_workloads_run(runs, name):
    w, r = runs[name]
    assert r.macs == w.macs
    assert r.latency_s > 0 and r.energy_pj > 0
    assert 0 < r.utilization <= 1


@pytest.mark.parametrize("model", ["gpt2", "llama2_7b"])
def test_metrics_arithmetic(runs, model):
    (pw, pre), (dw, dec) = runs[f"{model}_prefill"], runs[f"{model}_decode"]
    batch, seq, context = phase_parameters(pw, dw)
    m = llm_metrics(pre, dec, batch, seq, context)
    assert m.ttft_s == pre.latency_s
    assert m.decode_tokens_per_s * dec.latency_s == pytest.approx(batch)            # tokens/s × latency = batch
    assert m.decode_step_s == dec.latency_s
    assert m.prefill_tokens_per_s * pre.latency_s == pytest.approx(batch * seq)
    pre_e, dec_e = pre.boundary_energy_pj(), dec.boundary_energy_pj()
    for b in BOUNDARIES:
        assert m.decode_j_per_token[b] * batch == pytest.approx(dec_e[b] * 1e-12)  # J/token × tokens = energy
        assert m.prefill_j_per_token[b] * batch * seq == pytest.approx(pre_e[b] * 1e-12)
    assert m.decode_j_per_token["core"] <= m.decode_j_per_token["chip"] <= m.decode_j_per_token["system"]


def test_metrics_reject_empty_batches(runs):
    pre, dec = runs["gpt2_prefill"][1], runs["gpt2_decode"][1]
    with pytest.raises(ValueError):
        llm_metrics(pre, dec, 0, 128)


def test_cli_llm(capsys):
    from accelsim.cli import main
    arch, pre, dec = (str(ROOT / p) for p in ("arch/simba_like.yaml", "workloads/gpt2_prefill.yaml",
                                              "workloads/gpt2_decode.yaml"))
    assert main(["llm", arch, "--prefill", pre, "--decode", dec, "--batch", "2", "--seq", "16",
                 "--context", "17", "--no-search-cache"]) == 0
    out = capsys.readouterr().out
    assert "(batch 2, prompt 16 tokens, context 17)" in out
    assert "time to first token" in out and "tokens/s" in out and "J/token: core" in out
    assert main(["llm", arch, "--prefill", dec, "--decode", dec, "--no-search-cache"]) == 2
    assert "expected a workload with 'phase: prefill'" in capsys.readouterr().err
    assert main(["llm", arch, "--prefill", pre, "--decode", dec, "--set", "decode.parameters.batch=3",
                 "--no-search-cache"]) == 2
    assert "set both to the same value" in capsys.readouterr().err
