"""LLM inference metrics from a prefill result and a decode result (docs/llm.md).

A prefill workload runs a prompt of `seq` tokens for each of `batch` sequences and ends with
the LM head on the last prompt token, so its pass produces the first generated token:
  time to first token  TTFT = prefill latency   (no decode step: the prefill's LM head gives it)
A decode workload is one autoregressive step: every sequence feeds one token and gets one back:
  decode tokens/s      = batch / decode latency          (tokens/s × latency = batch)
  decode J/token       = decode energy / batch           (J/token × batch = step energy)
  prefill J/token      = prefill energy / (batch · seq)  (per prompt token)
  prefill tokens/s     = batch · seq / prefill latency   (prompt tokens processed per second)
Energies are given at each boundary of results.py (core, chip, system); latencies do not
depend on the boundary. A decode result is one step at one `context`; attention MACs grow
linearly with context, so a generation of n tokens after a prompt of s averages to
context ≈ s + (n + 1)/2.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import Problem, SpecError
from ..ir.workload import Workload
from ..results import BOUNDARIES, WorkloadResult
from ..units import format_si


@dataclass(frozen=True)
class LlmMetrics:
    batch: int                       # sequences decoded together
    prompt_tokens: int               # seq: prompt tokens per sequence
    context: int | None              # cache entries the decode step attends to (None: not given)
    ttft_s: float                    # time to first token
    prefill_tokens_per_s: float      # prompt tokens per second
    decode_tokens_per_s: float       # generated tokens per second (all sequences)
    decode_step_s: float             # latency of one decode step (per sequence: s/token)
    prefill_j_per_token: dict[str, float]   # per prompt token, by boundary
    decode_j_per_token: dict[str, float]    # per generated token, by boundary


def llm_metrics(prefill: WorkloadResult, decode: WorkloadResult, batch: int, prompt_tokens: int,
                context: int | None = None) -> LlmMetrics:
    """Tokens/s, time to first token and J/token from one prefill and one decode result."""
    if batch < 1 or prompt_tokens < 1:
        raise ValueError(f"batch ({batch}) and prompt_tokens ({prompt_tokens}) must be ≥ 1")
    prompt = batch * prompt_tokens
    pre_e, dec_e = prefill.boundary_energy_pj(), decode.boundary_energy_pj()
    return LlmMetrics(
        batch=batch, prompt_tokens=prompt_tokens, context=context,
        ttft_s=prefill.latency_s,
        prefill_tokens_per_s=prompt / prefill.latency_s,
        decode_tokens_per_s=batch / decode.latency_s,
        decode_step_s=decode.latency_s,
        prefill_j_per_token={b: pre_e[b] * 1e-12 / prompt for b in BOUNDARIES},
        decode_j_per_token={b: dec_e[b] * 1e-12 / batch for b in BOUNDARIES},
    )


def phase_parameters(prefill: Workload, decode: Workload) -> tuple[int, int, int | None]:
    """(batch, prompt tokens, context) of a matching prefill/decode pair; SpecError otherwise."""
    problems = []
    for w, phase in ((prefill, "prefill"), (decode, "decode")):
        if w.phase != phase:
            problems.append(f"{w.name}: expected a workload with 'phase: {phase}', it has "
                            f"{'phase: ' + w.phase if w.phase else 'no phase'}")
    if problems:
        raise SpecError([Problem(p) for p in problems])
    batch = prefill.parameters["batch"]
    if decode.parameters["batch"] != batch:
        raise SpecError(f"the prefill runs batch {batch} and the decode batch "
                        f"{decode.parameters['batch']}: set both to the same value")
    return batch, prefill.parameters["seq"], decode.parameters.get("context")


def render_llm(m: LlmMetrics, prefill: WorkloadResult, decode: WorkloadResult) -> str:
    def joules(d):
        return ", ".join(f"{b} {format_si(v, 'J')}" for b, v in d.items())
    ctx = f", context {m.context}" if m.context is not None else ""
    return "\n".join([
        f"LLM inference: {prefill.workload_name} + {decode.workload_name} on {prefill.arch.name} "
        f"(batch {m.batch}, prompt {m.prompt_tokens} tokens{ctx})",
        f"time to first token  {format_si(m.ttft_s, 's')}   (prefill latency; its LM head gives the first token)",
        f"prefill              {m.prefill_tokens_per_s:.4g} prompt tokens/s; J/prompt token: "
        f"{joules(m.prefill_j_per_token)}",
        f"decode               {m.decode_tokens_per_s:.4g} tokens/s ({format_si(m.decode_step_s, 's')} per step "
        f"of {m.batch} token{'s' if m.batch > 1 else ''}); J/token: {joules(m.decode_j_per_token)}",
        "boundaries: core = MACs + on-chip dynamic; chip = + on-chip leakage; system = + DRAM",
    ])
