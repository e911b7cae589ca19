import pytest

from accelsim.ir.einsum import parse_einsum
from accelsim.ir.layers import conv2d, depthwise_conv2d, matmul, pool2d


def test_parse_conv_with_stride():
    e = parse_einsum("O[n,k,p,q] += I[n,c,2*p+r,2*q+s] * W[k,c,r,s]",
                     {"n": 1, "k": 4, "c": 3, "p": 5, "q": 5, "r": 3, "s": 3})
    assert e.macs == 4 * 3 * 5 * 5 * 9
    assert e.tensor("inputs").axes[2][0].coef == 2
    assert e.reduction_dims() == ("c", "r", "s")
    assert e.relevant("weights", "k") and not e.relevant("weights", "p")


def test_render_round_trips():
    text = "O[m,n] += I[m,k] * W[k,n]"
    assert parse_einsum(text, {"m": 2, "n": 3, "k": 4}).render() == text


@pytest.mark.parametrize("text,bounds,message", [
    ("O[p] = I[p]", {"p": 2}, "needs the form"),
    ("O[p] += I[p+r] * W[r]", {"p": 4}, "no bound"),
    ("O[p] += I[p] * W[p]", {"p": 4, "z": 2}, "appear in no tensor"),
    ("O[p] += I[p-r] * W[r]", {"p": 4, "r": 2}, "cannot read"),
    ("O[p] += I[p] * W[p] * X[p]", {"p": 4}, "one or two operands"),
    ("O[p] += I[p,p] * W[p]", {"p": 4}, "indexes two axes"),
])
def test_parse_errors(text, bounds, message):
    with pytest.raises(ValueError, match=message):
        parse_einsum(text, bounds)


def test_conv_output_size_and_padding():
    e = conv2d(c=3, k=64, h=224, w=224, r=7, s=7, stride=2, padding=3)
    assert e.bound["p"] == 112 and e.bound["q"] == 112
    assert e.macs == 64 * 3 * 112 * 112 * 49


def test_strided_1x1_input_footprint_is_exact():
    # A 1x1 stride-2 conv reads every other pixel: 28x28 of the 56x56 input, not 55x55.
    e = conv2d(c=8, k=8, h=56, w=56, r=1, s=1, stride=2)
    assert e.tensor_size("inputs") == 8 * 28 * 28


def test_grouped_and_depthwise():
    g = conv2d(c=96, k=256, h=27, w=27, r=5, s=5, padding=2, groups=2)
    assert g.macs == 256 * 48 * 27 * 27 * 25
    d = depthwise_conv2d(c=32, h=112, w=112, r=3, s=3, padding=1)
    assert d.macs == 32 * 112 * 112 * 9
    assert d.tensor("weights").dims == {"g", "k", "c", "r", "s"}


def test_pool_has_no_weights():
    p = pool2d(c=64, h=112, w=112, r=3, s=3, stride=2, padding=1)
    assert p.tensor("weights") is None and p.bound["p"] == 56


def test_matmul_convention():
    e = matmul(m=2, n=3, k=5)
    assert e.tensor("inputs").dims == {"m", "k"} and e.tensor("weights").dims == {"k", "n"}
