"""Builders for common layers; each returns an `Einsum`. Registered by name for YAML."""
from __future__ import annotations

from ..registry import Registry
from .einsum import Einsum, parse_einsum

LAYER_BUILDERS = Registry("layer kind")


def conv_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int,
                     ceil_mode: bool = False) -> int:
    """Output positions; with ceil_mode the last window may overhang the (padded) input."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    return (span + (stride - 1 if ceil_mode else 0)) // stride + 1


def _window(stride: int, out: str, dilation: int, tap: str) -> str:
    left = out if stride == 1 else f"{stride}*{out}"
    right = tap if dilation == 1 else f"{dilation}*{tap}"
    return f"{left}+{right}"


@LAYER_BUILDERS.register("conv2d")
def conv2d(c: int, k: int, h: int, w: int, r: int, s: int, n: int = 1, stride: int = 1,
           padding: int = 0, dilation: int = 1, groups: int = 1, ceil_mode: bool = False) -> Einsum:
    """2-D convolution; `groups` > 1 gives grouped conv, groups == c == k gives depthwise.

    c and k are the total input and output channels; padding enlarges the input
    (zeros are multiplied like any value, as in published MAC counts). With `ceil_mode`
    (PyTorch's name; SCALE-Sim always does this) a last window that overhangs the input still
    produces an output: ⌈(H + 2·padding − R)/stride⌉ + 1 rows; the overhang reads zeros.
    """
    if c % groups or k % groups:
        raise ValueError(f"groups={groups} must divide c={c} and k={k}")
    p = conv_output_size(h, r, stride, padding, dilation, ceil_mode)
    q = conv_output_size(w, s, stride, padding, dilation, ceil_mode)
    if p < 1 or q < 1:
        raise ValueError(f"the filter ({r}x{s}) does not fit the padded input ({h}x{w}, padding {padding})")
    hi, wi = _window(stride, "p", dilation, "r"), _window(stride, "q", dilation, "s")
    bounds = {"n": n, "k": k // groups, "c": c // groups, "p": p, "q": q, "r": r, "s": s}
    if groups == 1:
        text = f"O[n,k,p,q] += I[n,c,{hi},{wi}] * W[k,c,r,s]"
    else:
        bounds = {"g": groups, **bounds}
        text = f"O[n,g,k,p,q] += I[n,g,c,{hi},{wi}] * W[g,k,c,r,s]"
    return parse_einsum(text, bounds)


@LAYER_BUILDERS.register("depthwise_conv2d")
def depthwise_conv2d(c: int, h: int, w: int, r: int, s: int, n: int = 1, stride: int = 1,
                     padding: int = 0, dilation: int = 1) -> Einsum:
    """Depthwise convolution: one filter per channel (conv2d with groups = c = k)."""
    return conv2d(c=c, k=c, h=h, w=w, r=r, s=s, n=n, stride=stride, padding=padding,
                  dilation=dilation, groups=c)


@LAYER_BUILDERS.register("matmul")
def matmul(m: int, n: int, k: int) -> Einsum:
    """O[m,n] += I[m,k] * W[k,n]: inputs M×K, weights K×N (SCALE-Sim's GEMM convention)."""
    return parse_einsum("O[m,n] += I[m,k] * W[k,n]", {"m": m, "n": n, "k": k})


@LAYER_BUILDERS.register("fully_connected")
def fully_connected(c_in: int, c_out: int, n: int = 1) -> Einsum:
    """Fully connected layer on a batch of n vectors: a matmul with M = n."""
    return matmul(m=n, n=c_out, k=c_in)


@LAYER_BUILDERS.register("batched_matmul")
def batched_matmul(b: int, m: int, n: int, k: int) -> Einsum:
    """O[b,m,n] += I[b,m,k] * W[b,k,n], e.g. attention Q·Kᵀ (b = heads) or softmax·V.

    Both operands depend on b, so neither is reused across the batch: the 'weights'
    role here is just the second operand.
    """
    return parse_einsum("O[b,m,n] += I[b,m,k] * W[b,k,n]", {"b": b, "m": m, "n": n, "k": k})


@LAYER_BUILDERS.register("pool2d")
def pool2d(c: int, h: int, w: int, r: int, s: int, n: int = 1, stride: int = 1,
           padding: int = 0) -> Einsum:
    """Pooling window as a one-operand einsum: each 'MAC' is one compare or add."""
    if 2 * padding > max(r, s) - 1 + 1 or padding >= min(r, s):
        raise ValueError(f"padding {padding} must be less than the window ({r}x{s}) and at most half of it")
    p = conv_output_size(h, r, stride, padding, 1)
    q = conv_output_size(w, s, stride, padding, 1)
    hi, wi = _window(stride, "p", 1, "r"), _window(stride, "q", 1, "s")
    return parse_einsum(f"O[n,c,p,q] += I[n,c,{hi},{wi}]",
                        {"n": n, "c": c, "p": p, "q": q, "r": r, "s": s})
