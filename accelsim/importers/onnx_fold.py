"""Shape inference with constant folding, in one pass over the graph: onnx's own inference of each
node (infer_node_outputs), given the values of the inputs that are known, and numpy evaluation of
the small subgraphs that compute shapes (Shape → Gather → Div → Concat → Reshape, as exporters
write `x.view(b, c // 2, ...)`).

Whole-graph inference (infer_shapes with data propagation) propagates values through only some
ops (not Div, for one), so a Reshape or Slice whose target is computed from a shape stays unknown
there. Only nodes whose inputs are all known values are evaluated (constants, initializers that
carry their data, shapes); weights never are.
"""
from __future__ import annotations

import numpy as np

MAX_FOLD_ELEMENTS = 1 << 16   # a shape computation is small; a larger constant stays unevaluated


def _attr(node, name, default=None):
    from onnx import helper
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def _axes(node, inputs, index):
    """Axes given as an input (newer opsets) or an attribute (older ones)."""
    if len(inputs) > index and inputs[index] is not None:
        return [int(a) for a in np.atleast_1d(inputs[index])]
    axes = _attr(node, "axes")
    return None if axes is None else [int(a) for a in axes]


def _int_div(a, b):
    if np.issubdtype(a.dtype, np.integer) and np.issubdtype(b.dtype, np.integer):
        return (np.trunc(a / b)).astype(np.result_type(a, b))   # C-style, as ONNX runtimes do
    return a / b


def _slice(node, x):
    data, starts, ends = x[0], x[1], x[2]
    axes = x[3] if len(x) > 3 and x[3] is not None else range(len(starts))
    steps = x[4] if len(x) > 4 and x[4] is not None else [1] * len(starts)
    index = [slice(None)] * data.ndim
    for s, e, a, st in zip(starts, ends, axes, steps):
        index[int(a)] = slice(int(s), int(e), int(st))
    return data[tuple(index)]


def _reshape(node, x):
    data, shape = x[0], [int(d) for d in x[1]]
    if not _attr(node, "allowzero", 0):
        shape = [data.shape[i] if d == 0 else d for i, d in enumerate(shape)]
    return data.reshape(shape)


def _unsqueeze(node, x):
    out = x[0]
    axes = sorted(a % (out.ndim + len(_axes(node, x, 1))) for a in _axes(node, x, 1))
    for a in axes:
        out = np.expand_dims(out, a)
    return out


def _squeeze(node, x):
    axes = _axes(node, x, 1)
    return np.squeeze(x[0]) if axes is None else np.squeeze(x[0], axis=tuple(axes))


def _reduce(fn):
    def run(node, x):
        axes = _axes(node, x, 1)
        keep = bool(_attr(node, "keepdims", 1))
        return fn(x[0], axis=None if not axes else tuple(axes), keepdims=keep)
    return run


def _cast(node, x):
    from onnx import helper
    return x[0].astype(helper.tensor_dtype_to_np_dtype(_attr(node, "to")))


def _constant_of_shape(node, x):
    from onnx import numpy_helper
    value = _attr(node, "value")
    fill = numpy_helper.to_array(value).reshape(-1)[0] if value is not None else np.float32(0)
    return np.full([int(d) for d in x[0]], fill, dtype=np.asarray(fill).dtype)


FOLDERS = {
    "Identity": lambda n, x: x[0], "Cast": _cast, "Neg": lambda n, x: -x[0], "Abs": lambda n, x: np.abs(x[0]),
    "Add": lambda n, x: x[0] + x[1], "Sub": lambda n, x: x[0] - x[1], "Mul": lambda n, x: x[0] * x[1],
    "Div": lambda n, x: _int_div(x[0], x[1]), "Mod": lambda n, x: np.mod(x[0], x[1]),
    "Floor": lambda n, x: np.floor(x[0]), "Ceil": lambda n, x: np.ceil(x[0]),
    "Sqrt": lambda n, x: np.sqrt(x[0]), "Pow": lambda n, x: np.power(x[0], x[1]),
    "Min": lambda n, x: np.minimum.reduce(x), "Max": lambda n, x: np.maximum.reduce(x),
    "Equal": lambda n, x: np.equal(x[0], x[1]), "Less": lambda n, x: np.less(x[0], x[1]),
    "Greater": lambda n, x: np.greater(x[0], x[1]), "Not": lambda n, x: np.logical_not(x[0]),
    "And": lambda n, x: np.logical_and(x[0], x[1]), "Or": lambda n, x: np.logical_or(x[0], x[1]),
    "Where": lambda n, x: np.where(x[0], x[1], x[2]),
    "Gather": lambda n, x: np.take(x[0], x[1].astype(np.int64), axis=_attr(n, "axis", 0)),
    "Concat": lambda n, x: np.concatenate(x, axis=_attr(n, "axis")),
    "Unsqueeze": _unsqueeze, "Squeeze": _squeeze, "Slice": _slice, "Reshape": _reshape,
    "Transpose": lambda n, x: np.transpose(x[0], _attr(n, "perm")),
    "Expand": lambda n, x: x[0] * np.ones([int(d) for d in x[1]], dtype=x[0].dtype),
    "Tile": lambda n, x: np.tile(x[0], [int(d) for d in x[1]]),
    "Range": lambda n, x: np.arange(x[0], x[1], x[2]).astype(x[0].dtype),
    "ConstantOfShape": _constant_of_shape,
    "ReduceProd": _reduce(np.prod), "ReduceSum": _reduce(np.sum), "ReduceMax": _reduce(np.max),
    "ReduceMin": _reduce(np.min),
}


def _shape_of(type_proto):
    t = type_proto.tensor_type
    if not type_proto.HasField("tensor_type") or not t.HasField("shape"):
        return None
    if not all(d.HasField("dim_value") for d in t.shape.dim):
        return None
    return tuple(int(d.dim_value) for d in t.shape.dim)


def infer_shapes(model, onnx, where) -> dict[str, tuple[int, ...]]:
    """Every tensor's shape, node by node in graph order: onnx's own inference of each node, given
    its inputs' types and the values of those that are known (constants, folded shape arithmetic).
    `where(node, message)` builds the error for a node whose inference fails."""
    from onnx import helper, numpy_helper
    graph = model.graph
    types = {i.name: i.type for i in graph.input if i.type.HasField("tensor_type")}
    values = {}
    for init in graph.initializer:
        types[init.name] = helper.make_tensor_type_proto(init.data_type, list(init.dims))
        if init.data_location != onnx.TensorProto.EXTERNAL and np.prod(init.dims) <= MAX_FOLD_ELEMENTS:
            values[init.name] = numpy_helper.to_array(init)
    opsets = {o.domain or "": o.version for o in model.opset_import}
    for node in graph.node:
        domain = "" if node.domain == "ai.onnx" else node.domain
        if domain != "" or any(i and i not in types for i in node.input):
            continue   # a custom op (refused later, by name), or an input nothing produced
        try:
            schema = onnx.defs.get_schema(node.op_type, opsets.get("", 1), domain)
            data = {i: numpy_helper.from_array(values[i]) for i in node.input if i in values}
            types.update(onnx.shape_inference.infer_node_outputs(
                schema, node, {i: types[i] for i in node.input if i}, data,
                opset_imports=list(model.opset_import), ir_version=model.ir_version or 8))
        except onnx.defs.SchemaError:
            continue   # not an ONNX op at this opset: refused later, by name
        except (onnx.shape_inference.InferenceError, RuntimeError, ValueError, TypeError) as exc:
            raise where(node, str(exc).strip()) from None
        out = _fold(node, values, types, onnx)
        if out is not None and len(node.output) == 1 and out.size <= MAX_FOLD_ELEMENTS:
            values[node.output[0]] = out
    return {name: shape for name, t in types.items() if (shape := _shape_of(t)) is not None}


def _fold(node, values, types, onnx):
    """The node's output value when it is computable from known values and shapes, else None."""
    from onnx import numpy_helper
    if node.op_type == "Constant":
        t = _attr(node, "value")
        if t is not None and t.data_location != onnx.TensorProto.EXTERNAL:
            return numpy_helper.to_array(t)
        return None
    if node.op_type in ("Shape", "Size"):
        shape = _shape_of(types[node.input[0]])
        if shape is None:
            return None
        if node.op_type == "Size":
            return np.array(np.prod(shape), dtype=np.int64)
        return np.array(shape, dtype=np.int64)[_attr(node, "start", 0):_attr(node, "end", None)]
    if node.op_type in FOLDERS and all(i == "" or i in values for i in node.input):
        try:
            with np.errstate(all="ignore"):
                return np.asarray(FOLDERS[node.op_type](node, [values.get(i) for i in node.input]))
        except (ValueError, TypeError, IndexError, ZeroDivisionError):
            return None
    return None
