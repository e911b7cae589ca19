"""ONNX nodes → accelsim workload entries: MAC layers (Conv, Gemm, MatMul), pooling layers,
vector work (elementwise, activation, normalization, reduction) and layout ops (no work).

Each translator returns the YAML data of one workload entry, built from the shapes shape inference
gave; a layer the named builders (conv2d, depthwise_conv2d, matmul, batched_matmul, pool2d) express
exactly uses them, anything else (asymmetric pads, per-axis strides, 1-D and 3-D, broadcast batch
dims) an explicit einsum with the same MACs.
"""
from __future__ import annotations

from math import ceil, prod

from ..ir.layers import conv_output_size
from .onnx_graph import Graph, _err, node_label

MAC_OPS = ("Conv", "Gemm", "MatMul", "Einsum")
POOL_OPS = ("MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool")
VECTOR_OPS = (
    # elementwise arithmetic and comparisons
    "Add", "Sub", "Mul", "Div", "Pow", "Sqrt", "Reciprocal", "Neg", "Abs", "Exp", "Log", "Min", "Max",
    "Mean", "Sum", "Floor", "Ceil", "Round", "Sign", "Mod", "Equal", "Less", "LessOrEqual", "Greater",
    "GreaterOrEqual", "Not", "And", "Or", "Xor", "Where", "IsNaN", "IsInf",
    # activations
    "Relu", "LeakyRelu", "PRelu", "Elu", "Selu", "Celu", "Gelu", "Erf", "Tanh", "Sigmoid", "HardSigmoid",
    "HardSwish", "Softplus", "Softsign", "Mish", "Clip", "ThresholdedRelu", "Sin", "Cos",
    # normalization and softmax
    "BatchNormalization", "LayerNormalization", "InstanceNormalization", "GroupNormalization",
    "LpNormalization", "MeanVarianceNormalization", "Softmax", "LogSoftmax", "Hardmax", "LRN",
    # reductions
    "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
    "ReduceSumSquare", "ReduceLogSumExp", "ArgMax", "ArgMin", "CumSum",
)
LAYOUT_OPS = (
    "Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Concat", "Split", "Slice", "Gather",
    "GatherElements", "GatherND", "Identity", "Dropout", "Cast", "CastLike", "Expand", "Tile", "Pad",
    "Shape", "Size", "Constant", "ConstantOfShape", "Range", "DepthToSpace", "SpaceToDepth", "TopK",
    "NonZero", "ScatterND", "ScatterElements", "OneHot", "EyeLike", "Trilu",
)
SUPPORTED = MAC_OPS + POOL_OPS + VECTOR_OPS + LAYOUT_OPS

_OUT_DIMS, _TAP_DIMS = ("p", "q", "u"), ("r", "s", "t")


def attrs(node) -> dict:
    import onnx
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _window(stride: int, out: str, dilation: int, tap: str) -> str:
    left = out if stride == 1 else f"{stride}*{out}"
    return f"{left}+{tap if dilation == 1 else f'{dilation}*{tap}'}"


def _pads(node, a: dict, spatial, kernel, strides, dilations, graph: Graph):
    """(begin, end) padding per spatial axis, auto_pad resolved as ONNX defines it."""
    n = len(spatial)
    auto = a.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    if auto in ("NOTSET", ""):
        pads = list(a.get("pads", [0] * 2 * n))
        return pads[:n], pads[n:]
    if auto == "VALID":
        return [0] * n, [0] * n
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        begin, end = [], []
        for size, k, s, d in zip(spatial, kernel, strides, dilations):
            total = max(0, (ceil(size / s) - 1) * s + d * (k - 1) + 1 - size)
            small, big = total // 2, total - total // 2
            begin.append(small if auto == "SAME_UPPER" else big)
            end.append(big if auto == "SAME_UPPER" else small)
        return begin, end
    raise _err(graph.path, f"node '{node_label(node)}' ({node.op_type}): unknown auto_pad {auto!r}",
               allowed=("NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER"))


def _spatial_check(node, graph: Graph, x, kind: str):
    if not 1 <= len(x) - 2 <= 3:
        raise _err(graph.path, f"node '{node_label(node)}' ({node.op_type}): a {len(x) - 2}-D {kind} "
                   f"(input shape {list(x)})", allowed=("1-D, 2-D or 3-D spatial inputs [N, C, ...]",))


def conv(node, graph: Graph) -> dict:
    a = attrs(node)
    x, w = graph.shape(node.input[0], node), graph.shape(node.input[1], node)
    _spatial_check(node, graph, x, "convolution")
    n, c, spatial = x[0], x[1], x[2:]
    k, c_per_group, kernel = w[0], w[1], w[2:]
    nd = len(spatial)
    groups = int(a.get("group", 1))
    strides = list(a.get("strides", [1] * nd))
    dilations = list(a.get("dilations", [1] * nd))
    begin, end = _pads(node, a, spatial, kernel, strides, dilations, graph)
    out = [conv_output_size(size + b + e, kk, s, 0, d) for size, kk, s, d, b, e
           in zip(spatial, kernel, strides, dilations, begin, end)]
    y = graph.shapes.get(node.output[0])
    if c != c_per_group * groups or k % groups or (y is not None and list(y) != [n, k, *out]) \
            or min(out) < 1:
        raise _err(graph.path, f"node '{node_label(node)}' (Conv): input {list(x)}, weight {list(w)}, "
                   f"group {groups} give output {[n, k, *out]}, but shape inference says "
                   f"{list(y) if y else 'nothing'}", "check the model with onnx.checker.check_model")
    symmetric = nd == 2 and len(set(begin + end)) == 1 and len(set(strides)) == 1 \
        and len(set(dilations)) == 1
    if symmetric:
        options = {key: v for key, v, default in (("stride", strides[0], 1), ("padding", begin[0], 0),
                                                  ("dilation", dilations[0], 1)) if v != default}
        shape = {"n": n, "c": c, "h": spatial[0], "w": spatial[1], "r": kernel[0], "s": kernel[1]}
        if groups > 1 and groups == c == k:
            return {"depthwise_conv2d": {**shape, **options}}
        return {"conv2d": {**shape, "k": k, **options, **({"groups": groups} if groups > 1 else {})}}
    outs, taps = _OUT_DIMS[:nd], _TAP_DIMS[:nd]
    windows = ",".join(_window(s, o, d, t) for s, o, d, t in zip(strides, outs, dilations, taps))
    g_out, g_in = ("g,", "g,") if groups > 1 else ("", "")
    text = (f"O[n,{g_out}k,{','.join(outs)}] += I[n,{g_in}c,{windows}] * "
            f"W[{g_out}k,c,{','.join(taps)}]")
    dims = {"n": n, **({"g": groups} if groups > 1 else {}), "k": k // groups, "c": c_per_group,
            **dict(zip(outs, out)), **dict(zip(taps, kernel))}
    return {"einsum": {"expression": text, "dims": dims}}


def gemm(node, graph: Graph) -> dict:
    a = attrs(node)
    sa, sb = graph.shape(node.input[0], node), graph.shape(node.input[1], node)
    if len(sa) != 2 or len(sb) != 2:
        raise _err(graph.path, f"node '{node_label(node)}' (Gemm): operands {list(sa)} and {list(sb)} "
                   f"are not matrices", allowed=("2-D A and B",))
    m, ka = (sa[1], sa[0]) if a.get("transA", 0) else sa
    kb, n = (sb[1], sb[0]) if a.get("transB", 0) else sb
    if ka != kb:
        raise _err(graph.path, f"node '{node_label(node)}' (Gemm): inner dims differ "
                   f"({ka} and {kb}) after transA={a.get('transA', 0)}, transB={a.get('transB', 0)}")
    return {"matmul": {"m": m, "n": n, "k": ka}}


def matmul(node, graph: Graph) -> dict:
    sa, sb = list(graph.shape(node.input[0], node)), list(graph.shape(node.input[1], node))
    if not sa or not sb:
        raise _err(graph.path, f"node '{node_label(node)}' (MatMul): a scalar operand")
    sa = [1] + sa if len(sa) == 1 else sa      # numpy: a vector is a row on the left,
    sb = sb + [1] if len(sb) == 1 else sb      # a column on the right
    (m, ka), (kb, n) = sa[-2:], sb[-2:]
    if ka != kb:
        raise _err(graph.path, f"node '{node_label(node)}' (MatMul): inner dims differ ({ka} and {kb})")
    rank = max(len(sa), len(sb)) - 2
    ba = [1] * (rank - len(sa) + 2) + sa[:-2]
    bb = [1] * (rank - len(sb) + 2) + sb[:-2]
    if any(x != y and 1 not in (x, y) for x, y in zip(ba, bb)):
        raise _err(graph.path, f"node '{node_label(node)}' (MatMul): batch dims {ba} and {bb} do not broadcast")
    if prod(bb) == 1:    # the second operand is shared by every row: one matmul
        return {"matmul": {"m": prod(ba) * m, "n": n, "k": ka}}
    if ba == bb:
        return {"batched_matmul": {"b": prod(ba), "m": m, "n": n, "k": ka}}
    batch = [(f"b{i}", max(x, y), x > 1, y > 1) for i, (x, y) in enumerate(zip(ba, bb)) if max(x, y) > 1]
    out = ",".join(d for d, *_ in batch)
    ia = ",".join([d for d, _, in_a, _ in batch if in_a] + ["m", "k"])
    ib = ",".join([d for d, _, _, in_b in batch if in_b] + ["k", "n"])
    dims = {**{d: size for d, size, *_ in batch}, "m": m, "n": n, "k": ka}
    return {"einsum": {"expression": f"O[{out},m,n] += I[{ia}] * W[{ib}]", "dims": dims}}


def einsum(node, graph: Graph) -> dict | None:
    """ONNX Einsum of two operands: every letter a dim, MACs the product of all their sizes."""
    a = attrs(node)
    equation = a["equation"].decode() if isinstance(a["equation"], bytes) else a["equation"]
    equation = equation.replace(" ", "")

    def fail(why):
        return _err(graph.path, f"node '{node_label(node)}' (Einsum '{equation}'): {why}",
                    allowed=("two operands, each letter at most once per operand",))
    if len(node.input) == 1:
        return None     # one operand: a transpose or a reduction, vector work
    if len(node.input) != 2:
        raise fail(f"{len(node.input)} operands")
    lhs, _, rhs = equation.partition("->")
    terms = lhs.split(",")
    shapes = [graph.shape(t, node) for t in node.input]
    if len(terms) != 2 or not all(ch.isalpha() or ch == "." for ch in lhs.replace(",", "") + rhs):
        raise fail("cannot read the equation")
    ellipsis = max((len(shape) - len(term.replace("...", "")) for term, shape in zip(terms, shapes)
                    if "..." in term), default=0)
    spare = [f"e{i}" for i in range(ellipsis)]

    def letters(term, rank):
        head, dots, tail = term.partition("...")
        names = [dim_of[ch] for ch in head]
        if dots:
            names += spare[ellipsis - (rank - len(head) - len(tail)):]
        return names + [dim_of[ch] for ch in tail]
    # letters become dims: lowercase as written, uppercase lowered unless that letter is used too
    dim_of = {ch: ch if ch.islower() else ch.lower() if ch.lower() not in equation else f"{ch.lower()}_upper"
              for ch in equation if ch.isalpha()}
    operands = [letters(term, len(shape)) for term, shape in zip(terms, shapes)]
    bounds: dict[str, int] = {}
    kept = []
    for names, shape in zip(operands, shapes):
        if len(names) != len(shape) or len(set(names)) != len(names):
            raise fail(f"operand shape {list(shape)} does not fit, or a letter repeats")
        kept.append([d for d, size in zip(names, shape) if size > 1 or len(shape) == 0])
        for d, size in zip(names, shape):
            if size > 1 and bounds.get(d, size) != size:
                raise fail(f"dim '{d}' has sizes {bounds[d]} and {size}")
            bounds[d] = max(bounds.get(d, 1), size)
    if "->" in equation:
        out = letters(rhs, len(graph.shape(node.output[0], node)))
    else:   # numpy's implicit output: the ellipsis, then the letters used once, in order
        counts = [d for names in operands for d in names]
        out = spare + sorted(d for d in set(counts) if counts.count(d) == 1 and d not in spare)
    out = [d for d in out if bounds.get(d, 1) > 1]
    kept = [[d for d in names if bounds[d] > 1] for names in kept]
    used = [d for d in bounds if bounds[d] > 1]
    if not used:
        raise fail("every dim has size 1")
    text = f"O[{','.join(out)}] += I[{','.join(kept[0])}] * W[{','.join(kept[1])}]"
    return {"einsum": {"expression": text.replace("[]", "[_unit]") if "[]" in text else text,
                       "dims": {d: bounds[d] for d in used} | ({"_unit": 1} if "[]" in text else {})}}


def pool(node, graph: Graph) -> dict:
    """A pooling window as a one-operand layer (pool2d when it fits, else an einsum)."""
    a = attrs(node)
    x = graph.shape(node.input[0], node)
    _spatial_check(node, graph, x, "pooling")
    n, c, spatial = x[0], x[1], list(x[2:])
    nd = len(spatial)
    if node.op_type.startswith("Global"):
        kernel, strides, dilations, begin, end = spatial, [1] * nd, [1] * nd, [0] * nd, [0] * nd
    else:
        kernel = list(a["kernel_shape"])
        strides = list(a.get("strides", [1] * nd))
        dilations = list(a.get("dilations", [1] * nd))
        begin, end = _pads(node, a, spatial, kernel, strides, dilations, graph)
    y = graph.shape(node.output[0], node)
    out = list(y[2:])
    floor_out = [conv_output_size(size + b + e, kk, s, 0, d) for size, kk, s, d, b, e
                 in zip(spatial, kernel, strides, dilations, begin, end)]
    if nd == 2 and out == floor_out and len(set(begin + end)) == 1 and len(set(strides)) == 1 \
            and dilations == [1, 1] and begin[0] < min(kernel) and 2 * begin[0] <= max(kernel):
        params = {"n": n, "c": c, "h": spatial[0], "w": spatial[1], "r": kernel[0], "s": kernel[1]}
        if strides[0] != 1:
            params["stride"] = strides[0]
        if begin[0]:
            params["padding"] = begin[0]
        return {"pool2d": params}
    outs, taps = _OUT_DIMS[:nd], _TAP_DIMS[:nd]
    windows = ",".join(_window(s, o, d, t) for s, o, d, t in zip(strides, outs, dilations, taps))
    dims = {"n": n, "c": c, **dict(zip(outs, out)), **dict(zip(taps, kernel))}
    return {"einsum": {"expression": f"O[n,c,{','.join(outs)}] += I[n,c,{windows}]", "dims": dims}}


def vector_elements(node, graph: Graph) -> int:
    """Elements the op streams: its largest non-constant input or output."""
    graph.shape(node.output[0], node)   # the result's shape must be known
    names = [t for t in node.input if t and t not in graph.static] + [t for t in node.output if t]
    return max(prod(graph.shapes[t]) for t in names if t in graph.shapes)


TRANSLATORS = {"Conv": conv, "Gemm": gemm, "MatMul": matmul, "Einsum": einsum, **{op: pool for op in POOL_OPS}}
